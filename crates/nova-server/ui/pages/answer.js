// Answers written from the knowledge base, streamed as they are generated, with every [n] a button that
// opens the passage it cites.
import { html, useState, useRef, useEffect } from "../vendor/preact-htm.js";
import { get, stream, kbPath } from "../api.js";
import { ErrorBox, Loading, Empty, Provenance } from "../components.js";

// The answer's text with each `[n]` turned into a button for passage n (when it was given).
function AnswerText({ text, passages, onOpen }) {
  const parts = text.split(/(\[\d+\])/g);
  return html`<div class="answer-text" aria-live="polite">${parts.map((p) => {
    const m = /^\[(\d+)\]$/.exec(p);
    const cited = m && passages.find((c) => c.n === Number(m[1]));
    if (!m) return p;
    if (!cited) return p;
    return html`<button type="button" class="cite" onClick=${() => onOpen(cited)} aria-label=${`Source ${cited.n}: ${cited.title}`}>[${cited.n}]</button>`;
  })}</div>`;
}

// The cited passage, read from the stored document.
function PassageDialog({ kb, citation, onClose }) {
  const [chunk, setChunk] = useState(null);
  const [error, setError] = useState(null);
  const dialog = useRef(null);
  useEffect(() => {
    dialog.current?.showModal();
    get(kbPath(kb, `/documents/${encodeURIComponent(citation.doc_id)}`))
      .then((doc) => setChunk(doc.chunks.find((c) => c.index === citation.chunk) || doc.chunks[0]))
      .catch(setError);
  }, [citation]);
  return html`<dialog ref=${dialog} class="passage" aria-labelledby="passage-h" onClose=${onClose}>
    <h2 id="passage-h">[${citation.n}] ${citation.title}</h2>
    <${Provenance} source=${citation.source} headings=${citation.section} />
    ${error ? html`<${ErrorBox} error=${error} />` : chunk ? html`<p class="passage-text">${chunk.text}</p>` : html`<${Loading} />`}
    <form method="dialog"><button type="submit">Close</button></form>
  </dialog>`;
}

export function AnswerPage({ kb }) {
  const [question, setQuestion] = useState("");
  const [text, setText] = useState("");
  const [result, setResult] = useState(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [open, setOpen] = useState(null);
  const abort = useRef(null);

  const ask = async (e) => {
    e.preventDefault();
    const q = question.trim();
    if (!q || !kb) return;
    abort.current?.abort();
    const controller = new AbortController();
    abort.current = controller;
    setText("");
    setResult(null);
    setError(null);
    setBusy(true);
    let acc = "";
    try {
      await stream(kbPath(kb, "/answer"), { question: q, stream: true }, (event, data) => {
        const body = JSON.parse(data);
        if (event === "token") {
          acc += body.text;
          setText(acc);
        } else if (event === "done") {
          setText(body.answer);
          setResult(body);
        } else if (event === "error") {
          setError({ text: body.error.message, code: body.error.code });
        }
      }, controller.signal);
    } catch (err) {
      // Stopped by the user (or by a new question): what arrived so far stays on the page.
      if (err.name !== "AbortError") setError(err);
    } finally {
      setBusy(false);
    }
  };

  // Passages are known only once the answer is done; until then the markers stay plain text.
  const passages = result?.passages || [];
  return html`<div class="page narrow">
    <h1 class="visually-hidden">Ask</h1>
    <form class="searchbar" onSubmit=${ask}>
      <label class="visually-hidden" for="question">Your question</label>
      <input id="question" type="search" placeholder="Ask a question…" value=${question} onInput=${(e) => setQuestion(e.target.value)} autocomplete="off" autofocus />
      <button type="submit" disabled=${busy || !kb}>${busy ? "Writing…" : "Ask"}</button>
      ${busy ? html`<button type="button" class="ghost" onClick=${() => abort.current?.abort()}>Stop</button>` : null}
    </form>
    <${ErrorBox} error=${error} />
    ${busy && !text ? html`<${Loading} label="Finding sources…" />` : null}
    ${text ? html`<article class="card answer" aria-busy=${busy}>
      <${AnswerText} text=${text} passages=${passages} onOpen=${setOpen} />
      ${result ? html`<div class="muted">${result.refused ? "Nothing relevant was found." : `${result.provider} · ${result.model} · ${result.usage?.completion_tokens ?? "?"} tokens`}</div>` : null}
    </article>` : null}
    ${result && result.citations.length ? html`<section aria-labelledby="sources-h">
      <h2 id="sources-h">Sources</h2>
      <ol class="sources">${result.citations.map((c) => html`<li><button type="button" class="link" onClick=${() => setOpen(c)}>[${c.n}] ${c.title}</button> <span class="muted">${c.source}${c.section.length ? ` › ${c.section.join(" › ")}` : ""}</span></li>`)}</ol>
    </section>` : null}
    ${!text && !busy && !error ? html`<${Empty}>Answers cite their sources; click a [n] to read the passage.</${Empty}>` : null}
    ${open ? html`<${PassageDialog} kb=${kb} citation=${open} onClose=${() => setOpen(null)} />` : null}
  </div>`;
}
