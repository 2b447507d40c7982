"""Service keys (ARCHITECTURE §15): the CLI's lifecycle, the Bearer guard, and keys kept out of logs."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.assistant.models import ServiceKey
from qualifica.audit import AuditEntry
from qualifica.meta.sandbox import Sandbox
from qualifica.models import Organization
from tests.support.assistant import MESSAGES, Assistant, hello_world, make_key, record_key_uses, send


def qualifica(*args: str, db: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QUALIFICA_DATABASE_URL": db}
    return subprocess.run(
        [sys.executable, "-m", "qualifica.cli", *args], capture_output=True, text=True, env=env, timeout=60
    )


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


class TestTheCommands:
    async def test_create_prints_the_key_once_list_shows_it_never_and_revoke_closes_it(
        self,
        database_url: str,
        client: httpx.AsyncClient,
        assistant: Assistant,
        db: AsyncSession,
        app: FastAPI,
    ) -> None:
        org = str(assistant.organization_id)
        created = qualifica("apikey", "create", "--name", "assistente-ia", "--org", org, db=database_url)
        assert created.returncode == 0, created.stderr
        key = created.stdout.strip().splitlines()[-1]
        assert key.startswith("qk_") and len(key) >= 43
        key_id = created.stdout.split("id: ")[1].split()[0]

        listed = qualifica("apikey", "list", db=database_url)
        assert listed.returncode == 0 and key not in listed.stdout
        (line,) = [row for row in listed.stdout.splitlines() if row.startswith(key_id)]
        assert line.split("\t")[1:3] == ["assistente-ia", org] and line.split("\t")[4:] == ["-", "-"]
        stored = await db.scalar(select(ServiceKey).where(ServiceKey.id == uuid.UUID(key_id)))
        assert stored is not None and key not in stored.digest and len(stored.digest) == 64

        assert (await client.post(MESSAGES, json=hello_world(), headers=bearer(key))).status_code == 200
        await record_key_uses(app)
        used = qualifica("apikey", "list", db=database_url).stdout
        assert next(r for r in used.splitlines() if r.startswith(key_id)).split("\t")[4] != "-"

        revoked = qualifica("apikey", "revoke", key_id, db=database_url)
        assert revoked.returncode == 0, revoked.stderr
        refused = await client.post(MESSAGES, json=hello_world(), headers=bearer(key))
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
        await record_key_uses(app)
        statuses = (
            await db.scalars(
                select(AuditEntry.status)
                .where(AuditEntry.action == "assistant.key_used")
                .where(AuditEntry.details["key_id"].as_string() == key_id)
                .order_by(AuditEntry.created_at)
            )
        ).all()
        assert statuses == ["ok", "revoked"]
        assert key not in created.stderr + listed.stdout + revoked.stdout + used

    def test_a_bad_organization_or_id_fails_with_one_line(self, database_url: str) -> None:
        unknown = qualifica("apikey", "create", "--name", "x", "--org", str(uuid.uuid4()), db=database_url)
        assert unknown.returncode == 1 and unknown.stderr.strip() == "erro: Organização não encontrada."
        assert "qk_" not in unknown.stdout
        assert qualifica("apikey", "revoke", "nao-e-um-id", db=database_url).returncode == 1


class TestTheGuard:
    async def test_missing_unknown_and_malformed_keys_are_401(
        self, client: httpx.AsyncClient, assistant: Assistant
    ) -> None:
        for headers in (
            {},
            bearer("qk_" + "x" * 43),
            {"Authorization": assistant.key},  # no scheme
            {"Authorization": f"Basic {assistant.key}"},
            bearer("not-a-key"),
        ):
            answer = await client.post(MESSAGES, json=hello_world(), headers=headers)
            assert answer.status_code == 401, headers
            assert answer.json()["error"]["code"] == "invalid_api_key"
            assert answer.headers["www-authenticate"] == "Bearer"

    async def test_a_bound_key_acts_only_for_its_organization(
        self, client: httpx.AsyncClient, assistant: Assistant, db: AsyncSession
    ) -> None:
        other = Organization(name="Outra Imobiliária")
        db.add(other)
        await db.commit()
        answer = await send(client, assistant, {**hello_world(), "organization_id": str(other.id)})
        assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
        own = await send(
            client, assistant, {**hello_world(), "organization_id": str(assistant.organization_id)}
        )
        assert own.status_code == 200
        message_id = own.json()["id"]
        read = await client.get(
            f"{MESSAGES}/{message_id}", params={"organization_id": str(other.id)}, headers=assistant.headers
        )
        assert read.status_code == 403

    async def test_an_unbound_key_names_its_organization(
        self, client: httpx.AsyncClient, assistant: Assistant, db: AsyncSession, sandbox: Sandbox
    ) -> None:
        key = await make_key(db, organization_id=None, name="assistente-geral")
        missing = await client.post(MESSAGES, json=hello_world(), headers=bearer(key))
        assert missing.status_code == 422
        assert missing.json()["error"]["fields"] == [{"field": "organization_id", "reason": "obrigatório"}]
        unknown = {**hello_world(), "organization_id": str(uuid.uuid4())}
        assert (await client.post(MESSAGES, json=unknown, headers=bearer(key))).status_code == 404
        named = {**hello_world(), "organization_id": str(assistant.organization_id)}
        sent = await client.post(MESSAGES, json=named, headers=bearer(key))
        assert sent.status_code == 200, sent.text
        path = f"{MESSAGES}/{sent.json()['id']}"
        assert (await client.get(path, headers=bearer(key))).status_code == 422
        read = await client.get(
            path, params={"organization_id": str(assistant.organization_id)}, headers=bearer(key)
        )
        assert read.status_code == 200 and read.json()["status"] == "sent"

    async def test_another_organization_s_message_is_not_found(
        self, client: httpx.AsyncClient, assistant: Assistant, db: AsyncSession
    ) -> None:
        sent = await send(client, assistant, hello_world())
        other = Organization(name="Outra Imobiliária")
        db.add(other)
        await db.commit()
        theirs = await make_key(db, organization_id=other.id)
        read = await client.get(f"{MESSAGES}/{sent.json()['id']}", headers=bearer(theirs))
        assert read.status_code == 404 and read.json()["error"]["code"] == "not_found"

    async def test_every_use_is_audited_and_recorded_without_the_key(
        self,
        client: httpx.AsyncClient,
        assistant: Assistant,
        db: AsyncSession,
        captured_logs: io.StringIO,
        app: FastAPI,
    ) -> None:
        await send(client, assistant, hello_world())
        await send(client, assistant, {"to": "1", "type": "text"})  # refused: still a use of the key
        await record_key_uses(app)
        key = await db.scalar(
            select(ServiceKey).where(ServiceKey.organization_id == assistant.organization_id)
        )
        assert key is not None and key.last_used_at is not None
        audits = (await db.scalars(select(AuditEntry).where(AuditEntry.action == "assistant.key_used"))).all()
        assert len(audits) == 2
        assert {a.details["key_id"] for a in audits if a.details} == {str(key.id)}
        assert {a.details["route"] for a in audits if a.details} == {MESSAGES}
        assert assistant.key not in captured_logs.getvalue()
        assert assistant.key not in str([a.details for a in audits])
