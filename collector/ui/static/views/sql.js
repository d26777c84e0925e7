// View 4: a read-only query box over POST /sql, the tables and views to start from (GET
// /sql/tables: they depend on the storage engine, as does the SQL dialect), results as a
// table, a bar or line chart (sql_chart.js) and a CSV download of them.

import { get, post } from "../api.js";
import { h, message, replace } from "../dom.js";
import { chartPanel } from "./sql_chart.js";

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

  const label = h("label", { for: "sql" }, "One read-only SELECT (Ctrl+Enter runs it)");
  const tables = h("ul", {});
  replace(main,
    h("h1", {}, "SQL"),
    h("div", { class: "sql-layout" },
      h("div", {},
        label, box,
        h("div", { class: "actions" }, h("button", { type: "button", onclick: run }, "Run query"), download),
        out),
      h("aside", { class: "views", "aria-label": "Tables and views" }, h("h2", {}, "Tables and views"), tables)));
  listTables(box, label, tables);
}

async function listTables(box, label, list) {
  try {
    const { dialect, tables } = await get("/sql/tables");
    label.textContent = `One read-only SELECT in ${dialect} SQL (Ctrl+Enter runs it)`;
    replace(list, ...tables.map(({ name, description }) => h("li", {},
      h("button", { type: "button", class: "link", onclick: () => { box.value = `SELECT * FROM ${name} LIMIT 100`; box.focus(); } }, name),
      h("span", { class: "hint" }, ` ${description}`))));
  } catch (error) {  // the query box still works; a restricted key sees the refusal when it runs one
    replace(list, h("li", { class: "hint" }, `${error.status || ""} ${error.message}`));
  }
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
