// The livevoice panel: drives the daemon that served this page over its control
// websocket (docs/protocol.md), with the same login as any client. The secret comes
// from this page's URL fragment (#secret=..., which browsers never send to a
// server) or the login form, and is kept in this origin's localStorage.

import { CloseCodes, RequestError, Session, Subscriptions, canAuthenticate } from "./protocol.js";

const SECRET_KEY = "livevoice.secret";
const FILTER_FILE_KEY = "livevoice.wordFilterFile";
const LATENCY_WINDOW_MS = 60_000;
const TRANSCRIPT_KEEP = 30;
const METER_FLOOR_DBFS = -60;
const PTT_KEY = "Space";
const SUBSCRIPTIONS = Subscriptions.All | Subscriptions.TranscriptPartial | Subscriptions.LevelMeters;

const $ = (id) => document.getElementById(id);

const state = {
  session: null,
  pending: 0,
  retryMs: 500,
  retryTimer: 0,
  voices: [],
  currentVoice: "",
  mode: "",
  pttPressed: false,
  latency: [], // {id, receivedMs, row}
  transcript: new Map(), // utteranceId -> li
  levels: null,
  levelsQueued: false,
  mixBusy: false,
  mixWanted: null,
  morphTimer: 0,
  textOptions: null,
};

// -- secret and connection ------------------------------------------------------

function secretFromFragment() {
  const params = new URLSearchParams(location.hash.slice(1));
  const secret = params.get("secret");
  if (secret !== null) {
    history.replaceState(null, "", location.pathname + location.search);
    return secret.trim();
  }
  return null;
}

function storedSecret() {
  try {
    return localStorage.getItem(SECRET_KEY) || "";
  } catch {
    return "";
  }
}

function storeSecret(secret) {
  try {
    if (secret) localStorage.setItem(SECRET_KEY, secret);
    else localStorage.removeItem(SECRET_KEY);
  } catch {
    // storage disabled: the secret lives as long as the page
  }
}

function setConnection(text, kind) {
  const pill = $("connection");
  pill.textContent = text;
  pill.dataset.state = kind;
}

function showLogin(message) {
  $("login").hidden = false;
  $("panel").hidden = true;
  $("login-message").textContent = message || "";
  $("secret").value = "";
  $("secret").focus();
}

function socketUrl() {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  return `${scheme}//${location.host}/`;
}

function connect(secret) {
  clearTimeout(state.retryTimer);
  if (!canAuthenticate()) {
    setConnection("cannot log in", "failed");
    showLogin(
      "This browser only allows the login's cryptography on http://127.0.0.1, http://localhost or https. " +
        "Open the panel at one of those addresses.",
    );
    return;
  }
  setConnection("connecting…", "connecting");
  const session = new Session(socketUrl(), secret, {
    subscriptions: SUBSCRIPTIONS,
    onEvent: onEvent,
    onClose: (info) => onClosed(session, secret, info),
  });
  state.session = session;
  session.open().then(
    () => onIdentified(session),
    () => {}, // onClose explains
  );
}

function onClosed(session, secret, info) {
  if (state.session !== session) return;
  state.session = null;
  if (info.code === CloseCodes.AuthenticationFailed) {
    storeSecret("");
    setConnection("wrong secret", "failed");
    showLogin(
      "The daemon did not accept this secret (authentication failed). Run `livevoice panel` on its machine " +
        "for the right link, or paste the secret from its secret file.",
    );
    return;
  }
  if (info.code === CloseCodes.UnsupportedRpcVersion) {
    setConnection("incompatible", "failed");
    showLogin(`This panel does not speak the daemon's protocol version: ${info.reason}`);
    return;
  }
  const why = info.reason ? `: ${info.reason}` : "";
  setConnection(`disconnected${why}; retrying`, "failed");
  state.retryTimer = setTimeout(() => connect(secret), state.retryMs);
  state.retryMs = Math.min(state.retryMs * 2, 10_000);
}

async function onIdentified(session) {
  state.retryMs = 500;
  setConnection("connected", "connected");
  $("login").hidden = true;
  $("panel").hidden = false;
  try {
    const [status, voices, options] = await Promise.all([
      session.request("GetStatus"),
      session.request("ListVoices"),
      session.request("GetTextOptions"),
    ]);
    applyStatus(status);
    applyVoices(voices);
    applyTextOptions(options);
    document.body.dataset.ready = "true";
  } catch (error) {
    notify(error);
  }
}

// Every request goes through here; <body data-pending> counts those not answered yet.
async function call(requestType, requestData) {
  if (!state.session) throw new Error("not connected to the daemon");
  state.pending += 1;
  document.body.dataset.pending = String(state.pending);
  try {
    return await state.session.request(requestType, requestData);
  } finally {
    state.pending -= 1;
    document.body.dataset.pending = String(state.pending);
  }
}

function notify(error, good) {
  const notice = $("notice");
  if (error instanceof RequestError && error.code === 207) {
    notice.textContent = `${error.requestType}: needs the audio loop; this daemon runs with --control-only.`;
  } else {
    notice.textContent = error instanceof Error ? error.message : String(error);
  }
  notice.classList.toggle("bad", !good);
}

// -- events ---------------------------------------------------------------------

function onEvent(type, data) {
  switch (type) {
    case "VoiceChanged":
      setCurrentVoice(data.voice);
      if (data.morph) watchMorph();
      break;
    case "ModeChanged":
      setMode(data.mode);
      break;
    case "SpeechStarted":
      $("speech").hidden = false;
      break;
    case "SpeechEnded":
      $("speech").hidden = true;
      break;
    case "TranscriptPartial":
      showPartial(data);
      break;
    case "TranscriptFinal":
      showFinal(data);
      break;
    case "UtteranceLatency":
      addLatency(data);
      break;
    case "LevelMeters":
      state.levels = data;
      if (!state.levelsQueued) {
        state.levelsQueued = true;
        requestAnimationFrame(drawLevels);
      }
      break;
    case "DeviceLost":
      banner(
        `device-lost-${data.role}`,
        "error",
        `Lost the ${data.role} device “${data.device}”: ${data.reason}. livevoice keeps trying to reopen it.`,
        false,
        { role: data.role },
      );
      break;
    case "DeviceRestored":
      removeBanner(`device-lost-${data.role}`);
      notify(`The ${data.role} device “${data.device}” works again.`, true);
      break;
    case "Error":
      banner(`error-${data.source}`, "error", `Error in ${data.source}: ${data.message}`, true);
      break;
    case "RealTimeWarning": {
      const factor = Number(data.realTimeFactor);
      const how = Number.isFinite(factor) ? ` (speech takes ${factor.toFixed(2)}× as long to make as to say)` : "";
      banner("real-time", "warning", `This machine cannot speak in real time${how}. ${data.message || ""}`, true);
      break;
    }
    default:
      break;
  }
}

function banner(key, kind, text, dismissable, extra) {
  let element = document.querySelector(`.banner[data-key="${key}"]`);
  if (!element) {
    element = document.createElement("div");
    element.className = `banner ${kind}`;
    element.dataset.key = key;
    element.append(document.createElement("p"));
    if (dismissable) {
      const close = document.createElement("button");
      close.type = "button";
      close.textContent = "×";
      close.title = "dismiss";
      close.setAttribute("aria-label", "dismiss");
      close.addEventListener("click", () => element.remove());
      element.append(close);
    }
    $("banners").append(element);
  }
  Object.assign(element.dataset, extra || {});
  element.querySelector("p").textContent = text;
}

function removeBanner(key) {
  const element = document.querySelector(`.banner[data-key="${key}"]`);
  if (element) element.remove();
}

// -- status, mode, push to talk ------------------------------------------------

function applyStatus(status) {
  setMode(status.mode);
  setCurrentVoice(status.voice);
  $("audio-off").hidden = status.audioAvailable !== false;
  $("ptt-enabled").checked = Boolean(status.pushToTalkEnabled);
  $("speech").hidden = !status.speechActive;
}

function setMode(mode) {
  state.mode = mode;
  for (const button of document.querySelectorAll("[data-mode]")) {
    button.setAttribute("aria-pressed", String(button.dataset.mode === mode));
  }
}

function setPushToTalk(pressed) {
  if (state.pttPressed === pressed) return;
  state.pttPressed = pressed;
  $("ptt").setAttribute("aria-pressed", String(pressed));
  call("SetPushToTalk", { pressed }).catch(notify);
}

// Space is push-to-talk everywhere but where it types (buttons and check boxes do not get it).
function isTyping(target) {
  if (!(target instanceof HTMLElement)) return false;
  if (target.isContentEditable || target.matches("textarea, select")) return true;
  return target.matches("input") && !["checkbox", "radio", "range", "button", "submit"].includes(target.type);
}

function wireControls() {
  for (const button of document.querySelectorAll("[data-mode]")) {
    button.addEventListener("click", () => call("SetMode", { mode: button.dataset.mode }).catch(notify));
  }
  const ptt = $("ptt");
  ptt.addEventListener("pointerdown", (event) => {
    ptt.setPointerCapture(event.pointerId);
    setPushToTalk(true);
  });
  for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) {
    ptt.addEventListener(name, () => setPushToTalk(false));
  }
  $("ptt-enabled").addEventListener("change", (event) => {
    call("SetPushToTalk", { pressed: state.pttPressed, enabled: event.target.checked }).catch(notify);
  });
  document.addEventListener("keydown", (event) => {
    if (event.code !== PTT_KEY || isTyping(event.target)) return;
    event.preventDefault();
    if (!event.repeat) setPushToTalk(true);
  });
  document.addEventListener("keyup", (event) => {
    if (event.code !== PTT_KEY || isTyping(event.target)) return;
    event.preventDefault();
    setPushToTalk(false);
  });
  window.addEventListener("blur", () => setPushToTalk(false));

  $("voice-search").addEventListener("input", renderVoices);
  $("morph-slider").addEventListener("input", mixFromSlider);
  $("morph-a").addEventListener("change", mixLabel);
  $("morph-b").addEventListener("change", mixLabel);
  $("morph-to-a").addEventListener("click", () => morphTo($("morph-a").value, 0));
  $("morph-to-b").addEventListener("click", () => morphTo($("morph-b").value, 100));

  $("speak-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("speak-text");
    const text = input.value.trim();
    if (!text) return;
    call("Speak", { text }).then(
      (answer) => {
        input.value = "";
        notify(`Speaking “${text}” (utterance ${answer.utteranceId}).`, true);
      },
      notify,
    );
  });
  $("stop-speaking").addEventListener("click", () => call("StopSpeaking").catch(notify));

  $("clean-disfluencies").addEventListener("change", (event) =>
    setTextOptions({ cleanDisfluencies: event.target.checked }),
  );
  $("word-filter").addEventListener("change", (event) => {
    const file = $("filter-file").value.trim();
    if (event.target.checked && !file) {
      event.target.checked = false;
      notify("Give the word list file (a path on the daemon's machine) first.");
      return;
    }
    setTextOptions({ wordFilterFile: event.target.checked ? file : "" });
  });
  $("filter-file").addEventListener("change", () => {
    if ($("word-filter").checked) setTextOptions({ wordFilterFile: $("filter-file").value.trim() });
  });
  $("filter-action").addEventListener("change", (event) => setTextOptions({ filterAction: event.target.value }));

  $("login-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const secret = $("secret").value.trim();
    if (!secret) return;
    storeSecret(secret);
    $("login-message").textContent = "";
    connect(secret);
  });
  $("forget").addEventListener("click", () => {
    storeSecret("");
    const session = state.session;
    state.session = null;
    if (session) session.close();
    clearTimeout(state.retryTimer);
    setConnection("not connected", "failed");
    showLogin("The secret was removed from this browser.");
  });
}

// -- voices ---------------------------------------------------------------------

function applyVoices(list) {
  state.voices = list.voices || [];
  renderVoices();
  for (const [id, fallback] of [
    ["morph-a", 0],
    ["morph-b", 1],
  ]) {
    const select = $(id);
    const keep = select.value;
    select.replaceChildren(
      ...state.voices.map((voice) => new Option(voice.name, voice.name, false, voice.name === keep)),
    );
    if (!keep && state.voices.length) select.selectedIndex = Math.min(fallback, state.voices.length - 1);
  }
  mixLabel();
}

function setCurrentVoice(name) {
  state.currentVoice = name || "";
  $("current-voice").textContent = state.currentVoice || "–";
  for (const button of document.querySelectorAll("#voice-list button")) {
    button.setAttribute("aria-current", String(button.dataset.voice === state.currentVoice));
  }
}

function renderVoices() {
  const query = $("voice-search").value.trim().toLowerCase();
  const shown = state.voices.filter((voice) => voice.name.toLowerCase().includes(query));
  $("voice-list").replaceChildren(
    ...shown.map((voice) => {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.dataset.voice = voice.name;
      button.textContent = voice.name;
      button.title = [voice.note, voice.source, `${voice.dim} values`].filter(Boolean).join(" · ");
      button.setAttribute("aria-current", String(voice.name === state.currentVoice));
      button.addEventListener("click", () => call("SetVoice", { voice: voice.name }).catch(notify));
      item.append(button);
      return item;
    }),
  );
  $("voice-empty").hidden = shown.length > 0 || state.voices.length === 0;
}

// -- mix and morph ----------------------------------------------------------------

function mixLabel() {
  const share = Number($("morph-slider").value);
  const a = $("morph-a").value || "A";
  const b = $("morph-b").value || "B";
  $("mix-weights").textContent =
    share === 0 ? `100% ${a}` : share === 100 ? `100% ${b}` : `${100 - share}% ${a} + ${share}% ${b}`;
}

function mixFromSlider() {
  mixLabel();
  state.mixWanted = Number($("morph-slider").value);
  sendMix();
}

// Latest value wins: one MixVoices in flight; the slider's last position follows.
function sendMix() {
  if (state.mixBusy || state.mixWanted === null) return;
  const share = state.mixWanted / 100;
  state.mixWanted = null;
  const a = $("morph-a").value;
  const b = $("morph-b").value;
  if (!a || !b) return;
  const request =
    a === b || share === 0
      ? call("SetVoice", { voice: a })
      : share === 1
        ? call("SetVoice", { voice: b })
        : call("MixVoices", { weights: { [a]: 1 - share, [b]: share } });
  state.mixBusy = true;
  request.catch(notify).finally(() => {
    state.mixBusy = false;
    sendMix();
  });
}

function morphTo(voice, sliderEnd) {
  if (!voice) return;
  const seconds = Math.max(0, Math.min(600, Number($("morph-seconds").value) || 0));
  const curve = $("morph-curve").value;
  call("MorphVoice", { to: voice, durationMs: Math.round(seconds * 1000), curve }).then(() => {
    $("morph-slider").value = String(sliderEnd);
    mixLabel();
    watchMorph();
  }, notify);
}

// While a morph runs, show its progress (GetCurrentVoice, four times a second).
function watchMorph() {
  clearTimeout(state.morphTimer);
  const progress = $("morph-progress");
  call("GetCurrentVoice").then(
    (current) => {
      if (current.morph) {
        progress.hidden = false;
        progress.value = current.morph.progress;
        state.morphTimer = setTimeout(watchMorph, 250);
      } else {
        progress.hidden = true;
      }
    },
    () => {
      progress.hidden = true;
    },
  );
}

// -- transcript -------------------------------------------------------------------

function transcriptItem(utteranceId) {
  let item = state.transcript.get(utteranceId);
  if (!item) {
    item = document.createElement("li");
    item.dataset.utterance = String(utteranceId);
    state.transcript.set(utteranceId, item);
    $("transcript-list").prepend(item);
    while (state.transcript.size > TRANSCRIPT_KEEP) {
      const [oldest] = state.transcript.keys();
      state.transcript.get(oldest).remove();
      state.transcript.delete(oldest);
    }
  }
  return item;
}

function showPartial(data) {
  const item = transcriptItem(data.utteranceId);
  if (item.classList.contains("final")) return;
  const committed = document.createElement("span");
  committed.className = "committed";
  committed.textContent = data.committedText;
  const tentative = document.createElement("span");
  tentative.className = "tentative";
  tentative.textContent = data.tentativeText ? ` ${data.tentativeText}` : "";
  item.replaceChildren(committed, tentative);
}

function showFinal(data) {
  const item = transcriptItem(data.utteranceId);
  item.classList.add("final");
  item.textContent = data.text;
}

// -- latency ----------------------------------------------------------------------

// Segments of one utterance in ms: speech end -> text ready -> TTS first audio ->
// first sample out. A boundary reached before the one before it (a phrase spoken
// while you still talk) counts as zero; a segment whose stamps are missing (typed
// text has no speech end) is left out.
function latencySegments(stamps) {
  const order = ["speechEnd", "textReady", "ttsFirstAudio", "firstSampleOut"];
  const names = ["asr", "tts", "out"];
  const segments = [];
  let last;
  for (let i = 0; i < order.length; i++) {
    const at = stamps[order[i]];
    if (i > 0) {
      const known = at !== undefined && last !== undefined;
      segments.push({ name: names[i - 1], ms: known ? Math.max(0, at - last) / 1e6 : null });
    }
    if (at !== undefined) last = last === undefined ? at : Math.max(last, at);
  }
  return segments;
}

function addLatency(data) {
  const segments = latencySegments(data.stampsNs || {});
  const total = segments.reduce((sum, s) => sum + (s.ms || 0), 0);
  const row = document.createElement("div");
  row.className = "latency-row";
  row.dataset.utterance = String(data.utteranceId);
  const id = document.createElement("span");
  id.className = "id";
  const typed = data.stampsNs && data.stampsNs.speechEnd === undefined;
  id.textContent = typed ? "typed" : `#${data.utteranceId}`;
  const bar = document.createElement("div");
  bar.className = "bar";
  for (const segment of segments) {
    const part = document.createElement("div");
    part.className = segment.name;
    part.dataset.ms = segment.ms === null ? "" : segment.ms.toFixed(1);
    part.title = `${segment.name}: ${segment.ms === null ? "not reached" : `${segment.ms.toFixed(0)} ms`}`;
    bar.append(part);
  }
  const label = document.createElement("span");
  label.className = "total";
  label.textContent = `${total.toFixed(0)} ms`;
  row.title =
    `utterance ${data.utteranceId}: mouth-to-ear ${fmtMs(data.mouthToEarMs)}, ` +
    `output first packet ${fmtMs(data.outputFirstPacketMs)}, TTS first packet ${fmtMs(data.ttsFirstPacketMs)}`;
  row.append(id, bar, label);
  state.latency.push({ id: data.utteranceId, receivedMs: performance.now(), row, total });
  $("latency-bars").append(row);
  drawLatency();
}

function fmtMs(value) {
  return typeof value === "number" ? `${value.toFixed(0)} ms` : "–";
}

function drawLatency() {
  const now = performance.now();
  while (state.latency.length && now - state.latency[0].receivedMs > LATENCY_WINDOW_MS) {
    state.latency.shift().row.remove();
  }
  const scale = Math.max(1, ...state.latency.map((entry) => entry.total));
  for (const entry of state.latency) {
    for (const part of entry.row.querySelectorAll(".bar > div")) {
      const ms = part.dataset.ms === "" ? 0 : Number(part.dataset.ms);
      part.style.width = `${(100 * ms) / scale}%`;
    }
  }
  $("latency-empty").hidden = state.latency.length > 0;
}

// -- levels -----------------------------------------------------------------------

function meterPercent(dbfs) {
  return Math.max(0, Math.min(100, (100 * (dbfs - METER_FLOOR_DBFS)) / -METER_FLOOR_DBFS));
}

function drawLevels() {
  state.levelsQueued = false;
  const levels = state.levels;
  if (!levels) return;
  for (const side of ["in", "out"]) {
    const peak = levels[`${side}putPeakDbfs`];
    const rms = levels[`${side}putRmsDbfs`];
    $(`meter-${side}-rms`).style.width = `${meterPercent(rms)}%`;
    $(`meter-${side}-peak`).style.left = `calc(${meterPercent(peak)}% - 2px)`;
    $(`meter-${side}-db`).textContent = peak <= -120 ? "silent" : `${peak.toFixed(0)} dB`;
  }
}

// -- text stage -------------------------------------------------------------------

function applyTextOptions(options) {
  state.textOptions = options;
  $("clean-disfluencies").checked = Boolean(options.cleanDisfluencies);
  $("word-filter").checked = Boolean(options.wordFilterFile);
  $("filter-action").value = options.filterAction;
  let remembered = "";
  try {
    if (options.wordFilterFile) localStorage.setItem(FILTER_FILE_KEY, options.wordFilterFile);
    remembered = localStorage.getItem(FILTER_FILE_KEY) || "";
  } catch {
    remembered = options.wordFilterFile || "";
  }
  if (options.wordFilterFile || !$("filter-file").value) $("filter-file").value = options.wordFilterFile || remembered;
}

function setTextOptions(changes) {
  call("SetTextOptions", changes).then(
    (options) => {
      applyTextOptions(options);
      notify("Text settings changed.", true);
    },
    (error) => {
      if (state.textOptions) applyTextOptions(state.textOptions);
      notify(error);
    },
  );
}

// -- start ------------------------------------------------------------------------

function start() {
  wireControls();
  setInterval(drawLatency, 1000);
  const fromFragment = secretFromFragment();
  if (fromFragment) storeSecret(fromFragment);
  const secret = fromFragment || storedSecret();
  if (secret) connect(secret);
  else {
    setConnection("not connected", "failed");
    showLogin("");
  }
}

start();
