// Search and troubleshoot: one box; passages with their score breakdown, suggested steps with citations,
// similar resolved tickets with their answers, and feedback on each result.
import { html, useState, useRef, useEffect } from "../vendor/preact-htm.js";
import { call, kbPath } from "../api.js";
import { ErrorBox, Loading, Empty, Snippet, FeedbackButtons, Provenance, Scores } from "../components.js";

const MODES = [
  ["hybrid", "Hybrid (BM25 + meaning)"],
  ["dense", "Meaning only (dense)"],
  ["bm25", "Words only (BM25)"],
];

function Passage({ hit, kb, query, requestId, maxBm25 }) {
  return html`<li class="card result" data-doc=${hit.doc_id}>
    <div class="result-head">
      <h3>${hit.title || hit.doc_id}</h3>
      <span class="badge">${hit.kind}</span>
    </div>
    <${Provenance} source=${hit.source} headings=${hit.headings} />
    <${Snippet} text=${hit.text} query=${query} />
    <${Scores} hit=${hit} maxBm25=${maxBm25} />
    ${hit.more_chunks ? html`<div class="muted">${hit.more_chunks} more matching passage${hit.more_chunks > 1 ? "s" : ""} in this document</div>` : null}
    <${FeedbackButtons} kb=${kb} query=${query} docId=${hit.doc_id} requestId=${requestId} />
  </li>`;
}

function Steps({ steps }) {
  if (!steps.length) return null;
  return html`<section aria-labelledby="steps-h">
    <h2 id="steps-h">Suggested steps</h2>
    <ol class="steps">
      ${steps.map((s) => html`<li>${s.text} <cite title=${s.source}>${[s.title, ...s.section.filter((h) => h !== s.title)].join(" › ")}</cite></li>`)}
    </ol>
  </section>`;
}

function Tickets({ tickets, kb, query }) {
  if (!tickets.length) return null;
  return html`<section aria-labelledby="tickets-h">
    <h2 id="tickets-h">Similar resolved tickets</h2>
    <ul class="results">
      ${tickets.map((t) => html`<li class="card">
        <div class="result-head"><h3>${t.title || t.doc_id}</h3><span class="badge">${t.doc_id}</span></div>
        <p class="snippet">${t.text.slice(0, 300)}</p>
        ${t.metadata && t.metadata.answer ? html`<div class="answer-box"><strong>Resolution:</strong> ${String(t.metadata.answer)}</div>` : null}
        <${FeedbackButtons} kb=${kb} query=${query} docId=${t.doc_id} />
      </li>`)}
    </ul>
  </section>`;
}

export function SearchPage({ kb }) {
  const [query, setQuery] = useState("");
  const [mode, setMode] = useState("hybrid");
  const [kind, setKind] = useState("");
  const [state, setState] = useState({ status: "idle" });
  const box = useRef(null);

  useEffect(() => {
    // "/" anywhere outside a text field jumps to the search box.
    const onKey = (e) => {
      const typing = /^(INPUT|TEXTAREA|SELECT)$/.test(document.activeElement?.tagName || "");
      if (e.key === "/" && !typing) {
        e.preventDefault();
        box.current?.focus();
      }
    };
    window.addEventListener("keydown", onKey);
    box.current?.focus();
    return () => window.removeEventListener("keydown", onKey);
  }, []);

  const run = async (e) => {
    e.preventDefault();
    const q = query.trim();
    if (!q || !kb) return;
    setState({ status: "loading" });
    const filters = kind ? { kind } : {};
    try {
      const [search, trouble] = await Promise.all([
        call(kbPath(kb, "/search"), { method: "POST", json: { query: q, mode, k: 8, filters } }),
        call(kbPath(kb, "/troubleshoot"), { method: "POST", json: { problem: q, filters } }).catch((err) => ({ error: err })),
      ]);
      setState({ status: "done", query: q, search: search.data, requestId: search.requestId, trouble: trouble.data, troubleError: trouble.error });
    } catch (err) {
      setState({ status: "error", error: err });
    }
  };

  const results = state.search?.results || [];
  const maxBm25 = Math.max(0, ...results.map((h) => h.bm25?.score || 0));
  return html`<div class="page">
    <h1 class="visually-hidden">Search</h1>
    <form class="searchbar" role="search" onSubmit=${run}>
      <label class="visually-hidden" for="q">Describe the problem or search the knowledge base</label>
      <input id="q" ref=${box} type="search" placeholder="Describe the problem… (press / to focus)" value=${query}
        onInput=${(e) => setQuery(e.target.value)} autocomplete="off" />
      <label class="visually-hidden" for="mode">Retrieval mode</label>
      <select id="mode" value=${mode} onChange=${(e) => setMode(e.target.value)}>
        ${MODES.map(([v, l]) => html`<option value=${v}>${l}</option>`)}
      </select>
      <label class="visually-hidden" for="kind">Document kind</label>
      <select id="kind" value=${kind} onChange=${(e) => setKind(e.target.value)}>
        <option value="">All kinds</option>
        <option value="article">Articles</option>
        <option value="ticket">Tickets</option>
      </select>
      <button type="submit" disabled=${!kb}>Search</button>
    </form>
    ${!kb ? html`<${Empty}>No knowledge base is visible to you yet.</${Empty}>` : null}
    ${state.status === "loading" ? html`<${Loading} label="Searching…" />` : null}
    ${state.status === "error" ? html`<${ErrorBox} error=${state.error} />` : null}
    ${state.status === "idle" && kb ? html`<${Empty}>Type a problem in your own words and press Enter.</${Empty}>` : null}
    ${state.status === "done"
      ? html`<div class="columns">
          <section class="main-col" aria-labelledby="passages-h">
            <h2 id="passages-h">Passages <span class="muted">${results.length} in ${state.search.took_ms.toFixed(0)} ms · ${state.search.mode}</span></h2>
            ${results.length
              ? html`<ul class="results">${results.map((h) => html`<${Passage} key=${h.doc_id} hit=${h} kb=${kb} query=${state.query} requestId=${state.requestId} maxBm25=${maxBm25} />`)}</ul>`
              : html`<${Empty}>Nothing matched. Try other words, or another mode.</${Empty}>`}
          </section>
          <aside class="side-col">
            ${state.troubleError ? html`<${ErrorBox} error=${state.troubleError} />` : null}
            ${state.trouble ? html`<${Steps} steps=${state.trouble.steps} />` : null}
            ${state.trouble ? html`<${Tickets} tickets=${state.trouble.similar_tickets} kb=${kb} query=${state.query} />` : null}
            ${state.trouble && !state.trouble.steps.length && !state.trouble.similar_tickets.length ? html`<${Empty}>No suggested steps or similar tickets for this one.</${Empty}>` : null}
          </aside>
        </div>`
      : null}
  </div>`;
}
