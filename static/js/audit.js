/* The judging page of a sample audit: keyboard first. C marks the label correct and saves, X
   marks it incorrect and opens the correction (digits pick a label, or a JSON value is typed),
   Enter saves (Ctrl+Enter inside a text box), N and P move between samples, ? shows the keys.
   htmx replaces the card (#judge-card) after each verdict, so everything is read from the card
   in setUp(). Text from the data reaches the page only as escaped HTML from the server; this
   file adds none. No inline code: the CSP allows only files. */
(function () {
  "use strict";

  var current = null; // the card set up last

  function card() {
    return document.getElementById("judge-card");
  }

  function form() {
    var box = card();
    return box && box.querySelector("form[data-judge-form]");
  }

  function hint(text) {
    var line = card() && card().querySelector("[data-judge-hint]");
    if (line) {
      line.textContent = text;
    }
  }

  function verdict() {
    var chosen = form() && form().querySelector("input[name=verdict]:checked");
    return chosen ? chosen.value : "";
  }

  // The correction matters only for an incorrect label.
  function showCorrection() {
    var box = form() && form().querySelector("[data-correction]");
    if (box) {
      box.hidden = verdict() !== "incorrect";
    }
  }

  function setUp() {
    var box = card();
    if (!box || box === current) {
      return false;
    }
    current = box;
    showCorrection();
    return true;
  }

  window.ConcordKeys.focusNewCard(setUp, card);

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[name=verdict]")) {
      showCorrection();
      hint("");
    }
  });

  // Before htmx sends a verdict (capture runs first): is one chosen?
  document.addEventListener(
    "submit",
    function (event) {
      var target = event.target;
      if (target.matches && target.matches("form[data-judge-form]") && !verdict()) {
        event.preventDefault();
        event.stopPropagation();
        hint("Mark the label correct (C) or incorrect (X) first.");
      }
    },
    true
  );

  // --- keyboard -------------------------------------------------------------------------------

  function setVerdict(value) {
    var input = form() && form().querySelector("input[name=verdict][value=" + value + "]");
    if (!input) {
      return false;
    }
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function save() {
    var target = form();
    if (target) {
      target.requestSubmit();
    }
    return Boolean(target);
  }

  function correct() {
    return setVerdict("correct") && save();
  }

  function incorrect() {
    if (!setVerdict("incorrect")) {
      return false;
    }
    var field = form().querySelector("input[name=correct_value]:checked") ||
      form().querySelector("input[name=correct_value], textarea[name=correct_value]");
    if (field) {
      field.focus();
    }
    hint("Choose the correct label (1–9) or write it, then press Enter.");
    return true;
  }

  function choose(digit) {
    if (verdict() !== "incorrect") {
      return false;
    }
    var input = form().querySelector("input[name=correct_value][data-digit='" + digit + "']");
    if (!input) {
      return false;
    }
    input.checked = true;
    input.focus();
    return true;
  }

  function follow(selector) {
    var link = card().querySelector(selector);
    if (link) {
      link.click();
    }
    return Boolean(link);
  }

  function handleKey(event) {
    var key = event.key;
    if (key === "?") {
      return window.ConcordKeys.toggleDialog("judge-shortcuts");
    }
    if (key === "Enter") {
      // Enter on a link or a button does what it says there.
      return !event.target.closest("a, button, summary") && save();
    }
    if (key.length !== 1) {
      return false;
    }
    if (/^[1-9]$/.test(key)) {
      return choose(key);
    }
    var actions = {
      c: correct,
      x: incorrect,
      n: function () {
        return follow("[data-judge-next]");
      },
      p: function () {
        return follow("[data-judge-previous]");
      },
    };
    var action = actions[key.toLowerCase()];
    return action ? action() : false;
  }

  // A verdict on its way makes keys wait for the card that comes back.
  window.ConcordKeys.listen({
    ready: function () {
      return Boolean(card());
    },
    busy: function (box) {
      return Boolean(box.querySelector(".htmx-request")) || box.classList.contains("htmx-request");
    },
    dialog: "judge-shortcuts",
    card: card,
    refocus: true,
    save: save,
    handleKey: handleKey,
  });

  // --- start ----------------------------------------------------------------------------------

  document.querySelectorAll("[data-shortcuts-toggle]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      window.ConcordKeys.toggleDialog("judge-shortcuts");
    });
  });
  if (setUp()) {
    card().focus({ preventScroll: true });
  }
})();
