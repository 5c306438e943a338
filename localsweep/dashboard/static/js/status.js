// A sweep's state in words: running / ended and why / idle, trials by state, best so far, controller and agents.
import { el, num, duration } from "./dom.js";

export const STATES = ["pending", "running", "finished", "stopped", "crashed"];

/** "maximize accuracy", or each objective of a `metrics:` sweep. */
export function objectivesText(about) {
  if (!about.objectives.length) return "no metric";
  return about.objectives.map((o) => `${o.goal} ${o.name}${o.target === null ? "" : ` (target ${num(o.target)})`}`).join(", ");
}

/** "running", "ended: <reason>" or "idle: no live controller or agent". */
export function statusText(state) {
  if (state.status === "ended") return `ended: ${state.ended.reason}`;
  if (state.status === "running") return "running";
  return "idle: no live controller or agent (`python -m localsweep resume` or an agent continues it)";
}

/** Trials by state as a list of colored counts. */
export function countsNode(state) {
  const parts = [];
  for (const name of STATES) {
    const count = state.counts[name] || 0;
    if (count) parts.push(el("span", { class: `state ${name}` }, `${count} ${name}`), " ");
  }
  if (state.requeued) parts.push(el("span", { class: "muted" }, `(+${state.requeued} interrupted or retried)`));
  return parts.length ? el("span", {}, parts) : el("span", { class: "muted" }, "no trial yet");
}

/** How long ago (server clock) a heartbeat was. */
export function ago(state, at) {
  return at ? `${duration(state.now - at)} ago` : "–";
}

/** "pid 12 on host-a, heartbeat 1s ago" (dead: and why). */
export function controllerText(state) {
  const c = state.controller;
  if (!c) return "none";
  const who = `pid ${c.pid} on ${c.host}, heartbeat ${ago(state, c.heartbeat_at)}`;
  return c.dead ? `dead (${who}: ${c.dead})` : `alive (${who})`;
}

/** Each host with its agents alive and their last heartbeat. */
export function hostsNode(state) {
  const hosts = new Map();
  for (const a of state.agents) {
    const h = hosts.get(a.host) || { alive: 0, gone: 0, last: 0 };
    if (a.alive) h.alive += 1;
    else h.gone += 1;
    h.last = Math.max(h.last, a.heartbeat_at);
    hosts.set(a.host, h);
  }
  if (!hosts.size) return el("span", { class: "muted" }, "no agent registered");
  const items = [...hosts].map(([host, h]) =>
    el("li", {}, el("b", {}, host), `: ${h.alive} agent(s) alive${h.gone ? `, ${h.gone} gone` : ""}, heartbeat ${ago(state, h.last)}`),
  );
  return el("ul", { class: "hosts" }, items);
}

/** The best trial so far as text. */
export function bestText(about, state) {
  if (!state.best) return "–";
  const metric = about.objectives.length ? about.objectives[0].name : "metric";
  return `${metric} = ${num(state.best.value)} (trial ${state.best.number}, ${state.best.run_id})`;
}
