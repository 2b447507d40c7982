"""§13: production refuses to serve with unsafe settings, naming every problem and no value."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from qualifica.app import create_app
from qualifica.config import InsecureSettingsError, Settings
from qualifica.migrate import upgrade
from tests.support.keys import encryption_key
from tests.support.live import free_port
from tests.support.processes import Process, processes

META_SECRET = "0123456789abcdef-app-secret"
VERIFY = "verify-token-6f1d2c9a"
METRICS = "metrics-token-8b7e3a51c2"
SMTP = "smtp://mailer:smtp-password-77@mail.example:587?starttls=true"


def production(**overrides: object) -> Settings:
    values: dict[str, Any] = {
        "environment": "production",
        "secret_key": secrets.token_urlsafe(48),
        "encryption_keys": f"k1:{encryption_key()}",
        "base_url": "https://app.qualifica.example",
        "meta_app_id": "1234567890",
        "meta_app_secret": META_SECRET,
        "meta_config_id": "9876543210",
        "meta_webhook_verify_token": VERIFY,
        "metrics_token": METRICS,
        "smtp_url": SMTP,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)


class TestServingProblems:
    def test_complete_production_settings_start(self) -> None:
        settings = production()
        assert settings.serving_problems() == []
        settings.refuse_unsafe_start()

    @pytest.mark.parametrize(
        ("override", "named"),
        [
            ({"base_url": "http://app.qualifica.example"}, "QUALIFICA_BASE_URL"),
            ({"meta_app_id": ""}, "QUALIFICA_META_APP_ID"),
            ({"meta_app_secret": ""}, "QUALIFICA_META_APP_SECRET"),
            ({"meta_config_id": ""}, "QUALIFICA_META_CONFIG_ID"),
            ({"meta_webhook_verify_token": "changeme"}, "QUALIFICA_META_WEBHOOK_VERIFY_TOKEN"),
            ({"metrics_token": None}, "QUALIFICA_METRICS_TOKEN"),
            ({"metrics_token": ""}, "QUALIFICA_METRICS_TOKEN"),
            ({"smtp_url": None}, "QUALIFICA_SMTP_URL"),
        ],
    )
    def test_each_problem_is_refused_by_name(self, override: dict[str, object], named: str) -> None:
        with pytest.raises(InsecureSettingsError, match=named) as refused:
            production(**override).refuse_unsafe_start()
        problems = production(**override).serving_problems()
        assert len(problems) == 1 and problems[0].startswith(named)
        assert METRICS not in str(refused.value) and META_SECRET not in str(refused.value)

    def test_one_message_lists_every_problem(self) -> None:
        settings = production(
            base_url="http://app.qualifica.example",
            meta_app_id="",
            meta_app_secret="",
            meta_config_id="",
            meta_webhook_verify_token="",
            metrics_token=None,
            smtp_url=None,
        )
        with pytest.raises(InsecureSettingsError) as refused:
            settings.refuse_unsafe_start()
        message = str(refused.value)
        for name in (
            "BASE_URL",
            "META_APP_ID",
            "META_APP_SECRET",
            "META_CONFIG_ID",
            "META_WEBHOOK_VERIFY_TOKEN",
            "METRICS_TOKEN",
            "SMTP_URL",
        ):
            assert f"QUALIFICA_{name} (" in message
        assert "\n" not in message

    def test_missing_secret_key_message_names_the_serving_problems_too(self) -> None:
        with pytest.raises(ValidationError) as refused:
            production(secret_key=None, smtp_url=None)
        assert "QUALIFICA_SECRET_KEY" in str(refused.value) and "QUALIFICA_SMTP_URL" in str(refused.value)

    def test_development_starts_without_them(self) -> None:
        Settings(_env_file=None).refuse_unsafe_start()

    @pytest.mark.parametrize(
        "url",
        [
            "http://u:pw-41f9@mail.example",
            "smtp://u:pw-41f9@",
            "u:pw-41f9@mail.example:25",
            "smtp://u:pw-41f9@mail.example:notaport",
        ],
    )
    def test_a_malformed_smtp_url_is_refused_without_quoting_it(self, url: str) -> None:
        with pytest.raises(ValidationError, match="QUALIFICA_SMTP_URL must look like") as refused:
            Settings(_env_file=None, smtp_url=url)
        assert "pw-41f9" not in str(refused.value)  # nor in the exception's text (a traceback)

    @pytest.mark.parametrize("url", [SMTP, "smtps://mail.example", "smtp://mail.example:25"])
    def test_smtp_urls_of_the_contract_are_accepted(self, url: str) -> None:
        assert Settings(_env_file=None, smtp_url=url).smtp_url is not None


def _service_env(tmp_path: Path, **values: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("QUALIFICA_")}
    env.update(
        QUALIFICA_DATABASE_URL=f"sqlite:///{tmp_path / 'guard.db'}",
        QUALIFICA_ENVIRONMENT="production",
        QUALIFICA_SECRET_KEY=secrets.token_urlsafe(48),
        QUALIFICA_ENCRYPTION_KEYS=f"k1:{encryption_key()}",
        QUALIFICA_BASE_URL="http://app.qualifica.example",
        QUALIFICA_META_APP_ID="",
        QUALIFICA_META_APP_SECRET=META_SECRET,
        QUALIFICA_META_CONFIG_ID="9876543210",
        QUALIFICA_META_WEBHOOK_VERIFY_TOKEN=VERIFY,
    )
    env.update(values)
    return env


class TestCommandsRefuse:
    @pytest.mark.parametrize("command", [["serve", "--port", "1"], ["worker"]])
    def test_serve_and_worker_exit_with_one_line_naming_every_problem(
        self, command: list[str], tmp_path: Path
    ) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "qualifica.cli", *command],
            env=_service_env(tmp_path),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("erro: refusing to start")
        for name in ("BASE_URL", "META_APP_ID", "METRICS_TOKEN", "SMTP_URL"):
            assert f"QUALIFICA_{name}" in lines[0]
        assert META_SECRET not in result.stderr + result.stdout and VERIFY not in result.stderr

    def test_complete_production_settings_serve_and_guard_metrics(self, tmp_path: Path) -> None:
        port = free_port()
        env = _service_env(
            tmp_path,
            QUALIFICA_BASE_URL="https://app.qualifica.example",
            QUALIFICA_META_APP_ID="1234567890",
            QUALIFICA_METRICS_TOKEN=METRICS,
            QUALIFICA_SMTP_URL=SMTP,
        )
        upgrade(env["QUALIFICA_DATABASE_URL"])
        web = Process("guard-web", ["serve", "--port", str(port)], env, tmp_path)
        with processes(web):
            web.start(ready_url=f"http://127.0.0.1:{port}/healthz")
            scrape = f"http://127.0.0.1:{port}/metrics"
            assert httpx.get(scrape, timeout=5).status_code == 401
            authorized = httpx.get(scrape, headers={"Authorization": f"Bearer {METRICS}"}, timeout=5)
            assert authorized.status_code == 200
            assert httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=5).status_code == 401

    def test_other_commands_still_run_in_production(self, tmp_path: Path) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "qualifica.cli", "migrate"],
            env=_service_env(tmp_path),
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr


class TestSandboxOnlyOnLoopback:
    @pytest.mark.parametrize(
        "base_url",
        ["http://127.0.0.1:8000", "http://127.8.0.1", "http://localhost:9000", "http://[::1]:8000"],
    )
    def test_loopback_base_urls_mount_the_sandbox(self, base_url: str) -> None:
        settings = Settings(_env_file=None, sandbox=True, base_url=base_url)
        assert settings.serving_problems() == []
        app = create_app(settings, configure_logs=False)
        assert any(getattr(route, "path", "") == "/_sandbox/meta" for route in app.routes)

    @pytest.mark.parametrize(
        "base_url",
        ["http://demo.example", "http://0.0.0.0:8000", "http://10.0.0.5", "http://192.168.1.20:8000"],
    )
    def test_other_hosts_refuse_to_start(self, base_url: str) -> None:
        settings = Settings(_env_file=None, sandbox=True, base_url=base_url)
        with pytest.raises(InsecureSettingsError, match="QUALIFICA_SANDBOX"):
            settings.refuse_unsafe_start()
        with pytest.raises(InsecureSettingsError, match="loopback"):
            create_app(settings, configure_logs=False)

    def test_demo_on_a_public_address_exits_with_a_clear_message(self, tmp_path: Path) -> None:
        env = {key: value for key, value in os.environ.items() if not key.startswith("QUALIFICA_")}
        env["QUALIFICA_DATABASE_URL"] = f"sqlite:///{tmp_path / 'demo.db'}"
        result = subprocess.run(
            [sys.executable, "-m", "qualifica.cli", "demo", "--host", "0.0.0.0", "--port", "1"],  # noqa: S104
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert "QUALIFICA_SANDBOX" in result.stderr and "loopback" in result.stderr
        assert not (tmp_path / "var" / "demo-credentials.json").exists()

    def test_the_standalone_sandbox_refuses_a_public_interface(self, tmp_path: Path) -> None:
        result = subprocess.run(
            [sys.executable, "-m", "qualifica.cli", "sandbox", "--host", "0.0.0.0", "--port", "1"],  # noqa: S104
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 1
        assert "endereço local" in result.stderr
