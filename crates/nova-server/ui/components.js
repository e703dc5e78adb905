// Small pieces every page uses: error and empty states, score bars, highlighted snippets, feedback buttons.
import { html, useState } from "./vendor/preact-htm.js";
import { call, kbPath } from "./api.js";

export function ErrorBox({ error }) {
  if (!error) return null;
  const id = error.requestId ? html`<span class="muted"> (request ${error.requestId})</span>` : null;
  return html`<div class="error" role="alert">${error.text || String(error.message || error)}${id}</div>`;
}

export function Loading({ label = "Loading…" }) {
  return html`<div class="loading" role="status" aria-live="polite"><span class="spinner" aria-hidden="true"></span>${label}</div>`;
}

export function Empty({ children }) {
  return html`<p class="empty">${children}</p>`;
}

// A labelled horizontal bar for a score in [0, 1] of `max`.
export function Bar({ label, value, max = 1, shown }) {
  const share = max > 0 ? Math.max(0, Math.min(1, value / max)) : 0;
  const text = shown ?? value.toFixed(3);
  return html`<div class="bar" title=${`${label}: ${text}`}>
    <span class="bar-label">${label}</span>
    <span class="bar-track" role="meter" aria-label=${label} aria-valuemin="0" aria-valuemax=${max.toFixed(4)} aria-valuenow=${Math.min(max, Math.max(0, value)).toFixed(4)}>
      <span class="bar-fill" style=${{ width: `${(share * 100).toFixed(1)}%` }}></span>
    </span>
    <span class="bar-value">${text}</span>
  </div>`;
}

// Words too common to be worth marking.
const COMMON = new Set("the and are for with that this from have has was were not but you your our can how what when why who its into out".split(" "));

// Whole words of the query worth marking in a snippet (three letters or more, not COMMON), as one
// case-insensitive pattern; a word also matches with a plural or verb ending (printer → printers).
function termPattern(query) {
  const words = (query.toLowerCase().match(/[\p{L}\p{N}]{3,}/gu) || [])
    .filter((w) => !COMMON.has(w))
    .map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  if (!words.length) return null;
  return new RegExp(`(?<![\\p{L}\\p{N}])((?:${[...new Set(words)].join("|")})(?:s|es|ed|ing)?)(?![\\p{L}\\p{N}])`, "giu");
}

// `text` cut to about `size` characters around the first query term, the terms marked. Text nodes only:
// knowledge-base text is never parsed as HTML.
export function Snippet({ text, query, size = 360 }) {
  const pattern = termPattern(query);
  let start = 0;
  if (pattern) {
    const first = text.search(pattern);
    if (first > size / 3) start = text.lastIndexOf(" ", first - size / 3) + 1;
  }
  let cut = text.slice(start, start + size);
  if (start + size < text.length) cut = cut.replace(/\s+\S*$/, "") + " …";
  if (start > 0) cut = "… " + cut;
  if (!pattern) return html`<p class="snippet">${cut}</p>`;
  const parts = cut.split(pattern);
  return html`<p class="snippet">${parts.map((p, i) => (i % 2 ? html`<mark>${p}</mark>` : p))}</p>`;
}

// Helpful / not helpful / resolved, sent to the feedback API with the search's request id.
export function FeedbackButtons({ kb, query, docId, requestId }) {
  const [sent, setSent] = useState(null);
  const [error, setError] = useState(null);
  const rate = async (rating) => {
    setError(null);
    try {
      await call(kbPath(kb, "/feedback"), {
        method: "POST",
        json: { query, doc_id: docId, rating, ...(requestId ? { search_request_id: requestId } : {}) },
      });
      setSent(rating);
    } catch (e) {
      setError(e);
    }
  };
  if (sent) {
    const said = { helpful: "Marked helpful", not_helpful: "Marked not helpful", resolved: "Marked as resolving it" }[sent];
    return html`<div class="feedback" role="status">${said}. Thank you.</div>`;
  }
  return html`<div class="feedback">
    <button type="button" class="ghost" onClick=${() => rate("helpful")} aria-label=${`Helpful: ${docId}`}>Helpful</button>
    <button type="button" class="ghost" onClick=${() => rate("not_helpful")} aria-label=${`Not helpful: ${docId}`}>Not helpful</button>
    <button type="button" class="ghost" onClick=${() => rate("resolved")} aria-label=${`This resolved it: ${docId}`}>This resolved it</button>
    <${ErrorBox} error=${error} />
  </div>`;
}

// Where a passage comes from: its source, then its section path.
export function Provenance({ source, headings }) {
  const section = (headings || []).join(" › ");
  return html`<div class="provenance"><span class="source">${source}</span>${section ? html` · <span class="section">${section}</span>` : null}</div>`;
}

// The score breakdown of one hit: fused, and each retriever's own score when it found the chunk.
export function Scores({ hit, maxBm25 }) {
  return html`<div class="scores" aria-label="Score breakdown">
    <${Bar} label="fused" value=${hit.score} />
    ${hit.dense ? html`<${Bar} label="dense" value=${hit.dense.score} shown=${`${hit.dense.score.toFixed(3)} (#${hit.dense.rank})`} />` : html`<${Bar} label="dense" value=${0} shown="—" />`}
    ${hit.bm25 ? html`<${Bar} label="BM25" value=${hit.bm25.score} max=${maxBm25} shown=${`${hit.bm25.score.toFixed(2)} (#${hit.bm25.rank})`} />` : html`<${Bar} label="BM25" value=${0} shown="—" />`}
  </div>`;
}
