//! Queries before bulk work. A query embedding is a few milliseconds of work that a person waits for; a
//! document batch is seconds that nobody watches. So queries run on their own thread pool, and bulk
//! embedding ([`crate::Embedder::embed_bulk`]) checks the [`Lane`] before every forward pass and waits
//! while any query is in flight: a query never queues behind an ingest, it only shares the cores with
//! the forward passes already running (each well under a second) until they finish.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Counts queries in flight; bulk work waits for zero.
#[derive(Debug, Default)]
pub struct Lane {
    queries: Mutex<usize>,
    idle: Condvar,
}

/// Held while a query is embedded.
pub struct QueryTurn<'a> {
    lane: &'a Lane,
}

impl Lane {
    // A panic elsewhere cannot leave the count inconsistent (it is changed in one statement): go on.
    fn count(&self) -> MutexGuard<'_, usize> {
        self.queries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks a query in flight until the returned guard is dropped.
    pub fn query(&self) -> QueryTurn<'_> {
        *self.count() += 1;
        QueryTurn { lane: self }
    }

    /// Returns once no query is in flight (at once when none is).
    pub fn wait_for_queries(&self) {
        let mut queries = self.count();
        while *queries > 0 {
            queries = self
                .idle
                .wait(queries)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Queries in flight now.
    pub fn in_flight(&self) -> usize {
        *self.count()
    }
}

impl Drop for QueryTurn<'_> {
    fn drop(&mut self) {
        let mut queries = self.lane.count();
        *queries -= 1;
        if *queries == 0 {
            self.lane.idle.notify_all();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::Arc;

    #[test]
    fn bulk_work_waits_while_a_query_is_in_flight_and_resumes_after() {
        let lane = Arc::new(Lane::default());
        lane.wait_for_queries(); // no query: no wait
        let turn = lane.query();
        let (tx, rx) = mpsc::channel();
        let bulk = {
            let lane = lane.clone();
            std::thread::spawn(move || {
                lane.wait_for_queries();
                tx.send(()).unwrap();
            })
        };
        // The bulk thread cannot pass while the query holds its turn: nothing arrives until it is dropped.
        assert!(rx.try_recv().is_err());
        assert_eq!(lane.in_flight(), 1);
        drop(turn);
        rx.recv().unwrap();
        bulk.join().unwrap();
        assert_eq!(lane.in_flight(), 0);
    }
}
