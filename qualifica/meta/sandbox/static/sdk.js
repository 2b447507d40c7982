// Sandbox stand-in for Meta's JS SDK (connect.facebook.net/en_US/sdk.js): FB.init and FB.login only.
// FB.login opens the sandbox's Embedded Signup popup; the popup posts the WA_EMBEDDED_SIGNUP message
// to this window and a "cb=..." string that this script turns into the login callback.
(function () {
  "use strict";
  if (window.FB && window.FB.__sandbox) { return; }
  var script = document.currentScript;
  var src = new URL(script ? script.src : "/sdk.js", window.location.href);
  var root = src.href.split("?")[0].replace(/\/sdk\.js$/, "");
  var settings = { appId: null, version: "v25.0" };

  function randomId() {
    var bytes = new Uint8Array(6);
    window.crypto.getRandomValues(bytes);
    return "f" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function login(callback, options) {
    options = options || {};
    var cb = randomId();
    var params = new URLSearchParams({
      client_id: settings.appId || "",
      config_id: options.config_id || "",
      response_type: options.response_type || "token",
      override_default_response_type: String(!!options.override_default_response_type),
      display: "popup",
      origin: window.location.origin,
      cb: cb,
      extras: JSON.stringify(options.extras || {})
    });
    ["auto", "order", "auto_delay_ms"].forEach(function (name) {
      if (src.searchParams.get(name)) { params.set(name, src.searchParams.get(name)); }
    });
    var url = root + "/" + settings.version + "/dialog/oauth?" + params.toString();
    var popup = window.open(url, "fb_es_" + cb, "width=600,height=760,left=120,top=60");
    var finished = false;
    var timer = null;

    function finish(response) {
      if (finished) { return; }
      finished = true;
      window.removeEventListener("message", onMessage);
      if (timer) { clearInterval(timer); }
      if (typeof callback === "function") { callback(response); }
    }

    function onMessage(event) {
      if (event.origin !== src.origin || typeof event.data !== "string") { return; }
      var data = new URLSearchParams(event.data);
      if (data.get("cb") !== cb || data.get("fbsdk") !== "result") { return; }
      if (data.get("code")) {
        finish({ authResponse: { code: data.get("code"), userID: null, expiresIn: null, graphDomain: "facebook" },
                 status: "connected" });
      } else {
        finish({ authResponse: null, status: "unknown" });
      }
    }

    if (!popup) { finish({ authResponse: null, status: "unknown" }); return; }
    window.addEventListener("message", onMessage);
    // A popup closed without a result (X on the login screen, blocked flow): no authResponse, like Meta's.
    timer = setInterval(function () {
      if (popup.closed) {
        clearInterval(timer);
        timer = null;
        setTimeout(function () { finish({ authResponse: null, status: "unknown" }); }, 400);
      }
    }, 150);
  }

  window.FB = {
    __sandbox: true,
    init: function (options) {
      settings.appId = String((options || {}).appId || "");
      settings.version = (options || {}).version || settings.version;
    },
    login: login,
    getLoginStatus: function (callback) { callback({ status: "unknown", authResponse: null }); },
    logout: function (callback) { if (callback) { callback({ status: "unknown" }); } },
    AppEvents: { logEvent: function () {}, logPageView: function () {} },
    XFBML: { parse: function () {} }
  };
  if (typeof window.fbAsyncInit === "function") { setTimeout(window.fbAsyncInit, 0); }
})();
