// Ratings with their intervals, best at the top.
(function () {
  "use strict";
  var el = document.getElementById("chart");
  if (!el || !window.Plotly) { return; }
  var models = JSON.parse(el.dataset.models), r = JSON.parse(el.dataset.ratings);
  var lo = JSON.parse(el.dataset.low), hi = JSON.parse(el.dataset.high);
  var plus = r.map(function (v, i) { return hi[i] === null ? 0 : hi[i] - v; });
  var minus = r.map(function (v, i) { return lo[i] === null ? 0 : v - lo[i]; });
  Plotly.newPlot(el, [{
    type: "scatter", mode: "markers", x: r, y: models,
    error_x: {type: "data", symmetric: false, array: plus, arrayminus: minus},
    hovertemplate: "%{y}: %{x:.1f}<extra></extra>"
  }], {
    margin: {l: 160, r: 20, t: 10, b: 40}, height: 60 + 28 * models.length,
    yaxis: {autorange: "reversed"}, xaxis: {title: {text: "rating"}}
  }, {displayModeBar: false, responsive: true});
  el.dataset.rendered = "1";
})();
