"""Configuration as one frozen, validated tree: defaults in code, then config.yaml, then env.

Loaded once by the CLI and handed down in slices; nothing else reads os.environ. Unknown keys
and wrong types are ConfigError naming the dotted path.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import urllib.parse
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kate.collector.config_tree import ConfigError as ConfigError
from kate.collector.config_tree import build_section, read_yaml, set_dotted
from kate.collector.cost.settings import CostConfig, check_cost
from kate.collector.evaluation.settings import EvaluationConfig, check_evaluation
from kate.collector.jobs.settings import HostedAgentConfig, JobsConfig, check_jobs
from kate.collector.retention.settings import RetentionConfig, check_retention
from kate.collector.sizes import UNITS, size_bytes
from kate.collector.store.engine_settings import ClickHouseConfig, Engine, check_engine

MIB = 1024 * 1024
MIN_MEMORY_LIMIT_BYTES = 16 * MIB  # below this DuckDB cannot even create the tables


@dataclass(frozen=True, slots=True)
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 4318
    grpc_host: str = "127.0.0.1"
    grpc_port: int = 4317
    max_body_bytes: int = 20 * MIB
    grpc_max_message_bytes: int = 20 * MIB
    shutdown_timeout_s: float = 10.0
    body_timeout_s: float = 60.0  # a request body not fully received by then answers 408 (slow-loris)
    keepalive_timeout_s: float = 75.0  # an idle connection (or one stuck in its headers) is closed after this
    allowed_origins: tuple[str, ...] = ()  # browser origins (scheme://host[:port]) allowed besides the collector's own
    allowed_hosts: tuple[str, ...] = ()  # Host names answered besides localhost, IP literals and host; "*": any


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """How much work may wait (bodies for a decode worker, writes for the store) before Kate
    answers 503 / UNAVAILABLE with a retry hint: the same for every storage engine."""

    max_items: int = 1024
    max_bytes: int = 128 * MIB
    retry_after_s: int = 1


@dataclass(frozen=True, slots=True)
class StorageConfig:
    path: str = "data/kate.duckdb"
    read_threads: int = 4
    max_batch_items: int = 256
    commit_timeout_ms: int = 5000
    wal_autocheckpoint: str = "64MiB"
    memory_limit: str = "512MiB"
    repair_on_start: bool = False  # run `kate repair` when the file was torn during a checkpoint
    compress_text: bool = True  # span texts compressed in new files; False: ~1.7x disk, cheaper ingestion
    engine: str = Engine.DUCKDB.value  # duckdb | clickhouse (store/engine_settings.py)
    clickhouse: ClickHouseConfig = field(default_factory=ClickHouseConfig)
    control_url: str | None = None  # PostgreSQL, required with engine: clickhouse


@dataclass(frozen=True, slots=True)
class IngestConfig:
    max_text_bytes: int = 64 * 1024
    max_spans_per_upload: int = 10_000
    decode_workers: int | None = None  # processes decoding span bodies; None: one per CPU (1-4)
    # How long GenAI log records wait for their span to be stored (docs/mapping.md#genai-content-in-log-records).
    genai_log_pending_hours: float = 24.0


@dataclass(frozen=True, slots=True)
class ApiConfig:
    upload_rate_limit_per_minute: int = 60
    evaluate_rate_limit_per_minute: int = 6  # forced evaluations per run (each may call a paid LLM judge)
    default_page_size: int = 50
    max_page_size: int = 1000


@dataclass(frozen=True, slots=True)
class SqlConfig:
    enabled: bool = True
    max_rows: int = 10_000
    timeout_ms: int = 10_000
    max_response_bytes: int = 16 * MIB  # the JSON answer of one query; more rows answer truncated: true


@dataclass(frozen=True, slots=True)
class ApiKeyConfig:
    name: str
    sha256: str  # hex SHA-256 of the key (`kate keygen` prints both)
    agents: tuple[str, ...] = ()  # empty: every agent


@dataclass(frozen=True, slots=True)
class AuthConfig:
    keys: tuple[ApiKeyConfig, ...] = ()
    allow_anonymous: bool = False  # permit a non-loopback bind with no keys


@dataclass(frozen=True, slots=True)
class LoggingConfig:
    level: str = "INFO"
    traffic_summary_s: float = 10.0  # one INFO line of traffic per interval while spans flow; 0 = off


@dataclass(frozen=True, slots=True)
class UiConfig:
    enabled: bool = True  # the web UI at /ui/ (and / redirecting there)


@dataclass(frozen=True, slots=True)
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    ingest: IngestConfig = field(default_factory=IngestConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    sql: SqlConfig = field(default_factory=SqlConfig)
    auth: AuthConfig = field(default_factory=AuthConfig)
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    jobs: JobsConfig = field(default_factory=JobsConfig)
    hosted_agents: tuple[HostedAgentConfig, ...] = ()
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    ui: UiConfig = field(default_factory=UiConfig)
    cost: CostConfig = field(default_factory=CostConfig)
    retention: RetentionConfig = field(default_factory=RetentionConfig)


# Documented environment overrides (docs/configuration.md#precedence): variable → dotted path.
ENV_OVERRIDES: dict[str, str] = {
    "KATE_HOST": "server.host",
    "KATE_PORT": "server.port",
    "KATE_GRPC_PORT": "server.grpc_port",
    "KATE_DB": "storage.path",
    "KATE_STORAGE_ENGINE": "storage.engine",
    "KATE_CONTROL_URL": "storage.control_url",
    "KATE_LOG_LEVEL": "logging.level",
}


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Build the Config: defaults, then the YAML file, then environ, then overrides.

    `overrides` maps dotted paths to values (the CLI flags); None values are ignored.
    """
    tree: dict[str, Any] = {}
    if path is not None:
        tree = read_yaml(Path(path))
    _rename_moved_keys(tree)
    from_env: dict[str, str] = {}
    for variable, dotted in ENV_OVERRIDES.items():
        if environ and variable in environ:
            set_dotted(tree, dotted, environ[variable])
            from_env[dotted] = variable
    for dotted, value in (overrides or {}).items():
        if value is not None:
            set_dotted(tree, dotted, value)
            from_env.pop(dotted, None)
    try:
        config = _with_secrets(build_section(Config, tree, ""), environ or {})
        _check(config)
    except ConfigError as exc:
        raise ConfigError(_with_source(str(exc), from_env)) from None
    return config


# Keys that moved (old dotted path → new one): still read, so existing config files keep working.
MOVED_KEYS: dict[str, str] = {
    "storage.queue_max_items": "queue.max_items",
    "storage.queue_max_bytes": "queue.max_bytes",
    "storage.retry_after_s": "queue.retry_after_s",
}


def _rename_moved_keys(tree: dict[str, Any]) -> None:
    """Read a moved key under its new name; setting both names is refused as ambiguous."""
    for old, new in MOVED_KEYS.items():
        (old_section, old_key), (new_section, new_key) = old.split("."), new.split(".")
        section = tree.get(old_section)
        if not isinstance(section, dict) or old_key not in section:
            continue
        target = tree.setdefault(new_section, {})
        if not isinstance(target, dict):
            continue  # _build names the wrong shape
        if new_key in target:
            raise ConfigError(f"{old} and {new} are both set; {old} is the old name of {new}: keep only {new}")
        target[new_key] = section.pop(old_key)


def _with_source(message: str, from_env: Mapping[str, str]) -> str:
    """Name the environment variable when the wrong value came from one (KATE_PORT=abc)."""
    for dotted, variable in from_env.items():
        if dotted in message:
            return f"{message} (set by the environment variable {variable})"
    return message


def _with_secrets(config: Config, environ: Mapping[str, str]) -> Config:
    """Fill env_only fields from the variables the file names; read here, once, at start-up."""
    config = _with_clickhouse_password(config, environ)
    judge = config.evaluation.llm_judge
    if not judge.enabled or not judge.api_key_env:
        return config
    key = environ.get(judge.api_key_env, "").strip()
    if not key:
        raise ConfigError(f"evaluation.llm_judge.api_key_env names {judge.api_key_env}, which is not set "
                          "(set it, or api_key_env: \"\" for a server that needs no key)")
    judge = dataclasses.replace(judge, api_key=key)
    evaluation = dataclasses.replace(config.evaluation, llm_judge=judge)
    return dataclasses.replace(config, evaluation=evaluation)


def _with_clickhouse_password(config: Config, environ: Mapping[str, str]) -> Config:
    clickhouse = config.storage.clickhouse
    if not clickhouse.password_env:
        return config
    if clickhouse.password_env not in environ:
        raise ConfigError(f"storage.clickhouse.password_env names {clickhouse.password_env}, which is not set")
    clickhouse = dataclasses.replace(clickhouse, password=environ[clickhouse.password_env])
    return dataclasses.replace(config, storage=dataclasses.replace(config.storage, clickhouse=clickhouse))


def _check(config: Config) -> None:
    """Cross-field and range checks that types alone cannot express."""
    positive = {
        "server.max_body_bytes": config.server.max_body_bytes,
        "server.grpc_max_message_bytes": config.server.grpc_max_message_bytes,
        "server.body_timeout_s": config.server.body_timeout_s,
        "server.keepalive_timeout_s": config.server.keepalive_timeout_s,
        "storage.read_threads": config.storage.read_threads,
        "queue.max_items": config.queue.max_items,
        "queue.max_bytes": config.queue.max_bytes,
        "queue.retry_after_s": config.queue.retry_after_s,
        "storage.max_batch_items": config.storage.max_batch_items,
        "storage.commit_timeout_ms": config.storage.commit_timeout_ms,
        "ingest.max_text_bytes": config.ingest.max_text_bytes,
        "ingest.max_spans_per_upload": config.ingest.max_spans_per_upload,
        "ingest.genai_log_pending_hours": config.ingest.genai_log_pending_hours,
        "api.upload_rate_limit_per_minute": config.api.upload_rate_limit_per_minute,
        "api.evaluate_rate_limit_per_minute": config.api.evaluate_rate_limit_per_minute,
        "api.max_page_size": config.api.max_page_size,
        "sql.max_rows": config.sql.max_rows,
        "sql.timeout_ms": config.sql.timeout_ms,
        "sql.max_response_bytes": config.sql.max_response_bytes,
    }
    for dotted, value in positive.items():
        if value <= 0:
            raise ConfigError(f"{dotted} must be positive, got {value}")
    if config.ingest.decode_workers is not None and config.ingest.decode_workers < 0:
        raise ConfigError(f"ingest.decode_workers must be 0 or more, got {config.ingest.decode_workers}")
    for dotted, port in (("server.port", config.server.port), ("server.grpc_port", config.server.grpc_port)):
        if not 0 <= port <= 65535:
            raise ConfigError(f"{dotted} must be a port number 0..65535, got {port}")
    if not 0 < config.api.default_page_size <= config.api.max_page_size:
        raise ConfigError("api.default_page_size must be between 1 and api.max_page_size")
    _check_auth(config)
    _check_duckdb_sizes(config.storage)
    _check_browser_access(config.server)
    problems = (check_engine(config.storage.engine, config.storage.clickhouse, config.storage.control_url)
                + check_evaluation(config.evaluation) + check_jobs(config.jobs, config.hosted_agents)
                + check_cost(config.cost) + check_retention(config.retention))
    if problems:
        raise ConfigError(problems[0])
    if config.logging.traffic_summary_s < 0:
        raise ConfigError(f"logging.traffic_summary_s must be 0 (off) or more, got {config.logging.traffic_summary_s}")
    if config.logging.level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"logging.level must be DEBUG, INFO, WARNING or ERROR, got {config.logging.level!r}")


def _check_duckdb_sizes(storage: StorageConfig) -> None:
    """Values passed through to DuckDB as text: checked here so the error names the key."""
    for dotted, text in (("storage.memory_limit", storage.memory_limit),
                         ("storage.wal_autocheckpoint", storage.wal_autocheckpoint)):
        size = size_bytes(text)
        if size is None or size <= 0:
            raise ConfigError(f"{dotted} must be a size: a number and a unit ({UNITS}), e.g. 512MiB; got {text!r}")
    if (size_bytes(storage.memory_limit) or 0) < MIN_MEMORY_LIMIT_BYTES:
        raise ConfigError(f"storage.memory_limit must be at least 16MiB, got {storage.memory_limit!r}")


def _check_auth(config: Config) -> None:
    names = [key.name for key in config.auth.keys]
    for index, key in enumerate(config.auth.keys):
        if len(key.sha256) != 64 or not all(c in "0123456789abcdefABCDEF" for c in key.sha256):
            raise ConfigError(f"auth.keys[{index}].sha256 must be 64 hex characters (see `kate keygen`)")
        if names.count(key.name) > 1:
            raise ConfigError(f"auth.keys[{index}].name {key.name!r} is used twice")
    exposed = [h for h in (config.server.host, config.server.grpc_host) if not is_loopback(h)]
    if exposed and not config.auth.keys and not config.auth.allow_anonymous:
        raise ConfigError(
            f"refusing to listen on {exposed[0]} without API keys: add auth.keys, "
            "or set auth.allow_anonymous: true to accept anonymous traffic from the network"
        )


def _check_browser_access(server: ServerConfig) -> None:
    for index, origin in enumerate(server.allowed_origins):
        if not _is_origin(origin):
            raise ConfigError(f"server.allowed_origins[{index}] must be an origin such as "
                              f"https://kate.example.com or http://localhost:3000, got {origin!r}")
    for index, host in enumerate(server.allowed_hosts):
        if host != "*" and not _HOST_NAME.fullmatch(host):
            raise ConfigError(f"server.allowed_hosts[{index}] must be a host name without scheme or port "
                              f"(e.g. kate.internal), or \"*\" for any, got {host!r}")


_HOST_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9.-]*")


def _is_origin(text: str) -> bool:
    """scheme://host[:port] with http or https, and nothing else (what browsers send as Origin)."""
    parts = urllib.parse.urlsplit(text)
    try:
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return False
    return (parts.scheme in ("http", "https") and bool(parts.hostname) and parts.path in ("", "/")
            and not parts.query and not parts.fragment and parts.username is None)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere
