"""Meta's dates as a Brazilian reads them: ``dd/mm/aaaa``.

Meta writes dates in its payloads in several ways — English prose (``"April 17, 2025"``, the ban date of
``account_update``), ISO 8601 or Unix seconds. ``pt_br_date`` gives ``17/04/2025`` for each; a value it cannot
read is returned as it came, so nothing Meta said is lost.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def pt_br_date(raw: object) -> str:
    """``dd/mm/aaaa`` for a date Meta wrote; the raw text when it is none of Meta's forms."""
    found = _parse(raw)
    return found.strftime("%d/%m/%Y") if found else str(raw)


def _parse(raw: object) -> date | None:
    if isinstance(raw, datetime):
        return raw.date()
    if isinstance(raw, date):
        return raw
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return datetime.fromtimestamp(raw, UTC).date()
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text), UTC).date()
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00")).date()
    except ValueError:
        pass
    return _english(text)


def _english(text: str) -> date | None:
    """``April 17, 2025`` without the C library's locale (it may not be English)."""
    words = text.replace(",", " ").split()
    if len(words) != 3:
        return None
    month_first = words[0].lower()[:3], words[1], words[2]
    day_first = words[1].lower()[:3], words[0], words[2]
    for month, day, year in (month_first, day_first):
        number = next((i for i, name in enumerate(_MONTHS, 1) if name == month), None)
        if number and day.isdigit() and year.isdigit():
            try:
                return date(int(year), number, int(day))
            except ValueError:
                return None
    return None
