"""The config loader names the key of every wrong value: values DuckDB parses itself
(storage.memory_limit, storage.wal_autocheckpoint) are checked at load time, and a wrong value
from an environment override names its variable too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from kate.collector.config import Config, ConfigError, load_config
from kate.collector.store.duckdb.database import Database


def load(tree: dict[str, object], tmp_path: Path, environ: dict[str, str] | None = None) -> Config:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(tree), encoding="utf-8")
    return load_config(path, environ=environ)


@pytest.mark.parametrize(("storage", "message"), [
    ({"memory_limit": "lots"}, "storage.memory_limit must be a size: a number and a unit"),
    ({"memory_limit": "512"}, "storage.memory_limit must be a size"),
    ({"memory_limit": "80%"}, "storage.memory_limit must be a size"),
    ({"memory_limit": "1PB"}, "storage.memory_limit must be a size"),
    ({"memory_limit": "0MiB"}, "storage.memory_limit must be a size"),
    ({"memory_limit": "100B"}, "storage.memory_limit must be at least 16MiB, got '100B'"),
    ({"wal_autocheckpoint": "often"}, "storage.wal_autocheckpoint must be a size"),
    ({"wal_autocheckpoint": "64MiB'; DROP TABLE runs; --"}, "storage.wal_autocheckpoint must be a size"),
    ({"memory_limit": 512}, "storage.memory_limit must be str, got 512"),
])
def test_a_wrong_duckdb_size_is_refused_naming_its_key(storage: dict[str, object], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load({"storage": storage}, tmp_path)

    assert str(refused.value).startswith(message)


@pytest.mark.parametrize("size", ["512MiB", "1.5 GB", "64mib", "2 GiB ", "100000 bytes"])
def test_sizes_duckdb_reads_are_accepted_and_open_the_store(size: str, tmp_path: Path) -> None:
    config = load({"storage": {"memory_limit": "64MiB", "wal_autocheckpoint": size}}, tmp_path)
    database = Database(tmp_path / "kate.duckdb", config.storage)

    database.open()  # DuckDB takes both values
    database.close()

    assert config.storage.wal_autocheckpoint == size


@pytest.mark.parametrize(("environ", "message"), [
    ({"KATE_PORT": "abc"}, "server.port must be int, got 'abc' (set by the environment variable KATE_PORT)"),
    ({"KATE_GRPC_PORT": "70000"},
     "server.grpc_port must be a port number 0..65535, got 70000 (set by the environment variable KATE_GRPC_PORT)"),
    ({"KATE_LOG_LEVEL": "loud"}, "logging.level must be DEBUG, INFO, WARNING or ERROR, got 'loud' "
                                 "(set by the environment variable KATE_LOG_LEVEL)"),
])
def test_a_wrong_environment_override_names_its_variable_and_key(environ: dict[str, str], message: str,
                                                                  tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load({}, tmp_path, environ)

    assert str(refused.value) == message


def test_a_flag_that_replaces_an_environment_value_is_not_blamed_on_the_variable() -> None:
    with pytest.raises(ConfigError) as refused:
        load_config(None, environ={"KATE_PORT": "4318"}, overrides={"server.port": 70000})

    assert str(refused.value) == "server.port must be a port number 0..65535, got 70000"


def test_a_file_value_is_not_blamed_on_a_variable_that_set_another_key(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as refused:
        load({"jobs": {"max_input_bytes": 0}}, tmp_path, {"KATE_PORT": "0"})

    assert str(refused.value) == "jobs.max_input_bytes must be positive"


def test_the_queue_bounds_are_read_under_their_old_storage_names_too(tmp_path: Path) -> None:
    old = load({"storage": {"queue_max_items": 7, "queue_max_bytes": 4096, "retry_after_s": 3}}, tmp_path)
    new = load({"queue": {"max_items": 7, "max_bytes": 4096, "retry_after_s": 3}}, tmp_path)
    assert old.queue == new.queue
    assert (new.queue.max_items, new.queue.max_bytes, new.queue.retry_after_s) == (7, 4096, 3)
    assert old.storage == new.storage  # nothing of the queue is left in storage


def test_a_queue_bound_set_under_both_names_is_refused_naming_both(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"storage.queue_max_items and queue.max_items are both set"):
        load({"storage": {"queue_max_items": 7}, "queue": {"max_items": 8}}, tmp_path)


@pytest.mark.parametrize(("tree", "message"), [
    ({"queue": {"max_items": 0}}, "queue.max_items must be positive, got 0"),
    ({"storage": {"queue_max_bytes": -1}}, "queue.max_bytes must be positive, got -1"),
    ({"queue": {"retry_after_s": "soon"}}, "queue.retry_after_s must be int, got 'soon'"),
])
def test_a_wrong_queue_bound_names_its_key(tree: dict[str, object], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tree, tmp_path)


@pytest.mark.parametrize(("variable", "value", "read"), [
    ("KATE_HOST", "127.0.0.3", lambda c: c.server.host),
    ("KATE_PORT", "9000", lambda c: c.server.port),
    ("KATE_GRPC_PORT", "9001", lambda c: c.server.grpc_port),
    ("KATE_DB", "elsewhere/kate.duckdb", lambda c: c.storage.path),
    ("KATE_LOG_LEVEL", "DEBUG", lambda c: c.logging.level),
])
def test_each_environment_override_sets_its_key_over_the_file(variable: str, value: str, read: Any,
                                                               tmp_path: Path) -> None:
    from_file = {"server": {"host": "127.0.0.2", "port": 4000, "grpc_port": 4001},
                 "storage": {"path": "file.duckdb"}, "logging": {"level": "WARNING"}}
    assert str(read(load(from_file, tmp_path, environ={variable: value}))) == value
    assert str(read(load(from_file, tmp_path))) != value  # the file's value without it


def test_flags_win_over_the_environment_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"server": {"port": 4000}}), encoding="utf-8")
    config = load_config(path, environ={"KATE_PORT": "5000"}, overrides={"server.port": 6000, "server.host": None})
    assert (config.server.port, config.server.host) == (6000, "127.0.0.1")  # a None flag leaves the default


def test_defaults_without_a_file_or_environment() -> None:
    config = load_config(None, environ={})
    assert (config.server.port, config.server.grpc_port, config.storage.path) == (4318, 4317, "data/kate.duckdb")
    assert config.queue.max_items == 1024 and config.ingest.genai_log_pending_hours == 24


@pytest.mark.parametrize(("tree", "message"), [
    ({"storage": {"paht": "x"}}, "unknown configuration key storage.paht"),
    ({"server": "loud"}, "server must be a mapping"),
    ({"server": {"port": 70000}}, "server.port must be a port number 0..65535, got 70000"),
    ({"ingest": {"decode_workers": -1}}, "ingest.decode_workers must be 0 or more"),
    ({"server": {"port": True}}, "server.port must be a number, got True"),
    ({"evaluation": {"delay_s": -1}}, "evaluation.delay_s must be from 0 to 3600 seconds"),
    ({"evaluation": {"resume_interval_s": 0}}, "evaluation.resume_interval_s must be from 0.1 to 3600 seconds"),
])
def test_wrong_files_are_refused_naming_the_key(tree: dict[str, object], message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tree, tmp_path)
