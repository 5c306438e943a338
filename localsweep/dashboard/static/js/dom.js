// DOM and text helpers. Every name and value from a sweep (a YAML, a config, a log) reaches the page as text:
// elements are built here with textContent, never from HTML strings.

/** An element: `el("td", {class: "num", title: t}, "text", child, ...)`; strings become text nodes. */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === null || value === undefined || value === false) continue;
    if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** Replace the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
  return node;
}

/** Plotly reads `<b>`, `<br>` and entities in its labels: escape data so that it is drawn as written. */
export function plotText(value) {
  return String(value).replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** A number as people read it (4 significant digits), "–" for none. */
export function num(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value !== "number") return String(value);
  if (Number.isInteger(value)) return String(value);
  return Math.abs(value) >= 1e5 || (Math.abs(value) < 1e-3 && value !== 0) ? value.toExponential(3) : value.toPrecision(4).replace(/\.?0+$/, "");
}

/** Seconds as "1h02m", "3m05s" or "12s". */
export function duration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

/** A Unix time as a local date and time. */
export function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "–";
}

/** A plain value (config or summary entry) as text. */
export function text(value) {
  if (value === null || value === undefined) return "–";
  if (typeof value === "number") return num(value);
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/** Whether WebGL is there (Plotly's parallel coordinates draw with it). */
export function hasWebGL() {
  try {
    const canvas = document.createElement("canvas");
    return Boolean(canvas.getContext("webgl") || canvas.getContext("experimental-webgl"));
  } catch {
    return false;
  }
}

/** A key–value list (`<dl>`) of an object's entries. */
export function keyValues(object) {
  const list = el("dl", { class: "kv" });
  for (const [key, value] of Object.entries(object || {})) list.append(el("dt", {}, key), el("dd", {}, text(value)));
  return list;
}
