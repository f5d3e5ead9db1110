// Small glue where htmx cannot reach: the modal dialog, whole-page answers to HX-Location, "select all" checkboxes
// and the customer chooser's keys.
(function () {
  "use strict";
  var modal = function () { return document.getElementById("modal"); };

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id === "modal-body" && !modal().open) {
      modal().showModal();
    }
    // In the modal, put the cursor in the first field that needs fixing (else the first field).
    if (modal().open) {
      var first = modal().querySelector("[aria-invalid=true]") || modal().querySelector("[autofocus]");
      if (first) { first.focus(); }
    }
  });

  // A request that fills the whole <body> is a navigation: the answer to HX-Location (a saved modal form) is
  // such a GET from htmx itself, which does not say "boosted", and a list page would answer it with only its
  // rows, losing the top bar and the modal. Asked as a boosted link asks, every view sends the whole page.
  document.addEventListener("htmx:configRequest", function (event) {
    if (event.detail.target === document.body) { event.detail.headers["HX-Boosted"] = "true"; }
  });

  // A successful save answers with HX-Location: the modal closes as the new page arrives.
  document.addEventListener("htmx:beforeHistorySave", function () {
    var dialog = modal();
    if (dialog && dialog.open) { dialog.close(); }
    if (dialog) { document.getElementById("modal-body").innerHTML = ""; }
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest("[data-close-modal]")) {
      if (modal().open) { modal().close(); }
      else { history.back(); }
    }
    var all = event.target.closest("[data-select-all]");
    if (all) {
      var form = all.closest("form");
      form.querySelectorAll('input[type=checkbox][name="' + all.dataset.selectAll + '"]').forEach(function (box) {
        box.checked = all.checked;
      });
    }
  });

  // The customer chooser: Enter or Down in its search box goes to the list of matches (Enter would
  // otherwise submit the whole form before anything was chosen); the arrow keys then pick. Not while an
  // input method is composing: there Enter confirms the characters typed.
  document.addEventListener("keydown", function (event) {
    if ((event.key !== "Enter" && event.key !== "ArrowDown") || event.isComposing
        || !event.target.matches("[data-chooser-search]")) {
      return;
    }
    event.preventDefault();
    document.getElementById(event.target.getAttribute("aria-controls")).focus();
  });

  // Errors the server does not swap in (403, 404, 500) still tell the user something.
  document.addEventListener("htmx:responseError", function (event) {
    var flashes = document.getElementById("flashes");
    if (!flashes) { return; }
    var p = document.createElement("p");
    p.className = "alert alert-error";
    p.setAttribute("role", "alert");
    var doc = new DOMParser().parseFromString(event.detail.xhr.responseText, "text/html");
    var heading = doc.querySelector("h1");
    p.textContent = heading ? heading.textContent : String(event.detail.xhr.status);
    var link = doc.querySelector("a[data-flash-link]");  // a plan's limit links to the billing page
    if (link) {
      var a = document.createElement("a");
      a.href = link.getAttribute("href");
      a.textContent = link.textContent;
      p.append(" ", a);
    }
    flashes.replaceChildren(p);
  });
})();
