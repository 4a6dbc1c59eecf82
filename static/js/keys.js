// The keys page: picking an expiry date also picks "On a date". The page works without this.
(function () {
  "use strict";
  document.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.matches || !input.matches("[data-expiry-date]") || !input.value) return;
    var custom = input.form && input.form.querySelector('input[name="expiry"][value="custom"]');
    if (custom) custom.checked = true;
  });
})();
