"""Does password hashing stall the event loop? ``GET /healthz`` latency while 10 logins/s run.

    python -m bench.login_loop [--compare REV] [--rate 10] [--seconds 8] [--runs 3] [--database postgresql]

Service and sandbox are separate processes on a fresh database (``bench.harness``). An open-loop generator
sends ``--rate`` wrong-password logins per second (each a full argon2 verification; distinct unknown e-mails,
so the e-mail throttle never answers early) and, at the same time, 20 ``/healthz`` per second; each latency
counts from the request's scheduled time (no coordinated omission). The probe alone (no logins) is measured
first. ``--compare REV`` runs the same driver against ``git archive REV qualifica`` too (the code before,
e.g. where argon2 ran on the event loop) and prints the ratio of the two medians. Last line: ``RESULT``.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import secrets
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.callback_latency import percentile
from bench.harness import REPO, stack

PROBE_RATE = 20.0


async def measure(url: str, login_rate: float, seconds: float) -> dict[str, float]:
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
        probes: list[float] = []
        failed = 0
        logins: dict[int, int] = {}

        async def probe(at: float) -> None:
            nonlocal failed
            try:
                failed += (await http.get("/healthz")).status_code != 200
            except httpx.HTTPError:  # timed out (60 s) or dropped: counted, at the time it took
                failed += 1
            probes.append(time.perf_counter() - at)

        async def login() -> None:
            body = {"email": f"ninguem-{secrets.token_hex(6)}@example.com", "password": "errada"}
            try:
                status = (await http.post("/api/v1/auth/login", json=body)).status_code
            except httpx.HTTPError:
                status = 0  # the server dropped the connection
            logins[status] = logins.get(status, 0) + 1

        started = time.perf_counter()
        schedule = sorted(
            [(started + n / PROBE_RATE, True) for n in range(int(PROBE_RATE * seconds))]
            + [(started + n / login_rate, False) for n in range(int(login_rate * seconds))]
        )
        tasks = []
        for at, is_probe in schedule:
            await asyncio.sleep(max(0.0, at - time.perf_counter()))
            tasks.append(asyncio.create_task(probe(at) if is_probe else login()))
        await asyncio.gather(*tasks)
    unexpected = sum(count for status, count in logins.items() if status != 401)
    return {
        "p50": percentile(probes, 0.5),
        "p99": percentile(probes, 0.99),
        "unexpected": unexpected,
        "failed": failed,
    }


@contextmanager
def tree(rev: str | None) -> Iterator[str | None]:
    """``None`` for this tree, else a directory holding ``git archive REV qualifica``."""
    if rev is None:
        yield None
        return
    with tempfile.TemporaryDirectory() as directory:
        git = shutil.which("git") or "git"
        command = [git, "archive", rev, "qualifica"]
        archive = subprocess.run(command, cwd=REPO, capture_output=True, check=True)
        with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as files:
            files.extractall(directory, filter="data")
        yield directory


def run_tree(label: str, rev: str | None, args: argparse.Namespace) -> float:
    with tree(rev) as path:
        if path is None:
            os.environ.pop("BENCH_SERVICE_PATH", None)
        else:
            os.environ["BENCH_SERVICE_PATH"] = path
        source = Path(path or REPO) / "qualifica" / "config.py"
        # A higher per-IP limit (every login comes from this one address), where the service knows it.
        extra = {"login_ip_limit": "1000000"} if "login_ip_limit" in source.read_text() else {}
        with stack(args.database, name=f"login-{label}", **extra) as s:
            idle = asyncio.run(measure(s.service_url, 1e-9, 3))
            print(f"{label:>7} probe alone: p50 {idle['p50'] * 1000:.1f} ms, p99 {idle['p99'] * 1000:.1f} ms")
            asyncio.run(measure(s.service_url, args.rate, 2))  # warm-up
            medians = []
            for run in range(1, args.runs + 1):
                row = asyncio.run(measure(s.service_url, args.rate, args.seconds))
                medians.append(row["p50"])
                print(
                    f"{label:>7} run {run}: /healthz p50 {row['p50'] * 1000:.1f} ms, "
                    f"p99 {row['p99'] * 1000:.1f} ms with {args.rate:g} logins/s "
                    f"(answers other than 401: {row['unexpected']:.0f}; probes failed: {row['failed']:.0f})",
                    flush=True,
                )
    return statistics.median(medians)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--compare", metavar="REV", help="also run the service as of this git revision")
    parser.add_argument("--rate", type=float, default=10)
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--database", choices=("postgresql", "sqlite"), default="postgresql")
    args = parser.parse_args()
    print(
        f"login_loop: cores={os.cpu_count()} load={os.getloadavg()[0]:.1f} database={args.database} "
        f"{args.rate:g} logins/s + {PROBE_RATE:g} /healthz/s for {args.seconds:g}s × {args.runs} runs"
    )
    after = run_tree("after", None, args)
    if args.compare is None:
        print(f"RESULT /healthz p50 {after * 1000:.1f} ms while {args.rate:g} logins/s run (median of runs)")
        return
    before = run_tree("before", args.compare, args)
    print(
        f"RESULT /healthz p50 while {args.rate:g} logins/s run: "
        f"before ({args.compare}) {before * 1000:.1f} ms, after {after * 1000:.1f} ms, "
        f"ratio {before / after:.1f}× (median of {args.runs} runs each)"
    )


if __name__ == "__main__":
    main()
