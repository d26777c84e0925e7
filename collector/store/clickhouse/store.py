"""The scale-out engine behind the storage seam: spans on ClickHouse, runs on PostgreSQL.

Several collectors share both servers; nothing a request depends on lives in one process.
An OTLP write is three steps (interfaces.py explains why this order is safe):
1. control store: settle which agent owns each run the batch names and create the new runs,
   under a lock per run id (postgres/runs.py), before a span is stored;
2. ClickHouse: insert the settled spans in one insert; a retry stores them again and reads
   deduplicate (clickhouse/spans.py);
3. control store: complete the runs whose root span came, with their texts, and admit them
   for evaluation in the same transaction; a guarded UPDATE completes a run once.
The sender is answered only after step 3 committed. A crash before that leaves no
acknowledged span: the sender retries, step 1 finds the runs, step 2 stores duplicates that
reads fold, step 3 completes what is not complete yet.
Step 3 also finds the batch's spans that GenAI log records wait for; those are folded (inserted
again with their texts) before the answer (clickhouse/genai_logs.py).
"""

from __future__ import annotations

from kate.collector.completion import CompletionHub
from kate.collector.config import QueueConfig, StorageConfig
from kate.collector.store.clickhouse.client import ClickHouseClient
from kate.collector.store.clickhouse.control_stores import Analysis, Evaluations, Jobs, RateLimits, Retention
from kate.collector.store.clickhouse.run_store import Runs
from kate.collector.store.clickhouse.schema import create_tables
from kate.collector.store.clickhouse.servers import Servers
from kate.collector.store.clickhouse.span_store import InFlight, Spans
from kate.collector.store.genai_folding import FoldSettings
from kate.collector.store.postgres.database import ControlDatabase
from kate.collector.store.postgres.evaluation_locks import EvaluationLocks


class ClickHouseStore:
    """interfaces.Store over a ClickHouse server or cluster and a PostgreSQL database."""

    def __init__(self, settings: StorageConfig, completions: CompletionHub, queue: QueueConfig,
                 fold: FoldSettings) -> None:
        assert settings.control_url is not None, "checked by the configuration"
        self.clickhouse = ClickHouseClient(settings.clickhouse)
        self.control = ControlDatabase(settings.control_url)
        self.in_flight = InFlight(queue)
        servers = Servers(self.clickhouse, self.control)
        self._spans = Spans(servers, completions, self.in_flight, fold)
        self._runs = Runs(servers, completions)
        self._jobs = Jobs(servers, completions)
        self.evaluation_locks = EvaluationLocks(settings.control_url)
        self._evaluations = Evaluations(servers, self.evaluation_locks)
        self._analysis = Analysis(servers)
        self._retention = Retention(servers)
        self._rate_limits = RateLimits(self.control)
        self._open = False

    @property
    def spans(self) -> Spans:
        return self._spans

    @property
    def runs(self) -> Runs:
        return self._runs

    @property
    def jobs(self) -> Jobs:
        return self._jobs

    @property
    def evaluations(self) -> Evaluations:
        return self._evaluations

    @property
    def analysis(self) -> Analysis:
        return self._analysis

    @property
    def retention(self) -> Retention:
        return self._retention

    @property
    def rate_limits(self) -> RateLimits:
        return self._rate_limits

    @property
    def is_open(self) -> bool:
        return self._open

    async def start(self) -> None:
        """Connect to both servers and create or upgrade the tables (idempotent: every collector
        does it at start)."""
        await self.clickhouse.start()
        try:
            await create_tables(self.clickhouse)
            self.control.open()
        except BaseException:
            await self.clickhouse.close()
            raise
        self._open = True

    async def stop(self) -> None:
        if self._open:
            self._open = False
            await self.evaluation_locks.close()
            self.control.close()
            await self.clickhouse.close()

    def write_queue(self) -> tuple[int, int]:
        return self.in_flight.requests, self.in_flight.bytes
