"""The home page: the setup checklist."""
