// View 4: a read-only query box over POST /sql, the tables and views to start from, results
// as a table, a bar or line chart (sql_chart.js) and a CSV download of them.

import { post } from "../api.js";
import { h, message, replace } from "../dom.js";
import { chartPanel } from "./sql_chart.js";

const VIEWS = [
  ["runs", "runs, one row each"], ["spans", "spans, one row each"], ["evaluations", "scores per evaluator"],
  ["jobs", "hosted agents' jobs"], ["span_details", "spans with timestamps and is_error"],
  ["run_summary", "per run: spans, tokens, errors, models"], ["model_usage_daily", "per agent, day and model"],
  ["node_latency", "p50/p95/p99 and error rate per node"], ["evaluation_scores", "latest scores per run"],
];
const EXAMPLE = "SELECT agent_id, node_name, span_kind, calls, p50_ms, p95_ms, error_rate\nFROM node_latency\nORDER BY p95_ms DESC\nLIMIT 50";

export function render(main) {
  const box = h("textarea", { id: "sql", rows: 8, spellcheck: false, value: sessionStorage.getItem("kate.sql") || EXAMPLE,
    onkeydown: (event) => { if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) run(); } });
  const out = h("div", { class: "sql-out", "aria-live": "polite" });
  let last = null;
  const download = h("button", { type: "button", class: "secondary", disabled: true, onclick: () => downloadCsv(last) }, "Download CSV");

  async function run() {
    sessionStorage.setItem("kate.sql", box.value);
    replace(out, message("Running…"));
    try {
      last = await post("/sql", { sql: box.value });
      download.disabled = false;
      replace(out, resultNote(last), chartPanel(last), resultTable(last));
    } catch (error) {
      last = null;
      download.disabled = true;
      replace(out, message(`${error.status || ""} ${error.code || ""}: ${error.message}`, "error"));
    }
  }

  replace(main,
    h("h1", {}, "SQL"),
    h("div", { class: "sql-layout" },
      h("div", {},
        h("label", { for: "sql" }, "One read-only SELECT (Ctrl+Enter runs it)"), box,
        h("div", { class: "actions" }, h("button", { type: "button", onclick: run }, "Run query"), download),
        out),
      h("aside", { class: "views", "aria-label": "Tables and views" }, h("h2", {}, "Tables and views"),
        h("ul", {}, VIEWS.map(([name, what]) => h("li", {},
          h("button", { type: "button", class: "link", onclick: () => { box.value = `SELECT * FROM ${name} LIMIT 100`; box.focus(); } }, name),
          h("span", { class: "hint" }, ` ${what}`)))))));
}

function resultNote(result) {
  const note = `${result.row_count} row${result.row_count === 1 ? "" : "s"}${result.truncated ? " (truncated at the row cap)" : ""}`;
  return h("p", { class: "hint" }, note);
}

function resultTable(result) {
  return h("div", { class: "table-wrap" }, h("table", { class: "sql-result" },
    h("thead", {}, h("tr", {}, result.columns.map((c, i) => h("th", { scope: "col", title: result.types[i] }, c)))),
    h("tbody", {}, result.rows.map((row) => h("tr", {}, row.map((v) => h("td", {}, cell(v))))))));
}

function cell(value) {
  if (value === null || value === undefined) return "";
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

export function toCsv(result) {
  const quote = (v) => {
    const text = cell(v);
    return /[",\n\r]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
  };
  return [result.columns, ...result.rows].map((row) => row.map(quote).join(",")).join("\r\n") + "\r\n";
}

function downloadCsv(result) {
  if (!result) return;
  const url = URL.createObjectURL(new Blob([toCsv(result)], { type: "text/csv" }));
  const link = h("a", { href: url, download: "kate-query.csv" });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
