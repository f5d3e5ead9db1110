// The deal board: SortableJS drags a card between columns; the card's own "Move to…" form saves the move,
// so dragging and the phone's select take the same path. A lost stage first asks for the reason (a modal).
(function () {
  "use strict";

  function boardUrl() { return window.location.pathname + window.location.search; }

  function putBack(card) {
    var origin = card && card.kanbanOrigin;
    if (origin && origin.list.isConnected) {
      origin.list.insertBefore(card, origin.next && origin.next.parentNode === origin.list ? origin.next : null);
    }
  }

  function askReason(form, stageId) {
    var url = form.dataset.loseUrl + "?stage_id=" + encodeURIComponent(stageId) + "&next=" + encodeURIComponent(boardUrl());
    htmx.ajax("GET", url, { target: "#modal-body", swap: "innerHTML" });
  }

  // Save a move to `stageId`; a lost stage asks for the reason first and the card stays where it was.
  function move(card, stageId) {
    var form = card.querySelector("form.move-form");
    if (!form) { putBack(card); return; }
    var option = form.elements.stage_id.querySelector('option[value="' + stageId + '"]');
    if (option && option.dataset.kind === "lost") {
      putBack(card);
      form.elements.stage_id.value = "";
      askReason(form, stageId);
      return;
    }
    form.elements.stage_id.value = stageId;
    form.requestSubmit();
  }

  function makeSortable(list) {
    if (list.kanbanSortable || typeof Sortable === "undefined") { return; }
    list.kanbanSortable = Sortable.create(list, {
      group: list.dataset.sortable,
      draggable: ".deal-card",
      filter: "select, button, input, label",
      preventOnFilter: false,
      delay: 150,
      delayOnTouchOnly: true,
      animation: 0,
      onStart: function (event) {
        event.item.kanbanOrigin = { list: event.from, next: event.item.nextElementSibling };
      },
      onEnd: function (event) {
        if (event.from !== event.to) { move(event.item, event.to.dataset.stageId); }
      }
    });
  }

  document.addEventListener("htmx:load", function (event) {
    var root = event.detail.elt;
    if (root.matches && root.matches(".kanban-cards[data-sortable]")) { makeSortable(root); }
    root.querySelectorAll(".kanban-cards[data-sortable]").forEach(makeSortable);
  });

  // The phone's "Move to…" select.
  document.addEventListener("change", function (event) {
    var select = event.target.closest(".move-form select[name=stage_id]");
    if (select && select.value) { move(select.closest(".deal-card"), select.value); }
  });

  // A refused move the server does not answer with the columns (403, 404): the card goes back.
  document.addEventListener("htmx:responseError", function (event) {
    var form = event.detail.elt;
    if (form && form.matches && form.matches("form.move-form")) {
      putBack(form.closest(".deal-card"));
      form.elements.stage_id.value = "";
    }
  });
})();
