// View 5: Kate-hosted agents: enqueue a run with a user input, watch its job go
// queued → running → succeeded/failed, and open the run.

import { agentPath, get, listAgents, post } from "../api.js";
import { badge, h, message, replace } from "../dom.js";
import { every } from "../live.js";

const POLL_MS = 500;
const STEPS = ["queued", "running", "done"];

export async function render(main) {
  const hosted = (await listAgents()).filter((a) => a.hosted);
  if (!hosted.length) {
    replace(main, h("h1", {}, "Hosted agents"),
      message("No hosted agents are declared (hosted_agents in config.yaml), or your key may not see them."));
    return null;
  }
  const agent = h("select", { id: "h-agent" }, hosted.map((a) => h("option", { value: a.agent_id }, a.agent_id)));
  const input = h("textarea", { id: "h-input", rows: 4, placeholder: "What the agent receives as user_input" });
  const jobs = h("ul", { class: "jobs", "aria-live": "polite" });
  const stops = [];

  async function enqueue(event) {
    event.preventDefault();
    try {
      const answer = await post(`${agentPath(agent.value)}/runs/enqueue`, { trigger: "manual", user_input: input.value });
      const item = h("li", { class: "job" });
      jobs.prepend(item);
      stops.push(watch(item, agent.value, answer));
    } catch (error) {
      jobs.prepend(h("li", {}, message(error.message, "error")));
    }
  }

  replace(main, h("h1", {}, "Hosted agents"),
    h("form", { class: "enqueue", onsubmit: enqueue },
      h("div", { class: "field" }, h("label", { for: "h-agent" }, "Agent"), agent),
      h("div", { class: "field wide" }, h("label", { for: "h-input" }, "User input"), input),
      h("button", { type: "submit" }, "Enqueue run")),
    h("h2", {}, "Enqueued from this page"), jobs);
  return () => stops.forEach((stop) => stop());
}

function watch(item, agentId, answer) {
  const href = `#/agents/${encodeURIComponent(agentId)}/runs/${encodeURIComponent(answer.run_id)}`;
  const draw = (job) => {
    const step = ["succeeded", "failed"].includes(job.status) ? "done" : job.status;
    replace(item,
      h("div", {}, h("strong", {}, agentId), " job ", h("code", {}, answer.job_id), " ", badge(job.status)),
      h("ol", { class: "steps", "aria-label": "Job progress" }, STEPS.map((s) =>
        h("li", { class: STEPS.indexOf(s) <= STEPS.indexOf(step) ? "reached" : "" }, s === "done" && step === "done" ? job.status : s))),
      job.error ? message(job.error, "error") : null,
      h("a", { href }, "Open the run"));
    return step === "done";
  };
  draw({ status: answer.status });
  let finished = false;
  const stop = every(POLL_MS, async () => {
    if (finished) return;
    finished = draw(await get(`/jobs/${encodeURIComponent(answer.job_id)}`));
    if (finished) stop();
  });
  return stop;
}
