"""The sandbox over HTTP: health, SDK script, control endpoint, and the popup walked without a browser."""

from __future__ import annotations

from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import pytest

from qualifica.meta.client import GraphClient
from qualifica.meta.errors import MetaError
from qualifica.meta.sandbox import Sandbox
from tests.support.meta import APP_ID, CONFIG_ID
from tests.support.sandbox import LiveSandbox


class TestServing:
    async def test_healthz_and_sdk(self, live_sandbox: LiveSandbox, http: httpx.AsyncClient) -> None:
        assert (await http.get(live_sandbox.url + "/healthz")).status_code == 200
        sdk = await http.get(live_sandbox.url + "/sdk.js")
        assert sdk.status_code == 200
        assert sdk.headers["access-control-allow-origin"] == "*"
        assert sdk.headers["content-type"].startswith("text/javascript")
        assert "FB" in sdk.text and "login" in sdk.text

    async def test_unknown_object_is_metas_100_33(
        self, live_sandbox: LiveSandbox, http: httpx.AsyncClient
    ) -> None:
        answer = await http.get(live_sandbox.url + "/v25.0/424242", headers={"Authorization": "Bearer EAAx"})
        error = answer.json()["error"]
        assert (answer.status_code, error["code"], error["error_subcode"]) == (400, 100, 33)
        assert error["type"] == "GraphMethodException" and error["fbtrace_id"]

    async def test_code_errors_carry_the_www_authenticate_header(
        self, live_sandbox: LiveSandbox, http: httpx.AsyncClient, sandbox: Sandbox
    ) -> None:
        code = sandbox.complete_signup().code
        sandbox.advance(40)
        answer = await http.get(
            live_sandbox.url + "/v25.0/oauth/access_token",
            params={"client_id": APP_ID, "client_secret": sandbox.credentials.app_secret, "code": code},
        )
        assert answer.json()["error"]["message"] == "This authorization code has expired."
        assert answer.headers["www-authenticate"].startswith('OAuth "Facebook Platform" "invalid_code"')


class TestControlEndpoint:
    async def test_failure_injected_over_http(
        self, live_sandbox: LiveSandbox, http: httpx.AsyncClient, graph: GraphClient
    ) -> None:
        control = live_sandbox.url + "/_control"
        signup = (await http.post(control + "/signup", json={"path": "finish"})).json()
        assert signup["event"] == "FINISH" and signup["code"]
        token = (await graph.exchange_code(signup["code"])).access_token
        answer = await http.post(control + "/failures", json={"endpoint": "waba", "code": 2, "times": 9})
        assert answer.json() == {"ok": True}
        with pytest.raises(MetaError) as caught:
            await graph.get_waba(signup["data"]["waba_id"], token=token)
        assert caught.value.code == 2 and caught.value.transient
        recorded = (await http.get(control + "/requests", params={"endpoint": "waba"})).json()
        assert len(recorded) == 5 and recorded[0]["method"] == "GET"

    async def test_rate_limit_injected_over_http_is_not_retried(
        self, live_sandbox: LiveSandbox, http: httpx.AsyncClient, graph: GraphClient
    ) -> None:
        control = live_sandbox.url + "/_control"
        signup = (await http.post(control + "/signup", json={"path": "finish"})).json()
        token = (await graph.exchange_code(signup["code"])).access_token
        await http.post(control + "/failures", json={"endpoint": "waba", "code": 80007, "times": 9})
        with pytest.raises(MetaError) as caught:
            await graph.get_waba(signup["data"]["waba_id"], token=token)
        assert caught.value.code == 80007 and caught.value.is_rate_limit
        recorded = (await http.get(control + "/requests", params={"endpoint": "waba"})).json()
        assert len(recorded) == 1

    async def test_auto_mode_pin_and_state(
        self, live_sandbox: LiveSandbox, http: httpx.AsyncClient, sandbox: Sandbox
    ) -> None:
        control = live_sandbox.url + "/_control"
        assert (
            await http.post(control + "/auto", json={"path": "cancel:PERMISSIONS", "order": "callback_first"})
        ).status_code == 200
        assert sandbox.scenario.auto is not None and sandbox.scenario.auto.path == "cancel:PERMISSIONS"
        assert (await http.post(control + "/auto", json={"path": "nowhere"})).status_code == 400
        phone_id = next(iter(sandbox.world.phones))
        await http.post(control + f"/phones/{phone_id}/pin", json={"pin": "135790"})
        assert sandbox.phone(phone_id).pin == "135790"
        state = (await http.get(control + "/state")).json()
        assert state["app_id"] == APP_ID and len(state["phones"]) == 6  # docs/sandbox.md, "Seeded world"
        assert "pin" not in state["phones"][0]

    async def test_latency_over_http(
        self, live_sandbox: LiveSandbox, http: httpx.AsyncClient, sandbox: Sandbox
    ) -> None:
        await http.post(
            live_sandbox.url + "/_control/latency",
            json={"endpoint": "debug_token", "kind": "uniform", "a": 0.1, "b": 0.2},
        )
        latency = sandbox.scenario.latency["debug_token"]
        assert (latency.kind, latency.a, latency.b) == ("uniform", 0.1, 0.2)
        assert 0.1 <= latency.sample(__import__("random").Random(1)) <= 0.2


def dialog_params(**extra: str) -> dict[str, str]:
    return {
        "client_id": APP_ID,
        "config_id": CONFIG_ID,
        "response_type": "code",
        "override_default_response_type": "true",
        **extra,
    }


class TestFullPageDialog:
    async def walk(
        self, http: httpx.AsyncClient, url: str, forms: list[tuple[str, dict[str, str]]]
    ) -> httpx.Response:
        answer = await http.get(url)
        for page, form in forms:
            assert answer.status_code == 303, answer.text[:300]
            location = urljoin(str(answer.url), answer.headers["location"])
            assert location.endswith("/" + page), location
            page_html = await http.get(location)
            assert page_html.status_code == 200 and 'lang="pt-BR"' in page_html.text
            answer = await http.post(location.replace("/payment", "/finish"), data=form)
        return answer

    async def test_redirect_flow_returns_code_bound_to_its_redirect_uri(
        self, live_sandbox: LiveSandbox, http: httpx.AsyncClient, graph: GraphClient, sandbox: Sandbox
    ) -> None:
        redirect = "https://app.test/api/v1/whatsapp/embedded-signup/callback"
        business = next(iter(sandbox.world.businesses))
        waba = sandbox.world.wabas_of(business)[0].id
        existing = sandbox.existing_phones(waba)[0].id
        url = (
            live_sandbox.url
            + "/v25.0/dialog/oauth?"
            + str(httpx.QueryParams(dialog_params(redirect_uri=redirect, state="st8")))
        )
        answer = await self.walk(
            http,
            url,
            [
                ("login", {}),
                ("business", {"business_id": business}),
                ("waba", {"waba": waba}),
                ("phone", {"choice": f"existing:{existing}"}),
                ("permissions", {}),
                ("payment", {}),
            ],
        )
        assert answer.status_code == 303
        target = urlsplit(answer.headers["location"])
        assert f"{target.scheme}://{target.netloc}{target.path}" == redirect
        query = parse_qs(target.query)
        assert query["state"] == ["st8"]
        with pytest.raises(MetaError) as caught:
            await graph.exchange_code(query["code"][0])
        assert caught.value.subcode == 36008
        sandbox.world.codes[query["code"][0]].used = False  # 36008 does not burn a code in the sandbox
        assert (await graph.exchange_code(query["code"][0], redirect_uri=redirect)).access_token

    async def test_wrong_app_id_shows_an_error_page(
        self, live_sandbox: LiveSandbox, http: httpx.AsyncClient
    ) -> None:
        answer = await http.get(
            live_sandbox.url + "/v25.0/dialog/oauth",
            params=dialog_params(client_id="1", origin="http://a.test"),
        )
        assert answer.status_code == 400 and "ID do aplicativo" in answer.text

    async def test_invalid_form_stays_on_the_screen(
        self, live_sandbox: LiveSandbox, http: httpx.AsyncClient
    ) -> None:
        answer = await http.get(
            live_sandbox.url + "/v25.0/dialog/oauth", params=dialog_params(origin="http://a.test", cb="f1")
        )
        flow = answer.headers["location"].rsplit("/", 2)[-2]
        answer = await http.post(live_sandbox.url + f"/dialog/{flow}/business", data={"business_id": "nope"})
        assert answer.status_code == 422 and "Selecione um portfólio" in answer.text

    async def test_inline_scripts_are_absent(
        self, live_sandbox: LiveSandbox, http: httpx.AsyncClient
    ) -> None:
        answer = await http.get(
            live_sandbox.url + "/v25.0/dialog/oauth", params=dialog_params(origin="http://a.test", cb="f1")
        )
        page = await http.get(live_sandbox.url + answer.headers["location"])
        assert "<script>" not in page.text and "<script src=" in page.text
