// Sign-in with the configured OpenID Connect provider: authorization-code flow with PKCE (S256), as a
// public client — no client secret exists in the browser. The token the provider returns is sent to the
// API as a bearer token; the server verifies it like any other JWT ([auth.jwt]).

const PENDING = "nova.oidc";

function base64url(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function randomString(n = 32) {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

async function discover(issuer) {
  const res = await fetch(`${issuer.replace(/\/$/, "")}/.well-known/openid-configuration`, { credentials: "omit" });
  if (!res.ok) throw new Error(`the provider's discovery document answered ${res.status}`);
  return res.json();
}

const redirectUri = () => `${location.origin}/ui/`;

// Leaves for the provider's login page.
export async function startSignIn(config) {
  const meta = await discover(config.issuer);
  const verifier = randomString(48);
  const challenge = base64url(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier)));
  const state = randomString(16);
  sessionStorage.setItem(PENDING, JSON.stringify({ verifier, state, token_endpoint: meta.token_endpoint }));
  const params = new URLSearchParams({
    response_type: "code",
    client_id: config.client_id,
    redirect_uri: redirectUri(),
    scope: config.scopes,
    code_challenge: challenge,
    code_challenge_method: "S256",
    state,
  });
  location.assign(`${meta.authorization_endpoint}?${params}`);
}

// On return from the provider (`?code=…&state=…`): the token, or null when this is not a return.
export async function finishSignIn(config) {
  const params = new URLSearchParams(location.search);
  if (!params.has("code") && !params.has("error")) return null;
  history.replaceState(null, "", location.pathname + location.hash);
  const pending = JSON.parse(sessionStorage.getItem(PENDING) || "null");
  sessionStorage.removeItem(PENDING);
  if (params.has("error")) throw new Error(`the provider refused: ${params.get("error_description") || params.get("error")}`);
  if (!pending || pending.state !== params.get("state")) throw new Error("the sign-in response does not match a sign-in started here");
  const res = await fetch(pending.token_endpoint, {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    credentials: "omit",
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: params.get("code"),
      redirect_uri: redirectUri(),
      client_id: config.client_id,
      code_verifier: pending.verifier,
    }),
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok) throw new Error(`the provider's token endpoint answered ${res.status} ${body.error || ""}`);
  const token = body[config.token] || body.access_token;
  if (!token) throw new Error(`the provider returned no ${config.token}`);
  return token;
}
