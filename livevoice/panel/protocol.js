// The control protocol from a browser: obs-websocket v5 style envelopes, the
// challenge/response login, requests answered by id, events to one callback.
// See docs/protocol.md. No dependencies, no build step.

export const RPC_VERSION = 1;

/** Subscription bits (docs/protocol.md, "Event subscriptions"). */
export const Subscriptions = Object.freeze({
  All: 255,
  TranscriptPartial: 1 << 16,
  LevelMeters: 1 << 17,
});

/** Close codes the panel explains to the user. */
export const CloseCodes = Object.freeze({
  AuthenticationFailed: 4009,
  UnsupportedRpcVersion: 4010,
});

function base64(bytes) {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text);
}

async function sha256Base64(text) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return base64(new Uint8Array(digest));
}

/** The answer to a Hello's challenge: base64(sha256(base64(sha256(secret + salt)) + challenge)). */
export async function authAnswer(secret, salt, challenge) {
  return sha256Base64((await sha256Base64(secret + salt)) + challenge);
}

/** Whether this page may compute the answer (browsers give crypto.subtle to secure contexts only). */
export function canAuthenticate() {
  return Boolean(globalThis.crypto && crypto.subtle);
}

/** A request that the daemon answered with a failure status. */
export class RequestError extends Error {
  constructor(requestType, status) {
    super(`${requestType} failed (${status.code}): ${status.comment || "no comment"}`);
    this.requestType = requestType;
    this.code = status.code;
    this.comment = status.comment || "";
  }
}

/**
 * One session with the daemon.
 *
 * `onEvent(type, data)` gets every event; `onClose({code, reason, identified})` once,
 * when the websocket closes for any reason (a refused handshake arrives as code 1006).
 */
export class Session {
  constructor(url, secret, { subscriptions, onEvent, onClose }) {
    this.url = url;
    this.secret = secret;
    this.subscriptions = subscriptions;
    this.onEvent = onEvent;
    this.onClose = onClose;
    this.identified = false;
    this.nextId = 1;
    this.waiting = new Map();
    this.ws = null;
  }

  /** Open, answer the challenge, identify; resolves once Identified, rejects if closed first. */
  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      this.ws = ws;
      ws.addEventListener("message", (message) => {
        this.receive(message.data, resolve).catch((error) => {
          console.error("livevoice panel:", error);
          ws.close(1000);
        });
      });
      ws.addEventListener("close", (event) => {
        for (const { reject: fail } of this.waiting.values()) fail(new Error("the connection closed"));
        this.waiting.clear();
        const info = { code: event.code, reason: event.reason, identified: this.identified };
        if (!this.identified) reject(Object.assign(new Error("closed before identification"), info));
        this.onClose(info);
      });
    });
  }

  async receive(text, identified) {
    const message = JSON.parse(text);
    const d = message.d || {};
    switch (message.op) {
      case 0: {
        const { challenge, salt } = d.authentication;
        const answer = await authAnswer(this.secret, salt, challenge);
        this.send({
          op: 1,
          d: { rpcVersion: RPC_VERSION, authentication: answer, eventSubscriptions: this.subscriptions },
        });
        break;
      }
      case 2:
        if (!this.identified) {
          this.identified = true;
          identified(d);
        }
        break;
      case 5:
        this.onEvent(d.eventType, d.eventData || {});
        break;
      case 7: {
        const pending = this.waiting.get(d.requestId);
        if (!pending) break;
        this.waiting.delete(d.requestId);
        if (d.requestStatus && d.requestStatus.result) pending.resolve(d.responseData || {});
        else pending.reject(new RequestError(d.requestType, d.requestStatus || { code: 0 }));
        break;
      }
      default:
        break;
    }
  }

  send(message) {
    this.ws.send(JSON.stringify(message));
  }

  /** Send a request; resolves to its responseData, rejects with RequestError. */
  request(requestType, requestData) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN || !this.identified) {
      return Promise.reject(new Error("not connected to the daemon"));
    }
    const requestId = String(this.nextId++);
    const d = { requestType, requestId };
    if (requestData !== undefined) d.requestData = requestData;
    return new Promise((resolve, reject) => {
      this.waiting.set(requestId, { resolve, reject });
      this.send({ op: 6, d });
    });
  }

  close() {
    if (this.ws) this.ws.close(1000);
  }
}
