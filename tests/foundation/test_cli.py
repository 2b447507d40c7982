from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from qualifica.migrate import upgrade


def qualifica(*args: str, db: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QUALIFICA_DATABASE_URL": db}
    return subprocess.run(
        [sys.executable, "-m", "qualifica.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


@pytest.fixture(scope="module")
def cli_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('cli') / 'cli.db'}"
    upgrade(url)
    return url


class TestCLI:
    def test_org_and_user_create_print_the_new_id_last(self, cli_db: str) -> None:
        org = qualifica("org", "create", "Imobiliária Horizonte", db=cli_db)
        assert org.returncode == 0, org.stderr
        org_id = uuid.UUID(org.stdout.strip().splitlines()[-1])
        user = qualifica(
            "user", "create", "--org", str(org_id), "--email", "Dono@Horizonte.com.br", "--role", "admin",
            "--password-stdin", db=cli_db, stdin="uma-senha-forte\n",
        )  # fmt: skip
        assert user.returncode == 0, user.stderr
        uuid.UUID(user.stdout.strip().splitlines()[-1])
        assert "uma-senha-forte" not in user.stdout + user.stderr

    def test_duplicate_email_fails_with_one_line(self, cli_db: str) -> None:
        org_id = qualifica("org", "create", "Dup", db=cli_db).stdout.strip().splitlines()[-1]
        args = (
            "user",
            "create",
            "--org",
            org_id,
            "--email",
            "dup@x.com",
            "--role",
            "member",
            "--password-stdin",
        )
        assert qualifica(*args, db=cli_db, stdin="password-123\n").returncode == 0
        again = qualifica(*args, db=cli_db, stdin="password-123\n")
        assert again.returncode == 1
        assert again.stderr.strip() == "erro: Já existe um usuário com este e-mail."

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (("--org", "not-a-uuid", "--email", "a@b.c", "--role", "admin", "--password-stdin"), "UUID"),
            (
                ("--org", str(uuid.uuid4()), "--email", "a@b.c", "--role", "owner", "--password-stdin"),
                "admin, member, staff",
            ),
            (
                ("--org", str(uuid.uuid4()), "--email", "a@b.c", "--role", "admin", "--password-stdin"),
                "Organização não encontrada",
            ),
            (("--org", str(uuid.uuid4()), "--email", "a@b.c", "--role", "admin"), "--password-stdin"),
        ],
    )
    def test_bad_user_create_exits_non_zero_with_one_line(
        self, cli_db: str, args: tuple[str, ...], message: str
    ) -> None:
        result = qualifica("user", "create", *args, db=cli_db, stdin="password-123\n")
        assert result.returncode == 1
        assert len(result.stderr.strip().splitlines()) == 1
        assert message in result.stderr

    def test_keys_generate_prints_a_usable_key(self, cli_db: str) -> None:
        from qualifica.config import parse_key_ring

        result = qualifica("keys", "generate", "--kid", "k2026", db=cli_db)
        assert result.returncode == 0
        assert parse_key_ring(result.stdout.strip())[0][0] == "k2026"

    def test_production_with_placeholder_secrets_refuses_to_start(self, cli_db: str, tmp_path: Path) -> None:
        env = {
            **os.environ,
            "QUALIFICA_DATABASE_URL": cli_db,
            "QUALIFICA_ENVIRONMENT": "production",
            "QUALIFICA_SECRET_KEY": "changeme",
        }
        env.pop("QUALIFICA_ENCRYPTION_KEYS", None)
        result = subprocess.run(
            [sys.executable, "-m", "qualifica.cli", "migrate"],
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
        )
        assert result.returncode == 1
        assert "QUALIFICA_SECRET_KEY" in result.stderr and "QUALIFICA_ENCRYPTION_KEYS" in result.stderr
        assert "changeme" not in result.stderr
