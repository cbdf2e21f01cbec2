// Follow a submission while it is scored and judged: reload the page when a
// status changes, and move the judge's progress bar in place.
(function () {
  "use strict";
  var section = document.getElementById("status");
  var judge = document.getElementById("judge");
  if (!section || !window.fetch) return;
  var judgeDone = !judge || judge.dataset.done === "1";
  if (section.dataset.done === "1" && judgeDone) return;
  var delay = 2000;
  function poll() {
    fetch(section.dataset.api, {headers: {Accept: "application/json"}, credentials: "same-origin"})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (body) {
        if (body) {
          var judgeStatus = body.judge ? body.judge.status : "";
          var shownJudgeStatus = judge ? judge.dataset.status : "";
          if (body.status !== section.dataset.status || judgeStatus !== shownJudgeStatus) {
            window.location.reload();
            return;
          }
          if (body.judge && judge) {
            var bar = document.getElementById("judge-progress");
            var count = document.getElementById("judge-count");
            if (bar) { bar.max = body.judge.total_clips; bar.value = body.judge.judged_clips; }
            if (count) { count.textContent = body.judge.judged_clips + " / " + body.judge.total_clips; }
            delay = 2000;
          }
        }
        delay = Math.min(delay * 1.5, 15000);
        window.setTimeout(poll, delay);
      })
      .catch(function () { window.setTimeout(poll, 15000); });
  }
  window.setTimeout(poll, delay);
})();
