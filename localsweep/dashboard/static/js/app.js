// The page: which view the address names (#/, #/sweep/NAME, #/sweep/NAME/trial/RUN_ID), the live link to the
// server (server-sent events: a snapshot first, then only what changed), and redrawing when something did.
import { el, fill } from "./dom.js";
import { renderSweeps } from "./sweeps.js";
import { SweepModel, renderSweep } from "./sweep.js";
import { renderTrial } from "./trial.js";

const main = document.getElementById("main");
const crumbs = document.getElementById("crumbs");
const link = document.getElementById("link");

let source = null; // the EventSource now open
let sourceUrl = null;
let sweeps = null; // the list of sweeps (#/)
let model = null; // the sweep shown (#/sweep/...)
let view = null; // what the address names
let drawn = null; // the view object that the main element holds now
let pending = false;
let lastDraw = 0;
const MIN_REDRAW_MS = 250; // many deltas in a burst: one redraw

function route() {
  const parts = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  if (parts[0] === "sweep" && parts[1]) return { kind: parts[2] === "trial" && parts[3] ? "trial" : "sweep", sweep: parts[1], trial: parts[3] };
  return { kind: "sweeps" };
}

function connect(url, onEvent) {
  if (source && sourceUrl === url) return;
  if (source) source.close();
  sourceUrl = url;
  source = new EventSource(url);
  setLink("connecting…", "");
  source.onopen = () => setLink("live", "live");
  source.onerror = () => setLink("reconnecting…", "down");
  source.onmessage = (message) => {
    setLink("live", "live");
    onEvent(JSON.parse(message.data));
  };
}

function setLink(words, kind) {
  link.textContent = words;
  link.className = `link ${kind}`;
}

function onRoute() {
  view = route();
  drawn = null;
  if (view.kind === "sweeps") {
    model = null;
    connect("/api/events", (event) => {
      sweeps = event.sweeps;
      if (event.only && view.kind === "sweeps" && sweeps.length === 1) location.replace(`#/sweep/${encodeURIComponent(event.only)}`);
      schedule();
    });
  } else {
    if (!model || model.name !== view.sweep) model = new SweepModel(view.sweep);
    connect(`/api/sweeps/${encodeURIComponent(view.sweep)}/events`, (event) => {
      model.apply(event);
      schedule();
    });
  }
  schedule();
}

/** Redraw soon: at most every MIN_REDRAW_MS, on an animation frame. */
function schedule() {
  if (pending) return;
  pending = true;
  const wait = Math.max(0, MIN_REDRAW_MS - (performance.now() - lastDraw));
  setTimeout(() => requestAnimationFrame(draw), wait);
}

function draw() {
  pending = false;
  lastDraw = performance.now();
  if (view.kind === "sweeps") {
    fill(crumbs);
    if (sweeps) renderSweeps(main, sweeps, drawn !== "sweeps");
    drawn = "sweeps";
    return;
  }
  const sweepLink = el("a", { href: `#/sweep/${encodeURIComponent(view.sweep)}` }, view.sweep);
  fill(crumbs, "/ ", sweepLink, view.kind === "trial" ? [" / trial ", view.trial] : null);
  if (!model.loaded) {
    if (drawn !== "waiting") fill(main, el("p", { class: "muted" }, "reading the sweep…"));
    drawn = "waiting";
    return;
  }
  const key = `${view.kind}:${view.sweep}:${view.trial || ""}`;
  if (view.kind === "sweep") renderSweep(main, model, drawn !== key);
  else renderTrial(main, model, view.trial, drawn !== key);
  if (drawn !== key) performance.mark(`shown ${key}`); // when the page showed it (bench/bench_dashboard.py)
  drawn = key;
}

window.addEventListener("hashchange", onRoute);
onRoute();
