// Files cards (templates/attachments/_card.html): choosing or dropping files uploads them at once through the
// form's htmx post, and its <progress> follows the upload. Without JavaScript the form's button posts it.
(function () {
  "use strict";
  function dropForm(target) {
    return target && target.closest ? target.closest("form[data-file-drop]") : null;
  }
  document.addEventListener("change", function (event) {
    var form = dropForm(event.target);
    if (form && event.target.type === "file" && event.target.files.length) form.requestSubmit();
  });
  document.addEventListener("dragover", function (event) {
    var form = dropForm(event.target);
    if (!form) return;
    event.preventDefault();
    form.classList.add("dragging");
  });
  document.addEventListener("dragleave", function (event) {
    var form = dropForm(event.target);
    if (form) form.classList.remove("dragging");
  });
  document.addEventListener("drop", function (event) {
    var form = dropForm(event.target);
    if (!form) return;
    event.preventDefault();
    form.classList.remove("dragging");
    form.querySelector("input[type=file]").files = event.dataTransfer.files;
    form.requestSubmit();
  });
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = dropForm(event.target);
    var bar = form && form.querySelector("progress");
    if (!bar || !event.detail.lengthComputable) return;
    bar.hidden = false;
    bar.max = event.detail.total;
    bar.value = event.detail.loaded;
  });
})();
