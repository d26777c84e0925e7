// The collector's public API, same origin: JSON in and out, the key (if any) from sessionStorage.

const KEY_NAME = "kate.apiKey";

export class ApiError extends Error {
  constructor(status, code, text) {
    super(text);
    this.status = status;
    this.code = code;
  }
}

export const apiKey = {
  get: () => sessionStorage.getItem(KEY_NAME),
  set: (key) => sessionStorage.setItem(KEY_NAME, key),
  clear: () => sessionStorage.removeItem(KEY_NAME),
};

export async function call(method, path, body) {
  const headers = { Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const key = apiKey.get();
  if (key) headers.Authorization = `Bearer ${key}`;
  const response = await fetch(path, {
    method, headers, credentials: "same-origin", body: body === undefined ? undefined : JSON.stringify(body),
  });
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    const error = answer?.error || {};
    throw new ApiError(response.status, error.code || "http_error", error.message || `HTTP ${response.status}`);
  }
  return answer;
}

export const get = (path) => call("GET", path);
export const post = (path, body = {}) => call("POST", path, body);

export function query(params) {
  const entries = Object.entries(params).filter(([, v]) => v !== null && v !== undefined && v !== "");
  return entries.length ? "?" + new URLSearchParams(entries).toString() : "";
}

export const agentPath = (agentId) => `/agents/${encodeURIComponent(agentId)}`;
export const runPath = (agentId, runId) => `${agentPath(agentId)}/runs/${encodeURIComponent(runId)}`;

export async function listAgents() {
  const agents = [];
  let cursor = null;
  for (let page = 0; page < 20; page++) {
    const answer = await get(`/agents${query({ limit: 1000, cursor })}`);
    agents.push(...answer.agents);
    cursor = answer.next_cursor;
    if (!cursor) break;
  }
  return agents;
}

// Every span of a run, 1,000 a page; onPage(spans so far, total) lets a view draw the first
// page while the rest arrive.
export async function listAllSpans(agentId, runId, onPage = () => {}) {
  const spans = [];
  let cursor = null;
  let total = 0;
  for (let page = 0; page < 200; page++) {
    const answer = await get(`${runPath(agentId, runId)}/spans${query({ limit: 1000, cursor })}`);
    spans.push(...answer.spans);
    total = answer.total;
    cursor = answer.next_cursor;
    if (!cursor) break;
    onPage(spans, total);
  }
  return { spans, total };
}
