// Bonafide operator console: the little script it has (the pages work without it).
// Times are rendered in UTC by the server; this adds the reader's local time as a tooltip.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("time").forEach(function (el) {
    var m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2}) UTC$/.exec(el.textContent.trim());
    if (!m) { return; }
    var d = new Date(m[1] + "T" + m[2] + "Z");
    if (!isNaN(d)) {
      el.setAttribute("datetime", d.toISOString());
      el.title = d.toLocaleString();
    }
  });
});
