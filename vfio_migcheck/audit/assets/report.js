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

  // Paged tables: every row is in the markup (readable without scripts); show one page.
  function showPage(table, page) {
    var size = Number(table.dataset.pageSize);
    var rows = table.tBodies[0].rows;
    var pages = Math.max(1, Math.ceil(rows.length / size));
    page = Math.min(Math.max(page, 0), pages - 1);
    table.dataset.page = String(page);
    table.dataset.pages = String(pages);
    for (var i = 0; i < rows.length; i++) {
      rows[i].classList.toggle("offpage", Math.floor(i / size) !== page);
    }
    var pager = document.querySelector('.pager[data-for="' + table.id + '"]');
    if (pager) {
      pager.hidden = false;
      pager.querySelector(".pageinfo").textContent =
        "rows " + (page * size + 1) + "\u2013" + Math.min((page + 1) * size, rows.length) +
        " of " + rows.length + " (page " + (page + 1) + " of " + pages + ")";
      pager.querySelector('[data-step="-1"]').disabled = page === 0;
      pager.querySelector('[data-step="1"]').disabled = page === pages - 1;
    }
  }
  document.querySelectorAll("table.paged").forEach(function (table) {
    showPage(table, 0);
    var pager = document.querySelector('.pager[data-for="' + table.id + '"]');
    if (!pager) { return; }
    pager.querySelectorAll("button").forEach(function (button) {
      button.addEventListener("click", function () {
        showPage(table, Number(table.dataset.page) + Number(button.dataset.step));
      });
    });
  });

  function cellValue(row, index) {
    var cell = row.cells[index];
    if (cell && cell.dataset.sort !== undefined) { return Number(cell.dataset.sort); }
    var text = cell ? cell.textContent.trim() : "";
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
        if (table.classList.contains("paged")) { showPage(table, 0); }
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
  var visible = 0;
  document.querySelectorAll("table.paged").forEach(function (table) {
    var size = Number(table.dataset.pageSize);
    var shown = table.querySelectorAll("tbody tr:not(.offpage)").length;
    if (shown <= size) { visible += 1; }
  });
  body.dataset.pagedTables = String(document.querySelectorAll("table.paged").length);
  body.dataset.pagedTablesOk = String(visible);
  body.dataset.rendered = "yes";
  document.title = document.title + " \u2713";
})();
