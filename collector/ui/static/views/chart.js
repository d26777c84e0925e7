// One series (chart_series.js) as inline SVG bars or a line: a title, axes with a few tick labels,
// the values with tooltips, and an aria-label summing it up. Colours are app.css classes only (the
// CSP allows no inline style), so the chart follows the light and dark themes.

import { niceTicks, numberLabel, timeTicks } from "./chart_series.js";

const NS = "http://www.w3.org/2000/svg";
const WIDTH = 960, HEIGHT = 380;
const PLOT = { left: 76, right: 48, top: 40, bottom: 56 };
const LABEL_CHARS = 16, CHAR_PX = 7; // X labels are cut to 16 characters, thinned out so they never overlap
const INSET = 12; // a line's first and last points keep off the plot's edges
const DOTTED_POINTS = 200; // a line of at most this many points also gets a dot (with a tooltip) per point

export function drawChart(series, { chart, xName, yName }) {
  const title = `${yName} by ${xName}`;
  const y = yScale(series.points, chart === "bar");
  const x = series.continuous ? continuousScale(series) : bandScale(series.points);
  return svg("svg", { class: "chart-svg", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img",
    "aria-label": summary(series, chart, xName, yName) },
  svg("title", {}, title),
  svg("text", { class: "chart-title", x: WIDTH / 2, y: 22, "text-anchor": "middle" }, title),
  yAxis(y, yName), xAxis(x, series.xUnit ? `${xName} (${series.xUnit})` : xName),
  chart === "bar" ? bars(series.points, x, y) : line(series.points, x, y));
}

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [key, value] of Object.entries(attrs)) el.setAttribute(key, value);
  el.append(...children.flat(Infinity).filter((child) => child !== null && child !== undefined));
  return el;
}

// A scale maps a value to pixels and lists its ticks as [value, label] pairs.
function linear(min, max, from, to) {
  return (value) => from + ((value - min) / (max - min)) * (to - from);
}

function yScale(points, fromZero) {
  const values = points.map((point) => point.y);
  let min = Math.min(...values), max = Math.max(...values);
  if (fromZero) [min, max] = [Math.min(0, min), Math.max(0, max)]; // bars grow from 0
  const nice = niceTicks(min, max, 5);
  return { at: linear(nice.min, nice.max, HEIGHT - PLOT.bottom, PLOT.top), ticks: nice.ticks.map((t) => [t, numberLabel(t)]) };
}

function continuousScale(series) {
  const positions = series.points.map((point) => point.pos);
  const [low, high] = [positions[0], positions[positions.length - 1]]; // points are sorted
  const nice = series.xKind === "time" ? timeTicks(low, high, series.timeFormat) : niceTicks(low, high, 6);
  const label = nice.label || numberLabel;
  const at = linear(nice.min, nice.max, PLOT.left + INSET, WIDTH - PLOT.right - INSET);
  return { at, ticks: nice.ticks.map((t) => [t, label(t)]) };
}

// One band per point in row order; every k-th point is labelled, k chosen so labels fit.
function bandScale(points) {
  const width = WIDTH - PLOT.left - PLOT.right;
  const band = width / points.length;
  const longest = Math.min(LABEL_CHARS, Math.max(...points.map((point) => point.label.length)));
  const every = Math.ceil(points.length / Math.max(1, Math.floor(width / (longest * CHAR_PX + 16))));
  const ticks = points.filter((_, i) => i % every === 0).map((point) => [point.pos, shorten(point.label)]);
  return { at: (pos) => PLOT.left + band * (pos + 0.5), band, ticks };
}

function shorten(text) {
  return text.length > LABEL_CHARS ? text.slice(0, LABEL_CHARS - 1) + "…" : text;
}

function yAxis(y, name) {
  const middle = (PLOT.top + HEIGHT - PLOT.bottom) / 2;
  return svg("g", { class: "y-axis" },
    y.ticks.map(([value, label]) => [
      svg("line", { class: "grid", x1: PLOT.left, x2: WIDTH - PLOT.right, y1: y.at(value), y2: y.at(value) }),
      svg("text", { class: "tick-label", x: PLOT.left - 8, y: y.at(value) + 4, "text-anchor": "end" }, label)]),
    svg("text", { class: "axis-title", transform: `translate(16 ${middle}) rotate(-90)`, "text-anchor": "middle" }, name));
}

function xAxis(x, name) {
  const base = HEIGHT - PLOT.bottom;
  return svg("g", { class: "x-axis" },
    svg("line", { class: "axis-line", x1: PLOT.left, x2: WIDTH - PLOT.right, y1: base, y2: base }),
    x.ticks.map(([value, label]) => [
      svg("line", { class: "axis-line", x1: x.at(value), x2: x.at(value), y1: base, y2: base + 5 }),
      svg("text", { class: "tick-label", x: x.at(value), y: base + 19, "text-anchor": "middle" }, label)]),
    svg("text", { class: "axis-title", x: (PLOT.left + WIDTH - PLOT.right) / 2, y: HEIGHT - 10, "text-anchor": "middle" }, name));
}

function bars(points, x, y) {
  const width = x.band > 4 ? x.band * 0.8 : x.band;
  const zero = y.at(0);
  return svg("g", { class: "bars" }, points.map((point) => {
    const top = Math.min(zero, y.at(point.y));
    return svg("rect", { class: "chart-bar", x: (x.at(point.pos) - width / 2).toFixed(2), y: top.toFixed(2),
      width: width.toFixed(2), height: Math.abs(zero - y.at(point.y)).toFixed(2) }, svg("title", {}, tooltip(point)));
  }));
}

function line(points, x, y) {
  const path = points.map((point, i) => `${i ? "L" : "M"}${x.at(point.pos).toFixed(1)},${y.at(point.y).toFixed(1)}`).join(" ");
  const dots = points.length > DOTTED_POINTS ? [] : points.map((point) =>
    svg("circle", { class: "chart-dot", cx: x.at(point.pos).toFixed(1), cy: y.at(point.y).toFixed(1), r: 3 },
      svg("title", {}, tooltip(point))));
  return svg("g", { class: "line" }, svg("path", { class: "chart-line", d: path }), dots);
}

function tooltip(point) {
  return `${point.label}: ${numberLabel(point.y)}`;
}

function summary(series, chart, xName, yName) {
  const { points } = series;
  const values = points.map((point) => point.y);
  const count = `${points.length} ${chart === "bar" ? "bar" : "point"}${points.length === 1 ? "" : "s"}`;
  const unit = series.xUnit ? ` (${series.xUnit})` : "";
  return `${chart === "bar" ? "Bar" : "Line"} chart of ${yName} by ${xName}, ${count}: ` +
    `${xName} from ${points[0].label} to ${points[points.length - 1].label}${unit}, ` +
    `${yName} from ${numberLabel(Math.min(...values))} to ${numberLabel(Math.max(...values))}.`;
}
