// The usage page: draw each chart from its JSON data block with Plotly, again after htmx swaps
// a new month in, and re-colour the charts when the page's light/dark theme changes.
(function () {
  "use strict";

  // No mode bar: its buttons sat over the legends on a phone and were focusable but hidden from
  // screen readers. The data table under each chart is the accessible way to read the numbers.
  var CONFIG = { responsive: true, displayModeBar: false };
  var THEMES = {
    light: { text: "#4b5563", muted: "#6b7280", grid: "rgba(17, 24, 39, 0.08)", hoverBg: "#ffffff", hoverBorder: "#e5e7eb", hoverText: "#111827" },
    dark: { text: "#c4c9d4", muted: "#9aa1ae", grid: "rgba(255, 255, 255, 0.09)", hoverBg: "#1f2330", hoverBorder: "#2e3342", hoverText: "#f3f4f6" }
  };

  function themeName() {
    return document.documentElement.getAttribute("data-bs-theme") === "dark" ? "dark" : "light";
  }

  function theme() {
    return THEMES[themeName()];
  }

  // After Plotly has drawn a chart: say for which theme, so tests (and anyone) can wait for it.
  function markDrawn(element, name) {
    return function () { element.setAttribute("data-drawn-theme", name); };
  }

  // Colours that depend on the theme; everything else comes from the server's figure.
  function themed(layout) {
    var t = theme();
    var update = {
      "font.color": t.text,
      "hoverlabel.bgcolor": t.hoverBg,
      "hoverlabel.bordercolor": t.hoverBorder,
      "hoverlabel.font.color": t.hoverText
    };
    ["xaxis", "yaxis", "yaxis2"].forEach(function (axis) {
      if (!layout[axis]) return;
      update[axis + ".gridcolor"] = t.grid;
      update[axis + ".linecolor"] = t.grid;
      update[axis + ".zerolinecolor"] = t.grid;
      update[axis + ".tickfont.color"] = t.muted;
      update[axis + ".title.font.color"] = t.muted;
    });
    return update;
  }

  function apply(target, update) {
    Object.keys(update).forEach(function (path) {
      var parts = path.split(".");
      var node = target;
      for (var i = 0; i < parts.length - 1; i++) {
        node[parts[i]] = node[parts[i]] || {};
        node = node[parts[i]];
      }
      node[parts[parts.length - 1]] = update[path];
    });
    return target;
  }

  function drawCharts(root) {
    if (!window.Plotly) return;
    (root || document).querySelectorAll("[data-usage-chart]").forEach(function (element) {
      var source = document.getElementById(element.getAttribute("data-usage-chart"));
      if (!source) return;
      var figure;
      try {
        figure = JSON.parse(source.textContent);
      } catch (error) {
        return;
      }
      var layout = apply(figure.layout || {}, themed(figure.layout || {}));
      layout.autosize = true;
      delete layout.width;
      element.removeAttribute("data-drawn-theme");
      element.classList.add("is-drawn");
      window.Plotly.newPlot(element, figure.data || [], layout, CONFIG).then(markDrawn(element, themeName()));
    });
  }

  function recolour() {
    if (!window.Plotly) return;
    document.querySelectorAll("[data-usage-chart].is-drawn").forEach(function (element) {
      element.removeAttribute("data-drawn-theme");
      window.Plotly.relayout(element, themed(element.layout || {})).then(markDrawn(element, themeName()));
    });
  }

  function purge(root) {
    if (!window.Plotly || !root) return;
    root.querySelectorAll("[data-usage-chart].is-drawn").forEach(function (element) {
      window.Plotly.purge(element);
    });
  }

  // htmx drops every <script> of swapped content (allowScriptTags is off), the JSON data blocks
  // too; read them from the response text (DOMParser runs nothing) and put them back after.
  var stashed = [];

  function stashFigures(html) {
    stashed = [];
    if (!html || !window.DOMParser) return;
    var parsed = new DOMParser().parseFromString(html, "text/html");
    parsed.querySelectorAll('script[type="application/json"][id^="figure-"]').forEach(function (block) {
      stashed.push({ id: block.id, json: block.textContent });
    });
  }

  function restoreFigures(root) {
    stashed.forEach(function (item) {
      if (document.getElementById(item.id)) return;
      var chart = root.querySelector('[data-usage-chart="' + item.id + '"]');
      if (!chart) return;
      var block = document.createElement("script");
      block.type = "application/json";
      block.id = item.id;
      block.textContent = item.json;
      chart.insertAdjacentElement("afterend", block);
    });
    stashed = [];
  }

  // Keep keyboard focus where it was (the same month link or input), or on the heading.
  var focusedId = null;

  document.addEventListener("htmx:beforeSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "usage") return;
    // A bad month answers 400 with a message: show it in place instead of ignoring it.
    if (event.detail.xhr && event.detail.xhr.status === 400) {
      event.detail.shouldSwap = true;
      event.detail.isError = false;
    }
    stashFigures(event.detail.serverResponse);
    var active = document.activeElement;
    focusedId = active && target.contains(active) && active.id ? active.id : null;
    purge(target);
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    var target = event.detail.target || event.detail.elt;
    if (!target || target.id !== "usage") return;
    restoreFigures(target);
    drawCharts(target);
    var focus = (focusedId && document.getElementById(focusedId)) || document.getElementById("usage-heading");
    if (focus) focus.focus({ preventScroll: true });
    focusedId = null;
  });

  // Back/forward without htmx's history cache: htmx reloads the page's body from the server.
  document.addEventListener("htmx:historyRestore", function (event) {
    if (!event.detail.serverResponse) return;
    stashFigures(event.detail.serverResponse);
    restoreFigures(document);
    drawCharts(document);
  });

  // theme.js flips data-bs-theme when the system preference changes.
  new MutationObserver(recolour).observe(document.documentElement, {
    attributes: true,
    attributeFilter: ["data-bs-theme"]
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", function () { drawCharts(document); });
  } else {
    drawCharts(document);
  }
})();
