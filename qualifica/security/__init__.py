"""Encryption of stored secrets, passwords, sessions, CSRF and signed state."""
