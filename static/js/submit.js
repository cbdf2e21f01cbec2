// Upload with a progress bar. Without JavaScript the form posts normally and
// the page comes back with the same list of problems.
(function () {
  "use strict";
  // gettext and interpolate come from the site's catalog script (/jsi18n/), loaded before this one.
  var form = document.getElementById("submit-form");
  if (!form || !window.XMLHttpRequest || !window.FormData) return;
  var progress = document.getElementById("progress");
  var bar = document.getElementById("upload-progress");
  var label = document.getElementById("progress-label");
  var button = document.getElementById("submit-button");
  var problems = document.getElementById("problems");
  var list = document.getElementById("problem-list");

  var title = document.getElementById("problems-title");
  // The checkbox that confirms the file's language, shown once the server refused the file for it.
  var confirmLanguage = document.getElementById("confirm-language");

  // The heading and the lines the page itself shows (the view sends both); text, never HTML.
  function showProblems(heading, items) {
    title.textContent = heading;
    list.textContent = "";
    items.forEach(function (item) {
      var li = document.createElement("li");
      li.textContent = item; // text, never HTML: messages quote user input
      list.appendChild(li);
    });
    problems.hidden = false;
    // Focus moves to the list, read out from its start: the button pressed was disabled during the upload.
    problems.setAttribute("tabindex", "-1");
    problems.focus();
    problems.scrollIntoView({block: "start"});
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action || window.location.href);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) {
        bar.value = Math.round((e.loaded / e.total) * 100);
        label.textContent = interpolate(gettext("Uploading… %(percent)s"), {percent: bar.value + "%"}, true);
      }
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      label.textContent = gettext("Uploaded; checking the file…");
    });
    xhr.addEventListener("load", function () {
      button.disabled = false;
      var body = {};
      try { body = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ }
      if (xhr.status === 201 && body.redirect) {
        window.location.assign(body.redirect);
        return;
      }
      progress.hidden = true;
      if (confirmLanguage && (body.errors || []).some(function (error) { return error.code === "language_mismatch"; })) {
        confirmLanguage.hidden = false;
      }
      if (body.title) {
        showProblems(body.title, body.messages || []);
      } else {
        // A refusal (not allowed now, a limit): its sentence alone, as the page shows it.
        showProblems(body.detail || interpolate(gettext("The upload failed (HTTP %(status)s)."), {status: xhr.status}, true), []);
      }
    });
    xhr.addEventListener("error", function () {
      button.disabled = false;
      progress.hidden = true;
      showProblems(gettext("The connection failed during the upload. Nothing was stored; please try again."), []);
    });
    problems.hidden = true;
    progress.hidden = false;
    bar.value = 0;
    button.disabled = true;
    xhr.send(new FormData(form));
  });
})();
