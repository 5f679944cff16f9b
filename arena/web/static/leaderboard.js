// The leaderboard's charts (the table above them works without JavaScript).
(function () {
  "use strict";
  if (!window.Plotly || !window.ArenaCharts) { return; }
  var chart = document.getElementById("chart");
  if (chart) { ArenaCharts.intervals(chart); }
  var heat = document.getElementById("heatmap");
  if (heat) { ArenaCharts.heatmap(heat, "fraction", "win fraction", ":.2f"); }
  var counts = document.getElementById("battle-counts");
  if (counts) { ArenaCharts.heatmap(counts, "battles", "battles", ":d"); }
  var time = document.getElementById("over-time");
  if (time) { ArenaCharts.lines(time, "series", "rating", false); }
})();
