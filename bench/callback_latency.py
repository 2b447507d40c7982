"""Callback latency of the signup pipeline against the Meta sandbox, beside the peers' sequential pipeline.

    python -m bench.callback_latency [--signups 40] [--concurrency 4] [--latency 0.15] [--runs 3]
        [--profiles fixed,longtail] [--pipelines concurrent,sequential] [--database postgresql|sqlite]

Service, sandbox and PostgreSQL are separate processes over loopback (``bench.harness``); the load is an
async httpx loop in this process. Every admin signs in and starts beforehand (argon2 and the start page
are not what is measured); then ``--concurrency`` workers each mint a code at the sandbox and time the
callback request alone. Profiles: ``fixed`` — every Meta call takes ``--latency``; ``longtail`` — lognormal
with that median and p95 = 4 × median (600 ms at 150 ms). The **critical path** is exchange → slowest of
debug_token/phone/WABA/subscribe → register: 3 × latency for ``fixed``; for ``longtail``, the p95 of that
sum drawn from the same distribution (no overhead at all). The ``sequential`` pipeline (``bench.sequential``)
awaits the four lookups one by one — six round trips, as peers do it. Prints a table per run, medians,
the leak scan of the processes' logs, and a last ``RESULT`` line. ``cpu ms``: the service process's CPU
time per callback, a figure the machine's other load does not distort.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import statistics
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx

from bench import leaks
from bench.harness import Stack, cpu_seconds, stack
from qualifica.accounts.models import Role
from qualifica.accounts.service import create_organization, create_user
from qualifica.db import create_engine, create_sessionmaker

ENDPOINTS = ("oauth_access_token", "debug_token", "phone_number", "waba", "subscribed_apps", "register")
PASSWORD = "bench-password-1234"
LONGTAIL_SIGMA = math.log(4) / 1.645  # p95 = 4 × median
MODULES = {"concurrent": "qualifica.cli", "sequential": "bench.sequential"}


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def critical_path(profile: str, latency: float, q: float = 0.95) -> float:
    """The pipeline's floor: 3 Meta round trips (exchange, slowest lookup, register), zero overhead."""
    if profile == "fixed":
        return 3 * latency
    rng = random.Random(9)

    def call() -> float:
        return min(30.0, rng.lognormvariate(0, LONGTAIL_SIGMA) * latency)  # as the sandbox draws it

    return percentile([call() + max(call() for _ in range(4)) + call() for _ in range(20_000)], q)


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
        body: dict[str, Any] = {"endpoint": endpoint, "seconds": seconds}
        if profile == "longtail":
            body = {"endpoint": endpoint, "kind": "lognormal", "a": seconds, "b": LONGTAIL_SIGMA}
        (await sandbox.post("/_control/latency", json=body)).raise_for_status()


@dataclass
class Session:
    http: httpx.AsyncClient
    headers: dict[str, str]
    state: str


async def signed_in(s: Stack, email: str) -> Session:
    http = httpx.AsyncClient(base_url=s.service_url, timeout=60)
    login = await http.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
    headers = {"X-CSRF-Token": login.cookies["qualifica_csrf"]}
    start = await http.post("/api/v1/whatsapp/embedded-signup/start", headers=headers)
    return Session(http, headers, start.json()["state"])


async def callback(session: Session, sandbox: httpx.AsyncClient) -> tuple[float, int]:
    minted = (await sandbox.post("/_control/signup", json={"path": "finish"})).json()
    body = {"code": minted["code"], "state": session.state, "event": minted["event"], **minted["data"]}
    started = time.perf_counter()
    response = await session.http.post(
        "/api/v1/whatsapp/embedded-signup/callback", json=body, headers=session.headers
    )
    return time.perf_counter() - started, response.status_code


async def measure(s: Stack, args: argparse.Namespace, profile: str, concurrency: int) -> dict[str, float]:
    emails = await seed_admins(s.database_url, args.signups)
    sessions = [await signed_in(s, email) for email in emails]
    async with httpx.AsyncClient(base_url=s.sandbox_url, timeout=60) as sandbox:
        await set_latency(sandbox, profile, args.latency)
        queue = list(sessions)
        results: list[tuple[float, int]] = []

        async def worker() -> None:
            while queue:
                results.append(await callback(queue.pop(), sandbox))

        cpu_before = cpu_seconds(s.service_pid)
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        cpu = cpu_seconds(s.service_pid) - cpu_before
    for session in sessions:
        await session.http.aclose()
    latencies = [seconds for seconds, status in results if status == 200]
    return {
        "ok": len(latencies),
        "failed": len(results) - len(latencies),
        "p50": percentile(latencies, 0.50),
        "p95": percentile(latencies, 0.95),
        "p99": percentile(latencies, 0.99),
        "cpu_ms": cpu * 1000 / max(1, len(results)),  # the service's CPU per callback (machine-load free)
    }


Rows = dict[tuple[str, int], list[dict[str, float]]]


def run_pipeline(args: argparse.Namespace, pipeline: str, profiles: list[str], levels: list[int]) -> Rows:
    rows: Rows = {(profile, level): [] for profile in profiles for level in levels}
    settings = {"callback_deadline_seconds": "25"}
    with stack(args.database, name=f"callback-{pipeline}", module=MODULES[pipeline], **settings) as s:
        for profile in profiles:
            critical = critical_path(profile, args.latency)
            for level in levels:
                for run in range(1, args.runs + 1):
                    row = asyncio.run(measure(s, args, profile, level))
                    rows[(profile, level)].append(row)
                    print(
                        f"{profile:>8} {pipeline:>10} {level:>2} {run:>3} {row['ok']:>4.0f} "
                        f"{row['failed']:>6.0f} "
                        f"{row['p50'] * 1000:>7.0f} {row['p95'] * 1000:>7.0f} {row['p99'] * 1000:>7.0f} "
                        f"{critical * 1000:>9.0f} {row['p95'] / critical:>6.2f} {row['cpu_ms']:>8.1f}",
                        flush=True,
                    )
        found = leaks.sandbox_secrets(s.sandbox_url) | dict.fromkeys(s.configured_secrets(), "configured")
        found[PASSWORD] = "password"
        print("   " + leaks.report(s.logs, found), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signups", type=int, default=24, help="per run")
    parser.add_argument("--concurrency", default="1,4", help="concurrent signups; comma-separated levels")
    parser.add_argument("--latency", type=float, default=0.15)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--profiles", default="fixed,longtail")
    parser.add_argument("--pipelines", default="concurrent,sequential")
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    profiles, pipelines = args.profiles.split(","), args.pipelines.split(",")
    levels = [int(level) for level in args.concurrency.split(",")]
    print(
        f"callback_latency: cores={os.cpu_count()} load={os.getloadavg()[0]:.1f} database={args.database} "
        f"meta latency median={args.latency * 1000:.0f}ms signups={args.signups} "
        f"concurrency={args.concurrency} runs={args.runs} load generator=httpx async loop (this process)"
    )
    print(
        f"{'profile':>8} {'pipeline':>10} {'C':>2} {'run':>3} {'ok':>4} {'failed':>6} {'p50 ms':>7} "
        f"{'p95 ms':>7} "
        f"{'p99 ms':>7} {'crit. ms':>9} {'ratio':>6} {'cpu ms':>8}"
    )
    results = {pipeline: run_pipeline(args, pipeline, profiles, levels) for pipeline in pipelines}
    print("medians of the runs (ratio = p95 / critical path p95; C = concurrent signups):")
    summary: dict[tuple[str, str, int], tuple[float, float]] = {}
    for pipeline, by_key in results.items():
        for (profile, level), rows in by_key.items():
            critical = critical_path(profile, args.latency)
            p50, p95 = (statistics.median(r[k] for r in rows) for k in ("p50", "p95"))
            p99 = statistics.median(r["p99"] for r in rows)
            failed = sum(r["failed"] for r in rows)
            cpu = statistics.median(r["cpu_ms"] for r in rows)
            summary[(profile, pipeline, level)] = (p95, p95 / critical)
            print(
                f"  {profile:>8} {pipeline:>10} C={level}: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms, "
                f"p99 {p99 * 1000:.0f} ms, critical path {critical * 1000:.0f} ms, "
                f"ratio {p95 / critical:.2f}, "
                f"service CPU {cpu:.1f} ms/callback, failed {failed}"
            )
    parts = []
    for level in levels:
        if ("fixed", "concurrent", level) in summary:
            p95, ratio = summary[("fixed", "concurrent", level)]
            miss = (ratio - 1.1) * 3 * args.latency * 1000
            verdict = "met" if ratio <= 1.1 else f"missed by {miss:.0f} ms"
            parts.append(
                f"C={level} fixed {args.latency * 1000:.0f} ms: p95 {p95 * 1000:.0f} ms = {ratio:.2f} × "
                f"critical path (target ≤ 1.10: {verdict})"
            )
        if ("longtail", "concurrent", level) in summary:
            p95, _ = summary[("longtail", "concurrent", level)]
            parts.append(
                f"C={level} long tail: p95 {p95 * 1000:.0f} ms "
                f"(target < 3000: {'met' if p95 < 3 else 'missed'})"
            )
        if ("fixed", "sequential", level) in summary:
            parts.append(
                f"C={level} sequential peers: "
                f"{summary[('fixed', 'sequential', level)][1]:.2f} × critical path"
            )
    print("RESULT callback " + "; ".join(parts) + f"; {os.cpu_count()} cores, {args.database}")


if __name__ == "__main__":
    main()
