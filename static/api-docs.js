// The API reference page (/api/v1/docs): Swagger UI, vendored, reading the app's OpenAPI document. A file of its
// own because the CSP allows no inline script.
(function () {
  var spec = document.currentScript.dataset.spec;
  document.addEventListener("DOMContentLoaded", function () {
    window.SwaggerUIBundle({url: spec, dom_id: "#api-reference", deepLinking: true});
  });
})();
