// While viewing as a customer: show a refused htmx action's message in the flash area.
// (The server sets HX-Retarget/HX-Reswap; htmx does not swap 4xx answers unless told to.)
(function () {
  "use strict";
  document.addEventListener("htmx:beforeSwap", function (event) {
    var xhr = event.detail.xhr;
    if (xhr.status === 403 && xhr.getResponseHeader("X-Impersonation-Refused")) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
  });
})();

// The banner's countdown to the automatic end of viewing: minutes and seconds, every second.
// At zero the page reloads, and the server (which ended the viewing) shows the support person's.
(function () {
  "use strict";
  function tick() {
    document.querySelectorAll("time[data-countdown]").forEach(function (element) {
      var left = Math.max(0, Math.round((Date.parse(element.getAttribute("datetime")) - Date.now()) / 1000));
      var minutes = Math.floor(left / 60);
      var seconds = String(left % 60).padStart(2, "0");
      element.textContent = minutes + ":" + seconds + " min";
      if (left === 0 && !element.hasAttribute("data-ended")) {
        element.setAttribute("data-ended", "");
        window.location.reload();
      }
    });
  }
  tick();
  setInterval(tick, 1000);
})();
