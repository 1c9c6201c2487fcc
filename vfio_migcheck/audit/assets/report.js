// vfio-migcheck audit report: filtering, sortable tables and a self-check for the tests.
(function () {
  "use strict";
  var body = document.body;
  window.addEventListener("error", function (ev) {
    body.dataset.jsErrors = String(Number(body.dataset.jsErrors || 0) + 1);
    body.dataset.jsError = String(ev.message || ev);
  });

  function applyFilters() {
    var off = {};
    document.querySelectorAll("input[data-filter]").forEach(function (box) {
      if (!box.checked) { off[box.dataset.filter + ":" + box.value] = true; }
    });
    document.querySelectorAll(".finding").forEach(function (f) {
      var hide = off["severity:" + f.dataset.severity] || off["party:" + f.dataset.party];
      f.classList.toggle("hidden", !!hide);
    });
  }
  document.querySelectorAll("input[data-filter]").forEach(function (box) {
    box.addEventListener("change", applyFilters);
  });

  function cellValue(row, index) {
    var text = row.cells[index] ? row.cells[index].textContent.trim() : "";
    var num = parseFloat(text.replace(/[^0-9.+-eE]/g, ""));
    return isNaN(num) || !/^[0-9.]/.test(text) ? text.toLowerCase() : num;
  }
  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("th").forEach(function (th, index) {
      th.title = "sort";
      th.addEventListener("click", function () {
        var tbody = table.tBodies[0];
        var rows = Array.prototype.slice.call(tbody.rows);
        var dir = th.dataset.dir === "asc" ? -1 : 1;
        th.dataset.dir = dir === 1 ? "asc" : "desc";
        rows.sort(function (a, b) {
          var x = cellValue(a, index), y = cellValue(b, index);
          return (x > y ? 1 : x < y ? -1 : 0) * dir;
        });
        rows.forEach(function (r) { tbody.appendChild(r); });
      });
    });
  });

  // Self-check: the findings drawn in the page must be the findings the totals count.
  var totals = JSON.parse(document.getElementById("audit-totals").textContent);
  var drawn = document.querySelectorAll(".finding").length;
  var omitted = 0;
  document.querySelectorAll(".capture[data-omitted]").forEach(function (c) {
    omitted += Number(c.dataset.omitted);
  });
  body.dataset.findingsDrawn = String(drawn);
  body.dataset.findingsOmitted = String(omitted);
  body.dataset.capturesDrawn = String(document.querySelectorAll(".capture[id^=cap-]").length);
  body.dataset.consistent = String(drawn + omitted === totals.findings &&
                                   Number(body.dataset.capturesDrawn) === totals.captures);
  body.dataset.rendered = "yes";
  document.title = document.title + " \u2713";
})();
