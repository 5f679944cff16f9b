// The judges page's chart (its tables work without JavaScript).
(function () {
  "use strict";
  if (!window.Plotly || !window.ArenaCharts) { return; }
  var el = document.getElementById("judge-ranks");
  if (el) { ArenaCharts.rankScatter(el); }
})();
