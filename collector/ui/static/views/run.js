// View 2: one run: header (status, trigger, times, totals, scores with reasons, actions the API
// allows) above the span tree with its timeline, and the selected span's detail beside it.
// While the run is queued or running (or its evaluation pending) it refreshes itself.

import { get, listAllSpans, post, runPath } from "../api.js";
import { badge, copyButton, durationMs, fmtInt, fmtMs, fmtScore, fmtTime, fmtUsd, h, message, replace, replaceKeepingFocus } from "../dom.js";
import { every, reportError } from "../live.js";
import { folded, renderSpan } from "./span.js";
import { SpanTree } from "./tree.js";

const REFRESH_MS = 1500;

export async function render(main, { agentId, runId, spanId }) {
  const path = runPath(agentId, runId);
  let firstPage = null;
  let onLaterPage = null;  // set once the view is drawn: pages after the first update the tree
  const firstPageSeen = new Promise((resolve) => { firstPage = resolve; });
  const loading = listAllSpans(agentId, runId, (spans, total) => (onLaterPage ? onLaterPage(spans) : firstPage({ spans: [...spans], total })));
  const [run, loaded] = await Promise.all([get(path), Promise.race([loading, firstPageSeen])]);
  const state = { run, spans: loaded.spans, total: loaded.total, nextLoadAt: 0 };
  const pane = h("aside", { class: "span-pane", "aria-label": "Span detail" });
  const head = h("div", { class: "run-head" });
  const tree = new SpanTree({ onSelect: (span) => select(span) });

  function select(span) {
    renderSpan(pane, span, { onParent: (id) => tree.select(id, { reveal: true }) });
    const base = `#/agents/${encodeURIComponent(agentId)}/runs/${encodeURIComponent(runId)}`;
    history.replaceState(null, "", span ? `${base}?span=${encodeURIComponent(span.span_id)}` : base);
  }

  async function act(action, body) {
    try {
      state.run = await post(`${path}/${action}`, body);
      drawHead();
    } catch (error) {
      head.append(message(error.message, "error"));
    }
  }

  let shownRun = null;
  function drawHead() {
    const now = JSON.stringify(state.run);
    if (now === shownRun) return;  // polls that changed nothing leave the header (and focus) alone
    shownRun = now;
    replaceKeepingFocus(head, runHeader(agentId, state.run, state.spans.length, act));
  }

  replace(main,
    h("nav", { class: "crumbs", "aria-label": "Breadcrumb" },
      h("a", { href: `#/agents/${encodeURIComponent(agentId)}/runs` }, `Runs of ${agentId}`), " / ", h("span", {}, "Run")),
    head,
    h("div", { class: "tree-tools" },
      h("h2", {}, spanTitle(state)),
      h("button", { type: "button", class: "secondary small", onclick: () => tree.expandAll() }, "Expand all"),
      h("button", { type: "button", class: "secondary small", onclick: () => tree.collapseAll() }, "Collapse all")),
    h("div", { class: "split" }, tree.element, pane));
  drawHead();
  tree.setSpans(state.spans, { first: true, total: state.total });
  const openRequested = () => {
    if (spanId && tree.forest.nodes.has(spanId)) tree.select(spanId, { reveal: true });
    else renderSpan(pane, null, {});
  };
  if (state.spans.length < state.total) {  // the first page is drawn; the rest arrive in order
    onLaterPage = showSpans;
    loading.then(({ spans }) => { showSpans(spans); if (!tree.selectedId) openRequested(); }).catch(reportError);
  }
  openRequested();

  function showSpans(spans) {
    state.spans = [...spans];
    tree.setSpans(state.spans);
    main.querySelector(".tree-tools h2").textContent = spanTitle(state);
  }

  return every(REFRESH_MS, async () => {
    const live = ["queued", "running"].includes(state.run.status) || state.run.evaluation_status === "pending";
    if (!live) return;
    state.run = await get(path);
    if (state.run.span_count !== state.spans.length && Date.now() >= state.nextLoadAt) {
      const started = Date.now();
      const { spans, total } = await listAllSpans(agentId, runId);
      state.total = total;
      showSpans(spans);
      state.nextLoadAt = Date.now() + 4 * (Date.now() - started);  // big running runs reload less often
    }
    drawHead();
  });
}

function spanTitle(state) {
  const loaded = state.spans.length;
  return loaded < state.total ? `Spans (${fmtInt(loaded)} of ${fmtInt(state.total)}, loading…)` : `Spans (${fmtInt(loaded)})`;
}

function runHeader(agentId, run, loadedSpans, act) {
  const facts = [
    ["Status", badge(run.status)], ["Trigger", run.trigger], ["Source", run.source],
    ["Created", fmtTime(run.created_at)], ["Started", fmtTime(run.started_at)], ["Completed", fmtTime(run.completed_at)],
    ["Duration", fmtMs(durationMs(run))], ["Spans", fmtInt(run.span_count ?? loadedSpans)], ["Tokens", fmtInt(run.total_tokens)],
    ["Cost", fmtUsd(run.total_cost_usd)], ["Session", run.session_id ? h("a", {
      href: `#/agents/${encodeURIComponent(agentId)}/sessions/${encodeURIComponent(run.session_id)}` }, run.session_id) : null],
    ["User", run.user_id],
    ["Score", run.overall_score === null ? (run.evaluation_status || "not evaluated") : fmtScore(run.overall_score)],
  ];
  return [
    h("div", { class: "view-head" },
      h("h1", {}, "Run ", h("code", { class: "run-id" }, run.id), copyButton(run.id, "run id")),
      h("div", { class: "actions" }, actions(run, act))),
    h("dl", { class: "facts grid" }, facts.map(([k, v]) => h("div", {}, h("dt", {}, k), h("dd", { "data-fact": k }, v || "—")))),
    run.scores?.length ? scoresTable(run.scores) : null,
    run.user_input ? h("details", { class: "io" }, h("summary", {}, "User input"), folded(run.user_input)) : null,
    run.output ? h("details", { class: "io" }, h("summary", {}, "Output"), folded(run.output)) : null,
    run.error ? h("div", { class: "error-box", role: "note" }, h("strong", {}, "Error: "), run.error) : null,
  ];
}

function actions(run, act) {
  const button = (label, action, body) => h("button", { type: "button", class: "secondary", onclick: () => act(action, body).catch(reportError) }, label);
  return [
    run.status === "running" ? button("Complete", "complete", {}) : null,
    ["queued", "running"].includes(run.status) ? button("Fail", "fail", { error: "marked failed from the web UI" }) : null,
    ["completed", "failed"].includes(run.status) ? button("Evaluate", "evaluate", {}) : null,
  ];
}

function scoresTable(scores) {
  return h("table", { class: "scores", "aria-label": "Evaluator scores" },
    h("thead", {}, h("tr", {}, ["Evaluator", "Score", "Weight", "Reason"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, scores.map((s) => h("tr", {},
      h("td", {}, s.evaluator), h("td", { class: "num" }, s.score === null ? "failed" : fmtScore(s.score)),
      h("td", { class: "num" }, s.weight), h("td", {}, s.reason)))));
}
