"""A database error never carries the statement's values (ARCHITECTURE §13: engines hide parameters)."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from qualifica.accounts.models import Organization
from qualifica.db import create_engine, utcnow


async def test_a_refused_statement_does_not_quote_its_values(database_url: str) -> None:
    engine = create_engine(database_url)
    row = {"id": uuid.uuid4(), "name": "Imobiliária do número 5511987650001", "created_at": utcnow()}
    try:
        async with engine.begin() as connection:
            await connection.execute(insert(Organization), [row])
        with pytest.raises(IntegrityError) as refused:
            async with engine.begin() as connection:
                await connection.execute(insert(Organization), [row])  # the same primary key again
    finally:
        await engine.dispose()
    assert "5511987650001" not in str(refused.value)
    assert "hidden" in str(refused.value)
