"""Qualifica Leads: the WhatsApp Business connection service."""
