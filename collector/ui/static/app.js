// The single-page shell: hash routes → views, the API-key prompt, and polling that stops when
// the view changes. Views are modules exporting render(main, route) → optional cleanup.

import { ApiError, apiKey, listAgents } from "./api.js";
import { h, message, replace } from "./dom.js";
import * as hosted from "./views/hosted.js";
import * as run from "./views/run.js";
import * as runs from "./views/runs.js";
import * as sessions from "./views/sessions.js";
import * as spans from "./views/spans.js";
import * as sql from "./views/sql.js";

const main = document.getElementById("main");
let cleanup = null;

const ROUTES = [
  [/^#\/agents\/([^/?]+)\/runs\/([^/?]+)$/, (m, q) => run.render(main, { agentId: m[1], runId: m[2], spanId: q.get("span") }), "runs"],
  [/^#\/agents\/([^/?]+)\/runs$/, (m, q) => runs.render(main, { agentId: m[1], params: q }), "runs"],
  [/^#\/agents\/([^/?]+)\/spans$/, (m, q) => spans.render(main, { agentId: m[1], params: q }), "runs"],
  [/^#\/agents\/([^/?]+)\/sessions\/([^/?]+)$/, (m) => sessions.renderSession(main, { agentId: m[1], sessionId: m[2] }), "runs"],
  [/^#\/agents\/([^/?]+)\/sessions$/, (m) => sessions.render(main, { agentId: m[1] }), "runs"],
  [/^#\/sql$/, () => sql.render(main), "sql"],
  [/^#\/hosted$/, () => hosted.render(main), "hosted"],
  [/^#?\/?$/, () => home(), "runs"],
];

export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  if (cleanup) cleanup();
  cleanup = null;
  const [path, search = ""] = location.hash.split("?");
  const params = new URLSearchParams(search);
  const found = ROUTES.find(([pattern]) => pattern.test(path)) || ROUTES[ROUTES.length - 1];
  const match = path.match(found[0]) || [];
  const decoded = match.map((part) => (part ? decodeURIComponent(part) : part));
  for (const link of document.querySelectorAll("[data-nav]")) {
    link.toggleAttribute("aria-current", link.dataset.nav === found[2]);
    if (link.dataset.nav === found[2]) link.setAttribute("aria-current", "page");
  }
  document.getElementById("forget-key").hidden = !apiKey.get();
  try {
    cleanup = (await found[1](decoded, params)) || null;
  } catch (error) {
    showError(error);
  }
}

export function showError(error) {
  if (error instanceof ApiError && error.status === 401) return keyPrompt(error.message);
  replace(main, h("h1", {}, "Something went wrong"), message(error.message || String(error), "error"));
}

async function home() {
  const agents = await listAgents();
  if (!agents.length) {
    replace(main, h("h1", {}, "No agents yet"),
      message("Send spans over OTLP, upload them as JSON, or enqueue a hosted agent: its runs appear here."));
    return;
  }
  const latest = [...agents].sort((a, b) => String(b.last_activity_at || "").localeCompare(String(a.last_activity_at || "")))[0];
  location.replace(`#/agents/${encodeURIComponent(latest.agent_id)}/runs`);
}

function keyPrompt(reason) {
  const input = h("input", { id: "api-key", type: "password", autocomplete: "off", required: true, spellcheck: false });
  const form = h("form", {
    class: "key-form", onsubmit: (event) => {
      event.preventDefault();
      apiKey.set(input.value.trim());
      route();
    },
  },
  h("h1", {}, "API key required"),
  h("p", {}, "This collector has API keys configured. The key is kept in this tab only (sessionStorage)."),
  apiKey.get() ? message(reason, "error") : null,
  h("label", { for: "api-key" }, "API key"), input,
  h("button", { type: "submit" }, "Continue"));
  replace(main, form);
  input.focus();
}

document.getElementById("forget-key").addEventListener("click", () => {
  apiKey.clear();
  navigate("#/");
});
window.addEventListener("hashchange", route);
window.addEventListener("kate:error", (event) => showError(event.detail));
route();
