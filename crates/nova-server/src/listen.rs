//! The accept loop: hyper's HTTP/1 server with the connection limits `axum::serve` does not expose.
//!
//! - **Header-read timeout**: hyper starts this clock whenever a connection waits for a request head —
//!   on a fresh connection and on an idle keep-alive one after each response — and closes the
//!   connection when the head is not complete in time. One setting bounds a slowloris (half a header,
//!   or nothing) and an idle keep-alive connection alike.
//! - **Connection cap**: a connection holds a permit for its lifetime; with none free the loop stops
//!   accepting, so excess connections wait in the kernel's backlog instead of using up descriptors.
//! - **Graceful shutdown**: on the signal, stop accepting, let every connection finish the request in
//!   flight (hyper's graceful shutdown), and return once all have closed.
//! - **TLS** (when configured): the handshake runs on the connection's own task, bounded by the same
//!   header-read timeout, so a client that never finishes it holds a slot no longer than a slowloris.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

/// Limits on the connections themselves (as opposed to requests).
#[derive(Debug, Clone, Copy)]
pub struct ConnLimits {
    /// Time a connection may take to send a complete request head, counted from when it starts
    /// waiting for one (so it also closes idle keep-alive connections).
    pub header_read_timeout: Duration,
    /// Open connections at most.
    pub max_connections: usize,
}

/// Serves `app` on `listener` (over TLS with `tls`) until `shutdown` resolves, then finishes in-flight
/// requests.
pub async fn serve_connections(
    listener: TcpListener,
    app: Router,
    limits: ConnLimits,
    tls: Option<TlsAcceptor>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots = limits.max_connections.max(1);
    let permits = Arc::new(Semaphore::new(slots));
    let (stop_tx, stop_rx) = watch::channel(());
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = permits.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // EMFILE and friends: back off rather than spin; the listener stays usable.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let stop = stop_rx.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let Some(acceptor) = tls else {
                return drive(TokioIo::new(stream), service, limits, stop).await;
            };
            match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => drive(TokioIo::new(tls), service, limits, stop).await,
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
        });
    }
    drop(stop_tx);
    // Every connection gives its permit back when it has closed.
    let _all = permits.acquire_many(slots as u32).await;
    Ok(())
}

/// Serves HTTP/1 on one connection until it closes, or gracefully once `stop` changes.
async fn drive<I>(
    io: TokioIo<I>,
    service: TowerToHyperService<Router>,
    limits: ConnLimits,
    mut stop: watch::Receiver<()>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection closed");
            }
        }
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection closed during shutdown");
            }
        }
    }
}
