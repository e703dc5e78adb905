// Administration: knowledge bases (sizes, new, upload by drag and drop), API keys (create — the secret shown
// once —, list, revoke), feedback received, and the ticket router's cross-validated metrics.
import { html, useState, useEffect, useCallback } from "../vendor/preact-htm.js";
import { call, get, post, del, kbPath } from "../api.js";
import { ErrorBox, Loading, Empty } from "../components.js";

const when = (unix) => (unix ? new Date(unix * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC" : "—");

function Upload({ kb, onDone }) {
  const [over, setOver] = useState(false);
  const [state, setState] = useState(null);
  const send = async (files) => {
    if (!files.length) return;
    const form = new FormData();
    for (const f of files) form.append("files", f, f.name);
    setState({ busy: true, names: files.map((f) => f.name) });
    try {
      const { data } = await call(kbPath(kb, "/documents?wait=true"), { method: "POST", form });
      setState({ task: data });
      onDone();
    } catch (err) {
      setState({ error: err });
    }
  };
  return html`<div>
    <label class=${`dropzone ${over ? "over" : ""}`}
      onDragOver=${(e) => { e.preventDefault(); setOver(true); }}
      onDragLeave=${() => setOver(false)}
      onDrop=${(e) => { e.preventDefault(); setOver(false); send([...e.dataTransfer.files]); }}>
      <span>Drop files here to add them to <strong>${kb}</strong> (Markdown, HTML, PDF, text, JSONL, CSV), or choose them</span>
      <input type="file" multiple class="visually-hidden" aria-label=${`Upload files to ${kb}`} onChange=${(e) => send([...e.target.files])} />
    </label>
    ${state?.busy ? html`<${Loading} label=${`Ingesting ${state.names.join(", ")}…`} />` : null}
    ${state?.task ? html`<p role="status" class=${state.task.status === "succeeded" ? "ok" : "warn"}>Upload ${state.task.status}: ${state.task.added ?? 0} added, ${state.task.updated ?? 0} updated, ${state.task.unchanged ?? 0} unchanged${state.task.skipped?.length ? `, ${state.task.skipped.length} skipped (${state.task.skipped.map((s) => s.file || s.name || JSON.stringify(s)).join(", ")})` : ""}${state.task.error ? ` — ${state.task.error}` : ""}.</p>` : null}
    <${ErrorBox} error=${state?.error} />
  </div>`;
}

function KbSection({ me, kbs, reload, selected, setSelected }) {
  const [name, setName] = useState("");
  const [error, setError] = useState(null);
  const create = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      await post("/v1/kbs", { name: name.trim() });
      setName("");
      setSelected(name.trim());
      reload();
    } catch (err) {
      setError(err);
    }
  };
  return html`<section class="card" aria-labelledby="kbs-h">
    <h2 id="kbs-h">Knowledge bases</h2>
    ${kbs.length ? html`<table>
      <thead><tr><th scope="col">Name</th><th scope="col" class="num">Documents</th><th scope="col" class="num">Chunks</th><th scope="col">Model</th><th scope="col">PII redaction</th></tr></thead>
      <tbody>${kbs.map((k) => html`<tr class=${k.name === selected ? "selected" : ""}>
        <td><button type="button" class="link" onClick=${() => setSelected(k.name)} aria-pressed=${k.name === selected}>${k.name}</button></td>
        <td class="num">${k.documents}</td><td class="num">${k.chunks}</td><td>${k.model}</td><td>${k.redact_pii ? "on" : "off"}</td></tr>`)}</tbody>
    </table>` : html`<${Empty}>No knowledge bases yet.</${Empty}>`}
    ${me.admin ? html`<form class="row" onSubmit=${create}>
      <label for="new-kb">New knowledge base</label>
      <input id="new-kb" class="short" value=${name} onInput=${(e) => setName(e.target.value)} pattern="[A-Za-z0-9_\\-]{1,64}" required />
      <button type="submit">Create</button>
    </form>` : null}
    <${ErrorBox} error=${error} />
    ${selected && me.canEdit(selected) ? html`<${Upload} kb=${selected} onDone=${reload} />` : null}
  </section>`;
}

function KeysSection() {
  const [keys, setKeys] = useState(null);
  const [error, setError] = useState(null);
  const [created, setCreated] = useState(null);
  const [form, setForm] = useState({ name: "", role: "reader", kbs: "" });
  const load = useCallback(() => get("/v1/keys").then((d) => setKeys(d.keys), setError), []);
  useEffect(() => { load(); }, []);
  const create = async (e) => {
    e.preventDefault();
    setError(null);
    try {
      const kbs = form.kbs.split(",").map((s) => s.trim()).filter(Boolean);
      setCreated(await post("/v1/keys", { name: form.name.trim(), role: form.role, kbs }));
      setForm({ name: "", role: "reader", kbs: "" });
      load();
    } catch (err) {
      setError(err);
    }
  };
  const revoke = async (name) => {
    if (!confirm(`Revoke key ${name}? Requests with it are refused from now on.`)) return;
    try {
      await del(`/v1/keys/${encodeURIComponent(name)}`);
      load();
    } catch (err) {
      setError(err);
    }
  };
  return html`<section class="card" aria-labelledby="keys-h">
    <h2 id="keys-h">API keys</h2>
    ${created ? html`<div class="secret" role="status">
      <p>Key <strong>${created.info.name}</strong> created. Copy its secret now — it is not shown again:</p>
      <code class="secret-value">${created.key}</code>
      <button type="button" onClick=${() => navigator.clipboard?.writeText(created.key)}>Copy</button>
      <button type="button" class="ghost" onClick=${() => setCreated(null)}>Done</button>
    </div>` : null}
    ${keys === null ? html`<${Loading} />` : keys.length ? html`<table>
      <thead><tr><th scope="col">Name</th><th scope="col">Role</th><th scope="col">Knowledge bases</th><th scope="col">Groups</th><th scope="col">Created</th><th scope="col">Expires</th><th scope="col">Status</th></tr></thead>
      <tbody>${keys.map((k) => html`<tr class=${k.revoked_at ? "muted" : ""}><td>${k.name}</td><td>${k.role}</td><td>${k.kbs.length ? k.kbs.join(", ") : "all"}</td><td>${k.groups.join(", ")}</td>
        <td>${when(k.created_at)}</td><td>${when(k.expires_at)}</td>
        <td>${k.revoked_at
          ? html`revoked ${when(k.revoked_at)}`
          : html`<button type="button" class="danger" onClick=${() => revoke(k.name)} aria-label=${`Revoke ${k.name}`}>Revoke</button>`}</td></tr>`)}</tbody>
    </table>` : html`<${Empty}>No keys.</${Empty}>`}
    <form class="row" onSubmit=${create}>
      <label for="key-name">Name</label>
      <input id="key-name" class="short" value=${form.name} onInput=${(e) => setForm({ ...form, name: e.target.value })} required />
      <label for="key-role">Role</label>
      <select id="key-role" value=${form.role} onChange=${(e) => setForm({ ...form, role: e.target.value })}>
        ${["reader", "editor", "admin", "metrics"].map((r) => html`<option value=${r}>${r}</option>`)}
      </select>
      <label for="key-kbs">Knowledge bases</label>
      <input id="key-kbs" class="short" placeholder="all" value=${form.kbs} onInput=${(e) => setForm({ ...form, kbs: e.target.value })} />
      <button type="submit">Create key</button>
    </form>
    <${ErrorBox} error=${error} />
  </section>`;
}

function FeedbackSection({ kb }) {
  const [records, setRecords] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setRecords(null);
    setError(null);
    if (kb) get(kbPath(kb, "/feedback?limit=200")).then((d) => setRecords(d.feedback), setError);
  }, [kb]);
  if (!kb) return null;
  // Per document: how often it helped, did not, or resolved the problem.
  const tally = new Map();
  for (const r of records || []) {
    const t = tally.get(r.doc_id) || { helpful: 0, not_helpful: 0, resolved: 0 };
    t[r.rating] += 1;
    tally.set(r.doc_id, t);
  }
  return html`<section class="card" aria-labelledby="fb-h">
    <h2 id="fb-h">Feedback on ${kb}</h2>
    <${ErrorBox} error=${error} />
    ${records === null && !error ? html`<${Loading} />` : null}
    ${records && !records.length ? html`<${Empty}>No feedback yet.</${Empty}>` : null}
    ${records && records.length ? html`
      <table><caption>By document</caption>
        <thead><tr><th scope="col">Document</th><th scope="col" class="num">Helpful</th><th scope="col" class="num">Not helpful</th><th scope="col" class="num">Resolved</th></tr></thead>
        <tbody>${[...tally].map(([doc, t]) => html`<tr><td>${doc}</td><td class="num">${t.helpful}</td><td class="num">${t.not_helpful}</td><td class="num">${t.resolved}</td></tr>`)}</tbody>
      </table>
      <table><caption>Latest</caption>
        <thead><tr><th scope="col">When</th><th scope="col">Query</th><th scope="col">Document</th><th scope="col">Rating</th></tr></thead>
        <tbody>${records.slice(0, 50).map((r) => html`<tr><td>${when(r.at)}</td><td>${r.query}</td><td>${r.doc_id}</td><td>${r.rating.replace("_", " ")}</td></tr>`)}</tbody>
      </table>` : null}
  </section>`;
}

// Knowledge gaps from the server's report: questions that found nothing, matched poorly, had their answer
// refused or were rated not helpful, grouped by meaning and ranked by how often they were asked — what to write next.
function GapsSection({ kb }) {
  const [gaps, setGaps] = useState(null);
  const [error, setError] = useState(null);
  useEffect(() => {
    setGaps(null);
    setError(null);
    if (kb) get(kbPath(kb, "/analytics/gaps?days=30")).then((d) => setGaps(d.gaps), setError);
  }, [kb]);
  if (!kb) return null;
  return html`<section class="card" aria-labelledby="gaps-h">
    <h2 id="gaps-h">Knowledge gaps in ${kb}</h2>
    <${ErrorBox} error=${error} />
    ${gaps === null && !error ? html`<${Loading} />` : null}
    ${gaps && !gaps.length ? html`<p class="muted">No knowledge gaps in the last 30 days: every question found a good match and no result was rated not helpful.</p>` : null}
    ${gaps && gaps.length ? html`<table><caption>Knowledge gaps: questions answered badly, most asked first</caption>
      <thead><tr><th scope="col">Questions</th><th scope="col" class="num">Asked</th><th scope="col" class="num">Found nothing</th><th scope="col" class="num">Poor match</th><th scope="col" class="num">Answer refused</th><th scope="col" class="num">Not helpful</th><th scope="col">Last asked</th></tr></thead>
      <tbody>${gaps.map((g) => html`<tr><td>${g.examples.map((q, i) => html`${i ? html`<br />` : null}${q}`)}</td><td class="num">${g.volume}</td><td class="num">${g.no_results}</td><td class="num">${g.low_score}</td><td class="num">${g.refused}</td><td class="num">${g.not_helpful}</td><td>${when(g.last_seen)}</td></tr>`)}</tbody>
    </table>` : null}
  </section>`;
}

// The confusion matrix as a heat map: each row shaded by its share of the true label.
function Confusion({ classes, matrix }) {
  return html`<table class="heat"><caption>Confusion (rows: true queue, columns: predicted)</caption>
    <thead><tr><th scope="col"><span class="visually-hidden">True queue</span></th>${classes.map((c) => html`<th scope="col">${c}</th>`)}</tr></thead>
    <tbody>${matrix.map((row, i) => {
      const total = row.reduce((a, b) => a + b, 0) || 1;
      return html`<tr><th scope="row">${classes[i]}</th>${row.map((n, j) => html`<td class=${i === j ? "diag" : ""} style=${{ "--share": (n / total).toFixed(3) }} title=${`${classes[i]} → ${classes[j]}: ${n}`}>${n}</td>`)}</tr>`;
    })}</tbody></table>`;
}

function RouterSection({ kb }) {
  const [label, setLabel] = useState("category");
  const [info, setInfo] = useState(null);
  const [error, setError] = useState(null);
  const load = (e) => {
    e?.preventDefault();
    setInfo(null);
    setError(null);
    if (kb) get(kbPath(kb, `/tickets/router?label=${encodeURIComponent(label)}`)).then(setInfo, setError);
  };
  useEffect(() => { load(); }, [kb]);
  if (!kb) return null;
  const chosen = info && (info.cv.find((m) => m.method === info.router.algorithm) || info.cv[0]);
  return html`<section class="card" aria-labelledby="router-h">
    <h2 id="router-h">Ticket router of ${kb}</h2>
    <form class="row" onSubmit=${load}>
      <label for="router-label">Label field</label>
      <input id="router-label" class="short" value=${label} onInput=${(e) => setLabel(e.target.value)} />
      <button type="submit">Show</button>
    </form>
    <${ErrorBox} error=${error} />
    ${info ? html`<p>Version ${info.router.version}, ${info.router.algorithm}, trained ${when(info.router.trained_at)} on ${info.router.examples} tickets; needs-human threshold ${(info.router.threshold * 100).toFixed(0)} %.</p>
      ${chosen ? html`<p>Cross-validated: accuracy <strong>${(chosen.report.accuracy * 100).toFixed(1)} %</strong>, macro-F1 <strong>${chosen.report.macro_f1.toFixed(3)}</strong>, calibration error ${chosen.report.ece.toFixed(3)} (${chosen.report.n} tickets).</p>
        <${Confusion} classes=${info.classes} matrix=${chosen.report.confusion} />` : null}` : null}
  </section>`;
}

export function AdminPage({ me, kb }) {
  const [kbs, setKbs] = useState(null);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(kb);
  const reload = useCallback(() => get("/v1/kbs").then((d) => setKbs(d.kbs), setError), []);
  useEffect(() => { reload(); }, []);
  if (!me.editor) {
    return html`<div class="page narrow"><h1>Administration</h1><div class="error" role="alert">Your role (${me.summary}) does not include administration.</div></div>`;
  }
  return html`<div class="page">
    <h1>Administration</h1>
    <${ErrorBox} error=${error} />
    ${kbs === null && !error ? html`<${Loading} />` : null}
    ${kbs ? html`<${KbSection} me=${me} kbs=${kbs} reload=${reload} selected=${selected} setSelected=${setSelected} />` : null}
    ${me.admin ? html`<${KeysSection} />` : null}
    ${selected && me.canEdit(selected) ? html`<${FeedbackSection} kb=${selected} />` : null}
    ${selected && me.canEdit(selected) ? html`<${GapsSection} kb=${selected} />` : null}
    <${RouterSection} kb=${selected} />
  </div>`;
}
