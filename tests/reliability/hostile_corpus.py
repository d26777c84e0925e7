"""A corpus of hostile HTTP requests, one or more for every endpoint of the HTTP port.

Each entry says what it sends and which answers are acceptable; the test posts it to a real
collector and checks the envelope, that the server stays up and that nothing was written.
Test support only: it builds bytes and must not import the code under test.
"""

from __future__ import annotations

import gzip
import json
import os
import uuid
import zlib
from dataclasses import dataclass, field

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

PROTOBUF = "application/x-protobuf"
JSON = "application/json"
BODY_CAP_BYTES = 2 * 1024 * 1024  # server.max_body_bytes of the corpus collector
RUN = "{run}"  # replaced by the corpus collector's running run id
AGENT = "hostile"


@dataclass(frozen=True)
class Hostile:
    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = JSON
    statuses: frozenset[int] = frozenset({400})
    encoding: str | None = None
    envelope: str = "json"  # "json": the Kate envelope; "otlp": google.rpc.Status; "text": text/plain
    headers: dict[str, str] = field(default_factory=dict)


def _j(value: object) -> bytes:
    return json.dumps(value).encode()


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def _len_field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def deep_any_value_protobuf(depth: int) -> bytes:
    """An ExportTraceServiceRequest whose one attribute nests `depth` ArrayValues (protobuf cannot
    build it: its own encoder refuses past its depth limit, so the bytes are written by hand)."""
    value = _len_field(1, b"x")  # AnyValue.string_value
    for _ in range(depth):
        value = _len_field(5, _len_field(1, value))  # AnyValue.array_value → ArrayValue.values
    attribute = _len_field(1, b"deep") + _len_field(2, value)  # KeyValue key, value
    span = (_len_field(1, os.urandom(16)) + _len_field(2, os.urandom(8)) + _len_field(5, b"deep")
            + _len_field(9, attribute))
    return _len_field(1, _len_field(2, _len_field(2, span)))  # resource_spans.scope_spans.spans


def otlp_request(*spans: Span, agent: str = AGENT) -> ExportTraceServiceRequest:
    resource = {"attributes": [KeyValue(key="kate.agent.id", value=AnyValue(string_value=agent))]}
    return ExportTraceServiceRequest(resource_spans=[ResourceSpans(resource=resource,
                                                                   scope_spans=[ScopeSpans(spans=list(spans))])])


def span(**fields: object) -> Span:
    values: dict[str, object] = {"trace_id": os.urandom(16), "span_id": os.urandom(8), "name": "s",
                                 "start_time_unix_nano": 1, "end_time_unix_nano": 2, **fields}
    return Span(**values)  # type: ignore[arg-type]


def tiny_attributes_protobuf(target_bytes: int) -> bytes:
    """One span with as many one-character attributes as fit in target_bytes."""
    one = KeyValue(key="k", value=AnyValue(string_value="v")).SerializeToString()
    count = target_bytes // (len(one) + 2)
    body = (_len_field(1, os.urandom(16)) + _len_field(2, os.urandom(8)) + _len_field(5, b"many")
            + _len_field(9, one) * count)
    return _len_field(1, _len_field(2, _len_field(2, body)))


def tiny_attributes_json(target_bytes: int) -> bytes:
    one = '{"key":"k","value":{"stringValue":"v"}},'
    count = target_bytes // len(one)
    attributes = (one * count).rstrip(",")
    span = f'{{"traceId":"{os.urandom(16).hex()}","spanId":"{os.urandom(8).hex()}","name":"many","attributes":[{attributes}]}}'
    return ('{"resourceSpans":[{"scopeSpans":[{"spans":[' + span + "]}]}]}").encode()


def otlp_json_span(**fields: object) -> bytes:
    document = {"traceId": os.urandom(16).hex(), "spanId": os.urandom(8).hex(), "name": "s", **fields}
    return _j({"resourceSpans": [{"resource": {"attributes": [
        {"key": "kate.agent.id", "value": {"stringValue": AGENT}}]}, "scopeSpans": [{"spans": [document]}]}]})


def gzip_bomb(decompressed_bytes: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    chunk = bytes(1024 * 1024)
    parts = [compressor.compress(chunk) for _ in range(decompressed_bytes // len(chunk))]
    return b"".join(parts) + compressor.flush()


GARBAGE = b"\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" + bytes(range(256))  # a varint tag too long
DEEP_ARRAY = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
NEAR_LIMIT = 900  # just under Python's recursion limit, where encoders and walkers break
NEAR_LIMIT_NEST = "[" * NEAR_LIMIT + "]" * NEAR_LIMIT
INVALID_UTF8 = b'{"trigger": "manual", "x": "\xff\xfe\xed\xa0\x80"}'
SURROGATE = b'{"trigger": "manual", "run_id": "\\ud800"}'
HUGE_STRING = "x" * (BODY_CAP_BYTES - 1024)
BOMB = gzip_bomb(64 * 1024 * 1024)  # 64 MiB of zeros in ~64 KiB
NOT_A_UUID = "../../etc/passwd"
SQL_IN_ID = "x'; DROP TABLE spans; --"

OK_400 = frozenset({400})
BAD_FIELDS = frozenset({400, 422})
NOT_FOUND = frozenset({404})
TOO_LARGE = frozenset({413})
WRONG_TYPE = frozenset({415})


def _upload(*spans: dict[str, object]) -> bytes:
    return _j({"spans": list(spans)})


def _runs_api() -> dict[str, Hostile]:
    runs, upload = f"/agents/{AGENT}/runs", f"/agents/{AGENT}/runs/{RUN}/spans"
    return {
        # list_runs: hostile query strings
        "agents-cursor-garbage": Hostile("GET", "/agents?cursor=%00%ff'%22", None, None, OK_400),
        "agents-limit-huge": Hostile("GET", "/agents?limit=99999999999999999999999", None, None, OK_400),
        "agent-spans-since-far-future": Hostile("GET", "/agents/a/spans?since=9999-12-31T23:59:59Z", None, None, frozenset({200})),
        "agent-spans-order-sql": Hostile("GET", "/agents/a/spans?order=latency%3B%20DROP%20TABLE%20spans", None, None, OK_400),
        "sessions-cursor-garbage": Hostile("GET", f"/agents/{AGENT}/sessions?cursor=%00%ff'%22", None, None, OK_400),
        "sessions-limit-huge": Hostile("GET", f"/agents/{AGENT}/sessions?limit=99999999999999999999999", None, None, OK_400),
        "session-runs-sql": Hostile("GET", f"/agents/{AGENT}/sessions/{SQL_IN_ID}/runs", None, None, NOT_FOUND),
        "session-runs-nul": Hostile("GET", f"/agents/{AGENT}/sessions/%00/runs", None, None, NOT_FOUND),
        "session-runs-huge-id": Hostile("GET", f"/agents/{AGENT}/sessions/{'s' * 4000}/runs", None, None, NOT_FOUND),
        "list-limit-huge": Hostile("GET", f"{runs}?limit=99999999999999999999999", None, None, OK_400),
        "list-limit-negative": Hostile("GET", f"{runs}?limit=-1", None, None, OK_400),
        "list-status-sql": Hostile("GET", f"{runs}?status=running'%20OR%201=1--", None, None, OK_400),
        "list-since-garbage": Hostile("GET", f"{runs}?since=9999-99-99", None, None, OK_400),
        "list-since-far-future": Hostile("GET", f"{runs}?since=99999-01-01T00:00:00Z", None, None, OK_400),
        "list-cursor-garbage": Hostile("GET", f"{runs}?cursor=%00%ff'%22", None, None, frozenset({400, 200})),
        "list-agent-traversal": Hostile("GET", "/agents/..%2F..%2Fetc%2Fpasswd/runs", None, None, frozenset({200, 404})),
        "list-agent-sql": Hostile("GET", f"/agents/{SQL_IN_ID}/runs", None, None, frozenset({200})),
        "list-agent-too-long": Hostile("GET", f"/agents/{'a' * 300}/runs", None, None, frozenset({422})),
        "list-agent-control-char": Hostile("GET", "/agents/a%07b/runs", None, None, frozenset({422})),
        # create_run: malformed bodies, wrong types, deep nesting, invalid text
        "create-not-json": Hostile("POST", runs, b"{trigger: manual"),
        "create-deep-array": Hostile("POST", runs, DEEP_ARRAY),
        "create-deep-object": Hostile("POST", runs, DEEP_OBJECT),
        "create-near-limit-nesting": Hostile("POST", runs, ('{"trigger":' + NEAR_LIMIT_NEST + "}").encode(),
                                             statuses=BAD_FIELDS),
        "create-invalid-utf8": Hostile("POST", runs, INVALID_UTF8),
        "create-lone-surrogate": Hostile("POST", runs, SURROGATE),
        "create-array-body": Hostile("POST", runs, b"[]"),
        "create-trigger-number": Hostile("POST", runs, _j({"trigger": 7}), statuses=frozenset({422})),
        "create-trigger-object": Hostile("POST", runs, _j({"trigger": {"$ne": 1}}), statuses=frozenset({422})),
        "create-run-id-traversal": Hostile("POST", runs, _j({"trigger": "manual", "run_id": NOT_A_UUID}),
                                           statuses=frozenset({422})),
        "create-run-id-sql": Hostile("POST", runs, _j({"trigger": "manual", "run_id": SQL_IN_ID}),
                                     statuses=frozenset({422})),
        "create-huge-string": Hostile("POST", runs, _j({"trigger": HUGE_STRING}), statuses=frozenset({422})),
        "create-too-large": Hostile("POST", runs, _j({"trigger": "x" * (BODY_CAP_BYTES + 10)}), statuses=TOO_LARGE),
        "create-gzip-bomb": Hostile("POST", runs, BOMB, encoding="gzip", statuses=TOO_LARGE),
        "create-bad-gzip": Hostile("POST", runs, b"not gzip", encoding="gzip"),
        "create-xml": Hostile("POST", runs, b"<run/>", "application/xml", WRONG_TYPE),
        "create-form": Hostile("POST", runs, b"trigger=manual", "application/x-www-form-urlencoded", WRONG_TYPE),
        "create-nan": Hostile("POST", runs, b'{"trigger": NaN}', statuses=frozenset({422})),
        "create-huge-int": Hostile("POST", runs, b'{"trigger": ' + b"9" * 5000 + b"}"),
        # enqueue_run
        "enqueue-deep": Hostile("POST", f"{runs}/enqueue", DEEP_ARRAY),
        "enqueue-not-hosted": Hostile("POST", f"{runs}/enqueue", _j({"trigger": "manual", "user_input": "x"}),
                                      statuses=NOT_FOUND),
        "enqueue-user-input-type": Hostile("POST", f"{runs}/enqueue", _j({"trigger": "manual", "user_input": [1]}),
                                           statuses=frozenset({404, 422})),
        # get_run / complete / fail / evaluate / list spans with hostile ids
        "get-run-traversal": Hostile("GET", f"{runs}/..%2F..%2Fetc%2Fpasswd", None, None, NOT_FOUND),
        "get-run-sql": Hostile("GET", f"{runs}/{SQL_IN_ID}", None, None, NOT_FOUND),
        "get-run-huge-id": Hostile("GET", f"{runs}/{'f' * 4000}", None, None, NOT_FOUND),
        "get-run-nul": Hostile("GET", f"{runs}/%00", None, None, NOT_FOUND),
        "complete-sql": Hostile("POST", f"{runs}/{SQL_IN_ID}/complete", None, None, NOT_FOUND),
        "complete-unknown": Hostile("POST", f"{runs}/{uuid.uuid4()}/complete", None, None, NOT_FOUND),
        "fail-deep": Hostile("POST", f"{runs}/{RUN}/fail", DEEP_ARRAY),
        "fail-error-type": Hostile("POST", f"{runs}/{RUN}/fail", _j({"error": {"a": 1}}), statuses=frozenset({422})),
        "fail-surrogate": Hostile("POST", f"{runs}/{RUN}/fail", b'{"error": "\\udfff"}'),
        "evaluate-running": Hostile("POST", f"{runs}/{RUN}/evaluate", None, None, frozenset({409})),
        "evaluate-traversal": Hostile("POST", f"{runs}/..%2F/evaluate", None, None, NOT_FOUND),
        "spans-list-kind-sql": Hostile("GET", f"{upload}?span_kind=LLM'--", None, None, OK_400),
        "spans-list-limit-zero": Hostile("GET", f"{upload}?limit=0", None, None, OK_400),
        "spans-list-unknown-run": Hostile("GET", f"{runs}/{uuid.uuid4()}/spans", None, None, NOT_FOUND),
        # upload_spans: everything the validator must refuse as a whole
        "upload-not-json": Hostile("POST", upload, b'{"spans": [}'),
        "upload-deep": Hostile("POST", upload, DEEP_ARRAY),
        "upload-near-limit-nesting": Hostile(
            # the first span is valid and goes through the mapping; the second makes the upload fail
            "POST", upload, ('{"spans":[{"node_name":"n","attributes":{"a":' + NEAR_LIMIT_NEST + "}},{}]}").encode(),
            statuses=BAD_FIELDS),
        "upload-spans-not-list": Hostile("POST", upload, _j({"spans": "all"}), statuses=frozenset({422})),
        "upload-span-not-object": Hostile("POST", upload, _j({"spans": [1, "two", None]}), statuses=frozenset({422})),
        "upload-wrong-types": Hostile("POST", upload, _upload({"node_name": 5, "span_kind": [], "latency_ms": "fast",
                                                              "token_count": 1.5, "attributes": "x"}),
                                      statuses=frozenset({422})),
        "upload-one-bad-of-two": Hostile("POST", upload, _upload({"node_name": "ok"}, {"node_name": ""}),
                                         statuses=frozenset({422})),
        "upload-short-span-id": Hostile("POST", upload, _upload({"node_name": "n", "span_id": "abc"}),
                                        statuses=frozenset({422})),
        "upload-long-trace-id": Hostile("POST", upload, _upload({"node_name": "n", "trace_id": "a" * 64}),
                                        statuses=frozenset({422})),
        "upload-zero-span-id": Hostile("POST", upload, _upload({"node_name": "n", "span_id": "0" * 16}),
                                       statuses=frozenset({422})),
        "upload-span-id-sql": Hostile("POST", upload, _upload({"node_name": "n", "span_id": "'; DROP TABLE x"}),
                                      statuses=frozenset({422})),
        "upload-far-future": Hostile("POST", upload, _upload({"node_name": "n", "start_time": "9999-12-31T23:59:59Z"}),
                                     statuses=frozenset({422})),
        "upload-negative-time": Hostile("POST", upload, _upload({"node_name": "n", "start_time": "1969-12-31T23:59:59Z"}),
                                        statuses=frozenset({422})),
        "upload-year-zero": Hostile("POST", upload, _upload({"node_name": "n", "end_time": "0000-01-01T00:00:00Z"}),
                                    statuses=frozenset({422})),
        "upload-end-before-start": Hostile("POST", upload, _upload({"node_name": "n", "start_time": "2026-01-02T00:00:00Z",
                                                                    "end_time": "2026-01-01T00:00:00Z"}),
                                           statuses=frozenset({422})),
        "upload-latency-overflow": Hostile("POST", upload, _upload({"node_name": "n", "latency_ms": 1e300}),
                                           statuses=frozenset({422})),
        "upload-latency-infinite-ns": Hostile("POST", upload, _upload({"node_name": "n", "latency_ms": 1e308}),
                                              statuses=frozenset({422})),  # 1e308 ms is inf ns
        "upload-negative-latency": Hostile("POST", upload, _upload({"node_name": "n", "latency_ms": -1}),
                                           statuses=frozenset({422})),
        "upload-tokens-overflow": Hostile("POST", upload, _upload({"node_name": "n", "token_count": 2**64}),
                                          statuses=frozenset({422})),
        "upload-nan-latency": Hostile("POST", upload, b'{"spans": [{"node_name": "n", "latency_ms": NaN}]}',
                                      statuses=frozenset({422})),
        "upload-lone-surrogate-text": Hostile("POST", upload, b'{"spans": [{"node_name": "n", "input_text": "a\\ud800"}]}'),
        "upload-lone-surrogate-key": Hostile("POST", upload,
                                             b'{"spans": [{"node_name": "n", "attributes": {"\\udc00": 1}}]}'),
        "upload-invalid-utf8": Hostile("POST", upload, b'{"spans": [{"node_name": "\xc3\x28"}]}'),
        "upload-too-many-spans": Hostile("POST", upload, _upload(*[{"node_name": "n"}] * 10_001),
                                         statuses=TOO_LARGE),
        "upload-tiny-attributes": Hostile("POST", upload,
                                          ('{"spans":[{"node_name":"n","attributes":{' + ",".join(
                                              f'"k{i}":1' for i in range(140_000)) + "}},{}]}").encode(),
                                          statuses=frozenset({422})),
        "upload-too-large": Hostile("POST", upload, _upload({"node_name": "n", "input_text": "x" * BODY_CAP_BYTES}),
                                    statuses=TOO_LARGE),
        "upload-gzip-bomb": Hostile("POST", upload, BOMB, encoding="gzip", statuses=TOO_LARGE),
        "upload-text-plain": Hostile("POST", upload, b'{"spans": []}', "text/plain", WRONG_TYPE),
        "upload-run-traversal": Hostile("POST", f"{runs}/..%2F..%2Fruns/spans", _upload({"node_name": "n"}),
                                        statuses=NOT_FOUND),
        "upload-run-sql": Hostile("POST", f"{runs}/{SQL_IN_ID}/spans", _upload({"node_name": "n"}),
                                  statuses=NOT_FOUND),
    }


def _other_routes() -> dict[str, Hostile]:
    return {
        "job-traversal": Hostile("GET", "/jobs/..%2F..%2Fetc%2Fpasswd", None, None, NOT_FOUND),
        "job-sql": Hostile("GET", f"/jobs/{SQL_IN_ID}", None, None, NOT_FOUND),
        "job-unknown": Hostile("GET", f"/jobs/{uuid.uuid4()}", None, None, NOT_FOUND),
        "export-table-sql": Hostile("GET", "/export?table=spans%3B%20DROP%20TABLE%20spans&since=2026-01-01T00:00:00Z"
                                    "&until=2026-01-02T00:00:00Z", None, None, OK_400),
        "export-window-backwards": Hostile("GET", "/export?table=runs&since=2026-01-02T00:00:00Z"
                                           "&until=2026-01-01T00:00:00Z", None, None, OK_400),
        "export-agent-too-long": Hostile("GET", f"/export?table=runs&since=2026-01-01T00:00:00Z"
                                         f"&until=2026-01-02T00:00:00Z&agent={'a' * 300}", None, None, OK_400),
        "sql-write": Hostile("POST", "/sql", _j({"sql": "DELETE FROM spans"}), statuses=frozenset({422})),
        "sql-drop": Hostile("POST", "/sql", _j({"sql": "DROP TABLE spans"}), statuses=frozenset({422})),
        "sql-two-statements": Hostile("POST", "/sql", _j({"sql": "SELECT 1; DELETE FROM runs"}),
                                      statuses=frozenset({422})),
        "sql-cte-write": Hostile("POST", "/sql", _j({"sql": "WITH x AS (DELETE FROM runs RETURNING 1) SELECT * FROM x"}),
                                 statuses=frozenset({400, 422})),
        "sql-attach": Hostile("POST", "/sql", _j({"sql": "ATTACH '/tmp/kate-evil.duckdb' AS evil"}),
                              statuses=frozenset({422})),
        "sql-copy-out": Hostile("POST", "/sql", _j({"sql": "COPY spans TO '/tmp/kate-evil.csv'"}),
                                statuses=frozenset({422})),
        "sql-read-file": Hostile("POST", "/sql", _j({"sql": "SELECT * FROM read_text('/etc/passwd')"}),
                                 statuses=frozenset({400})),
        "sql-read-csv": Hostile("POST", "/sql", _j({"sql": "SELECT * FROM read_csv_auto('/etc/passwd')"}),
                                statuses=frozenset({400})),
        "sql-set": Hostile("POST", "/sql", _j({"sql": "SET enable_external_access = true"}), statuses=frozenset({422})),
        "sql-install": Hostile("POST", "/sql", _j({"sql": "INSTALL httpfs"}), statuses=frozenset({422})),
        "sql-pragma": Hostile("POST", "/sql", _j({"sql": "PRAGMA enable_profiling"}), statuses=frozenset({422})),
        "sql-checkpoint": Hostile("POST", "/sql", _j({"sql": "CHECKPOINT"}), statuses=frozenset({422})),
        "sql-tables-garbage-query": Hostile("GET", "/sql/tables?name[]=%00&" + "x=1&" * 2000, None, None,
                                            frozenset({200})),
        "sql-tables-post": Hostile("POST", "/sql/tables", _j({"sql": "DROP TABLE spans"}), statuses=frozenset({405})),
        "sql-params-wrong-type": Hostile("POST", "/sql", _j({"sql": "SELECT ?", "params": "x"}),
                                         statuses=frozenset({422})),
        "sql-max-rows-huge": Hostile("POST", "/sql", _j({"sql": "SELECT 1", "max_rows": 10**30}),
                                     statuses=frozenset({422})),
        "sql-max-rows-bool": Hostile("POST", "/sql", _j({"sql": "SELECT 1", "max_rows": True}),
                                     statuses=frozenset({422})),
        "sql-not-string": Hostile("POST", "/sql", _j({"sql": ["SELECT 1"]}), statuses=frozenset({422})),
        "sql-deep": Hostile("POST", "/sql", DEEP_OBJECT),
        "sql-surrogate": Hostile("POST", "/sql", b'{"sql": "SELECT \'\\ud800\'"}'),
        "sql-huge": Hostile("POST", "/sql", _j({"sql": "SELECT " + "1+" * 500_000 + "1"}),
                            statuses=frozenset({400, 408})),
        "healthz-garbage-query": Hostile("GET", "/healthz?%ff=%00&limit=-1", None, None, frozenset({200})),
        "readyz-garbage-query": Hostile("GET", "/readyz?" + "x=1&" * 2000, None, None, frozenset({200})),
        "openapi-huge-header": Hostile("GET", "/openapi.json", None, None, frozenset({400, 431}), envelope="text",
                                       headers={"X-Huge": "h" * 100_000}),
        "healthz-post": Hostile("POST", "/healthz", b"{}", statuses=frozenset({405})),
        "readyz-body": Hostile("DELETE", "/readyz", None, None, frozenset({405})),
        "metrics-garbage-query": Hostile("GET", "/metrics?name[]=%00&" + "x=1&" * 2000, None, None, frozenset({200})),
        "metrics-post": Hostile("POST", "/metrics", b"{}", statuses=frozenset({405})),
        "openapi-put": Hostile("PUT", "/openapi.json", b"{}", statuses=frozenset({405})),
        "unknown-route": Hostile("GET", "/../../etc/passwd", None, None, NOT_FOUND),
        "unknown-route-encoded": Hostile("GET", "/%2e%2e/%2e%2e/etc/passwd", None, None, NOT_FOUND),
    }


def _otlp_routes() -> dict[str, Hostile]:
    def otlp(body: bytes, content_type: str | None = PROTOBUF, statuses: frozenset[int] = OK_400,
             encoding: str | None = None, path: str = "/v1/traces") -> Hostile:
        envelope = "otlp" if content_type in (PROTOBUF, JSON) else "text"
        return Hostile("POST", path, body, content_type, statuses, encoding, envelope)

    pb = otlp_request
    return {
        "otlp-garbage": otlp(GARBAGE),
        "otlp-truncated": otlp(pb(span(name="x" * 100)).SerializeToString()[:-20]),
        "otlp-length-past-end": otlp(b"\x0a\xff\xff\xff\xff\x0f" + b"x" * 10),
        "otlp-unknown-wire-type": otlp(b"\x0d\x01\x02\x03\x04", statuses=frozenset({200})),  # an unknown field
        "otlp-deep-protobuf": otlp(deep_any_value_protobuf(5_000)),
        "otlp-invalid-utf8-protobuf": otlp(pb(span(name="PLACEHOLDER")).SerializeToString()
                                           .replace(b"PLACEHOLDER", b"\xff\xfe\xed\xa0\x80\xc3\x28xxxx")),
        "otlp-short-ids": otlp(pb(span(trace_id=b"abc"), span(span_id=b"\x01")).SerializeToString(),
                               statuses=frozenset({200})),
        "otlp-zero-ids": otlp(pb(span(trace_id=bytes(16)), span(span_id=bytes(8))).SerializeToString(),
                              statuses=frozenset({200})),
        "otlp-time-overflow": otlp(pb(span(start_time_unix_nano=2**64 - 1)).SerializeToString(),
                                   statuses=frozenset({200})),
        "otlp-tiny-attributes": otlp(tiny_attributes_protobuf(BODY_CAP_BYTES + 4096), statuses=TOO_LARGE),
        "otlp-tiny-attributes-gzip": otlp(gzip.compress(tiny_attributes_protobuf(BODY_CAP_BYTES + 4096)),
                                          statuses=TOO_LARGE, encoding="gzip"),
        "otlp-json-deep": otlp(b'{"resourceSpans":' + DEEP_ARRAY + b"}", JSON),
        "otlp-json-deep-attribute": otlp(otlp_json_span(attributes=[{"key": "d", "value": _nested_any(300)}]), JSON),
        "otlp-json-wrong-types": otlp(_j({"resourceSpans": "everything"}), JSON),
        "otlp-json-span-not-object": otlp(_j({"resourceSpans": [{"scopeSpans": [{"spans": [1, "x"]}]}]}), JSON),
        "otlp-json-short-trace-id": otlp(otlp_json_span(traceId="abcd"), JSON),
        "otlp-json-base64-id": otlp(otlp_json_span(spanId="AQIDBAUGBwg="), JSON),
        "otlp-json-negative-time": otlp(otlp_json_span(startTimeUnixNano="-1"), JSON),
        "otlp-json-time-too-big": otlp(otlp_json_span(startTimeUnixNano="1" + "0" * 30), JSON),
        "otlp-json-time-float": otlp(otlp_json_span(startTimeUnixNano=1.5e300), JSON),
        "otlp-json-surrogate": otlp(otlp_json_span(name="\ud800"), JSON),
        "otlp-json-invalid-utf8": otlp(b'{"resourceSpans": [{"x": "\xff\xfe"}]}', JSON),
        "otlp-json-array": otlp(b"[]", JSON),
        "otlp-json-tiny-attributes": otlp(tiny_attributes_json(BODY_CAP_BYTES + 4096), JSON, TOO_LARGE),
        "otlp-json-nan-id": otlp(b'{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":NaN}]}]}]}', JSON),
        "otlp-gzip-bomb": otlp(BOMB, statuses=TOO_LARGE, encoding="gzip"),
        "otlp-deflate-bomb": otlp(zlib.compress(bytes(64 * 1024 * 1024), 9), statuses=TOO_LARGE, encoding="deflate"),
        "otlp-bad-deflate": otlp(b"\x78\x9c garbage", encoding="deflate"),
        "otlp-unknown-encoding": otlp(b"", encoding="br;q=1, evil"),
        "otlp-xml": otlp(b"<traces/>", "application/xml", WRONG_TYPE),
        "otlp-no-type": otlp(pb(span()).SerializeToString(), None, WRONG_TYPE),
        "otlp-multipart": otlp(b"--x--", "multipart/form-data; boundary=x", WRONG_TYPE),
        "otlp-metrics-garbage-type": otlp(b"x", "text/html", WRONG_TYPE, path="/v1/metrics"),
        "otlp-logs-garbage-type": otlp(b"x", "image/png", WRONG_TYPE, path="/v1/logs"),
    }


def _nested_any(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"stringValue": "x"}
    for _ in range(depth):
        value = {"arrayValue": {"values": [value]}}
    return value


CORPUS: dict[str, Hostile] = {**_runs_api(), **_other_routes(), **_otlp_routes()}
