/* The review page: keyboard first. Digits pick the values the annotators gave, letters the
   schema's labels, Enter decides (Ctrl+Enter inside a text box, where Enter starts a new line),
   S or N skips. htmx replaces the card (#review-card) after every decision or skip, so everything
   about the current item is rebuilt from the card in setUp(). Text from the data only reaches
   the page as escaped HTML from the server; this file adds none. No inline code: the CSP allows
   only files. */
(function () {
  "use strict";

  var COLOR = /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/;
  var current = null; // {card, item, visibleMs, since}

  function card() {
    return document.getElementById("review-card");
  }

  function reviewForm() {
    var box = card();
    return box && box.querySelector("form[data-review-form]");
  }

  function hint(text) {
    var line = card() && card().querySelector("[data-review-hint]");
    if (line) {
      line.textContent = text;
    }
  }

  // Schema colours arrive as data-color; CSSOM may set them (the CSP refuses style attributes).
  function paint(element) {
    var color = element.getAttribute("data-color");
    if (color && COLOR.test(color)) {
      element.style.setProperty("--label", color);
    }
  }

  // The comment box matters only when "guidelines unclear" is ticked.
  function showComment(box) {
    var tick = box.querySelector("input[name=guidelines_unclear]");
    var comment = box.querySelector("[data-guideline-comment]");
    if (tick && comment) {
      comment.hidden = !tick.checked;
    }
  }

  // --- the card -----------------------------------------------------------------------------

  function setUp() {
    var box = card();
    if (!box || (current && current.card === box)) {
      return false;
    }
    var item = box.getAttribute("data-item");
    // The same item again (a refused decision): its time keeps counting.
    var spent = current && current.item === item ? visibleMs() : 0;
    current = { card: box, item: item, visibleMs: spent, since: document.hidden ? null : performance.now() };
    box.querySelectorAll("[data-color]").forEach(paint);
    showComment(box);
    return true;
  }

  function visibleMs() {
    var running = current.since === null ? 0 : performance.now() - current.since;
    return current.visibleMs + running;
  }

  window.ConcordKeys.pauseWhenHidden(function () {
    return current;
  });

  // A new card came in: give it the focus, so the keyboard carries on.
  window.ConcordKeys.focusNewCard(setUp, card);

  // Before htmx sends the decision (capture runs first): is a value chosen? And the time.
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!form.matches || !form.matches("form[data-review-form]") || !current) {
        return;
      }
      var chosen = form.querySelector("input[name=value]:checked");
      var written = form.querySelector("textarea[name=new_value]");
      var problem = "";
      if (!chosen) {
        problem = "Choose a value first: press its number or letter, or click it.";
      } else if (chosen.value === "write" && written && !written.value.trim()) {
        problem = "Write the new value as JSON first, or choose one the annotators gave.";
      }
      if (problem) {
        event.preventDefault();
        event.stopPropagation();
        hint(problem);
        return;
      }
      form.elements.namedItem("seconds_spent").value = (visibleMs() / 1000).toFixed(3);
    },
    true
  );

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("textarea[name=new_value]")) {
      var write = card().querySelector("input[data-write]");
      if (write) {
        write.checked = true;
      }
    }
  });

  document.addEventListener("change", function (event) {
    if (event.target.matches && event.target.matches("input[name=guidelines_unclear]")) {
      showComment(card());
      if (event.target.checked) {
        var comment = card().querySelector("textarea[name=guideline_comment]");
        if (comment) {
          comment.focus();
        }
      }
    }
    if (event.target.matches && event.target.matches("input[name=value]")) {
      hint("");
    }
  });

  // --- keyboard -------------------------------------------------------------------------------


  function toggleShortcuts() {
    return window.ConcordKeys.toggleDialog("review-shortcuts");
  }

  function toggleGuidelines() {
    return window.ConcordKeys.togglePanel("review-guidelines");
  }

  function decide() {
    var form = reviewForm();
    if (form) {
      form.requestSubmit();
    }
    return Boolean(form);
  }

  function skip() {
    var form = card().querySelector("#review-skip");
    if (form) {
      form.requestSubmit();
    }
    return Boolean(form);
  }

  function focusField(selector) {
    var field = card().querySelector(selector);
    if (field) {
      field.focus();
    }
    return Boolean(field);
  }

  function write() {
    var box = card().querySelector(".review-write");
    var radio = card().querySelector("input[data-write]");
    if (!box || !radio) {
      return false;
    }
    box.open = true;
    radio.checked = true;
    hint("");
    return focusField("textarea[name=new_value]");
  }

  // A digit picks the n-th value the annotators gave; a letter the option with that hotkey.
  function choose(key) {
    var inputs = Array.prototype.slice.call(card().querySelectorAll(".review-options input"));
    var name = /^[1-9]$/.test(key) ? "data-digit" : "data-hotkey";
    var input = inputs.filter(function (element) {
      return element.getAttribute(name) === key;
    })[0];
    if (!input) {
      return false;
    }
    input.checked = true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    return true;
  }

  function handleKey(event) {
    var key = event.key;
    if (key === "?") {
      return toggleShortcuts();
    }
    if (key === "Enter") {
      // Enter on a link, a button or a summary does what it says there.
      return !event.target.closest("a, button, summary") && decide();
    }
    if (key.length !== 1) {
      return false;
    }
    var lower = key.toLowerCase();
    var actions = {
      g: toggleGuidelines,
      s: skip,
      n: skip,
      w: write,
      r: function () {
        return focusField("textarea[name=rationale]");
      },
    };
    return actions[lower] ? actions[lower]() : choose(lower);
  }

  // A decision or a skip on its way makes keys wait for the card that comes back.
  window.ConcordKeys.listen({
    ready: function () {
      return Boolean(card() && current);
    },
    busy: function (box) {
      return Boolean(box.querySelector(".htmx-request")) || box.classList.contains("htmx-request");
    },
    dialog: "review-shortcuts",
    card: card,
    refocus: true,
    save: decide,
    handleKey: handleKey,
  });

  // --- start ----------------------------------------------------------------------------------

  document.querySelectorAll("[data-shortcuts-toggle]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", toggleShortcuts);
  });
  if (setUp()) {
    card().focus({ preventScroll: true });
  }
})();
