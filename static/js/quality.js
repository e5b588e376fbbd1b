/* The quality pages: ask before a form that drops items is sent. No inline handlers (CSP). */
(function () {
  "use strict";

  // Forms sent without htmx carry their question in data-confirm (htmx forms use hx-confirm).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
})();
