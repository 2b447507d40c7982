// The WhatsApp connection page (/settings/whatsapp): runs Meta's Embedded Signup in a popup, with the
// full-page dialog as the fallback, and shows one state at a time (a panel cloned from its <template>).
//
// One attempt at a time. An attempt needs two halves that Meta delivers in either order: the FB.login
// callback (the single-use code, valid 30 s) and the WA_EMBEDDED_SIGNUP message (which WABA and number).
// Every exit — both halves, a cancel, an error, a timeout — goes through settle(), which removes the
// listener and the timer, so nothing from an old attempt can touch the page afterwards.
// Secrets (the code, the PIN) are only ever sent in POST bodies: never logged, never in the URL or page.

const API = "/api/v1/whatsapp";
const POLL_MS = 800;
const SLOW_AFTER_MS = 30000;
const ID = /^[0-9]{1,64}$/;
const EVENT_NAME = /^[A-Z_]{1,64}$/;

// Texts only this script says. Those the server says too come from the page (see below).
const LOGIN_LOST = "a janela da Meta não devolveu a autorização";
const LOGIN_HINT = "Clique em Tentar novamente. Se a janela da Meta não fechar sozinha, use Abrir em página inteira.";
const OFFLINE = "Não foi possível falar com a Qualifica Leads. Verifique a internet e tente novamente.";
const DISCONNECTED = "O WhatsApp foi desconectado.";

const root = document.getElementById("whatsapp");
// The step texts (by the status endpoint's step or this script's own stage), the Meta-error sentence, the
// failure titles and the PIN rule, as qualifica/whatsapp/steps.py and errors.py hold them.
const STEP_TEXT = JSON.parse(root.dataset.stepTexts);
const META_ERROR = root.dataset.metaError;
const FAILED_TITLE = root.dataset.failedTitle;
const BROKEN_TITLE = root.dataset.brokenTitle;
const PIN_FORMAT = root.dataset.pinFormat;
const CODE_FORMAT = root.dataset.codeFormat;
const CHOICE_WABA_TITLE = root.dataset.choiceWabaTitle;
const CHOICE_NUMBER_TITLE = root.dataset.choiceNumberTitle;
const CODE_SENT = { sms: root.dataset.codeSentSms, voice: root.dataset.codeSentVoice };
// The signup waits for the admin (ARCHITECTURE §14): the status → the panel that asks for it.
const WAITING = ["pin_required", "choice_required", "verification_required", "number_required"];
const slot = root.querySelector("[data-slot]");
const live = root.querySelector("[data-live]"); // the page's one polite live region
// Panels whose arrival is an outcome to announce (their heading and message), not a step of the way.
const OUTCOMES = ["active", "cancelled", "failed", "expired", "unavailable"];
let interacted = false; // focus follows the state only once the person has done something (or sits on <body>)
const watchdogMs = Number(root.dataset.watchdogMs) || 60000;
// After the login callback, how long the session message may still be on its way (the code is dying).
const graceMs = Math.min(2000, watchdogMs);
let current = null; // the running attempt, or null
let sdk = null; // the SDK's loading promise, shared by every attempt
let sdkReady = false;

// ---- view ---------------------------------------------------------------------------------------
// Only the current panel is in the document (a fresh clone of its <template>); fill it after show().

function field(name) {
  return root.querySelector(`[data-slot] [data-field="${name}"]`);
}

function show(panel) {
  const template = root.querySelector(`template[data-panel="${panel}"]`);
  if (!template) return; // a panel this user never gets (members: the instructions)
  slot.replaceChildren(template.content.cloneNode(true));
  root.dataset.panel = panel;
  focusHeading();
  // The caller fills the panel right after show(); the announcement reads it once filled.
  if (OUTCOMES.includes(panel)) queueMicrotask(() => announcePanel(panel));
}

// Keyboard and screen-reader users land on the new panel's heading, never back on <body>.
function focusHeading() {
  const active = document.activeElement;
  if (!interacted && active && active !== document.body) return;
  const heading = slot.querySelector("h2");
  if (!heading) return;
  heading.tabIndex = -1;
  heading.focus({ preventScroll: false });
}

// One polite live region says every outcome; the same words twice are said twice (a no-break space).
function announce(text) {
  if (!live || !text) return;
  live.textContent = live.textContent === text ? `${text}\u00a0` : text;
}

function announcePanel(panel) {
  if (root.dataset.panel !== panel) return;
  const heading = slot.querySelector("h2");
  const detail =
    panel === "active" ? field("display_phone_number") : slot.querySelector(".alert:not([hidden]), [data-field=error-message]");
  const [title, message] = [heading, detail].map((element) => (element ? element.textContent.trim() : ""));
  // "Sessão expirada" + "Sessão expirada. Clique para reconectar.": the message alone says both.
  announce(message.startsWith(title) ? message : [title, message].filter(Boolean).join(". "));
}

// A form's error under its input: described by it (the template's aria-describedby), marked invalid, said aloud.
function setError(name, text) {
  setText(name, text);
  const element = field(name);
  const input = element && element.dataset.for && slot.querySelector(`#${element.dataset.for}`);
  if (input) {
    if (text) input.setAttribute("aria-invalid", "true");
    else input.removeAttribute("aria-invalid");
    if (text) input.focus();
  }
  if (text && name !== "disconnect-error") announce(text); // the dialog's error is its own alert
}

function setText(name, text) {
  const element = field(name);
  if (!element) return;
  element.textContent = text || "";
  element.hidden = !text;
}

function showConnecting(step) {
  if (root.dataset.panel !== "connecting") show("connecting");
  setStep(STEP_TEXT[step] || step);
}

// The connecting panel's line: said aloud when it changes (the poll rewrites it every 800 ms).
function setStep(text) {
  const element = field("step");
  if (!element || element.textContent === text) return;
  setText("step", text);
  announce(text);
}

function showConnected(connection) {
  show("active");
  // The layout's "desconectado" banner was true when the page was served; connected now, it is not.
  document.querySelector("[data-banner=whatsapp]")?.remove();
  if (!connection) return;
  setText("display_phone_number", connection.display_phone_number);
  setText("business_name", connection.business_name || "—");
  setText("verified_name", connection.verified_name || "—");
  setText("waba_id", connection.waba_id);
  setText("connected_at", localDate(connection.connected_at));
  field("warnings").replaceChildren(
    ...(connection.health_warnings || [])
      .filter((warning) => warning && warning.message)
      .map((warning) => Object.assign(document.createElement("li"), { textContent: warning.message })),
  );
}

function showFailure(message, hint, title = FAILED_TITLE) {
  show("failed");
  setText("error-title", title);
  setText("error-message", message);
  setText("error-hint", hint);
}

function showExpired(hint) {
  show("expired");
  setText("expired-hint", hint);
}

function localDate(iso) {
  if (!iso) return "—";
  return new Date(iso).toLocaleDateString("pt-BR", { timeZone: "America/Sao_Paulo" });
}

// The PRD sentence around Meta's own words, as meta_error_sentence builds it (every caller has words).
function metaError(message) {
  const words = String(message).trim().replace(/\.+$/, "");
  return META_ERROR.replace("{mensagem}", () => words); // a function: "$&" in Meta's words stays as it is
}

// An error answer of our API (or the status endpoint's error), shown in the panel it belongs to.
function showError(error, title) {
  const code = error && error.code;
  if (!code) return showFailure(OFFLINE);
  if (["session_expired", "token_invalid"].includes(code)) return showExpired(error.hint);
  if (code === "feature_disabled") return show("unavailable");
  if (code === "already_connected") return refresh();
  return showFailure(error.message, error.hint, title);
}

// Panels for what the status endpoint says; true when there is nothing left to wait for.
function showStatus(status) {
  if (status.status === "connecting") return false;
  if (status.status === "active") showConnected(status.connection);
  else if (status.status === "pin_required") showPin();
  else if (status.status === "choice_required") showChoice(status.attempt_id, status.choices);
  else if (status.status === "verification_required") showVerification(status.phone_number);
  else if (status.status === "number_required") show("number");
  else if (status.error) showError(status.error, status.status === "error" ? BROKEN_TITLE : FAILED_TITLE);
  else show("idle");
  return true;
}

// ---- server ---------------------------------------------------------------------------------------

function csrfToken() {
  const cookie = document.cookie.split("; ").find((item) => item.startsWith("qualifica_csrf="));
  return cookie ? decodeURIComponent(cookie.slice("qualifica_csrf=".length)) : "";
}

// Every call answers {ok, status, body}; a network failure is status 0, never an exception.
async function api(method, path, body) {
  const headers = { Accept: "application/json" };
  if (method !== "GET") {
    headers["Content-Type"] = "application/json";
    headers["X-CSRF-Token"] = csrfToken();
  }
  try {
    const response = await fetch(API + path, {
      method,
      headers,
      credentials: "same-origin",
      body: method === "GET" ? undefined : JSON.stringify(body || {}),
    });
    const data = await response.json().catch(() => null);
    if (response.status === 401 && data && data.error && data.error.code === "not_authenticated") {
      window.location.assign("/login"); // the back-office session ended; the login page brings them back
    }
    return { ok: response.ok, status: response.status, body: data };
  } catch {
    return { ok: false, status: 0, body: null };
  }
}

async function fetchStatus() {
  const answer = await api("GET", "/connection/status");
  return answer.ok ? answer.body : null;
}

async function refresh() {
  const status = await fetchStatus();
  if (!status) return showFailure(OFFLINE);
  if (!showStatus(status)) return poll();
}

// Until the server's pipeline ends (a 202 answer, or a page opened while it runs), in words.
async function poll() {
  if (root.dataset.panel !== "connecting") show("connecting");
  const since = Date.now();
  for (;;) {
    const status = await fetchStatus();
    if (status && showStatus(status)) return;
    const step = status && status.step;
    // Meta's rate limit says itself how long it lasts; otherwise, after a while, that it is slow.
    const slow = step !== "rate_limited" && Date.now() - since > SLOW_AFTER_MS;
    setStep(STEP_TEXT[slow ? "slow" : step] || STEP_TEXT.callback_received);
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

// ---- Meta's SDK ------------------------------------------------------------------------------------

// Loaded on first need only (never on a plain page view); a failed load may be retried.
function loadSdk(url) {
  if (window.FB) return Promise.resolve(window.FB);
  if (!sdk) {
    sdk = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = url;
      script.async = true;
      script.crossOrigin = "anonymous";
      script.onload = () => (window.FB ? resolve(window.FB) : reject(new Error("FB missing")));
      script.onerror = () => reject(new Error("SDK not loaded"));
      document.head.append(script);
    }).catch((error) => {
      sdk = null;
      throw error;
    });
  }
  return sdk;
}

function initSdk(FB, start) {
  if (sdkReady) return;
  FB.init({ appId: start.app_id, autoLogAppEvents: true, xfbml: false, version: start.graph_api_version });
  sdkReady = true;
}

// A WA_EMBEDDED_SIGNUP envelope ({event, data}) or null for anything else: the SDK's "cb=…" strings,
// malformed JSON, other types. Meta posts JSON strings; objects are accepted too.
function parseSignupMessage(raw) {
  let value = raw;
  if (typeof raw === "string") {
    try {
      value = JSON.parse(raw);
    } catch {
      return null;
    }
  }
  if (!value || typeof value !== "object" || value.type !== "WA_EMBEDDED_SIGNUP") return null;
  if (typeof value.event !== "string" || !EVENT_NAME.test(value.event)) return null;
  const data = value.data && typeof value.data === "object" ? value.data : {};
  return { event: value.event, data };
}

function isFinish(message) {
  return Boolean(message) && message.event.startsWith("FINISH");
}

// ---- one attempt -----------------------------------------------------------------------------------

async function begin() {
  if (current) return; // a second click while one attempt runs changes nothing
  const attempt = { start: null, code: null, loginDone: false, message: null, timer: null, listener: null };
  current = attempt;
  showConnecting("opening");
  const started = await api("POST", "/embedded-signup/start");
  if (!started.ok) {
    settle(attempt);
    return showError(started.body && started.body.error);
  }
  attempt.start = started.body;
  let FB;
  try {
    FB = await loadSdk(attempt.start.sdk_url);
    initSdk(FB, attempt.start);
  } catch {
    return reportFailure(attempt, { error_code: "sdk_unavailable", error_message: "o componente da Meta não carregou" });
  }
  attempt.listener = (event) => onMessage(attempt, event);
  window.addEventListener("message", attempt.listener);
  showConnecting("started"); // the attempt waits for the admin in Meta's window
  try {
    FB.login((response) => onLogin(attempt, response), {
      config_id: attempt.start.config_id,
      response_type: "code",
      override_default_response_type: true,
      extras: attempt.start.extras,
    });
  } catch {
    reportFailure(attempt, { error_code: "sdk_unavailable", error_message: "o componente da Meta falhou ao abrir" });
  }
}

function onMessage(attempt, event) {
  // Exact origins from the server (scheme, host and port): no suffix match, so no look-alike domains.
  if (attempt !== current || !attempt.start.message_origins.includes(event.origin)) return;
  const message = parseSignupMessage(event.data);
  if (!message || attempt.message) return;
  if (message.event === "CANCEL" || message.event === "ERROR") return endInPopup(attempt, message);
  if (!isFinish(message)) return; // an event this page does not know: wait for one it does
  attempt.message = message;
  proceed(attempt);
}

function onLogin(attempt, response) {
  if (attempt !== current || attempt.loginDone) return;
  attempt.loginDone = true;
  const code = response && response.authResponse && response.authResponse.code;
  attempt.code = typeof code === "string" && code ? code : null;
  proceed(attempt);
}

// Called after either half arrives: go on when both are here, else wait (bounded) for the other one.
function proceed(attempt) {
  clearTimeout(attempt.timer);
  const finished = isFinish(attempt.message);
  if (attempt.code && finished) return submit(attempt);
  if (attempt.code) {
    // The code lives 30 s; without the message the server finds the WABA from the token itself.
    attempt.timer = setTimeout(() => submit(attempt), graceMs);
  } else if (attempt.loginDone && finished) {
    reportFailure(attempt, { error_code: "login_no_code", error_message: LOGIN_LOST }, LOGIN_HINT);
  } else if (attempt.loginDone) {
    // No code: a popup blocked or closed early. A CANCEL message may still explain where it stopped.
    attempt.timer = setTimeout(() => cancel(attempt, null), graceMs);
  } else {
    // The session says FINISH but the login callback has not come: the watchdog keeps this bounded.
    attempt.timer = setTimeout(
      () => reportFailure(attempt, { error_code: "login_timeout", error_message: LOGIN_LOST }, LOGIN_HINT),
      watchdogMs,
    );
  }
}

// The attempt is over for the browser: no listener, no timer, nothing kept (the code least of all).
function settle(attempt) {
  clearTimeout(attempt.timer);
  if (attempt.listener) window.removeEventListener("message", attempt.listener);
  attempt.listener = null;
  attempt.code = null;
  if (current === attempt) current = null;
}

function endInPopup(attempt, message) {
  const data = message.data;
  if (message.event === "ERROR" || data.error_message || data.error_code || data.error_id) {
    return reportFailure(attempt, {
      step: data.current_step || null,
      error_code: data.error_code ?? null,
      error_id: data.error_id ?? null,
      error_message: String(data.error_message || "erro informado pela Meta").slice(0, 2000),
      session_id: data.session_id ? String(data.session_id).slice(0, 128) : null,
    });
  }
  return cancel(attempt, data.current_step || null);
}

async function cancel(attempt, step) {
  settle(attempt);
  show("cancelled");
  await api("POST", "/embedded-signup/cancel", { state: attempt.start.state, step: step || "login" });
}

// An error the popup (or this page) saw: recorded on the server, shown with the catalogue's advice.
async function reportFailure(attempt, report, hint) {
  settle(attempt);
  const body = { state: attempt.start.state, step: "login", ...report };
  if (!body.error_code && !body.error_id) body.error_code = "unknown";
  await api("POST", "/embedded-signup/error", body);
  const status = await fetchStatus();
  const explained = status && status.error && status.error.hint;
  showFailure(metaError(report.error_message), explained || hint);
}

async function submit(attempt) {
  if (attempt !== current) return;
  const body = { code: attempt.code, state: attempt.start.state };
  const message = attempt.message;
  if (message) {
    body.event = message.event;
    for (const name of ["waba_id", "phone_number_id", "business_id"]) {
      const value = message.data[name];
      if (value !== undefined && value !== null && ID.test(String(value))) body[name] = String(value);
    }
  }
  settle(attempt);
  showConnecting("saving");
  const answer = await api("POST", "/embedded-signup/callback", body);
  if (answer.status === 200) return refresh();
  return showAnswer(answer);
}

// The callback's answer, as choose and verify give it too: connected, still running, or waiting for us.
function showAnswer(answer) {
  if (answer.status === 200) return refresh();
  if (answer.status === 202) return answer.body && WAITING.includes(answer.body.status) ? refresh() : poll();
  if (answer.status === 0) return poll(); // the answer was lost, not necessarily the work: ask the status
  return showError(answer.body && answer.body.error);
}

// ---- the full-page fallback, the PIN and disconnecting ---------------------------------------------

// Meta's OAuth dialog in this tab; Meta sends the admin back to GET .../embedded-signup/callback.
async function openFullPage() {
  if (current) return;
  const attempt = { start: null, timer: null, listener: null };
  current = attempt;
  const started = await api("POST", "/embedded-signup/start");
  settle(attempt);
  if (!started.ok) return showError(started.body && started.body.error);
  const start = started.body;
  const query = new URLSearchParams({
    client_id: start.app_id,
    redirect_uri: start.redirect_uri,
    config_id: start.config_id,
    response_type: "code",
    override_default_response_type: "true",
    state: start.state,
    extras: JSON.stringify(start.extras || {}), // the prefill travels in the full-page flow too
  });
  window.location.assign(`${start.dialog_url}?${query}`);
}

function showPin() {
  show("pin");
}

async function submitPin(form) {
  const input = form.querySelector("input");
  const button = form.querySelector("button[type=submit]");
  const pin = input.value.trim();
  if (!/^[0-9]{6}$/.test(pin)) return setError("pin-error", PIN_FORMAT);
  button.disabled = true;
  const answer = await api("POST", "/connection/pin", { pin });
  input.value = "";
  button.disabled = false;
  if (answer.ok) return refresh();
  const error = answer.body && answer.body.error;
  if (error && ["pin_mismatch", "invalid_pin"].includes(error.code)) return setError("pin-error", error.message);
  if (error && error.code === "no_pin_required") return refresh();
  return showError(error);
}

// ---- the signup waits for the admin: which account or number, the number's code, a number -----------

function option(name, value, title, detail) {
  const label = document.createElement("label");
  const input = Object.assign(document.createElement("input"), { type: "radio", name, value, required: true });
  const text = document.createElement("span");
  text.append(Object.assign(document.createElement("strong"), { textContent: title || value }));
  if (detail) text.append(Object.assign(document.createElement("small"), { textContent: detail }));
  label.append(input, text);
  return label;
}

// Several accounts: pick one (its numbers may be asked next). One account, several numbers: pick a number.
function showChoice(attemptId, choices) {
  show("choice");
  const wabas = (choices && choices.wabas) || [];
  const numbers = (choices && choices.phone_numbers) || [];
  const list = field("choices");
  if (!list) return; // a member's panel has no form
  const form = list.closest("form");
  form.dataset.attemptId = attemptId || "";
  if (numbers.length) {
    form.dataset.wabaId = wabas.length ? wabas[0].id : "";
    setText("choice-title", CHOICE_NUMBER_TITLE);
    list.replaceChildren(
      ...numbers.map((number) => option("phone_number_id", number.id, number.display_phone_number, number.verified_name)),
    );
  } else {
    delete form.dataset.wabaId;
    setText("choice-title", CHOICE_WABA_TITLE);
    list.replaceChildren(...wabas.map((waba) => option("waba_id", waba.id, waba.name, `WABA ${waba.id}`)));
  }
}

async function choose(form) {
  const picked = form.querySelector("input[type=radio]:checked");
  if (!picked) return;
  const body = { attempt_id: form.dataset.attemptId };
  if (picked.name === "phone_number_id") {
    body.waba_id = form.dataset.wabaId;
    body.phone_number_id = picked.value;
  } else {
    body.waba_id = picked.value;
  }
  form.querySelector("button[type=submit]").disabled = true;
  showConnecting("saving");
  showAnswer(await api("POST", "/embedded-signup/choose", body));
}

function showVerification(number) {
  show("verification");
  setText("verification-number", (number && (number.display_phone_number || number.id)) || "");
}

async function sendCode(button) {
  const method = button.dataset.method;
  for (const each of slot.querySelectorAll("[data-action=send-code]")) each.disabled = true;
  const answer = await api("POST", "/connection/verification/request", { method });
  for (const each of slot.querySelectorAll("[data-action=send-code]")) each.disabled = false;
  if (answer.ok) {
    setError("verification-error", "");
    setText("code-sent", CODE_SENT[method]);
    announce(CODE_SENT[method]);
    const input = slot.querySelector("#wa-code-input");
    if (input) input.focus();
    return;
  }
  const error = answer.body && answer.body.error;
  if (error && error.code === "no_verification_required") return refresh();
  return setError("verification-error", (error && error.message) || OFFLINE);
}

async function verifyCode(form) {
  const input = form.querySelector("input");
  const code = input.value.trim();
  if (!/^[0-9]{6}$/.test(code)) return setError("verification-error", CODE_FORMAT);
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const answer = await api("POST", "/connection/verification/verify", { code });
  input.value = "";
  button.disabled = false;
  const error = answer.body && answer.body.error;
  if (!answer.ok && answer.status !== 0 && error && error.code !== "session_expired") {
    if (error.code === "no_verification_required") return refresh();
    return setError("verification-error", error.message);
  }
  showConnecting("registering");
  return showAnswer(answer);
}

async function addNumber(form) {
  const body = {};
  for (const input of form.querySelectorAll("[data-input]")) body[input.dataset.input] = input.value.trim();
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  const answer = await api("POST", "/connection/number", body);
  button.disabled = false;
  if (answer.ok) return showVerification(answer.body.phone_number);
  const error = answer.body && answer.body.error;
  if (error && error.code === "no_number_required") return refresh();
  return setError("number-error", (error && error.message) || OFFLINE);
}

async function disconnect(dialog) {
  const reason = dialog.querySelector("textarea").value.trim();
  const answer = await api("POST", "/connection/disconnect", reason ? { reason } : {});
  if (!answer.ok && answer.status !== 404) {
    const error = answer.body && answer.body.error;
    return setError("disconnect-error", (error && error.message) || OFFLINE);
  }
  dialog.close();
  show("idle");
  setText("notice", DISCONNECTED);
  announce(DISCONNECTED);
}

// ---- wiring ------------------------------------------------------------------------------------------

function onClick(event) {
  const button = event.target.closest("[data-action]");
  if (!button) return;
  interacted = true;
  const action = button.dataset.action;
  if (action === "instructions") {
    show("instructions");
    loadSdk(root.dataset.sdkUrl).catch(() => {}); // early, so the popup opens within the click's grace
  } else if (action === "back") {
    show("idle");
  } else if (action === "start") {
    begin();
  } else if (action === "full-page") {
    openFullPage();
  } else if (action === "confirm-disconnect") {
    slot.querySelector("[data-role=disconnect-dialog]").showModal();
  } else if (action === "send-code") {
    sendCode(button);
  }
}

// The PIN form and the disconnect dialog live in cloned panels: one listener on the root serves them all.
function onSubmit(event) {
  const form = event.target;
  interacted = true;
  if (form.dataset.form === "pin") {
    event.preventDefault();
    submitPin(form);
  } else if (form.dataset.form === "choose") {
    event.preventDefault();
    choose(form);
  } else if (form.dataset.form === "verify") {
    event.preventDefault();
    verifyCode(form);
  } else if (form.dataset.form === "number") {
    event.preventDefault();
    addNumber(form);
  } else if (form.dataset.form === "test-message") {
    event.preventDefault();
    sendTestMessage(form);
  } else if (form.dataset.form === "disconnect" && event.submitter && event.submitter.value === "confirm") {
    event.preventDefault();
    disconnect(form.closest("dialog"));
  }
}

// ---- test message (§15, "Testar conexão") ---------------------------------------------------------
// The admin sends Meta's hello_world through the same send path as the assistant, then this polls the
// message until Meta says it was read (Enviada → Entregue → Lida) or failed. Texts: the section's data-*.

const TEST_POLL_MS = 1000;
const TEST_GIVE_UP_MS = 120000;
const TEST_STEPS = ["sent", "delivered", "read"];
let testRun = 0; // a newer test stops the polling of an older one

function testSection() {
  return slot.querySelector("[data-role=test-message]");
}

function showTestStatus(status, message) {
  const section = testSection();
  if (!section) return;
  const texts = section.dataset;
  const reached = TEST_STEPS.indexOf(status);
  const steps = field("test-steps");
  steps.hidden = reached < 0;
  for (const item of steps.querySelectorAll("[data-step]")) {
    const done = reached >= TEST_STEPS.indexOf(item.dataset.step);
    item.classList.toggle("reached", done);
    if (done) item.setAttribute("aria-current", "step");
    else item.removeAttribute("aria-current");
  }
  const key = "text" + status.charAt(0).toUpperCase() + status.slice(1);
  setText("test-status", status === "failed" ? "" : texts[key]);
  setText("test-error", status === "failed" ? [texts.textFailed, message].filter(Boolean).join(" ") : "");
}

async function sendTestMessage(form) {
  const run = ++testRun;
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  showTestStatus("sending");
  const answer = await api("POST", "/test-message", { to: form.querySelector("input").value });
  button.disabled = false;
  if (run !== testRun) return;
  if (!answer.ok) {
    const error = answer.body && answer.body.error;
    return showTestStatus("failed", error ? error.message : testSection()?.dataset.textOffline);
  }
  showTestStatus(answer.body.status);
  pollTestMessage(run, answer.body.id, Date.now());
}

async function pollTestMessage(run, id, started) {
  await new Promise((resolve) => setTimeout(resolve, TEST_POLL_MS));
  if (run !== testRun || !testSection()) return;
  const answer = await api("GET", `/test-message/${encodeURIComponent(id)}`);
  if (run !== testRun) return;
  if (answer.ok) {
    const message = answer.body;
    showTestStatus(message.status, message.error && message.error.message);
    if (["read", "failed"].includes(message.status)) return;
  }
  if (Date.now() - started > TEST_GIVE_UP_MS) return setText("test-status", testSection()?.dataset.textWaiting);
  pollTestMessage(run, id, started);
}

// Escape on the instructions goes back, as Voltar does (the disconnect dialog closes itself on Escape).
function onKeydown(event) {
  if (event.key !== "Escape" || root.dataset.panel !== "instructions" || event.target.closest("dialog")) return;
  interacted = true;
  show("idle");
}

function wire() {
  root.addEventListener("click", onClick);
  root.addEventListener("submit", onSubmit);
  root.addEventListener("keydown", onKeydown);
  // Back from the full-page flow: the query said what happened once; a reload shows the status alone.
  if (root.dataset.cameBack === "true") {
    const url = new URL(window.location.href);
    url.searchParams.delete("result");
    url.searchParams.delete("error");
    window.history.replaceState(null, "", url.pathname + url.search);
  }
  if (root.dataset.panel === "connecting") poll();
  // A page opened while the signup waits for a choice or a code: the choices and the number come from the status.
  if (["choice", "verification"].includes(root.dataset.panel)) refresh();
}

wire();
