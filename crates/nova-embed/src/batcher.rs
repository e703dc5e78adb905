//! Dynamic batching for concurrent single-text requests (as text-embeddings-inference does): callers
//! on many threads each ask for one embedding; a worker thread takes every request waiting and embeds
//! them in one call, so eight concurrent queries cost about one forward pass instead of eight. It never
//! waits idle: a lone query goes at once, and the requests that arrive while a pass runs queue up and
//! form the next batch. `max_wait` (0 by default) adds a wait for company after the first request, for
//! hosts where a larger batch is worth more than the first query's latency. The queue is bounded: when it is full a request is refused at once
//! ([`EmbedError::Overloaded`](crate::EmbedError::Overloaded)) rather than queued without limit.

use crate::embedder::Embedder;
use crate::error::Result;
use nova_core::Embedding;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Called after each forward pass with the batch size and its duration (for metrics).
pub type BatchObserver = Arc<dyn Fn(usize, Duration) + Send + Sync>;

/// How long to gather and how much.
#[derive(Clone)]
pub struct BatchingOptions {
    /// Most texts per forward pass.
    pub max_batch: usize,
    /// Longest the first request of a batch waits for company (0: none; the batch is what queued while
    /// the previous pass ran).
    pub max_wait: Duration,
    /// Most requests waiting for the worker; more are refused with `Overloaded`.
    pub queue: usize,
    /// Told about every batch.
    pub observer: Option<BatchObserver>,
}

impl std::fmt::Debug for BatchingOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BatchingOptions")
            .field("max_batch", &self.max_batch)
            .field("max_wait", &self.max_wait)
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl Default for BatchingOptions {
    fn default() -> Self {
        Self {
            max_batch: 64,
            max_wait: Duration::ZERO,
            queue: 1024,
            observer: None,
        }
    }
}

struct Job {
    text: String,
    reply: SyncSender<Result<Embedding>>,
}

/// A handle to the batching worker; cheap to share. The worker stops when the last handle is dropped.
pub struct BatchingEmbedder {
    tx: SyncSender<Job>,
    /// Requests queued and not yet taken into a batch.
    waiting: Arc<AtomicUsize>,
}

impl BatchingEmbedder {
    /// Starts the worker thread over `inner`.
    pub fn spawn(inner: Arc<dyn Embedder>, opts: BatchingOptions) -> Self {
        let (tx, rx) = mpsc::sync_channel::<Job>(opts.queue.max(1));
        let waiting = Arc::new(AtomicUsize::new(0));
        let taken = waiting.clone();
        std::thread::Builder::new()
            .name("nova-embed-batcher".into())
            .spawn(move || worker(&*inner, &rx, opts, &taken))
            .map(|_| ())
            .unwrap_or_else(|e| tracing::error!("cannot start the embedding batcher: {e}"));
        Self { tx, waiting }
    }

    /// Requests queued and not yet taken into a forward pass.
    pub fn waiting(&self) -> usize {
        self.waiting.load(Ordering::SeqCst)
    }

    /// One text's embedding; blocks until its batch has run.
    pub fn embed_one(&self, text: &str) -> Result<Embedding> {
        let (reply, answer) = mpsc::sync_channel(1);
        let gone = || crate::EmbedError::Stopped;
        let job = Job {
            text: text.to_owned(),
            reply,
        };
        self.waiting.fetch_add(1, Ordering::SeqCst);
        match self.tx.try_send(job) {
            Ok(()) => {}
            Err(e) => {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                return Err(match e {
                    TrySendError::Full(_) => crate::EmbedError::Overloaded,
                    TrySendError::Disconnected(_) => gone(),
                });
            }
        }
        answer.recv().map_err(|_| gone())?
    }
}

fn worker(inner: &dyn Embedder, rx: &Receiver<Job>, opts: BatchingOptions, waiting: &AtomicUsize) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        // Everything already queued (what arrived while the last pass ran) joins without waiting.
        while jobs.len() < opts.max_batch {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        if !opts.max_wait.is_zero() {
            let deadline = Instant::now() + opts.max_wait;
            while jobs.len() < opts.max_batch {
                let left = deadline.saturating_duration_since(Instant::now());
                match rx.recv_timeout(left) {
                    Ok(job) => jobs.push(job),
                    Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
                }
            }
        }
        waiting.fetch_sub(jobs.len(), Ordering::SeqCst);
        let texts: Vec<&str> = jobs.iter().map(|j| j.text.as_str()).collect();
        let started = Instant::now();
        let result = inner.embed(&texts);
        if let Some(observe) = &opts.observer {
            observe(jobs.len(), started.elapsed());
        }
        match result {
            Ok(vectors) => {
                for (job, v) in jobs.iter().zip(vectors) {
                    let _ = job.reply.send(Ok(v)); // the caller may have given up; nothing to do
                }
            }
            // One bad text must not fail its neighbours: retry one by one so each gets its own answer.
            Err(_) => {
                for job in &jobs {
                    let _ = job
                        .reply
                        .send(inner.embed(&[job.text.as_str()]).map(|mut v| v.remove(0)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts calls; the embedding of a text is its length, so answers can be checked.
    struct Counting(AtomicUsize);

    impl Embedder for Counting {
        fn model_id(&self) -> &str {
            "counting"
        }
        fn dim(&self) -> usize {
            1
        }
        fn token_counts(&self, texts: &[&str]) -> Result<Vec<usize>> {
            Ok(texts.iter().map(|t| t.len()).collect())
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            Ok(texts.iter().map(|t| vec![t.len() as f32]).collect())
        }
    }

    #[test]
    fn concurrent_requests_share_forward_passes_and_get_their_own_answers() {
        let inner = Arc::new(Counting(AtomicUsize::new(0)));
        let batcher = Arc::new(BatchingEmbedder::spawn(
            inner.clone(),
            BatchingOptions {
                max_batch: 64,
                max_wait: Duration::from_millis(200),
                queue: 64,
                observer: None,
            },
        ));
        let handles: Vec<_> = (1..=16)
            .map(|n| {
                let b = batcher.clone();
                std::thread::spawn(move || b.embed_one(&"x".repeat(n)).map(|v| (n, v)))
            })
            .collect();
        for h in handles {
            let (n, v) = h.join().expect("thread").expect("embedding");
            assert_eq!(v, vec![n as f32]);
        }
        let calls = inner.0.load(Ordering::SeqCst);
        assert!(
            calls < 16,
            "16 concurrent requests took {calls} forward passes"
        );
    }

    /// Holds every forward pass until the test releases it; says when a pass has started.
    #[test]
    fn requests_that_arrive_during_a_pass_form_the_next_batch_without_any_wait() {
        let gate = Arc::new(Gate {
            lock: std::sync::Mutex::new(()),
            entered: std::sync::atomic::AtomicBool::new(false),
        });
        let sizes = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = sizes.clone();
        let batcher = Arc::new(BatchingEmbedder::spawn(
            gate.clone(),
            BatchingOptions {
                max_wait: Duration::ZERO,
                observer: Some(Arc::new(move |n, _| seen.lock().expect("sizes").push(n))),
                ..BatchingOptions::default()
            },
        ));
        let held = gate.lock.lock().expect("gate");
        // The first query goes alone, at once: the pass starts (and blocks on the gate) with nobody else.
        let first = {
            let b = batcher.clone();
            std::thread::spawn(move || b.embed_one("first"))
        };
        wait_until("the first pass started", || {
            gate.entered.load(Ordering::SeqCst)
        });
        // Seven more arrive while it runs; they queue and go together as the next pass.
        let rest: Vec<_> = (0..7)
            .map(|i| {
                let b = batcher.clone();
                std::thread::spawn(move || b.embed_one(&format!("q{i}")))
            })
            .collect();
        wait_until("seven queued", || batcher.waiting() == 7);
        drop(held);
        first.join().expect("thread").expect("embedding");
        for h in rest {
            h.join().expect("thread").expect("embedding");
        }
        assert_eq!(*sizes.lock().expect("sizes"), vec![1, 7]);
    }

    struct Gate {
        lock: std::sync::Mutex<()>,
        entered: std::sync::atomic::AtomicBool,
    }

    impl Embedder for Gate {
        fn model_id(&self) -> &str {
            "gate"
        }
        fn dim(&self) -> usize {
            1
        }
        fn embed(&self, texts: &[&str]) -> Result<Vec<Embedding>> {
            self.entered.store(true, Ordering::SeqCst);
            let _held = self.lock.lock();
            Ok(texts.iter().map(|_| vec![0.0]).collect())
        }
        fn token_counts(&self, texts: &[&str]) -> Result<Vec<usize>> {
            Ok(vec![1; texts.len()])
        }
    }

    fn wait_until(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting until {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_full_queue_refuses_new_requests_at_once_instead_of_queueing_them() {
        let gate = Arc::new(Gate {
            lock: std::sync::Mutex::new(()),
            entered: std::sync::atomic::AtomicBool::new(false),
        });
        let held = gate.lock.lock().expect("gate");
        let batcher = Arc::new(BatchingEmbedder::spawn(
            gate.clone(),
            BatchingOptions {
                max_batch: 1,
                max_wait: Duration::ZERO,
                queue: 2,
                observer: None,
            },
        ));
        let ask = |b: &Arc<BatchingEmbedder>, done: &Arc<AtomicUsize>| {
            let (b, done) = (b.clone(), done.clone());
            std::thread::spawn(move || {
                let r = b.embed_one("x");
                done.fetch_add(1, Ordering::SeqCst);
                r
            })
        };
        let done = Arc::new(AtomicUsize::new(0));
        let first = ask(&batcher, &done);
        wait_until("the worker runs the first request", || {
            gate.entered.load(Ordering::SeqCst)
        });
        // Two fit in the queue; the other three are refused at once (they return while the gate holds).
        let rest: Vec<_> = (0..5).map(|_| ask(&batcher, &done)).collect();
        wait_until("the refused requests return", || {
            done.load(Ordering::SeqCst) >= 3
        });
        drop(held);
        assert!(first.join().expect("thread").is_ok());
        let results: Vec<_> = rest
            .into_iter()
            .map(|h| h.join().expect("thread"))
            .collect();
        let refused = results
            .iter()
            .filter(|r| matches!(r, Err(crate::EmbedError::Overloaded)))
            .count();
        let answered = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(
            (refused, answered),
            (3, 2),
            "queue of 2: two wait, three refused"
        );
    }
}
