"""The webhooks' background job: split stored bodies into changes and handle each (``processing``)."""

from __future__ import annotations

from qualifica.jobs.runner import Job
from qualifica.webhooks import retention
from qualifica.webhooks.processing import process_webhooks

# Its own task: a slow signup resume or health round in another job never delays a notification.
JOBS = (Job("webhook.process", process_webhooks, interval=1.0), retention.JOB)
