// The logs page's side panel: close it with its button or Escape, and give focus back.
(function () {
  "use strict";

  var opener = null;

  function panel() { return document.getElementById("log-panel"); }

  function closePanel() {
    var element = panel();
    if (!element || !element.firstElementChild) return;
    element.replaceChildren();
    if (opener && document.body.contains(opener)) opener.focus();
    opener = null;
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest("a[hx-target='#log-panel']");
    if (link) opener = link;
    if (event.target.closest("[data-close-panel]")) closePanel();
  });

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") closePanel();
  });

  // The filters form comes back with every list (out of band): keep "More filters" as the
  // person left it, open or closed.
  var moreOpen = null;
  document.addEventListener("htmx:beforeRequest", function () {
    var more = document.getElementById("log-more");
    moreOpen = more ? more.open : null;
  });
  document.addEventListener("htmx:afterSettle", function () {
    var more = document.getElementById("log-more");
    if (more && moreOpen !== null) more.open = more.open || moreOpen;
  });

  // A new list (filters, pages) makes the open call stale.
  document.addEventListener("htmx:afterSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "log-results") closePanel();
  });
})();
