"""The Graph API as the sandbox plays it: ``/{version}/...`` with Meta's answers and errors."""

from __future__ import annotations

import asyncio
import json
import random
import re
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from qualifica.meta.endpoints import Endpoint
from qualifica.meta.sandbox.faults import GraphFault
from qualifica.meta.sandbox.graph_objects import GraphObjects
from qualifica.meta.sandbox.sandbox import Sandbox
from qualifica.meta.sandbox.scenario import Failure, RecordedRequest

VERSION = re.compile(r"^v\d+\.\d+$")
_JITTER = random.Random()  # noqa: S311 - simulated latency
Params = dict[str, str]


def endpoint_of(sandbox: Sandbox, path: str, method: str = "GET") -> str:
    parts = path.strip("/").split("/")
    if parts == ["oauth", "access_token"]:
        return Endpoint.OAUTH_ACCESS_TOKEN
    if parts == ["debug_token"]:
        return Endpoint.DEBUG_TOKEN
    if len(parts) == 2:
        if parts[1] == "phone_numbers" and method == "POST":
            return Endpoint.ADD_PHONE_NUMBER
        edge = {
            "subscribed_apps": Endpoint.SUBSCRIBED_APPS,
            "phone_numbers": Endpoint.PHONE_NUMBERS,
            "register": Endpoint.REGISTER,
            "deregister": Endpoint.DEREGISTER,
            "subscriptions": Endpoint.APP_SUBSCRIPTIONS,
            "request_code": Endpoint.REQUEST_CODE,
            "verify_code": Endpoint.VERIFY_CODE,
            "smb_app_data": Endpoint.SMB_APP_DATA,
            "messages": Endpoint.MESSAGES,
        }
        return edge.get(parts[1], "unknown")
    if len(parts) == 1:
        with sandbox.lock:
            if parts[0] == sandbox.credentials.app_id:
                return Endpoint.APP
            if parts[0] in sandbox.world.wabas:
                return Endpoint.WABA
            if parts[0] in sandbox.world.phones:
                return Endpoint.PHONE_NUMBER
            if parts[0] in sandbox.world.media:
                return Endpoint.MEDIA
    return "unknown"


async def _params(request: Request) -> tuple[Params, Any]:
    params: Params = dict(request.query_params)
    body: Any = None
    raw = await request.body()
    if raw:
        content_type = request.headers.get("content-type", "")
        if content_type.startswith("application/json"):
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
            if isinstance(body, dict):
                params.update({k: v if isinstance(v, str) else json.dumps(v) for k, v in body.items()})
        else:
            body = dict((await request.form()).items())
            params.update({k: str(v) for k, v in body.items()})
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer ") and "access_token" not in params:
        params["access_token"] = auth[7:].strip()
    return params, body


def _usage_headers(sandbox: Sandbox, endpoint: str, object_id: str) -> dict[str, str]:
    with sandbox.lock:
        fixed = sandbox.scenario.usage
        calls = len(sandbox.scenario.requests)
    if fixed is not None:
        headers = {}
        if fixed.get("app") is not None:
            headers["X-App-Usage"] = json.dumps(fixed["app"])
        if fixed.get("business") is not None:
            headers["X-Business-Use-Case-Usage"] = json.dumps(fixed["business"])
        return headers
    percent = min(100, calls // 10)
    headers = {"X-App-Usage": json.dumps({"call_count": percent, "total_cputime": 0, "total_time": 0})}
    if endpoint in (Endpoint.WABA, Endpoint.PHONE_NUMBERS, Endpoint.SUBSCRIBED_APPS):
        usage = {
            "type": "whatsapp_business_management",
            "call_count": percent,
            "total_cputime": 0,
            "total_time": 0,
            "estimated_time_to_regain_access": 0,
        }
        headers["X-Business-Use-Case-Usage"] = json.dumps({object_id: [usage]})
    return headers


def throttled_usage(object_id: str, regain_minutes: float) -> dict[str, str]:
    """The business use case at 100 % with Meta's wait (minutes), as a rate-limit answer carries it."""
    usage = {
        "type": "whatsapp_business_management",
        "call_count": 100,
        "total_cputime": 100,
        "total_time": 100,
        "estimated_time_to_regain_access": regain_minutes,
    }
    return {"X-Business-Use-Case-Usage": json.dumps({object_id: [usage]})}


def error_response(
    failure: Failure, *, trace_id: str, www_authenticate: str | None = None, object_id: str = ""
) -> Response:
    if failure.raw_body is not None:
        return Response(failure.raw_body, status_code=failure.status(), media_type="text/html")
    headers = {"WWW-Authenticate": www_authenticate} if www_authenticate else {}
    if failure.regain_minutes is not None:
        headers |= throttled_usage(object_id, failure.regain_minutes)
    return JSONResponse(failure.envelope(trace_id), status_code=failure.status(), headers=headers or None)


def make_media_download(sandbox: Sandbox) -> Callable[[Request], Any]:
    """Meta's short-lived media URL: the file, for a bearer token of the WABA whose number received it."""

    async def download(request: Request) -> Response:
        auth = request.headers.get("authorization", "")
        value = auth[7:].strip() if auth.lower().startswith("bearer ") else ""
        with sandbox.lock:
            media = sandbox.world.media.get(request.path_params["media_id"])
            token = sandbox.world.tokens.get(value)
            allowed = (
                media is not None
                and token is not None
                and not token.revoked
                and sandbox.world.phones[media.phone_id].waba_id in token.waba_ids
            )
        if media is None:
            return Response(status_code=404)
        if not allowed:
            return Response(status_code=401)
        return Response(media.content, media_type=media.mime_type)

    return download


def make_graph_endpoint(sandbox: Sandbox) -> Callable[[Request], Any]:
    objects = GraphObjects(sandbox)

    async def graph(request: Request) -> Response:
        version = request.path_params["version"]
        path = request.path_params["path"]
        if not VERSION.match(version):
            unknown = Failure(code=2635, message=f"(#2635) Unknown Graph API version {version[:10]}")
            return error_response(unknown, trace_id=sandbox.world.ids.trace())
        params, body = await _params(request)
        # where this sandbox answers (its mount included): a media's download URL points back here
        params["_origin"] = f"{request.url.scheme}://{request.url.netloc}{request.scope.get('root_path', '')}"
        endpoint = endpoint_of(sandbox, path, request.method)
        with sandbox.lock:
            sandbox.scenario.requests.append(
                RecordedRequest(
                    endpoint,
                    request.method,
                    path,
                    dict(request.query_params),
                    dict(request.headers),
                    body,
                    sandbox.now(),
                )
            )
            latency = sandbox.scenario.latency.get(endpoint)
            delay = latency.sample(_JITTER) if latency else 0.0
            failure = sandbox.scenario.next_failure(endpoint, request.method)
        if delay:
            await asyncio.sleep(delay)
        object_id = path.split("/")[0]
        headers = _usage_headers(sandbox, endpoint, object_id)
        trace_id = sandbox.world.ids.trace()
        if failure is not None:
            response = error_response(failure, trace_id=trace_id, object_id=object_id)
        else:
            try:
                with sandbox.lock:
                    payload = objects.answer(endpoint, request.method, path, params)
                response = JSONResponse(payload)
            except GraphFault as fault:
                response = error_response(
                    fault.failure,
                    trace_id=trace_id,
                    www_authenticate=fault.www_authenticate,
                    object_id=object_id,
                )
        for name, value in headers.items():
            response.headers.setdefault(name, value)  # a rate limit's own usage header wins
        return response

    return graph
