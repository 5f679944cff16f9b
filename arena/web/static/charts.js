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

  // One trace per series {name: {models, x, y}}: rank by humans (x) against rank by a judge
  // (y), 1 at the top left, with the diagonal where the two agree.
  function rankScatter(el) {
    var series = data(el, "series"), top = 1;
    var traces = Object.keys(series).map(function (name) {
      var s = series[name];
      top = Math.max(top, Math.max.apply(null, s.x.concat(s.y)));
      return {type: "scatter", mode: "markers", name: plain(name), x: s.x, y: s.y,
              text: s.models.map(plain),
              hovertemplate: "%{text}: human %{x}, judge %{y}"};
    });
    traces.unshift({type: "scatter", mode: "lines", x: [1, top], y: [1, top], showlegend: false,
                    hoverinfo: "skip", line: {dash: "dot", color: "#9aa3ad"}});
    return Plotly.newPlot(el, traces, {
      margin: {l: 50, r: 10, t: 10, b: 40}, height: 360, legend: {orientation: "h"},
      xaxis: {title: {text: "rank by humans"}},
      yaxis: {title: {text: "rank by the judge"}, autorange: "reversed"}
    }, config).then(function () { el.dataset.rendered = "1"; });
  }

  // Goodness (y) against fastness (x), each with its interval, one point per model.
  function goodFast(el) {
    var p = data(el, "points"), labels = p.models.map(plain);
    function spread(v, lo, hi) {
      return {type: "data", symmetric: false, thickness: 1, width: 0,
              array: v.map(function (x, i) { return hi[i] === null ? 0 : hi[i] - x; }),
              arrayminus: v.map(function (x, i) { return lo[i] === null ? 0 : x - lo[i]; })};
    }
    return Plotly.newPlot(el, [{
      type: "scatter", mode: "markers+text", x: p.fast, y: p.good, text: labels,
      textposition: "top center", textfont: {size: 10}, cliponaxis: false,
      error_x: spread(p.fast, p.fast_low, p.fast_high),
      error_y: spread(p.good, p.good_low, p.good_high),
      hovertemplate: "%{text}<br>goodness %{y:.3f}<br>fastness %{x:.3f}<extra></extra>"
    }], {
      margin: {l: 50, r: 20, t: 20, b: 40}, height: 380,
      xaxis: {title: {text: "fastness (0: the slowest here, 1: the fastest)"}},
      yaxis: {title: {text: "goodness (from benchmarks)"}}
    }, config).then(function () { el.dataset.rendered = "1"; });
  }

  return {plain: plain, intervals: intervals, heatmap: heatmap, lines: lines,
          rankScatter: rankScatter, goodFast: goodFast};
})();
