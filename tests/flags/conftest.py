"""Signed-in admins driving signups against the live Meta sandbox."""

from tests.support.signup import admin, admin_user

__all__ = ["admin", "admin_user"]
