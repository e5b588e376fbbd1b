/* Concord's own behaviour on top of htmx. No inline handlers: the CSP allows only these files. */
(function () {
  "use strict";

  function flash(text) {
    var box = document.getElementById("flash");
    if (!box) {
      return;
    }
    box.textContent = text;
    box.hidden = false;
  }

  function loginUrl() {
    return document.body.getAttribute("data-login-url") || "";
  }

  // An expired session answers an htmx request with the sign-in page (after a redirect):
  // go there as a whole page instead of swapping it into a fragment.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    var login = loginUrl();
    if (!xhr || !xhr.responseURL || !login) {
      return;
    }
    var url = new URL(xhr.responseURL, window.location.href);
    if (url.origin === window.location.origin && url.pathname === login) {
      event.detail.shouldSwap = false;
      window.location.assign(url.href);
    }
  });

  // An upload over the limit is answered 413 with the form and its message: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.xhr && event.detail.xhr.status === 413) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });

  // A file over the server's limit is refused here, before a byte of it is sent.
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      var input = form.querySelector && form.querySelector("input[type=file][data-max-bytes]");
      if (!input || !input.files || !input.files.length) {
        return;
      }
      var box = form.querySelector("[data-upload-error]");
      var limit = Number(input.getAttribute("data-max-bytes"));
      if (limit && input.files[0].size > limit) {
        event.preventDefault();
        event.stopPropagation();
        if (box) {
          box.textContent = input.getAttribute("data-too-big") || "The file is too large.";
          box.hidden = false;
        }
        return;
      }
      if (box) {
        box.hidden = true;
      }
    },
    true
  );

  // Upload progress for forms that carry a meter.
  document.addEventListener("htmx:xhr:progress", function (event) {
    var form = event.target;
    var meter = form.querySelector && form.querySelector("[data-upload-meter]");
    if (!meter || !event.detail.lengthComputable) {
      return;
    }
    meter.hidden = false;
    var percent = Math.round((100 * event.detail.loaded) / event.detail.total);
    meter.querySelector("progress").value = percent;
    meter.querySelector(".meter-value").textContent = percent < 100 ? percent + "%" : "Starting…";
  });

  // htmx 2 swaps nothing on 4xx and 5xx answers, so say what happened.
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status === 403) {
      flash("Your role in this project does not allow that.");
    } else if (status === 404) {
      flash("That is no longer available. Reload the page to see the current state.");
    } else {
      flash("Something went wrong (error " + status + "). Please reload the page and try again.");
    }
  });

  document.addEventListener("htmx:sendError", function () {
    flash("Concord could not be reached. Check your connection and try again.");
  });

  // A form the user sent went through: an earlier error notice no longer applies.
  document.addEventListener("htmx:afterRequest", function (event) {
    var box = document.getElementById("flash");
    if (box && event.detail.successful && event.detail.elt.tagName === "FORM") {
      box.hidden = true;
    }
  });
})();
