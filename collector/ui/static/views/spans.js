// View 7: one agent's spans across its runs, e.g. the slowest LLM calls of yesterday, through
// GET /agents/{agent_id}/spans: filters and order in the URL, "Load more" through the cursor.

import { agentPath, get, listAgents, query } from "../api.js";
import { badge, fmtInt, fmtMs, fmtTime, h, oneLine, replace } from "../dom.js";
import { reportError } from "../live.js";
import { agentPicker } from "./runs.js";

const KINDS = ["", "LLM", "TOOL", "AGENT", "CHAIN", "RETRIEVER", "EMBEDDING", "RERANKER", "GUARDRAIL", "EVALUATOR", "PROMPT", "DECISION", "UNKNOWN"];
const FIELDS = ["span_kind", "status", "since", "until", "order"];

export async function render(main, { agentId, params }) {
  const filters = Object.fromEntries(FIELDS.map((k) => [k, params.get(k) || ""]));
  filters.order ||= "latency";
  const [agents, first] = await Promise.all([listAgents(), fetchPage(agentId, filters, null)]);
  const state = { rows: first.spans, cursor: first.next_cursor };
  const tbody = h("tbody");
  const more = h("button", { type: "button", class: "secondary", onclick: () => loadMore() }, "Load more");

  function draw() {
    replace(tbody, state.rows.length ? state.rows.map((s) => row(agentId, s)) : h("tr", {}, h("td", { colspan: 8 }, "No spans match.")));
    more.hidden = !state.cursor;
  }

  async function loadMore() {
    const page = await fetchPage(agentId, filters, state.cursor).catch(reportError);
    if (!page) return;
    state.rows.push(...page.spans);
    state.cursor = page.next_cursor;
    draw();
  }

  replace(main,
    h("div", { class: "view-head" }, h("h1", {}, "Spans across runs"),
      h("a", { href: `#/agents/${encodeURIComponent(agentId)}/runs` }, "Runs"), agentPicker(agents, agentId, "spans")),
    filterForm(agentId, filters),
    h("div", { class: "table-wrap" }, h("table", { class: "spans", "aria-label": `Spans of ${agentId}` },
      h("thead", {}, h("tr", {}, ["Start", "Kind", "Name", "Model", "Tokens", "Latency", "Status", "Input"]
        .map((t) => h("th", { scope: "col" }, t)))), tbody)),
    more);
  draw();
}

function fetchPage(agentId, filters, cursor) {
  const since = filters.since ? new Date(filters.since).toISOString() : "";
  const until = filters.until ? new Date(filters.until).toISOString() : "";
  return get(`${agentPath(agentId)}/spans${query({ ...filters, since, until, limit: 100, cursor })}`);
}

function row(agentId, s) {
  const href = `#/agents/${encodeURIComponent(agentId)}/runs/${encodeURIComponent(s.run_id)}?span=${encodeURIComponent(s.span_id)}`;
  return h("tr", { class: s.status === "ERROR" ? "failed" : "" },
    h("td", {}, h("a", { href, title: `run ${s.run_id}` }, fmtTime(s.start_time))),
    h("td", {}, h("span", { class: `kind kind-${String(s.span_kind).toLowerCase()}` }, s.span_kind)),
    h("td", {}, s.node_name), h("td", {}, s.model || ""), h("td", { class: "num" }, fmtInt(s.token_count)),
    h("td", { class: "num" }, fmtMs(s.latency_ms)), h("td", {}, badge(s.status)),
    h("td", { class: "text", title: oneLine(s.input_text, 500) }, oneLine(s.input_text, 80)));
}

function filterForm(agentId, filters) {
  const field = (name, label, control) => h("div", { class: "field" }, h("label", { for: `s-${name}` }, label), control);
  const select = (name, values, labels = {}) => h("select", { id: `s-${name}`, name },
    values.map((v) => h("option", { value: v, selected: v === filters[name] }, labels[v] || v || "any")));
  const input = (name) => h("input", { id: `s-${name}`, name, type: "datetime-local", value: filters[name] });
  const form = h("form", {
    class: "filters", role: "search", onsubmit: (event) => {
      event.preventDefault();
      const next = new URLSearchParams([...new FormData(form)].filter(([, v]) => v));
      location.hash = `#/agents/${encodeURIComponent(agentId)}/spans?${next}`;
    },
  },
  field("span_kind", "Kind", select("span_kind", KINDS)),
  field("status", "Status", select("status", ["", "OK", "ERROR", "UNSET"])),
  field("since", "Started from", input("since")),
  field("until", "Started before", input("until")),
  field("order", "Order", select("order", ["latency", "start"], { latency: "slowest first", start: "newest first" })),
  h("button", { type: "submit" }, "Apply"));
  return form;
}
