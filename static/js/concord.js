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
