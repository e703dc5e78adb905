// A minimal OpenID Connect provider on 127.0.0.1 for the console's sign-in test: discovery, a JWKS with
// one Ed25519 key, an authorization endpoint that signs "alice" in at once (no login form), and a token
// endpoint that checks the PKCE verifier against the challenge (S256), the redirect URI and the client id,
// as a real provider does — so a console that got PKCE wrong fails the test. Prints `idp listening on
// http://127.0.0.1:<port>` and serves until killed.
import { createServer } from "node:http";
import { generateKeyPairSync, createHash, sign, randomBytes } from "node:crypto";

const CLIENT_ID = process.env.IDP_CLIENT_ID || "kb-nova-console";
const AUDIENCE = process.env.IDP_AUDIENCE || "kb-nova";
const { publicKey, privateKey } = generateKeyPairSync("ed25519");
const jwk = { ...publicKey.export({ format: "jwk" }), kid: "idp-test-1", alg: "EdDSA", use: "sig" };
const codes = new Map(); // code → { challenge, redirect_uri, client_id }
let issuer = "";

const b64url = (buf) => Buffer.from(buf).toString("base64").replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

function jwt(claims) {
  const head = b64url(JSON.stringify({ alg: "EdDSA", typ: "JWT", kid: jwk.kid }));
  const body = b64url(JSON.stringify(claims));
  return `${head}.${body}.${b64url(sign(null, Buffer.from(`${head}.${body}`), privateKey))}`;
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { "content-type": "application/json", "access-control-allow-origin": "*", ...headers });
  res.end(JSON.stringify(body));
}

const server = createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  if (req.method === "OPTIONS") {
    res.writeHead(204, { "access-control-allow-origin": "*", "access-control-allow-headers": "content-type", "access-control-allow-methods": "GET, POST" });
    return res.end();
  }
  if (url.pathname === "/.well-known/openid-configuration") {
    return send(res, 200, {
      issuer,
      authorization_endpoint: `${issuer}/authorize`,
      token_endpoint: `${issuer}/token`,
      jwks_uri: `${issuer}/jwks`,
      code_challenge_methods_supported: ["S256"],
    });
  }
  if (url.pathname === "/jwks") return send(res, 200, { keys: [jwk] });
  if (url.pathname === "/authorize") {
    const q = url.searchParams;
    if (q.get("client_id") !== CLIENT_ID || q.get("response_type") !== "code" || q.get("code_challenge_method") !== "S256" || !q.get("code_challenge")) {
      return send(res, 400, { error: "invalid_request", error_description: "client_id, response_type=code and an S256 code_challenge are required" });
    }
    const code = b64url(randomBytes(24));
    codes.set(code, { challenge: q.get("code_challenge"), redirect_uri: q.get("redirect_uri"), client_id: q.get("client_id") });
    const back = new URL(q.get("redirect_uri"));
    back.searchParams.set("code", code);
    back.searchParams.set("state", q.get("state") || "");
    res.writeHead(302, { location: back.toString() });
    return res.end();
  }
  if (url.pathname === "/token" && req.method === "POST") {
    let raw = "";
    for await (const chunk of req) raw += chunk;
    const form = new URLSearchParams(raw);
    const pending = codes.get(form.get("code"));
    codes.delete(form.get("code")); // one use only
    if (!pending) return send(res, 400, { error: "invalid_grant", error_description: "unknown or used code" });
    const challenge = b64url(createHash("sha256").update(form.get("code_verifier") || "").digest());
    if (challenge !== pending.challenge) return send(res, 400, { error: "invalid_grant", error_description: "PKCE verifier does not match the challenge" });
    if (form.get("redirect_uri") !== pending.redirect_uri || form.get("client_id") !== pending.client_id) {
      return send(res, 400, { error: "invalid_grant", error_description: "redirect_uri or client_id differs from the authorization request" });
    }
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: issuer, sub: "alice@idp.test", aud: AUDIENCE, iat: now, nbf: now - 5, exp: now + 600, roles: ["KB.Readers"], groups: [] };
    return send(res, 200, { access_token: jwt(claims), id_token: jwt({ ...claims, aud: CLIENT_ID }), token_type: "Bearer", expires_in: 600 });
  }
  send(res, 404, { error: "not_found" });
});

server.listen(0, "127.0.0.1", () => {
  issuer = `http://127.0.0.1:${server.address().port}`;
  console.log(`idp listening on ${issuer}`);
});
