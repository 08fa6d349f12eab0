/* Rapport, client screens: let HTMX show a refused edit (422, 403, 409) beside its form.
   Only answers the server marked as a fragment (X-Rapport-Fragment) are swapped; any other error
   page stays out of the section. No inline script anywhere: the content security policy forbids it. */
document.addEventListener("htmx:beforeSwap", function (event) {
  var xhr = event.detail.xhr;
  if (xhr && xhr.status >= 400 && xhr.status < 500 && xhr.getResponseHeader("X-Rapport-Fragment") === "1") {
    event.detail.shouldSwap = true;
    event.detail.isError = false;
  }
});
