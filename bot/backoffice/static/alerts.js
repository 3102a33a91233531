// The urgent-alert banner of an on-duty user's pages, refreshed without a reload: every
// 30 seconds, and when the tab comes back into view. The pages work without it (the
// banner is rendered on each page); this only brings a new alert to a page left open.
(function () {
  "use strict";
  var INTERVAL_MS = 30000;

  function banner() {
    return document.querySelector(".alert-banner");
  }

  function render(data) {
    var current = banner();
    if (!data.count) {
      if (current) current.remove();
      return;
    }
    var section = document.createElement("section");
    section.className = "alert-banner";
    section.setAttribute("role", "alert");
    var strong = document.createElement("strong");
    strong.textContent = data.text;
    section.appendChild(strong);
    data.references.forEach(function (reference) {
      var link = document.createElement("a");
      link.href = "/backoffice/cases/" + encodeURIComponent(reference);
      link.textContent = reference;
      section.appendChild(link);
    });
    var see = document.createElement("a");
    see.href = "/backoffice/dashboard#alerts";
    see.textContent = data.see;
    section.appendChild(see);
    if (current) {
      if (current.textContent === section.textContent) return; // unchanged: no new announcement
      current.replaceWith(section);
    } else {
      var main = document.querySelector("main");
      if (main) main.insertBefore(section, main.firstChild);
    }
  }

  function refresh() {
    return fetch("/backoffice/alerts.json", { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) render(data); })
      .catch(function () { /* offline for a moment: the next round tries again */ });
  }

  window.intakeAlerts = { refresh: refresh };
  setInterval(refresh, INTERVAL_MS);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") refresh();
  });
})();
