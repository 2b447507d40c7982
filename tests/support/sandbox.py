"""The live Meta sandbox every integration test talks to over a real socket."""

from __future__ import annotations

from dataclasses import dataclass

from qualifica.meta.sandbox import Sandbox


@dataclass(frozen=True)
class LiveSandbox:
    url: str
    sandbox: Sandbox

    @property
    def origin(self) -> str:
        return self.url
