// The composite page's scatter (its table works without JavaScript).
(function () {
  "use strict";
  if (!window.Plotly || !window.ArenaCharts) { return; }
  var el = document.getElementById("good-fast");
  if (el) { ArenaCharts.goodFast(el); }
})();
