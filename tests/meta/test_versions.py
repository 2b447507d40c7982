"""Meta's Graph version calendar (qualifica/meta/versions.py) and what ``qualifica meta check`` makes of it:
past a version's end date it fails, within 90 days of it it warns (docs/meta.md#graph-api-versions)."""

from __future__ import annotations

from datetime import date
from itertools import pairwise

from qualifica.config import Settings
from qualifica.meta.versions import CALENDAR, Standing, major, newest, version_status
from qualifica.preflight import check_local, check_version


class TestCalendar:
    def test_the_dates_of_meta_s_table(self) -> None:
        ends = {v.name: v.ends for v in CALENDAR}
        assert ends["v21.0"] == date(2027, 1, 21)
        assert ends["v25.0"] == date(2028, 7, 29)
        assert ends["v20.0"] == date(2026, 9, 24)
        assert ends["v26.0"] is None and newest().name == "v26.0"

    def test_each_version_ends_about_two_years_after_the_next_one_came_out(self) -> None:
        ordered = sorted(CALENDAR, key=lambda v: v.released)
        for older, newer in pairwise(ordered):
            assert older.ends is not None
            two_years_on = newer.released.replace(year=newer.released.year + 2)
            assert abs((older.ends - two_years_on).days) <= 10, older.name

    def test_standing_on_a_day(self) -> None:
        today = date(2026, 12, 4)
        assert version_status("v26.0", today=today).standing is Standing.CURRENT
        assert version_status("v21.0", today=today).standing is Standing.ENDING_SOON
        assert version_status("v20.0", today=today).standing is Standing.ENDED
        assert version_status("v99.0", today=today).standing is Standing.UNKNOWN
        assert (major("v26.0"), major("26")) == (26, None)


class TestGraphVersion:
    def test_the_default_version_is_current(self) -> None:
        assert Settings(_env_file=None).meta_graph_version == "v26.0"
        assert check_version("v26.0", today=date(2026, 12, 4)).line() == "OK     Versão da Graph API"

    def test_a_version_past_its_end_fails(self) -> None:
        check = check_version("v20.0", today=date(2026, 12, 4))
        assert not check.ok
        assert check.fix == (
            "a Meta deixou de atender a v20.0 em 24/09/2026: use v26.0 em QUALIFICA_META_GRAPH_VERSION"
        )
        assert not check_version("v21.0", today=date(2027, 1, 22)).ok

    def test_within_90_days_of_the_end_it_warns_and_passes(self) -> None:
        check = check_version("v21.0", today=date(2026, 12, 4))
        assert check.ok and check.line() == (
            "AVISO  Versão da Graph API — a v21.0 deixa de funcionar em 21/01/2027 (faltam 48 dias): "
            "passe para v26.0 em QUALIFICA_META_GRAPH_VERSION"
        )
        assert check_version("v21.0", today=date(2026, 10, 23)).warning  # 90 days before
        assert not check_version("v21.0", today=date(2026, 10, 22)).warning
        assert not check_version("v25.0", today=date(2026, 12, 4)).warning  # runs to 2028-07-29

    def test_a_malformed_or_unknown_old_version_fails_and_a_newer_one_warns(self) -> None:
        assert not check_version("25", today=date(2026, 12, 4)).ok
        assert not check_version("v12.0", today=date(2026, 12, 4)).ok
        newer = check_version("v27.0", today=date(2026, 12, 4))
        assert newer.ok and "mais nova que o calendário" in newer.warning

    def test_check_local_reads_the_calendar_on_the_given_day(self) -> None:
        ending = Settings(_env_file=None, meta_graph_version="v21.0")
        (version,) = [
            c for c in check_local(ending, today=date(2026, 12, 4)) if c.name == "Versão da Graph API"
        ]
        assert version.ok and version.warning
        (ended,) = [c for c in check_local(ending, today=date(2027, 2, 1)) if c.name == "Versão da Graph API"]
        assert not ended.ok
