"""What the reliability suite's leak scan reads: every secret the run created, and the run's own log."""

from __future__ import annotations

from tests.support import meta
from tests.support.factories import PASSWORD
from tests.support.processes import LOG_DIR

MINTED: dict[str, str] = {
    meta.APP_SECRET: "app_secret",
    PASSWORD: "password",
    meta.VERIFY_TOKEN: "verify_token",
}
PYTEST_LOG = LOG_DIR / "pytest.log"
