// One sweep, live: what it is, where it stands, and its trials as a table and charts (one tab drawn at a time).
import { el, fill } from "./dom.js";
import { bestText, controllerText, countsNode, hostsNode, objectivesText, statusText } from "./status.js";
import { TrialTable } from "./table.js";
import { drawBest, drawCurves, drawImportance, drawParallel, drawParameters, drawPareto, loadPlotly } from "./charts.js";

/** The sweep as the server sent it: a snapshot, then deltas (changed rows, state, Pareto front). */
export class SweepModel {
  constructor(name) {
    this.name = name;
    this.loaded = false;
    this.rows = new Map();
    this.sorted = [];
    this.dirty = false;
    this.front = null;
    this.version = 0;
    this.touched = new Set(); // run ids changed since the trial page last looked
  }

  apply(event) {
    if (event.kind === "snapshot") {
      this.about = event.about;
      this.state = event.state;
      this.rows = new Map(event.rows.map((row) => [row.run_id, row]));
      this.sorted = event.rows;
      this.front = event.front ? new Set(event.front) : null;
      this.loaded = true;
      for (const row of event.rows) this.touched.add(row.run_id);
    } else if (event.kind === "delta") {
      for (const row of event.rows || []) {
        this.rows.set(row.run_id, row);
        this.touched.add(row.run_id);
        this.dirty = true;
      }
      if (event.state) this.state = event.state;
      if (event.front) this.front = new Set(event.front);
    }
    this.version += 1;
  }

  /** Every trial's row, by trial number. */
  get list() {
    if (this.dirty) {
      this.sorted = [...this.rows.values()].sort((a, b) => a.number - b.number);
      this.dirty = false;
    }
    return this.sorted;
  }

  get multi() {
    return this.about.objectives.length > 1;
  }
}

const TABS = [
  ["trials", "Trials"],
  ["curves", "Curves"],
  ["best", "Best so far"],
  ["parallel", "Parallel coordinates"],
  ["parameters", "Metric against each parameter"],
  ["importance", "Parameter importance"],
  ["pareto", "Pareto front"],
];

let ui = null; // the elements of the sweep page now shown

export function renderSweep(main, model, first) {
  if (first || !ui || ui.model !== model) build(main, model);
  const { about, state } = model;
  fill(ui.banner, statusText(state));
  ui.banner.className = `banner ${state.status}`;
  fill(
    ui.cards,
    card("trials", countsNode(state)),
    card("best so far", bestText(about, state)),
    card("controller", controllerText(state)),
    card("agents and hosts", hostsNode(state)),
  );
  drawTab(model);
}

function build(main, model) {
  const { about } = model;
  const table = new TrialTable(model);
  const tabs = TABS.filter(([key]) => key !== "pareto" || model.multi);
  ui = { model, table, tab: ui && ui.model.name === model.name ? ui.tab : "trials", drawn: {}, panels: {} };
  ui.banner = el("div", { class: "banner", id: "status" });
  ui.cards = el("div", { class: "cards" });
  const buttons = tabs.map(([key, label]) =>
    el("button", { "data-tab": key, onclick: () => { ui.tab = key; drawTab(model); } }, label),
  );
  ui.buttons = buttons;
  for (const [key] of tabs) ui.panels[key] = el("div", { class: "panel", id: `panel-${key}`, hidden: true });
  const subtitle = [
    `${about.method || "?"} search, ${objectivesText(about)}`,
    about.early_terminate ? `, early termination: ${about.early_terminate}` : "",
    ` — from ${about.source}, stored in ${about.store}`,
  ].join("");
  fill(
    main,
    el("h1", {}, about.name),
    el("div", { class: "muted" }, subtitle),
    ui.banner,
    ui.cards,
    el("div", { class: "tabs" }, buttons),
    Object.values(ui.panels),
  );
}

function card(label, value) {
  return el("div", { class: "card" }, el("div", { class: "label" }, label), el("div", { class: "value" }, value));
}

const DRAW = {
  trials: (panel, model) => ui.table.render(panel),
  curves: drawCurves,
  best: drawBest,
  parallel: drawParallel,
  parameters: drawParameters,
  importance: drawImportance,
  pareto: drawPareto,
};

function drawTab(model) {
  for (const button of ui.buttons) button.classList.toggle("active", button.dataset.tab === ui.tab);
  for (const [key, panel] of Object.entries(ui.panels)) panel.hidden = key !== ui.tab;
  const panel = ui.panels[ui.tab];
  if (ui.drawn[ui.tab] === model.version) return;
  ui.drawn[ui.tab] = model.version;
  if (ui.tab === "trials") {
    DRAW.trials(panel, model);
  } else {
    const tab = ui.tab;
    loadPlotly().then(() => { if (ui.tab === tab) DRAW[tab](panel, model); });
  }
}
