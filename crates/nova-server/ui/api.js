// The console's only way to the server: the same JSON API every other client uses, with the caller's
// credential (an API key or an OIDC token) kept in this tab's session storage and nowhere else.

const TOKEN = "nova.token";

export function token() {
  return sessionStorage.getItem(TOKEN);
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN, value);
  else sessionStorage.removeItem(TOKEN);
}

// What the user reads for each of the API's stable error codes; the server's own message follows.
const HINTS = {
  unauthenticated: "Not signed in, or the key was not accepted.",
  forbidden: "Your role does not allow this.",
  rate_limited: "Too many requests; wait a moment.",
  quota_exceeded: "This key's daily quota is used up.",
  kb_not_found: "No such knowledge base.",
  kb_exists: "That name is taken.",
  kb_busy: "The knowledge base is busy with another write.",
  key_exists: "That key name is taken.",
  document_not_found: "That document is gone (deleted or replaced).",
  router_not_found: "No ticket router is trained for this knowledge base yet (nova tickets train).",
  not_enough_data: "Not enough data.",
  invalid_input: "The request was not accepted.",
  bad_request: "The request was not accepted.",
  payload_too_large: "That is too large for the server.",
  unsupported_media_type: "That file type is not supported.",
  insufficient_storage: "The server's disk is full: nothing was written.",
  not_ready: "The server is still starting; try again in a few seconds.",
  overloaded: "The server is busy; try again in a moment.",
  timeout: "The server took too long.",
  generator_unavailable: "The answer model is unavailable.",
  network: "No connection.",
};

export class ApiError extends Error {
  constructor(status, code, message, requestId) {
    super(message);
    this.status = status;
    this.code = code;
    this.requestId = requestId;
  }

  // One line for the page: what happened in the user's terms, then the server's precise reason.
  get text() {
    const hint = HINTS[this.code];
    return hint && hint !== this.message ? `${hint} ${this.message}` : this.message;
  }
}

async function failure(res) {
  let code = "http_" + res.status;
  let message = `${res.status} ${res.statusText}`;
  let requestId = res.headers.get("x-request-id");
  try {
    const body = await res.json();
    if (body && body.error) {
      code = body.error.code || code;
      message = body.error.message || message;
      requestId = body.error.request_id || requestId;
    }
  } catch (_) {
    // Not JSON (a proxy's page): the status line is all there is.
  }
  return new ApiError(res.status, code, message, requestId);
}

let onSignedOut = () => {};
// Called when the server refuses the stored credential mid-session (revoked or expired).
export function whenSignedOut(handler) {
  onSignedOut = handler;
}

async function send(path, { method = "GET", json, form, headers = {}, signal } = {}, credential = token()) {
  const h = { ...headers };
  if (credential) h.authorization = `Bearer ${credential}`;
  let body;
  if (json !== undefined) {
    h["content-type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form) {
    body = form;
  }
  let res;
  try {
    res = await fetch(path, { method, headers: h, body, signal, credentials: "omit", cache: "no-store" });
  } catch (e) {
    if (e.name === "AbortError") throw e;
    throw new ApiError(0, "network", `The server could not be reached (${e.message}).`);
  }
  if (!res.ok) {
    const err = await failure(res);
    if (err.status === 401 && credential && credential === token()) onSignedOut(err);
    throw err;
  }
  return res;
}

// JSON in, JSON out; resolves to { data, requestId }.
export async function call(path, options) {
  const res = await send(path, options);
  const data = res.status === 204 ? null : await res.json();
  return { data, requestId: res.headers.get("x-request-id") };
}

export const get = async (path) => (await call(path)).data;
export const post = async (path, json) => (await call(path, { method: "POST", json })).data;
export const del = async (path) => (await call(path, { method: "DELETE" })).data;

// Who a credential belongs to, checked before it is kept.
export async function whoAmI(credential) {
  const res = await send("/v1/me", {}, credential);
  return res.json();
}

export const kbPath = (kb, rest = "") => `/v1/kbs/${encodeURIComponent(kb)}${rest}`;

// POST that answers with Server-Sent Events (fetch, not EventSource, so the credential rides in a header):
// `onEvent(name, data)` for each event; resolves when the stream ends.
export async function stream(path, json, onEvent, signal) {
  let res;
  try {
    res = await send(path, { method: "POST", json, headers: { accept: "text/event-stream" }, signal });
  } catch (e) {
    if (e.name === "AbortError") return;
    throw e;
  }
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  let event = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, nl).replace(/\r$/, "");
      buffer = buffer.slice(nl + 1);
      if (line === "") {
        if (data.length) onEvent(event, data.join("\n"));
        event = "message";
        data = [];
      } else if (line.startsWith("event:")) {
        event = line.slice(6).trim();
      } else if (line.startsWith("data:")) {
        data.push(line.slice(5).replace(/^ /, ""));
      }
    }
  }
}
