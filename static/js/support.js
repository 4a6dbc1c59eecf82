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
