// What a chart of one /sql column over another shows, without any DOM: column kinds from DuckDB
// types, the default X and Y, the points (skipped and capped rows counted) and the axis ticks.

export const MAX_POINTS = 2000; // more bars or line points than this are not drawn, and the note says so
export const ROW_ORDER = -1; // the X choice "row order": the row's position in the result

const NUMERIC_TYPE = /^(U?(TINY|SMALL|BIG|HUGE)?INT(EGER)?|FLOAT|DOUBLE|REAL|DECIMAL\(.*\)|INTERVAL)$/;
const TIME_TYPE = /^(DATE|TIMESTAMP.*)$/; // sent as RFC 3339 text (UTC); TIME has no date, so it is text
const SECOND = 1000, MINUTE = 60 * SECOND, HOUR = 60 * MINUTE, DAY = 24 * HOUR;
const TIME_STEPS = [SECOND, 5 * SECOND, 15 * SECOND, 30 * SECOND, MINUTE, 5 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR, DAY, 2 * DAY, 7 * DAY, 14 * DAY];
const MONTH_STEPS = [1, 2, 3, 6, 12, 24, 60, 120, 240, 600, 1200]; // past two weeks, ticks fall on month starts

export function columnKind(type) {
  if (NUMERIC_TYPE.test(type)) return "number";
  return TIME_TYPE.test(type) ? "time" : "text";
}

// X: the first time or text column (else the first column, or row order when it is the only
// numeric one); Y: the first numeric column other than X, or -1 when there is none.
export function defaultColumns(types) {
  const kinds = types.map(columnKind);
  const numeric = kinds.flatMap((kind, i) => (kind === "number" ? [i] : []));
  let x = kinds.findIndex((kind) => kind !== "number");
  if (x < 0) x = numeric.length > 1 ? 0 : ROW_ORDER;
  const y = numeric.find((i) => i !== x) ?? -1;
  return { x, y };
}

function xKindOf(types, x) {
  return x === ROW_ORDER ? "number" : columnKind(types[x]);
}

// Points of column y over column x: {pos, label, y}. A bar chart places rows in their order (X
// is categorical); a line chart orders numbers and times on a continuous axis and text by row.
// xUnit says how X labels read ("UTC", or "UTC, 2026-12-01" when all times fall on that day).
export function chartSeries(result, { x, y, chart }) {
  const xKind = xKindOf(result.types, x);
  const continuous = chart === "line" && xKind !== "text";
  const points = [];
  let noY = 0, noX = 0;
  result.rows.forEach((row, index) => {
    const value = row[y];
    if (typeof value !== "number" || !Number.isFinite(value)) { noY++; return; }
    const raw = x === ROW_ORDER ? index + 1 : row[x];
    const at = position(raw, xKind);
    if (continuous && at === null) { noX++; return; }
    points.push({ raw, at, y: value });
  });
  const valid = points.length;
  const drawn = points.slice(0, MAX_POINTS);
  const format = xKind === "time" ? timeFormat(drawn.map((point) => point.at)) : null;
  if (continuous) drawn.sort((a, b) => a.at - b.at);
  drawn.forEach((point, i) => {
    point.pos = continuous ? point.at : i;
    point.label = format && point.at !== null ? format.label(point.at) : labelOf(point.raw, xKind);
  });
  return { points: drawn, xKind, xUnit: format?.unit || "", timeFormat: format, continuous, noY, noX, valid,
    rows: result.rows.length };
}

function position(raw, xKind) {
  const at = xKind === "time" ? Date.parse(raw) : raw;
  return typeof at === "number" && Number.isFinite(at) ? at : null;
}

function labelOf(raw, xKind) {
  if (raw === null || raw === undefined) return "(null)";
  if (xKind === "number" && typeof raw === "number") return numberLabel(raw);
  return typeof raw === "object" ? JSON.stringify(raw) : String(raw);
}

// Round steps of 1, 2, 2.5 or 5 × 10^n covering [min, max] in about `count` steps.
export function niceTicks(min, max, count = 5) {
  if (min === max) [min, max] = [min - (Math.abs(min) / 10 || 1), max + (Math.abs(max) / 10 || 1)];
  const rough = (max - min) / count;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= rough);
  const first = Math.floor(min / step), last = Math.ceil(max / step);
  const ticks = [];
  for (let i = first; i <= last && ticks.length <= 4 * count; i++) ticks.push(Number((i * step).toPrecision(12)));
  return { min: ticks[0], max: ticks[ticks.length - 1], ticks, step };
}

// Ticks at whole seconds, minutes, hours, days, months or years (UTC) inside [min, max], which
// stays as given.
export function timeTicks(min, max, format, count = 6) {
  if (min === max) [min, max] = [min - HOUR, max + HOUR];
  const step = TIME_STEPS.find((s) => (max - min) / s <= count);
  if (!step) return monthTicks(min, max, count);
  const ticks = [];
  for (let t = Math.ceil(min / step) * step; t <= max && ticks.length <= 2 * count; t += step) ticks.push(t);
  return { min, max, ticks, label: (t) => format.label(t, step) };
}

function monthTicks(min, max, count) {
  const monthOf = (ms) => new Date(ms).getUTCFullYear() * 12 + new Date(ms).getUTCMonth();
  const span = monthOf(max) - monthOf(min);
  const step = MONTH_STEPS.find((s) => span / s <= count) ?? MONTH_STEPS[MONTH_STEPS.length - 1];
  const ticks = [];
  for (let m = Math.ceil(monthOf(min) / step) * step; m <= monthOf(max) && ticks.length <= 2 * count; m += step) {
    const t = Date.UTC(Math.floor(m / 12), m % 12);
    if (t >= min && t <= max) ticks.push(t);
  }
  return { min, max, ticks, label: (t) => new Date(t).toISOString().slice(0, step >= 12 ? 4 : 7) };
}

// Times read in UTC, as the /sql answer sends them, as fine as the tick step (or, without one, the
// value) needs; when all fall on one day the labels drop the date and the unit names it.
export function timeFormat(times) {
  const valid = times.filter((ms) => ms !== null);
  const day = (ms) => new Date(ms).toISOString().slice(0, 10);
  const oneDay = valid.length > 0 && day(Math.min(...valid)) === day(Math.max(...valid));
  const label = (ms, step = 0) => {
    const iso = new Date(ms).toISOString();
    const grain = step || (ms % DAY === 0 ? DAY : ms % MINUTE === 0 ? MINUTE : SECOND);
    if (grain >= DAY) return iso.slice(0, 10);
    const time = iso.slice(11, grain >= MINUTE ? 16 : 19);
    return oneDay ? time : `${iso.slice(0, 10)} ${time}`;
  };
  return { label, unit: oneDay && !valid.every((ms) => ms % DAY === 0) ? `UTC, ${day(valid[0])}` : "UTC" };
}

const COMPACT = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 2 });
const PLAIN = new Intl.NumberFormat(undefined, { maximumFractionDigits: 6 });

export function numberLabel(value) {
  return Math.abs(value) >= 1e6 ? COMPACT.format(value) : PLAIN.format(value);
}
