// Charts shared by the pages. Every stored text (model names, categories) reaches plotly
// through plain(): plotly reads a small HTML subset in text (<a href>, <span style>, <br>),
// so "<", ">" and "&" are written as entities, which plotly shows as the characters.
var ArenaCharts = (function () {
  "use strict";

  function plain(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }

  function data(el, key) { return JSON.parse(el.dataset[key]); }

  var config = {displayModeBar: false, responsive: true};

  function margin(labels) {
    var longest = labels.reduce(function (n, s) { return Math.max(n, String(s).length); }, 0);
    var narrow = window.innerWidth < 600;
    return Math.min(narrow ? 110 : 220, 12 + 7 * longest);
  }

  // Ratings with their intervals, best at the top.
  function intervals(el) {
    var models = data(el, "models"), r = data(el, "ratings");
    var lo = data(el, "low"), hi = data(el, "high"), labels = models.map(plain);
    var plus = r.map(function (v, i) { return hi[i] === null ? 0 : hi[i] - v; });
    var minus = r.map(function (v, i) { return lo[i] === null ? 0 : v - lo[i]; });
    return Plotly.newPlot(el, [{
      type: "scatter", mode: "markers", x: r, y: labels,
      error_x: {type: "data", symmetric: false, array: plus, arrayminus: minus},
      hovertemplate: "%{y}: %{x:.1f}<extra></extra>"
    }], {
      margin: {l: margin(models), r: 10, t: 10, b: 40}, height: 60 + 24 * models.length,
      yaxis: {autorange: "reversed", type: "category"}, xaxis: {title: {text: "rating"}}
    }, config).then(function () { el.dataset.rendered = "1"; });
  }

  // A square matrix over models: z[i][j] for row model i against column model j, drawn as
  // square SVG markers. (Plotly's heatmap trace draws an <image> with a style attribute,
  // which the Content-Security-Policy refuses.)
  function heatmap(el, key, title, fmt) {
    var models = data(el, "models"), z = data(el, key), labels = models.map(plain);
    var x = [], y = [], c = [];
    z.forEach(function (row, i) {
      row.forEach(function (v, j) {
        if (v !== null && !(key === "battles" && i === j)) {
          x.push(labels[j]); y.push(labels[i]); c.push(v);
        }
      });
    });
    var left = margin(models), width = el.clientWidth || 360;
    var cell = Math.max(6, Math.min(40, (width - left - 10) / Math.max(1, models.length)));
    return Plotly.newPlot(el, [{
      type: "scatter", mode: "markers", x: x, y: y,
      marker: {symbol: "square", size: cell * 0.92, color: c, colorscale: key === "fraction" ? "RdBu" : "Blues",
               reversescale: key === "fraction", cmin: key === "fraction" ? 0 : undefined,
               cmax: key === "fraction" ? 1 : undefined, showscale: false},
      hovertemplate: "%{y} vs %{x}: %{marker.color" + fmt + "} " + title + "<extra></extra>"
    }], {
      margin: {l: left, r: 10, t: 10, b: left},
      height: left + 20 + cell * models.length,
      xaxis: {type: "category", tickangle: -45, categoryarray: labels, showgrid: false},
      yaxis: {type: "category", autorange: "reversed", categoryarray: labels, showgrid: false}
    }, config).then(function () { el.dataset.rendered = "1"; });
  }

  // One line per series over time: {name: [[time, value], ...]}.
  function lines(el, key, title, reversed) {
    var series = data(el, key);
    var traces = Object.keys(series).map(function (name) {
      return {type: "scatter", mode: "lines+markers", name: plain(name),
              x: series[name].map(function (p) { return p[0]; }),
              y: series[name].map(function (p) { return p[1]; })};
    });
    return Plotly.newPlot(el, traces, {
      margin: {l: 50, r: 10, t: 10, b: 40}, height: 300, showlegend: traces.length > 1,
      legend: {orientation: "h"},
      yaxis: {title: {text: title}, autorange: reversed ? "reversed" : true}
    }, config).then(function () { el.dataset.rendered = "1"; });
  }

  return {plain: plain, intervals: intervals, heatmap: heatmap, lines: lines};
})();
