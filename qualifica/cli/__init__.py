"""The ``qualifica`` command line: commands in ``main``, the flag commands in ``flags``, shared helpers in
``common``."""

from qualifica.cli.main import app

__all__ = ["app"]
