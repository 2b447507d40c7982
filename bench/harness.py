"""Run the service and the Meta sandbox as separate processes over loopback, on a fresh database."""

from __future__ import annotations

import base64
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import psycopg
from psycopg import sql

from qualifica.migrate import upgrade

POSTGRES_ADMIN_URL = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
APP_ID, APP_SECRET, CONFIG_ID = "990000000000001", "bench-app-secret-4d1f", "990000000000777"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def fresh_database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as directory:
            url = f"sqlite:///{Path(directory) / 'bench.db'}"
            upgrade(url)
            yield url
        return
    name = f"qualifica_bench_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + "/" + name
        try:
            upgrade(url)
            yield url
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _env(**values: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("QUALIFICA_")}
    env.update({f"QUALIFICA_{k.upper()}": v for k, v in values.items()})
    return env


def worker_env(s: Stack, **extra: str) -> dict[str, str]:
    """The environment of a ``qualifica worker`` beside the stack's service, as deployed."""
    env = _env(
        database_url=s.database_url,
        secret_key=s.secret_key,
        encryption_keys=s.encryption_keys,
        meta_graph_url=s.sandbox_url,
        meta_webhook_verify_token="bench-verify",
        base_url=s.service_url,
        meta_app_id=APP_ID,
        meta_app_secret=APP_SECRET,
        meta_config_id=CONFIG_ID,
        **extra,
    )
    env["PYTHONPATH"] = str(REPO)
    return env


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not become ready")
        time.sleep(0.1)


REPO = Path(__file__).resolve().parents[1]
LOG_DIR = REPO / "var" / "bench" / "logs"


def log_file(name: str) -> Path:
    """A fresh file under ``var/bench/logs`` for one process's output (scanned for secrets afterwards)."""
    LOG_DIR.mkdir(parents=True, exist_ok=True)
    return LOG_DIR / f"{name}-{os.getpid()}-{secrets.token_hex(3)}.log"


@contextmanager
def process(
    args: list[str],
    env: dict[str, str],
    ready_url: str,
    *,
    log: Path | None = None,
    module: str = "qualifica.cli",
) -> Iterator[subprocess.Popen[bytes]]:
    """``python -m module *args`` in a scratch directory, output in ``log``; stopped on exit."""
    with tempfile.TemporaryDirectory() as cwd, open(log or os.devnull, "ab") as output:
        # BENCH_SERVICE_PATH: a directory holding another ``qualifica`` (e.g. ``git archive HEAD qualifica``)
        # to run instead of this tree's — before/after comparisons with the same driver.
        path = [os.environ.get("BENCH_SERVICE_PATH"), str(REPO), env.get("PYTHONPATH")]
        env = {**env, "PYTHONPATH": os.pathsep.join(filter(None, path))}
        proc = subprocess.Popen(
            [sys.executable, "-m", module, *args], env=env, cwd=cwd, stdout=output, stderr=output
        )
        try:
            _wait_ready(ready_url, proc)
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


@dataclass(frozen=True)
class Stack:
    service_url: str
    sandbox_url: str
    database_url: str
    secret_key: str
    encryption_keys: str
    logs: tuple[Path, ...] = ()
    service_pid: int = 0

    def configured_secrets(self) -> set[str]:
        """The secrets this stack was given (those the sandbox minted come from ``bench.leaks``)."""
        keys = {pair.split(":", 1)[1] for pair in self.encryption_keys.split(",")}
        return {APP_SECRET, self.secret_key, *keys, "bench-verify"}


@contextmanager
def stack(
    database: str, *, name: str = "bench", module: str = "qualifica.cli", **service_settings: str
) -> Iterator[Stack]:
    """The Meta sandbox and the service, each in its own process, on a fresh database.

    ``module`` runs the service (``bench.sequential`` for the peers' pipeline); both processes' output goes
    to files under ``var/bench/logs``.
    """
    meta = {"meta_app_id": APP_ID, "meta_app_secret": APP_SECRET, "meta_config_id": CONFIG_ID}
    sandbox_port, service_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    service_url = f"http://127.0.0.1:{service_port}"
    with fresh_database(database) as database_url:
        secret_key = secrets.token_urlsafe(48)
        keys = "b1:" + base64.b64encode(secrets.token_bytes(32)).decode()
        service_env = _env(
            database_url=database_url,
            secret_key=secret_key,
            encryption_keys=keys,
            meta_graph_url=sandbox_url,
            meta_webhook_verify_token="bench-verify",
            base_url=service_url,
            **meta,
            **service_settings,
        )
        sandbox_cmd = ["sandbox", "--port", str(sandbox_port)]
        logs = (log_file(f"{name}-sandbox"), log_file(f"{name}-service"))
        with process(sandbox_cmd, _env(**meta), sandbox_url + "/healthz", log=logs[0]):
            serve_cmd = ["serve", "--port", str(service_port)]
            ready = service_url + "/readyz"
            with process(serve_cmd, service_env, ready, log=logs[1], module=module) as service:
                yield Stack(service_url, sandbox_url, database_url, secret_key, keys, logs, service.pid)
