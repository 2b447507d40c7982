"""The WhatsApp connection domain: signup attempts, connections, webhooks, health."""
