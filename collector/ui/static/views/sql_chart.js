// The chart above a /sql result: the user picks bar or line, an X column and a numeric Y column
// (defaults from chart_series.js). The choice is kept for the tab (sessionStorage) and reused by
// the next result that has columns of the same names.

import { fmtInt, h, message, replace } from "../dom.js";
import { drawChart } from "./chart.js";
import { MAX_POINTS, ROW_ORDER, chartSeries, columnKind, defaultColumns } from "./chart_series.js";

const STORED = "kate.sql.chart";
const CHARTS = [["", "None"], ["bar", "Bar"], ["line", "Line"]];

export function chartPanel(result) {
  const choice = initialChoice(result);
  const figure = h("figure", { class: "chart" });
  const redraw = () => {
    sessionStorage.setItem(STORED, JSON.stringify(storedChoice(result, choice)));
    figure.hidden = !choice.chart;
    replace(figure, choice.chart ? chartContent(result, choice) : null);
  };
  const xOptions = [[ROW_ORDER, "(row order)"], ...result.columns.map((name, i) => [i, name])];
  const yOptions = result.columns.flatMap((name, i) => (columnKind(result.types[i]) === "number" ? [[i, name]] : []));
  const controls = h("div", { class: "chart-controls" },
    picker("chart-kind", "Chart", CHARTS, choice, "chart", redraw),
    picker("chart-x", "X axis", xOptions, choice, "x", redraw),
    picker("chart-y", "Y axis (numeric)", yOptions, choice, "y", redraw));
  redraw();
  return h("div", { class: "chart-panel" }, controls, figure);
}

function picker(id, label, options, choice, key, redraw) {
  const select = h("select", {
    id, onchange: (event) => {
      choice[key] = key === "chart" ? event.target.value : Number(event.target.value);
      redraw();
    },
  }, options.map(([value, text]) => h("option", { value: String(value), selected: value === choice[key] }, text)));
  return h("div", { class: "field" }, h("label", { for: id }, label), select);
}

function initialChoice(result) {
  const stored = JSON.parse(sessionStorage.getItem(STORED) || "{}");
  const defaults = defaultColumns(result.types);
  const storedX = stored.xRowOrder ? ROW_ORDER : result.columns.indexOf(stored.x);
  const storedY = result.columns.indexOf(stored.y);
  return {
    chart: CHARTS.some(([value]) => value === stored.chart) ? stored.chart : "",
    x: stored.xRowOrder || storedX >= 0 ? storedX : defaults.x,
    y: storedY >= 0 && columnKind(result.types[storedY]) === "number" ? storedY : defaults.y,
  };
}

function storedChoice(result, choice) {
  return { chart: choice.chart, x: result.columns[choice.x] ?? null, xRowOrder: choice.x === ROW_ORDER,
    y: result.columns[choice.y] ?? null };
}

function chartContent(result, choice) {
  if (!result.rows.length) return message("No rows to chart.");
  if (choice.y < 0) return message("Nothing to chart: the Y axis needs a numeric column (integer, decimal, double or interval).");
  const series = chartSeries(result, choice);
  const names = { xName: choice.x === ROW_ORDER ? "row" : result.columns[choice.x], yName: result.columns[choice.y] };
  const notes = chartNotes(series, choice.chart, names);
  if (!series.points.length) return message(`Nothing to chart. ${notes}`);
  return [drawChart(series, { chart: choice.chart, ...names }), h("figcaption", { class: "hint" }, notes)];
}

function chartNotes(series, chart, { xName, yName }) {
  const rows = (n) => `${fmtInt(n)} row${n === 1 ? "" : "s"}`;
  const drawn = series.points.length;
  const notes = [`${fmtInt(drawn)} ${chart === "bar" ? "bar" : "point"}${drawn === 1 ? "" : "s"} from ${rows(series.rows)}.`];
  if (series.noY) notes.push(`${rows(series.noY)} skipped: ${yName} is null or not a number.`);
  if (series.noX) notes.push(`${rows(series.noX)} skipped: ${xName} is null or not a ${series.xKind}.`);
  if (series.valid > MAX_POINTS) {
    notes.push(`Only the first ${fmtInt(MAX_POINTS)} of ${fmtInt(series.valid)} drawn (the chart's limit): aggregate in SQL to see all.`);
  }
  return notes.join(" ");
}
