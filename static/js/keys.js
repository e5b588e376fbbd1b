/* What the keyboard-first pages (labeling, review) share: whether the user is typing in a field,
   opening or closing the shortcuts dialog and the guidelines panel by their ids, pausing an
   item's on-screen clock while the page is hidden, and focusing the card htmx swapped in. Loaded
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

  // `current()` gives the shown item's clock ({visibleMs, since}) or null; hidden time not counted.
  function pauseWhenHidden(current) {
    document.addEventListener("visibilitychange", function () {
      var clock = current();
      if (!clock) {
        return;
      }
      if (document.hidden && clock.since !== null) {
        clock.visibleMs += performance.now() - clock.since;
        clock.since = null;
      } else if (!document.hidden && clock.since === null) {
        clock.since = performance.now();
      }
    });
  }

  // After an htmx swap, once `setUp()` has taken the new card in, the card gets the focus, so the
  // keyboard carries on (the swap uses settle:0ms, so htmx has processed it).
  function focusNewCard(setUp, card) {
    document.addEventListener("htmx:afterSettle", function () {
      if (setUp()) {
        var box = card();
        if (box.getBoundingClientRect().top < 0) {
          box.scrollIntoView();
        }
        box.focus({ preventScroll: true });
      }
    });
  }

  window.ConcordKeys = {
    typing: typing,
    toggleDialog: toggleDialog,
    togglePanel: togglePanel,
    pauseWhenHidden: pauseWhenHidden,
    focusNewCard: focusNewCard,
  };
})();
