// While a conversation is taken over, refresh the case's conversation panel so that the
// applicant's messages appear as they arrive. Progressive enhancement: without it,
// reloading the page shows the same. Served from the back office itself (its CSP allows
// scripts and requests to 'self' only).
(function () {
  "use strict";
  var timer = null;

  function schedule() {
    var panel = document.getElementById("conversation");
    if (!panel || !panel.dataset.live) {
      return;
    }
    var seconds = parseInt(panel.dataset.every, 10) || 4;
    timer = window.setTimeout(function () { refresh(panel.dataset.live); }, seconds * 1000);
  }

  function refresh(url) {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) {
        if (!response.ok) {
          throw new Error(String(response.status));
        }
        return response.text();
      })
      .then(function (html) {
        var panel = document.getElementById("conversation");
        var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("conversation");
        if (panel && fresh) {
          panel.replaceWith(document.importNode(fresh, true));
        }
        schedule();
      })
      .catch(function () {
        // Signed out or offline: stop; a reload shows the page as it is.
        timer = null;
      });
  }

  schedule();
})();
