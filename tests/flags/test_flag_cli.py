from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from qualifica.audit import AuditEntry
from qualifica.cli import app
from qualifica.flags import WHATSAPP_EMBEDDED_SIGNUP, FeatureFlag

KEY = WHATSAPP_EMBEDDED_SIGNUP


@pytest.fixture
def cli(database_url: str, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("QUALIFICA_DATABASE_URL", database_url)
    return CliRunner()


def run(cli: CliRunner, *args: str, ok: bool = True) -> str:
    result = cli.invoke(app, list(args))
    assert (result.exit_code == 0) is ok, result.output
    return result.output


def stored(database_url: str) -> list[tuple[uuid.UUID | None, bool | None, int | None]]:
    url = make_url(database_url)
    engine = create_engine(
        url.set(drivername="postgresql+psycopg" if url.get_backend_name() == "postgresql" else "sqlite")
    )
    with engine.connect() as connection:
        rows = connection.execute(
            select(FeatureFlag.organization_id, FeatureFlag.enabled, FeatureFlag.rollout_percent).order_by(
                FeatureFlag.organization_id.is_not(None)
            )
        ).all()
        audited = connection.execute(select(AuditEntry.action)).scalars().all()
    engine.dispose()
    assert set(audited) <= {"feature_flag.changed"} and len(audited) >= len(rows)
    return [(row.organization_id, row.enabled, row.rollout_percent) for row in rows]


class TestFlagCommand:
    def test_set_list_and_clear_the_global_default_percentage_and_an_override(
        self, cli: CliRunner, database_url: str
    ) -> None:
        org = uuid.UUID(run(cli, "org", "create", "Imobiliária Piloto").strip().splitlines()[-1])
        assert "default" in run(cli, "flag", "list")

        run(cli, "flag", "set", KEY, "off")
        run(cli, "flag", "set", KEY, "--percent", "20")
        run(cli, "flag", "set", KEY, "on", "--org", str(org))
        assert stored(database_url) == [(None, False, 20), (org, True, None)]
        listing = run(cli, "flag", "list")
        assert f"{KEY}\tglobal\toff\tpercent=20%" in listing
        assert f"org {org} (Imobiliária Piloto)\ton" in listing

        assert "removido" in run(cli, "flag", "clear", KEY, "--org", str(org))
        assert "removido" in run(cli, "flag", "clear", KEY, "--percent")
        assert stored(database_url) == [(None, False, None)]
        run(cli, "flag", "clear", KEY)
        assert stored(database_url) == []
        assert "nada a remover" in run(cli, "flag", "clear", KEY)

    @pytest.mark.parametrize(
        "args",
        [
            ("set", KEY),  # neither on/off nor a percentage
            ("set", KEY, "maybe"),
            ("set", KEY, "--percent", "101"),
            ("set", KEY, "on", "--org", "not-a-uuid"),
            ("set", KEY, "on", "--org", str(uuid.UUID(int=7))),  # no such organization
            ("set", KEY, "--percent", "10", "--org", str(uuid.UUID(int=7))),
            ("set", "whatsapp_embeded_signup_enabled", "on"),  # a typo is refused, not stored
        ],
    )
    def test_mistakes_exit_non_zero_with_one_line(self, cli: CliRunner, args: tuple[str, ...]) -> None:
        output = run(cli, "flag", *args, ok=False)
        assert output.strip().count("\n") == 0 and output.startswith("erro:")
