// The sweep's charts, drawn by Plotly.js (served from the plotly wheel, no CDN). Data strings go through
// plotText: Plotly reads a few HTML tags in labels, and a parameter named `<b>` must show as written.
import { el, fill, hasWebGL, plotText } from "./dom.js";

const CONFIG = { displaylogo: false, responsive: true };
const LEGEND = { orientation: "h", y: 1.02, yanchor: "bottom" }; // above the plot, clear of the axis title
let plotly = null;

/** Plotly.js (4.8 MB), loaded once a chart is wanted: the table shows without waiting for it. */
export function loadPlotly() {
  plotly ||= new Promise((resolve, reject) => {
    const script = el("script", { src: "/vendor/plotly.min.js" });
    script.addEventListener("load", () => resolve(window.Plotly));
    script.addEventListener("error", () => reject(new Error("Plotly.js did not load")));
    document.head.append(script);
  });
  return plotly;
}
const COLORS = { running: "#0969da", finished: "#1a7f37", stopped: "#9a6700", crashed: "#cf222e" };

/** The trial's value on objective `i` when it counts (finished or stopped, measured, in the search), else null. */
export function scoredValue(model, row, i = 0) {
  if (!["finished", "stopped"].includes(row.state) || row.requeued || row.retried || row.imputed) return null;
  const value = model.multi ? row.values[i] : row.metric;
  return value === null || value === undefined ? null : value;
}

function objective(model, i = 0) {
  return model.about.objectives[i] || { name: "metric", goal: "minimize" };
}

function chart(panel, id, small = false) {
  let div = panel.querySelector(`#${id}`);
  if (!div) {
    div = el("div", { class: small ? "chart small" : "chart", id });
    panel.append(div);
  }
  return div;
}

function axis(title, extra = {}) {
  return { title: { text: plotText(title) }, automargin: true, ...extra };
}

function note(panel, text) {
  fill(panel, el("p", { class: "muted note" }, text));
}

/** Per-epoch curves of every trial on one objective, by state; trials stopped early marked where they stopped. */
export function drawCurves(panel, model) {
  if (!model.about.objectives.length) return note(panel, "This sweep has no metric: no curves to draw.");
  let select = panel.querySelector("select");
  if (!select) {
    select = el("select", { "aria-label": "objective" }, model.about.objectives.map((o, i) => el("option", { value: i }, o.name)));
    select.addEventListener("change", () => drawCurves(panel, model));
    fill(panel, model.multi ? el("div", { class: "controls" }, "objective ", select) : null);
  }
  const { name } = objective(model, Number(select.value || 0));
  const groups = {};
  const stops = { x: [], y: [], text: [] };
  for (const row of model.list) {
    const values = row.curves[name] || [];
    if (!values.length || !COLORS[row.state]) continue;
    const group = (groups[row.state] ||= { x: [], y: [], text: [], count: 0 });
    const label = plotText(`trial ${row.number} (${row.run_id})`);
    values.forEach((value, i) => { group.x.push(i + 1); group.y.push(value); group.text.push(label); });
    group.x.push(null); group.y.push(null); group.text.push(null);
    group.count += 1;
    if (row.state === "stopped" || row.stop_requested) {
      stops.x.push(values.length); stops.y.push(values[values.length - 1]); stops.text.push(label);
    }
  }
  const traces = Object.entries(groups).map(([state, g]) => ({
    type: "scatter", mode: state === "running" ? "lines+markers" : "lines", name: `${state} (${g.count})`, x: g.x, y: g.y, text: g.text,
    hovertemplate: "%{text}<br>epoch %{x}: %{y}<extra></extra>", connectgaps: false,
    line: { color: COLORS[state], width: state === "running" ? 2.5 : 1 }, opacity: state === "running" ? 1 : 0.6,
  }));
  if (stops.x.length) traces.push({
    type: "scatter", mode: "markers", name: "stopped early (hyperband / pruner)", x: stops.x, y: stops.y, text: stops.text,
    hovertemplate: "%{text}<br>stopped at epoch %{x}<extra></extra>", marker: { symbol: "x", size: 10, color: COLORS.stopped },
  });
  const layout = { margin: { t: 50 }, xaxis: axis("epoch"), yaxis: axis(name), legend: LEGEND, uirevision: name };
  Plotly.react(chart(panel, "chart-curves"), traces, layout, CONFIG);
}

/** The best value so far, against the trial number and against the time each trial ended. */
export function drawBest(panel, model) {
  if (!model.about.objectives.length) return note(panel, "This sweep has no metric.");
  const { name, goal } = objective(model);
  const better = (a, b) => (goal === "maximize" ? a > b : a < b);
  const scored = model.list.filter((r) => scoredValue(model, r) !== null);
  const running = (rows) => {
    let best = null;
    return rows.map((r) => { const v = scoredValue(model, r); if (best === null || better(v, best)) best = v; return best; });
  };
  const byNumber = scored;
  const byTime = [...scored].filter((r) => r.ended_at).sort((a, b) => a.ended_at - b.ended_at);
  const label = (r) => plotText(`trial ${r.number} (${r.run_id})`);
  const draw = (id, rows, x) => Plotly.react(chart(panel, id, true), [
    { type: "scatter", mode: "markers", name: "each trial", x: rows.map(x), y: rows.map((r) => scoredValue(model, r)), text: rows.map(label),
      hovertemplate: "%{text}: %{y}<extra></extra>", marker: { color: "#8c959f", size: 5 } },
    { type: "scatter", mode: "lines", name: "best so far", x: rows.map(x), y: running(rows), line: { shape: "hv", color: COLORS.finished, width: 2.5 } },
  ], { margin: { t: 50 }, xaxis: axis(id === "chart-best-time" ? "ended at" : "trial number"), yaxis: axis(`${name} (${goal})`), legend: LEGEND }, CONFIG);
  if (!scored.length) return note(panel, `No trial has a ${name} value yet.`);
  if (panel.querySelector(".note")) fill(panel);
  draw("chart-best-number", byNumber, (r) => r.number);
  draw("chart-best-time", byTime, (r) => new Date(r.ended_at * 1000));
}

/** Categorical values as indices with their text on the axis; numbers as they are. */
function dimension(label, values) {
  if (values.every((v) => typeof v === "number")) return { label: plotText(label), values };
  const names = [...new Set(values.map((v) => JSON.stringify(v)))].sort();
  return {
    label: plotText(label), values: values.map((v) => names.indexOf(JSON.stringify(v))),
    // Parallel coordinates draw tick labels as plain text (no entities), unlike every other label.
    tickvals: names.map((_, i) => i), ticktext: names.map((n) => (typeof JSON.parse(n) === "string" ? JSON.parse(n) : n)),
  };
}

function varying(model, rows) {
  const names = new Set();
  for (const r of rows) for (const k of Object.keys(r.config)) names.add(k);
  return [...names].filter((n) => new Set(rows.map((r) => JSON.stringify(r.config[n]))).size > 1);
}

/** Parallel coordinates: each scored trial a line through its parameters to its metric (WebGL). */
export function drawParallel(panel, model) {
  if (!hasWebGL()) return note(panel, "Parallel coordinates need WebGL, which this browser does not offer.");
  const { name, goal } = objective(model);
  const rows = model.list.filter((r) => scoredValue(model, r) !== null);
  const params = varying(model, rows);
  if (rows.length < 2 || !params.length) return note(panel, "Parallel coordinates need two scored trials whose parameters differ.");
  if (panel.querySelector(".note")) fill(panel);
  const metric = rows.map((r) => scoredValue(model, r));
  const dimensions = params.map((p) => dimension(p, rows.map((r) => (p in r.config ? r.config[p] : null))));
  dimensions.push({ label: plotText(`${name} (${goal})`), values: metric });
  Plotly.react(chart(panel, "chart-parallel"), [{
    type: "parcoords", dimensions,
    line: { color: metric, colorscale: "Viridis", reversescale: goal === "minimize", showscale: true },
  }], { margin: { t: 50, l: 60, r: 60 } }, CONFIG);
}

/** The metric against each parameter that varied, one small chart each. */
export function drawParameters(panel, model) {
  const { name, goal } = objective(model);
  const rows = model.list.filter((r) => scoredValue(model, r) !== null);
  const params = varying(model, rows);
  if (!rows.length || !params.length) return note(panel, "No scored trials with differing parameters yet.");
  let grid = panel.querySelector(".grid");
  if (!grid || grid.dataset.params !== JSON.stringify(params)) {
    grid = el("div", { class: "grid", "data-params": JSON.stringify(params) });
    fill(panel, grid);
  }
  params.forEach((param, i) => {
    const values = rows.map((r) => r.config[param]);
    const numeric = values.every((v) => typeof v === "number");
    Plotly.react(chart(grid, `chart-param-${i}`, true), [{
      type: "scatter", mode: "markers", x: numeric ? values : values.map((v) => plotText(typeof v === "string" ? v : JSON.stringify(v))),
      y: rows.map((r) => scoredValue(model, r)), text: rows.map((r) => plotText(`trial ${r.number} (${r.run_id})`)),
      hovertemplate: "%{text}<br>%{x}: %{y}<extra></extra>", marker: { color: rows.map((r) => COLORS[r.state]), size: 7 },
    }], { margin: { t: 20 }, xaxis: axis(param, numeric ? {} : { type: "category" }), yaxis: axis(`${name} (${goal})`) }, CONFIG);
  });
}

/** Optuna's parameter importance (fANOVA) over the scored trials, asked of the server when the count changed. */
export function drawImportance(panel, model) {
  const scored = model.list.filter((r) => scoredValue(model, r) !== null).length;
  const now = performance.now();
  if (panel.dataset.scored === String(scored) || now - Number(panel.dataset.asked || -1e9) < 5000) return;
  panel.dataset.asked = String(now);
  fetch(`/api/sweeps/${encodeURIComponent(model.name)}/importance`)
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error(`HTTP ${response.status}`))))
    .then((result) => {
      panel.dataset.scored = String(scored);
      const entries = Object.entries(result.importances).reverse();
      if (!entries.length) return note(panel, `Parameter importance ${result.note} (${result.trials} scored so far).`);
      if (panel.querySelector(".note")) fill(panel);
      Plotly.react(chart(panel, "chart-importance"), [{
        type: "bar", orientation: "h", x: entries.map(([, v]) => v), y: entries.map(([k]) => plotText(k)),
        hovertemplate: "%{y}: %{x:.3f}<extra></extra>", marker: { color: "#0969da" },
      }], { margin: { t: 30 }, title: { text: `importance for ${plotText(objective(model).name)} (Optuna fANOVA, ${result.trials} trials)` },
        xaxis: axis("share of the variance explained", { range: [0, 1] }), yaxis: { automargin: true } }, CONFIG);
    })
    .catch((error) => note(panel, `Parameter importance could not be computed: ${error.message}`));
}

/** The Pareto front of a `metrics:` sweep on two of its objectives, the front's trials joined. */
export function drawPareto(panel, model) {
  const objectives = model.about.objectives;
  let selects = panel.querySelectorAll("select");
  if (selects.length !== 2) {
    const pick = (label, chosen) => {
      const s = el("select", { "aria-label": label }, objectives.map((o, i) => el("option", { value: i, selected: i === chosen }, o.name)));
      s.addEventListener("change", () => drawPareto(panel, model));
      return s;
    };
    fill(panel, el("div", { class: "controls" }, "x ", pick("x objective", 0), " y ", pick("y objective", 1)));
    selects = panel.querySelectorAll("select");
  }
  const [i, j] = [...selects].map((s) => Number(s.value));
  const rows = model.list.filter((r) => scoredValue(model, r, i) !== null && scoredValue(model, r, j) !== null);
  const onFront = (r) => model.front && model.front.has(r.run_id);
  const front = rows.filter(onFront).sort((a, b) => a.values[i] - b.values[i]);
  const others = rows.filter((r) => !onFront(r));
  const point = (list, name, style) => ({
    type: "scatter", mode: style.mode, name, x: list.map((r) => r.values[i]), y: list.map((r) => r.values[j]),
    text: list.map((r) => plotText(`trial ${r.number} (${r.run_id})`)), hovertemplate: "%{text}<br>%{x}, %{y}<extra></extra>", ...style,
  });
  Plotly.react(chart(panel, "chart-pareto"), [
    point(others, "dominated", { mode: "markers", marker: { color: "#8c959f", size: 6 } }),
    point(front, `Pareto front (${front.length})`, { mode: "lines+markers", marker: { color: COLORS.crashed, size: 9 }, line: { shape: "hv" } }),
  ], {
    margin: { t: 50 }, legend: LEGEND,
    xaxis: axis(`${objectives[i].name} (${objectives[i].goal})`), yaxis: axis(`${objectives[j].name} (${objectives[j].goal})`),
  }, CONFIG);
}
