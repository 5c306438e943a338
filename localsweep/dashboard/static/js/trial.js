// One trial: how and why it ended, its config, summary, history and the tail of its log, and the commands for
// its report. Fetched again when the sweep's live feed says it changed.
import { el, fill, keyValues, duration, when, plotText, text } from "./dom.js";
import { loadPlotly } from "./charts.js";

const SKIP = new Set(["_step", "_runtime", "_timestamp"]);
const REFETCH_MS = 1000;
let shown = { key: null, fetched: 0, busy: false };

export function renderTrial(main, model, runId, first) {
  const key = `${model.name}/${runId}`;
  if (first || shown.key !== key) {
    shown = { key, fetched: 0, busy: false };
    fill(main, el("p", { class: "muted" }, "reading the trial…"));
    model.touched.add(runId);
  }
  if (!model.touched.has(runId) || shown.busy) return;
  const wait = REFETCH_MS - (performance.now() - shown.fetched);
  if (wait > 0) {
    setTimeout(() => renderTrial(main, model, runId, false), wait);
    return;
  }
  model.touched.delete(runId);
  shown.busy = true;
  shown.fetched = performance.now();
  fetch(`/api/sweeps/${encodeURIComponent(model.name)}/trials/${encodeURIComponent(runId)}`)
    .then((response) => (response.ok ? response.json() : Promise.reject(new Error(response.status === 404 ? "no such trial (yet)" : `HTTP ${response.status}`))))
    .then((detail) => { if (shown.key === key) draw(main, model, detail); })
    .catch((error) => { if (shown.key === key) fill(main, el("p", { class: "muted" }, `Trial ${runId}: ${error.message}`)); })
    .finally(() => { shown.busy = false; });
}

function draw(main, model, detail) {
  const { trial, log, commands } = detail;
  const scroll = window.scrollY;
  const ending = {
    state: trial.state + (trial.requeued ? " (interrupted: does not count; its point runs again)" : trial.retried ? " (retried)" : ""),
    "exit code": trial.exit_code,
    "stop requested (early termination)": trial.stop_requested ? "yes" : "no",
    metric: trial.metric_value === null ? null : `${text(trial.metric_value)}${trial.metric_imputed ? " (imputed: metric.impute)" : ""}`,
    started: when(trial.started_at),
    ended: when(trial.ended_at),
    duration: duration(trial.duration_s),
    host: trial.host,
    agent: trial.agent,
    pid: trial.pid,
    "run dir": trial.run_dir,
  };
  fill(
    main,
    el("h1", {}, `Trial ${trial.number} — `, trial.run_id, " ", el("span", { class: `state ${trial.state}` }, trial.state)),
    el("div", { class: "two" },
      el("section", {}, el("h2", {}, "How it ended"), keyValues(ending), trial.error ? [el("h2", {}, "Error"), el("pre", { id: "error" }, trial.error)] : null),
      el("section", {}, el("h2", {}, "Config"), keyValues(trial.config), el("h2", {}, "Summary"), keyValues(trial.summary)),
    ),
    el("h2", {}, "Commands"),
    el("pre", { id: "commands" }, commands.join("\n")),
    el("h2", {}, `History (${trial.history.length} steps)`),
    el("div", { class: "chart", id: "chart-history" }),
    historyTable(trial.history),
    el("h2", {}, "Log (its end)"),
    el("pre", { id: "log" }, log.text === null ? log.note : log.text || "(nothing written yet)"),
  );
  const chart = main.querySelector("#chart-history");
  loadPlotly().then(() => drawHistory(chart, trial.history));
  window.scrollTo(0, scroll);
}

function historyTable(history) {
  const last = history.slice(-20);
  const keys = [...new Set(last.flatMap((row) => Object.keys(row)))].filter((k) => k !== "_runtime" && k !== "_timestamp");
  if (!last.length) return el("p", { class: "muted" }, "Nothing logged yet.");
  return el("details", {}, el("summary", {}, `the last ${last.length} steps as a table`),
    el("table", {}, el("thead", {}, el("tr", {}, keys.map((k) => el("th", {}, k)))),
      el("tbody", {}, last.map((row) => el("tr", {}, keys.map((k) => el("td", {}, text(row[k]))))))));
}

function drawHistory(div, history) {
  const keys = [...new Set(history.flatMap((row) => Object.keys(row)))].filter((k) => !SKIP.has(k) && history.some((r) => typeof r[k] === "number"));
  if (!keys.length) {
    fill(div, el("p", { class: "muted" }, "No numbers logged yet."));
    return;
  }
  const traces = keys.map((key) => {
    const rows = history.filter((r) => typeof r[key] === "number");
    return { type: "scatter", mode: "lines+markers", name: plotText(key), x: rows.map((r, i) => ("_step" in r ? r._step : i)), y: rows.map((r) => r[key]) };
  });
  Plotly.react(div, traces, { margin: { t: 30 }, xaxis: { title: { text: "step" } }, legend: { orientation: "h" } }, { displaylogo: false, responsive: true });
}
