"""Callback latency of the signup pipeline against the Meta sandbox at a fixed (or long-tail) Meta latency.

    python -m bench.callback_latency [--signups 60] [--concurrency 4] [--latency 0.15] [--runs 3]
                                     [--profile fixed|longtail] [--database postgresql|sqlite]

Prints one row per run and, last, the median p95 against the critical path (exchange → slowest lookup →
register: three Meta round trips).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import statistics
import time
import uuid
from typing import Any

import httpx

from bench.harness import Stack, stack
from qualifica.accounts.models import Role
from qualifica.accounts.service import create_organization, create_user
from qualifica.db import create_engine, create_sessionmaker

ENDPOINTS = ("oauth_access_token", "debug_token", "phone_number", "waba", "subscribed_apps", "register")
PASSWORD = "bench-password-1234"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


async def seed_admins(database_url: str, count: int) -> list[str]:
    engine = create_engine(database_url)
    emails = []
    async with create_sessionmaker(engine)() as session:
        for _ in range(count):
            organization = await create_organization(session, name="Bench")
            email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
            await create_user(
                session, organization_id=organization.id, email=email, role=Role.ADMIN, password=PASSWORD
            )
            emails.append(email)
        await session.commit()
    await engine.dispose()
    return emails


async def set_latency(sandbox: httpx.AsyncClient, profile: str, seconds: float) -> None:
    for endpoint in ENDPOINTS:
        if profile == "fixed":
            body: dict[str, Any] = {"endpoint": endpoint, "seconds": seconds}
        else:  # lognormal with the given median and p95 = 4 × median (600 ms at 150 ms)
            body = {"endpoint": endpoint, "kind": "lognormal", "a": seconds, "b": math.log(4) / 1.645}
        (await sandbox.post("/_control/latency", json=body)).raise_for_status()


async def one_signup(s: Stack, email: str, sandbox: httpx.AsyncClient) -> tuple[float, int]:
    async with httpx.AsyncClient(base_url=s.service_url, timeout=30) as http:
        login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        headers = {"X-CSRF-Token": login.cookies["qualifica_csrf"]}
        state = (await http.post("/api/v1/whatsapp/embedded-signup/start", headers=headers)).json()["state"]
        minted = (await sandbox.post("/_control/signup", json={"path": "finish"})).json()
        body = {"code": minted["code"], "state": state, "event": minted["event"], **minted["data"]}
        started = time.perf_counter()
        response = await http.post("/api/v1/whatsapp/embedded-signup/callback", json=body, headers=headers)
        return time.perf_counter() - started, response.status_code


async def measure(s: Stack, args: argparse.Namespace) -> dict[str, float]:
    emails = await seed_admins(s.database_url, args.signups)
    async with httpx.AsyncClient(base_url=s.sandbox_url, timeout=30) as sandbox:
        await set_latency(sandbox, args.profile, args.latency)
        gate = asyncio.Semaphore(args.concurrency)

        async def limited(email: str) -> tuple[float, int]:
            async with gate:
                return await one_signup(s, email, sandbox)

        results = await asyncio.gather(*(limited(email) for email in emails))
    latencies = [seconds for seconds, status in results if status == 200]
    failures = sum(1 for _, status in results if status != 200)
    return {
        "ok": len(latencies),
        "failed": failures,
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=60)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profile", choices=("fixed", "longtail"), default="fixed")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    critical = 3 * args.latency
    print(
        f"cores={os.cpu_count()} database={args.database} profile={args.profile} "
        f"latency={args.latency * 1000:.0f}ms signups={args.signups} concurrency={args.concurrency}"
    )
    print(
        f"{'run':>3} {'ok':>4} {'failed':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'p95/critical':>12}"
    )
    rows = []
    for index in range(args.runs):
        with stack(args.database, callback_deadline_seconds="25") as s:
            row = asyncio.run(measure(s, args))
        rows.append(row)
        print(
            f"{index + 1:>3} {row['ok']:>4.0f} {row['failed']:>6.0f} {row['p50'] * 1000:>7.0f} "
            f"{row['p95'] * 1000:>7.0f} {row['p99'] * 1000:>7.0f} {row['p95'] / critical:>12.2f}"
        )
    p50 = statistics.median(r["p50"] for r in rows)
    p95 = statistics.median(r["p95"] for r in rows)
    print(
        f"median of {args.runs} runs: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, critical path "
        f"{critical * 1000:.0f} ms (3 × {args.latency * 1000:.0f} ms), p95/critical = {p95 / critical:.2f}"
    )


if __name__ == "__main__":
    main()
