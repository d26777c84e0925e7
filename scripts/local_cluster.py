"""A local ClickHouse cluster and PostgreSQL on loopback, for `make cluster` and the tests.

    python -m scripts.local_cluster [--shards 2] [--dir DIR] [--config-out cluster.yaml]

starts `--shards` ClickHouse servers (Debian's clickhouse-server, each a foreground process
with its config in DIR) that form the remote_servers cluster `kate` (one shard each, no
ZooKeeper), and one PostgreSQL 15 server (initdb + pg_ctl, run as the postgres user when
started by root). It prints the collector's `storage:` configuration for them (and writes it
as a config file with --config-out) and runs until interrupted, then stops them all. Only the standard library: the tests import it too.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

CLUSTER_NAME = "kate"
DATABASE = "kate"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
CLICKHOUSE_SERVER = "/usr/sbin/clickhouse-server"
READY_TIMEOUT_S = 30.0


class ClusterError(RuntimeError):
    """A server of the local cluster is missing or did not start."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def missing_servers() -> list[str]:
    """What this machine lacks to start the cluster (empty: everything is installed)."""
    missing = []
    if not Path(CLICKHOUSE_SERVER).exists():
        missing.append("clickhouse-server (apt-get install clickhouse-server)")
    if not (PG_BIN / "pg_ctl").exists():
        missing.append("PostgreSQL 15 (apt-get install postgresql-15)")
    return missing


@dataclass
class ClickHouseNode:
    directory: Path
    http_port: int
    tcp_port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def write_config(self, shards: list[ClickHouseNode]) -> Path:
        for name in ("data", "tmp", "log", "user_files"):
            (self.directory / name).mkdir(parents=True, exist_ok=True)
        (self.directory / "users.xml").write_text(_USERS_XML, encoding="utf-8")
        replicas = "".join(
            f"<shard><replica><host>127.0.0.1</host><port>{node.tcp_port}</port></replica></shard>" for node in shards
        )
        config = _CONFIG_XML.format(directory=self.directory, http_port=self.http_port, tcp_port=self.tcp_port,
                                    cluster=CLUSTER_NAME, shards=replicas)
        path = self.directory / "config.xml"
        path.write_text(config, encoding="utf-8")
        return path

    def start(self, shards: list[ClickHouseNode]) -> None:
        config = self.write_config(shards)
        log = (self.directory / "log" / "stdout.log").open("ab")
        self.process = subprocess.Popen([CLICKHOUSE_SERVER, f"--config-file={config}"], stdout=log,
                                        stderr=subprocess.STDOUT, start_new_session=True)
        _wait_until(lambda: _http_ok(f"{self.url}/ping"), self.process, f"clickhouse on {self.url}")

    def stop(self) -> None:
        _stop(self.process)

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=20)


@dataclass
class PostgresServer:
    directory: Path
    port: int
    started: bool = False

    @property
    def url(self) -> str:
        return self.url_of(DATABASE)

    def url_of(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, database: str) -> None:
        """Create the database unless it exists."""
        done = subprocess.run([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                               database], capture_output=True, text=True, timeout=READY_TIMEOUT_S)
        if done.returncode != 0 and "already exists" not in done.stderr:
            raise ClusterError(f"createdb {database} failed: {done.stderr.strip()}")

    def start(self) -> None:
        data = self.directory / "data"
        if not data.exists():
            self.directory.mkdir(parents=True, exist_ok=True)
            _as_postgres(["chown", "-R", "postgres:", str(self.directory)], chown=True)
            _run_as_postgres([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                              "--no-sync"])
        options = (f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
                   " -c synchronous_commit=off -c full_page_writes=off -c max_connections=200")
        _run_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(self.directory / "server.log"), "-w",
                          "-t", str(int(READY_TIMEOUT_S)), "-o", options, "start"])
        self.started = True
        created = subprocess.run(
            [str(PG_BIN / "psql"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
             "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"],
            capture_output=True, text=True, check=True, timeout=READY_TIMEOUT_S)
        if created.stdout.strip() != "1":
            self.create_database(DATABASE)

    def stop(self, mode: str = "fast") -> None:
        if self.started:
            _run_as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(self.directory / "data"), "-m", mode, "-w", "stop"],
                             check=False)
            self.started = False


@dataclass
class LocalCluster:
    """ClickHouse nodes (one shard each) and one PostgreSQL, all on loopback."""

    directory: Path
    nodes: list[ClickHouseNode] = field(default_factory=list)
    postgres: PostgresServer | None = None

    @classmethod
    def start(cls, directory: Path, shards: int = 2) -> LocalCluster:
        missing = missing_servers()
        if missing:
            raise ClusterError("cannot start the local cluster; missing: " + ", ".join(missing))
        cluster = cls(directory)
        try:
            cluster.nodes = [ClickHouseNode(directory / f"clickhouse-{index + 1}", free_port(), free_port())
                             for index in range(shards)]
            for node in cluster.nodes:
                node.start(cluster.nodes)
            # Its own temp dir: PostgreSQL runs as the postgres user, who may not enter `directory`.
            cluster.postgres = PostgresServer(Path(tempfile.mkdtemp(prefix="kate-postgres-")), free_port())
            cluster.postgres.start()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    def storage_config(self, database: str = DATABASE) -> dict[str, object]:
        """The collector's `storage:` section for this cluster, keeping its data in `database`
        (on ClickHouse and PostgreSQL; other than the default, it is created here)."""
        assert self.postgres is not None
        if database != DATABASE:
            self.postgres.create_database(database)
        clickhouse: dict[str, object] = {"urls": [node.url for node in self.nodes], "database": database}
        if len(self.nodes) > 1:
            clickhouse["cluster"] = CLUSTER_NAME
        return {"engine": "clickhouse", "clickhouse": clickhouse, "control_url": self.postgres.url_of(database)}

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
        if self.postgres is not None:
            self.postgres.stop()
            shutil.rmtree(self.postgres.directory, ignore_errors=True)


def _wait_until(ready: object, process: subprocess.Popen[bytes], what: str) -> None:
    assert callable(ready)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if ready():
            return
        if process.poll() is not None:
            raise ClusterError(f"{what} exited with {process.returncode} before it was ready")
        time.sleep(0.1)
    raise ClusterError(f"{what} not ready after {READY_TIMEOUT_S:.0f} s")


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes] | None) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=20)


def _as_postgres(command: list[str], *, chown: bool = False) -> None:
    """chown a directory to postgres (only as root: otherwise this user runs PostgreSQL)."""
    if chown and os.geteuid() == 0:
        subprocess.run(command, check=True, timeout=READY_TIMEOUT_S)


def _run_as_postgres(command: list[str], *, check: bool = True) -> None:
    """PostgreSQL refuses to run as root: as root, run it as the postgres user."""
    if os.geteuid() == 0:
        command = ["runuser", "-u", "postgres", "--", *command]
    subprocess.run(command, check=check, capture_output=True, timeout=READY_TIMEOUT_S + 10)


_USERS_XML = """<?xml version="1.0"?>
<yandex>
  <profiles>
    <default>
      <max_memory_usage>4000000000</max_memory_usage>
      <allow_experimental_low_cardinality_type>1</allow_experimental_low_cardinality_type>
    </default>
  </profiles>
  <users>
    <default>
      <password></password>
      <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
      <profile>default</profile>
      <quota>default</quota>
    </default>
  </users>
  <quotas><default><interval><duration>3600</duration><queries>0</queries><errors>0</errors>
    <result_rows>0</result_rows><read_rows>0</read_rows><execution_time>0</execution_time></interval></default></quotas>
</yandex>
"""

_CONFIG_XML = """<?xml version="1.0"?>
<yandex>
  <logger><level>warning</level><log>{directory}/log/server.log</log><errorlog>{directory}/log/err.log</errorlog></logger>
  <http_port>{http_port}</http_port>
  <tcp_port>{tcp_port}</tcp_port>
  <listen_host>127.0.0.1</listen_host>
  <path>{directory}/data/</path>
  <tmp_path>{directory}/tmp/</tmp_path>
  <user_files_path>{directory}/user_files/</user_files_path>
  <users_config>{directory}/users.xml</users_config>
  <default_profile>default</default_profile>
  <default_database>default</default_database>
  <mark_cache_size>268435456</mark_cache_size>
  <timezone>UTC</timezone>
  <remote_servers><{cluster}>{shards}</{cluster}></remote_servers>
</yandex>
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.local_cluster", description=__doc__.split("\n")[0])
    parser.add_argument("--shards", type=int, default=2, help="ClickHouse servers, one shard each (default 2)")
    parser.add_argument("--dir", type=Path, help="where ClickHouse keeps its data and logs, kept after the stop "
                        "(default: a temp dir, deleted); PostgreSQL always lives in a temp dir, deleted at the stop")
    parser.add_argument("--config-out", type=Path, help="write a collector config file for the cluster here")
    args = parser.parse_args(argv)
    directory = args.dir or Path(tempfile.mkdtemp(prefix="kate-cluster-"))
    try:
        cluster = LocalCluster.start(directory.resolve(), args.shards)
    except ClusterError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    config = json.dumps({"storage": cluster.storage_config()}, indent=2)  # JSON is YAML
    print("local cluster ready; collector configuration:\n" + config, flush=True)
    if args.config_out is not None:
        args.config_out.write_text(config + "\n", encoding="utf-8")
        print(f"written to {args.config_out}: start collectors with\n"
              f"  .venv/bin/kate --config {args.config_out} serve --port 4318 --grpc-port 4317\n"
              f"  .venv/bin/kate --config {args.config_out} serve --port 4328 --grpc-port 4327", flush=True)
    print("(Ctrl-C stops the servers and deletes their data)", flush=True)
    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    cluster.stop()
    if args.dir is None:
        shutil.rmtree(directory, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
