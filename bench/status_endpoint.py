"""Latency of ``GET /api/v1/whatsapp/connection/status`` at a fixed request rate, and the server's RSS.

    python -m bench.status_endpoint [--rate 200] [--seconds 10] [--runs 3] [--database postgresql|sqlite]

Service and sandbox are separate processes on a fresh database (``bench.harness``); one organization is
connected through a real signup, then an open-loop generator in this process (httpx, async, 16 keep-alive
connections) sends requests at exactly ``--rate`` per second whatever the answers do; each latency counts
from the request's scheduled time, so a stalled server shows up (no coordinated omission). RSS is the
service process's resident memory after each run. Last line: ``RESULT``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

import httpx

from bench import leaks
from bench.callback_latency import PASSWORD, percentile, seed_admins, signed_in
from bench.harness import Stack, rss_mib, stack


async def connect(s: Stack) -> tuple[dict[str, str], dict[str, str]]:
    (email,) = await seed_admins(s.database_url, 1)
    session = await signed_in(s, email)
    async with httpx.AsyncClient(base_url=s.sandbox_url) as sandbox:
        minted = (await sandbox.post("/_control/signup", json={"path": "finish"})).json()
    body = {"code": minted["code"], "state": session.state, "event": minted["event"], **minted["data"]}
    answer = await session.http.post(
        "/api/v1/whatsapp/embedded-signup/callback", json=body, headers=session.headers
    )
    assert answer.status_code == 200, answer.text
    cookies = dict(session.http.cookies)
    await session.http.aclose()
    return cookies, session.headers


async def load(s: Stack, cookies: dict[str, str], rate: float, seconds: float) -> dict[str, float]:
    limits = httpx.Limits(max_connections=16, max_keepalive_connections=16)
    async with httpx.AsyncClient(base_url=s.service_url, cookies=cookies, limits=limits, timeout=30) as http:
        latencies: list[float] = []
        errors = 0

        async def one(at: float) -> None:
            nonlocal errors
            response = await http.get("/api/v1/whatsapp/connection/status")
            latencies.append(time.perf_counter() - at)
            errors += response.status_code != 200 or response.json()["status"] != "active"

        started = time.perf_counter()
        tasks = []
        for number in range(int(rate * seconds)):
            at = started + number / rate
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            tasks.append(asyncio.create_task(one(at)))
        await asyncio.gather(*tasks)
    return {
        "sent": len(tasks),
        "errors": errors,
        "p50": percentile(latencies, 0.5),
        "p99": percentile(latencies, 0.99),
        "rss": rss_mib(s.service_pid),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=200)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    print(
        f"status_endpoint: cores={os.cpu_count()} load={os.getloadavg()[0]:.1f} database={args.database} "
        f"rate={args.rate:g}/s for {args.seconds:g}s × {args.runs} runs, load generator=httpx open loop "
        f"(this process, 16 connections)"
    )
    print(f"{'run':>3} {'sent':>6} {'errors':>6} {'p50 ms':>7} {'p99 ms':>7} {'RSS MiB':>8}")
    rows = []
    with stack(args.database, name="status") as s:
        cookies, _ = asyncio.run(connect(s))
        asyncio.run(load(s, cookies, args.rate, 2))  # warm-up
        for run in range(1, args.runs + 1):
            row = asyncio.run(load(s, cookies, args.rate, args.seconds))
            rows.append(row)
            print(
                f"{run:>3} {row['sent']:>6.0f} {row['errors']:>6.0f} {row['p50'] * 1000:>7.1f} "
                f"{row['p99'] * 1000:>7.1f} {row['rss']:>8.1f}",
                flush=True,
            )
        found = leaks.sandbox_secrets(s.sandbox_url) | dict.fromkeys(s.configured_secrets(), "configured")
        found[PASSWORD] = "password"
        print(leaks.report(s.logs, found))
    p50, p99 = (statistics.median(r[k] for r in rows) for k in ("p50", "p99"))
    rss = max(r["rss"] for r in rows)
    print(
        f"RESULT status endpoint at {args.rate:g} req/s: p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms "
        f"(median of {args.runs} runs), server RSS {rss:.0f} MiB, {args.database}, {os.cpu_count()} cores"
    )


if __name__ == "__main__":
    main()
