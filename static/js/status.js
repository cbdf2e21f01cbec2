// Reload the submission page when its status changes, until it is done.
(function () {
  "use strict";
  var section = document.getElementById("status");
  if (!section || section.dataset.done === "1" || !window.fetch) return;
  var delay = 2000;
  function poll() {
    fetch(section.dataset.api, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body && body.status !== section.dataset.status) {
          window.location.reload();
          return;
        }
        delay = Math.min(delay * 1.5, 15000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 15000); });
  }
  window.setTimeout(poll, delay);
})();
