"""Ingest rate of signed Meta webhooks into PostgreSQL, beside a bare endpoint of the same service.

    .venv/bin/python -m bench.webhook_ingest [--runs 5] [--seconds 5] [--concurrency 32]

Three kinds of process, all over loopback: this driver creates a scratch PostgreSQL database (admin URL from
``BENCH_POSTGRES_URL``, else ``TEST_POSTGRES_URL``, else ``postgresql://postgres@127.0.0.1:5432/test``),
migrates it and starts the service (``serve``: the real app, one uvicorn process, no worker, plus
``POST /bench/bare`` that reads the body and answers 200 with no signature check and no database). Each run
then starts a load generator process (``load``: keep-alive HTTP/1.1 connections on raw asyncio streams) for
the bare endpoint and one for the webhook, with the same bodies. Every webhook body is unique, so each 200
is one stored row; the driver checks the row count. Prints a table and, last, the median result.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

ADMIN_URL = os.environ.get(
    "BENCH_POSTGRES_URL", os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
)
APP_SECRET = "bench-app-secret-" + "0" * 16
WEBHOOK_PATH = "/api/v1/whatsapp/webhook"
BARE_PATH = "/bench/bare"


# --- the service -------------------------------------------------------------------------------------------
def serve(database_url: str, port: int) -> None:
    import base64

    import uvicorn
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from qualifica.app import create_app
    from qualifica.config import Settings

    settings = Settings(
        _env_file=None,
        database_url=database_url,
        secret_key=secrets.token_urlsafe(48),
        encryption_keys="b1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
        meta_app_id="123456789012345",
        meta_app_secret=APP_SECRET,
    )
    app = create_app(settings, embedded_worker=False)

    async def bare(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"received": True, "duplicate": False})

    app.router.add_route(BARE_PATH, bare, methods=["POST"])  # same middleware stack, nothing else

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


# --- the load generator ------------------------------------------------------------------------------------
def body(seed: int, number: int) -> bytes:
    value = {
        "event": "MM_LITE_TERMS_SIGNED",
        "waba_info": {"waba_id": str(4_000_000_000 + number), "n": number},
    }
    entry = {
        "id": "880000000000900",
        "time": 1748477359 + seed,
        "changes": [{"field": "account_update", "value": value}],
    }
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def request_bytes(path: str, payload: bytes) -> bytes:
    import hashlib
    import hmac

    signature = "sha256=" + hmac.new(APP_SECRET.encode(), payload, hashlib.sha256).hexdigest()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"X-Hub-Signature-256: {signature}\r\nContent-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def _connection(
    port: int, path: str, seed: int, counter: list[int], until: float, codes: dict[int, int]
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.monotonic() < until:
            counter[0] += 1
            writer.write(request_bytes(path, body(seed, counter[0])))
            status = int((await reader.readline()).split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            await reader.readexactly(length)
            codes[status] = codes.get(status, 0) + 1
    finally:
        writer.close()


async def _load(port: int, path: str, seconds: float, concurrency: int, seed: int) -> dict[str, object]:
    counter: list[int] = [0]
    codes: dict[int, int] = {}
    started = time.monotonic()
    until = started + seconds
    await asyncio.gather(*(_connection(port, path, seed, counter, until, codes) for _ in range(concurrency)))
    elapsed = time.monotonic() - started
    return {"ok": codes.get(200, 0), "codes": codes, "seconds": elapsed}


def load(port: int, kind: str, seconds: float, concurrency: int, seed: int) -> None:
    path = WEBHOOK_PATH if kind == "webhook" else BARE_PATH
    print(json.dumps(asyncio.run(_load(port, path, seconds, concurrency, seed))))


# --- the driver --------------------------------------------------------------------------------------------
@contextmanager
def scratch_database() -> Iterator[str]:
    from qualifica.migrate import upgrade

    name = f"qualifica_bench_{secrets.token_hex(4)}"
    libpq = make_url(ADMIN_URL).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        url = make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
        try:
            upgrade(url)
            yield url
        finally:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the service exited before it was ready")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("the service did not start")


def stored_rows(database_url: str) -> int:
    libpq = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq) as connection:
        row = connection.execute("SELECT count(*) FROM webhook_events").fetchone()
    return int(row[0]) if row else 0


def run_load(port: int, kind: str, args: argparse.Namespace, seed: int) -> dict[str, Any]:
    command = [sys.executable, "-m", "bench.webhook_ingest", "load", "--port", str(port), "--kind", kind]
    command += ["--seconds", str(args.seconds), "--concurrency", str(args.concurrency), "--seed", str(seed)]
    result: dict[str, Any] = json.loads(subprocess.run(command, check=True, capture_output=True).stdout)
    return result


def drive(args: argparse.Namespace) -> None:
    cores = os.cpu_count() or 1
    with scratch_database() as database_url:
        port = free_port()
        command = [sys.executable, "-m", "bench.webhook_ingest", "serve", "--database-url", database_url]
        service = subprocess.Popen([*command, "--port", str(port)], stdout=subprocess.DEVNULL)
        try:
            wait_ready(port, service)
            run_load(port, "webhook", argparse.Namespace(seconds=1, concurrency=4), seed=0)  # warm-up
            rows = []
            stored_before = stored_rows(database_url)
            accepted = 0
            for run in range(1, args.runs + 1):
                bare = run_load(port, "bare", args, seed=run)
                hook = run_load(port, "webhook", args, seed=run)
                accepted += hook["ok"]
                bare_rate = bare["ok"] / bare["seconds"]
                hook_rate = hook["ok"] / hook["seconds"]
                rows.append((run, bare_rate, hook_rate, bare["codes"], hook["codes"]))
            stored = stored_rows(database_url) - stored_before
        finally:
            service.terminate()
            service.wait(timeout=10)
    print(f"{'run':>3}  {'bare req/s':>10}  {'webhook ev/s':>12}  {'ratio':>6}  codes (bare | webhook)")
    for run, bare_rate, hook_rate, bare_codes, hook_codes in rows:
        ratio = hook_rate / bare_rate
        print(f"{run:>3}  {bare_rate:>10.0f}  {hook_rate:>12.0f}  {ratio:>6.2f}  {bare_codes} | {hook_codes}")
    median_bare = statistics.median(r[1] for r in rows)
    median_hook = statistics.median(r[2] for r in rows)
    print(f"rows stored {stored} = webhooks answered 200 {accepted}: {'yes' if stored == accepted else 'NO'}")
    print(
        f"RESULT signed webhook ingest into PostgreSQL: {median_hook:.0f} events/s "
        f"(bare endpoint {median_bare:.0f} req/s, ratio {median_hook / median_bare:.2f}), "
        f"median of {args.runs} runs of {args.seconds:g}s, concurrency {args.concurrency}, {cores} cores"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve")
    serve_parser.add_argument("--database-url", required=True)
    serve_parser.add_argument("--port", type=int, required=True)
    load_parser = sub.add_parser("load")
    load_parser.add_argument("--port", type=int, required=True)
    load_parser.add_argument("--kind", choices=["bare", "webhook"], required=True)
    for target in (parser, load_parser):
        target.add_argument("--seconds", type=float, default=5.0)
        target.add_argument("--concurrency", type=int, default=32)
    load_parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    if args.command == "serve":
        serve(args.database_url, args.port)
    elif args.command == "load":
        load(args.port, args.kind, args.seconds, args.concurrency, args.seed)
    else:
        drive(args)


if __name__ == "__main__":
    main()
