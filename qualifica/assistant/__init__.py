"""The assistant's interface (ARCHITECTURE §15): service keys, messages sent through the connection, and
the events the assistant reads or receives. Below ``webhooks`` (its handlers write the events), above
``whatsapp``.
"""
