"""``python -m qualifica.cli``: the same commands as the ``qualifica`` script."""

from qualifica.cli.main import app

app()
