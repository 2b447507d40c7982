from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from qualifica.config import WEBHOOK_PATH, Environment, Settings
from qualifica.meta.sandbox import Sandbox
from qualifica.meta.webhook_subscription import COEXISTENCE_FIELDS, SUBSCRIBED_FIELDS
from qualifica.preflight import Check, check_local, run_checks
from tests.support.environment import service_env
from tests.support.live import live_server
from tests.support.sandbox import LiveSandbox

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the checks read no table


@pytest.fixture
def service_url(settings: Settings) -> Iterator[str]:
    with live_server(settings, health_path="/readyz") as url:
        yield url


@pytest.fixture
def checked(settings: Settings, service_url: str, live_sandbox: LiveSandbox, sandbox: Sandbox) -> Settings:
    """Settings as an operator would have them: our public URL, Meta (here the sandbox) configured."""
    sandbox.webhooks.url = service_url + WEBHOOK_PATH  # the app's webhook subscription points at us
    return settings.model_copy(update={"base_url": service_url, "meta_graph_url": live_sandbox.url})


SUBSCRIPTION = "Assinatura de webhooks do app (whatsapp_business_account)"
COEXISTENCE = "Campos da coexistência (history, smb_app_state_sync, smb_message_echoes)"


def failing(checks: list[Check]) -> dict[str, str]:
    return {check.name: check.fix for check in checks if not check.ok}


class TestMetaCheck:
    async def test_a_correct_setup_passes_every_check(self, checked: Settings) -> None:
        checks = await run_checks(checked)
        assert failing(checks) == {}
        assert len(checks) == 10

    async def test_wrong_app_secret_is_named(self, checked: Settings) -> None:
        checks = await run_checks(checked.model_copy(update={"meta_app_secret": SecretStr("not-the-secret")}))
        assert failing(checks).keys() >= {"App da Meta (ID e chave secreta)"}
        assert "QUALIFICA_META_APP_SECRET" in failing(checks)["App da Meta (ID e chave secreta)"]

    async def test_missing_config_id_is_named(self, checked: Settings) -> None:
        checks = await run_checks(checked.model_copy(update={"meta_config_id": ""}))
        assert list(failing(checks)) == ["ID da configuração do Embedded Signup"]

    async def test_failing_webhook_handshake_is_named(self, checked: Settings) -> None:
        wrong_token = checked.model_copy(update={"meta_webhook_verify_token": SecretStr("another-token")})
        assert "Webhook responde à verificação da Meta" in failing(await run_checks(wrong_token))

    async def test_a_subscription_pointing_elsewhere_is_named(
        self, checked: Settings, sandbox: Sandbox
    ) -> None:
        sandbox.webhooks.url = "https://elsewhere.example/webhook"
        fixes = failing(await run_checks(checked))
        assert list(fixes) == [SUBSCRIPTION]
        assert checked.base_url + WEBHOOK_PATH in fixes[SUBSCRIPTION]

    async def test_unsubscribed_webhook_fields_are_named(
        self, checked: Settings, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        kept = ("messages", "account_review_update", *COEXISTENCE_FIELDS)
        monkeypatch.setattr(sandbox.webhooks, "fields", kept)
        fixes = failing(await run_checks(checked))
        assert list(fixes) == [SUBSCRIPTION]
        missing = [field for field in SUBSCRIBED_FIELDS if field not in kept]
        assert "account_update" in missing
        assert fixes[SUBSCRIPTION].endswith("assine os campos " + ", ".join(missing))

    async def test_an_app_not_subscribed_to_the_coexistence_fields_fails(
        self, checked: Settings, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        kept = tuple(field for field in SUBSCRIBED_FIELDS if field != "smb_message_echoes")
        monkeypatch.setattr(sandbox.webhooks, "fields", kept)
        fixes = failing(await run_checks(checked))
        assert list(fixes) == [COEXISTENCE]
        assert "assine os campos smb_message_echoes:" in fixes[COEXISTENCE]

    def test_placeholder_keys_and_insecure_url_fail_locally(self, settings: Settings) -> None:
        weak = settings.model_copy(
            update={
                "secret_key": SecretStr("changeme-at-least-32-random-characters"),
                "encryption_keys": SecretStr("changeme"),
                "environment": Environment.PRODUCTION,
                "base_url": "http://10.0.0.5:8000",
                "meta_graph_version": "v19.0",
            }
        )
        assert set(failing(check_local(weak))) == {
            "Chave secreta da sessão",
            "Chaves de criptografia",
            "Endereço público em HTTPS",
            "Versão da Graph API",
        }


class TestMetaCheckCommand:
    def test_exit_code_gates_a_deploy(self, checked: Settings, tmp_path: Path) -> None:
        env = service_env(checked)
        command = [sys.executable, "-m", "qualifica.cli", "meta", "check"]
        good = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert good.returncode == 0, good.stdout + good.stderr
        assert good.stdout.count("OK     ") == 10
        env["QUALIFICA_META_APP_SECRET"] = "wrong-secret"
        bad = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert bad.returncode == 1
        assert "FALHA  App da Meta (ID e chave secreta) — " in bad.stdout
        assert "wrong-secret" not in bad.stdout + bad.stderr

    def test_an_ended_graph_version_fails_the_command(self, checked: Settings, tmp_path: Path) -> None:
        env = service_env(checked) | {"QUALIFICA_META_GRAPH_VERSION": "v20.0"}  # ended 2026-09-24
        command = [sys.executable, "-m", "qualifica.cli", "meta", "check"]
        ended = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert ended.returncode == 1
        assert "FALHA  Versão da Graph API — a Meta deixou de atender a v20.0 em 24/09/2026" in ended.stdout
