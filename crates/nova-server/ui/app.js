// The console's shell: sign-in, the caller's roles (pages appear only when the role allows them), the
// knowledge-base picker, and hash routes (#/search, #/ask, #/tickets, #/admin).
import { html, render, useState, useEffect } from "./vendor/preact-htm.js";
import { get, token, setToken, whoAmI, whenSignedOut } from "./api.js";
import { ErrorBox, Loading } from "./components.js";
import { startSignIn, finishSignIn } from "./oidc.js";
import { SearchPage } from "./pages/search.js";
import { AnswerPage } from "./pages/answer.js";
import { TicketsPage } from "./pages/tickets.js";
import { AdminPage } from "./pages/admin.js";

// What the caller may do, from `GET /v1/me`.
function describe(me) {
  const roles = me.grants.map((g) => `${g.role}${g.kbs ? ` of ${g.kbs.join(", ")}` : ""}`);
  return {
    ...me,
    admin: me.grants.some((g) => g.role === "admin" && !g.kbs),
    // Editors (and admins) of at least one KB manage documents: upload, feedback, router.
    editor: me.grants.some((g) => g.role === "admin" || g.role === "editor"),
    canEdit: (kb) => me.grants.some((g) => (g.role === "admin" || g.role === "editor") && (!g.kbs || g.kbs.includes(kb))),
    summary: roles.join("; ") || "no role",
  };
}

function Login({ config, error: initial, onSignedIn }) {
  const [key, setKey] = useState("");
  const [error, setError] = useState(initial);
  const [busy, setBusy] = useState(false);
  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const me = await whoAmI(key.trim());
      setToken(key.trim());
      onSignedIn(me);
    } catch (err) {
      setError(err.status === 401 ? { text: "That key was not accepted: check it, or ask an administrator for a new one.", requestId: err.requestId } : err);
    } finally {
      setBusy(false);
    }
  };
  return html`<main class="login" id="main">
    <h1>KB Nova</h1>
    <p class="muted">Sign in to search, troubleshoot and answer from your knowledge bases.</p>
    <form class="stack card" onSubmit=${submit}>
      <label for="api-key">API key</label>
      <input id="api-key" type="password" autocomplete="off" placeholder="nova_…" value=${key} onInput=${(e) => setKey(e.target.value)} required autofocus />
      <button type="submit" disabled=${busy}>${busy ? "Checking…" : "Sign in"}</button>
      <p class="muted small">The key stays in this tab only (session storage) and is forgotten when you close it.</p>
    </form>
    ${config?.oidc ? html`<button type="button" class="secondary" onClick=${() => startSignIn(config.oidc).catch((e) => setError({ text: `Single sign-on failed: ${e.message}` }))}>Sign in with ${config.oidc.name}</button>` : null}
    <${ErrorBox} error=${error} />
  </main>`;
}

const PAGES = [
  ["search", "Search", SearchPage],
  ["ask", "Ask", AnswerPage],
  ["tickets", "Tickets", TicketsPage],
  ["admin", "Admin", AdminPage],
];

function route() {
  const name = location.hash.replace(/^#\/?/, "") || "search";
  return PAGES.some(([n]) => n === name) ? name : "search";
}

function Shell({ me, onSignOut }) {
  const [page, setPage] = useState(route());
  const [kbs, setKbs] = useState(null);
  const [kb, setKb] = useState(sessionStorage.getItem("nova.kb") || "");
  const [error, setError] = useState(null);
  useEffect(() => {
    const onHash = () => setPage(route());
    window.addEventListener("hashchange", onHash);
    get("/v1/kbs").then((d) => {
      setKbs(d.kbs);
      if (!d.kbs.some((k) => k.name === kb) && d.kbs.length) setKb(d.kbs[0].name);
    }, setError);
    return () => window.removeEventListener("hashchange", onHash);
  }, []);
  useEffect(() => { if (kb) sessionStorage.setItem("nova.kb", kb); }, [kb]);
  const visible = PAGES.filter(([n]) => n !== "admin" || me.editor);
  const Page = PAGES.find(([n]) => n === page)[2];
  return html`<div class="shell">
    <a class="skip" href="#main">Skip to content</a>
    <header class="top">
      <span class="brand">KB Nova</span>
      <nav aria-label="Pages">
        ${visible.map(([n, label]) => html`<a href=${`#/${n}`} aria-current=${n === page ? "page" : null}>${label}</a>`)}
      </nav>
      <div class="who">
        <label class="visually-hidden" for="kb-picker">Knowledge base</label>
        <select id="kb-picker" value=${kb} onChange=${(e) => setKb(e.target.value)} disabled=${!kbs?.length}>
          ${(kbs || []).map((k) => html`<option value=${k.name}>${k.name} (${k.documents} docs)</option>`)}
        </select>
        <span class="subject" title=${me.summary}>${me.subject}</span>
        <button type="button" class="ghost" onClick=${onSignOut}>Sign out</button>
      </div>
    </header>
    <main id="main">
      <${ErrorBox} error=${error} />
      ${kbs === null && !error ? html`<${Loading} />` : html`<${Page} key=${page} kb=${kb} me=${me} />`}
    </main>
  </div>`;
}

function App() {
  const [config, setConfig] = useState(null);
  const [me, setMe] = useState(undefined);
  const [error, setError] = useState(null);
  const signOut = () => {
    setToken(null);
    setMe(null);
  };
  useEffect(() => {
    whenSignedOut((err) => {
      setToken(null);
      setMe(null);
      setError({ text: `Signed out: ${err.message}` });
    });
    (async () => {
      const cfg = await fetch("/ui/config.json", { credentials: "omit" }).then((r) => r.json()).catch(() => ({}));
      setConfig(cfg);
      try {
        const fromProvider = cfg.oidc ? await finishSignIn(cfg.oidc) : null;
        if (fromProvider) setToken(fromProvider);
      } catch (e) {
        setError({ text: `Single sign-on failed: ${e.message}` });
      }
      if (!token()) return setMe(null);
      try {
        setMe(await whoAmI(token()));
      } catch (err) {
        setToken(null);
        setError(err);
        setMe(null);
      }
    })();
  }, []);
  if (me === undefined) return html`<${Loading} />`;
  if (!me) return html`<${Login} config=${config} error=${error} onSignedIn=${(m) => { setError(null); setMe(m); }} />`;
  return html`<${Shell} me=${describe(me)} onSignOut=${signOut} />`;
}

render(html`<${App} />`, document.getElementById("app"));
