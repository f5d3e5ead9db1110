// Sign-up: the browser's time zone is the first guess of the new workspace's. The field that asks for it
// (data-browser-zone) gets it once; its change event lets the server guess the country and currency from it.
(function () {
  "use strict";
  htmx.onLoad(function (root) {
    var field = root.querySelector && root.querySelector("select[data-browser-zone=ask]");
    if (!field) { return; }
    field.dataset.browserZone = "asked";
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var known = Array.prototype.some.call(field.options, function (option) { return option.value === zone; });
    if (zone && known && field.value !== zone) {
      field.value = zone;
      field.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
})();
