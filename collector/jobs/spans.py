"""An agent process's spans into the collector: OTLP frames through the ingestion pipeline.

The same receive → decode → map → sink path as POST /v1/traces (ingest/pipeline.py), so hosted
agents' spans are mapped and linked to their run (resource kate.run.id) exactly like any OTLP
sender's. A full write queue is retried briefly; spans that still cannot be stored are logged,
never fatal to the job.
"""

from __future__ import annotations

import asyncio
import logging

from kate.collector.errors import BadRequest, Overloaded
from kate.collector.ingest.pipeline import ingest_traces
from kate.collector.ingest.sink import Sink
from kate.collector.ingest.wire import PROTOBUF

logger = logging.getLogger(__name__)
_RETRIES_S = (0.2, 0.5, 1.0, 2.0)


class SpanForwarder:
    def __init__(self, sink: Sink) -> None:
        self._sink = sink

    async def forward(self, payload: bytes) -> None:
        """Store one frame of spans; returns after commit (the agent process waits meanwhile)."""
        for delay_s in (*_RETRIES_S, None):
            try:
                response = await ingest_traces(payload, PROTOBUF, self._sink, protocol="hosted")
            except BadRequest:
                logger.warning("an agent process sent %d bytes that are not OTLP spans; dropped", len(payload))
                return
            except Overloaded:
                if delay_s is None:
                    logger.warning("the store stayed overloaded; spans of an agent process were dropped")
                    return
                await asyncio.sleep(delay_s)
                continue
            if response.HasField("partial_success"):
                logger.warning("agent spans rejected: %s", response.partial_success.error_message)
            return
