"""Meta's Graph API version calendar: when each version came out and when Meta stops answering it.

The one home of these dates (docs/meta.md#graph-api-versions). Meta keeps a version at least two years and
ends it two years after the next one is released; a version whose end is not announced yet has ``None``.
The version the service uses is the setting ``meta_graph_version`` (config.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

WARN_BEFORE = timedelta(days=90)


@dataclass(frozen=True)
class GraphVersion:
    name: str
    released: date
    ends: date | None  # None: "TBD" on Meta's page


CALENDAR: tuple[GraphVersion, ...] = (
    GraphVersion("v26.0", date(2026, 7, 29), None),
    GraphVersion("v25.0", date(2026, 2, 18), date(2028, 7, 29)),
    GraphVersion("v24.0", date(2025, 10, 8), date(2028, 2, 18)),
    GraphVersion("v23.0", date(2025, 5, 29), date(2027, 10, 8)),
    GraphVersion("v22.0", date(2025, 1, 21), date(2027, 5, 20)),
    GraphVersion("v21.0", date(2024, 10, 2), date(2027, 1, 21)),
    GraphVersion("v20.0", date(2024, 5, 21), date(2026, 9, 24)),
    GraphVersion("v19.0", date(2024, 1, 23), date(2026, 5, 21)),
    GraphVersion("v18.0", date(2023, 9, 12), date(2026, 1, 26)),
)
_BY_NAME = {version.name: version for version in CALENDAR}
_FORMAT = re.compile(r"^v\d+\.0$")


class Standing(StrEnum):
    CURRENT = "current"
    ENDING_SOON = "ending_soon"  # within WARN_BEFORE of its end: plan the move
    ENDED = "ended"  # past its end date: Meta no longer serves it
    UNKNOWN = "unknown"  # not a version of the calendar (malformed, or newer than it knows)


@dataclass(frozen=True)
class VersionStatus:
    name: str
    standing: Standing
    ends: date | None = None


def version_status(name: str, *, today: date | None = None) -> VersionStatus:
    """Where ``name`` stands on ``today`` (default: today)."""
    today = today or date.today()
    version = _BY_NAME.get(name)
    if version is None:
        return VersionStatus(name, Standing.UNKNOWN)
    if version.ends is None:
        return VersionStatus(name, Standing.CURRENT)
    if today > version.ends:
        return VersionStatus(name, Standing.ENDED, version.ends)
    if version.ends - today <= WARN_BEFORE:
        return VersionStatus(name, Standing.ENDING_SOON, version.ends)
    return VersionStatus(name, Standing.CURRENT, version.ends)


def major(name: str) -> int | None:
    """26 for ``v26.0``; None when ``name`` is not of Meta's ``vNN.0`` form."""
    return int(name[1:-2]) if _FORMAT.match(name) else None


def newest() -> GraphVersion:
    return max(CALENDAR, key=lambda version: version.released)
