"""The OTLP/HTTP receiver: POST /v1/traces, POST /v1/logs (GenAI content records; other logs
are dropped, docs/mapping.md#genai-content-in-log-records), and /v1/metrics (accepted and discarded).

Owns the HTTP framing of OTLP: Content-Type, the bounded body read, answers in the request's
encoding and errors as google.rpc.Status (render_otlp_error). Must not decode spans or write:
the shared pipeline (otlp_export) and the sink do that.
"""

from __future__ import annotations

from aiohttp import web
from google.protobuf.message import Message
from kate.collector.api.access import principal
from kate.collector.api.context import STATE_KEY
from kate.collector.errors import BadRequest, KateError, Overloaded, PayloadTooLarge, UnsupportedMediaType
from kate.collector.ingest.pipeline import ingest_logs, ingest_traces
from kate.collector.ingest.wire import decompress, encode_response, encode_status, media_type
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse

# aiohttp's request parser inflates these Content-Encodings itself, in bounded chunks, before
# the handler reads (auto_decompress); _read_body counts the inflated bytes against the cap.
_INFLATED_BY_AIOHTTP = frozenset({"gzip", "deflate", "br", "zstd"})


async def receive_traces(request: web.Request) -> web.Response:
    """OTLP/HTTP export: store the spans, answer after commit in the request's media type."""
    state = request.app[STATE_KEY]
    kind = media_type(request.headers.get("Content-Type", ""))  # 415 before reading the body
    body = await _read_body(request, state.config.server.max_body_bytes)
    response = await ingest_traces(
        body, kind, state.sink, protocol="otlp_http",
        require_agent=principal(request).require_agent,  # agent ids come from the body
    )
    return _protobuf_response(response, kind)


async def receive_logs(request: web.Request) -> web.Response:
    """OTLP/HTTP logs export: keep the GenAI content records, answer after commit."""
    state = request.app[STATE_KEY]
    kind = media_type(request.headers.get("Content-Type", ""))
    body = await _read_body(request, state.config.server.max_body_bytes)
    response = await ingest_logs(body, kind, state.sink, protocol="otlp_http",
                                 require_agent=principal(request).require_agent)
    return _protobuf_response(response, kind)


async def discard_signal(request: web.Request) -> web.Response:
    """/v1/metrics: success, so an exporter sending every signal sees no errors."""
    kind = media_type(request.headers.get("Content-Type", ""))
    return _protobuf_response(ExportTraceServiceResponse(), kind)  # empty: `{}` or zero bytes


def _protobuf_response(response: Message, kind: str) -> web.Response:
    return web.Response(body=encode_response(response, kind), content_type=kind)


async def _read_body(request: web.Request, max_bytes: int) -> bytes:
    """The uncompressed body, refused past max_bytes while reading (OTLP: the cap holds after
    decompression, 413), so a decompression bomb never holds more than the cap in memory."""
    encoding = request.headers.get("Content-Encoding", "").strip().lower()
    if (request.content_length or 0) > max_bytes and encoding not in _INFLATED_BY_AIOHTTP:
        raise PayloadTooLarge(f"request body is {request.content_length} bytes, limit is {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.content.iter_any():
            size += len(chunk)
            if size > max_bytes:
                msg = f"request body exceeds the limit of {max_bytes} bytes (counted after decompression)"
                raise PayloadTooLarge(msg)
            chunks.append(chunk)
    except web.RequestPayloadError as exc:  # aiohttp could not inflate (or finish reading) the body
        raise BadRequest(f"request body is not valid {encoding or 'data'}: {' '.join(str(exc).split())}") from exc
    body = b"".join(chunks)
    if encoding in _INFLATED_BY_AIOHTTP:
        return body
    return decompress(body, encoding, max_bytes=max_bytes)  # identity, x-gzip; 400 for unknown ones


def render_otlp_error(request: web.Request, error: KateError) -> web.Response:
    """An error on an OTLP route: google.rpc.Status in the request's media type (text/plain
    when that type is not OTLP's), with Retry-After for retryable errors."""
    if error.status >= 500 and not error.retryable:
        # OTLP: a failure without a definite status is retryable (the Collector answers 503), and
        # a 500 would make exporters drop the batch at once.
        error = Overloaded("the collector failed to store the spans; retry later")
    try:
        kind = media_type(request.headers.get("Content-Type", ""))
    except UnsupportedMediaType:
        response = web.Response(status=error.to_http_status(), text=error.message, headers=error.headers())
    else:
        body = encode_status(error.message, kind, code=error.to_grpc_code().value[0])
        response = web.Response(status=error.to_http_status(), body=body, content_type=kind, headers=error.headers())
    if not request.content.is_eof():
        response.force_close()  # the rest of the body is unread: do not reuse the connection
    return response
