// The popup's only script: post the final messages to the opener, report a close, and run auto mode.
(function () {
  "use strict";
  var body = document.body;
  var targetOrigin = body.dataset.targetOrigin;

  function parse(text) {
    try { return JSON.parse(text || "[]"); } catch (e) { return []; }
  }

  function post(messages) {
    if (!window.opener || !targetOrigin) { return; }
    messages.forEach(function (message) { window.opener.postMessage(message, targetOrigin); });
  }

  if (body.dataset.post !== undefined) {
    post(parse(body.dataset.post));
    setTimeout(function () { window.close(); }, 100);
    return;
  }

  // Closing the window (X) reports what leaving this screen means: CANCEL here, FINISH on the last one.
  var leaving = true;
  var form = document.getElementById("step-form");
  var cancel = document.getElementById("cancel");
  if (form) { form.addEventListener("submit", function () { leaving = false; }); }
  if (cancel) { cancel.addEventListener("click", function () { leaving = false; }); }
  window.addEventListener("pagehide", function () {
    if (leaving) { leaving = false; post(parse(body.dataset.leaveMessages)); }
  });

  var auto = body.dataset.auto;
  if (!auto) { return; }
  setTimeout(function () {
    leaving = false;
    if (auto === "next" && form) {
      if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
    } else if (auto === "cancel" && cancel) {
      window.location.href = cancel.href;
    } else if (auto === "close") {
      window.close();
    }
  }, parseInt(body.dataset.autoDelay || "0", 10));
})();
