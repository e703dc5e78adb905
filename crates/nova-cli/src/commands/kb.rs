//! `nova ingest`, `nova search`, `nova delete`, `nova kbs`: read files, call the engine, print.

use super::progress::bar;
use super::{kb_name, Outcome};
use crate::cli::{
    DeleteArgs, IngestArgs, KbCreateArgs, KbRekeyArgs, KbRestoreArgs, KbSnapshotArgs, SearchArgs,
};
use crate::config::Config;
use anyhow::{anyhow, bail, Result};
use nova_engine::{
    Condition, DocHit, DocId, Engine, Filter, IngestOptions, KbName, Mode, Principal, RequestCtx,
    SearchOptions,
};
use nova_ingest::{FieldMap, ReadOptions};
use std::time::Instant;

pub fn ingest(config: &Config, engine: &Engine, args: &IngestArgs) -> Result<Outcome> {
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
    let acl: Vec<String> = args
        .acl
        .iter()
        .map(|g| g.trim().to_owned())
        .filter(|g| !g.is_empty())
        .collect();
    for doc in docs.iter_mut().filter(|d| d.acl.is_empty()) {
        doc.acl.clone_from(&acl);
    }
    let name = kb_name(config, args.kb.as_deref())?;
    store_docs(engine, &name, &docs, &skipped)
}

/// Ingests `docs` into KB `name` (created if new) with a progress bar, lists `skipped` and prints the
/// summary line.
pub(crate) fn store_docs(
    engine: &Engine,
    name: &KbName,
    docs: &[nova_ingest::Document],
    skipped: &[nova_ingest::Skip],
) -> Result<Outcome> {
    let started = Instant::now();
    let progress = bar(docs.len(), "ingesting", "docs");
    let on_commit = |p: nova_engine::IngestProgress| progress.set_position(p.docs_done as u64);
    let summary = engine.ingest(
        &RequestCtx::local(),
        name,
        docs,
        &IngestOptions {
            create_missing: true,
            progress: Some(&on_commit),
            cancel: None,
        },
    )?;
    progress.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    for skip in skipped {
        eprintln!("skipped {skip}");
    }
    println!(
        "{name}: {} added, {} updated, {} unchanged, {} skipped; {} chunks written in {secs:.1}s ({:.1} docs/s)",
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
pub fn list(config: &Config, engine: &Engine) -> Result<Outcome> {
    let kbs = engine.list(&RequestCtx::local())?;
    if kbs.is_empty() {
        println!(
            "no knowledge bases in {} (create one with `nova ingest PATH`)",
            config.data.dir.display()
        );
    }
    for kb in kbs {
        println!(
            "{}\t{} documents\t{} chunks\tmodel {}",
            kb.name, kb.documents, kb.chunks, kb.model
        );
    }
    Ok(Outcome::Done)
}

/// `--filter FIELD=VALUE` flags as one filter: every one must match.
pub(crate) fn parse_filters(specs: &[String]) -> Result<Filter> {
    let mut filter = Filter::all();
    for spec in specs {
        let (field, value) = spec
            .split_once('=')
            .ok_or_else(|| anyhow!("filter `{spec}` is not FIELD=VALUE"))?;
        filter = filter.and(Condition::eq(field.trim(), value.trim()));
    }
    Ok(filter)
}

pub fn search(config: &Config, engine: &Engine, args: &SearchArgs) -> Result<Outcome> {
    let mode: Mode = args.mode.parse().map_err(|e: String| anyhow!(e))?;
    let filter = parse_filters(&args.filters)?;
    let name = kb_name(config, args.kb.as_deref())?;
    let opts = SearchOptions {
        mode,
        k: args.k,
        filter,
        prf: args.prf,
        ..SearchOptions::default()
    };
    let ctx = match (&args.as_groups, &args.as_key) {
        (Some(groups), _) => {
            let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
            RequestCtx::new(Principal::member("cli:as-groups", &groups), "cli")
        }
        (None, Some(key)) => {
            RequestCtx::new(engine.key_principal(&RequestCtx::local(), key)?, "cli")
        }
        (None, None) => RequestCtx::local(),
    };
    let hits = engine.search(&ctx, &name, &args.query, &opts)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&hits)?);
    } else if hits.is_empty() {
        println!("no results in `{name}`");
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

pub fn delete(config: &Config, engine: &Engine, args: &DeleteArgs) -> Result<Outcome> {
    let name = kb_name(config, args.kb.as_deref())?;
    let id = DocId::parse(&args.doc_id)?;
    if engine.delete_document(&RequestCtx::local(), &name, &id)? {
        println!("deleted `{id}` from `{name}`");
        Ok(Outcome::Done)
    } else {
        bail!("document `{id}` is not in knowledge base `{name}`")
    }
}

pub fn create(engine: &Engine, args: &KbCreateArgs) -> Result<Outcome> {
    let name = nova_engine::KbName::parse(&args.name)?;
    let opts = nova_engine::KbOptions {
        redact_pii: args.redact_pii,
    };
    let info = engine.create_with(&RequestCtx::local(), &name, opts)?;
    let redaction = if info.redact_pii {
        ", personal data redacted at ingest"
    } else {
        ""
    };
    println!(
        "created knowledge base `{name}` ({}{redaction})",
        info.model
    );
    Ok(Outcome::Done)
}

/// `nova kb rekey NAME`.
pub fn rekey(engine: &Engine, args: &KbRekeyArgs) -> Result<Outcome> {
    let name = nova_engine::KbName::parse(&args.name)?;
    let r = engine.rekey(&RequestCtx::local(), &name)?;
    println!(
        "`{name}` sealed under key {}: {} chunks, {} feedback records, {} router files",
        r.key_id, r.chunks, r.feedback, r.routers
    );
    Ok(Outcome::Done)
}

/// `nova kb snapshot NAME --out FILE`: written to a temporary file beside it, renamed when complete.
pub fn snapshot(engine: &Engine, args: &KbSnapshotArgs) -> Result<Outcome> {
    let name = nova_engine::KbName::parse(&args.name)?;
    let info = super::write_whole(&args.out, |file| {
        engine.snapshot(&RequestCtx::local(), &name, file)
    })?;
    println!(
        "snapshot of `{name}`: {} files, {:.1} MB → {}",
        info.files.len(),
        info.bytes() as f64 / 1e6,
        args.out.display()
    );
    Ok(Outcome::Done)
}

/// `nova kb restore FILE [--as NAME]`.
pub fn restore(engine: &Engine, args: &KbRestoreArgs) -> Result<Outcome> {
    let as_name = args
        .as_name
        .as_deref()
        .map(nova_engine::KbName::parse)
        .transpose()?;
    let mut file = std::io::BufReader::new(
        fs_err::File::open(&args.file)
            .map_err(|e| anyhow!("cannot read {}: {e}", args.file.display()))?,
    );
    let (name, info) = engine.restore(&RequestCtx::local(), &mut file, as_name.as_ref())?;
    println!(
        "restored `{name}` from the snapshot of `{}`: {} files, {:.1} MB, every checksum verified",
        info.kb,
        info.files.len(),
        info.bytes() as f64 / 1e6
    );
    Ok(Outcome::Done)
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
            parse_filters(&["kind=ticket".into()]).unwrap(),
            Filter::must([Condition::eq("kind", "ticket")])
        );
        assert!(parse_filters(&["kind".into()]).is_err());
    }
}
