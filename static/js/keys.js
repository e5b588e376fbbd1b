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

  // The keyboard of a one-card-at-a-time page (labeling, review, audit). `options`: ready() says
  // whether a card is there to act on; busy(card) whether its request is on its way (keys wait
  // for the card that comes back); dialog, the id of the shortcuts dialog; card() the card
  // element; save() sends from a text box on Ctrl+Enter; handleKey(event) does the rest and says
  // whether it used the key.
  function listen(options) {
    document.addEventListener("keydown", function (event) {
      if (!options.ready() || event.defaultPrevented || event.isComposing) {
        return;
      }
      if (options.busy(options.card())) {
        return;
      }
      var dialog = document.getElementById(options.dialog);
      if (dialog && dialog.open) {
        if (event.key === "?") {
          event.preventDefault();
          dialog.close();
        }
        return;
      }
      if (typing(event.target)) {
        if (event.key === "Escape") {
          event.target.blur();
          if (options.refocus) {
            options.card().focus({ preventScroll: true });
          }
        } else if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          options.save();
        }
        return; // plain Enter in a text box starts a new line
      }
      if (event.ctrlKey || event.metaKey || event.altKey) {
        return;
      }
      if (options.handleKey(event)) {
        event.preventDefault();
      }
    });
  }

  window.ConcordKeys = {
    listen: listen,
    typing: typing,
    toggleDialog: toggleDialog,
    togglePanel: togglePanel,
    pauseWhenHidden: pauseWhenHidden,
    focusNewCard: focusNewCard,
  };
})();
