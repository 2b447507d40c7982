"""Send overhead of ``POST /api/v1/whatsapp/messages``: our p95 minus Meta's latency, at a fixed send rate.

    python -m bench.send_overhead [--rate 50] [--seconds 20] [--runs 3] [--meta-ms 150]
                                  [--database postgresql|sqlite] [--type template|text]

Service and sandbox are separate processes on a fresh database (``bench.harness``); the sandbox answers
every ``/messages`` call after ``--meta-ms`` (its latency knob) and sends no status webhooks. One
organization is connected through a real signup and given a bound service key; with ``--type text`` the
lead's 24 h window is opened in our store and at the sandbox first. An open-loop generator in this process
(httpx, async) sends at exactly ``--rate`` per second, each to a lead of its own, each latency counted from
the request's scheduled time (no coordinated omission). The same generator then calls the sandbox's
``/messages`` directly at the same rate: that p95 is "Meta" as our service sees it over loopback.
Overhead = our p95 − ``--meta-ms`` (the goal's definition) and our p95 − the direct p95 (network and
sandbox included on both sides). A ``qualifica worker`` runs beside the service, as deployed: answers 202
(queued: the number's slots taken for the next 0.5 s, e.g. after a stall) are counted apart, their
latency included. Last line: ``RESULT``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from sqlalchemy import select

from bench import leaks
from bench.callback_latency import PASSWORD, percentile
from bench.harness import Stack, cpu_seconds, log_file, stack, worker_env
from bench.status_endpoint import connect
from qualifica.assistant.keys import create_key
from qualifica.assistant.window import note_inbound
from qualifica.config import parse_key_ring
from qualifica.db import create_engine, create_sessionmaker, utcnow
from qualifica.security.crypto import KeyRing, unseal
from qualifica.whatsapp.models import WhatsAppConnection

LEAD_BASE = 5511900000000 + 10_000  # 55119000100xx…: no lead number the sandbox fails on purpose


@contextmanager
def worker(s: Stack) -> Iterator[Path]:
    """``qualifica worker`` beside the service, as deployed: it sends what the API queued (202)."""
    env = worker_env(s)
    log = log_file("send-worker")
    with tempfile.TemporaryDirectory() as cwd, open(log, "ab") as output:
        proc = subprocess.Popen(
            [sys.executable, "-m", "qualifica.cli", "worker"], env=env, cwd=cwd, stdout=output, stderr=output
        )
        try:
            yield log
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def lead(number: int) -> str:
    return str(LEAD_BASE + number)


def body(kind: str, to: str) -> dict[str, object]:
    if kind == "text":
        return {"to": to, "type": "text", "text": {"body": "Olá! O apartamento ainda está disponível."}}
    return {"to": to, "type": "template", "template": {"name": "hello_world", "language": {"code": "en_US"}}}


async def prepare(s: Stack, kind: str, leads: int) -> tuple[str, str, str]:
    """A connected organization's key, its number, and its token (for the direct calls to the sandbox)."""
    await connect(s)
    engine = create_engine(s.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            connection = (await session.scalars(select(WhatsAppConnection))).one()
            key = (await create_key(session, name="bench", organization_id=connection.organization_id)).key
            if kind == "text":
                for number in range(leads):
                    await note_inbound(
                        session,
                        organization_id=connection.organization_id,
                        phone_number_id=connection.phone_number_id,
                        wa_id=lead(number),
                        at=utcnow(),
                    )
            await session.commit()
            ring = KeyRing.from_pairs(parse_key_ring(s.encryption_keys))
            token = unseal(ring, connection, "access_token") or ""
    finally:
        await engine.dispose()
    async with httpx.AsyncClient(base_url=s.sandbox_url) as sandbox:
        await sandbox.post("/_control/messages/statuses", json={"statuses": []})
        if kind == "text":
            for number in range(leads):
                await sandbox.post(
                    f"/_control/phones/{connection.phone_number_id}/leads/{lead(number)}/wrote"
                )
    return key, connection.phone_number_id, token


async def open_loop(
    client: httpx.AsyncClient, path: str, bodies: list[dict[str, object]], rate: float
) -> tuple[list[float], dict[int, int]]:
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    async def one(at: float, payload: dict[str, object]) -> None:
        response = await client.post(path, json=payload)
        latencies.append(time.perf_counter() - at)
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1

    started = time.perf_counter()
    tasks = []
    for number, payload in enumerate(bodies):
        at = started + number / rate
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        tasks.append(asyncio.create_task(one(at, payload)))
    await asyncio.gather(*tasks)
    return latencies, statuses


async def run_once(
    s: Stack, key: str, phone_id: str, token: str, args: argparse.Namespace, first: int
) -> dict[str, float]:
    count = int(args.rate * args.seconds)
    cpu_before = cpu_seconds(s.service_pid)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    headers = {"Authorization": f"Bearer {key}"}
    async with httpx.AsyncClient(base_url=s.service_url, headers=headers, limits=limits, timeout=30) as http:
        ours, statuses = await open_loop(
            http,
            "/api/v1/whatsapp/messages",
            [body(args.type, lead(first + n)) for n in range(count)],
            args.rate,
        )
    cpu = cpu_seconds(s.service_pid) - cpu_before
    meta_headers = {"Authorization": f"Bearer {token}"}
    direct_bodies: list[dict[str, object]] = [
        {"messaging_product": "whatsapp", "recipient_type": "individual", **body("template", lead(n))}
        for n in range(count)
    ]
    async with httpx.AsyncClient(
        base_url=s.sandbox_url, headers=meta_headers, limits=limits, timeout=30
    ) as http:
        direct, _ = await open_loop(http, f"/v26.0/{phone_id}/messages", direct_bodies, args.rate)
    return {
        "sent": count,
        "ok": statuses.get(200, 0),
        "queued": statuses.get(202, 0),
        "other": count - statuses.get(200, 0) - statuses.get(202, 0),
        "p50": percentile(ours, 0.5),
        "p95": percentile(ours, 0.95),
        "p99": percentile(ours, 0.99),
        "meta_p95": percentile(direct, 0.95),
        "cpu_ms": cpu * 1000 / count,
    }


async def measure(s: Stack, args: argparse.Namespace) -> tuple[list[dict[str, float]], str]:
    leads = int(args.rate * args.seconds) * (args.runs + 1)
    key, phone_id, token = await prepare(s, args.type, leads)
    async with httpx.AsyncClient(base_url=s.sandbox_url) as sandbox:
        await sandbox.post("/_control/latency", json={"endpoint": "messages", "seconds": args.meta_ms / 1000})
    warm = argparse.Namespace(**{**vars(args), "seconds": 2.0})
    await run_once(s, key, phone_id, token, warm, 0)
    rows = []
    per_run = int(args.rate * args.seconds)
    for run in range(1, args.runs + 1):
        row = await run_once(s, key, phone_id, token, args, per_run * run)
        rows.append(row)
        print(
            f"{run:>3} {row['sent']:>6.0f} {row['ok']:>6.0f} {row['queued']:>6.0f} {row['other']:>6.0f} "
            f"{row['p50'] * 1000:>7.1f} "
            f"{row['p95'] * 1000:>7.1f} {row['p99'] * 1000:>7.1f} {row['meta_p95'] * 1000:>11.1f} "
            f"{(row['p95'] * 1000 - args.meta_ms):>13.1f} {(row['p95'] - row['meta_p95']) * 1000:>12.1f} "
            f"{row['cpu_ms']:>11.2f}",
            flush=True,
        )
    return rows, key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--meta-ms", type=float, default=150)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    parser.add_argument("--type", choices=("template", "text"), default="template")
    args = parser.parse_args()
    print(
        f"send_overhead: cores={os.cpu_count()} load={os.getloadavg()[0]:.1f} database={args.database} "
        f"rate={args.rate:g}/s for {args.seconds:g}s × {args.runs} runs, Meta (sandbox) {args.meta_ms:g} ms, "
        f"type={args.type}, load generator=httpx open loop (this process)"
    )
    print(
        f"{'run':>3} {'sent':>6} {'200':>6} {'202':>6} {'other':>6} {'p50 ms':>7} {'p95 ms':>7} "
        f"{'p99 ms':>7} {'meta p95 ms':>11} {'p95-meta ms':>13} {'p95-direct':>12} {'cpu ms/send':>11}"
    )
    with stack(args.database, name="send") as s, worker(s) as worker_log:
        rows, key = asyncio.run(measure(s, args))
        found = leaks.sandbox_secrets(s.sandbox_url) | dict.fromkeys(s.configured_secrets(), "configured")
        found[PASSWORD] = "password"
        found[key] = "service_key"
        print(leaks.report((*s.logs, worker_log), found))
    p95 = statistics.median(r["p95"] for r in rows)
    meta_p95 = statistics.median(r["meta_p95"] for r in rows)
    others = sum(r["other"] for r in rows)
    queued = sum(r["queued"] for r in rows)
    print(
        f"RESULT send overhead at {args.rate:g} sends/s with Meta at {args.meta_ms:g} ms: our p95 "
        f"{p95 * 1000:.1f} ms → overhead {p95 * 1000 - args.meta_ms:.1f} ms (p95 − {args.meta_ms:g} ms), "
        f"{(p95 - meta_p95) * 1000:.1f} ms (p95 − direct sandbox p95 {meta_p95 * 1000:.1f} ms); "
        f"median of {args.runs} runs, {queued} answered 202 (queued), {others} errors, {args.database}, "
        f"{os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
