"""``qualifica`` subprocesses whose stdout and stderr are kept under ``var/reliability/logs``."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

LOG_DIR = Path(__file__).resolve().parents[2] / "var" / "reliability" / "logs"


class Process:
    """A ``qualifica`` subprocess whose output goes to its own file under ``LOG_DIR``."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.name, self.args, self.env, self.cwd = name, args, env, cwd
        LOG_DIR.mkdir(parents=True, exist_ok=True)
        self.log = LOG_DIR / f"{name}-{os.getpid()}-{uuid.uuid4().hex[:6]}.log"
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self, ready_url: str | None = None) -> None:
        with self.log.open("ab") as output:
            self.popen = subprocess.Popen(
                [sys.executable, "-m", "qualifica.cli", *self.args],
                env=self.env,
                cwd=self.cwd,
                stdout=output,
                stderr=output,
            )
        if ready_url:
            wait_ready(ready_url, self.popen)

    def kill(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def wait_ready(url: str, popen: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert popen.poll() is None, f"{url}: the process exited ({popen.returncode})"
        assert time.monotonic() < deadline, f"{url} did not become ready"
        time.sleep(0.1)


@contextmanager
def processes(*items: Process) -> Iterator[tuple[Process, ...]]:
    try:
        yield items
    finally:
        for item in items:
            item.stop()
