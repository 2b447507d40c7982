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


@contextmanager
def process(args: list[str], env: dict[str, str], ready_url: str) -> Iterator[subprocess.Popen[bytes]]:
    with tempfile.TemporaryDirectory() as cwd:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qualifica.cli", *args],
            env=env,
            cwd=cwd,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
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


@dataclass(frozen=True)
class Stack:
    service_url: str
    sandbox_url: str
    database_url: str
    secret_key: str
    encryption_keys: str


@contextmanager
def stack(database: str, **service_settings: str) -> Iterator[Stack]:
    """The Meta sandbox and the service, each in its own process, on a fresh database."""
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
        with process(sandbox_cmd, _env(**meta), sandbox_url + "/healthz"):
            serve_cmd = ["serve", "--port", str(service_port)]
            with process(serve_cmd, service_env, service_url + "/readyz"):
                yield Stack(service_url, sandbox_url, database_url, secret_key, keys)
