/* Lead pages: "select all" checkboxes and the selected-count of the bulk bar (no inline code: CSP). */
(function () {
  "use strict";

  function refresh(form) {
    var boxes = form.querySelectorAll('input[name="ids"]');
    var checked = form.querySelectorAll('input[name="ids"]:checked').length;
    var counter = form.querySelector("[data-selected-count]");
    if (counter) counter.textContent = String(checked);
    form.querySelectorAll("[data-needs-selection]").forEach(function (el) { el.disabled = checked === 0; });
    var all = form.querySelector("[data-select-all]");
    if (all) {
      all.checked = checked > 0 && checked === boxes.length;
      all.indeterminate = checked > 0 && checked < boxes.length;
    }
  }

  function init(root) {
    (root || document).querySelectorAll("form[data-bulk]").forEach(function (form) { refresh(form); });
  }

  document.addEventListener("change", function (event) {
    var target = event.target;
    var form = target.closest && target.closest("form[data-bulk]");
    if (!form) return;
    if (target.matches("[data-select-all]")) {
      form.querySelectorAll('input[name="ids"]').forEach(function (box) { box.checked = target.checked; });
    }
    refresh(form);
  });
  document.addEventListener("DOMContentLoaded", function () { init(document); });
  document.addEventListener("htmx:afterSettle", function (event) { init(event.target); });
})();
