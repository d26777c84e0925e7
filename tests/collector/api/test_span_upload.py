"""Span upload and span listing: all or nothing, order kept, fields exact, rate limited per run."""

from __future__ import annotations

import json
import uuid
from typing import Any

import aiohttp

from tests.conftest import StartApp
from tests.support.http import Api

PAGE_SPAN = {
    "node_name": "generate_strategy",
    "span_kind": "LLM",
    "input_text": "Create a content strategy for...",
    "output_text": "Here's a comprehensive strategy...",
    "model": "claude-sonnet-4-5-20250514",
    "latency_ms": 2340,
    "token_count": 1250,
}


def spans_path(agent_id: str, run_id: str) -> str:
    return f"/agents/{agent_id}/runs/{run_id}/spans"


async def test_upload_then_list_returns_the_same_spans_in_order(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)
    uploaded = [
        {**PAGE_SPAN, "node_name": f"step_{i}", "token_count": 100 + i} for i in range(3)
    ] + [{"node_name": "process_request", "span_kind": "TOOL", "input_text": "...", "output_text": "...", "latency_ms": 1500}]

    answer = await api.call("POST", spans_path(agent_id, run["id"]), {"spans": uploaded})
    listed = await api.call("GET", spans_path(agent_id, run["id"]))

    assert answer.status == 201
    assert answer.body["uploaded"] == 4 and len(answer.body["span_ids"]) == 4
    assert [s["span_id"] for s in listed.body["spans"]] == answer.body["span_ids"]
    assert listed.body["total"] == 4
    for sent, got in zip(uploaded, listed.body["spans"], strict=True):
        for key in PAGE_SPAN:
            expected = sent.get(key)
            assert got[key] == (float(expected) if key == "latency_ms" else expected), key
    run_after = await api.call("GET", f"/agents/{agent_id}/runs/{run['id']}")
    assert run_after.body["span_count"] == 4
    assert run_after.body["total_tokens"] == 100 + 101 + 102


async def test_upload_keeps_given_ids_times_status_and_attributes(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)
    trace_id, root_id, child_id = uuid.uuid4().hex, "aa" * 8, "bb" * 8
    spans = [
        {"node_name": "agent", "span_kind": "AGENT", "span_id": root_id, "trace_id": trace_id,
         "start_time": "2026-03-30T10:00:00Z", "end_time": "2026-03-30T10:01:30.5Z", "status": "OK"},
        {"node_name": "search", "span_kind": "tool", "span_id": child_id.upper(), "trace_id": trace_id,
         "parent_span_id": root_id, "start_time": "2026-03-30T12:00:01.000000123+02:00",
         "end_time": "2026-03-30T12:00:02+02:00", "status": "ERROR", "status_message": "timeout",
         "attributes": {"tool.name": "search", "retry": 2}},
    ]

    answer = await api.call("POST", spans_path(agent_id, run["id"]), {"spans": spans})
    listed = (await api.call("GET", spans_path(agent_id, run["id"]))).body["spans"]

    assert answer.body["span_ids"] == [root_id, child_id]
    root, child = listed
    assert (root["start_time"], root["end_time"], root["latency_ms"]) == (
        "2026-03-30T10:00:00.000000Z", "2026-03-30T10:01:30.500000Z", 90_500.0)
    assert (child["span_kind"], child["parent_span_id"], child["trace_id"]) == ("TOOL", root_id, trace_id)
    assert child["start_time_unix_nano"] == 1774864801000000123
    assert (child["status"], child["status_message"]) == ("ERROR", "timeout")
    assert child["attributes"]["retry"] == 2
    assert child["latency_ms"] == 999.999877


async def test_attributes_fill_fields_that_were_not_given(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)
    span = {"node_name": "chat", "attributes": {
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o",
        "gen_ai.response.model": "gpt-4o-2024-08-06", "gen_ai.usage.input_tokens": 10,
        "gen_ai.usage.output_tokens": 5}}

    await api.call("POST", spans_path(agent_id, run["id"]), {"spans": [span]})
    stored = (await api.call("GET", spans_path(agent_id, run["id"]))).body["spans"][0]

    assert (stored["span_kind"], stored["model"], stored["token_count"]) == ("LLM", "gpt-4o-2024-08-06", 15)
    assert (stored["input_tokens"], stored["output_tokens"]) == (10, 5)
    assert stored["node_name"] == "chat"


async def test_upload_is_all_or_nothing_and_names_every_bad_field(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)
    spans: list[Any] = [
        PAGE_SPAN,
        {"span_kind": "LLM"},
        {"node_name": "x", "latency_ms": -1, "token_count": 1.5, "span_kind": "ROBOT"},
        {"node_name": "y", "span_id": "123", "trace_id": "z" * 32, "start_time": "2026-13-01T00:00:00Z"},
        {"node_name": "z", "start_time": "2026-01-01T00:00:02Z", "end_time": "2026-01-01T00:00:01Z"},
        "not an object",
    ]

    answer = await api.call("POST", spans_path(agent_id, run["id"]), {"spans": spans})

    assert answer.status == 422
    fields = {detail["field"] for detail in answer.body["error"]["details"]}
    assert fields == {
        "spans[1].node_name", "spans[2].latency_ms", "spans[2].token_count", "spans[2].span_kind",
        "spans[3].span_id", "spans[3].trace_id", "spans[3].start_time", "spans[4].end_time", "spans[5]",
    }
    listed = await api.call("GET", spans_path(agent_id, run["id"]))
    assert listed.body["total"] == 0


async def test_upload_rejects_duplicate_span_ids_within_a_request(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)
    span = {**PAGE_SPAN, "span_id": "0123456789abcdef", "trace_id": "ab" * 16}

    answer = await api.call("POST", spans_path(agent_id, run["id"]), {"spans": [span, span]})

    assert answer.status == 422
    assert answer.body["error"]["details"][0]["field"] == "spans[1].span_id"


async def test_upload_bodies_without_spans_list(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)
    for body in ({}, {"spans": {}}, {"spans": "x"}):
        answer = await api.call("POST", spans_path(agent_id, run["id"]), body)
        assert answer.status == 422
        assert answer.body["error"]["details"][0]["field"] == "spans"


async def test_upload_requires_a_running_run_of_this_agent(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)
    await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/complete")

    completed = await api.call("POST", spans_path(agent_id, run["id"]), {"spans": [PAGE_SPAN]})
    unknown = await api.call("POST", spans_path(agent_id, str(uuid.uuid4())), {"spans": [PAGE_SPAN]})
    other_agent = await api.call("POST", spans_path(agent_id + "-b", run["id"]), {"spans": [PAGE_SPAN]})

    assert (completed.status, completed.body["error"]["code"]) == (409, "run_not_running")
    assert (unknown.status, unknown.body["error"]["code"]) == (404, "not_found")
    assert (other_agent.status, other_agent.body["error"]["code"]) == (404, "not_found")
    assert (await api.call("GET", spans_path(agent_id, run["id"]))).body["total"] == 0


async def test_long_text_is_capped_on_a_character_boundary_with_a_marker(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)
    text = "é" * 40_000  # 80,000 UTF-8 bytes, over the 64 KiB default cap

    await api.call("POST", spans_path(agent_id, run["id"]), {"spans": [{"node_name": "n", "input_text": text}]})
    stored = (await api.call("GET", spans_path(agent_id, run["id"]))).body["spans"][0]

    assert stored["truncated"] is True
    kept, marker = stored["input_text"].split("…[truncated ")
    assert kept == "é" * 32_768
    assert marker == f"{80_000 - 65_536} bytes]"


async def test_span_listing_pages_and_filters_by_kind(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)
    kinds = ["LLM", "TOOL", "LLM", "AGENT", "LLM"]
    spans = [{"node_name": f"n{i}", "span_kind": kind, "start_time": f"2026-01-01T00:00:0{i}Z"} for i, kind in enumerate(kinds)]
    await api.call("POST", spans_path(agent_id, run["id"]), {"spans": spans})

    first = await api.call("GET", spans_path(agent_id, run["id"]), params={"limit": "2"})
    rest = await api.call("GET", spans_path(agent_id, run["id"]), params={"cursor": first.body["next_cursor"]})
    llm = await api.call("GET", spans_path(agent_id, run["id"]), params={"span_kind": "LLM"})
    bad = await api.call("GET", spans_path(agent_id, run["id"]), params={"span_kind": "ROBOT"})

    names = [s["node_name"] for s in first.body["spans"] + rest.body["spans"]]
    assert names == ["n0", "n1", "n2", "n3", "n4"]
    assert first.body["total"] == rest.body["total"] == 5 and rest.body["next_cursor"] is None
    assert [s["node_name"] for s in llm.body["spans"]] == ["n0", "n2", "n4"]
    assert llm.body["total"] == 5  # total is the run's full span count
    assert (bad.status, bad.body["error"]["details"][0]["field"]) == (400, "span_kind")


async def test_filtered_span_pages_walk_the_run_with_cursors(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)
    kinds = ["LLM", "TOOL"] * 6
    spans = [{"node_name": f"n{i:02}", "span_kind": kind, "start_time": f"2026-01-01T00:00:{i:02}Z"} for i, kind in enumerate(kinds)]
    await api.call("POST", spans_path(agent_id, run["id"]), {"spans": spans})

    names, pages, params = [], [], {"span_kind": "TOOL", "limit": "2"}
    while True:
        page = await api.call("GET", spans_path(agent_id, run["id"]), params=params)
        pages.append(page.body)
        names += [s["node_name"] for s in page.body["spans"]]
        if page.body["next_cursor"] is None:
            break
        params = {**params, "cursor": page.body["next_cursor"]}

    assert names == [f"n{i:02}" for i in range(1, 12, 2)]
    assert [len(body["spans"]) for body in pages] == [2, 2, 2]
    assert all(body["total"] == 12 for body in pages)  # the run's full count on every page


async def test_span_listing_is_404_for_another_agents_run_and_for_quoted_ids(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)
    await api.call("POST", spans_path(agent_id, run["id"]), {"spans": [PAGE_SPAN]})

    other_agent = await api.call("GET", spans_path(f"{agent_id}-other", run["id"]))
    quoted = await api.call("GET", spans_path(agent_id, "x' OR '1'='1"))
    quoted_agent = await api.call("GET", spans_path(f"{agent_id}' OR '1'='1", run["id"]))
    own = await api.call("GET", spans_path(agent_id, run["id"]))

    for answer in (other_agent, quoted, quoted_agent):
        assert (answer.status, answer.body["error"]["code"]) == (404, "not_found")
    assert own.body["total"] == 1


async def test_upload_rate_limit_is_per_run_with_retry_headers(start_app: StartApp, agent_id: str) -> None:
    server = start_app(config={"api": {"upload_rate_limit_per_minute": 3}})
    async with aiohttp.ClientSession() as session:
        api = Api(server.base_url, session)
        run, other = await api.create_run(agent_id), await api.create_run(agent_id)
        body = {"spans": [PAGE_SPAN]}
        answers = [await api.call("POST", spans_path(agent_id, run["id"]), body) for _ in range(4)]
        other_run = await api.call("POST", spans_path(agent_id, other["id"]), body)
        total = (await api.call("GET", spans_path(agent_id, run["id"]))).body["total"]

    assert [a.status for a in answers] == [201, 201, 201, 429]
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["2", "1", "0", "0"]
    limited = answers[-1]
    assert limited.body["error"]["code"] == "rate_limited"
    assert limited.headers["X-RateLimit-Limit"] == "3"
    assert 1 <= int(limited.headers["Retry-After"]) <= 20
    assert other_run.status == 201  # the limit is per run
    assert total == 3


async def test_upload_keeps_resource_scope_and_events(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)
    span = {"node_name": "chat", "resource": {"service.name": "writer", "deployment.environment": "prod"},
            "scope_name": "my.instrumentation",
            "events": [{"name": "gen_ai.user.message", "time": "2026-03-30T10:00:00Z",
                        "attributes": {"content": "Plan the launch"}},
                       {"name": "gen_ai.choice", "attributes": {"message": {"content": "Here is the plan"}}}]}
    bad = {"node_name": "x", "events": [{"time": "never"}, 3]}

    stored_answer = await api.call("POST", spans_path(agent_id, run["id"]), {"spans": [span]})
    bad_answer = await api.call("POST", spans_path(agent_id, run["id"]), {"spans": [bad]})
    row = await api.call("POST", "/sql", {"sql": "SELECT resource, scope_name, events, input_text FROM spans "
                                                 "WHERE run_id = ?", "params": [run["id"]]})

    assert stored_answer.status == 201
    resource, scope_name, events, input_text = row.body["rows"][0]
    assert json.loads(resource) == span["resource"]
    assert scope_name == "my.instrumentation"
    assert [(e["name"], e["time_unix_nano"]) for e in json.loads(events)] == [
        ("gen_ai.user.message", 1774864800000000000), ("gen_ai.choice", 0)]
    assert input_text == "user: Plan the launch"  # the mapping reads content from events too
    fields = {d["field"] for d in bad_answer.body["error"]["details"]}
    assert fields == {"spans[0].events[0].name", "spans[0].events[0].time", "spans[0].events[1]"}
