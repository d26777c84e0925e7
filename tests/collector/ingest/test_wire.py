from __future__ import annotations

import base64
import contextlib
import gzip
import json
import tracemalloc
import zlib
from typing import Any

import pytest
from google.rpc import status_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kate.collector.errors import BadRequest, KateError, PayloadTooLarge, UnsupportedMediaType
from kate.collector.ingest.wire import (
    JSON,
    PROTOBUF,
    decompress,
    encode_response,
    encode_status,
    media_type,
    parse_request,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTracePartialSuccess,
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.trace import Link, Status, StatusCode, Tracer
from otlp_bodies import LIBERAL, SPEC, JsonStyle, request_json, sdk_request

MiB = 1024 * 1024


def _emit_agent_run(tracer: Tracer) -> None:
    with tracer.start_as_current_span("agent", attributes={"kate.run.id": "r-1", "count": 3}) as root:
        root.add_event("started", {"step": 1, "tags": ["a", "b"]})
        with tracer.start_as_current_span(
            "llm", attributes={"input.value": "héllo ✓", "ratio": 0.5, "ok": True, "blob": b"\x00\xff"}
        ) as llm:
            llm.set_attribute("nested", {"a": [1, {"b": None}], "c": "d"})
            llm.set_status(Status(StatusCode.ERROR, "boom"))
        tracer.start_span("linked", links=[Link(root.get_span_context(), {"why": "retry"})]).end()


@pytest.fixture(scope="module")
def request_message() -> ExportTraceServiceRequest:
    return sdk_request(_emit_agent_run, {"service.name": "agent-svc", "kate.agent.id": "a-1"})


def _json_body(request: ExportTraceServiceRequest, style: JsonStyle = SPEC) -> bytes:
    return json.dumps(request_json(request, style)).encode()


def _span_json(traceId: Any = "0" * 31 + "1", spanId: Any = "0" * 15 + "1", **extra: Any) -> bytes:  # noqa: N803
    span = {"traceId": traceId, "spanId": spanId, "name": "s", **extra}
    return json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}).encode()


# --- Content-Type -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/x-protobuf", PROTOBUF),
        ("Application/X-Protobuf", PROTOBUF),
        ("application/json", JSON),
        ("application/json; charset=utf-8", JSON),
        (" APPLICATION/JSON ;charset=UTF-8", JSON),
    ],
)
def test_media_type_ignores_case_and_parameters(header: str, expected: str) -> None:
    assert media_type(header) == expected


@pytest.mark.parametrize("header", ["", "text/plain", "application/protobuf", "application/jsonl", "json"])
def test_unsupported_content_type_is_415(header: str) -> None:
    with pytest.raises(UnsupportedMediaType, match="unsupported Content-Type"):
        parse_request(b"{}", header)


# --- protobuf and JSON bodies ------------------------------------------------------------


def test_protobuf_body_from_the_stock_encoder_round_trips(request_message: ExportTraceServiceRequest) -> None:
    parsed = parse_request(request_message.SerializeToString(), "application/x-protobuf")
    assert parsed == request_message
    assert len(parsed.resource_spans[0].scope_spans[0].spans) == 3


@pytest.mark.parametrize(
    "style",
    [
        SPEC,
        JsonStyle(numbers=True),
        JsonStyle(upper_hex=True),
        JsonStyle(snake_case=True),
        JsonStyle(unknown_fields=True),
        JsonStyle(enum_names=True),
        LIBERAL,
    ],
    ids=repr,
)
def test_json_body_parses_to_the_same_message(request_message: ExportTraceServiceRequest, style: JsonStyle) -> None:
    parsed = parse_request(_json_body(request_message, style), "application/json; charset=utf-8")
    assert parsed == request_message


def test_json_ids_are_hex_not_base64(request_message: ExportTraceServiceRequest) -> None:
    # OTLP/JSON pitfall: json_format alone turns a 32-hex-digit id into 24 bytes of garbage.
    span = parse_request(_json_body(request_message), JSON).resource_spans[0].scope_spans[0].spans[0]
    assert len(span.trace_id) == 16
    assert span.trace_id == request_message.resource_spans[0].scope_spans[0].spans[0].trace_id


def test_json_unknown_enum_name_is_ignored_like_an_unknown_field() -> None:
    span = parse_request(_span_json(kind="SPAN_KIND_FROM_THE_FUTURE"), JSON).resource_spans[0].scope_spans[0].spans[0]
    assert span.kind == 0


def test_json_null_and_empty_parent_span_id_mean_root() -> None:
    for parent in ("", None):
        span = parse_request(_span_json(parentSpanId=parent), JSON).resource_spans[0].scope_spans[0].spans[0]
        assert span.parent_span_id == b""


@pytest.mark.parametrize(
    ("body", "content_type"),
    [(b"", PROTOBUF), (b"{}", JSON), (b'{"resourceSpans": []}', JSON), (b'{"resourceSpans": [{}]}', JSON)],
)
def test_request_without_spans_is_not_an_error(body: bytes, content_type: str) -> None:
    request = parse_request(body, content_type)
    assert not [span for rs in request.resource_spans for ss in rs.scope_spans for span in ss.spans]


@pytest.mark.parametrize(
    ("body", "path", "expected"),
    [
        (_span_json(traceId="abc"), "spans[0].traceId", "32 hex digits, got 'abc'"),
        (_span_json(traceId="z" * 32), "spans[0].traceId", "32 hex digits"),
        (_span_json(traceId="0a 0b 0c 0d 0e 0f 0a 0b 0c 0d 0"), "spans[0].traceId", "32 hex digits"),
        (_span_json(traceId=""), "spans[0].traceId", "32 hex digits"),
        (_span_json(traceId=base64.b64encode(bytes(range(1, 17))).decode()), "spans[0].traceId", "32 hex"),
        (_span_json(spanId="0" * 32), "spans[0].spanId", "16 hex digits"),
        (_span_json(spanId=12), "spans[0].spanId", "16 hex digits, got number"),
        (_span_json(parentSpanId="xyz"), "spans[0].parentSpanId", "16 hex digits"),
        (_span_json(parent_span_id="12"), "spans[0].parent_span_id", "16 hex digits"),
        (_span_json(links=[{"traceId": "0" * 31 + "1", "spanId": "q"}]), "spans[0].links[0].spanId", "16 hex"),
    ],
)
def test_invalid_json_id_is_400_naming_its_path(body: bytes, path: str, expected: str) -> None:
    with pytest.raises(BadRequest) as raised:
        parse_request(body, JSON)
    assert f"resourceSpans[0].scopeSpans[0].{path} must be" in raised.value.message
    assert expected in raised.value.message
    assert raised.value.details[0]["field"] == f"resourceSpans[0].scopeSpans[0].{path}"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b'{"resourceSpans": [\xff]}', "not valid UTF-8"),
        (b"[]", "must be an object, got array"),
        (b"null", "must be an object, got null"),
        (b'"text"', "must be an object, got string"),
        (b'{"resourceSpans": "x"}', "invalid OTLP/JSON"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [1]}]}]}', "invalid OTLP/JSON"),
        (_span_json(startTimeUnixNano="soon"), "invalid OTLP/JSON"),
        (_span_json(startTimeUnixNano=-1), "invalid OTLP/JSON"),
        (_span_json(name=5), "invalid OTLP/JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not valid JSON"),
    ],
)
def test_malformed_json_is_400(body: bytes, expected: str) -> None:
    with pytest.raises(BadRequest, match=expected):
        parse_request(body, JSON)


@pytest.mark.parametrize("body", [b"\xff\xff\xff", b"\x0a\x05abc", b"\x0a" + b"\x0a\x7f" * 200])
def test_invalid_protobuf_is_400(body: bytes) -> None:
    with pytest.raises(BadRequest, match="invalid OTLP protobuf"):
        parse_request(body, PROTOBUF)


# --- Content-Encoding --------------------------------------------------------------------


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        (None, lambda b: b),
        ("", lambda b: b),
        ("identity", lambda b: b),
        ("gzip", gzip.compress),
        (" GZip ", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),  # what the Python exporter sends
        ("Deflate", _raw_deflate),
    ],
)
def test_decompress_round_trips(
    request_message: ExportTraceServiceRequest, encoding: str | None, compress: Any
) -> None:
    body = request_message.SerializeToString()
    restored = decompress(compress(body), encoding, max_bytes=len(body))
    assert parse_request(restored, PROTOBUF) == request_message


def test_gzip_members_back_to_back_are_concatenated() -> None:
    assert decompress(gzip.compress(b"abc") + gzip.compress(b"def"), "gzip", max_bytes=6) == b"abcdef"


@pytest.mark.parametrize("encoding", ["gzip", "deflate", None])
def test_cap_applies_to_the_decompressed_size(encoding: str | None) -> None:
    data = bytes(1000)
    body = {"gzip": gzip.compress, "deflate": zlib.compress, None: bytes}[encoding](data)
    assert decompress(body, encoding, max_bytes=1000) == data
    with pytest.raises(PayloadTooLarge):
        decompress(body, encoding, max_bytes=999)


@pytest.fixture(scope="module")
def bombs() -> dict[str, bytes]:
    """1 GiB of zeros compressed to about 1 MiB, gzipped and zlib-wrapped (deflate)."""
    compressor = zlib.compressobj(6, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(MiB)
    gzipped = b"".join(compressor.compress(zeros) for _ in range(1024)) + compressor.flush()
    adler = 1
    for _ in range(1024):
        adler = zlib.adler32(zeros, adler)
    # Same deflate stream, reframed: RFC 1952 header (10 bytes) and trailer (8) → RFC 1950 ones.
    deflated = b"\x78\x9c" + gzipped[10:-8] + adler.to_bytes(4, "big")
    return {"gzip": gzipped, "deflate": deflated}


def test_bomb_fixtures_are_what_they_claim(bombs: dict[str, bytes]) -> None:
    assert int.from_bytes(bombs["gzip"][-4:], "little") == 1024 * MiB  # RFC 1952 ISIZE
    for name, wbits in (("gzip", 16 + zlib.MAX_WBITS), ("deflate", zlib.MAX_WBITS)):
        assert len(bombs[name]) < 2 * MiB
        assert zlib.decompressobj(wbits).decompress(bombs[name], 1000) == bytes(1000)


@pytest.mark.parametrize("encoding", ["gzip", "deflate"])
def test_decompression_bomb_is_refused_at_the_cap_in_bounded_memory(bombs: dict[str, bytes], encoding: str) -> None:
    cap = 4 * MiB
    tracemalloc.start()
    try:
        with pytest.raises(PayloadTooLarge, match=str(cap)):
            decompress(bombs[encoding], encoding, max_bytes=cap)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 3 * cap


def test_truncated_gzip_is_400(request_message: ExportTraceServiceRequest) -> None:
    body = gzip.compress(request_message.SerializeToString())
    for cut in (1, 8, len(body) // 2, len(body) - 1):
        with pytest.raises(BadRequest):
            decompress(body[:cut], "gzip", max_bytes=MiB)


@pytest.mark.parametrize(
    ("body", "encoding", "expected"),
    [
        (b"plain text", "gzip", "invalid gzip"),
        (gzip.compress(b"abc")[:-4] + b"\x00\x00\x00\x00", "gzip", "invalid gzip"),  # bad length trailer
        (gzip.compress(b"abc") + b"junk", "gzip", "invalid gzip"),
        (b"\x78\x9c garbage", "deflate", "invalid deflate"),
        (zlib.compress(b"abc") + b"junk", "deflate", "after the end"),
        (zlib.compress(b"abc")[:-2], "deflate", "truncated"),
    ],
)
def test_corrupt_compressed_body_is_400(body: bytes, encoding: str, expected: str) -> None:
    with pytest.raises(BadRequest, match=expected):
        decompress(body, encoding, max_bytes=MiB)


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip, gzip", "compress"])
def test_unknown_content_encoding_is_400(encoding: str) -> None:
    with pytest.raises(BadRequest, match="unsupported Content-Encoding"):
        decompress(b"x", encoding, max_bytes=MiB)


# --- responses ---------------------------------------------------------------------------


def test_full_success_response_is_empty() -> None:
    assert encode_response(ExportTraceServiceResponse(), PROTOBUF) == b""
    assert encode_response(ExportTraceServiceResponse(), "application/json; charset=utf-8") == b"{}"


def test_partial_success_response_in_both_encodings() -> None:
    partial = ExportTracePartialSuccess(rejected_spans=3, error_message="span x: bad id")
    response = ExportTraceServiceResponse(partial_success=partial)
    assert json.loads(encode_response(response, JSON)) == {
        "partialSuccess": {"rejectedSpans": "3", "errorMessage": "span x: bad id"}
    }
    assert ExportTraceServiceResponse.FromString(encode_response(response, PROTOBUF)) == response


def test_status_body_in_both_encodings() -> None:
    assert json.loads(encode_status("bad trace id ✗", JSON, code=3)) == {"code": 3, "message": "bad trace id ✗"}
    assert json.loads(encode_status("too big", JSON)) == {"message": "too big"}  # OTLP: code may be omitted
    status = status_pb2.Status.FromString(encode_status("too big", PROTOBUF, code=8))
    assert (status.code, status.message) == (8, "too big")
    with pytest.raises(UnsupportedMediaType):
        encode_status("x", "text/plain")


# --- nothing but KateError escapes -------------------------------------------------------

_json_values = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
_otlp_keys = st.sampled_from(
    ["resourceSpans", "scopeSpans", "spans", "traceId", "spanId", "parentSpanId", "links", "attributes",
     "key", "value", "stringValue", "intValue", "arrayValue", "kvlistValue", "values", "bytesValue",
     "startTimeUnixNano", "kind", "status", "code", "events", "resource", "scope", "name", "flags"]
)  # fmt: skip
_otlp_like = st.recursive(
    _json_values,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_otlp_keys, inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=300)
@given(body=st.binary(max_size=300), content_type=st.sampled_from([PROTOBUF, JSON]))
def test_arbitrary_bytes_raise_only_kate_errors(body: bytes, content_type: str) -> None:
    with contextlib.suppress(KateError):
        parse_request(body, content_type)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(document=st.dictionaries(_otlp_keys, _otlp_like, max_size=3))
def test_arbitrary_otlp_shaped_json_raises_only_kate_errors(document: dict[str, Any]) -> None:
    with contextlib.suppress(KateError):
        parse_request(json.dumps(document).encode(), JSON)


@settings(max_examples=300)
@given(
    body=st.binary(max_size=300) | st.binary(max_size=200).map(gzip.compress).map(lambda b: b[: len(b) // 2]),
    encoding=st.sampled_from(["gzip", "deflate", "x-gzip", "identity", "br"]),
)
def test_arbitrary_compressed_bytes_raise_only_kate_errors(body: bytes, encoding: str) -> None:
    with contextlib.suppress(KateError):
        decompress(body, encoding, max_bytes=1000)
