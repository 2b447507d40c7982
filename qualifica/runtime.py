"""What the signup pipeline needs at run time, built once in the lifespan and shared by web and worker."""

from __future__ import annotations

import asyncio
import os
import uuid
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from qualifica.config import Settings
from qualifica.meta.client import GraphClient
from qualifica.security.crypto import KeyRing
from qualifica.security.state import StateSigner


@dataclass
class Runtime:
    settings: Settings
    sessionmaker: async_sessionmaker[AsyncSession]
    graph: GraphClient
    ring: KeyRing
    signer: StateSigner
    # Identifies this process as a lease holder; unique per process start.
    owner: str = field(default_factory=lambda: f"{os.getpid()}-{uuid.uuid4().hex[:12]}")
    # Pipelines that outlived their callback's deadline; kept referenced until they finish.
    background: set[asyncio.Task[object]] = field(default_factory=set)

    @property
    def is_sqlite(self) -> bool:
        return bool(self.sessionmaker.kw["bind"].dialect.name == "sqlite")

    def keep(self, task: asyncio.Task[object]) -> None:
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def close(self) -> None:
        """Stop in-flight pipelines; their leases expire and a worker resumes them from the last step."""
        for task in list(self.background):
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
