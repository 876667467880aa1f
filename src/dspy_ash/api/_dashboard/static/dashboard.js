// The dashboard's only script of its own (the page allows no inline script): a confirmation before a
// form marked `data-confirm` changes something, and the problem pages of a target marked
// `data-swap-errors` swapped in like any answer (htmx leaves 4xx/5xx answers out by default), so the
// playground shows why an execution failed. Everything else works without it.
"use strict";
document.addEventListener("submit", function (event) {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
document.addEventListener("htmx:beforeSwap", function (event) {
  const detail = event.detail;
  const status = detail.xhr.status;
  if (detail.target instanceof Element && detail.target.hasAttribute("data-swap-errors") &&
      status >= 400 && status !== 401) {
    detail.shouldSwap = true;
    detail.isError = false;
  }
});
