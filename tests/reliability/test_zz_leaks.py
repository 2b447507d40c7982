"""Secret leak scan, last in the suite: every log line the run wrote against every secret the run created.

Logs: pytest's own (every record, rendered by the production formatter, ``var/reliability/logs/pytest.log``)
and the stdout/stderr of every ``qualifica serve`` / ``qualifica worker`` the suite started. Secrets: the app
secret, the verify token, the password, each test's session secret and encryption keys, and every code,
token and PIN Meta (the sandbox) handed out or received (``conftest.collect_secrets``).
"""

from __future__ import annotations

import logging

from bench.leaks import scan
from tests.support.leaks import MINTED, PYTEST_LOG
from tests.support.processes import LOG_DIR


def test_no_secret_reaches_any_log() -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()
    files = sorted(LOG_DIR.glob("*.log"))
    assert PYTEST_LOG in files
    kinds = set(MINTED.values())
    lines, hits = scan(files, MINTED)
    assert lines > 1000, f"only {lines} log lines: run the whole suite (make reliability)"
    assert hits == [], hits[:5]
    print(
        f"leak scan: {len(MINTED)} secrets ({', '.join(sorted(kinds))}) × {lines} lines in {len(files)} files"
    )
