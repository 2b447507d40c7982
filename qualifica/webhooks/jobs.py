"""The webhooks' background job: split stored bodies into changes and handle each (``processing``)."""

from __future__ import annotations

from qualifica.jobs.runner import Job
from qualifica.webhooks import retention
from qualifica.webhooks.processing import process_webhooks

# Its own task: a slow signup resume or health round in another job never delays a notification.
# Polled every 100 ms: an inbound message reaches the assistant within a few polls (bench.inbound_events).
JOBS = (Job("webhook.process", process_webhooks, interval=0.1), retention.JOB)
