// The web console end to end, in headless Chromium against a real `nova serve` (started by ui.rs, which
// passes its address, keys, knowledge base and test OIDC provider in the environment). Every step asserts what a user would see;
// every page is checked with axe-core (no serious or critical violation) and must log no console error.
// Screenshots go to $SCREENSHOTS.
import { createRequire } from "node:module";
import { readFileSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import assert from "node:assert/strict";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (run through crates/nova-cli/tests/ui.rs)`);
  return v;
};
const BASE = env("NOVA_URL");
const ADMIN = env("ADMIN_KEY");
const READER = env("READER_KEY");
const EDITOR = env("EDITOR_KEY");
const KB = env("KB");
const SHOTS = env("SCREENSHOTS");
const UPLOAD = env("UPLOAD_FILE");
const require = createRequire(join(env("UI_TEST_DIR"), "package.json"));
const { chromium } = require("playwright-core");
const AXE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
mkdirSync(SHOTS, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--no-sandbox", "--disable-dev-shm-usage"],
});
const steps = [];
function step(name) {
  steps.push(name);
  console.log(`ui: ${name}`);
}

// A fresh tab (its own session storage) that records console errors and uncaught exceptions.
async function tab(options = {}) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, ...options });
  const page = await context.newPage();
  page.errors = [];
  page.on("console", (m) => {
    if (m.type() === "error") page.errors.push(m.text());
  });
  page.on("pageerror", (e) => page.errors.push(`uncaught: ${e.message}`));
  page.setDefaultTimeout(60_000);
  return page;
}

// No console error except the `expected` ones (a refused key makes the browser log its 401).
function noConsoleErrors(page, expected = []) {
  const left = page.errors.filter((e) => !expected.some((x) => e.includes(x)));
  assert.deepEqual(left, [], `console errors during: ${steps.at(-1)}`);
  page.errors.length = 0;
}

async function axe(page, name) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  const detail = bad.map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join("; ")}`);
  assert.deepEqual(detail, [], `axe-core on ${name}`);
  console.log(`ui: axe-core on ${name}: ${result.violations.length} minor/moderate, 0 serious`);
}

const shot = (page, name) => page.screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true });

async function signIn(page, key) {
  await page.goto(`${BASE}/ui/`);
  await page.fill("#api-key", key);
  await page.keyboard.press("Enter");
}

async function api(path, key, init = {}) {
  const res = await fetch(`${BASE}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, ...(init.headers || {}) } });
  return { status: res.status, body: await res.json().catch(() => null) };
}

async function search(page, query) {
  await page.goto(`${BASE}/ui/#/search`);
  await page.waitForSelector("#q");
  await page.fill("#q", query);
  await page.keyboard.press("Enter");
  await page.waitForSelector("li.result");
  return page.$$eval("li.result", (els) => els.map((e) => e.dataset.doc));
}

try {
  // 1. A wrong key: the login page says so and stays.
  step("an invalid key shows the login error");
  let page = await tab();
  await page.goto(`${BASE}/ui/`);
  await axe(page, "login");
  await shot(page, "login");
  await signIn(page, "nova_notarealkey_0000000000000000");
  await page.waitForSelector("[role=alert]");
  assert.match(await page.textContent("[role=alert]"), /That key was not accepted/);
  assert.equal(await page.isVisible("#api-key"), true);
  await shot(page, "login-error");
  noConsoleErrors(page, ["status of 401"]);

  // 2. A reader: no Admin page in the navigation, the admin route refuses, and so does the API.
  step("a reader key cannot see the admin pages");
  await signIn(page, READER);
  await page.waitForSelector("nav[aria-label=Pages]");
  const nav = await page.$$eval("nav[aria-label=Pages] a", (as) => as.map((a) => a.textContent));
  assert.deepEqual(nav, ["Search", "Ask", "Tickets"]);
  await page.goto(`${BASE}/ui/#/admin`);
  await page.waitForSelector("text=does not include administration");
  assert.equal(await page.$("#keys-h"), null);
  assert.equal((await api("/v1/keys", READER)).status, 403);
  noConsoleErrors(page);
  await page.click("text=Sign out");
  await page.waitForSelector("#api-key");

  // An editor manages documents (upload, feedback) but neither keys nor knowledge bases.
  step("an editor key sees uploads but not keys");
  await signIn(page, EDITOR);
  await page.waitForSelector("nav[aria-label=Pages]");
  await page.goto(`${BASE}/ui/#/admin`);
  await page.waitForSelector("#kbs-h");
  assert.ok(await page.isVisible("input[type=file]"), "the editor can upload");
  assert.equal(await page.$("#keys-h"), null, "no keys section for an editor");
  assert.equal(await page.$("#new-kb"), null, "no new-KB form for an editor");
  await page.waitForSelector("#fb-h");
  noConsoleErrors(page);
  await page.click("text=Sign out");
  await page.waitForSelector("#api-key");

  // 2b. Single sign-on through the OIDC provider ui.rs started (authorization code + PKCE): the provider
  // refuses a wrong verifier, the server verifies the token it issued, and the reader's pages appear.
  if (process.env.IDP_URL) {
    step("single sign-on through the OIDC provider (PKCE)");
    const sso = await tab();
    await sso.goto(`${BASE}/ui/`);
    await sso.click("text=Sign in with Test IdP");
    await sso.waitForSelector("nav[aria-label=Pages]");
    assert.equal(await sso.textContent(".subject"), "jwt:alice@idp.test");
    assert.ok(!sso.url().includes("code="), `the code is left in the address bar: ${sso.url()}`);
    const ssoNav = await sso.$$eval("nav[aria-label=Pages] a", (as) => as.map((a) => a.textContent));
    assert.deepEqual(ssoNav, ["Search", "Ask", "Tickets"]);
    const ssoDocs = await search(sso, "printer shows offline");
    assert.equal(ssoDocs[0], "printer-offline.md");
    noConsoleErrors(sso);
    await sso.context().close();
  }

  // 3. Search, keyboard first: "/" focuses the box, Enter searches; the known document comes first.
  step("search shows the expected document for a known query");
  page = await tab();
  await signIn(page, ADMIN);
  await page.waitForSelector("#q");
  await page.click("h1, body", { position: { x: 5, y: 200 } }).catch(() => {});
  await page.keyboard.press("/");
  assert.equal(await page.evaluate(() => document.activeElement.id), "q");
  await page.keyboard.type("printer shows offline and jobs are stuck in the queue");
  await page.keyboard.press("Enter");
  await page.waitForSelector("li.result");
  const docs = await page.$$eval("li.result", (els) => els.map((e) => e.dataset.doc));
  assert.equal(docs[0], "printer-offline.md", `results: ${docs}`);
  assert.ok(await page.isVisible("li.result mark"), "query terms are highlighted");
  assert.ok((await page.$$("li.result [role=meter]")).length >= 3, "score bars are shown");
  await page.waitForSelector("#steps-h");
  await axe(page, "search");
  await shot(page, "search");

  // 4. Feedback from the page is stored.
  step("feedback is stored");
  await page.click('li.result[data-doc="printer-offline.md"] button:has-text("Helpful")');
  await page.waitForSelector("text=Marked helpful");
  const fb = await api(`/v1/kbs/${KB}/feedback`, ADMIN);
  assert.equal(fb.status, 200);
  assert.ok(
    fb.body.feedback.some((r) => r.doc_id === "printer-offline.md" && r.rating === "helpful" && /printer shows offline/.test(r.query)),
    JSON.stringify(fb.body),
  );
  // A question nothing answers, rated not helpful: the admin page lists it as a knowledge gap.
  const gap = "how do I descale the espresso machine";
  await search(page, gap);
  await page.click('li.result >> nth=0 >> button:has-text("Not helpful")');
  await page.waitForSelector("text=Marked not helpful");
  noConsoleErrors(page);

  // 5. An answer streams (the text grows over several updates) and a citation opens its passage.
  step("an answer streams with a citation that opens the passage");
  await page.goto(`${BASE}/ui/#/ask`);
  await page.waitForSelector("#question");
  await page.evaluate(() => {
    window.__growth = [];
    new MutationObserver(() => {
      const el = document.querySelector(".answer-text");
      if (el) window.__growth.push(el.textContent.length);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await page.fill("#question", "How do I restart the print spooler service?");
  await page.keyboard.press("Enter");
  await page.waitForSelector("#sources-h", { timeout: 300_000 });
  const growth = await page.evaluate(() => [...new Set(window.__growth)]);
  assert.ok(growth.length >= 3, `the answer arrived in ${growth.length} distinct lengths: not streamed`);
  await page.click(".answer-text button.cite");
  await page.waitForSelector("dialog.passage .passage-text");
  const passage = await page.textContent("dialog.passage .passage-text");
  assert.ok(passage.trim().length > 20, "the cited passage has text");
  await axe(page, "answer");
  await shot(page, "answer");
  await page.keyboard.press("Escape");
  noConsoleErrors(page);

  // 6. Tickets: routed with probabilities.
  step("a pasted ticket is routed");
  await page.goto(`${BASE}/ui/#/tickets`);
  await page.fill("#t-subject", "VPN keeps disconnecting");
  await page.fill("#t-body", "My VPN tunnel drops every few minutes when I work from home and SSH sessions die.");
  await page.click("text=Route and suggest");
  await page.waitForSelector("#route-h");
  assert.match(await page.textContent("#route-h"), /network/);
  await axe(page, "tickets");
  await shot(page, "tickets");
  noConsoleErrors(page);

  // 7. Admin: upload a file; it is then found. Keys: create shows the secret once, revoke.
  step("upload adds a document that is then found");
  await page.goto(`${BASE}/ui/#/admin`);
  await page.waitForSelector("#kbs-h");
  await page.setInputFiles(`input[type=file]`, UPLOAD);
  await page.waitForSelector("text=Upload succeeded", { timeout: 300_000 });
  await page.waitForSelector("table.heat");
  // The server's gap report (GET analytics/gaps), not the feedback table, lists it.
  await page.waitForSelector(`section[aria-labelledby="gaps-h"] table`);
  assert.ok(
    await page.isVisible(`section[aria-labelledby="gaps-h"] td:has-text("${gap}")`),
    "the unanswered question is listed as a gap",
  );
  await axe(page, "admin");
  await shot(page, "admin");
  step("a key is created (secret shown once) and revoked");
  const made = `ui-made-${Date.now()}`;
  await page.fill("#key-name", made);
  await page.click("text=Create key");
  await page.waitForSelector(".secret-value");
  const secret = await page.textContent(".secret-value");
  assert.equal((await api("/v1/me", secret.trim())).status, 200);
  page.once("dialog", (d) => d.accept());
  await page.click(`button[aria-label="Revoke ${made}"]`);
  await page.waitForFunction((name) => !document.querySelector(`button[aria-label="Revoke ${name}"]`), made);
  assert.equal((await api("/v1/me", secret.trim())).status, 401);
  noConsoleErrors(page);
  const found = await search(page, "zorblax flux capacitor recalibration");
  assert.equal(found[0], "zorblax.md", `results after upload: ${found}`);
  noConsoleErrors(page);

  // 8. Dark mode follows the system.
  step("dark mode follows the system");
  const dark = await tab({ colorScheme: "dark", viewport: { width: 420, height: 900 } });
  await signIn(dark, ADMIN);
  await dark.waitForSelector("#q");
  const bg = await dark.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(bg, "rgb(20, 23, 28)");
  await search(dark, "disk is full");
  await axe(dark, "search (dark, narrow)");
  await shot(dark, "search-dark-narrow");
  noConsoleErrors(dark);
  console.log(`ui: all ${steps.length} steps passed; screenshots in ${SHOTS}`);
} catch (e) {
  console.error(`ui: FAILED at "${steps.at(-1)}": ${e.stack || e}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}
