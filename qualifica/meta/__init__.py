"""Everything about Meta: the Graph client and its errors, webhook signatures, the offline sandbox."""

from qualifica.meta.client import GraphClient, deadline_in
from qualifica.meta.credentials import MetaAppCredentials, effective_credentials
from qualifica.meta.endpoints import Endpoint
from qualifica.meta.errors import MetaError, MetaTimeout, MetaTransportError
from qualifica.meta.models import (
    AppCheck,
    BusinessInfo,
    GranularScope,
    GraphUsage,
    PhoneNumber,
    TokenExchange,
    TokenInfo,
    Waba,
)

__all__ = [
    "AppCheck",
    "BusinessInfo",
    "Endpoint",
    "GranularScope",
    "GraphClient",
    "GraphUsage",
    "MetaAppCredentials",
    "MetaError",
    "MetaTimeout",
    "MetaTransportError",
    "PhoneNumber",
    "TokenExchange",
    "TokenInfo",
    "Waba",
    "deadline_in",
    "effective_credentials",
]
