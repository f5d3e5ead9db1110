// The follow-up calendar: SortableJS drags a follow-up to another day; the item's own form posts the move and the
// answer redraws the calendar (a refused move comes back as the calendar as it was, with the reason).
(function () {
  "use strict";

  function makeSortable(list) {
    if (list.calendarSortable || typeof Sortable === "undefined") { return; }
    list.calendarSortable = Sortable.create(list, {
      group: "calendar",
      draggable: ".calendar-item[data-movable]",
      filter: "button, input",
      preventOnFilter: false,
      delay: 150,
      delayOnTouchOnly: true,
      animation: 0,
      onEnd: function (event) {
        if (event.from === event.to) { return; }
        var form = event.item.querySelector("form.calendar-move");
        form.elements.day.value = event.to.dataset.day;
        form.requestSubmit();
      }
    });
  }

  document.addEventListener("htmx:load", function (event) {
    var root = event.detail.elt;
    if (root.matches && root.matches(".calendar-items[data-calendar-sortable]")) { makeSortable(root); }
    root.querySelectorAll(".calendar-items[data-calendar-sortable]").forEach(makeSortable);
  });

  // A move the server refuses without the calendar (403, 404): reload the calendar so the item is back in place.
  document.addEventListener("htmx:responseError", function (event) {
    var form = event.detail.elt;
    if (form && form.matches && form.matches("form.calendar-move")) {
      htmx.ajax("GET", window.location.pathname + window.location.search, { target: "#calendar-grid", select: "#calendar-grid", swap: "outerHTML" });
    }
  });
})();
