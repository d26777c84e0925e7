"""The Runs API (docs/api.md) against the real collector: success paths and their errors."""

from __future__ import annotations

import datetime as dt
import re
import uuid

from tests.support.http import Api

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
PAGE_RUN_KEYS = {"id", "agent_id", "status", "trigger", "overall_score", "created_at", "completed_at"}


async def test_create_run_answers_201_with_the_page_fields(api: Api, agent_id: str) -> None:
    answer = await api.call("POST", f"/agents/{agent_id}/runs", {"trigger": "manual"})

    assert answer.status == 201
    run = answer.body
    assert PAGE_RUN_KEYS <= run.keys()
    assert uuid.UUID(run["id"]).version == 7  # time-ordered server ids
    assert (run["agent_id"], run["status"], run["trigger"], run["source"]) == (agent_id, "running", "manual", "api")
    assert run["overall_score"] is None and run["completed_at"] is None
    assert RFC3339_Z.match(run["created_at"])
    assert (run["span_count"], run["total_tokens"]) == (0, 0)
    assert answer.headers["Location"] == f"/agents/{agent_id}/runs/{run['id']}"


async def test_create_run_with_custom_id_then_duplicate_is_409_and_changes_nothing(api: Api, agent_id: str) -> None:
    run_id = str(uuid.uuid4())
    first = await api.call("POST", f"/agents/{agent_id}/runs", {"trigger": "test", "run_id": run_id.upper()})
    again = await api.call("POST", f"/agents/{agent_id}/runs", {"trigger": "manual", "run_id": run_id})

    assert first.status == 201 and first.body["id"] == run_id
    assert again.status == 409
    assert again.body["error"]["code"] == "run_exists"
    stored = await api.call("GET", f"/agents/{agent_id}/runs/{run_id}")
    assert stored.body["trigger"] == "test"


async def test_create_run_validates_trigger_and_run_id(api: Api, agent_id: str) -> None:
    cases = [
        ({}, "trigger"),
        ({"trigger": "sometimes"}, "trigger"),
        ({"trigger": 3}, "trigger"),
        ({"trigger": "manual", "run_id": "not-a-uuid"}, "run_id"),
        ({"trigger": "manual", "run_id": 12}, "run_id"),
    ]
    for body, field in cases:
        answer = await api.call("POST", f"/agents/{agent_id}/runs", body)
        assert answer.status == 422, body
        assert answer.body["error"]["code"] == "validation_error"
        assert answer.body["error"]["details"][0]["field"] == field
    listed = await api.call("GET", f"/agents/{agent_id}/runs")
    assert listed.body["runs"] == []


async def test_create_run_refuses_bodies_that_are_not_json_objects(api: Api, agent_id: str) -> None:
    not_json = await api.call("POST", f"/agents/{agent_id}/runs", raw=b"{trigger:")
    a_list = await api.call("POST", f"/agents/{agent_id}/runs", raw=b"[1]")
    form = await api.call("POST", f"/agents/{agent_id}/runs", raw=b"trigger=manual",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})

    assert (not_json.status, not_json.body["error"]["code"]) == (400, "bad_request")
    assert (a_list.status, a_list.body["error"]["code"]) == (400, "bad_request")
    assert (form.status, form.body["error"]["code"]) == (415, "unsupported_media_type")


async def test_get_run_is_404_when_unknown_malformed_or_of_another_agent(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)

    found = await api.call("GET", f"/agents/{agent_id}/runs/{run['id']}")
    unknown = await api.call("GET", f"/agents/{agent_id}/runs/{uuid.uuid4()}")
    other_agent = await api.call("GET", f"/agents/{agent_id}-other/runs/{run['id']}")
    malformed = await api.call("GET", f"/agents/{agent_id}/runs/..%2F..%2Fetc")

    assert found.status == 200 and found.body["id"] == run["id"]
    for answer in (unknown, other_agent, malformed):
        assert answer.status == 404
        assert answer.body["error"]["code"] == "not_found"


async def test_list_runs_newest_first_with_cursor_pages(api: Api, agent_id: str) -> None:
    created = [(await api.create_run(agent_id))["id"] for _ in range(5)]

    first = await api.call("GET", f"/agents/{agent_id}/runs", params={"limit": "2"})
    second = await api.call("GET", f"/agents/{agent_id}/runs", params={"limit": "2", "cursor": first.body["next_cursor"]})
    third = await api.call("GET", f"/agents/{agent_id}/runs", params={"limit": "2", "cursor": second.body["next_cursor"]})

    pages = [first, second, third]
    ids = [run["id"] for page in pages for run in page.body["runs"]]
    assert ids == list(reversed(created))
    assert third.body["next_cursor"] is None
    assert all(PAGE_RUN_KEYS <= run.keys() for page in pages for run in page.body["runs"])


async def test_list_runs_pages_keep_filters_and_agents_apart(api: Api, agent_id: str) -> None:
    mine = [(await api.create_run(agent_id, trigger="test"))["id"] for _ in range(3)]
    await api.create_run(agent_id)  # manual: filtered out
    await api.create_run(f"{agent_id}-other", trigger="test")
    await api.create_run(f"{agent_id}' OR '1'='1", trigger="test")

    ids, params = [], {"trigger": "test", "limit": "2"}
    while True:
        page = await api.call("GET", f"/agents/{agent_id}/runs", params=params)
        ids += [run["id"] for run in page.body["runs"]]
        assert all((run["agent_id"], run["trigger"]) == (agent_id, "test") for run in page.body["runs"])
        if page.body["next_cursor"] is None:
            break
        params = {**params, "cursor": page.body["next_cursor"]}

    assert ids == list(reversed(mine))


async def test_list_runs_filters(api: Api, agent_id: str) -> None:
    manual = await api.create_run(agent_id)
    test_run = await api.create_run(agent_id, trigger="test")
    await api.call("POST", f"/agents/{agent_id}/runs/{manual['id']}/complete")
    future = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")

    async def ids(**params: str) -> list[str]:
        answer = await api.call("GET", f"/agents/{agent_id}/runs", params=params)
        assert answer.status == 200, answer.text
        return [run["id"] for run in answer.body["runs"]]

    assert await ids(status="completed") == [manual["id"]]
    assert await ids(status="running") == [test_run["id"]]
    assert await ids(trigger="test") == [test_run["id"]]
    assert await ids(since=future) == []
    assert await ids(until=future) == [test_run["id"], manual["id"]]
    assert await ids(since=manual["created_at"], until=test_run["created_at"]) == [manual["id"]]


async def test_list_runs_rejects_bad_parameters_naming_them(api: Api, agent_id: str) -> None:
    cases = {"limit": "0", "cursor": "bm9wZQ", "status": "sleeping", "trigger": "x", "since": "yesterday"}
    for name, value in cases.items():
        answer = await api.call("GET", f"/agents/{agent_id}/runs", params={name: value})
        assert answer.status == 400, (name, answer.text)
        assert answer.body["error"]["details"][0]["field"] == name
    too_big = await api.call("GET", f"/agents/{agent_id}/runs", params={"limit": "1001"})
    assert too_big.status == 400


async def test_complete_run_then_again_is_409(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)

    done = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/complete")
    again = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/complete")
    unknown = await api.call("POST", f"/agents/{agent_id}/runs/{uuid.uuid4()}/complete")

    assert done.status == 200
    assert done.body["status"] == "completed" and RFC3339_Z.match(done.body["completed_at"])
    assert done.body["completed_at"] >= done.body["created_at"]
    assert (again.status, again.body["error"]["code"]) == (409, "run_not_running")
    assert (unknown.status, unknown.body["error"]["code"]) == (404, "not_found")


async def test_fail_run_records_the_error_and_refuses_finished_runs(api: Api, agent_id: str) -> None:
    run = await api.create_run(agent_id)

    failed = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/fail", {"error": "ValueError: boom"})
    again = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/fail")
    complete = await api.call("POST", f"/agents/{agent_id}/runs/{run['id']}/complete")

    assert failed.status == 200
    assert (failed.body["status"], failed.body["error"]) == ("failed", "ValueError: boom")
    assert failed.body["completed_at"] is not None
    assert (again.status, again.body["error"]["code"]) == (409, "run_not_running")
    assert (complete.status, complete.body["error"]["code"]) == (409, "run_not_running")


async def test_enqueue_route_exists_and_says_agent_not_hosted(api: Api, agent_id: str) -> None:
    answer = await api.call("POST", f"/agents/{agent_id}/runs/enqueue", {"trigger": "manual", "user_input": "hi"})
    invalid = await api.call("POST", f"/agents/{agent_id}/runs/enqueue", {"trigger": "never"})

    assert (answer.status, answer.body["error"]["code"]) == (404, "agent_not_hosted")
    assert (invalid.status, invalid.body["error"]["code"]) == (422, "validation_error")


async def test_health_readiness_and_openapi(api: Api) -> None:
    health = await api.call("GET", "/healthz")
    ready = await api.call("GET", "/readyz")
    document = await api.call("GET", "/openapi.json")

    assert (health.status, health.body) == (200, {"status": "ok"})
    assert (ready.status, ready.body) == (200, {"status": "ready"})
    assert document.status == 200 and document.body["openapi"].startswith("3.")
    assert "/agents/{agent_id}/runs/{run_id}/spans" in document.body["paths"]
