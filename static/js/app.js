// Small behaviours shared by every page. Pages work without this file; it only adds comfort.
(function () {
  "use strict";

  // Copy buttons: <button data-copy-target="#id"> copies that element's text (or value). A button
  // that is useless without this script comes `hidden` and is shown here. With
  // data-copy-status="#id" the word "Copied" is also put in that aria-live region, so screen
  // readers hear it (a button's own new label is not reliably announced).
  document.querySelectorAll("[data-copy-target][hidden]").forEach(function (button) {
    if (navigator.clipboard) button.hidden = false;
  });
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy-target]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy-target"));
    if (!source) return;
    var text = source.value !== undefined && source.tagName !== "DIV" ? source.value : source.textContent;
    var statusSelector = button.getAttribute("data-copy-status");
    var status = statusSelector ? document.querySelector(statusSelector) : null;
    navigator.clipboard.writeText(text.trim()).then(function () {
      var label = button.getAttribute("data-copied-label") || "Copied";
      if (status) {
        status.textContent = label;
        setTimeout(function () { status.textContent = ""; }, 4000);
        return;
      }
      var original = button.textContent;
      button.textContent = label;
      button.setAttribute("aria-live", "polite");
      setTimeout(function () { button.textContent = original; }, 2000);
    }, function () {
      if (status) status.textContent = "Could not copy: select the text and copy it yourself.";
    });
  });

  // Dismissable alerts without Bootstrap's JavaScript.
  document.addEventListener("click", function (event) {
    var close = event.target.closest("[data-dismiss-alert]");
    if (close) close.closest(".alert").remove();
  });

  // <form data-confirm="..."> asks before a plain (non-htmx) destructive submit.
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !form.hasAttribute("hx-post") && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  // The header's account switcher is a <details> menu: like other menus, Escape closes it (focus
  // back on its button) and so does a click anywhere else.
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var menu = document.querySelector("details.account-switcher[open]");
    if (!menu) return;
    menu.open = false;
    menu.querySelector("summary").focus();
  });
  document.addEventListener("click", function (event) {
    var menu = document.querySelector("details.account-switcher[open]");
    if (menu && !menu.contains(event.target)) menu.open = false;
  });

  // After htmx swaps new content in, move focus to an element that asks for it.
  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.elt && event.detail.elt.querySelector
      ? event.detail.elt.querySelector("[data-autofocus]")
      : null;
    if (!target) return;
    // A panel that must be read whole (the new secret and its "shown only once" warning) is
    // scrolled to the top first, below the sticky header (scroll-padding-top in app.css).
    var reveal = target.closest("[data-reveal-on-focus]");
    if (reveal) reveal.scrollIntoView({ block: "start", behavior: "instant" });
    target.focus({ preventScroll: !!reveal });
  });
})();
