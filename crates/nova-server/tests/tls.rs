#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! HTTPS with a certificate made here, plain HTTP to the TLS port refused, and the security headers
//! on every response.

mod common;

use common::*;
use nova_server::{Limits, SitePolicy};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, ServerName};

fn openssl(args: &str) {
    let out = std::process::Command::new("openssl")
        .args(args.split_whitespace())
        .output()
        .expect("the openssl command makes the test certificates");
    assert!(out.status.success(), "openssl {args}: {out:?}");
}

/// A test CA (`ca.pem`) and a P-256 server certificate it signed for localhost / 127.0.0.1
/// (`cert.pem`, key `key.pem`), made with the openssl command. Returns (ca, cert, key).
fn make_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let d = dir.display();
    let ec = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    openssl(&format!(
        "req -x509 -days 1 -subj /CN=test-ca {ec} -keyout {d}/ca.key -out {d}/ca.pem"
    ));
    openssl(&format!(
        "req -subj /CN=localhost {ec} -keyout {d}/key.pem -out {d}/leaf.csr"
    ));
    std::fs::write(
        dir.join("leaf.ext"),
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(&format!(
        "x509 -req -days 1 -in {d}/leaf.csr -CA {d}/ca.pem -CAkey {d}/ca.key -CAcreateserial \
         -extfile {d}/leaf.ext -out {d}/cert.pem"
    ));
    (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    )
}

/// One HTTP/1.1 GET over TLS to `addr`, trusting only the CA `ca`; the raw response.
async fn https_get(addr: &str, ca: &Path, path: &str) -> String {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut tls = connector
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("TLS handshake with the server's certificate");
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    tls.write_all(request.as_bytes()).await.unwrap();
    let mut bytes = Vec::new();
    // A peer may close without close_notify; what arrived before is the answer.
    let _ = tls.read_to_end(&mut bytes).await;
    String::from_utf8_lossy(&bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_is_served_with_the_configured_certificate_and_plain_http_to_its_port_fails() {
    let dir = tempfile::tempdir().unwrap();
    let (ca, cert, key) = make_certificates(dir.path());
    let site = SitePolicy {
        allowed_hosts: vec!["localhost".into(), "127.0.0.1".into()],
        tls: Some(nova_server::tls::server_config(&cert, &key).unwrap()),
        ..SitePolicy::default()
    };
    let app = TestApp::unready_with(Limits::default(), site).await;
    let addr = app.base.trim_start_matches("http://").to_owned();

    let response = https_get(&addr, &ca, "/healthz").await;
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let lower = response.to_ascii_lowercase();
    assert!(
        lower.contains("strict-transport-security: max-age=63072000"),
        "{response}"
    );
    assert!(
        lower.contains("x-content-type-options: nosniff"),
        "{response}"
    );

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::get(format!("http://{addr}/healthz")).await;
    assert!(plain.is_err(), "plain HTTP must fail: {plain:?}");
    // And the server keeps serving HTTPS after it.
    assert!(https_get(&addr, &ca, "/healthz")
        .await
        .starts_with("HTTP/1.1 200"));

    // A key file that is not there, or not a key: an error naming the file.
    let missing = dir.path().join("missing.pem");
    let err = nova_server::tls::server_config(&cert, &missing)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.pem"), "{err}");
    let err = nova_server::tls::server_config(&cert, &cert)
        .unwrap_err()
        .to_string();
    assert!(err.contains("PRIVATE KEY"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_security_headers_and_plain_http_no_hsts() {
    let app = TestApp::ready().await;
    for (path, status) in [("/healthz", 200), ("/v1/kbs", 200), ("/v1/nope", 404)] {
        let r = app.get(path).await;
        assert_eq!(r.status().as_u16(), status, "{path}");
        let h = r.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["cache-control"], "no-store", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(h.get("strict-transport-security").is_none(), "{path}");
    }
}
