// View 1: the runs of an agent, with an agent picker, filters (kept in the URL), sortable
// columns over the loaded pages, "Load more" through the API's cursor, and live refresh.

import { agentPath, get, listAgents, query } from "../api.js";
import { badge, durationMs, fmtInt, fmtMs, fmtScore, fmtTime, fmtUsd, h, oneLine, replace, replaceKeepingFocus } from "../dom.js";
import { every, reportError } from "../live.js";

const STATUSES = ["", "queued", "running", "completed", "failed"];
const TRIGGERS = ["", "manual", "automatic", "test"];
const COLUMNS = [
  ["created", "Created", (r) => r.created_at],
  ["status", "Status", (r) => r.status],
  ["trigger", "Trigger", (r) => r.trigger],
  ["duration", "Duration", (r) => durationMs(r)],
  ["spans", "Spans", (r) => r.span_count],
  ["tokens", "Tokens", (r) => r.total_tokens],
  ["cost", "Cost", (r) => r.total_cost_usd],
  ["score", "Score", (r) => r.overall_score],
  ["input", "Input", (r) => r.user_input || ""],
  ["output", "Output", (r) => r.output || r.error || ""],
];
const REFRESH_MS = 3000;

export async function render(main, { agentId, params }) {
  const filters = Object.fromEntries(["status", "trigger", "since", "until", "q"].map((k) => [k, params.get(k) || ""]));
  const sort = { key: params.get("sort") || "created", dir: params.get("dir") || "desc" };
  const [agents, first] = await Promise.all([listAgents(), fetchPage(agentId, filters, null)]);
  const state = { rows: first.runs, cursor: first.next_cursor };
  const tbody = h("tbody");
  const more = h("button", { type: "button", class: "secondary", onclick: () => loadMore() }, "Load more");
  const table = h("table", { class: "runs", "aria-label": `Runs of ${agentId}` },
    h("thead", {}, h("tr", {}, COLUMNS.map(([key, label]) => header(key, label)))), tbody);

  function header(key, label) {
    const active = sort.key === key;
    return h("th", { scope: "col", "aria-sort": active ? (sort.dir === "asc" ? "ascending" : "descending") : "none" },
      h("button", { type: "button", class: "sort", onclick: () => resort(key) }, label, active ? (sort.dir === "asc" ? " ▲" : " ▼") : ""));
  }

  function resort(key) {
    const dir = sort.key === key && sort.dir === "desc" ? "asc" : "desc";
    const next = new URLSearchParams(params);
    next.set("sort", key);
    next.set("dir", dir);
    location.hash = `#/agents/${encodeURIComponent(agentId)}/runs?${next}`;
  }

  function draw() {
    const getter = COLUMNS.find(([key]) => key === sort.key)?.[2] || COLUMNS[0][2];
    const sign = sort.dir === "asc" ? 1 : -1;
    const sorted = [...state.rows].sort((a, b) => sign * compare(getter(a), getter(b)));
    replaceKeepingFocus(tbody, sorted.length ? sorted.map((r) => row(agentId, r)) : h("tr", {}, h("td", { colspan: COLUMNS.length }, "No runs match.")));
    more.hidden = !state.cursor;
  }

  async function loadMore() {
    const page = await fetchPage(agentId, filters, state.cursor).catch(reportError);
    if (!page) return;
    state.rows.push(...page.runs);
    state.cursor = page.next_cursor;
    draw();
  }

  replace(main,
    h("div", { class: "view-head" }, h("h1", {}, "Runs"),
      h("a", { href: `#/agents/${encodeURIComponent(agentId)}/spans?order=latency` }, "Spans across runs (slowest first)"),
      h("a", { href: `#/agents/${encodeURIComponent(agentId)}/sessions` }, "Sessions"),
      agentPicker(agents, agentId)),
    filterForm(agentId, filters, params),
    h("div", { class: "table-wrap" }, table), more,
    h("p", { class: "hint" }, "Columns sort the runs loaded so far; filters and search run on the server."));
  draw();
  return every(REFRESH_MS, async () => {
    const page = await fetchPage(agentId, filters, null);
    const before = JSON.stringify(state.rows);
    const byId = new Map(state.rows.map((r) => [r.id, r]));
    const fresh = page.runs.filter((r) => !byId.has(r.id));
    for (const r of page.runs) if (byId.has(r.id)) Object.assign(byId.get(r.id), r);
    state.rows = [...fresh, ...state.rows];
    if (JSON.stringify(state.rows) !== before) draw();
  });
}

function compare(a, b) {
  if (a === b) return 0;
  if (a === null || a === undefined || a === "") return -1;
  if (b === null || b === undefined || b === "") return 1;
  return a < b ? -1 : 1;
}

function fetchPage(agentId, filters, cursor) {
  const since = filters.since ? new Date(filters.since).toISOString() : "";
  const until = filters.until ? new Date(filters.until).toISOString() : "";
  return get(`${agentPath(agentId)}/runs${query({ ...filters, since, until, limit: 100, cursor })}`);
}

function row(agentId, r) {
  const href = `#/agents/${encodeURIComponent(agentId)}/runs/${encodeURIComponent(r.id)}`;
  return h("tr", { class: r.status === "failed" ? "failed" : "" },
    h("td", {}, h("a", { href, title: r.id }, fmtTime(r.created_at))),
    h("td", {}, badge(r.status)), h("td", {}, r.trigger),
    h("td", { class: "num" }, fmtMs(durationMs(r))), h("td", { class: "num" }, fmtInt(r.span_count)),
    h("td", { class: "num" }, fmtInt(r.total_tokens)), h("td", { class: "num cost" }, fmtUsd(r.total_cost_usd)),
    h("td", { class: "num" }, fmtScore(r.overall_score)),
    h("td", { class: "text", title: oneLine(r.user_input, 500) }, oneLine(r.user_input, 80)),
    h("td", { class: "text", title: oneLine(r.output || r.error, 500) }, oneLine(r.output || r.error, 80)));
}

export function agentPicker(agents, current, view = "runs") {
  const ids = agents.map((a) => a.agent_id);
  if (!ids.includes(current)) ids.unshift(current);
  const select = h("select", {
    id: "agent", onchange: () => { location.hash = `#/agents/${encodeURIComponent(select.value)}/${view}`; },
  }, ids.map((id) => {
    const info = agents.find((a) => a.agent_id === id);
    const label = info ? `${id} (${info.run_count} run${info.run_count === 1 ? "" : "s"}${info.hosted ? ", hosted" : ""})` : id;
    return h("option", { value: id, selected: id === current }, label);
  }));
  return h("div", { class: "field inline" }, h("label", { for: "agent" }, "Agent"), select);
}

function filterForm(agentId, filters, params) {
  const field = (name, label, control) => h("div", { class: "field" }, h("label", { for: `f-${name}` }, label), control);
  const select = (name, values) => h("select", { id: `f-${name}`, name },
    values.map((v) => h("option", { value: v, selected: v === filters[name] }, v || "any")));
  const input = (name, type, extra = {}) => h("input", { id: `f-${name}`, name, type, value: filters[name], ...extra });
  const form = h("form", {
    class: "filters", role: "search", onsubmit: (event) => {
      event.preventDefault();
      const next = new URLSearchParams(params);
      for (const [key, value] of new FormData(form)) {
        if (value) next.set(key, value);
        else next.delete(key);
      }
      location.hash = `#/agents/${encodeURIComponent(agentId)}/runs?${next}`;
    },
  },
  field("status", "Status", select("status", STATUSES)),
  field("trigger", "Trigger", select("trigger", TRIGGERS)),
  field("since", "Created from", input("since", "datetime-local")),
  field("until", "Created before", input("until", "datetime-local")),
  field("q", "Search input/output", input("q", "search", { placeholder: "text in input or output" })),
  h("button", { type: "submit" }, "Apply"));
  return form;
}
