//! `nova ingest`, `nova search`, `nova delete`: thin wrappers over the engine's knowledge base.

use super::progress::bar;
use super::Outcome;
use crate::cli::{DeleteArgs, IngestArgs, SearchArgs};
use crate::config::Config;
use anyhow::{anyhow, bail, Context, Result};
use nova_embed::SentenceEmbedder;
use nova_engine::{DocHit, KnowledgeBase, Mode, SearchOptions};
use nova_ingest::{FieldMap, ReadOptions};
use nova_store::FieldFilter;
use std::time::Instant;

pub(crate) fn open(
    config: &Config,
    kb: Option<&str>,
    embedder: &SentenceEmbedder,
) -> Result<KnowledgeBase> {
    let name = kb.unwrap_or(&config.data.default_kb);
    KnowledgeBase::open(&config.data.dir, name, embedder, None)
        .with_context(|| format!("opening knowledge base `{name}`"))
}

pub fn ingest(config: &Config, embedder: &SentenceEmbedder, args: &IngestArgs) -> Result<Outcome> {
    let opts = ReadOptions {
        fields: FieldMap {
            id: args.id_field.clone(),
            title: args.title_field.clone(),
            text: args.text_fields.clone(),
            kind: args.kind.clone(),
            ..FieldMap::default()
        },
    };
    let mut docs = Vec::new();
    let mut skipped = Vec::new();
    for path in &args.paths {
        if !path.exists() {
            bail!("{} does not exist", path.display());
        }
        let read = nova_ingest::read_path(path, &opts);
        docs.extend(read.docs);
        skipped.extend(read.skipped);
    }
    let name = args.kb.as_deref().unwrap_or(&config.data.default_kb);
    store_docs(config, embedder, name, &docs, &skipped)
}

/// Ingests `docs` into KB `name` with a progress bar, lists `skipped` and prints the summary line.
pub(crate) fn store_docs(
    config: &Config,
    embedder: &SentenceEmbedder,
    name: &str,
    docs: &[nova_ingest::Document],
    skipped: &[nova_ingest::Skip],
) -> Result<Outcome> {
    // A new KB takes its BM25 length normalisation from what it is first given.
    let is_new = !config.data.dir.join("kbs").join(name).is_dir();
    let hint = is_new.then(|| KnowledgeBase::mean_tokens(docs));
    let kb = KnowledgeBase::open(&config.data.dir, name, embedder, hint)
        .with_context(|| format!("opening knowledge base `{name}`"))?;
    let started = Instant::now();
    let progress = bar(docs.len(), "ingesting", "docs");
    let summary = kb.ingest(embedder, docs, &|p| {
        progress.set_position(p.docs_done as u64)
    })?;
    progress.finish_and_clear();
    kb.optimize()?;
    let secs = started.elapsed().as_secs_f64();
    for skip in skipped {
        eprintln!("skipped {skip}");
    }
    println!(
        "{}: {} added, {} updated, {} unchanged, {} skipped; {} chunks written in {secs:.1}s ({:.1} docs/s)",
        kb.name(),
        summary.added,
        summary.updated,
        summary.unchanged,
        skipped.len(),
        summary.chunks,
        docs.len() as f64 / secs.max(1e-9)
    );
    Ok(if skipped.is_empty() {
        Outcome::Done
    } else {
        Outcome::Partial
    })
}

/// `nova kbs`: every knowledge base under the data folder with its size.
pub fn list(config: &Config, embedder: &SentenceEmbedder) -> Result<Outcome> {
    let names = KnowledgeBase::list(&config.data.dir)?;
    if names.is_empty() {
        println!(
            "no knowledge bases in {} (create one with `nova ingest PATH`)",
            config.data.dir.display()
        );
    }
    for name in names {
        let kb = open(config, Some(&name), embedder)?;
        println!(
            "{name}\t{} documents\t{} chunks\tmodel {}",
            kb.doc_count()?,
            kb.chunk_count()?,
            kb.model()
        );
    }
    Ok(Outcome::Done)
}

pub(crate) fn parse_filter(spec: &str) -> Result<FieldFilter> {
    let (field, value) = spec
        .split_once('=')
        .ok_or_else(|| anyhow!("filter `{spec}` is not FIELD=VALUE"))?;
    Ok(FieldFilter {
        field: field.trim().to_owned(),
        value: value.trim().to_owned(),
    })
}

pub fn search(config: &Config, embedder: &SentenceEmbedder, args: &SearchArgs) -> Result<Outcome> {
    let mode: Mode = args.mode.parse().map_err(|e: String| anyhow!(e))?;
    let filters = args
        .filters
        .iter()
        .map(|f| parse_filter(f))
        .collect::<Result<Vec<_>>>()?;
    let kb = open(config, args.kb.as_deref(), embedder)?;
    let opts = SearchOptions {
        mode,
        k: args.k,
        filters,
        ..SearchOptions::default()
    };
    let hits = kb.search(embedder, &args.query, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
    } else if hits.is_empty() {
        println!("no results in `{}`", kb.name());
    } else {
        for (i, hit) in hits.iter().enumerate() {
            print!("{}", render(i + 1, hit, &args.query));
        }
    }
    Ok(Outcome::Done)
}

/// One readable result: title, source › section, snippet with query words in **bold**, and why.
fn render(rank: usize, hit: &DocHit, query: &str) -> String {
    let mut why = Vec::new();
    if let Some(d) = hit.dense {
        why.push(format!("dense {:.3} (#{})", d.score, d.rank));
    }
    if let Some(b) = hit.bm25 {
        why.push(format!("bm25 {:.2} (#{})", b.score, b.rank));
    }
    let section = if hit.headings.is_empty() {
        String::new()
    } else {
        format!(" › {}", hit.headings.join(" › "))
    };
    format!(
        "{rank}. {}  [{:.4}]\n   {}{section}\n   {}\n   why: {}{}\n\n",
        hit.title,
        hit.score,
        hit.source,
        snippet(&hit.text, query, 40),
        why.join(", "),
        if hit.more_chunks > 0 {
            format!("; +{} more passages", hit.more_chunks)
        } else {
            String::new()
        }
    )
}

/// Common words not worth highlighting (BM25 drops them too).
const SNIPPET_STOP_WORDS: [&str; 16] = [
    "the", "and", "for", "with", "after", "since", "from", "that", "this", "are", "was", "but",
    "not", "you", "keep", "have",
];

/// Up to `words` words around the first query term, with query terms marked `**like this**`.
fn snippet(text: &str, query: &str, words: usize) -> String {
    let terms: Vec<String> = query
        .split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|t| t.len() > 2 && !SNIPPET_STOP_WORDS.contains(&t.as_str()))
        .collect();
    let all: Vec<&str> = text.split_whitespace().collect();
    let norm = |w: &str| {
        w.trim_matches(|c: char| !c.is_alphanumeric())
            .to_lowercase()
    };
    let is_term = |w: &str| {
        let w = norm(w);
        terms
            .iter()
            .any(|t| w.starts_with(t.as_str()) || t.starts_with(w.as_str()) && w.len() > 3)
    };
    let first = all.iter().position(|w| is_term(w)).unwrap_or(0);
    let start = first.saturating_sub(words / 4);
    let end = (start + words).min(all.len());
    let body: Vec<String> = all[start..end]
        .iter()
        .map(|w| {
            if is_term(w) {
                format!("**{w}**")
            } else {
                (*w).to_owned()
            }
        })
        .collect();
    format!(
        "{}{}{}",
        if start > 0 { "… " } else { "" },
        body.join(" "),
        if end < all.len() { " …" } else { "" }
    )
}

pub fn delete(config: &Config, embedder: &SentenceEmbedder, args: &DeleteArgs) -> Result<Outcome> {
    let kb = open(config, args.kb.as_deref(), embedder)?;
    if kb.delete(&args.doc_id)? {
        println!("deleted `{}` from `{}`", args.doc_id, kb.name());
        Ok(Outcome::Done)
    } else {
        bail!(
            "document `{}` is not in knowledge base `{}`",
            args.doc_id,
            kb.name()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippet_marks_query_terms() {
        let s = snippet(
            "Restart the VPN client, then check the tunnel logs",
            "vpn tunnel",
            40,
        );
        assert_eq!(
            s,
            "Restart the **VPN** client, then check the **tunnel** logs"
        );
    }

    #[test]
    fn snippet_does_not_highlight_common_words() {
        let s = snippet(
            "the pod restarts after the upgrade",
            "the pod after upgrade",
            40,
        );
        assert_eq!(s, "the **pod** restarts after the **upgrade**");
    }

    #[test]
    fn filters_must_be_field_equals_value() {
        assert_eq!(
            parse_filter("kind=ticket").unwrap(),
            FieldFilter {
                field: "kind".into(),
                value: "ticket".into()
            }
        );
        assert!(parse_filter("kind").is_err());
    }
}
