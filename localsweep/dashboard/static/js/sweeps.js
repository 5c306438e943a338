// The list of sweeps: one row each, live.
import { el, fill, when } from "./dom.js";
import { bestText, controllerText, countsNode, hostsNode, objectivesText, statusText } from "./status.js";

export function renderSweeps(main, sweeps) {
  if (!sweeps.length) {
    fill(main, el("h1", {}, "Sweeps"), el("p", { class: "muted" }, "No sweep here yet: start one with `python -m localsweep run SWEEP.yaml` (it shows up within seconds)."));
    return;
  }
  const head = ["sweep", "method", "objective", "state", "trials", "best so far", "controller", "agents and hosts", "created"];
  const rows = sweeps.map(({ about, state }) =>
    el(
      "tr",
      { "data-sweep": about.name, onclick: () => { location.hash = `#/sweep/${encodeURIComponent(about.name)}`; } },
      el("td", {}, el("a", { href: `#/sweep/${encodeURIComponent(about.name)}` }, about.name)),
      el("td", {}, about.method || "–"),
      el("td", {}, objectivesText(about)),
      el("td", { title: statusText(state) }, statusText(state)),
      el("td", {}, countsNode(state)),
      el("td", {}, bestText(about, state)),
      el("td", {}, controllerText(state)),
      el("td", {}, hostsNode(state)),
      el("td", {}, when(about.created_at)),
    ),
  );
  fill(main, el("h1", {}, "Sweeps"), el("table", { id: "sweeps" }, el("thead", {}, el("tr", {}, head.map((h) => el("th", {}, h)))), el("tbody", {}, rows)));
}
