"""Meta's OpenAPI description (vendored, MIT) as a validator of Graph exchanges, and the reference's shapes
where the description is silent.

Schemas are JSON Schema 2020-12 (OpenAPI 3.1); ``$ref``s resolve against the document's ``components``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import yaml  # type: ignore[import-untyped]  # PyYAML ships no stubs and types-PyYAML is not locked

SPEC_DIR = Path(__file__).resolve().parents[1] / "fixtures" / "meta-openapi"
SPEC_FILE = SPEC_DIR / "business-messaging-api_v23.0.yaml"

# Our endpoint names (qualifica.meta.endpoints.Endpoint) → the description's path templates.
TEMPLATES = {
    "waba": "/{Version}/{WABA-ID}",
    "phone_numbers": "/{Version}/{WABA-ID}/phone_numbers",
    "add_phone_number": "/{Version}/{WABA-ID}/phone_numbers",
    "phone_number": "/{Version}/{Phone-Number-ID}",
    "subscribed_apps": "/{Version}/{WABA-ID}/subscribed_apps",
    "register": "/{Version}/{Phone-Number-ID}/register",
    "deregister": "/{Version}/{Phone-Number-ID}/deregister",
    "request_code": "/{Version}/{Phone-Number-ID}/request_code",
    "verify_code": "/{Version}/{Phone-Number-ID}/verify_code",
    "messages": "/{Version}/{Phone-Number-ID}/messages",
    "media": "/{Version}/{Media-ID}",
}

_STRINGS = {"type": "array", "items": {"type": "string"}}
# Where the description is silent, Meta's behaviour as docs/meta.md records it decides (each schema names
# its section). ``request`` is what our client must send, ``response`` what the sandbox must answer.
REFERENCE_SHAPES: dict[str, dict[str, Any]] = {
    # docs/meta.md#exchanging-the-code: the business token, optionally with a lifetime.
    "oauth_access_token": {
        "response": {
            "type": "object",
            "required": ["access_token", "token_type"],
            "properties": {
                "access_token": {"type": "string", "minLength": 1},
                "token_type": {"const": "bearer"},
                "expires_in": {"type": "integer"},
            },
        }
    },
    # docs/meta.md#business-tokens-and-granular-scopes: both token shapes.
    "debug_token": {
        "response": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {
                    "type": "object",
                    "required": ["is_valid", "scopes"],
                    "properties": {
                        "app_id": {"type": "string"},
                        "type": {"enum": ["SYSTEM_USER", "USER", "APP", "PAGE"]},
                        "application": {"type": "string"},
                        "is_valid": {"type": "boolean"},
                        "issued_at": {"type": "integer"},
                        "expires_at": {"type": "integer"},
                        "data_access_expires_at": {"type": "integer"},
                        "user_id": {"type": "string"},
                        "scopes": _STRINGS,
                        "granular_scopes": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "required": ["scope"],
                                "properties": {"scope": {"type": "string"}, "target_ids": _STRINGS},
                            },
                        },
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {"code": {"type": "integer"}, "message": {"type": "string"}},
                        },
                    },
                }
            },
        }
    },
    "app": {
        "response": {
            "type": "object",
            "required": ["id"],
            "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
        }
    },
    # docs/meta.md#webhook-subscription-fields
    "app_subscriptions": {
        "response": {
            "type": "object",
            "required": ["data"],
            "properties": {
                "data": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["object", "callback_url", "active", "fields"],
                        "properties": {
                            "object": {"type": "string"},
                            "callback_url": {"type": "string"},
                            "active": {"type": "boolean"},
                            "fields": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["name"],
                                    "properties": {"name": {"type": "string"}, "version": {"type": "string"}},
                                },
                            },
                        },
                    },
                }
            },
        }
    },
    # docs/meta.md#coexistence-syncs
    "smb_app_data": {
        "request": {
            "type": "object",
            "required": ["messaging_product", "sync_type"],
            "additionalProperties": False,
            "properties": {
                "messaging_product": {"const": "whatsapp"},
                "sync_type": {"enum": ["smb_app_state_sync", "history"]},
            },
        },
        "response": {
            "type": "object",
            "required": ["messaging_product", "request_id"],
            "properties": {"messaging_product": {"const": "whatsapp"}, "request_id": {"type": "string"}},
        },
    },
}
# The parsed X-Business-Use-Case-Usage value: the description types the header as a string and shows this
# structure in its example (docs/meta.md#rate-limits).
USAGE_SHAPE = {
    "type": "object",
    "additionalProperties": {
        "type": "array",
        "items": {
            "type": "object",
            "required": ["type", "call_count", "estimated_time_to_regain_access"],
            "properties": {
                "type": {"type": "string"},
                "call_count": {"type": "number"},
                "total_cputime": {"type": "number"},
                "total_time": {"type": "number"},
                "estimated_time_to_regain_access": {"type": "number"},
            },
        },
    },
}
# Where the description contradicts itself, the sandbox follows one side; each exception is named here.
# ``status`` of a number: PhoneNumberInfo (GET /{phone_number_id}) has CONNECTED/DISCONNECTED/…, the list's
# WhatsAppBusinessAccountPhoneNumber has PENDING/LINKED/…, for the same field of the same object. The sandbox
# answers PhoneNumberInfo's values in both, as Meta does in practice.
SPEC_CONFLICTS = (("phone_numbers", "status"),)
# ``TextMessage`` puts ``additionalProperties: false`` beside ``type`` and ``text`` inside its ``allOf``, so
# no text message (which needs ``messaging_product``, ``to``…) can satisfy it. A text send is held to the
# common properties and the description's own ``text`` object instead; every other type to ``Message``.
_TEXT_MESSAGE = {
    "allOf": [
        {"$ref": "#/components/schemas/BaseMessageProperties"},
        {
            "type": "object",
            "required": ["text"],
            "properties": {
                "type": {"const": "text"},
                "text": {"$ref": "#/components/schemas/TextMessage/allOf/1/properties/text"},
            },
        },
    ],
    "unevaluatedProperties": False,
}
REQUEST_CONFLICTS: dict[str, dict[str, Any]] = {
    "messages": {
        "if": {"properties": {"type": {"const": "text"}}},
        "then": _TEXT_MESSAGE,
        "else": {"$ref": "#/components/schemas/Message"},
    }
}
# Every Graph error answer, whatever the endpoint (docs/meta.md#graph-errors).
ERROR_SCHEMA = {"$ref": "#/components/schemas/GraphAPIError"}


@dataclass(frozen=True)
class Exchange:
    """One request our client sent and the answer it got, as bytes crossed the socket."""

    method: str
    path: str
    request_body: Any
    status: int
    response_body: Any


class ExchangeLog:
    """httpx event hooks recording every Graph exchange of a client."""

    def __init__(self) -> None:
        self.exchanges: list[Exchange] = []

    def hooks(self) -> dict[str, list[Any]]:
        return {"response": [self._record]}

    async def _record(self, response: httpx.Response) -> None:
        await response.aread()
        request = response.request
        body = json.loads(request.content) if request.content else None
        try:
            answer = response.json()
        except ValueError:
            answer = response.text
        self.exchanges.append(Exchange(request.method, request.url.path, body, response.status_code, answer))


@functools.cache
def spec() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.load(SPEC_FILE.read_text(), Loader=yaml.CSafeLoader)
    return loaded


@functools.cache
def _validator(schema_json: str) -> jsonschema_rs.Validator:
    root = {"components": spec()["components"], **json.loads(schema_json)}
    return jsonschema_rs.Draft202012Validator(root)


def problems(schema: dict[str, Any], instance: Any) -> list[str]:
    """Every way ``instance`` breaks ``schema`` (``$ref``s into the description's components resolve)."""
    validator = _validator(json.dumps(schema, sort_keys=True))
    return [f"/{'/'.join(map(str, e.instance_path))}: {e.message}" for e in validator.iter_errors(instance)]


def operation(template: str, method: str) -> dict[str, Any]:
    op: dict[str, Any] = spec()["paths"][template][method.lower()]
    return op


def _json_schema(content: dict[str, Any] | None) -> dict[str, Any] | None:
    media = (content or {}).get("application/json")
    schema: dict[str, Any] | None = media.get("schema") if media else None
    return schema


def request_schema(endpoint: str, method: str) -> tuple[dict[str, Any] | None, bool]:
    """The body's schema and whether a body is required (None, False: the operation takes none)."""
    if endpoint in REFERENCE_SHAPES:
        schema = REFERENCE_SHAPES[endpoint].get("request")
        return schema, schema is not None
    body = operation(TEMPLATES[endpoint], method).get("requestBody", {})
    if endpoint in REQUEST_CONFLICTS:
        return REQUEST_CONFLICTS[endpoint], True
    return _json_schema(body.get("content")), bool(body.get("required"))


def response_schema(endpoint: str, method: str, status: int) -> dict[str, Any] | None:
    if status >= 400:
        return ERROR_SCHEMA
    if endpoint in REFERENCE_SHAPES:
        shape: dict[str, Any] = REFERENCE_SHAPES[endpoint]["response"]
        return shape
    answer = operation(TEMPLATES[endpoint], method)["responses"].get(str(status))
    return _json_schema((answer or {}).get("content"))
