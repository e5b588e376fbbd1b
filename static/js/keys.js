/* What the keyboard-first pages (labeling, review) share: whether the user is typing in a field,
   and opening or closing the shortcuts dialog and the guidelines panel by their ids. Loaded
   before the page's own script; no inline code (the CSP allows only files). */
(function () {
  "use strict";

  function typing(element) {
    if (!element || !element.tagName) {
      return false;
    }
    if (element.isContentEditable || /^(TEXTAREA|SELECT)$/.test(element.tagName)) {
      return true;
    }
    var buttonLike = /^(radio|checkbox|button|submit|reset)$/i;
    return element.tagName === "INPUT" && !buttonLike.test(element.type);
  }

  function toggleDialog(id) {
    var dialog = document.getElementById(id);
    if (dialog) {
      if (dialog.open) {
        dialog.close();
      } else {
        dialog.showModal();
      }
    }
    return Boolean(dialog);
  }

  function togglePanel(id) {
    var panel = document.getElementById(id);
    if (panel) {
      panel.open = !panel.open;
      if (panel.open) {
        panel.scrollIntoView({ block: "nearest" });
      }
    }
    return Boolean(panel);
  }

  window.ConcordKeys = { typing: typing, toggleDialog: toggleDialog, togglePanel: togglePanel };
})();
