"""Inbound messages to the assistant (§15): latency from Meta's POST to the assistant's receiver, and the
sustained inbound rate the workers keep up with.

    python -m bench.inbound_events [--latency-rate 20] [--latency-seconds 15] [--workers 2]
                                   [--flood-rate 100] [--per-body 10] [--flood-seconds 20]

Service, sandbox and ``--workers`` ``qualifica worker`` processes on a fresh PostgreSQL database
(``bench.harness``); one organization connected through a real signup; the assistant's receiver (a small
Starlette app on a real socket in this process) verifies every push with the ``standardwebhooks`` library.

1. Latency: signed ``messages`` webhooks (one message each) POSTed at ``--latency-rate`` per second, open
   loop; each message's latency is its push's arrival at the receiver minus the moment its webhook was due
   to be posted (webhook endpoint → inbox → worker → event → push job → receiver). Goal: p95 ≤ 250 ms.
2. Sustained rate: bodies of ``--per-body`` messages (Meta batches) at ``--flood-rate`` bodies per second for
   ``--flood-seconds``; the events written per second while posting, and the backlog (changes not yet
   processed) at the end of each half, show whether the inbox grows. Goal: ≥ 1,000 messages/s, no growth.
Last line: ``RESULT``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import httpx
from sqlalchemy import func, select
from standardwebhooks.webhooks import Webhook
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.callback_latency import percentile
from bench.harness import APP_SECRET, Stack, free_port, log_file, stack, worker_env
from bench.status_endpoint import connect
from qualifica.config import WEBHOOK_PATH
from qualifica.db import create_engine, create_sessionmaker
from qualifica.webhooks.models import WebhookChange
from qualifica.whatsapp.events import AssistantEvent
from qualifica.whatsapp.models import WhatsAppConnection
from tests.support.live import serve_in_thread

SECRET = "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()
LEAD = "5511987650001"


class Receiver:
    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}  # wamid → arrival (perf_counter)
        self.lock = threading.Lock()
        self.hook = Webhook(SECRET)

    async def endpoint(self, request: Request) -> Response:
        event = self.hook.verify(await request.body(), dict(request.headers))
        wamid = (event.get("data") or {}).get("wamid")
        if wamid:
            with self.lock:
                self.arrived.setdefault(str(wamid), time.perf_counter())
        return Response(status_code=204)


@contextmanager
def workers(s: Stack, count: int, push_url: str) -> Iterator[None]:
    env = worker_env(s, assistant_webhook_url=push_url, assistant_webhook_secret=SECRET)
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as cwd, open(log_file("inbound-workers"), "ab") as output:
        try:
            for _ in range(count):
                procs.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "qualifica.cli", "worker"],
                        env=env,
                        cwd=cwd,
                        stdout=output,
                        stderr=output,
                    )
                )
            yield
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(timeout=20)


def body(waba_id: str, phone_id: str, wamids: list[str]) -> bytes:
    now = str(int(time.time()))
    messages = [
        {"from": LEAD, "id": wamid, "timestamp": now, "type": "text", "text": {"body": f"Olá {wamid[-6:]}"}}
        for wamid in wamids
    ]
    value = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "551140001234", "phone_number_id": phone_id},
        "contacts": [{"profile": {"name": "Lead"}, "wa_id": LEAD}],
        "messages": messages,
    }
    entry = {"id": waba_id, "time": int(time.time()), "changes": [{"field": "messages", "value": value}]}
    return json.dumps({"object": "whatsapp_business_account", "entry": [entry]}).encode()


def signature(raw: bytes) -> dict[str, str]:
    digest = hmac.new(APP_SECRET.encode(), raw, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "content-type": "application/json"}


async def post_at_rate(
    client: httpx.AsyncClient, bodies: list[bytes], rate: float
) -> tuple[list[float], dict[int, int]]:
    """Open loop: body ``n`` is due at ``n / rate``; returns each one's due moment (perf_counter)."""
    due: list[float] = []
    statuses: dict[int, int] = {}

    async def one(raw: bytes) -> None:
        answer = await client.post(WEBHOOK_PATH, content=raw, headers=signature(raw))
        statuses[answer.status_code] = statuses.get(answer.status_code, 0) + 1

    started, tasks = time.perf_counter(), []
    for number, raw in enumerate(bodies):
        at = started + number / rate
        await asyncio.sleep(max(0.0, at - time.perf_counter()))
        due.append(at)
        tasks.append(asyncio.create_task(one(raw)))
    await asyncio.gather(*tasks)
    return due, statuses


async def counts(database_url: str) -> tuple[int, int]:
    """(events written, changes not yet processed)."""
    engine = create_engine(database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            events = await session.scalar(select(func.count()).select_from(AssistantEvent)) or 0
            pending = await session.scalar(
                select(func.count()).select_from(WebhookChange).where(WebhookChange.processed_at.is_(None))
            )
            return int(events), int(pending or 0)
    finally:
        await engine.dispose()


async def prepared(s: Stack) -> WhatsAppConnection:
    await connect(s)
    engine = create_engine(s.database_url)
    try:
        async with create_sessionmaker(engine)() as session:
            return (await session.scalars(select(WhatsAppConnection))).one()
    finally:
        await engine.dispose()


async def measure(
    args: argparse.Namespace, s: Stack, receiver: Receiver, connection: WhatsAppConnection
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=s.service_url, timeout=30) as client:
        # 0. warm-up: the workers have started and pushed one message end to end
        await post_at_rate(client, [body(connection.waba_id, connection.phone_number_id, ["wamid.WARM"])], 1)
        for _ in range(600):
            if "wamid.WARM" in receiver.arrived:
                break
            await asyncio.sleep(0.05)
        # 1. latency, one message per webhook
        count = int(args.latency_rate * args.latency_seconds)
        wamids = [f"wamid.LAT{n:08d}" for n in range(count)]
        bodies = [body(connection.waba_id, connection.phone_number_id, [w]) for w in wamids]
        due, statuses = await post_at_rate(client, bodies, args.latency_rate)
        for _ in range(600):  # up to 30 s for the last pushes (the receiver runs in another thread)
            if all(w in receiver.arrived for w in wamids):
                break
            await asyncio.sleep(0.05)
        arrived = receiver.arrived
        latencies = [(arrived[w] - at) * 1000 for w, at in zip(wamids, due, strict=True) if w in arrived]
        # 2. sustained rate, batched bodies
        flood = [
            body(
                connection.waba_id,
                connection.phone_number_id,
                [f"wamid.F{n:06d}{m:03d}" for m in range(args.per_body)],
            )
            for n in range(int(args.flood_rate * args.flood_seconds))
        ]
        events_before, _ = await counts(s.database_url)
        half = len(flood) // 2
        started = time.perf_counter()
        await post_at_rate(client, flood[:half], args.flood_rate)
        mid_events, mid_backlog = await counts(s.database_url)
        await post_at_rate(client, flood[half:], args.flood_rate)
        posted_seconds = time.perf_counter() - started
        end_events, end_backlog = await counts(s.database_url)
        drain_started, left = time.perf_counter(), end_backlog
        for _ in range(240):  # up to 120 s to drain what is left
            if not left:
                break
            await asyncio.sleep(0.5)
            _, left = await counts(s.database_url)
        drained = time.perf_counter() - drain_started
        final_events, _ = await counts(s.database_url)
    return {
        "latency_sent": count,
        "latency_received": len(latencies),
        "latency_statuses": statuses,
        "p50_ms": round(statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(percentile(latencies, 0.95), 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 0.99), 1) if latencies else None,
        "max_ms": round(max(latencies), 1) if latencies else None,
        "offered_msgs_per_s": round(len(flood) * args.per_body / posted_seconds),
        "events_per_s_while_posting": round((end_events - events_before) / posted_seconds),
        "backlog_changes_after_first_half": mid_backlog,
        "backlog_changes_at_end_of_posting": end_backlog,
        "drain_seconds_after_posting": round(drained, 1),
        "events_written": final_events - events_before,
        "events_expected": len(flood) * args.per_body,
        "events_after_first_half": mid_events - events_before,
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    receiver = Receiver()
    app = Starlette(routes=[Route("/eventos", receiver.endpoint, methods=["POST"])])
    with ExitStack() as resources:
        push_base = resources.enter_context(serve_in_thread(app, health_path=None, port=free_port()))
        s = resources.enter_context(stack("postgresql", name="inbound"))
        connection = asyncio.run(prepared(s))
        resources.enter_context(workers(s, args.workers, f"{push_base}/eventos"))
        return asyncio.run(measure(args, s, receiver, connection))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--latency-rate", type=float, default=20)
    parser.add_argument("--latency-seconds", type=float, default=15)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--flood-rate", type=float, default=100)
    parser.add_argument("--per-body", type=int, default=10)
    parser.add_argument("--flood-seconds", type=float, default=20)
    result = run(parser.parse_args())
    for key, value in result.items():
        print(f"{key:38} {value}")
    print("RESULT", json.dumps(result))


if __name__ == "__main__":
    main()
