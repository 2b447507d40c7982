"""The Meta sandbox: an offline emulator of Meta's side of Embedded Signup (see docs/sandbox.md)."""

from qualifica.meta.sandbox.app import create_sandbox_app
from qualifica.meta.sandbox.sandbox import Sandbox
from qualifica.meta.sandbox.scenario import AUTO_PATHS, CANCEL_STEPS, AutoMode, Failure, Latency
from qualifica.meta.sandbox.signup import SignupResult

__all__ = [
    "AUTO_PATHS",
    "CANCEL_STEPS",
    "AutoMode",
    "Failure",
    "Latency",
    "Sandbox",
    "SignupResult",
    "create_sandbox_app",
]
