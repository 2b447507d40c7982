"""The webhooks' background job: split stored bodies into changes and handle each (``processing``)."""

from __future__ import annotations

from qualifica.jobs.runner import Job
from qualifica.webhooks.processing import process_webhooks

# Meta expects its notifications to take effect within seconds; two loops keep one slow handler (a Meta
# call in a PARTNER_ADDED reconcile) from holding up the rest.
JOBS = (Job("webhook.process", process_webhooks, interval=0.5, concurrency=2),)
