"""``GraphClient``: the Graph API calls of the Embedded Signup flow, typed, retried inside a deadline.

Deadlines are absolute ``time.monotonic()`` values (see ``deadline_in``): a pipeline computes one and
hands it to every call, so concurrent calls share the same end. ``None`` means ``DEFAULT_DEADLINE_SECONDS``
from now. Transient failures are retried with stamina (exponential backoff, jitter) while time remains;
permanent ones never are, and neither are rate limits (``MetaError.is_rate_limit``: the caller waits
``retry_after``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Any, Literal
from urllib.parse import urlsplit

import httpx
import stamina

from qualifica.config import Settings
from qualifica.meta.credentials import effective_credentials
from qualifica.meta.endpoints import Endpoint
from qualifica.meta.errors import MetaError, MetaTimeout
from qualifica.meta.logfilter import install_http_log_scrubber
from qualifica.meta.models import (
    AddedPhoneNumber,
    AppCheck,
    GraphUsage,
    MediaInfo,
    PhoneNumber,
    SentMessage,
    SmbAppDataRequest,
    SuccessAnswer,
    TokenExchange,
    TokenInfo,
    VerifyCodeAnswer,
    Waba,
)
from qualifica.meta.transport import GraphRequest, send_once

CodeMethod = Literal["SMS", "VOICE"]
SyncType = Literal["smb_app_state_sync", "history"]

DEFAULT_DEADLINE_SECONDS = 15.0
CODE_TTL_SECONDS = 30.0  # Meta's code lives 30 s: retrying an exchange later can only fail.
REQUEST_TIMEOUT_SECONDS = 10.0
MAX_ATTEMPTS = 5
# An attempt with less time than this left cannot get an answer; give up with the last error instead.
MIN_ATTEMPT_SECONDS = 0.05
MAX_PAGES = 20

WABA_FIELDS = (
    "id,name,currency,timezone_id,message_template_namespace,owner_business_info,"
    "on_behalf_of_business_info,account_review_status,status"
)
PHONE_FIELDS = (
    "id,display_phone_number,verified_name,code_verification_status,quality_rating,platform_type,"
    "throughput,name_status,new_name_status,is_on_biz_app,status,account_mode,messaging_limit_tier,"
    "is_pin_enabled,last_onboarded_time,health_status"
)


def deadline_in(seconds: float) -> float:
    """The absolute deadline ``seconds`` from now, as every ``GraphClient`` method expects it."""
    return time.monotonic() + seconds


class GraphClient:
    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        graph_url: str,
        version: str,
        app_id: str,
        app_secret: str,
        request_timeout: float = REQUEST_TIMEOUT_SECONDS,
        max_attempts: int = MAX_ATTEMPTS,
    ) -> None:
        self._http = http
        self._base_url = f"{graph_url.rstrip('/')}/{version}"
        self.app_id = app_id
        self._app_secret = app_secret
        self._request_timeout = request_timeout
        self._max_attempts = max_attempts
        self.last_usage: GraphUsage | None = None
        install_http_log_scrubber()

    @classmethod
    def from_settings(cls, settings: Settings, http: httpx.AsyncClient) -> GraphClient:
        credentials = effective_credentials(settings)
        return cls(
            http,
            graph_url=settings.meta_graph_url,
            version=settings.meta_graph_version,
            app_id=credentials.app_id,
            app_secret=credentials.app_secret,
        )

    def __repr__(self) -> str:
        return f"GraphClient(base_url={self._base_url!r}, app_id={self.app_id!r})"

    @property
    def _app_token(self) -> str:
        return f"{self.app_id}|{self._app_secret}"

    async def exchange_code(
        self,
        code: str,
        *,
        redirect_uri: str | None = None,
        deadline: float | None = None,
        code_received_at: float | None = None,
    ) -> TokenExchange:
        """Trade an ES code for the business token.

        Give ``redirect_uri`` only for a code from the full-page dialog (then exactly as sent there);
        a popup code is exchanged without it. Retries stop when the code's 30 s lifetime, counted from
        ``code_received_at`` (monotonic; default: now), is over.
        """
        params = {"client_id": self.app_id, "client_secret": self._app_secret, "code": code}
        if redirect_uri is not None:
            params["redirect_uri"] = redirect_uri
        code_ends = (code_received_at or time.monotonic()) + CODE_TTL_SECONDS
        until = min(self._until(deadline), code_ends)
        request = GraphRequest(
            Endpoint.OAUTH_ACCESS_TOKEN, "GET", "oauth/access_token", params=params, secrets=(code,)
        )
        return TokenExchange.model_validate(await self._call(request, until))

    async def debug_token(self, token: str, *, deadline: float | None = None) -> TokenInfo:
        """Inspect a token with the app token; an invalid token comes back ``is_valid=False``, not raised."""
        params = {"input_token": token, "access_token": self._app_token}
        request = GraphRequest(Endpoint.DEBUG_TOKEN, "GET", "debug_token", params=params, secrets=(token,))
        payload = await self._call(request, self._until(deadline))
        return TokenInfo.model_validate(payload.get("data") or {})

    async def get_waba(self, waba_id: str, *, token: str, deadline: float | None = None) -> Waba:
        request = self._with_token(Endpoint.WABA, "GET", waba_id, token, params={"fields": WABA_FIELDS})
        return Waba.model_validate(await self._call(request, self._until(deadline)))

    async def list_phone_numbers(
        self, waba_id: str, *, token: str, deadline: float | None = None
    ) -> list[PhoneNumber]:
        """All numbers of the WABA, following Meta's ``after`` cursors."""
        until = self._until(deadline)
        numbers: list[PhoneNumber] = []
        params = {"fields": PHONE_FIELDS}
        for _ in range(MAX_PAGES):
            request = self._with_token(
                Endpoint.PHONE_NUMBERS, "GET", f"{waba_id}/phone_numbers", token, params
            )
            payload = await self._call(request, until)
            numbers += [PhoneNumber.model_validate(item) for item in payload.get("data") or []]
            after = ((payload.get("paging") or {}).get("cursors") or {}).get("after")
            if not after or not (payload.get("paging") or {}).get("next"):
                break
            params = {"fields": PHONE_FIELDS, "after": str(after)}
        return numbers

    async def get_phone_number(
        self, phone_number_id: str, *, token: str, deadline: float | None = None
    ) -> PhoneNumber:
        params = {"fields": PHONE_FIELDS}
        request = self._with_token(Endpoint.PHONE_NUMBER, "GET", phone_number_id, token, params)
        return PhoneNumber.model_validate(await self._call(request, self._until(deadline)))

    async def subscribe_app(
        self,
        waba_id: str,
        *,
        token: str,
        deadline: float | None = None,
        override_callback_uri: str | None = None,
        verify_token: str | None = None,
    ) -> None:
        """Subscribe our app to the WABA's webhooks (idempotent at Meta)."""
        body: dict[str, Any] | None = None
        if override_callback_uri is not None:
            body = {"override_callback_uri": override_callback_uri, "verify_token": verify_token or ""}
        request = self._with_token(
            Endpoint.SUBSCRIBED_APPS,
            "POST",
            f"{waba_id}/subscribed_apps",
            token,
            json=body,
            secrets=(verify_token or "",),
        )
        self._require_success(await self._call(request, self._until(deadline)), request)

    async def subscribed_apps(
        self, waba_id: str, *, token: str, deadline: float | None = None
    ) -> list[dict[str, Any]]:
        request = self._with_token(Endpoint.SUBSCRIBED_APPS, "GET", f"{waba_id}/subscribed_apps", token)
        data = (await self._call(request, self._until(deadline))).get("data")
        return [item for item in data or [] if isinstance(item, dict)]

    async def unsubscribe_app(self, waba_id: str, *, token: str, deadline: float | None = None) -> None:
        request = self._with_token(Endpoint.SUBSCRIBED_APPS, "DELETE", f"{waba_id}/subscribed_apps", token)
        self._require_success(await self._call(request, self._until(deadline)), request)

    async def register_phone(
        self, phone_number_id: str, pin: str, *, token: str, deadline: float | None = None
    ) -> None:
        """Register the number on the Cloud API; ``pin`` becomes (or must match) its 2FA PIN."""
        body = {"messaging_product": "whatsapp", "pin": pin}
        request = self._with_token(
            Endpoint.REGISTER, "POST", f"{phone_number_id}/register", token, json=body, secrets=(pin,)
        )
        self._require_success(await self._call(request, self._until(deadline)), request)

    async def deregister_phone(
        self, phone_number_id: str, *, token: str, deadline: float | None = None
    ) -> None:
        request = self._with_token(Endpoint.DEREGISTER, "POST", f"{phone_number_id}/deregister", token)
        self._require_success(await self._call(request, self._until(deadline)), request)

    async def request_code(
        self,
        phone_number_id: str,
        *,
        token: str,
        method: CodeMethod,
        language: str = "pt_BR",
        deadline: float | None = None,
    ) -> None:
        """Ask Meta to send the number's code by SMS or voice (docs/meta.md#number-verification)."""
        body = {"code_method": method, "language": language}
        request = self._with_token(
            Endpoint.REQUEST_CODE, "POST", f"{phone_number_id}/request_code", token, json=body
        )
        payload = await self._call(request, self._until(deadline))
        self._require_success(SuccessAnswer.model_validate(payload).model_dump(), request)

    async def verify_code(
        self, phone_number_id: str, *, token: str, code: str, deadline: float | None = None
    ) -> None:
        """Prove the number with the 6-digit code it received (docs/meta.md#number-verification)."""
        request = self._with_token(
            Endpoint.VERIFY_CODE,
            "POST",
            f"{phone_number_id}/verify_code",
            token,
            json={"code": code},
            secrets=(code,),
        )
        payload = await self._call(request, self._until(deadline))
        self._require_success(VerifyCodeAnswer.model_validate(payload).model_dump(), request)

    async def add_phone_number(
        self,
        waba_id: str,
        *,
        token: str,
        cc: str,
        phone_number: str,
        verified_name: str,
        deadline: float | None = None,
    ) -> str:
        """Create an unverified number on the WABA; returns its id (docs/meta.md#number-verification)."""
        body = {"cc": cc, "phone_number": phone_number, "verified_name": verified_name}
        request = self._with_token(
            Endpoint.ADD_PHONE_NUMBER, "POST", f"{waba_id}/phone_numbers", token, json=body
        )
        return AddedPhoneNumber.model_validate(await self._call(request, self._until(deadline))).id

    async def request_smb_app_data(
        self, phone_number_id: str, *, token: str, sync_type: SyncType, deadline: float | None = None
    ) -> str:
        """Ask a coexistence number for its contacts or chat history; returns Meta's ``request_id``.

        Meta takes each ``sync_type`` once, within 24 h of onboarding (docs/meta.md#coexistence-syncs, errors
        2593107/2593108); a 200 means accepted, the data comes later by webhook.
        """
        body = {"messaging_product": "whatsapp", "sync_type": sync_type}
        request = self._with_token(
            Endpoint.SMB_APP_DATA, "POST", f"{phone_number_id}/smb_app_data", token, json=body
        )
        answer = await self._call(request, self._until(deadline))
        return SmbAppDataRequest.model_validate(answer).request_id

    async def send_message(
        self, phone_number_id: str, message: dict[str, Any], *, token: str, budget: float | None = None
    ) -> SentMessage:
        """Send one message (``message``: Meta's body without ``messaging_product``; reference 2026 §5.1).

        One attempt only, never retried here: Meta has no idempotency key, so a retry after a lost answer
        could deliver the message twice. The caller decides (a failure it may retry, it queues).
        """
        body = {"messaging_product": "whatsapp", **message}
        request = self._with_token(Endpoint.MESSAGES, "POST", f"{phone_number_id}/messages", token, json=body)
        request = replace(request, secrets=(*request.secrets, self._app_secret, self._app_token))
        result = await send_once(
            self._http,
            self._base_url,
            request,
            budget=budget if budget is not None else self._request_timeout,
            attempt=1,
        )
        if result.usage is not None:
            self.last_usage = result.usage
        return SentMessage.model_validate(result.payload)

    async def media_url(self, media_id: str, *, token: str, deadline: float | None = None) -> MediaInfo:
        """Where a received media can be downloaded (Meta's URL lives 5 minutes) and its type."""
        request = self._with_token(Endpoint.MEDIA, "GET", media_id, token)
        return MediaInfo.model_validate(await self._call(request, self._until(deadline)))

    @asynccontextmanager
    async def download(self, url: str, *, token: str) -> AsyncIterator[httpx.Response]:
        """Stream the media at Meta's URL (the token in the header, never in a log or an error). Only https,
        or the Graph host itself (the sandbox on loopback), ever gets the token."""
        parts, graph = urlsplit(url), urlsplit(self._base_url)
        if parts.scheme != "https" and parts.netloc != graph.netloc:
            raise MetaError("the media URL is not https", endpoint=Endpoint.MEDIA)
        headers = {"Authorization": f"Bearer {token}"}
        try:
            async with self._http.stream("GET", url, headers=headers, timeout=self._request_timeout) as got:
                if got.status_code != 200:
                    raise MetaError(f"media download: HTTP {got.status_code}", endpoint=Endpoint.MEDIA)
                yield got
        except httpx.HTTPError as error:
            raise MetaError(f"media download: {type(error).__name__}", endpoint=Endpoint.MEDIA) from None

    async def app_check(self, *, deadline: float | None = None) -> AppCheck:
        """Preflight of our own app: the id/secret pair mints an app token, which is valid and ours.

        A wrong secret raises ``MetaError`` code 1, a wrong app id code 101 (both permanent).
        """
        until = self._until(deadline)
        grant = {
            "grant_type": "client_credentials",
            "client_id": self.app_id,
            "client_secret": self._app_secret,
        }
        minted = await self._call(
            GraphRequest(Endpoint.OAUTH_ACCESS_TOKEN, "GET", "oauth/access_token", params=grant), until
        )
        app_token = str(minted.get("access_token") or "")
        inspect = {"input_token": app_token, "access_token": app_token}
        debug = await self._call(
            GraphRequest(Endpoint.DEBUG_TOKEN, "GET", "debug_token", params=inspect, secrets=(app_token,)),
            until,
        )
        info = TokenInfo.model_validate(debug.get("data") or {})
        auth = {"access_token": app_token}
        app = await self._call(
            GraphRequest(Endpoint.APP, "GET", self.app_id, params={"fields": "id,name", **auth}), until
        )
        subscriptions = await self._call(
            GraphRequest(Endpoint.APP_SUBSCRIPTIONS, "GET", f"{self.app_id}/subscriptions", params=auth),
            until,
        )
        return AppCheck(
            app_id=str(app.get("id") or info.app_id or ""),
            name=app.get("name") or info.application,
            token_type=info.type,
            is_valid=info.is_valid and info.app_id == self.app_id,
            webhook_subscriptions=[s for s in subscriptions.get("data") or [] if isinstance(s, dict)],
        )

    def _with_token(
        self,
        endpoint: Endpoint,
        method: str,
        path: str,
        token: str,
        params: dict[str, str] | None = None,
        *,
        json: dict[str, Any] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> GraphRequest:
        return GraphRequest(
            endpoint, method, path, params=params or {}, json=json, token=token, secrets=(token, *secrets)
        )

    def _until(self, deadline: float | None) -> float:
        return deadline if deadline is not None else deadline_in(DEFAULT_DEADLINE_SECONDS)

    async def _call(self, request: GraphRequest, until: float) -> dict[str, Any]:
        """Send ``request``, retrying transient failures while the deadline allows."""
        request = GraphRequest(
            request.endpoint,
            request.method,
            request.path,
            request.params,
            request.json,
            request.token,
            (*request.secrets, self._app_secret, self._app_token),
        )
        last_error: MetaError | None = None

        def worth_retrying(exc: Exception) -> bool:
            # A rate limit is waited out by the caller (MetaError.retry_after), never hammered here.
            return (
                isinstance(exc, MetaError)
                and exc.transient
                and not exc.is_rate_limit
                and until - time.monotonic() > MIN_ATTEMPT_SECONDS
            )

        remaining = until - time.monotonic()
        if remaining <= 0:
            raise MetaTimeout("the deadline passed before the call started", endpoint=request.endpoint)
        async for attempt in stamina.retry_context(
            on=worth_retrying,
            attempts=self._max_attempts,
            timeout=remaining,
            wait_initial=0.1,
            wait_max=2.0,
            wait_jitter=0.25,
        ):
            with attempt:
                remaining = until - time.monotonic()
                if remaining <= 0:
                    # The backoff slept past the deadline: report what Meta last said, not a bare timeout.
                    raise last_error or MetaTimeout("deadline passed", endpoint=request.endpoint)
                try:
                    result = await send_once(
                        self._http,
                        self._base_url,
                        request,
                        budget=min(remaining, self._request_timeout),
                        attempt=attempt.num,
                    )
                except MetaError as error:
                    last_error = error
                    raise
                if result.usage is not None:
                    self.last_usage = result.usage
                return result.payload
        raise AssertionError("stamina re-raises the last error")  # pragma: no cover

    @staticmethod
    def _require_success(payload: dict[str, Any], request: GraphRequest) -> None:
        if payload.get("success") is not True:
            raise MetaError(
                "Meta did not confirm the operation (success is not true)", endpoint=request.endpoint
            )
