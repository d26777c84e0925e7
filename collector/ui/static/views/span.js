// View 3: one span in detail: input and output made readable (chat messages by role, tool
// calls as name + arguments, long text folded), numbers, status, parent, and every attribute
// in a searchable key/value table.

import { badge, copyButton, fmtInt, fmtMs, fmtTime, fmtUsd, h, replace } from "../dom.js";

const FOLD_CHARS = 1500;
const ROLE_LINE = /^(system|user|assistant|tool|developer|model|function|human|ai):\s?/i;

export function renderSpan(pane, span, { onParent }) {
  if (!span) {
    replace(pane, h("p", { class: "hint" }, "Select a span to see its input, output and attributes."));
    return;
  }
  replace(pane,
    h("h2", { id: "span-title" }, h("span", { class: `kind kind-${String(span.span_kind).toLowerCase()}` }, span.span_kind), " ", span.node_name),
    facts(span, onParent),
    span.status === "ERROR" ? h("div", { class: "error-box", role: "note" }, h("strong", {}, "Error: "), span.status_message || "(no message)") : null,
    section("Input", span.input_text),
    section("Output", span.output_text),
    attributesTable(span.attributes || {}));
}

function facts(span, onParent) {
  const rows = [
    ["Status", badge(span.status || "UNSET")],
    ["Model", span.model],
    ["Tokens", tokens(span)],
    ["Cost", cost(span)],
    ["Session", span.session_id],
    ["Latency", fmtMs(span.latency_ms)],
    ["Start", fmtTime(span.start_time)],
    ["End", fmtTime(span.end_time)],
    ["Span id", idCell(span.span_id, "span id")],
    ["Trace id", idCell(span.trace_id, "trace id")],
    ["Parent", span.parent_span_id
      ? h("span", {}, h("button", { type: "button", class: "link", onclick: () => onParent(span.parent_span_id) }, span.parent_span_id),
        copyButton(span.parent_span_id, "parent span id"))
      : "none (root span)"],
    ["Truncated", span.truncated ? "yes: a text was cut at ingest.max_text_bytes" : null],
  ].filter(([, value]) => value !== null && value !== undefined && value !== "");
  return h("dl", { class: "facts" }, rows.map(([key, value]) => [h("dt", {}, key), h("dd", { "data-fact": key }, value)]));
}

function tokens(span) {
  if (span.token_count === null || span.token_count === undefined) return "";
  const parts = [["in", span.input_tokens], ["out", span.output_tokens]].filter(([, n]) => n !== null && n !== undefined);
  return parts.length ? `${fmtInt(span.token_count)} (${parts.map(([k, n]) => `${k} ${fmtInt(n)}`).join(", ")})` : fmtInt(span.token_count);
}

function cost(span) {
  if (span.cost_usd === null || span.cost_usd === undefined) {
    const counted = [span.input_tokens, span.output_tokens, span.token_count].some((n) => n !== null && n !== undefined);
    return span.model && counted ? "no price known" : "";
  }
  const parts = [["in", span.input_cost_usd], ["out", span.output_cost_usd]].filter(([, n]) => n !== null && n !== undefined);
  const split = parts.length ? ` (${parts.map(([k, n]) => `${k} ${fmtUsd(n)}`).join(", ")})` : "";
  return h("span", { title: `priced by ${span.cost_source}` }, `${fmtUsd(span.cost_usd)}${split}`);
}

function idCell(id, label) {
  return h("span", {}, h("code", {}, id), copyButton(id, label));
}

function section(title, text) {
  if (text === null || text === undefined || text === "") return null;
  const id = `sec-${title.toLowerCase()}`;
  return h("section", { class: "io", "aria-labelledby": id }, h("h3", { id }, title), readable(text));
}

export function readable(text) {
  const parsed = parseJson(text);
  const messages = asMessages(parsed);
  if (messages) return h("div", { class: "messages" }, messages.map(messageBlock));
  if (parsed !== undefined && typeof parsed === "object" && parsed !== null) return folded(JSON.stringify(parsed, null, 2), "json");
  const lines = roleLines(text);
  if (lines) return h("div", { class: "messages" }, lines.map(messageBlock));
  return folded(text);
}

function parseJson(text) {
  const trimmed = String(text).trim();
  if (!/^[[{]/.test(trimmed)) return undefined;
  try { return JSON.parse(trimmed); } catch { return undefined; }
}

function asMessages(value) {
  const list = Array.isArray(value) ? value : Array.isArray(value?.messages) ? value.messages : null;
  if (!list || !list.length || !list.every((m) => m && typeof m === "object" && ("role" in m || "tool_calls" in m))) return null;
  return list.map((m) => ({ role: m.role || "message", content: contentText(m.content ?? m.text ?? m.parts), calls: toolCalls(m) }));
}

function contentText(content) {
  if (content === null || content === undefined) return "";
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => (typeof part === "string" ? part : part?.text ?? JSON.stringify(part))).join("\n");
  return JSON.stringify(content, null, 2);
}

function toolCalls(message) {
  const calls = message.tool_calls || message.function_call && [message.function_call] || [];
  return (Array.isArray(calls) ? calls : [calls]).map((call) => {
    const fn = call.function || call;
    let args = fn.arguments ?? fn.input ?? "";
    if (typeof args === "string") { try { args = JSON.stringify(JSON.parse(args), null, 2); } catch { /* shown as sent */ } }
    else args = JSON.stringify(args, null, 2);
    return { name: fn.name || "(unnamed tool)", args };
  });
}

function roleLines(text) {
  const lines = String(text).split("\n");
  if (!ROLE_LINE.test(lines[0])) return null;
  const messages = [];
  for (const line of lines) {
    const match = line.match(ROLE_LINE);
    if (match) messages.push({ role: match[1].toLowerCase(), content: line.slice(match[0].length), calls: [] });
    else messages[messages.length - 1].content += "\n" + line;
  }
  return messages.length > 1 || lines.length === 1 ? messages : null;
}

function messageBlock(m) {
  return h("div", { class: `msg role-${m.role}` },
    h("div", { class: "role" }, m.role),
    m.content ? folded(m.content) : null,
    m.calls.map((call) => h("div", { class: "tool-call" }, h("span", { class: "tool-name" }, `→ ${call.name}`), folded(call.args, "json"))));
}

export function folded(text, kind = "text") {
  const full = String(text);
  const pre = h("pre", { class: kind }, full.length > FOLD_CHARS ? full.slice(0, FOLD_CHARS) + "…" : full);
  if (full.length <= FOLD_CHARS) return pre;
  const button = h("button", {
    type: "button", class: "secondary small", "aria-expanded": "false", onclick: () => {
      const open = button.getAttribute("aria-expanded") === "true";
      pre.textContent = open ? full.slice(0, FOLD_CHARS) + "…" : full;
      button.setAttribute("aria-expanded", String(!open));
      button.textContent = open ? `Show all (${full.length.toLocaleString()} characters)` : "Show less";
    },
  }, `Show all (${full.length.toLocaleString()} characters)`);
  return h("div", { class: "folded" }, pre, button);
}

function attributesTable(attributes) {
  const entries = Object.entries(attributes).sort(([a], [b]) => a.localeCompare(b));
  if (!entries.length) return h("section", { class: "attrs" }, h("h3", {}, "Attributes"), h("p", { class: "hint" }, "No other attributes."));
  const tbody = h("tbody");
  const draw = (needle) => replace(tbody, entries
    .filter(([key, value]) => !needle || `${key} ${JSON.stringify(value)}`.toLowerCase().includes(needle))
    .map(([key, value]) => h("tr", {}, h("th", { scope: "row" }, h("code", {}, key)),
      h("td", {}, typeof value === "string" ? value : JSON.stringify(value)))));
  const search = h("input", { id: "attr-search", type: "search", placeholder: "filter keys and values",
    oninput: () => draw(search.value.trim().toLowerCase()) });
  draw("");
  return h("section", { class: "attrs" }, h("h3", {}, `Attributes (${entries.length})`),
    h("label", { for: "attr-search", class: "visually-hidden" }, "Filter attributes"), search,
    h("table", { class: "kv" }, tbody));
}
