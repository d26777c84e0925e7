"""API keys: hashed in config, required everywhere but the probes, limited per agent."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import aiohttp
import pytest
from kate.collector.auth import Authenticator, hash_key
from kate.collector.config import ApiKeyConfig, AuthConfig, ConfigError, load_config
from kate.collector.errors import Forbidden, Unauthorized

from tests.conftest import StartApp
from tests.support.http import Api

ADMIN_KEY, WRITER_KEY = "kate_admin_test_key", "kate_writer_test_key"
KEYS = {"auth": {"keys": [
    {"name": "admin", "sha256": hash_key(ADMIN_KEY)},
    {"name": "writer", "sha256": hash_key(WRITER_KEY), "agents": ["writer"]},
]}}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def sql_rows(base_url: str, sql: str, *, headers: dict[str, str]) -> list[list[object]]:
    request = urllib.request.Request(f"{base_url}/sql", data=json.dumps({"sql": sql}).encode(), method="POST",
                                     headers={"Content-Type": "application/json", **headers})
    with urllib.request.urlopen(request, timeout=30) as response:
        return list(json.load(response)["rows"])


async def test_keys_are_required_and_limited_to_their_agents(start_app: StartApp) -> None:
    server = start_app(config=KEYS)
    async with aiohttp.ClientSession() as session:
        api = Api(server.base_url, session)
        anonymous = await api.call("GET", "/agents/writer/runs")
        wrong = await api.call("GET", "/agents/writer/runs", headers=bearer("kate_nope"))
        created = await api.call("POST", "/agents/writer/runs", {"trigger": "manual"}, headers=bearer(WRITER_KEY))
        by_header = await api.call("GET", "/agents/writer/runs", headers={"X-API-Key": WRITER_KEY})
        other_agent = await api.call("GET", "/agents/reader/runs", headers=bearer(WRITER_KEY))
        other_write = await api.call("POST", "/agents/reader/runs", {"trigger": "manual"}, headers=bearer(WRITER_KEY))
        scoped_sql = await api.call("POST", "/sql", {"sql": "SELECT count(*) FROM runs"}, headers=bearer(WRITER_KEY))
        admin_sql = await api.call("POST", "/sql", {"sql": "SELECT count(*) FROM runs"}, headers=bearer(ADMIN_KEY))
        scoped_tables = await api.call("GET", "/sql/tables", headers=bearer(WRITER_KEY))
        admin_tables = await api.call("GET", "/sql/tables", headers=bearer(ADMIN_KEY))
        health = await api.call("GET", "/healthz")
        openapi = await api.call("GET", "/openapi.json")

    assert (anonymous.status, anonymous.body["error"]["code"]) == (401, "unauthorized")
    assert anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    assert wrong.status == 401
    assert created.status == 201 and by_header.status == 200
    assert [run["id"] for run in by_header.body["runs"]] == [created.body["id"]]
    for denied in (other_agent, other_write, scoped_sql, scoped_tables):
        assert (denied.status, denied.body["error"]["code"]) == (403, "forbidden")
    assert admin_sql.body["rows"] == [[1]] and admin_tables.body["dialect"] == "DuckDB"
    assert health.status == 200 and openapi.status == 200
    assert WRITER_KEY not in server.log() and ADMIN_KEY not in server.log()


def test_authenticator_matches_hashes_in_constant_time_loop() -> None:
    auth = Authenticator(AuthConfig(keys=(ApiKeyConfig("a", hash_key("k1")), ApiKeyConfig("b", hash_key("k2"), ("x",)))))
    assert auth.authenticate("k1").unrestricted
    assert auth.authenticate("k2").allows("x") and not auth.authenticate("k2").allows("y")
    with pytest.raises(Unauthorized):
        auth.authenticate("k3")
    with pytest.raises(Forbidden):
        auth.authenticate("k2").require_agent("y")
    assert Authenticator(AuthConfig()).authenticate(None).unrestricted


def test_refuses_a_public_bind_without_keys_unless_allowed(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="without API keys"):
        load_config(overrides={"server.host": "0.0.0.0"})
    allowed = tmp_path / "open.yaml"
    allowed.write_text("auth:\n  allow_anonymous: true\n")
    assert load_config(allowed, overrides={"server.host": "0.0.0.0"}).auth.allow_anonymous
    with pytest.raises(ConfigError, match=r"auth.keys\[0\].sha256"):
        load_config(overrides={"auth.keys": [{"name": "a", "sha256": "abc"}]})

    refused = subprocess.run([sys.executable, "-m", "kate.collector", "serve", "--host", "0.0.0.0", "--port", "0"],
                             capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert refused.returncode == 2 and "without API keys" in refused.stderr


def test_keygen_prints_a_key_and_its_hash(tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "-m", "kate.collector", "keygen", "--name", "ci", "--agent", "writer"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    key = done.stdout.split("store it nowhere else): ")[1].split()[0]
    assert f"sha256: {hash_key(key)}" in done.stdout
    assert "agents: [writer]" in done.stdout


def test_grpc_export_needs_a_key_in_metadata_limited_to_its_agents(start_app: StartApp) -> None:
    import grpc
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
        ExportTraceServiceResponse,
    )
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.resource.v1.resource_pb2 import Resource
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan

    server = start_app(config=KEYS)

    def request_for(agent: str, span_id: bytes) -> ExportTraceServiceRequest:
        resource = Resource(attributes=[KeyValue(key="kate.agent.id", value=AnyValue(string_value=agent))])
        span = ProtoSpan(trace_id=b"\x01" * 16, span_id=span_id, name="step",
                         start_time_unix_nano=1_000, end_time_unix_nano=2_000)
        return ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource, scope_spans=[ScopeSpans(spans=[span])])])

    def export(request: ExportTraceServiceRequest, key: str | None) -> grpc.StatusCode:
        with grpc.insecure_channel(f"127.0.0.1:{server.grpc_port}") as channel:
            call = channel.unary_unary("/opentelemetry.proto.collector.trace.v1.TraceService/Export",
                                       request_serializer=ExportTraceServiceRequest.SerializeToString,
                                       response_deserializer=ExportTraceServiceResponse.FromString)
            metadata = [("authorization", f"Bearer {key}")] if key else []
            try:
                call(request, metadata=metadata, timeout=10)
            except grpc.RpcError as error:
                return error.code()
            return grpc.StatusCode.OK

    assert export(request_for("writer", b"\x02" * 8), None) == grpc.StatusCode.UNAUTHENTICATED
    assert export(request_for("writer", b"\x02" * 8), "kate_wrong") == grpc.StatusCode.UNAUTHENTICATED
    assert export(request_for("reader", b"\x03" * 8), WRITER_KEY) == grpc.StatusCode.PERMISSION_DENIED
    assert export(request_for("writer", b"\x04" * 8), WRITER_KEY) == grpc.StatusCode.OK
    assert sql_rows(server.base_url, "SELECT agent_id, span_id FROM spans", headers=bearer(ADMIN_KEY)) == [
        ["writer", "0404040404040404"]]
