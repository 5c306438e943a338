// The trial table: sort by any column, filter by text and state, choose the columns; one page of rows drawn.
import { el, fill, num, duration, when } from "./dom.js";
import { STATES } from "./status.js";

const PAGE = 100;

export class TrialTable {
  constructor(model) {
    this.model = model;
    this.sort = { key: "number", descending: false };
    this.query = "";
    this.state = "";
    this.page = 0;
    this.hidden = new Set(["agent", "started", "ended", "exit code", "error"]);
    this.panel = null;
  }

  /** The columns: [name, cell text or number for sorting, class]. */
  columns() {
    const { about, state } = this.model;
    const now = state.now;
    const columns = [
      ["#", (r) => r.number, "num"],
      ["run id", (r) => r.run_id],
      ["state", (r) => stateText(r)],
    ];
    if (this.model.multi) {
      about.objectives.forEach((o, i) => columns.push([o.name, (r) => r.values[i], "num"]));
      columns.push(["front", (r) => (this.model.front && this.model.front.has(r.run_id) ? "★" : "")]);
    } else {
      const name = about.objectives.length ? about.objectives[0].name : "metric";
      columns.push([name, (r) => r.metric, "num"]);
    }
    columns.push(
      ["epochs logged", (r) => r.epochs, "num"],
      ["duration", (r) => (r.ended_at ? r.ended_at - r.started_at : r.state === "running" ? now - r.started_at : null), "num dur"],
      ["host", (r) => r.host || ""],
    );
    for (const name of this.parameterNames()) columns.push([name, (r) => r.config[name], "param"]);
    columns.push(
      ["agent", (r) => r.agent || ""],
      ["started", (r) => r.started_at, "time"],
      ["ended", (r) => r.ended_at, "time"],
      ["exit code", (r) => r.exit_code, "num"],
      ["error", (r) => r.error || ""],
    );
    return columns.map(([name, get, kind = ""]) => ({ name, get, kind }));
  }

  /** Every parameter a trial has (nested ones by their dotted names), in the YAML's order. */
  parameterNames() {
    if (this.namesVersion !== this.model.version) {
      const seen = new Set();
      for (const row of this.model.rows.values()) for (const key of Object.keys(row.config)) seen.add(key);
      const order = this.model.about.parameters;
      const rank = (name) => { const i = order.indexOf(name.split(".")[0]); return i < 0 ? order.length : i; };
      this.names = [...seen].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
      this.namesVersion = this.model.version;
    }
    return this.names;
  }

  render(panel) {
    this.panel = panel;
    const columns = this.columns();
    const shown = columns.filter((c) => !this.hidden.has(c.name));
    let rows = this.model.list;
    if (this.state) rows = rows.filter((r) => r.state === this.state);
    if (this.query) {
      const query = this.query.toLowerCase();
      rows = rows.filter((r) => shown.some((c) => cell(c, c.get(r)).toLowerCase().includes(query)));
    }
    const column = columns.find((c) => c.name === this.sort.key) || columns[0];
    rows = [...rows].sort((a, b) => compare(column.get(a), column.get(b)) * (this.sort.descending ? -1 : 1) || a.number - b.number);
    const pages = Math.max(1, Math.ceil(rows.length / PAGE));
    this.page = Math.min(this.page, pages - 1);
    const visible = rows.slice(this.page * PAGE, (this.page + 1) * PAGE);
    const head = shown.map((c) =>
      el("th", {
        class: c.name === this.sort.key ? (this.sort.descending ? "sorted-desc" : "sorted-asc") : null,
        onclick: () => this.sortBy(c.name),
      }, c.name),
    );
    const body = visible.map((r) =>
      el(
        "tr",
        { "data-run-id": r.run_id, onclick: () => { location.hash = `#/sweep/${encodeURIComponent(this.model.name)}/trial/${encodeURIComponent(r.run_id)}`; } },
        shown.map((c) => {
          const text = cell(c, c.get(r));
          return el("td", { class: c.name === "state" ? `state ${r.state}` : c.kind.includes("num") ? "num" : null, title: text }, text);
        }),
      ),
    );
    fill(
      panel,
      this.controls(columns, rows.length, pages),
      el("table", { id: "trials" }, el("thead", {}, el("tr", {}, head)), el("tbody", {}, body)),
    );
  }

  controls(columns, count, pages) {
    const search = el("input", { type: "search", placeholder: "filter: any text in the shown columns", value: this.query });
    search.addEventListener("input", () => { this.query = search.value; this.page = 0; this.rerender(true); });
    const states = el("select", { "aria-label": "state" }, el("option", { value: "" }, "every state"), STATES.map((s) => el("option", { value: s, selected: s === this.state }, s)));
    states.addEventListener("change", () => { this.state = states.value; this.page = 0; this.rerender(); });
    const choices = columns.map((c) => {
      const box = el("input", { type: "checkbox", checked: !this.hidden.has(c.name) });
      box.addEventListener("change", () => { if (box.checked) this.hidden.delete(c.name); else this.hidden.add(c.name); this.rerender(); });
      return el("label", {}, box, " ", c.name);
    });
    const pager = pages > 1 ? [
      el("button", { onclick: () => { this.page = Math.max(0, this.page - 1); this.rerender(); }, disabled: this.page === 0 }, "‹"),
      ` page ${this.page + 1} of ${pages} `,
      el("button", { onclick: () => { this.page += 1; this.rerender(); }, disabled: this.page >= pages - 1 }, "›"),
    ] : [];
    this.columnsOpen = this.columnsOpen || false;
    const chooser = el("details", { class: "columns", open: this.columnsOpen }, el("summary", {}, "columns"), el("div", { class: "choices" }, choices));
    chooser.addEventListener("toggle", () => { this.columnsOpen = chooser.open; });
    return el("div", { class: "controls" }, search, states, chooser, el("span", { class: "muted", id: "trial-count" }, `${count} trial(s)`), pager);
  }

  rerender(keepFocus = false) {
    if (!this.panel) return;
    this.render(this.panel);
    if (keepFocus) {
      const search = this.panel.querySelector("input[type=search]");
      search.focus();
      search.setSelectionRange(search.value.length, search.value.length);
    }
  }

  sortBy(name) {
    this.sort = { key: name, descending: this.sort.key === name ? !this.sort.descending : false };
    this.rerender();
  }
}

function stateText(row) {
  let text = row.state;
  if (row.requeued) text += " (interrupted)";
  else if (row.retried) text += " (retried)";
  else if (row.stop_requested && row.state === "running") text += " (stopping)";
  if (row.imputed) text += ", metric imputed";
  return text;
}

function cell(column, value) {
  if (value === null || value === undefined) return "";
  if (column.kind.includes("dur")) return duration(value);
  if (column.kind === "time") return when(value);
  if (typeof value === "number") return num(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

function compare(a, b) {
  const missingA = a === null || a === undefined || a === "";
  const missingB = b === null || b === undefined || b === "";
  if (missingA || missingB) return missingA === missingB ? 0 : missingA ? 1 : -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), undefined, { numeric: true });
}
