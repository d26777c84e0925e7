// The span tree of a run with its timeline (tree and waterfall in one), rendered virtually: only
// the rows in view exist in the DOM, so a run of 10,000 spans scrolls and toggles at once.
// Keyboard: ↑/↓ move, → expands or enters, ← collapses or leaves, Home/End, Enter selects.

import { fmtInt, fmtMs, h, replace } from "../dom.js";

const ROW_PX = 30;
const OVERSCAN = 10;
const EXPAND_ALL_BELOW = 300; // larger runs open with their top two levels only

export function buildForest(spans) {
  const nodes = new Map(spans.map((span) => [span.span_id, { span, children: [] }]));
  const roots = [];
  for (const node of nodes.values()) {
    const parent = nodes.get(node.span.parent_span_id);
    if (parent && parent !== node) parent.children.push(node);
    else roots.push(node);
  }
  const reachable = new Set();
  const stack = [...roots];
  while (stack.length) {
    const node = stack.pop();
    if (reachable.has(node)) continue;
    reachable.add(node);
    stack.push(...node.children);
  }
  for (const node of nodes.values()) if (!reachable.has(node)) roots.push(node); // a parent cycle
  return { nodes, roots };
}

function timeAxis(spans) {
  let start = Infinity;
  let end = -Infinity;
  for (const s of spans) {
    if (s.start_time_unix_nano) start = Math.min(start, s.start_time_unix_nano);
    if (s.end_time_unix_nano) end = Math.max(end, s.end_time_unix_nano);
  }
  return Number.isFinite(start) && end > start ? { start, span: end - start } : { start: 0, span: 0 };
}

export class SpanTree {
  constructor({ onSelect }) {
    this.onSelect = onSelect;
    this.collapsed = new Set();
    this.selectedId = null;
    this.focusIndex = 0;
    this.rows = [];
    this.inner = h("div", { class: "tree-inner" });
    this.scroller = h("div", {
      class: "tree-scroll", role: "tree", tabindex: "0", "aria-label": "Spans",
      onscroll: () => this.schedule(), onkeydown: (event) => this.key(event),
    }, this.inner);
    this.axisLabel = h("span", { class: "axis" });
    this.element = h("div", { class: "tree" },
      h("div", { class: "tree-head", "aria-hidden": "true" },
        h("span", {}, "Span"), h("span", {}, "Model"), h("span", { class: "num" }, "Tokens"),
        h("span", { class: "num" }, "Latency"), this.axisLabel),
      this.scroller);
    new ResizeObserver(() => this.schedule()).observe(this.scroller);
  }

  // total: the run's span count, known from the first page; until the person toggles a node,
  // a large run keeps opening two levels deep as its later pages arrive.
  setSpans(spans, { first = false, total = spans.length } = {}) {
    this.forest = buildForest(spans);
    this.axis = timeAxis(spans);
    this.axisLabel.textContent = this.axis.span ? `Timeline (${fmtMs(this.axis.span / 1e6)})` : "Timeline";
    if (first) this.autoCollapse = total > EXPAND_ALL_BELOW;
    if (this.autoCollapse) this.collapseBelow(2);
    this.refresh();
  }

  collapseBelow(depth) {
    this.collapsed.clear();
    const stack = this.forest.roots.map((node) => [node, 1]);
    while (stack.length) {
      const [node, level] = stack.pop();
      if (!node.children.length) continue;
      if (level >= depth) this.collapsed.add(node.span.span_id);
      for (const child of node.children) stack.push([child, level + 1]);
    }
  }

  expandAll() { this.autoCollapse = false; this.collapsed.clear(); this.refresh(); }
  collapseAll() { this.autoCollapse = false; this.collapseBelow(1); this.refresh(); }

  refresh() {
    const rows = [];
    const stack = [...this.forest.roots].reverse().map((node) => [node, 1, null]);
    while (stack.length) {
      const [node, level, parentIndex] = stack.pop();
      rows.push({ node, level, parentIndex });
      if (this.collapsed.has(node.span.span_id)) continue;
      const index = rows.length - 1;
      for (let i = node.children.length - 1; i >= 0; i--) stack.push([node.children[i], level + 1, index]);
    }
    this.rows = rows;
    this.inner.style.height = `${rows.length * ROW_PX}px`;
    this.focusIndex = Math.min(this.focusIndex, Math.max(rows.length - 1, 0));
    this.draw();
  }

  schedule() {
    if (this.pending) return;
    this.pending = requestAnimationFrame(() => { this.pending = null; this.draw(); });
  }

  draw() {
    const top = this.scroller.scrollTop;
    const height = this.scroller.clientHeight || 600;
    const first = Math.max(0, Math.floor(top / ROW_PX) - OVERSCAN);
    const last = Math.min(this.rows.length, Math.ceil((top + height) / ROW_PX) + OVERSCAN);
    const shown = [];
    for (let i = first; i < last; i++) shown.push(this.row(i));
    replace(this.inner, shown);
    const focused = this.rows[this.focusIndex];
    if (focused) this.scroller.setAttribute("aria-activedescendant", rowId(focused.node.span));
  }

  row(index) {
    const { node, level } = this.rows[index];
    const s = node.span;
    const open = !this.collapsed.has(s.span_id);
    const classes = ["tree-row", s.status === "ERROR" ? "error" : "", s.span_id === this.selectedId ? "selected" : "",
      index === this.focusIndex ? "focused" : ""].join(" ");
    const toggle = node.children.length
      ? h("button", { type: "button", class: "toggle", tabindex: "-1", "aria-label": open ? "Collapse" : "Expand",
        onclick: (event) => { event.stopPropagation(); this.toggle(s.span_id); } }, open ? "▾" : "▸")
      : h("span", { class: "toggle-space" });
    return h("div", {
      id: rowId(s), class: classes, role: "treeitem", "aria-level": level, "aria-selected": String(s.span_id === this.selectedId),
      "aria-expanded": node.children.length ? String(open) : null, "data-span-id": s.span_id,
      style: { top: `${index * ROW_PX}px` }, onclick: () => { this.focusIndex = index; this.select(s.span_id); },
    },
    h("span", { class: "name", style: { paddingLeft: `${(level - 1) * 14}px` } }, toggle,
      h("span", { class: `kind kind-${String(s.span_kind).toLowerCase()}` }, s.span_kind),
      h("span", { class: "label", title: s.node_name }, s.node_name),
      s.status === "ERROR" ? h("span", { class: "err-mark", title: s.status_message || "error" }, "error") : null),
    h("span", { class: "model", title: s.model || "" }, s.model || ""),
    h("span", { class: "num" }, fmtInt(s.token_count)),
    h("span", { class: "num" }, fmtMs(s.latency_ms)),
    this.bar(s));
  }

  bar(s) {
    const { start, span } = this.axis;
    if (!span || !s.start_time_unix_nano) return h("span", { class: "timeline" });
    const left = ((s.start_time_unix_nano - start) / span) * 100;
    const width = Math.max((((s.end_time_unix_nano || s.start_time_unix_nano) - s.start_time_unix_nano) / span) * 100, 0.4);
    return h("span", { class: "timeline" },
      h("span", { class: `bar kind-${String(s.span_kind).toLowerCase()}`, style: { left: `${left}%`, width: `${Math.min(width, 100 - left)}%` } }));
  }

  toggle(spanId) {
    this.autoCollapse = false;
    if (this.collapsed.has(spanId)) this.collapsed.delete(spanId);
    else this.collapsed.add(spanId);
    this.refresh();
  }

  select(spanId, { reveal = false } = {}) {
    this.selectedId = spanId;
    if (reveal) this.reveal(spanId);
    this.draw();
    const node = this.forest?.nodes.get(spanId);
    if (node) this.onSelect(node.span);
  }

  reveal(spanId) {
    let node = this.forest.nodes.get(spanId);
    for (let guard = 0; node && guard < 10000; guard++) {
      const parent = this.forest.nodes.get(node.span.parent_span_id);
      if (parent) this.collapsed.delete(parent.span.span_id);
      node = parent;
    }
    this.refresh();
    const index = this.rows.findIndex((r) => r.node.span.span_id === spanId);
    if (index >= 0) {
      this.focusIndex = index;
      this.scroller.scrollTop = Math.max(0, index * ROW_PX - this.scroller.clientHeight / 2);
    }
  }

  key(event) {
    const row = this.rows[this.focusIndex];
    if (!row) return;
    const moves = {
      ArrowDown: () => this.focusIndex + 1,
      ArrowUp: () => this.focusIndex - 1,
      Home: () => 0,
      End: () => this.rows.length - 1,
      ArrowRight: () => this.right(row),
      ArrowLeft: () => this.left(row),
    };
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      this.select(row.node.span.span_id);
      return;
    }
    if (!moves[event.key]) return;
    event.preventDefault();
    const next = moves[event.key]();
    if (next === undefined) return;
    this.focusIndex = Math.max(0, Math.min(this.rows.length - 1, next));
    this.keepInView();
    this.select(this.rows[this.focusIndex].node.span.span_id);
  }

  right(row) {
    const id = row.node.span.span_id;
    if (!row.node.children.length) return undefined;
    if (this.collapsed.has(id)) { this.toggle(id); return undefined; }
    return this.focusIndex + 1;
  }

  left(row) {
    const id = row.node.span.span_id;
    if (row.node.children.length && !this.collapsed.has(id)) { this.toggle(id); return undefined; }
    return row.parentIndex ?? undefined;
  }

  keepInView() {
    const top = this.focusIndex * ROW_PX;
    if (top < this.scroller.scrollTop) this.scroller.scrollTop = top;
    else if (top + ROW_PX > this.scroller.scrollTop + this.scroller.clientHeight) {
      this.scroller.scrollTop = top + ROW_PX - this.scroller.clientHeight;
    }
  }
}

function rowId(span) {
  return `span-${span.span_id}`;
}
