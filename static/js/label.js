/* The labeling page: keyboard first, spans marked with the mouse, and the time spent on each item.
   htmx replaces the card (#label-card) after every submit, skip or "go back", so everything about
   the current item is rebuilt from the card in setUp(). Text from the data only ever reaches the
   page through textContent, never as HTML. No inline code: the CSP allows only files. */
(function () {
  "use strict";

  var COLOR = /^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$/;
  var current = null; // {card, visibleMs, since, spans}

  function card() {
    return document.getElementById("label-card");
  }

  function labelForm() {
    var box = card();
    return box && box.querySelector("form[data-label-form]");
  }

  function hint(text) {
    var box = card();
    var line = box && box.querySelector("[data-label-hint]");
    if (line) {
      line.textContent = text;
    }
  }

  // Schema colours arrive as data-color; CSSOM may set them (the CSP refuses style attributes).
  function paint(element, color) {
    if (color && COLOR.test(color)) {
      element.style.setProperty("--label", color);
    }
  }

  // --- the card -----------------------------------------------------------------------------

  function setUp() {
    var box = card();
    if (!box || (current && current.card === box)) {
      return false;
    }
    current = { card: box, visibleMs: 0, since: document.hidden ? null : performance.now() };
    box.querySelectorAll("[data-color]").forEach(function (element) {
      paint(element, element.getAttribute("data-color"));
    });
    var tool = box.querySelector("[data-span-tool]");
    current.spans = tool ? spansSetUp(box, tool) : null;
    return true;
  }

  // Time on the item counts only while the page is visible.
  function secondsSpent() {
    var running = current.since === null ? 0 : performance.now() - current.since;
    return ((current.visibleMs + running) / 1000).toFixed(3);
  }

  window.ConcordKeys.pauseWhenHidden(function () {
    return current;
  });

  // A new card came in: start its clock and give it the focus, so the keyboard carries on.
  // The card is swapped with settle:0ms, so htmx has processed it when this runs.
  window.ConcordKeys.focusNewCard(setUp, card);

  function currentValue(form) {
    var kind = card().getAttribute("data-kind");
    if (kind === "spans") {
      return {
        spans: current.spans.list.map(function (span) {
          return { start: span.start, end: span.end, label: span.label };
        }),
      };
    }
    if (kind === "multiple_choice") {
      var ticked = form.querySelectorAll("input[name=labels]:checked");
      return { labels: Array.prototype.map.call(ticked, function (input) { return input.value; }) };
    }
    var name = { single_choice: "label", rating: "rating", preference: "choice" }[kind];
    var chosen = name && form.querySelector("input[name=" + name + "]:checked");
    if (!chosen) {
      return null;
    }
    var value = {};
    value[name] = chosen.value;
    if (kind === "rating" && /^-?\d+$/.test(chosen.value)) {
      value.rating = parseInt(chosen.value, 10);
    }
    var reason = form.querySelector("textarea[name=reason]");
    if (kind === "preference" && reason && reason.value.trim()) {
      value.reason = reason.value.trim();
    }
    return value;
  }

  // Before htmx sends the answer (capture runs first): put it and the time in the hidden fields.
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      if (!form.matches || !form.matches("form[data-label-form]") || !current) {
        return;
      }
      var value = currentValue(form);
      if (value === null) {
        event.preventDefault();
        event.stopPropagation();
        hint("Choose an answer first: press its number or letter, or click it.");
        return;
      }
      form.elements.namedItem("value").value = JSON.stringify(value);
      form.elements.namedItem("seconds_spent").value = secondsSpent();
    },
    true
  );

  // --- keyboard -------------------------------------------------------------------------------


  function toggleShortcuts() {
    return window.ConcordKeys.toggleDialog("label-shortcuts");
  }

  function toggleGuidelines() {
    return window.ConcordKeys.togglePanel("label-guidelines");
  }

  function clickFirst(selector) {
    var target = card().querySelector(selector) || document.querySelector(selector);
    if (target) {
      target.click();
    }
    return Boolean(target);
  }

  function submitAnswer() {
    var form = labelForm();
    if (form) {
      form.requestSubmit();
    }
    return Boolean(form);
  }

  function skip() {
    var form = document.getElementById("label-skip");
    if (form) {
      form.requestSubmit();
    }
    return Boolean(form);
  }

  // A key picks the choice whose hotkey it is, else (a digit) the choice in that place.
  function keyed(elements, key) {
    var list = Array.prototype.slice.call(elements);
    function having(name) {
      return list.filter(function (element) {
        return element.getAttribute(name) === key;
      })[0];
    }
    return having("data-hotkey") || having("data-digit") || null;
  }

  function choose(key) {
    var input = keyed(card().querySelectorAll(".choices input:not([disabled])"), key);
    if (!input) {
      return false;
    }
    input.checked = input.type === "checkbox" ? !input.checked : true;
    input.dispatchEvent(new Event("change", { bubbles: true }));
    hint("");
    return true;
  }

  function handleKey(event) {
    var key = event.key;
    var target = event.target;
    if (key === "?") {
      return toggleShortcuts();
    }
    if (key === "g" || key === "G") {
      return toggleGuidelines();
    }
    if (key === "Enter") {
      // Enter on a link, a button or a summary does what it says there.
      return !target.closest("a, button, summary") && submitAnswer();
    }
    if (key === "Backspace" || key === "z" || key === "Z") {
      return clickFirst("[data-label-back]");
    }
    if (key === "s" || key === "S") {
      return skip();
    }
    if (target.classList.contains("span-mark") && /^(Delete|x|X)$/.test(key)) {
      spanRemove(Number(target.getAttribute("data-span")));
      return true;
    }
    if (key.length !== 1) {
      return false;
    }
    return current.spans ? spanKey(key.toLowerCase()) : choose(key.toLowerCase());
  }

  // An answer, a skip or "go back" on its way makes keys wait for the card that comes back.
  window.ConcordKeys.listen({
    ready: function () {
      return Boolean(card() && current);
    },
    busy: function (box) {
      return Boolean(box.querySelector(".htmx-request"));
    },
    dialog: "label-shortcuts",
    card: card,
    refocus: false,
    save: submitAnswer,
    handleKey: handleKey,
  });

  // --- spans ----------------------------------------------------------------------------------
  // Stored offsets count Unicode code points; the DOM counts UTF-16 units. `unitOf[i]` is where
  // code point i starts in UTF-16 units, `pointAt[u]` the code point that unit u belongs to.

  function spansSetUp(box, tool) {
    var element = box.querySelector("#item-text");
    var text = JSON.parse(element.getAttribute("data-text") || '""');
    var unitOf = [0];
    var pointAt = [];
    Array.from(text).forEach(function (character, index) {
      for (var unit = 0; unit < character.length; unit += 1) {
        pointAt.push(index);
      }
      unitOf.push(unitOf[index] + character.length);
    });
    pointAt.push(unitOf.length - 1);
    var looks = {};
    tool.querySelectorAll("[data-span-label]").forEach(function (button) {
      looks[button.getAttribute("data-span-label")] = {
        name: button.getAttribute("data-label-text"),
        palette: (button.className.match(/palette-\d/) || ["palette-0"])[0],
        color: button.getAttribute("data-color"),
      };
    });
    var state = {
      element: element,
      text: text,
      unitOf: unitOf,
      pointAt: pointAt,
      looks: looks,
      tool: tool,
      allowOverlap: tool.getAttribute("data-allow-overlap") === "true",
      list: initialSpans(tool.getAttribute("data-value"), unitOf.length - 1, looks),
    };
    spansRender(state);
    return state;
  }

  function initialSpans(raw, length, looks) {
    var value = null;
    try {
      value = raw ? JSON.parse(raw) : null;
    } catch (error) {
      value = null;
    }
    var spans = value && Array.isArray(value.spans) ? value.spans : [];
    return spans
      .filter(function (span) {
        return (
          span && Number.isInteger(span.start) && Number.isInteger(span.end) &&
          span.start >= 0 && span.start < span.end && span.end <= length &&
          Object.prototype.hasOwnProperty.call(looks, String(span.label))
        );
      })
      .map(function (span) {
        return { start: span.start, end: span.end, label: String(span.label) };
      })
      .sort(bySpan);
  }

  function bySpan(a, b) {
    return a.start - b.start || a.end - b.end;
  }

  // Where a DOM point falls in the text, in UTF-16 units (clamped to the text's ends).
  function unitOffset(state, node, offset) {
    var whole = document.createRange();
    whole.selectNodeContents(state.element);
    var side = whole.comparePoint(node, offset);
    if (side !== 0) {
      return side < 0 ? 0 : state.text.length;
    }
    var before = document.createRange();
    before.setStart(state.element, 0);
    before.setEnd(node, offset);
    return before.toString().length;
  }

  function selectedSpan(state) {
    var selection = window.getSelection();
    if (!selection || selection.rangeCount === 0 || selection.isCollapsed) {
      return null;
    }
    var range = selection.getRangeAt(0);
    if (!range.intersectsNode(state.element)) {
      return null;
    }
    var start = unitOffset(state, range.startContainer, range.startOffset);
    var end = unitOffset(state, range.endContainer, range.endOffset);
    while (start < end && /\s/.test(state.text[start])) {
      start += 1;
    }
    while (end > start && /\s/.test(state.text[end - 1])) {
      end -= 1;
    }
    if (start >= end) {
      return null;
    }
    // A boundary inside a surrogate pair widens to the whole character.
    var first = state.pointAt[start];
    var last = state.unitOf[state.pointAt[end]] === end ? state.pointAt[end] : state.pointAt[end] + 1;
    return { start: first, end: last };
  }

  function spanAdd(label) {
    var state = current.spans;
    var span = selectedSpan(state);
    if (!span) {
      hint("Select some of the text first, then choose its label.");
      return;
    }
    var clash = state.list.some(function (other) {
      return span.start < other.end && other.start < span.end;
    });
    if (clash && !state.allowOverlap) {
      hint("Spans may not overlap in this project: remove the other mark first.");
      return;
    }
    var same = state.list.some(function (other) {
      return other.start === span.start && other.end === span.end && other.label === label;
    });
    if (!same) {
      state.list.push({ start: span.start, end: span.end, label: label });
      state.list.sort(bySpan);
    }
    window.getSelection().removeAllRanges();
    hint("");
    spansRender(state);
  }

  function spanRemove(index) {
    var state = current.spans;
    if (index >= 0 && index < state.list.length) {
      state.list.splice(index, 1);
      spansRender(state);
      card().focus({ preventScroll: true });
    }
  }

  function spanKey(key) {
    var button = keyed(current.spans.tool.querySelectorAll("[data-span-label]:not([disabled])"), key);
    if (!button) {
      return false;
    }
    spanAdd(button.getAttribute("data-span-label"));
    return true;
  }

  function dress(element, state, label) {
    var look = state.looks[label] || { name: label, palette: "palette-0", color: "" };
    element.classList.add(look.palette);
    paint(element, look.color);
    return look.name;
  }

  // The innermost span over the piece [from, to): it is what a click on the piece removes.
  function innermost(list, from, to) {
    var found = -1;
    list.forEach(function (span, index) {
      if (span.start <= from && span.end >= to) {
        if (found < 0 || span.start > list[found].start || span.end < list[found].end) {
          found = index;
        }
      }
    });
    return found;
  }

  function spansRender(state) {
    var cuts = [0, state.unitOf.length - 1];
    state.list.forEach(function (span) {
      cuts.push(span.start, span.end);
    });
    cuts = cuts.filter(function (cut, index) {
      return cuts.indexOf(cut) === index;
    });
    cuts.sort(function (a, b) {
      return a - b;
    });
    var pieces = document.createDocumentFragment();
    for (var i = 0; i + 1 < cuts.length; i += 1) {
      var piece = state.text.slice(state.unitOf[cuts[i]], state.unitOf[cuts[i + 1]]);
      var index = innermost(state.list, cuts[i], cuts[i + 1]);
      if (index < 0) {
        pieces.appendChild(document.createTextNode(piece));
        continue;
      }
      var mark = document.createElement("mark");
      mark.className = "span-mark";
      mark.textContent = piece;
      mark.tabIndex = 0;
      mark.setAttribute("data-span", String(index));
      var name = dress(mark, state, state.list[index].label);
      mark.title = name + ": click, or press Delete, to remove";
      if (cuts[i + 1] === state.list[index].end) {
        mark.setAttribute("data-name", name);
      }
      pieces.appendChild(mark);
    }
    state.element.textContent = "";
    state.element.appendChild(pieces);
    spansList(state);
  }

  function spansList(state) {
    var list = state.tool.querySelector("[data-span-list]");
    list.textContent = "";
    if (!state.list.length) {
      var empty = document.createElement("li");
      empty.className = "span-empty";
      empty.textContent = "No spans yet.";
      list.appendChild(empty);
    }
    state.list.forEach(function (span, index) {
      var row = document.createElement("li");
      var words = document.createElement("span");
      var name = dress(row, state, span.label);
      words.textContent =
        name + ": “" + state.text.slice(state.unitOf[span.start], state.unitOf[span.end]) + "”";
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "button small";
      remove.textContent = "Remove";
      remove.setAttribute("data-remove-span", String(index));
      row.appendChild(words);
      row.appendChild(remove);
      list.appendChild(row);
    });
  }

  // Label buttons keep the text selection: the mouse goes down on them without taking it.
  // Chromium starts no selection on a focusable element, so a mark is not one while pressed.
  document.addEventListener("mousedown", function (event) {
    if (!event.target.closest) {
      return;
    }
    if (event.target.closest("[data-span-label]")) {
      event.preventDefault();
    }
    var mark = event.target.closest(".span-mark");
    if (mark) {
      mark.removeAttribute("tabindex");
    }
  });

  document.addEventListener("mouseup", function () {
    document.querySelectorAll(".span-mark:not([tabindex])").forEach(function (mark) {
      mark.tabIndex = 0;
    });
  });

  document.addEventListener("click", function (event) {
    if (!current || !current.spans || !event.target.closest) {
      return;
    }
    var button = event.target.closest("[data-span-label]");
    var remove = event.target.closest("[data-remove-span]");
    var mark = event.target.closest(".span-mark");
    if (button) {
      spanAdd(button.getAttribute("data-span-label"));
    } else if (remove) {
      spanRemove(Number(remove.getAttribute("data-remove-span")));
    } else if (mark && window.getSelection().isCollapsed) {
      // A click ends a selection too: only a plain click on a mark removes it.
      spanRemove(Number(mark.getAttribute("data-span")));
    }
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
