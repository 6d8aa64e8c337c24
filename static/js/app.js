/* AfterDesk: when the server is unavailable, live-status polls back off instead of hammering it.
   A failed htmx request (no answer, 429 or 5xx) starts a back-off: requests from polling elements
   (hx-trigger "every ...") are cancelled until it ends; it doubles from 2 s up to 60 s, honours
   Retry-After, and ends at the first success. A banner (rendered, translated, by base.html) shows
   meanwhile. No inline script anywhere: the CSP forbids it. */
(function () {
  "use strict";
  var MIN_MS = 2000, MAX_MS = 60000;
  var delay = 0, until = 0;

  function isPoll(elt) {
    var trigger = elt && elt.getAttribute && elt.getAttribute("hx-trigger");
    return !!trigger && /(^|[\s,])every\s/.test(trigger);
  }

  function banner(show) {
    var el = document.querySelector("[data-offline-banner]");
    if (el) el.hidden = !show;
  }

  function fail(evt) {
    var xhr = evt.detail && evt.detail.xhr;
    var status = xhr ? xhr.status : 0;
    if (evt.type === "htmx:responseError" && status !== 429 && status < 500) return; // a refusal, not an outage
    var retryAfter = xhr ? parseInt(xhr.getResponseHeader("Retry-After"), 10) : NaN;
    delay = Math.min(MAX_MS, delay ? delay * 2 : MIN_MS);
    var wait = retryAfter > 0 ? Math.min(MAX_MS, Math.max(delay, retryAfter * 1000)) : delay;
    until = Date.now() + wait;
    banner(true);
  }

  document.addEventListener("htmx:beforeRequest", function (evt) {
    if (Date.now() < until && isPoll(evt.detail.elt)) evt.preventDefault();
  });
  document.addEventListener("htmx:responseError", fail);
  document.addEventListener("htmx:sendError", fail);
  document.addEventListener("htmx:afterRequest", function (evt) {
    if (evt.detail.successful) {
      delay = 0;
      until = 0;
      banner(false);
    }
  });
})();
