"""What each Graph endpoint answers, given the sandbox's world. Called with ``sandbox.lock`` held."""

from __future__ import annotations

import re
from typing import Any

from qualifica.meta.endpoints import Endpoint
from qualifica.meta.sandbox import faults, messaging
from qualifica.meta.sandbox.sandbox import Sandbox
from qualifica.meta.sandbox.world import (
    CODE_TTL_SECONDS,
    NUMBERS_IN_USE_ELSEWHERE,
    REGISTRATION_LIMIT,
    REGISTRATION_WINDOW_SECONDS,
    SMB_SYNC_WINDOW_SECONDS,
    VERIFICATION_CODE_TTL_SECONDS,
    VERIFICATION_REQUESTS_LIMIT,
    VERIFICATION_REQUESTS_WINDOW_SECONDS,
    Phone,
    Token,
)
from qualifica.meta.webhook_subscription import WEBHOOK_OBJECT

PIN = re.compile(r"^\d{6}$")
LANGUAGE = re.compile(r"^[a-z]{2}_[A-Z]{2}$")  # OpenAPI RequestCodeRequest.language
E164_NATIONAL = re.compile(r"^[1-9][0-9]{6,14}$")  # OpenAPI PhoneNumberCreateRequest.phone_number
COUNTRY_CODE = re.compile(r"^[0-9]{1,3}$")
APP_NAME = "Qualifica Leads (sandbox)"
SCOPES = ["whatsapp_business_management", "whatsapp_business_messaging", "business_management"]
# June 2026: chatwoot/chatwoot#14690's token (docs/meta.md#business-tokens-and-granular-scopes).
JUNE_2026_SCOPES = ["business_management", "whatsapp_business_manage_events", "public_profile"]
SYNC_TYPES = ("smb_app_state_sync", "history")


class GraphObjects:
    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox

    @property
    def app_id(self) -> str:
        return self.sandbox.credentials.app_id

    def answer(self, endpoint: str, method: str, path: str, params: dict[str, str]) -> dict[str, Any]:
        object_id, _, edge = path.strip("/").partition("/")
        if endpoint == Endpoint.OAUTH_ACCESS_TOKEN:
            return self.access_token(params)
        if endpoint == Endpoint.DEBUG_TOKEN:
            return self.debug_token(params)
        if endpoint in (Endpoint.APP, Endpoint.APP_SUBSCRIPTIONS):
            self.require_app_token(params)
            if endpoint == Endpoint.APP:
                return self.fields({"id": self.app_id, "name": APP_NAME}, params)
            return {"data": self.app_subscriptions()}
        if endpoint == "unknown" or (method != "GET" and not edge):
            raise faults.object_missing(object_id, method)
        token = self.business_token(params)
        if endpoint == Endpoint.MEDIA:
            return self.media(object_id, token, params)
        waba_id = object_id if object_id in self.sandbox.world.wabas else None
        phone = self.sandbox.world.phones.get(object_id)
        owner_waba = waba_id or (phone.waba_id if phone else "")
        if owner_waba not in token.waba_ids:
            raise faults.object_missing(object_id, method)
        if not self.sandbox.world.wabas[owner_waba].readable:
            raise faults.no_permission("WhatsApp Business Account" if waba_id else "phone number")
        if endpoint == Endpoint.ADD_PHONE_NUMBER:
            return self.add_phone_number(object_id, params)
        if endpoint == Endpoint.WABA:
            return self.waba(object_id, params)
        if endpoint == Endpoint.PHONE_NUMBERS:
            data = [self.fields(p.as_graph(), params) for p in self.sandbox.world.phones_of(object_id)]
            return {"data": data, "paging": {"cursors": {"before": "QVFIUk", "after": "QVFIUl"}}}
        if endpoint == Endpoint.PHONE_NUMBER:
            assert phone is not None
            return self.fields(phone.as_graph(), params)
        if endpoint == Endpoint.SUBSCRIBED_APPS:
            return self.subscribed_apps(object_id, method)
        assert phone is not None
        if endpoint == Endpoint.REGISTER:
            return self.register(phone, params.get("pin", ""))
        if endpoint == Endpoint.REQUEST_CODE:
            return self.request_code(phone, params)
        if endpoint == Endpoint.VERIFY_CODE:
            return self.verify_code(phone, params.get("code", ""))
        if endpoint == Endpoint.SMB_APP_DATA:
            return self.smb_app_data(phone, params)
        if endpoint == Endpoint.MESSAGES:
            return messaging.send(self.sandbox, phone, params)
        return self.deregister(phone)

    def media(self, media_id: str, token: Any, params: dict[str, str]) -> dict[str, Any]:
        """``GET /{media_id}``: a lead's file, for a token of the WABA whose number received it."""
        media = self.sandbox.world.media[media_id]
        if self.sandbox.world.phones[media.phone_id].waba_id not in token.waba_ids:
            raise faults.object_missing(media_id, "GET")
        return {
            "messaging_product": "whatsapp",
            "url": f"{params.get('_origin', '')}/media-files/{media_id}",
            "mime_type": media.mime_type,
            "sha256": media.sha256,
            "file_size": str(len(media.content)),  # a string in Meta's OpenAPI description
            "id": media_id,
        }

    # -- OAuth ----------------------------------------------------------------------------------
    def check_app(self, params: dict[str, str]) -> None:
        for name in ("client_id", "client_secret"):
            if not params.get(name):
                raise faults.missing_parameter(name)
        if params["client_id"] != self.app_id:
            raise faults.wrong_app()
        if params["client_secret"] != self.sandbox.credentials.app_secret:
            raise faults.wrong_secret()

    def access_token(self, params: dict[str, str]) -> dict[str, Any]:
        self.check_app(params)
        world = self.sandbox.world
        if params.get("grant_type") == "client_credentials":
            app_token = f"{self.app_id}|{world.ids.token()[3:30]}"
            world.app_tokens.add(app_token)
            return {"access_token": app_token, "token_type": "bearer"}
        if not params.get("code"):
            raise faults.missing_parameter("code")
        code = world.codes.get(params["code"])
        if code is None or code.app_id != self.app_id:
            raise faults.code_invalid()
        if code.used:
            raise faults.code_used()
        if self.sandbox.now() - code.created_at > CODE_TTL_SECONDS:
            raise faults.code_expired()
        # A popup code takes no redirect_uri at all, not even an empty one (docs/meta.md#exchanging-the-code).
        if params.get("redirect_uri") != code.redirect_uri:
            raise faults.redirect_uri_mismatch()
        code.used = True
        return self.mint_business_token(code.business_id, code.waba_ids)

    def mint_business_token(self, business_id: str, waba_ids: list[str]) -> dict[str, Any]:
        world, scenario = self.sandbox.world, self.sandbox.scenario
        now = int(self.sandbox.now())
        lifetime = scenario.token_lifetime
        targets = list(waba_ids)
        # target_ids order varies between tokens (docs/meta.md#business-tokens-and-granular-scopes)
        world.ids.shuffler.shuffle(targets)
        token = Token(
            value=world.ids.token(),
            app_id=self.app_id,
            business_id=business_id,
            waba_ids=targets,
            issued_at=now,
            expires_at=now + lifetime if lifetime else 0,
            user_id=world.ids.id(17),
            shape=scenario.token_shape,
        )
        world.tokens[token.value] = token
        answer: dict[str, Any] = {"access_token": token.value, "token_type": "bearer"}
        send = scenario.send_expires_in if scenario.send_expires_in is not None else lifetime is not None
        if send:
            answer["expires_in"] = lifetime or 5183944  # the 60-day figure Meta gives user tokens
        return answer

    def is_app_token(self, value: str) -> bool:
        return value == self.sandbox.credentials.app_token or value in self.sandbox.world.app_tokens

    def require_app_token(self, params: dict[str, str]) -> None:
        value = params.get("access_token", "")
        if not value:
            raise faults.token_missing()
        if not self.is_app_token(value):
            raise faults.app_token_invalid()

    def debug_token(self, params: dict[str, str]) -> dict[str, Any]:
        self.require_app_token(params)
        value = params.get("input_token", "")
        if not value:
            raise faults.missing_parameter("input_token")
        if self.is_app_token(value):
            return {
                "data": {
                    "app_id": self.app_id,
                    "type": "APP",
                    "application": APP_NAME,
                    "is_valid": True,
                    "scopes": [],
                }
            }
        token = self.sandbox.world.tokens.get(value)
        if token is None or token.revoked or self.expired(token):
            reason = (
                faults.token_invalid()
                if token is None
                else (faults.token_revoked(self.app_id) if token.revoked else faults.token_expired())
            )
            error = {"code": reason.failure.code, "message": reason.failure.message}
            if reason.failure.subcode is not None:
                error["subcode"] = reason.failure.subcode
            return {"data": {"error": error, "is_valid": False, "scopes": []}}
        scopes, granular = self.token_scopes(token)
        return {
            "data": {
                "app_id": token.app_id,
                "type": "SYSTEM_USER",
                "application": APP_NAME,
                "data_access_expires_at": 0,
                "expires_at": token.expires_at,
                "is_valid": True,
                "issued_at": token.issued_at,
                "scopes": scopes,
                "granular_scopes": granular,
                "user_id": token.user_id,
            }
        }

    @staticmethod
    def token_scopes(token: Token) -> tuple[list[str], list[dict[str, Any]]]:
        """The token's ``scopes`` and ``granular_scopes`` in its shape.

        See docs/meta.md#business-tokens-and-granular-scopes.
        """
        portfolio = {"scope": "business_management", "target_ids": [token.business_id]}
        if token.shape == "legacy":
            granular = [{"scope": scope, "target_ids": list(token.waba_ids)} for scope in SCOPES[:2]]
            return list(SCOPES), [*granular, portfolio]
        events = {"scope": "whatsapp_business_manage_events", "target_ids": list(token.waba_ids)}
        return list(JUNE_2026_SCOPES), [portfolio, events]

    def expired(self, token: Token) -> bool:
        return bool(token.expires_at) and self.sandbox.now() >= token.expires_at

    def business_token(self, params: dict[str, str]) -> Token:
        value = params.get("access_token", "")
        if not value:
            raise faults.token_missing()
        token = self.sandbox.world.tokens.get(value)
        if token is None:
            raise faults.token_invalid()
        if token.revoked:
            raise faults.token_revoked(self.app_id)
        if self.expired(token):
            raise faults.token_expired()
        return token

    # -- objects --------------------------------------------------------------------------------
    @staticmethod
    def fields(obj: dict[str, Any], params: dict[str, str]) -> dict[str, Any]:
        wanted = {f.strip() for f in params.get("fields", "").split(",") if f.strip()}
        if not wanted:
            return {k: obj[k] for k in ("id", "name", "display_phone_number", "verified_name") if k in obj}
        return {k: v for k, v in obj.items() if k in wanted or k == "id"}

    def waba(self, waba_id: str, params: dict[str, str]) -> dict[str, Any]:
        waba = self.sandbox.world.wabas[waba_id]
        owner = self.sandbox.world.businesses[waba.owner_business_id]
        obj = {
            "id": waba.id,
            "name": waba.name,
            "currency": waba.currency,
            "timezone_id": waba.timezone_id,
            "message_template_namespace": waba.message_template_namespace,
            "owner_business_info": {"id": owner.id, "name": owner.name},
            "account_review_status": waba.account_review_status,
            "status": waba.status,
        }
        return self.fields(obj, params)

    def app_subscriptions(self) -> list[dict[str, Any]]:
        url = self.sandbox.webhooks.url
        if not url:
            return []
        fields = [{"name": name, "version": "v26.0"} for name in self.sandbox.webhooks.fields]
        return [{"object": WEBHOOK_OBJECT, "callback_url": url, "active": True, "fields": fields}]

    def subscribed_apps(self, waba_id: str, method: str) -> dict[str, Any]:
        apps = self.sandbox.world.wabas[waba_id].subscribed_apps
        if method == "POST":
            apps.add(self.app_id)
        elif method == "DELETE":
            apps.discard(self.app_id)
        else:
            link = f"https://www.facebook.com/games/?app_id={self.app_id}"
            data = [
                {"whatsapp_business_api_data": {"id": a, "link": link, "name": APP_NAME}}
                for a in sorted(apps)
            ]
            return {"data": data}
        return {"success": True}

    def count_registration(self, phone: Phone) -> None:
        now = self.sandbox.now()
        phone.registrations = [t for t in phone.registrations if now - t < REGISTRATION_WINDOW_SECONDS]
        if len(phone.registrations) >= REGISTRATION_LIMIT:
            raise faults.registration_limit()
        phone.registrations.append(now)

    def register(self, phone: Phone, pin: str) -> dict[str, Any]:
        if not PIN.match(pin):
            raise faults.invalid_pin()
        self.count_registration(phone)
        if phone.code_verification_status != "VERIFIED":
            raise faults.needs_verification()
        if phone.pin is not None and phone.pin != pin:
            raise faults.pin_mismatch()
        phone.pin = pin
        phone.platform_type, phone.status, phone.throughput_level = "CLOUD_API", "CONNECTED", "STANDARD"
        if phone.quality_rating == "NA":
            phone.quality_rating = "GREEN"
        return {"success": True}

    def deregister(self, phone: Phone) -> dict[str, Any]:
        self.count_registration(phone)
        phone.platform_type, phone.status, phone.throughput_level = (
            "NOT_APPLICABLE",
            "DISCONNECTED",
            "NOT_APPLICABLE",
        )
        return {"success": True}

    # -- ES v4: add a number, request and verify its code (docs/meta.md#number-verification) -----------------
    def add_phone_number(self, waba_id: str, params: dict[str, str]) -> dict[str, Any]:
        cc, number = params.get("cc", ""), params.get("phone_number", "")
        name = params.get("verified_name", "").strip()
        if not E164_NATIONAL.match(number) or (cc and not COUNTRY_CODE.match(cc)):
            raise faults.bad_phone_number()
        if not 2 <= len(name) <= 75:
            raise faults.invalid_parameter("Invalid parameter: verified_name must have 2 to 75 characters")
        digits = cc + number
        world = self.sandbox.world
        taken = {re.sub(r"\D", "", p.display_phone_number) for p in world.phones.values()}
        if digits in NUMBERS_IN_USE_ELSEWHERE or digits in taken:
            raise faults.number_in_use()
        display = f"+{cc} {number[:2]} {number[2:-4]}-{number[-4:]}" if cc == "55" else f"+{digits}"
        return {"id": world.add_phone(waba_id, display, name).id}

    def request_code(self, phone: Phone, params: dict[str, str]) -> dict[str, Any]:
        if params.get("code_method") not in ("SMS", "VOICE"):
            raise faults.bad_code_method()
        if not LANGUAGE.match(params.get("language", "")):
            raise faults.bad_language()
        if phone.code_verification_status == "VERIFIED" or phone.is_on_biz_app:
            raise faults.not_eligible_for_verification()
        now = self.sandbox.now()
        window = VERIFICATION_REQUESTS_WINDOW_SECONDS
        phone.verification_requests = [t for t in phone.verification_requests if now - t < window]
        if len(phone.verification_requests) >= VERIFICATION_REQUESTS_LIMIT:
            wait = window - (now - phone.verification_requests[0])
            raise faults.too_many_codes(regain_minutes=max(1, round(wait / 60)))
        phone.verification_requests.append(now)
        phone.verification_code = self.sandbox.world.ids.verification_code()
        phone.verification_code_at = now
        return {"success": True}

    def verify_code(self, phone: Phone, code: str) -> dict[str, Any]:
        if not PIN.match(code):
            raise faults.bad_code_format()
        fresh = self.sandbox.now() - phone.verification_code_at < VERIFICATION_CODE_TTL_SECONDS
        if phone.verification_code is None or code != phone.verification_code or not fresh:
            raise faults.wrong_code()
        phone.verification_code = None  # single use
        phone.code_verification_status = "VERIFIED"
        return {"success": True, "id": phone.id}

    # -- coexistence: contacts and history, once each within 24 h (docs/meta.md#coexistence-syncs) -----------
    def smb_app_data(self, phone: Phone, params: dict[str, str]) -> dict[str, Any]:
        sync_type = params.get("sync_type", "")
        if sync_type not in SYNC_TYPES:
            raise faults.bad_sync_type()
        if not phone.is_on_biz_app:
            raise faults.not_a_business_app_number()
        if sync_type in phone.smb_syncs:
            raise faults.sync_already_requested()
        onboarded = phone.onboarded_at
        if onboarded is None or self.sandbox.now() - onboarded > SMB_SYNC_WINDOW_SECONDS:
            raise faults.sync_window_over()
        request_id = self.sandbox.world.ids.request_id()
        phone.smb_syncs[sync_type] = request_id
        if sync_type == "smb_app_state_sync":
            self.sandbox.notify.contacts_sync(phone.id)
        else:
            self.sandbox.notify.history_sync(phone.id, shared=self.sandbox.scenario.history_sharing)
        return {"messaging_product": "whatsapp", "request_id": request_id}
