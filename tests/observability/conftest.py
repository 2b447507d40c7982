"""Signed-in admins driving signups against the live Meta sandbox."""

from tests.support.signup import admin

__all__ = ["admin"]
