// The dashboard's only script of its own (the page allows no inline script): a confirmation before a
// form marked `data-confirm` changes something. Everything else works without it.
"use strict";
document.addEventListener("submit", function (event) {
  const form = event.target;
  if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
    event.preventDefault();
  }
});
