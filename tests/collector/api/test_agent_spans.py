"""GET /agents/{agent_id}/spans: one agent's spans across its runs, filtered and ordered, paged."""

from __future__ import annotations

from tests.support.http import Api


async def upload(api: Api, agent_id: str, spans: list[dict[str, object]]) -> str:
    run = await api.create_run(agent_id)
    answer = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/spans", {"spans": spans})
    assert answer.status == 201, answer.text
    return str(run["id"])


def llm(name: str, latency_ms: float, start: str, **extra: object) -> dict[str, object]:
    return {"node_name": name, "span_kind": "LLM", "latency_ms": latency_ms, "start_time": start, **extra}


async def test_slowest_llm_calls_of_a_day_across_runs_paged(api: Api, agent_id: str) -> None:
    first = await upload(api, agent_id, [llm("a", 120, "2026-12-01T09:00:00Z"), llm("b", 900, "2026-12-01T10:00:00Z"),
                                         {"node_name": "t", "span_kind": "TOOL", "latency_ms": 5000,
                                          "start_time": "2026-12-01T10:30:00Z"}])
    second = await upload(api, agent_id, [llm("c", 450, "2026-12-01T11:00:00Z", status="ERROR"),
                                          llm("d", 9999, "2026-12-02T08:00:00Z")])  # the next day
    await upload(api, f"{agent_id}-other", [llm("x", 99999, "2026-12-01T10:00:00Z")])
    day = {"span_kind": "LLM", "since": "2026-12-01T00:00:00Z", "until": "2026-12-02T00:00:00Z", "order": "latency"}

    page_one = await api.call("GET", f"/agents/{agent_id}/spans", params={**day, "limit": "2"})
    page_two = await api.call("GET", f"/agents/{agent_id}/spans", params={**day, "limit": "2", "cursor": page_one.body["next_cursor"]})
    errors = await api.call("GET", f"/agents/{agent_id}/spans", params={"status": "ERROR"})
    newest = await api.call("GET", f"/agents/{agent_id}/spans")

    assert [(s["node_name"], s["run_id"]) for s in page_one.body["spans"]] == [("b", first), ("c", second)]
    assert [s["node_name"] for s in page_two.body["spans"]] == ["a"] and page_two.body["next_cursor"] is None
    assert [s["node_name"] for s in errors.body["spans"]] == ["c"]
    assert [s["node_name"] for s in newest.body["spans"]] == ["d", "c", "t", "b", "a"]
    assert isinstance(newest.body["spans"][0]["attributes"], dict)


async def test_agent_spans_reject_bad_parameters_naming_them(api: Api, agent_id: str) -> None:
    for query, field in (({"order": "fastest"}, "order"), ({"span_kind": "llm"}, "span_kind"),
                         ({"since": "yesterday"}, "since"), ({"cursor": "nope"}, "cursor")):
        answer = await api.call("GET", f"/agents/{agent_id}/spans", params=query)
        assert answer.status == 400, query
        assert answer.body["error"]["details"][0]["field"] == field
