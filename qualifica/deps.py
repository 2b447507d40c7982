"""Request dependencies: the unit of work and what the lifespan built (settings, session codec, runtime)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from qualifica.config import Settings
from qualifica.runtime import Runtime
from qualifica.security.sessions import SessionCodec


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request is the unit of work: commit after the handler, roll back when it raises."""
    async with request.app.state.sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# scope="function": the commit happens before the response is sent, so a failed commit never follows a 200.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_codec(request: Request) -> SessionCodec:
    codec: SessionCodec = request.app.state.session_codec
    return codec


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


SettingsDep = Annotated[Settings, Depends(get_settings)]
CodecDep = Annotated[SessionCodec, Depends(get_codec)]
RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
