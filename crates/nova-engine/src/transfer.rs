//! Moving a knowledge base's chunks without re-embedding them: an export file (JSON Lines: a header with
//! the KB's settings, one line per chunk with both vectors and the stored payload, an end line with the
//! count) and a direct copy from one store backend to another, both in id order so an interrupted run
//! resumes after the last chunk it wrote. Payloads travel as stored: sealed text stays sealed (the
//! importing side needs the same encryption key).

use crate::error::{EngineError, Result};
use nova_core::{AccessFilter, Filter};
use nova_store::{ChunkRecord, Retriever, SparseVec, Store, StoreQuery};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

/// The export format's name and version, in every header.
const FORMAT: &str = "kb-nova-export";
const VERSION: u32 = 1;
/// Chunks per page read from a store and per batch written to one.
pub(crate) const BATCH: usize = 256;

/// One line of an export file.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Line {
    Header {
        format: String,
        version: u32,
        kb: String,
        dim: usize,
        settings: serde_json::Value,
    },
    Chunk {
        id: u64,
        dense: Vec<f32>,
        indices: Vec<u32>,
        values: Vec<f32>,
        payload: nova_store::Payload,
    },
    End {
        chunks: usize,
    },
}

/// What an export file says about its knowledge base.
#[derive(Debug, Clone)]
pub(crate) struct ExportHeader {
    pub kb: String,
    pub dim: usize,
    pub settings: serde_json::Value,
}

fn bad(line: usize, what: impl std::fmt::Display) -> EngineError {
    EngineError::Invalid(format!("export file, line {line}: {what}"))
}

fn io(e: std::io::Error) -> EngineError {
    EngineError::Io {
        path: "(export stream)".into(),
        source: e,
    }
}

/// Writes `store`'s every chunk after `header`; returns how many.
pub(crate) fn export(
    store: &dyn Store,
    header: ExportHeader,
    out: &mut dyn Write,
    progress: &mut dyn FnMut(usize),
) -> Result<usize> {
    let mut write = |line: &Line| -> Result<()> {
        serde_json::to_writer(&mut *out, line).map_err(EngineError::Payload)?;
        out.write_all(b"\n").map_err(io)
    };
    write(&Line::Header {
        format: FORMAT.into(),
        version: VERSION,
        kb: header.kb,
        dim: header.dim,
        settings: header.settings,
    })?;
    let mut count = 0;
    pages(store, None, &mut |chunks| {
        for c in chunks {
            write(&Line::Chunk {
                id: c.id,
                dense: c.dense,
                indices: c.sparse.indices,
                values: c.sparse.values,
                payload: c.payload,
            })?;
            count += 1;
        }
        progress(count);
        Ok(())
    })?;
    write(&Line::End { chunks: count })?;
    out.flush().map_err(io)?;
    Ok(count)
}

/// Calls `each` with every page of whole chunks after `after`, in id order.
pub(crate) fn pages(
    store: &dyn Store,
    mut after: Option<u64>,
    each: &mut dyn FnMut(Vec<ChunkRecord>) -> Result<()>,
) -> Result<()> {
    loop {
        let (chunks, more) = store.export_page(after, BATCH)?;
        after = chunks.last().map(|c| c.id).or(after);
        if !chunks.is_empty() {
            each(chunks)?;
        }
        if !more {
            return Ok(());
        }
    }
}

/// Reads an export file: the header first, then batches of chunks, checking the end line's count.
pub(crate) struct ImportReader<'a> {
    input: &'a mut dyn BufRead,
    line: usize,
    read: usize,
    ended: bool,
    buf: String,
}

impl<'a> ImportReader<'a> {
    /// Reads the header.
    pub fn open(input: &'a mut dyn BufRead) -> Result<(Self, ExportHeader)> {
        let mut reader = Self {
            input,
            line: 0,
            read: 0,
            ended: false,
            buf: String::new(),
        };
        match reader.next_line()? {
            Some(Line::Header {
                format,
                version,
                kb,
                dim,
                settings,
            }) if format == FORMAT => {
                if version != VERSION {
                    return Err(bad(
                        1,
                        format!("version {version}; this nova reads {VERSION}"),
                    ));
                }
                Ok((reader, ExportHeader { kb, dim, settings }))
            }
            _ => Err(bad(
                1,
                format!("not a `nova kb export` file (no `{FORMAT}` header)"),
            )),
        }
    }

    fn next_line(&mut self) -> Result<Option<Line>> {
        self.buf.clear();
        if self.input.read_line(&mut self.buf).map_err(io)? == 0 {
            return Ok(None);
        }
        self.line += 1;
        serde_json::from_str(&self.buf)
            .map(Some)
            .map_err(|e| bad(self.line, e))
    }

    /// The next up to `n` chunks; empty once the end line (whose count must match) has been read.
    pub fn batch(&mut self, n: usize) -> Result<Vec<ChunkRecord>> {
        let mut out = Vec::new();
        while out.len() < n && !self.ended {
            match self.next_line()? {
                Some(Line::Chunk {
                    id,
                    dense,
                    indices,
                    values,
                    payload,
                }) => {
                    if indices.len() != values.len() {
                        return Err(bad(self.line, "sparse indices and values differ in length"));
                    }
                    self.read += 1;
                    out.push(ChunkRecord {
                        id,
                        dense,
                        sparse: SparseVec { indices, values },
                        payload,
                    });
                }
                Some(Line::End { chunks }) if chunks == self.read => self.ended = true,
                Some(Line::End { chunks }) => {
                    return Err(bad(
                        self.line,
                        format!("the file lists {chunks} chunks but holds {}", self.read),
                    ))
                }
                Some(Line::Header { .. }) => return Err(bad(self.line, "a second header")),
                None => {
                    return Err(bad(
                        self.line,
                        "the file ends without its end line: truncated (run the import again with \
                         --resume once the whole file is there)",
                    ))
                }
            }
        }
        Ok(out)
    }
}

/// What a copy between stores found when it compared them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verification {
    /// Chunks in the source.
    pub source_chunks: usize,
    /// Chunks in the target.
    pub target_chunks: usize,
    /// Sample searches run on both (each sampled chunk's own dense vector, top 10).
    pub queries: usize,
    /// Of those, how many ranked other chunks (beyond ties).
    pub mismatches: usize,
}

/// Counts both stores and runs the dense vectors of up to `samples` chunks spread over the source as
/// searches on both, comparing the rankings (chunks with equal scores may swap). Chunk ids are hashes,
/// so the first chunk after each of `samples` evenly spaced ids is a spread sample, read without
/// scanning the store.
pub(crate) fn verify(src: &dyn Store, dst: &dyn Store, samples: usize) -> Result<Verification> {
    let system = AccessFilter::system();
    let all = Filter::all();
    let mut report = Verification {
        source_chunks: src.count(&all, &system)?,
        target_chunks: dst.count(&all, &system)?,
        ..Verification::default()
    };
    let empty = SparseVec::default();
    let spacing = u64::MAX / samples.max(1) as u64;
    let mut seen = std::collections::HashSet::new();
    for i in 0..samples as u64 {
        let (page, _) = src.export_page((i > 0).then(|| i * spacing), 1)?;
        let Some(chunk) = page.into_iter().next() else {
            continue;
        };
        if !seen.insert(chunk.id) {
            continue;
        }
        let dense = &chunk.dense;
        let query = StoreQuery {
            retriever: Retriever::Dense,
            dense,
            sparse: &empty,
            filter: &all,
            access: &system,
            limit: 10,
            payload_keys: Some(&[]),
        };
        let (a, b) = (src.search(&query)?, dst.search(&query)?);
        report.queries += 1;
        let same = a.len() == b.len()
            && a.iter().zip(&b).all(|(x, y)| {
                (x.score - y.score).abs() < 1e-4
                    && (x.id == y.id
                        || a.iter()
                            .filter(|o| (o.score - x.score).abs() < 1e-4)
                            .count()
                            > 1)
            });
        if !same {
            report.mismatches += 1;
        }
    }
    Ok(report)
}
