// A new ticket: the queue it routes to with calibrated probabilities (or "needs a human"), and what
// solved similar tickets before.
import { html, useState } from "../vendor/preact-htm.js";
import { post, kbPath } from "../api.js";
import { ErrorBox, Loading, Empty, Bar, Provenance } from "../components.js";

function Route({ classification }) {
  const { prediction, router } = classification;
  return html`<section class="card" aria-labelledby="route-h">
    <h2 id="route-h">Route: <span class="queue">${prediction.label}</span>
      ${prediction.needs_human ? html` <span class="badge warn">needs human</span>` : html` <span class="badge ok">confident</span>`}</h2>
    <p class="muted">Confidence ${(prediction.confidence * 100).toFixed(1)} % · threshold ${(router.threshold * 100).toFixed(0)} % · router v${router.version} (${router.algorithm}, ${router.examples} tickets)</p>
    <div class="scores">${prediction.top.map((t) => html`<${Bar} label=${t.label} value=${t.probability} shown=${`${(t.probability * 100).toFixed(1)} %`} />`)}</div>
  </section>`;
}

export function TicketsPage({ kb }) {
  const [subject, setSubject] = useState("");
  const [body, setBody] = useState("");
  const [label, setLabel] = useState("category");
  const [state, setState] = useState({ status: "idle" });

  const run = async (e) => {
    e.preventDefault();
    if (!kb || !(subject.trim() || body.trim())) return;
    setState({ status: "loading" });
    try {
      // Suggestions include the routing decision when a router for the label is trained.
      const suggestion = await post(kbPath(kb, "/tickets/suggest"), { subject, body, label });
      let routeError = null;
      if (!suggestion.classification) {
        routeError = await post(kbPath(kb, "/tickets/classify"), { subject, body, label }).then(() => null, (err) => err);
      }
      setState({ status: "done", suggestion, routeError });
    } catch (err) {
      setState({ status: "error", error: err });
    }
  };

  const s = state.suggestion;
  return html`<div class="page narrow">
    <h1>Route a ticket</h1>
    <form class="stack" onSubmit=${run}>
      <label for="t-subject">Subject</label>
      <input id="t-subject" value=${subject} onInput=${(e) => setSubject(e.target.value)} autocomplete="off" />
      <label for="t-body">Body</label>
      <textarea id="t-body" rows="6" value=${body} onInput=${(e) => setBody(e.target.value)}
        onKeyDown=${(e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) run(e); }}></textarea>
      <div class="row">
        <label for="t-label">Field to route by</label>
        <input id="t-label" class="short" value=${label} onInput=${(e) => setLabel(e.target.value)} pattern="[A-Za-z0-9_\\-]{1,64}" />
        <button type="submit" disabled=${!kb}>Route and suggest</button>
        <span class="muted">Ctrl+Enter</span>
      </div>
    </form>
    ${state.status === "loading" ? html`<${Loading} label="Routing…" />` : null}
    ${state.status === "error" ? html`<${ErrorBox} error=${state.error} />` : null}
    ${state.status === "idle" ? html`<${Empty}>Paste a new ticket to see where it goes and what solved similar ones.</${Empty}>` : null}
    ${s ? html`
      ${s.classification ? html`<${Route} classification=${s.classification} />` : html`<${ErrorBox} error=${state.routeError} />`}
      ${s.steps.length ? html`<section aria-labelledby="tsteps-h"><h2 id="tsteps-h">Suggested steps</h2>
        <ol class="steps">${s.steps.map((st) => html`<li>${st.text} <cite title=${st.source}>${st.title}</cite></li>`)}</ol></section>` : null}
      <section aria-labelledby="tsim-h"><h2 id="tsim-h">Similar resolved tickets</h2>
        ${s.similar_tickets.length ? html`<ul class="results">${s.similar_tickets.map((t) => html`<li class="card">
          <div class="result-head"><h3>${t.title || t.doc_id}</h3><span class="badge">${t.doc_id}</span></div>
          ${t.metadata?.answer ? html`<div class="answer-box"><strong>Resolution:</strong> ${String(t.metadata.answer)}</div>` : null}
        </li>`)}</ul>` : html`<${Empty}>No similar resolved tickets.</${Empty}>`}
      </section>
      ${s.passages.length ? html`<section aria-labelledby="tpass-h"><h2 id="tpass-h">Knowledge-base passages</h2>
        <ul class="results">${s.passages.map((p) => html`<li class="card"><h3>${p.title}</h3><${Provenance} source=${p.source} headings=${p.headings} /><p class="snippet">${p.text.slice(0, 280)}</p></li>`)}</ul></section>` : null}
    ` : null}
  </div>`;
}
