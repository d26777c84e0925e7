"""OTLP/HTTP bodies to and from protobuf messages: Content-Encoding, Content-Type and hex ids.

Pure bytes in, messages out: no server, no span validation (otlp_decode owns that), no storage.
"""

from __future__ import annotations

import base64
import json
import zlib
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from google.protobuf import json_format
from google.protobuf.message import DecodeError, Message
from google.rpc import status_pb2
from kate.collector.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

RequestT = TypeVar("RequestT", ExportTraceServiceRequest, ExportLogsServiceRequest)

PROTOBUF = "application/x-protobuf"
JSON = "application/json"

_CHUNK_BYTES = 256 * 1024
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_ZLIB_WBITS = zlib.MAX_WBITS
_RAW_DEFLATE_WBITS = -zlib.MAX_WBITS
_IDENTITY = frozenset({"", "identity"})
_GZIP = frozenset({"gzip", "x-gzip"})

# OTLP/JSON: (camelCase key, snake_case key the Collector also accepts, id size in bytes).
_SPAN_ID_FIELDS = (("traceId", "trace_id", 16), ("spanId", "span_id", 8), ("parentSpanId", "parent_span_id", 8))
_LINK_ID_FIELDS = _SPAN_ID_FIELDS[:2]
# A log record's ids are optional (OTLP: empty when the record belongs to no span).
_LOG_ID_FIELDS = (("traceId", "trace_id", 16), ("spanId", "span_id", 8))
_MAX_DETAIL_CHARS = 500
_JSON_TYPES = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}


def decompress(body: bytes, content_encoding: str | None, *, max_bytes: int) -> bytes:
    """Undo the Content-Encoding, refusing output above max_bytes while inflating.

    OTLP: the body limit applies after decompression (413), so a bomb stops at the cap.
    Raises PayloadTooLarge past the cap, BadRequest for corrupt data or an unknown encoding.
    """
    encoding = (content_encoding or "").strip().lower()
    if encoding in _IDENTITY:
        if len(body) > max_bytes:
            raise PayloadTooLarge(f"request body is {len(body)} bytes, limit is {max_bytes}")
        return body
    if encoding in _GZIP:
        return _gunzip(body, max_bytes)
    if encoding == "deflate":
        return _inflate_deflate(body, max_bytes)
    # The Collector answers 400 "unsupported Content-Encoding" (docs/api.md#otlp-over-http).
    msg = f"unsupported Content-Encoding {content_encoding!r}; expected gzip, deflate or identity"
    raise BadRequest(msg)


class _BoundedInflater:
    """Collects inflated chunks across streams and refuses once their total passes max_bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.chunks: list[bytes] = []
        self.size = 0

    def inflate(self, data: bytes, wbits: int) -> bytes:
        """Inflate one stream from data; returns the bytes after its end. Raises zlib.error."""
        inflater = zlib.decompressobj(wbits)
        pending = data
        while not inflater.eof:
            # max_length keeps each step bounded, so at most max_bytes + 1 bytes are ever produced.
            chunk = inflater.decompress(pending, min(_CHUNK_BYTES, self.max_bytes - self.size + 1))
            pending = inflater.unconsumed_tail
            if not chunk and not pending and not inflater.eof:
                raise BadRequest("compressed request body is truncated")
            self.size += len(chunk)
            if self.size > self.max_bytes:
                raise PayloadTooLarge(f"decompressed request body exceeds the limit of {self.max_bytes} bytes")
            self.chunks.append(chunk)
        return inflater.unused_data

    def result(self) -> bytes:
        return b"".join(self.chunks)


def _gunzip(body: bytes, max_bytes: int) -> bytes:
    inflater = _BoundedInflater(max_bytes)
    rest = body
    try:
        # RFC 1952 allows several members back to back; Go's gzip reader (the Collector) reads them all.
        while True:
            rest = inflater.inflate(rest, _GZIP_WBITS)
            if not rest:
                return inflater.result()
    except zlib.error as exc:
        raise BadRequest(f"invalid gzip request body: {exc}") from exc


def _inflate_deflate(body: bytes, max_bytes: int) -> bytes:
    # HTTP "deflate" is zlib-wrapped (RFC 9110 §8.4.1.2; the Python exporter uses zlib.compress),
    # but some clients send raw deflate (RFC 1951), so the zlib header decides.
    wbits = _ZLIB_WBITS if _has_zlib_header(body) else _RAW_DEFLATE_WBITS
    inflater = _BoundedInflater(max_bytes)
    try:
        trailing = inflater.inflate(body, wbits)
    except zlib.error as exc:
        raise BadRequest(f"invalid deflate request body: {exc}") from exc
    if trailing:
        raise BadRequest(f"deflate request body has {len(trailing)} bytes after the end of the stream")
    return inflater.result()


def _has_zlib_header(body: bytes) -> bool:
    # RFC 1950: CM = 8 in the low nibble and CMF*256 + FLG divisible by 31. A raw deflate stream
    # from a real compressor never starts that way (its first block is not stored-with-padding).
    return len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] << 8 | body[1]) % 31 == 0


def media_type(content_type: str) -> str:
    """PROTOBUF or JSON for a Content-Type header; parameters such as charset are ignored.

    Raises UnsupportedMediaType (415) for anything else, as the Collector does.
    """
    essence = content_type.split(";", 1)[0].strip().lower()
    if essence in (PROTOBUF, JSON):
        return essence
    raise UnsupportedMediaType(f"unsupported Content-Type {content_type!r}; expected {PROTOBUF} or {JSON}")


def parse_request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    """Parse an uncompressed OTLP/HTTP trace body. Raises BadRequest or UnsupportedMediaType."""
    return _parse(body, content_type, ExportTraceServiceRequest(), _rewrite_span_ids)


def parse_logs_request(body: bytes, content_type: str) -> ExportLogsServiceRequest:
    """Parse an uncompressed OTLP/HTTP logs body. Raises BadRequest or UnsupportedMediaType."""
    return _parse(body, content_type, ExportLogsServiceRequest(), _rewrite_log_ids)


def _parse(body: bytes, content_type: str, request: RequestT,
           rewrite_ids: Callable[[dict[str, Any]], None]) -> RequestT:
    if media_type(content_type) == PROTOBUF:
        try:
            request.ParseFromString(body)
        except DecodeError as exc:
            raise BadRequest(f"invalid OTLP protobuf body: {exc}") from exc
        return request
    document = _load_json_object(body)
    rewrite_ids(document)
    try:
        # OTLP/JSON: receivers MUST ignore unknown fields.
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError) as exc:
        # json_format quotes the offending value, which may be huge: keep the message readable.
        raise BadRequest(f"invalid OTLP/JSON body: {str(exc)[:_MAX_DETAIL_CHARS]}") from exc
    return request


def _load_json_object(body: bytes) -> dict[str, Any]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(f"OTLP/JSON body is not valid UTF-8: {exc}") from exc
    try:
        document = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise BadRequest(f"OTLP/JSON body is not valid JSON: {exc}") from exc
    if not isinstance(document, dict):
        raise BadRequest(f"OTLP/JSON body must be an object, got {_json_type(document)}")
    return document


def _rewrite_span_ids(document: dict[str, Any]) -> None:
    """OTLP/JSON: ids are case-insensitive hex, not proto3 base64; json_format would silently
    base64-decode them into garbage (docs/architecture.md#the-ingestion-pipeline), so hand it base64 instead."""
    for rs_path, resource_spans in _children(document, "resourceSpans", "resource_spans", ""):
        for ss_path, scope_spans in _children(resource_spans, "scopeSpans", "scope_spans", rs_path):
            for span_path, span in _children(scope_spans, "spans", "spans", ss_path):
                _rewrite_id_fields(span, _SPAN_ID_FIELDS, span_path)
                for link_path, link in _children(span, "links", "links", span_path):
                    _rewrite_id_fields(link, _LINK_ID_FIELDS, link_path)


def _rewrite_log_ids(document: dict[str, Any]) -> None:
    """_rewrite_span_ids for the trace and span ids of log records."""
    for rl_path, resource_logs in _children(document, "resourceLogs", "resource_logs", ""):
        for sl_path, scope_logs in _children(resource_logs, "scopeLogs", "scope_logs", rl_path):
            for record_path, record in _children(scope_logs, "logRecords", "log_records", sl_path):
                _rewrite_id_fields(record, _LOG_ID_FIELDS, record_path, optional=True)


def _children(parent: dict[str, Any], camel: str, snake: str, path: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The objects of an array field with their JSON paths; wrong shapes are left for ParseDict to name."""
    key = camel if camel in parent else snake
    items = parent.get(key)
    if not isinstance(items, list):
        return
    prefix = f"{path}.{key}" if path else key
    for index, item in enumerate(items):
        if isinstance(item, dict):
            yield f"{prefix}[{index}]", item


def _rewrite_id_fields(obj: dict[str, Any], id_fields: tuple[tuple[str, str, int], ...], path: str,
                       *, optional: bool = False) -> None:
    """optional: every id may be empty (log records); otherwise only a parent span id may."""
    for camel, snake, size in id_fields:
        for key in (camel, snake):
            value = obj.get(key)
            if value is not None:
                allow_empty = optional or camel == "parentSpanId"
                obj[key] = _hex_to_base64(value, size, allow_empty=allow_empty, path=f"{path}.{key}")


def _hex_to_base64(value: object, size: int, *, allow_empty: bool, path: str) -> str:
    if isinstance(value, str):
        if allow_empty and not value:
            return ""
        if len(value) == 2 * size:
            try:
                raw = bytes.fromhex(value)
            except ValueError:
                raw = b""  # not hex: reported below
            if len(raw) == size:  # fromhex skips spaces, so the length check is needed too
                return base64.b64encode(raw).decode("ascii")
    shown = repr(value)[:80] if isinstance(value, str) else _json_type(value)
    description = f"must be {2 * size} hex digits, got {shown}"
    raise BadRequest(f"{path} {description}", details=[{"field": path, "message": description}])


def _json_type(value: object) -> str:
    return "null" if value is None else _JSON_TYPES.get(type(value), type(value).__name__)


def encode_response(response: Message, content_type: str) -> bytes:
    """The response body in the request's media type (OTLP: the server MUST answer in kind).

    Full success is zero bytes in protobuf and `{}` in JSON. Raises UnsupportedMediaType.
    """
    return _encode(response, media_type(content_type))


def encode_status(message: str, content_type: str, *, code: int = 0) -> bytes:
    """A google.rpc.Status error body in the request's media type (OTLP: 4xx/5xx bodies).

    code is the optional gRPC status code (OTLP: it may be omitted). Raises UnsupportedMediaType;
    for a 415 answer use text/plain, as the Collector does.
    """
    return _encode(status_pb2.Status(code=code, message=message), media_type(content_type))


def _encode(message: Message, kind: str) -> bytes:
    if kind == PROTOBUF:
        serialized: bytes = message.SerializeToString()
        return serialized
    # OTLP/JSON: lowerCamelCase keys and int64 as decimal strings (json_format's defaults), enums as ints.
    document = json_format.MessageToDict(message, use_integers_for_enums=True)
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
