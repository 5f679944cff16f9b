// The model page's chart (its tables work without JavaScript).
(function () {
  "use strict";
  if (!window.Plotly || !window.ArenaCharts) { return; }
  var el = document.getElementById("rating-history");
  if (el) { ArenaCharts.lines(el, "series", "rating", false); }
})();
