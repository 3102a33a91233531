/* Web chat for the intake assistant: Rasa's REST protocol, no framework, nothing external.
 *
 * What stays on the device (phones are shared, in families and at NGOs):
 * - the conversation (sender id, its token, the rendered log, the current question) lives in
 *   sessionStorage: a reload continues it, closing the tab forgets it, and it expires after
 *   a day without use; it is dropped on /forget, "Start over", "Clear this device", and when
 *   the server says the conversation was purged;
 * - the device key the server issued (a random string, nothing personal) lives in
 *   localStorage, across "Start over", so that /forget also reaches the requests sent
 *   earlier from this device; "Clear this device" drops it too.
 * The server binds the conversation to the token of its first reply (docs/SECURITY.md). */
(function () {
  "use strict";

  var ENDPOINT = "/webhooks/rest/webhook";
  var KEPT = "/webhooks/rest/kept";      // messages from staff (and reminders) kept for us
  var KEPT_EVERY_MS = 15000;
  var STORE_KEY = "intake-webchat-v2";     // sessionStorage: the conversation
  var DEVICE_KEY = "intake-webchat-device"; // localStorage: the device key only
  var OLD_KEYS = ["intake-webchat-v1"];     // what earlier versions kept in localStorage
  var MAX_LOG = 300;
  var KEEP_FOR_MS = 24 * 3600 * 1000;       // the server forgets unfinished answers after a day too
  var RTL = ["ar", "fa", "ps", "he", "ur"];
  var FALLBACK = {
    title: "Immigration Office assistant", language: "Language", placeholder: "Type your message",
    send: "Send", you: "You", bot: "Assistant", restart: "Start over", clear: "Clear this device",
    cleared: "Nothing of this conversation is kept on this device any more.",
    moved: "This conversation is open in another window or device, so it cannot continue here. Please start a new conversation.",
    offline: "We could not reach the service. Please check your connection and try again.",
    rate_limited: "You are sending messages too fast. Please wait {seconds} seconds and try again.",
    too_long: "Your message is too long. Please make it shorter.",
    failed: "Sorry, something went wrong on our side. Please try again in a moment."
  };

  var el = {
    title: document.getElementById("title"),
    chat: document.getElementById("chat"),
    log: document.getElementById("log"),
    choices: document.getElementById("choices"),
    status: document.getElementById("status"),
    form: document.getElementById("composer"),
    input: document.getElementById("input"),
    send: document.getElementById("send"),
    language: document.getElementById("language"),
    languageLabel: document.getElementById("language-label"),
    inputLabel: document.getElementById("input-label"),
    restart: document.getElementById("restart"),
    clear: document.getElementById("clear")
  };

  var languages = [];          // [{code, name, dir, strings}]
  var busy = false;
  var pending = null;          // {message, id}: reused when the same message is retried
  forgetOldVersions();
  var state = load() || fresh();

  function fresh() {
    return { sender: newId(), token: null, log: [], buttons: [], expects: null, language: null, savedAt: 0 };
  }

  function forgetOldVersions() {
    OLD_KEYS.forEach(function (key) {
      try { window.localStorage.removeItem(key); } catch (e) { /* storage unavailable */ }
    });
  }

  function deviceKey() {
    try { return window.localStorage.getItem(DEVICE_KEY) || null; } catch (e) { return null; }
  }

  function keepDeviceKey(key) {
    try { window.localStorage.setItem(DEVICE_KEY, key); } catch (e) { /* private mode */ }
  }

  function newId() {
    if (window.crypto && typeof window.crypto.randomUUID === "function") {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function load() {
    try {
      var data = JSON.parse(window.sessionStorage.getItem(STORE_KEY) || "null");
      if (data && typeof data.sender === "string" && Array.isArray(data.log)) {
        if (!(Date.now() - (data.savedAt || 0) < KEEP_FOR_MS)) {
          window.sessionStorage.removeItem(STORE_KEY);
          return null;
        }
        data.buttons = Array.isArray(data.buttons) ? data.buttons : [];
        return data;
      }
    } catch (e) { /* storage unavailable or corrupt: start afresh */ }
    return null;
  }

  function save() {
    state.log = state.log.slice(-MAX_LOG);
    state.savedAt = Date.now();
    try { window.sessionStorage.setItem(STORE_KEY, JSON.stringify(state)); } catch (e) { /* private mode */ }
  }

  function forgetConversation() {
    try { window.sessionStorage.removeItem(STORE_KEY); } catch (e) { /* storage unavailable */ }
  }

  // --- language ------------------------------------------------------------------

  function baseCode(code) { return String(code || "").toLowerCase().replace("_", "-").split("-")[0]; }

  function entryFor(code) {
    // The exact locale first (fa-AF is Dari, fa_AF here), then any of the same language.
    var wanted = String(code || "").replace("-", "_").toLowerCase();
    var base = baseCode(code);
    var sameLanguage = null;
    for (var i = 0; i < languages.length; i++) {
      if (languages[i].code.toLowerCase() === wanted) { return languages[i]; }
      if (!sameLanguage && baseCode(languages[i].code) === base) { sameLanguage = languages[i]; }
    }
    return sameLanguage;
  }

  function currentCode() {
    var entry = entryFor(state.language) || entryFor(navigator.language);
    return entry ? entry.code : (state.language || "en");
  }

  function t(key, params) {
    var entry = entryFor(currentCode());
    var text = (entry && entry.strings && entry.strings[key]) || FALLBACK[key] || key;
    return text.replace(/\{(\w+)\}/g, function (all, name) {
      return params && params[name] !== undefined ? String(params[name]) : all;
    });
  }

  function applyLanguage() {
    var code = currentCode();
    var rtl = RTL.indexOf(baseCode(code)) >= 0;
    document.documentElement.lang = code.replace("_", "-");  // BCP 47: fa-AF, pt-BR
    document.documentElement.dir = rtl ? "rtl" : "ltr";
    el.chat.dir = rtl ? "rtl" : "ltr";
    document.title = t("title");
    el.title.textContent = t("title");
    el.languageLabel.textContent = t("language");
    el.language.setAttribute("aria-label", t("language"));
    el.inputLabel.textContent = t("placeholder");
    el.input.placeholder = t("placeholder");
    el.send.textContent = t("send");
    el.restart.textContent = t("restart");
    el.clear.textContent = t("clear");
    if (el.language.options.length) { el.language.value = code; }
    renderLog();
  }

  function loadLanguages() {
    return fetch("/webchat/languages.json", { headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : { languages: [] }; })
      .then(function (data) {
        languages = (data && data.languages) || [];
        el.language.textContent = "";
        languages.forEach(function (lang) {
          var option = document.createElement("option");
          option.value = lang.code;
          option.textContent = lang.name;
          option.lang = lang.code.replace("_", "-");
          option.dir = lang.dir || "auto";
          el.language.appendChild(option);
        });
        el.language.disabled = languages.length === 0;
      })
      .catch(function () { languages = []; });
  }

  // --- rendering -----------------------------------------------------------------

  function renderLog() {
    el.log.textContent = "";
    state.log.forEach(function (item) { el.log.appendChild(bubble(item)); });
    renderChoices();
    renderInput();
    el.log.scrollTop = el.log.scrollHeight;
  }

  function bubble(item) {
    var li = document.createElement("li");
    li.className = "msg " + (item.who === "me" ? "me" : "bot");
    li.dir = "auto";
    var who = document.createElement("span");
    who.className = "who";
    // Its own dir: the bubble's dir=auto then follows the message, not this label in the
    // page's language (an English greeting on an Arabic page kept its full stop at the end).
    who.dir = "auto";
    who.textContent = (item.who === "me" ? t("you") : t("bot")) + ": ";
    li.appendChild(who);
    li.appendChild(document.createTextNode(item.text));
    if (item.file && item.file.data) {
      // A calendar file: a download link built here, so no request leaves the page.
      var link = document.createElement("a");
      link.className = "file";
      link.href = "data:" + (item.file.media_type || "application/octet-stream") + ";base64," + item.file.data;
      link.download = item.file.filename || "file";
      link.textContent = "📅 " + (item.file.filename || "file");
      li.appendChild(document.createElement("br"));
      li.appendChild(link);
    }
    return li;
  }

  function append(item) {
    state.log.push(item);
    el.log.appendChild(bubble(item));
    el.log.scrollTop = el.log.scrollHeight;
  }

  function renderChoices() {
    el.choices.textContent = "";
    state.buttons.forEach(function (b) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = b.title;
      button.dir = "auto";
      button.addEventListener("click", function () { send(b.payload, b.title, false); });
      el.choices.appendChild(button);
    });
  }

  function renderInput() {
    var type = state.expects && state.expects.type;
    var input = el.input;
    input.removeAttribute("inputmode");
    input.removeAttribute("pattern");
    input.removeAttribute("autocomplete");
    input.dir = "auto";
    if (type === "date") {
      input.type = "date";
      input.dir = "ltr";
    } else if (type === "phone") {
      input.type = "tel";
      input.setAttribute("inputmode", "tel");
      input.setAttribute("autocomplete", "tel");
      input.dir = "ltr";
    } else if (type === "number") {
      input.type = "text";
      input.setAttribute("inputmode", "numeric");
      input.dir = "ltr";
    } else if (type === "email") {
      input.type = "email";
      input.setAttribute("autocomplete", "email");
      input.dir = "ltr";
    } else {
      input.type = "text";
      input.setAttribute("autocomplete", "off");
    }
  }

  function showStatus(text) {
    el.status.textContent = text;
    el.status.hidden = !text;
  }

  function setBusy(value) {
    busy = value;
    el.send.disabled = value;
    el.language.disabled = value || languages.length === 0;
    Array.prototype.forEach.call(el.choices.querySelectorAll("button"), function (b) { b.disabled = value; });
  }

  // --- talking to the server -------------------------------------------------------

  function send(message, shown, fromInput, extra) {
    if (busy || !message) { return Promise.resolve(false); }
    if (!pending || pending.message !== message) { pending = { message: message, id: newId() }; }
    var metadata = { message_id: pending.id };
    if (extra && extra.language) { metadata.language = extra.language; }
    if (state.token) { metadata.conversation_token = state.token; }
    if (deviceKey()) { metadata.device_key = deviceKey(); }
    setBusy(true);
    showStatus("");
    return fetch(ENDPOINT, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ sender: state.sender, message: message, metadata: metadata })
    }).then(function (response) {
      if (response.status === 429) {
        var wait = parseInt(response.headers.get("Retry-After") || "", 10);
        throw { status: 429, seconds: isNaN(wait) ? 60 : wait };
      }
      if (response.status === 413) { throw { status: 413 }; }
      if (response.status === 403) { throw { status: 403 }; }
      if (!response.ok) { throw { status: response.status }; }
      return response.json();
    }).then(function (replies) {
      pending = null;
      if (shown) { append({ who: "me", text: shown }); }
      if (fromInput) { el.input.value = ""; }
      var buttons = [];
      var expects = null;
      replies = Array.isArray(replies) ? replies : [];
      replies.forEach(function (r) {
        var custom = r.custom || {};
        if (custom.conversation_token) { state.token = String(custom.conversation_token); }
        if (custom.device_key) { keepDeviceKey(String(custom.device_key)); }
        if (custom.erased || custom.purged) {
          // The server no longer has it: nor should this device (the new replies stay).
          state.log = [];
          el.log.textContent = "";
        }
      });
      replies.forEach(function (r) {
        var file = r.custom && r.custom.attachment ? r.custom.attachment : null;
        if (r.text || file) { append({ who: "bot", text: String(r.text || ""), file: file }); }
        if (Array.isArray(r.buttons) && r.buttons.length) { buttons = r.buttons; }
        if (r.custom && r.custom.expects) { expects = r.custom.expects; }
        if (r.custom && r.custom.language) { state.language = r.custom.language; }
      });
      state.buttons = buttons;
      state.expects = expects;
      save();
      setBusy(false);
      applyLanguage();
      el.input.focus();
      return true;
    }).catch(function (err) {
      setBusy(false);
      if (err && err.status === 403) {
        // Bound to another window or device (or this one lost its token): start afresh.
        startAfresh(false);
        showStatus(t("moved"));
      } else if (err && err.status === 429) {
        showStatus(t("rate_limited", { seconds: err.seconds }));
      } else if (err && err.status === 413) {
        showStatus(t("too_long"));
      } else if (err && err.status) {
        showStatus(t("failed"));
      } else {
        showStatus(t("offline"));
      }
      return false;
    });
  }

  el.form.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = el.input.value.trim();
    if (!text) { el.input.focus(); return; }
    send(text, text, true);
  });

  el.language.addEventListener("change", function () {
    var code = el.language.value;
    var entry = entryFor(code);
    send("/language " + code, entry ? entry.name : code, false);
  });

  function startAfresh(greet) {
    var code = currentCode();
    forgetConversation();
    state = fresh();
    state.language = code;
    pending = null;
    renderLog();
    if (greet) { send("/start", null, false, { language: code }); }
  }

  // "Start over": a new conversation; the device key stays, so /forget still reaches
  // what was sent before.
  el.restart.addEventListener("click", function () { startAfresh(true); });

  // "Clear this device": for a shared phone. Nothing of the conversation, nor the device
  // key, stays in this browser; what was sent stays on the server (/forget erases it).
  el.clear.addEventListener("click", function () {
    try { window.localStorage.removeItem(DEVICE_KEY); } catch (e) { /* storage unavailable */ }
    forgetOldVersions();
    startAfresh(false);
    showStatus(t("cleared"));
  });

  // Staff may write while this page is open: ask for what was kept, now and then, while
  // the page is visible and not waiting for an answer.
  function fetchKept() {
    if (busy || document.hidden || state.log.length === 0) { return; }
    fetch(KEPT, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ sender: state.sender, metadata: state.token ? { conversation_token: state.token } : {} })
    }).then(function (response) {
      return response.ok ? response.json() : [];
    }).then(function (replies) {
      if (!Array.isArray(replies) || replies.length === 0) { return; }
      replies.forEach(function (r) { if (r.text) { append({ who: "bot", text: String(r.text) }); } });
      save();
    }).catch(function () { /* offline for a moment: ask again later */ });
  }

  loadLanguages().then(function () {
    applyLanguage();
    if (state.log.length === 0) {
      send("/start", null, false, { language: navigator.language || "en" });
    }
    window.setInterval(fetchKept, KEPT_EVERY_MS);
    document.addEventListener("visibilitychange", fetchKept);
    window.addEventListener("focus", fetchKept);
  });
}());
