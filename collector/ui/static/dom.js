// Small DOM helpers and formatters shared by the views. Hand-written on purpose: no build step,
// no vendored framework to keep up to date; every view renders with h() and replaces its nodes.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "class") el.className = value;
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key in el && typeof value !== "string") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

// Redraw a region that refreshes itself without taking keyboard focus away: the focused link
// or button is found again by its href or label and focused.
export function replaceKeepingFocus(el, ...children) {
  const active = el.contains(document.activeElement) ? document.activeElement : null;
  const href = active?.getAttribute("href");
  const label = active?.textContent;
  replace(el, ...children);
  if (!active) return el;
  const again = [...el.querySelectorAll(active.tagName)].find((node) =>
    (href ? node.getAttribute("href") === href : node.textContent === label));
  again?.focus();
  return el;
}

export function oneLine(text, max = 120) {
  if (!text) return "";
  const flat = String(text).replace(/\s+/g, " ").trim();
  return flat.length > max ? flat.slice(0, max - 1) + "…" : flat;
}

export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "";
  if (ms < 1) return `${ms.toFixed(2)} ms`;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(2)} s`;
  return `${Math.floor(ms / 60000)} m ${Math.round((ms % 60000) / 1000)} s`;
}

export function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: "short", timeStyle: "medium" });
}

export function fmtInt(n) {
  return n === null || n === undefined ? "" : Number(n).toLocaleString();
}

export function fmtUsd(usd) {
  // null is "no price known" (docs/mapping.md#cost), never $0
  if (usd === null || usd === undefined) return "";
  const n = Number(usd);
  if (n === 0) return "$0";
  if (n < 0.01) return `$${n.toPrecision(2)}`;
  return `$${n.toFixed(n < 100 ? 2 : 0)}`;
}

export function fmtScore(score) {
  return score === null || score === undefined ? "" : Number(score).toFixed(2);
}

export function durationMs(run) {
  const start = Date.parse(run.started_at || run.created_at);
  const end = run.completed_at ? Date.parse(run.completed_at) : null;
  return start && end ? end - start : null;
}

export function badge(value, kind = "status") {
  return h("span", { class: `badge ${kind}-${String(value || "none").toLowerCase()}` }, value || "—");
}

export function copyButton(text, label) {
  return h("button", {
    type: "button", class: "copy", title: `Copy ${label}`, "aria-label": `Copy ${label}`,
    onclick: async (event) => {
      await navigator.clipboard?.writeText(text).catch(() => {});
      event.currentTarget.textContent = "copied";
    },
  }, "copy");
}

export function message(text, kind = "info") {
  return h("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}
