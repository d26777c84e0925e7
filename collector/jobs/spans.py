"""An agent process's spans into the collector: OTLP frames through the shared OTLP pipeline.

The same decode → records → sink path as POST /v1/traces, so hosted agents' spans are mapped
and linked to their run (resource kate.run.id) exactly like any OTLP sender's. A full write
queue is retried briefly; spans that still cannot be stored are logged, never fatal to the job.
"""

from __future__ import annotations

import asyncio
import logging

from google.protobuf.message import DecodeError
from kate.collector.errors import Overloaded
from kate.collector.ingest.otlp_export import export_traces
from kate.collector.ingest.sink import Sink
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

logger = logging.getLogger(__name__)
_RETRIES_S = (0.2, 0.5, 1.0, 2.0)


class SpanForwarder:
    def __init__(self, sink: Sink, max_text_bytes: int) -> None:
        self._sink = sink
        self._max_text_bytes = max_text_bytes

    async def forward(self, payload: bytes) -> None:
        """Store one frame of spans; returns after commit (the agent process waits meanwhile)."""
        try:
            request = ExportTraceServiceRequest.FromString(payload)
        except DecodeError:
            logger.warning("an agent process sent %d bytes that are not OTLP spans; dropped", len(payload))
            return
        for delay_s in (*_RETRIES_S, None):
            try:
                response = await export_traces(request, self._sink, max_text_bytes=self._max_text_bytes)
            except Overloaded:
                if delay_s is None:
                    logger.warning("the store stayed overloaded; spans of an agent process were dropped")
                    return
                await asyncio.sleep(delay_s)
                continue
            if response.HasField("partial_success"):
                logger.warning("agent spans rejected: %s", response.partial_success.error_message)
            return
