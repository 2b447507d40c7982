"""The peers' pipeline, for comparison only: ``python -m bench.sequential serve --port N``.

The same service (same code, same database writes) except that the signup's lookups — debug_token, phone,
WABA, subscribe — are awaited one after another instead of together: six round trips to Meta on the
critical path instead of three. Nothing in ``qualifica`` knows about it: this module swaps the ``gather``
the pipeline uses, in this process only, and then runs the ordinary CLI.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Awaitable
from typing import Any

from qualifica.whatsapp import pipeline


async def one_after_another(*awaitables: Awaitable[Any], return_exceptions: bool = False) -> list[Any]:
    results: list[Any] = []
    for awaitable in awaitables:
        try:
            results.append(await awaitable)
        except Exception as error:
            if not return_exceptions:
                raise
            results.append(error)
    return results


def install() -> None:
    sequential = types.ModuleType("asyncio_one_after_another")
    sequential.__dict__.update(asyncio.__dict__)
    sequential.gather = one_after_another  # type: ignore[attr-defined]
    pipeline.asyncio = sequential  # type: ignore[attr-defined]


if __name__ == "__main__":
    from qualifica.cli import app

    install()
    app()
