// The API reference page: Redoc (static/vendor/redoc.standalone.js) renders the served OpenAPI
// document into #api-reference. No inline script: the page's CSP stays the site's.
(function () {
  function start() {
    var box = document.getElementById("api-reference");
    if (!box || !window.Redoc) return;
    var options = {
      // Search runs in a Web Worker made from a blob: URL, which the CSP refuses (worker-src
      // falls back to script-src 'self'); the browser's own find does the job.
      disableSearch: true,
      hideDownloadButton: false,
      expandResponses: "200",
      jsonSampleExpandLevel: 2,
      scrollYOffset: ".app-header",
      theme: {
        typography: { fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
                      headings: { fontFamily: "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif" },
                      code: { fontFamily: "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace" } },
      },
    };
    window.Redoc.init(box.dataset.documentUrl, options, box, function (error) {
      box.dataset.state = error ? "failed" : "ready";
      document.dispatchEvent(new CustomEvent("api-reference:" + box.dataset.state));
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
