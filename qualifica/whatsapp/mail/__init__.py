"""E-mail to an organization's admins about its WhatsApp connection (outbox, then delivery by the worker)."""
