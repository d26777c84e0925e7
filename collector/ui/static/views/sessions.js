// View 8: an agent's sessions (conversations), most recently active first, through
// GET /agents/{agent_id}/sessions; and one session's runs in order as the conversation it was,
// through GET /agents/{agent_id}/sessions/{session_id}/runs. "Load more" through the cursors.

import { agentPath, get, listAgents, query } from "../api.js";
import { badge, fmtInt, fmtMs, fmtScore, fmtTime, fmtUsd, h, message, oneLine, replace } from "../dom.js";
import { reportError } from "../live.js";
import { agentPicker } from "./runs.js";

const PAGE = 100;
const sessionsHash = (agentId) => `#/agents/${encodeURIComponent(agentId)}/sessions`;

export async function render(main, { agentId }) {
  const [agents, first] = await Promise.all([listAgents(), get(`${agentPath(agentId)}/sessions${query({ limit: PAGE })}`)]);
  const state = { rows: first.sessions, cursor: first.next_cursor };
  const tbody = h("tbody");
  const more = h("button", { type: "button", class: "secondary", onclick: () => loadMore() }, "Load more");

  function draw() {
    replace(tbody, state.rows.length ? state.rows.map((s) => sessionRow(agentId, s))
      : h("tr", {}, h("td", { colspan: 9 }, "No sessions: runs get one from POST …/runs (session_id) or from their spans (session.id, gen_ai.conversation.id).")));
    more.hidden = !state.cursor;
  }

  async function loadMore() {
    const page = await get(`${agentPath(agentId)}/sessions${query({ limit: PAGE, cursor: state.cursor })}`).catch(reportError);
    if (!page) return;
    state.rows.push(...page.sessions);
    state.cursor = page.next_cursor;
    draw();
  }

  replace(main,
    h("div", { class: "view-head" }, h("h1", {}, "Sessions"),
      h("a", { href: `#/agents/${encodeURIComponent(agentId)}/runs` }, "Runs"), agentPicker(agents, agentId, "sessions")),
    h("div", { class: "table-wrap" }, h("table", { class: "sessions", "aria-label": `Sessions of ${agentId}` },
      h("thead", {}, h("tr", {}, ["Last activity", "Session", "User", "Runs", "Failed", "Tokens", "Cost", "p50", "First input"]
        .map((t) => h("th", { scope: "col" }, t)))), tbody)),
    more);
  draw();
}

function sessionRow(agentId, s) {
  const href = `${sessionsHash(agentId)}/${encodeURIComponent(s.session_id)}`;
  return h("tr", { class: s.failed_runs ? "failed" : "" },
    h("td", {}, fmtTime(s.last_time)), h("td", {}, h("a", { href }, s.session_id)), h("td", {}, s.user_id || ""),
    h("td", { class: "num" }, fmtInt(s.run_count)), h("td", { class: "num" }, fmtInt(s.failed_runs)),
    h("td", { class: "num" }, fmtInt(s.total_tokens)), h("td", { class: "num cost" }, fmtUsd(s.total_cost_usd)),
    h("td", { class: "num" }, fmtMs(s.p50_latency_ms)),
    h("td", { class: "text", title: oneLine(s.first_input, 500) }, oneLine(s.first_input, 80)));
}

export async function renderSession(main, { agentId, sessionId }) {
  const path = `${agentPath(agentId)}/sessions/${encodeURIComponent(sessionId)}/runs`;
  const first = await get(`${path}${query({ limit: PAGE })}`);
  const state = { runs: first.runs, cursor: first.next_cursor };
  const list = h("ol", { class: "turns", "aria-label": `Runs of session ${sessionId}` });
  const more = h("button", { type: "button", class: "secondary", onclick: () => loadMore() }, "Load more");

  function draw() {
    replace(list, state.runs.map((run) => turn(agentId, run)));
    more.hidden = !state.cursor;
  }

  async function loadMore() {
    const page = await get(`${path}${query({ limit: PAGE, cursor: state.cursor })}`).catch(reportError);
    if (!page) return;
    state.runs.push(...page.runs);
    state.cursor = page.next_cursor;
    draw();
  }

  const cost = state.runs.some((r) => r.total_cost_usd !== null)
    ? state.runs.reduce((sum, r) => sum + (r.total_cost_usd || 0), 0) : null;
  replace(main,
    h("div", { class: "view-head" }, h("h1", {}, "Session ", h("code", {}, sessionId)),
      h("a", { href: sessionsHash(agentId) }, `Sessions of ${agentId}`)),
    h("dl", { class: "facts grid" }, [["Runs", fmtInt(state.runs.length) + (state.cursor ? "+" : "")],
      ["User", state.runs.find((r) => r.user_id)?.user_id], ["Cost", fmtUsd(cost)],
      ["Started", fmtTime(state.runs[0]?.created_at)]]
      .map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", { "data-fact": k }, v || "—")))),
    state.runs.length ? list : message("This session has no runs."), more);
  draw();
}

// One run as a turn of the conversation: what the user asked, what the agent answered.
function turn(agentId, run) {
  const href = `#/agents/${encodeURIComponent(agentId)}/runs/${encodeURIComponent(run.id)}`;
  return h("li", { class: `turn${run.status === "failed" ? " failed" : ""}` },
    h("div", { class: "turn-head" }, h("a", { href, title: run.id }, fmtTime(run.created_at)), badge(run.status),
      h("span", { class: "muted" }, turnFacts(run))),
    h("div", { class: "msg role-user" }, h("div", { class: "role" }, "user"), h("div", { class: "text" }, run.user_input || "—")),
    h("div", { class: "msg role-assistant" }, h("div", { class: "role" }, run.error ? "error" : "agent"),
      h("div", { class: "text" }, run.output || run.error || "—")));
}

function turnFacts(run) {
  const plural = (n, noun) => `${fmtInt(n)} ${noun}${n === 1 ? "" : "s"}`;
  return [plural(run.span_count, "span"), plural(run.total_tokens, "token"),
    run.total_cost_usd === null ? "" : fmtUsd(run.total_cost_usd),
    run.overall_score === null ? "" : `score ${fmtScore(run.overall_score)}`].filter(Boolean).join(" · ");
}
