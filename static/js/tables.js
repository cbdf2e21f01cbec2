// Every page: a table wider than its .table-wrap scrolls sideways. Such a wrap takes focus, so that keyboard
// users reach it with Tab and scroll it with the arrow keys (WCAG 2.1.1; axe-core's scrollable-region-focusable),
// and is a group named by its table's caption, else by its section's heading: a group, not a region, so that
// tables with the same caption add no landmarks of the same name. A wrap that fits again loses the tab stop.
(function () {
  "use strict";
  var counter = 0;

  function update(wrap) {
    var scrolls = wrap.scrollWidth > wrap.clientWidth + 1;
    if (scrolls && !wrap.hasAttribute("tabindex")) {
      wrap.setAttribute("tabindex", "0");
      wrap.setAttribute("data-scroll-group", "");
      var caption = wrap.querySelector("caption");
      var section = wrap.closest("section[aria-labelledby]");
      var label = caption || (section && document.getElementById(section.getAttribute("aria-labelledby")));
      if (label) {
        if (!label.id) label.id = "table-label-" + (++counter);
        wrap.setAttribute("role", "group");
        wrap.setAttribute("aria-labelledby", label.id);
      }
    } else if (!scrolls && wrap.hasAttribute("data-scroll-group")) {
      ["tabindex", "data-scroll-group", "role", "aria-labelledby"].forEach(function (name) {
        wrap.removeAttribute(name);
      });
    }
  }

  function updateAll() {
    Array.prototype.forEach.call(document.querySelectorAll(".table-wrap"), update);
  }

  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) window.clearTimeout(pending);
    pending = window.setTimeout(updateAll, 150);
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", updateAll);
  else updateAll();
})();
