"""Ingest rate of signed Meta webhooks stored durably in PostgreSQL, beside a bare endpoint in the same run.

    .venv/bin/python -m bench.webhook_ingest [--runs 3] [--seconds 5] [--concurrency 32] [--workers 1,2]

Processes over loopback: PostgreSQL (a scratch database, admin URL from ``BENCH_POSTGRES_URL``), the
service (``serve``: the real app under uvicorn with uvloop and httptools, no worker, ``--workers`` uvicorn
processes, plus ``POST /bench/bare`` — same middleware, reads the body, answers 200, no signature check, no
database) and the load generator **wrk** (Debian's, one thread, ``--concurrency`` keep-alive connections,
``webhook_ingest.lua`` posting pre-signed bodies from a file). Every body is unique, so each 200 is one
stored row; the driver checks the rows against the 200s. Each run measures the bare endpoint, then the
webhook, on the same service. Prints a table, medians per worker count, and a last ``RESULT`` line.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from bench.harness import REPO, free_port, fresh_database, log_file, process

APP_SECRET = "bench-app-secret-" + "0" * 16
WEBHOOK_PATH = "/api/v1/whatsapp/webhook"
BARE_PATH = "/bench/bare"
LUA = Path(__file__).with_name("webhook_ingest.lua")
MAX_RATE = 12_000  # bodies generated per second of a run: more than this machine can take


# --- the service (``python -m bench.webhook_ingest serve``) ------------------------------------------------
def factory() -> Any:
    from starlette.requests import Request
    from starlette.responses import JSONResponse

    from qualifica.app import create_app
    from qualifica.config import Settings

    settings = Settings(
        _env_file=None,
        database_url=os.environ["BENCH_DATABASE_URL"],
        secret_key=os.environ["BENCH_SECRET_KEY"],
        encryption_keys=os.environ["BENCH_ENCRYPTION_KEYS"],
        meta_app_id="123456789012345",
        meta_app_secret=APP_SECRET,
    )
    app = create_app(settings, embedded_worker=False)

    async def bare(request: Request) -> JSONResponse:
        await request.body()
        return JSONResponse({"received": True, "duplicate": False})

    app.router.add_route(BARE_PATH, bare, methods=["POST"])  # same middleware stack, nothing else
    return app


def serve(port: int, workers: int) -> None:
    import uvicorn

    uvicorn.run(
        "bench.webhook_ingest:factory",
        factory=True,
        host="127.0.0.1",
        port=port,
        workers=workers,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
    )


# --- bodies and load -------------------------------------------------------------------------------------
def body(seed: str, number: int) -> bytes:
    value = {"event": "MM_LITE_TERMS_SIGNED", "waba_info": {"waba_id": str(4_000_000_000 + number)}}
    entry = {
        "id": "880000000000900",
        "time": 1748477359,
        "changes": [{"field": "account_update", "value": value, "seed": seed}],
    }
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def write_requests(path: Path, count: int) -> None:
    seed = secrets.token_hex(4)
    with path.open("wb") as out:
        for number in range(count):
            payload = body(seed, number)
            signature = hmac.new(APP_SECRET.encode(), payload, hashlib.sha256).hexdigest()
            out.write(b"sha256=" + signature.encode() + b" " + payload + b"\n")


def wrk(port: int, target: str, args: argparse.Namespace, directory: Path) -> dict[str, float]:
    requests = directory / "requests.txt"
    write_requests(requests, int(MAX_RATE * args.seconds))
    command = ["wrk", "-t1", f"-c{args.concurrency}", f"-d{round(args.seconds)}s", "--timeout", "10s"]
    command += ["-s", str(LUA), f"http://127.0.0.1:{port}", "--", str(requests), target]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    result["ok"] = result["requests"] - result["non2xx"]
    result["rate"] = result["ok"] / (result["duration_us"] / 1e6)
    return result


def stored_rows(database_url: str) -> int:
    libpq = make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq) as connection:
        row = connection.execute("SELECT count(*) FROM webhook_events").fetchone()
    return int(row[0]) if row else 0


# --- the driver ------------------------------------------------------------------------------------------
def measure(database_url: str, workers: int, args: argparse.Namespace) -> list[dict[str, Any]]:
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("QUALIFICA_")},
        "BENCH_DATABASE_URL": database_url,
        "BENCH_SECRET_KEY": secrets.token_urlsafe(48),
        "BENCH_ENCRYPTION_KEYS": "b1:" + base64.b64encode(secrets.token_bytes(32)).decode(),
    }
    command = ["serve", "--port", str(port), "--workers", str(workers)]
    rows = []
    log = log_file(f"ingest-{workers}w")
    ready = f"http://127.0.0.1:{port}/healthz"
    service = process(command, env, ready, log=log, module="bench.webhook_ingest")
    with service, tempfile.TemporaryDirectory() as scratch:
        directory = Path(scratch)
        warm = argparse.Namespace(seconds=1, concurrency=args.concurrency)
        wrk(port, WEBHOOK_PATH, warm, directory)
        for run in range(1, args.runs + 1):
            bare = wrk(port, BARE_PATH, args, directory)
            before = stored_rows(database_url)
            hook = wrk(port, WEBHOOK_PATH, args, directory)
            stored = stored_rows(database_url) - before
            rows.append({"workers": workers, "run": run, "bare": bare, "hook": hook, "stored": stored})
            print(
                f"{workers:>7} {run:>3} {bare['rate']:>10.0f} {hook['rate']:>12.0f} "
                f"{hook['rate'] / bare['rate']:>6.2f} {hook['p50_us'] / 1000:>7.1f} "
                f"{hook['p99_us'] / 1000:>7.1f} {hook['non2xx'] + hook['socket_errors']:>6.0f} "
                f"{stored:>7} {'yes' if stored >= hook['ok'] else 'NO':>9}",
                flush=True,
            )
    return rows


def drive(args: argparse.Namespace) -> None:
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    cores = os.cpu_count() or 1
    print(
        f"webhook_ingest: cores={cores} load={os.getloadavg()[0]:.1f} concurrency={args.concurrency} "
        f"runs={args.runs}×{args.seconds:g}s load generator=wrk -t1 (Lua, pre-signed unique bodies) "
        f"server=uvicorn+uvloop+httptools"
    )
    print(
        f"{'workers':>7} {'run':>3} {'bare req/s':>10} {'webhook ev/s':>12} {'ratio':>6} "
        f"{'p50 ms':>7} {'p99 ms':>7} {'errors':>6} {'stored':>7} {'rows≥200s':>9}"
    )
    medians: dict[int, tuple[float, float]] = {}
    for workers in [int(w) for w in args.workers.split(",")]:
        with fresh_database("postgresql") as database_url:
            rows = measure(database_url, workers, args)
        hook = statistics.median(r["hook"]["rate"] for r in rows)
        bare = statistics.median(r["bare"]["rate"] for r in rows)
        medians[workers] = (hook, bare)
    for workers, (hook, bare) in medians.items():
        print(
            f"median, {workers} worker(s): webhook {hook:.0f} events/s, bare {bare:.0f} req/s, "
            f"ratio {hook / bare:.2f}"
        )
    best = max(medians, key=lambda w: medians[w][0])
    hook, bare = medians[best]
    rate_ok = "met" if hook >= 1500 else f"missed by {1500 - hook:.0f}/s"
    ratio_ok = "met" if hook / bare >= 0.5 else f"missed by {0.5 - hook / bare:.2f}"
    print(
        f"RESULT webhook ingest into PostgreSQL: {hook:.0f} events/s with {best} uvicorn worker(s) "
        f"(target ≥ 1500: {rate_ok}); bare endpoint {bare:.0f} req/s, ratio {hook / bare:.2f} "
        f"(target ≥ 0.5: {ratio_ok}); median of {args.runs} runs, wrk, {cores} cores"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command")
    serve_parser = sub.add_parser("serve")
    serve_parser.add_argument("--port", type=int, required=True)
    serve_parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", default="1,2", help="uvicorn worker processes, comma-separated")
    args = parser.parse_args()
    if args.command == "serve":
        sys.path.insert(0, str(REPO))
        serve(args.port, args.workers)
    else:
        drive(args)


if __name__ == "__main__":
    main()
