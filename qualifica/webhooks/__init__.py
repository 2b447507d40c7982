"""Meta webhooks: the signed endpoint, the durable inbox, and the worker that splits and routes changes."""
