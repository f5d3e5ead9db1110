// The top bar's search box: "/" or Ctrl-K / Cmd-K puts the cursor in it; the arrow keys walk its matches, Enter
// opens the one chosen (each is a link), Escape or a click elsewhere closes the list.
(function () {
  "use strict";
  var box = function () { return document.getElementById("topsearch-q"); };
  var list = function () { return document.getElementById("topsearch-results"); };
  var hits = function () { return Array.prototype.slice.call(list().querySelectorAll("a")); };

  function show(open) { list().hidden = !(open && box().value.trim() && list().innerHTML.trim()); }

  function typingIn(target) {
    return target.closest && target.closest("input, textarea, select, [contenteditable]:not([contenteditable=false])");
  }

  document.addEventListener("keydown", function (event) {
    if (!box() || event.isComposing) { return; }
    var shortcut = ((event.ctrlKey || event.metaKey) && !event.altKey && event.key.toLowerCase() === "k")
      || (event.key === "/" && !event.ctrlKey && !event.metaKey && !event.altKey && !typingIn(event.target));
    if (shortcut) {
      event.preventDefault();
      box().focus();
      box().select();
      show(true);
      return;
    }
    if (event.target !== box() && !list().contains(event.target)) { return; }
    if (event.key === "Escape") {
      event.preventDefault();  // a search input would also clear what was typed
      show(false);
      box().focus();
      return;
    }
    if (event.key !== "ArrowDown" && event.key !== "ArrowUp") { return; }
    var links = hits();
    if (!links.length) { return; }
    event.preventDefault();
    show(true);
    var next = links.indexOf(document.activeElement) + (event.key === "ArrowDown" ? 1 : -1);
    if (next < 0) { box().focus(); } else { links[Math.min(next, links.length - 1)].focus(); }
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target.id === "topsearch-results") { show(document.activeElement === box()); }
  });
  document.addEventListener("focusin", function (event) {
    if (event.target === box()) { show(true); }
  });
  document.addEventListener("click", function (event) {
    if (list() && !event.target.closest(".topsearch")) { show(false); }
  });
})();
