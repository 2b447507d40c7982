// A tiny integrator page: loads the sandbox SDK, calls FB.login like ours, and records what arrives.
(function () {
  "use strict";
  var body = document.body;
  window.__log = [];
  window.addEventListener("message", function (event) {
    var parsed = null;
    try { parsed = JSON.parse(event.data); } catch (e) { parsed = null; }
    window.__log.push({ kind: "message", origin: event.origin, raw: String(event.data), json: parsed });
  });
  window.fbAsyncInit = function () {
    FB.init({ appId: body.dataset.appId, autoLogAppEvents: true, xfbml: true, version: "v25.0" });
    window.__ready = true;
  };
  document.getElementById("connect").addEventListener("click", function () {
    FB.login(function (response) {
      window.__log.push({ kind: "callback", response: response });
    }, {
      config_id: body.dataset.configId,
      response_type: "code",
      override_default_response_type: true,
      extras: JSON.parse(body.dataset.extras)
    });
  });
  var script = document.createElement("script");
  script.src = body.dataset.sdk;
  script.async = true;
  script.crossOrigin = "anonymous";
  document.head.appendChild(script);
})();
