"""The OTLP/gRPC receiver: TraceService/Export and LogsService/Export on a grpc.aio server in the
collector's loop.

Owns the gRPC framing of OTLP: message cap, status codes and the RetryInfo trailers. Must not
decode spans or write: the shared pipeline (otlp_export) and the sink do that. gzip is
inflated by grpcio itself, under the same message cap.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import NoReturn

import grpc
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from kate.collector import metrics
from kate.collector.auth import Authenticator, credential_from_headers
from kate.collector.config import ServerConfig
from kate.collector.errors import KateError, Overloaded
from kate.collector.ingest.pipeline import ingest_logs, ingest_traces
from kate.collector.ingest.sink import Sink
from kate.collector.ingest.wire import PROTOBUF
from kate.collector.listen import PortUnavailable, bind_http, display_address
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

logger = logging.getLogger(__name__)
_Context = grpc.aio.ServicerContext[bytes, Message]
_Export = Callable[..., Awaitable[Message]]
_TRACE_SERVICE = trace_service_pb2.DESCRIPTOR.services_by_name["TraceService"].full_name
_LOGS_SERVICE = logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"].full_name
Metadata = tuple[tuple[str, bytes], ...]

# Go clients read RetryInfo from the status details, the Python exporter from its own trailer
# (docs/api.md#otlp-over-grpc), so a retryable answer carries both.
STATUS_DETAILS_KEY = "grpc-status-details-bin"
RETRY_INFO_KEY = "google.rpc.retryinfo-bin"


class ExportServicer:
    """Export of one OTLP service (TraceService, LogsService): decode (in the sink's decode pool)
    and store; the loop boundary of gRPC calls."""

    def __init__(self, sink: Sink, authenticator: Authenticator, export: _Export, signal: str) -> None:
        self._sink = sink
        self._authenticator = authenticator
        self._export = export
        self._signal = signal  # "spans", "log records": for the messages

    async def Export(  # noqa: N802 - the name is the RPC's
        self, request: bytes, context: _Context
    ) -> Message:
        """request is the serialized Export*ServiceRequest (see _rpc_handler)."""
        try:
            caller = self._authenticator.authenticate(_credential(context))
            return await self._export(request, PROTOBUF, self._sink, protocol="otlp_grpc",
                                      require_agent=caller.require_agent)
        except KateError as exc:
            error = exc
        except Exception:  # the request boundary: logged, and answered as retryable
            logger.exception("OTLP/gRPC export of %s failed", self._signal)
            error = Overloaded(f"the collector failed to store the {self._signal}; retry later")
        await _abort(context, error)


def _credential(context: _Context) -> str | None:
    """The API key from the `authorization` (Bearer, what OTLP exporters send) or `x-api-key` metadata."""
    metadata = {key.lower(): value for key, value in (context.invocation_metadata() or ())}
    authorization, api_key = metadata.get("authorization"), metadata.get("x-api-key")
    return credential_from_headers(
        authorization if isinstance(authorization, str) else None, api_key if isinstance(api_key, str) else None
    )


def _rpc_handler(servicer: ExportServicer, service: str) -> grpc.GenericRpcHandler:
    """<service>/Export taking raw bytes: grpcio would answer a corrupt message UNKNOWN, but
    OTLP wants bad data as INVALID_ARGUMENT, so the servicer parses it (as receive_http does)."""
    export: grpc.RpcMethodHandler[bytes, Message] = grpc.unary_unary_rpc_method_handler(
        servicer.Export, request_deserializer=None, response_serializer=_serialized
    )
    return grpc.method_handlers_generic_handler(service, {"Export": export})


def _serialized(response: Message) -> bytes:
    serialized: bytes = response.SerializeToString()
    return serialized


async def _abort(context: _Context, error: KateError) -> NoReturn:
    """End the call with error's status (OTLP: transient → UNAVAILABLE, bad data → INVALID_ARGUMENT)."""
    code = error.to_grpc_code()
    metrics.REQUEST_ERRORS.labels("grpc", error.code).inc()
    await context.abort(code, error.message, trailing_metadata=error_trailers(error, code))
    raise AssertionError("unreachable: context.abort raises")  # for the type checker


def error_trailers(error: KateError, code: grpc.StatusCode) -> Metadata:
    """RetryInfo trailers for a retryable error (both spellings); none for the others."""
    retry_after_s = getattr(error, "retry_after_s", None)
    if not error.retryable or retry_after_s is None:
        return ()
    retry_info = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=int(retry_after_s)))
    detail = any_pb2.Any()
    detail.Pack(retry_info)
    status = status_pb2.Status(code=code.value[0], message=error.message, details=[detail])
    return ((STATUS_DETAILS_KEY, status.SerializeToString()), (RETRY_INFO_KEY, retry_info.SerializeToString()))


class GrpcReceiver:
    """The grpc.aio server's lifecycle: start() after the store opened, stop() before it closes."""

    def __init__(self, server: ServerConfig, sink: Sink, authenticator: Authenticator) -> None:
        self._config = server
        self._handlers = (
            _rpc_handler(ExportServicer(sink, authenticator, ingest_traces, "spans"), _TRACE_SERVICE),
            _rpc_handler(ExportServicer(sink, authenticator, ingest_logs, "log records"), _LOGS_SERVICE),
        )
        self._server: grpc.aio.Server | None = None
        self.port: int | None = None  # the bound port, once started

    @property
    def host(self) -> str:
        return self._config.grpc_host

    def bind(self) -> None:
        """Take grpc_host:grpc_port now (0 picks a free port), before the store opens; serving
        starts in start(). PortUnavailable (an OSError) naming server.grpc_port if it cannot."""
        if self._server is not None:
            return
        server = grpc.aio.server(options=self._options())
        server.add_generic_rpc_handlers(self._handlers)
        address = _address(self._config.grpc_host, self._config.grpc_port)
        try:
            self.port = server.add_insecure_port(address)  # grpcio binds here
        except RuntimeError as exc:
            raise _bind_failure(self._config.grpc_host, self._config.grpc_port) from exc
        self._server = server

    async def start(self) -> None:
        """Serve OTLP/gRPC (binding first when bind() was not called). Raises OSError if it cannot bind."""
        self.bind()
        assert self._server is not None and self.port is not None  # bind() set both
        await self._server.start()
        logger.info("OTLP/gRPC listening on %s", _address(self._config.grpc_host, self.port))

    async def stop(self, grace_s: float) -> None:
        """Refuse new calls, let running ones finish for grace_s, then cancel. Safe to call twice."""
        server, self._server = self._server, None
        if server is not None:
            await server.stop(grace_s)

    def _options(self) -> list[tuple[str, int]]:
        return [
            ("grpc.max_receive_message_length", self._config.grpc_max_message_bytes),
            ("grpc.so_reuseport", 0),  # a port already taken must fail, not be shared silently
        ]


def _address(host: str, port: int) -> str:
    return display_address(host, port)


def _bind_failure(host: str, port: int) -> PortUnavailable:
    """grpcio says only "Failed to bind"; a plain bind of the same address says why."""
    try:
        for sock in bind_http(host, port, "server.grpc_port", "server.grpc_host"):
            sock.close()
    except PortUnavailable as exc:
        return exc
    return PortUnavailable("server.grpc_port", display_address(host, port), "grpcio could not bind it", taken=False)
