"""The config loader names the key of every wrong value: values DuckDB parses itself
(storage.memory_limit, storage.wal_autocheckpoint) are checked at load time, and a wrong value
from an environment override names its variable too."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from kate.collector.config import Config, ConfigError, load_config
from kate.collector.store.database import Database


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
