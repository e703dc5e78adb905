//! The gRPC client the cluster backend calls through: its own small tokio runtime (the store's traits are
//! synchronous and are called from the engine's worker threads, some of which are async workers), the
//! cluster's node URLs to fail over between, and retries with exponential backoff on transient errors.

use super::QdrantOptions;
use crate::error::{Result, StoreError};
use qdrant_client::{Qdrant, QdrantError};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// Connections to every configured node; calls go to one and move on when it stops answering.
pub(super) struct Client {
    nodes: Vec<Qdrant>,
    /// The node calls go to (an index into `nodes`, taken modulo its length).
    current: AtomicUsize,
    /// `Some` until dropped (see `Drop`).
    runtime: Option<tokio::runtime::Runtime>,
    retries: u32,
    backoff: Duration,
    urls: String,
}

/// Whether an error may pass on a retry (a node down or restarting, a moving shard, a full queue):
/// every operation this backend sends is idempotent (upserts by id, deletes by filter), so repeating
/// one is safe.
fn transient(error: &QdrantError) -> bool {
    use tonic::Code;
    match error {
        QdrantError::ResourceExhaustedError { .. } | QdrantError::Io(_) => true,
        QdrantError::ResponseError { status } => {
            matches!(
                status.code(),
                Code::Unavailable | Code::DeadlineExceeded | Code::Aborted
            ) || (matches!(status.code(), Code::Internal | Code::Unknown)
                && names_a_lost_peer(status.message()))
        }
        _ => false,
    }
}

/// The connection broke mid-call (`Unknown: transport error` when the node dies under it), or the
/// receiving node could not reach the replica it forwarded to (an internal error while the cluster has
/// not yet marked that peer dead).
fn names_a_lost_peer(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    [
        "connect",
        "unavailable",
        "transport",
        "dead",
        "timeout",
        "timed out",
    ]
    .iter()
    .any(|w| m.contains(w))
}

impl Client {
    pub(super) fn connect(opts: &QdrantOptions) -> Result<Self> {
        if opts.urls.is_empty() {
            return Err(StoreError::Config(
                "store.qdrant_urls is empty: name at least one node's gRPC URL \
                 (e.g. http://127.0.0.1:6334)"
                    .into(),
            ));
        }
        let nodes = opts
            .urls
            .iter()
            .map(|url| {
                let mut builder = Qdrant::from_url(url)
                    .timeout(opts.timeout)
                    .connect_timeout(opts.connect_timeout)
                    // The client would print (not log) a version warning to stdout; tests pin the pair.
                    .skip_compatibility_check();
                if let Some(key) = &opts.api_key {
                    builder = builder.api_key(key.clone());
                }
                builder.build().map_err(|e| {
                    StoreError::Config(format!(
                        "store.qdrant_urls: `{url}` is not a valid URL: {e}"
                    ))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("nova-qdrant")
            .enable_all()
            .build()
            .map_err(|e| {
                StoreError::Config(format!("starting the Qdrant client's runtime: {e}"))
            })?;
        Ok(Self {
            nodes,
            current: AtomicUsize::new(0),
            runtime: Some(runtime),
            retries: opts.retries,
            backoff: opts.backoff,
            urls: opts.urls.join(", "),
        })
    }

    /// Runs `call` against the current node, retrying transient failures (moving to the next node each
    /// time) up to the configured number of retries with exponential backoff.
    pub(super) fn run<T, F, Fut>(&self, operation: &'static str, call: F) -> Result<T>
    where
        T: Send + 'static,
        F: Fn(Qdrant) -> Fut,
        Fut: Future<Output = Result<T, QdrantError>> + Send + 'static,
    {
        let mut attempt = 0;
        loop {
            let index = self.current.load(Ordering::Relaxed);
            let node = self.nodes[index % self.nodes.len()].clone();
            match self.block_on(call(node)) {
                Ok(value) => return Ok(value),
                Err(error) if transient(&error) && attempt < self.retries => {
                    tracing::warn!(
                        operation,
                        attempt = attempt + 1,
                        node = index % self.nodes.len(),
                        "Qdrant call failed, retrying on the next node: {error}"
                    );
                    self.skip(index);
                    std::thread::sleep(self.backoff * 2u32.saturating_pow(attempt.min(6)));
                    attempt += 1;
                }
                Err(error) if transient(&error) => {
                    // The next call starts elsewhere even though this one gave up.
                    self.skip(index);
                    return Err(StoreError::Unreachable {
                        operation,
                        urls: self.urls.clone(),
                        attempts: attempt + 1,
                        source: Box::new(error),
                    });
                }
                Err(error) => {
                    return Err(StoreError::Cluster {
                        operation,
                        source: Box::new(error),
                    })
                }
            }
        }
    }

    /// Moves calls past the node at `index`, unless another caller already did (one outage skips one
    /// node, not several).
    fn skip(&self, index: usize) {
        let _ = self.current.compare_exchange(
            index,
            index.wrapping_add(1),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
    }

    /// Runs a future on the client's runtime and waits for it. The future is spawned rather than
    /// `block_on`-ed so this works from any thread, an async worker of another runtime included.
    fn block_on<T: Send + 'static>(
        &self,
        future: impl Future<Output = Result<T, QdrantError>> + Send + 'static,
    ) -> Result<T, QdrantError> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        if let Some(runtime) = &self.runtime {
            runtime.spawn(async move {
                let _ = tx.send(future.await);
            });
        }
        rx.recv().unwrap_or_else(|_| {
            Err(QdrantError::Io(std::io::Error::other(
                "the Qdrant client's runtime stopped",
            )))
        })
    }
}

impl Drop for Client {
    /// Dropping a runtime blocks on its workers, which panics inside another runtime's async context
    /// (where a server may drop its engine): let the workers finish in the background instead.
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}
