#![allow(clippy::unwrap_used)] // test helpers: a failed setup step should fail the test loudly
//! The engine's seams with a tiny deterministic embedder (the real model adds nothing to what these
//! check) and the real on-disk store: document permissions on every read path, reserved filter fields,
//! a document replaced while searches run, BM25 length normalisation whichever door a KB is built
//! through, commands that never load the model, pseudo-relevance feedback and evaluation sweeps.

use nova_core::Principal;
use nova_engine::{
    Condition, DocId, Engine, EngineError, EngineOptions, Filter, IngestOptions, KbName, Mode,
    RequestCtx, Role, SearchOptions, SuggestOptions, TicketQuery, TroubleshootOptions,
};
use nova_ingest::Document;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use tempfile::TempDir;

mod common;
use common::BagOfWords;

fn engine(dir: &TempDir) -> Engine {
    let engine = Engine::new(
        dir.path(),
        Arc::new(BagOfWords),
        EngineOptions::single_caller(),
    )
    .unwrap();
    common::on_test_backend(engine, dir.path())
}

fn kb(name: &str) -> KbName {
    KbName::parse(name).unwrap()
}

fn doc(id: &str, title: &str, text: &str, acl: &[&str], kind: &str) -> Document {
    let mut d = Document::new(id, title, id, text);
    d.acl = acl.iter().map(|a| (*a).to_owned()).collect();
    d.kind = kind.into();
    d
}

/// Three VPN documents (one open, one for hr, one for eng) and two tickets (one for hr).
fn vpn_kb(engine: &Engine, name: &KbName) {
    let docs = [
        doc(
            "open.md",
            "VPN drops",
            "# VPN drops\n\n## Fix\n\n1. Restart the VPN client.\n2. Disable wifi power saving.",
            &[],
            "article",
        ),
        doc(
            "hr.md",
            "VPN for payroll",
            "# VPN for payroll\n\n## Fix\n\n1. Use the payroll VPN profile.\n2. Ask hr for the token.",
            &["hr"],
            "article",
        ),
        doc(
            "eng.md",
            "VPN for builds",
            "# VPN for builds\n\n## Fix\n\n1. Use the build VPN profile.",
            &["eng"],
            "article",
        ),
        {
            let mut t = doc("T-1", "VPN drops at home", "The VPN drops every hour", &[], "ticket");
            t.fields.insert("answer".into(), "Disabled wifi power saving".into());
            t
        },
        {
            let mut t = doc("T-2", "Payroll VPN drops", "The payroll VPN drops", &["hr"], "ticket");
            t.fields.insert("answer".into(), "Reissued the payroll VPN token".into());
            t
        },
    ];
    let ctx = RequestCtx::local();
    let opts = IngestOptions {
        create_missing: true,
        ..IngestOptions::default()
    };
    engine.ingest(&ctx, name, &docs, &opts).unwrap();
}

fn ids(hits: &[nova_engine::DocHit]) -> Vec<String> {
    hits.iter().map(|h| h.doc_id.clone()).collect()
}

#[test]
fn a_caller_outside_a_documents_groups_never_reads_it_through_any_path() {
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir);
    let name = kb("acl");
    vpn_kb(&engine, &name);
    let eng = RequestCtx::new(Principal::member("erin", &["eng"]), "t");
    let admin = RequestCtx::local();
    let query = "vpn drops payroll profile token";

    for mode in [Mode::Hybrid, Mode::Dense, Mode::Bm25] {
        let opts = SearchOptions {
            mode,
            k: 10,
            ..SearchOptions::default()
        };
        let seen = ids(&engine.search(&eng, &name, query, &opts).unwrap());
        assert!(
            seen.contains(&"eng.md".to_owned()) && seen.contains(&"open.md".to_owned()),
            "{mode:?}: {seen:?}"
        );
        assert!(
            !seen.iter().any(|d| d == "hr.md" || d == "T-2"),
            "{mode:?}: {seen:?}"
        );
        let all = ids(&engine.search(&admin, &name, query, &opts).unwrap());
        assert!(
            all.contains(&"hr.md".to_owned()) && all.contains(&"T-2".to_owned()),
            "{mode:?}: {all:?}"
        );
    }

    let report = engine
        .troubleshoot(&eng, &name, query, &TroubleshootOptions::default())
        .unwrap();
    let shown: Vec<&str> = report
        .passages
        .iter()
        .chain(&report.similar_tickets)
        .map(|h| h.doc_id.as_str())
        .chain(report.steps.iter().map(|s| s.doc_id.as_str()))
        .collect();
    assert!(!shown.is_empty());
    assert!(
        !shown.iter().any(|d| *d == "hr.md" || *d == "T-2"),
        "{shown:?}"
    );
    assert!(
        !report.steps.iter().any(|s| s.text.contains("payroll")),
        "{:?}",
        report.steps
    );

    let ticket = TicketQuery {
        label: nova_core::LabelField::parse("category").unwrap(),
        subject: "Payroll VPN drops".into(),
        body: "The payroll VPN keeps dropping".into(),
        threshold: None,
        top: 3,
    };
    let s = engine
        .suggest(&eng, &name, &ticket, &SuggestOptions::default())
        .unwrap();
    let suggested: Vec<&str> = s
        .similar_tickets
        .iter()
        .chain(&s.passages)
        .map(|h| h.doc_id.as_str())
        .collect();
    assert!(suggested.contains(&"T-1"), "{suggested:?}");
    assert!(
        !suggested.iter().any(|d| *d == "hr.md" || *d == "T-2"),
        "{suggested:?}"
    );
    let admin_s = engine
        .suggest(&admin, &name, &ticket, &SuggestOptions::default())
        .unwrap();
    assert_eq!(admin_s.similar_tickets[0].doc_id, "T-2");

    let hr = DocId::parse("hr.md").unwrap();
    assert!(engine.document(&eng, &name, &hr).unwrap().is_none());
    assert!(engine.document(&admin, &name, &hr).unwrap().is_some());
    // A reader may not delete at all; an editor outside the groups cannot delete what it cannot see.
    assert!(matches!(
        engine.delete_document(&eng, &name, &hr),
        Err(EngineError::Forbidden(_))
    ));
    let eng_editor = RequestCtx::new(
        Principal {
            subject: "ed".into(),
            grants: vec![nova_core::Grant {
                role: nova_core::Role::Editor,
                kbs: None,
            }],
            groups: vec!["eng".into()],
        },
        "t",
    );
    assert!(
        !engine.delete_document(&eng_editor, &name, &hr).unwrap(),
        "cannot delete what it cannot see"
    );
    assert!(engine.document(&admin, &name, &hr).unwrap().is_some());
    assert_eq!(engine.info(&eng, &name).unwrap().documents, 3);
    assert_eq!(engine.info(&admin, &name).unwrap().documents, 5);
    // No groups at all: only the open documents.
    let nobody = RequestCtx::new(Principal::member("nobody", &[]), "t");
    let seen = ids(&engine
        .search(&nobody, &name, query, &SearchOptions::default())
        .unwrap());
    assert_eq!(seen.len(), 2, "{seen:?}");
}

#[test]
fn client_filters_may_not_name_the_acl_field() {
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir);
    let name = kb("acl");
    vpn_kb(&engine, &name);
    let ctx = RequestCtx::local();
    let nested = Filter::all().and(Condition::Filter(Box::new(Filter {
        should: vec![Condition::eq("acl", "hr")],
        ..Filter::default()
    })));
    for filter in [Filter::must([Condition::eq("acl", "hr")]), nested] {
        let opts = SearchOptions {
            filter: filter.clone(),
            ..SearchOptions::default()
        };
        let err = engine.search(&ctx, &name, "vpn", &opts).unwrap_err();
        assert!(matches!(err, EngineError::ReservedFilterField(_)), "{err}");
        assert_eq!(err.code(), nova_core::Code::InvalidInput);
        let t = TroubleshootOptions {
            filter,
            ..TroubleshootOptions::default()
        };
        assert!(engine.troubleshoot(&ctx, &name, "vpn", &t).is_err());
    }
    // Other fields filter as before.
    let opts = SearchOptions {
        filter: Filter::must([Condition::eq("kind", "ticket")]),
        ..SearchOptions::default()
    };
    let mut got = ids(&engine.search(&ctx, &name, "vpn drops", &opts).unwrap());
    got.sort();
    assert_eq!(got, ["T-1", "T-2"]);
}

#[test]
fn a_document_replaced_while_searches_run_is_always_found_whole() {
    let dir = TempDir::new().unwrap();
    let engine = Arc::new(engine(&dir));
    let name = kb("swap");
    let ctx = RequestCtx::local();
    let create = IngestOptions {
        create_missing: true,
        ..IngestOptions::default()
    };
    // Two versions with different chunk counts, both about the printer.
    let version = |n: usize| {
        let body: String = (0..n)
            .map(|i| {
                format!(
                    "## Step {i}\n\nPrinter queue step {i}: restart the spooler, version {n}.\n\n"
                )
            })
            .collect();
        doc(
            "printer.md",
            "Printer offline",
            &format!("# Printer offline\n\n{body}"),
            &[],
            "article",
        )
    };
    let others: Vec<Document> = (0..20)
        .map(|i| {
            doc(
                &format!("d{i}.md"),
                "Disk",
                &format!("Disk {i} is full, free space"),
                &[],
                "article",
            )
        })
        .collect();
    engine.ingest(&ctx, &name, &others, &create).unwrap();
    engine.ingest(&ctx, &name, &[version(2)], &create).unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    let swaps = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (engine, name, stop, swaps) =
            (engine.clone(), name.clone(), stop.clone(), swaps.clone());
        std::thread::spawn(move || {
            for round in 0..30 {
                let n = if round % 2 == 0 { 5 } else { 2 };
                let s = engine
                    .ingest(
                        &RequestCtx::local(),
                        &name,
                        &[version(n)],
                        &IngestOptions::default(),
                    )
                    .unwrap();
                assert_eq!(s.updated, 1);
                swaps.fetch_add(1, Ordering::SeqCst);
            }
            stop.store(true, Ordering::SeqCst);
        })
    };
    let printer = DocId::parse("printer.md").unwrap();
    let mut searches = 0;
    while !stop.load(Ordering::SeqCst) || searches < 20 {
        for mode in [Mode::Hybrid, Mode::Bm25, Mode::Dense] {
            let opts = SearchOptions {
                mode,
                k: 3,
                ..SearchOptions::default()
            };
            let hits = engine
                .search(&ctx, &name, "printer offline spooler", &opts)
                .unwrap();
            assert_eq!(
                hits.first().map(|h| h.doc_id.as_str()),
                Some("printer.md"),
                "{mode:?} during swap {}",
                swaps.load(Ordering::SeqCst)
            );
        }
        let d = engine
            .document(&ctx, &name, &printer)
            .unwrap()
            .expect("always readable");
        // One whole version: all its chunks, each of the same version.
        let n = d.chunks.len();
        assert!(n == 2 || n == 5, "{n} chunks");
        assert!(
            d.chunks
                .iter()
                .all(|c| c.text.contains(&format!("version {n}."))),
            "{:?}",
            d.chunks
        );
        searches += 1;
    }
    writer.join().unwrap();
    assert_eq!(swaps.load(Ordering::SeqCst), 30);
    // Old versions are gone: 20 one-chunk documents plus the 2-chunk final version.
    assert_eq!(engine.info(&ctx, &name).unwrap().chunks, 22);
}

#[test]
fn the_first_ingest_fixes_bm25_length_normalisation_through_either_door() {
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir);
    let ctx = RequestCtx::local();
    let docs: Vec<Document> = (0..5)
        .map(|i| {
            doc(
                &format!("{i}.md"),
                "Short",
                &format!("Router {i} reboots"),
                &[],
                "article",
            )
        })
        .collect();
    // The API's path: create the KB empty, then upload.
    let api = kb("api");
    engine.create(&ctx, &api).unwrap();
    engine
        .ingest(&ctx, &api, &docs, &IngestOptions::default())
        .unwrap();
    // The CLI's path: ingest creates it.
    let cli = kb("cli");
    engine
        .ingest(
            &ctx,
            &cli,
            &docs,
            &IngestOptions {
                create_missing: true,
                ..IngestOptions::default()
            },
        )
        .unwrap();
    let avg = |name: &str| -> f64 {
        let meta: serde_json::Value = serde_json::from_slice(
            &std::fs::read(dir.path().join("kbs").join(name).join("kb.json")).unwrap(),
        )
        .unwrap();
        meta["bm25_avg_len"].as_f64().unwrap()
    };
    assert_eq!(avg("api"), avg("cli"));
    assert!(
        avg("api") < 10.0,
        "measured on the documents, not the 120 default: {}",
        avg("api")
    );
    let opts = SearchOptions {
        mode: Mode::Bm25,
        ..SearchOptions::default()
    };
    let score =
        |name: &KbName| engine.search(&ctx, name, "router reboots", &opts).unwrap()[0].score;
    assert_eq!(score(&api), score(&cli));
    // Uploading into a KB that does not exist is an error, not a silent create.
    let err = engine
        .ingest(&ctx, &kb("nope"), &docs, &IngestOptions::default())
        .unwrap_err();
    assert!(matches!(err, EngineError::KbNotFound(_)), "{err}");
}

#[test]
fn listing_deleting_and_bm25_search_never_load_the_model() {
    let dir = TempDir::new().unwrap();
    vpn_kb(&engine(&dir), &kb("lazy"));
    let loads = Arc::new(AtomicUsize::new(0));
    let counter = loads.clone();
    let lazy = Engine::lazy(
        dir.path(),
        Box::new(move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Err(nova_embed::EmbedError::MissingDir {
                path: "/no/model".into(),
            })
        }),
        EngineOptions::single_caller(),
    )
    .unwrap();
    let lazy = common::on_test_backend(lazy, dir.path());
    let ctx = RequestCtx::local();
    let name = kb("lazy");
    assert_eq!(lazy.list(&ctx).unwrap()[0].documents, 5);
    let bm25 = SearchOptions {
        mode: Mode::Bm25,
        ..SearchOptions::default()
    };
    assert!(!lazy
        .search(&ctx, &name, "payroll", &bm25)
        .unwrap()
        .is_empty());
    assert!(lazy
        .delete_document(&ctx, &name, &DocId::parse("open.md").unwrap())
        .unwrap());
    assert_eq!(loads.load(Ordering::SeqCst), 0);
    // Dense search needs the model: the loader runs and its error reaches the caller.
    let err = lazy
        .search(&ctx, &name, "vpn", &SearchOptions::default())
        .unwrap_err();
    assert_eq!(err.code(), nova_core::Code::ModelMissing, "{err}");
    assert_eq!(loads.load(Ordering::SeqCst), 1);
}

#[test]
fn a_dropped_kb_waits_for_its_users_and_its_name_can_be_reused() {
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir);
    let ctx = RequestCtx::local();
    let name = kb("gone");
    vpn_kb(&engine, &name);
    engine.drop_kb(&ctx, &name).unwrap();
    assert!(!dir.path().join("kbs/gone").exists());
    assert!(matches!(
        engine.search(&ctx, &name, "vpn", &SearchOptions::default()),
        Err(EngineError::KbNotFound(_))
    ));
    assert!(engine.list(&ctx).unwrap().is_empty());
    vpn_kb(&engine, &name);
    assert_eq!(engine.info(&ctx, &name).unwrap().documents, 5);
}

#[test]
fn roles_gate_every_call_and_a_kb_grant_limits_what_is_listed() {
    use nova_core::{Grant, Role};
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir);
    let (ops, hr) = (kb("ops"), kb("hr"));
    vpn_kb(&engine, &ops);
    vpn_kb(&engine, &hr);
    let caller = |role: Role, kbs: Option<Vec<KbName>>| {
        RequestCtx::new(
            Principal {
                subject: "k".into(),
                grants: vec![Grant { role, kbs }],
                groups: vec![],
            },
            "t",
        )
    };
    let docs = [doc("n.md", "New", "A new note about disks", &[], "article")];
    let reader = caller(Role::Reader, None);
    let forbidden = |r: nova_engine::Result<nova_engine::IngestSummary>| {
        matches!(r, Err(EngineError::Forbidden(_)))
    };
    assert!(forbidden(engine.ingest(
        &reader,
        &ops,
        &docs,
        &IngestOptions::default()
    )));
    assert!(matches!(
        engine.create(&reader, &kb("x")),
        Err(EngineError::Forbidden(_))
    ));
    let editor = caller(Role::Editor, Some(vec![ops.clone()]));
    assert!(engine
        .ingest(&editor, &ops, &docs, &IngestOptions::default())
        .is_ok());
    assert!(forbidden(engine.ingest(
        &editor,
        &hr,
        &docs,
        &IngestOptions::default()
    )));
    // An editor may fill a KB but not create one on the way.
    let create = IngestOptions {
        create_missing: true,
        ..IngestOptions::default()
    };
    assert!(forbidden(engine.ingest(
        &editor,
        &kb("fresh"),
        &docs,
        &create
    )));
    let listed: Vec<String> = engine
        .list(&editor)
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(listed, ["ops"]);
    let err = engine
        .search(&editor, &hr, "vpn", &SearchOptions::default())
        .unwrap_err();
    assert_eq!(err.code(), nova_core::Code::Forbidden);
    assert_eq!(
        err.to_string(),
        "`k` needs the `reader` role on knowledge base `hr`"
    );
    // Forbidden before existence is checked: a KB outside the grant is not probed.
    let err = engine
        .search(&editor, &kb("ghost"), "vpn", &SearchOptions::default())
        .unwrap_err();
    assert_eq!(err.code(), nova_core::Code::Forbidden);
    assert!(engine.list_keys(&editor).is_err());
    assert!(engine.list_keys(&RequestCtx::local()).unwrap().is_empty());
}

/// Real credentials for the randomized test: API keys in a key store and JWTs signed by an Ed25519 key
/// whose JWKS the verifier reads, turned into principals by the same authenticator the server uses.
struct Callers {
    auth: nova_auth::Authenticator,
    keys: nova_auth::KeyStore,
    issuer: nova_auth::LocalIssuer,
    _dir: TempDir,
}

impl Callers {
    fn new() -> Self {
        let dir = TempDir::new().unwrap();
        let issuer = nova_auth::LocalIssuer::generate("k").unwrap();
        let jwks = dir.path().join("jwks.json");
        std::fs::write(&jwks, issuer.jwks().to_string()).unwrap();
        let settings = nova_auth::JwtSettings {
            issuer: "https://idp.test".into(),
            audience: "kb".into(),
            groups_claim: "groups".into(),
            roles_claim: "roles".into(),
            role_map: std::collections::HashMap::from([(
                "readers".to_owned(),
                nova_core::Grant {
                    role: Role::Reader,
                    kbs: None,
                },
            )]),
            leeway_secs: 5,
        };
        let auth_dir = dir.path().join("auth");
        let auth = nova_auth::Authenticator::new(
            nova_auth::AuthMode::Required,
            nova_auth::KeyStore::open(&auth_dir),
            nova_auth::RoleLimits::default(),
        )
        .with_jwt(nova_auth::JwtVerifier::from_jwks_file(settings, &jwks).unwrap());
        Self {
            auth,
            keys: nova_auth::KeyStore::open(&auth_dir),
            issuer,
            _dir: dir,
        }
    }

    /// Caller `n` in `groups`: an API key when `n` is even, a JWT when odd.
    fn authenticate(&self, n: usize, groups: &[String]) -> Principal {
        let credential = if n.is_multiple_of(2) {
            let spec = nova_auth::KeySpec {
                name: format!("c{n}"),
                role: Role::Reader,
                kbs: vec![],
                groups: groups.to_vec(),
                expires_in: None,
                rate: None,
                daily_quota: None,
            };
            self.keys.create(&spec).unwrap().secret
        } else {
            let exp = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs()
                + 600;
            let claims = serde_json::json!({ "sub": format!("c{n}"), "iss": "https://idp.test",
                "aud": "kb", "exp": exp, "groups": groups, "roles": ["readers"] });
            self.issuer.sign(&claims).unwrap()
        };
        self.auth
            .authenticate(Some(&format!("Bearer {credential}")))
            .unwrap()
            .principal
    }
}

/// xorshift64*: a fixed-seed generator for the randomized test (no dependency for twenty lines).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn groups(&mut self, max: usize) -> Vec<String> {
        let mut g: Vec<String> = (0..self.below(max + 1))
            .map(|_| format!("g{}", self.below(10)))
            .collect();
        g.sort();
        g.dedup();
        g
    }
}

#[test]
fn randomized_documents_and_callers_never_leak_and_fill_k_when_they_can() {
    const WORDS: [&str; 24] = [
        "printer", "router", "laptop", "vpn", "disk", "memory", "kernel", "docker", "ticket",
        "badge", "wifi", "token", "backup", "mailbox", "server", "cluster", "monitor", "license",
        "invoice", "payroll", "firewall", "camera", "keyboard", "battery",
    ];
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir);
    let name = kb("random");
    let mut rng = Rng(0x5eed_1234_abcd_0042);
    let mut docs = Vec::new();
    for i in 0..1000 {
        let words: Vec<&str> = (0..6).map(|_| WORDS[rng.below(WORDS.len())]).collect();
        let mut d = doc(&format!("d{i}"), "", &words.join(" "), &[], "article");
        d.acl = rng.groups(3);
        docs.push(d);
    }
    let create = IngestOptions {
        create_missing: true,
        ..IngestOptions::default()
    };
    engine
        .ingest(&RequestCtx::local(), &name, &docs, &create)
        .unwrap();
    let visible = |groups: &[String], d: &Document| {
        d.acl.is_empty() || d.acl.iter().any(|a| groups.contains(a))
    };
    let by_id: std::collections::HashMap<&str, &Document> =
        docs.iter().map(|d| (d.id.as_str(), d)).collect();
    let k = 10;
    let callers = Callers::new();
    for caller in 0..1000 {
        let groups = rng.groups(3);
        // Half the callers are API keys, half signed JWTs, each authenticated as the server would.
        let principal = callers.authenticate(caller, &groups);
        assert_eq!(principal.groups, groups);
        let ctx = RequestCtx::new(principal, "t");
        let query = format!(
            "{} {}",
            WORDS[rng.below(WORDS.len())],
            WORDS[rng.below(WORDS.len())]
        );
        let mode = [Mode::Hybrid, Mode::Dense, Mode::Bm25][caller % 3];
        let opts = SearchOptions {
            mode,
            k,
            ..SearchOptions::default()
        };
        let hits = engine.search(&ctx, &name, &query, &opts).unwrap();
        for h in &hits {
            let d = by_id[h.doc_id.as_str()];
            assert!(
                ctx.principal.visibility(&name, &d.acl).can_read(),
                "the explanation agrees with the filter"
            );
            assert!(
                visible(&groups, d),
                "caller {caller} {groups:?} saw {} (acl {:?})",
                h.doc_id,
                by_id[h.doc_id.as_str()].acl
            );
        }
        // The oracle: permitted documents that can match (any for dense, a query word for BM25).
        let terms: Vec<&str> = query.split(' ').collect();
        let permitted = docs
            .iter()
            .filter(|d| visible(&groups, d))
            .filter(|d| mode != Mode::Bm25 || terms.iter().any(|t| d.text.contains(t)))
            .count();
        assert_eq!(
            hits.len(),
            permitted.min(k),
            "caller {caller} {groups:?} {mode:?} `{query}`: k must be full when it can be"
        );
        if caller % 10 == 0 {
            let open = docs.iter().filter(|d| visible(&groups, d)).count();
            assert_eq!(engine.info(&ctx, &name).unwrap().documents, open);
            let d = &docs[rng.below(docs.len())];
            let id = DocId::parse(&d.id).unwrap();
            assert_eq!(
                engine.document(&ctx, &name, &id).unwrap().is_some(),
                visible(&groups, d)
            );
            assert_eq!(
                ctx.principal.visibility(&name, &d.acl).can_read(),
                visible(&groups, d)
            );
            let report = engine
                .troubleshoot(&ctx, &name, &query, &TroubleshootOptions::default())
                .unwrap();
            for id in report
                .passages
                .iter()
                .map(|p| p.doc_id.as_str())
                .chain(report.steps.iter().map(|s| s.doc_id.as_str()))
            {
                assert!(visible(&groups, by_id[id]), "troubleshoot leaked {id}");
            }
        }
    }
}

/// A document of `n` sections, each its own chunk, with `marker` in every one.
fn sections(n: usize, marker: &str) -> Document {
    let text: String = (0..n)
        .map(|i| format!("## Section {i}\n\n{marker} paragraph {i} of the big runbook.\n\n"))
        .collect();
    Document::new("big.md", "Big runbook", "big.md", text)
}

#[test]
fn a_large_document_reads_back_whole_and_a_cut_off_replacement_never_shows() {
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir);
    let ctx = RequestCtx::local();
    let name = kb("big");
    let create = IngestOptions {
        create_missing: true,
        ..IngestOptions::default()
    };
    engine
        .ingest(&ctx, &name, &[sections(1_200, "first")], &create)
        .unwrap();
    let id = DocId::parse("big.md").unwrap();
    let read = engine.document(&ctx, &name, &id).unwrap().unwrap();
    assert_eq!(read.chunks.len(), 1_200, "every chunk, not the first 1,000");
    assert!(read
        .chunks
        .iter()
        .enumerate()
        .all(|(i, c)| c.index == i as u64));

    // A replacement stopped after two of its five commits: readers keep the whole first version, and
    // the next ingest does not mistake the partial one for "unchanged".
    let batches = AtomicUsize::new(0);
    let cancel = || batches.fetch_add(1, Ordering::SeqCst) >= 2;
    let stopped = IngestOptions {
        cancel: Some(&cancel),
        ..IngestOptions::default()
    };
    let err = engine
        .ingest(&ctx, &name, &[sections(1_200, "second")], &stopped)
        .unwrap_err();
    assert!(matches!(err, EngineError::Canceled), "{err}");
    let read = engine.document(&ctx, &name, &id).unwrap().unwrap();
    assert_eq!(read.chunks.len(), 1_200);
    assert!(read.chunks.iter().all(|c| c.text.contains("first")));
    let summary = engine
        .ingest(
            &ctx,
            &name,
            &[sections(1_200, "second")],
            &IngestOptions::default(),
        )
        .unwrap();
    assert_eq!((summary.updated, summary.unchanged), (1, 0), "{summary:?}");
    let read = engine.document(&ctx, &name, &id).unwrap().unwrap();
    assert_eq!(read.chunks.len(), 1_200);
    assert!(read.chunks.iter().all(|c| c.text.contains("second")));
}

/// Printer documents: only `roller.md` shares no word with "printer jams", but it shares the words
/// of the document that answers it.
fn printer_kb(engine: &Engine, name: &KbName) {
    let docs = [
        doc(
            "jams.md",
            "Printer jams",
            "The printer jams when the paper tray feed roller is worn.",
            &[],
            "article",
        ),
        doc(
            "roller.md",
            "Replacing a feed roller",
            "A worn feed roller in the paper tray: order the roller kit and swap the roller.",
            &[],
            "article",
        ),
        doc(
            "coffee.md",
            "Coffee machine",
            "Descale the coffee machine monthly.",
            &[],
            "article",
        ),
    ];
    let opts = IngestOptions {
        create_missing: true,
        ..IngestOptions::default()
    };
    engine
        .ingest(&RequestCtx::local(), name, &docs, &opts)
        .unwrap();
}

#[test]
fn pseudo_relevance_feedback_reaches_documents_through_the_words_of_the_best_ones() {
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir);
    let name = kb("printers");
    printer_kb(&engine, &name);
    let search = |prf| {
        let opts = SearchOptions {
            mode: Mode::Bm25,
            prf,
            ..SearchOptions::default()
        };
        ids(&engine
            .search(&RequestCtx::local(), &name, "printer jams", &opts)
            .unwrap())
    };
    assert_eq!(search(false), ["jams.md"]);
    let expanded = search(true);
    assert_eq!(expanded[0], "jams.md", "{expanded:?}");
    assert!(expanded.contains(&"roller.md".to_owned()), "{expanded:?}");
    assert!(!expanded.contains(&"coffee.md".to_owned()), "{expanded:?}");
}

#[test]
fn an_evaluation_sweep_scores_hybrid_once_per_fusion_with_every_ranking_kept() {
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir);
    let name = kb("printers");
    printer_kb(&engine, &name);
    let rels = |d: &str| std::collections::HashMap::from([(d.to_owned(), 1)]);
    let set = nova_engine::BeirSet {
        corpus: Vec::new(),
        queries: vec![
            ("q1".into(), "printer jams".into()),
            ("q2".into(), "descale coffee".into()),
        ],
        qrels: [
            ("q1".to_owned(), rels("jams.md")),
            ("q2".to_owned(), rels("coffee.md")),
        ]
        .into(),
    };
    let fusions: Vec<nova_engine::Fusion> = ["rrf", "zscore:0.5"]
        .iter()
        .map(|f| f.parse().unwrap())
        .collect();
    let reports = engine
        .evaluate_beir(
            &RequestCtx::local(),
            &name,
            &set,
            nova_engine::EvalRuns {
                modes: &[Mode::Hybrid, Mode::Bm25],
                fusions: &fusions,
            },
            &SearchOptions::default(),
            &mut |_| {},
        )
        .unwrap();
    let tags: Vec<String> = reports.iter().map(|r| r.tag()).collect();
    assert_eq!(tags, ["hybrid-rrf:60", "hybrid-zscore:0.5", "bm25"]);
    for r in &reports {
        assert_eq!(r.ndcg_at_10, 1.0, "{}", r.tag());
        let firsts: Vec<&str> = r
            .run
            .iter()
            .map(|(_, ranked)| ranked[0].0.as_str())
            .collect();
        assert_eq!(firsts, ["jams.md", "coffee.md"], "{}", r.tag());
    }
}

#[test]
fn questions_answered_badly_are_reported_as_gaps_grouped_and_ranked() {
    let dir = TempDir::new().unwrap();
    let engine = engine(&dir);
    let name = kb("gaps");
    vpn_kb(&engine, &name);
    let reader = RequestCtx::new(Principal::member("rita", &[]), "t");
    let ask = |q: &str, mode: Mode| {
        let opts = SearchOptions {
            mode,
            ..SearchOptions::default()
        };
        engine
            .search(&RequestCtx::local(), &name, q, &opts)
            .unwrap();
    };
    for _ in 0..3 {
        ask("parking permit renewal form", Mode::Hybrid); // nothing about parking: poor matches
    }
    ask("Parking permit  renewal form", Mode::Bm25); // same question: no BM25 hit at all
    ask("renewal of a parking permit", Mode::Hybrid);
    ask("coffee machine descaling", Mode::Bm25);
    ask("vpn drops", Mode::Hybrid); // answered well: not a gap
    engine
        .feedback(
            &RequestCtx::local(),
            &name,
            nova_engine::Feedback {
                query: "coffee machine descaling".into(),
                doc_id: "open.md".into(),
                rating: nova_engine::Rating::NotHelpful,
                comment: None,
                request_id: None,
                at: 0,
            },
        )
        .unwrap();
    // An answer with nothing to cite (no memo exists) is refused, and that is a gap too.
    let memos_only = nova_engine::AnswerOptions {
        filter: Filter::must([Condition::eq("kind", "memo")]),
        ..nova_engine::AnswerOptions::default()
    };
    let answer = engine
        .answer(
            &RequestCtx::local(),
            &name,
            "bicycle shed keys",
            &memos_only,
            &mut |_| std::ops::ControlFlow::Continue(()),
        )
        .unwrap();
    assert!(answer.refused);
    let gaps = engine
        .gaps(
            &RequestCtx::local(),
            &name,
            &nova_engine::GapOptions::default(),
        )
        .unwrap();
    assert_eq!(gaps.len(), 3, "{gaps:#?}");
    assert_eq!((gaps[2].volume, gaps[2].refused), (1, 1), "{gaps:#?}");
    assert_eq!(gaps[2].examples, ["bicycle shed keys"]);
    assert_eq!((gaps[0].volume, gaps[0].distinct), (5, 2), "{gaps:#?}");
    assert_eq!(gaps[0].examples[0], "parking permit renewal form");
    assert_eq!((gaps[0].no_results, gaps[0].low_score), (1, 4));
    assert_eq!(
        (gaps[1].volume, gaps[1].no_results, gaps[1].not_helpful),
        (2, 1, 1)
    );
    assert!(gaps
        .iter()
        .all(|g| !g.examples.iter().any(|q| q.contains("vpn"))));
    // Readers may not read what others asked.
    let err = engine
        .gaps(&reader, &name, &nova_engine::GapOptions::default())
        .unwrap_err();
    assert_eq!(err.code(), nova_core::Code::Forbidden);
}

/// Bag-of-words vectors from a bulk embedder whose first call is slow — so the pipeline's second
/// batch is embedded before its first — and whose call number `fail_at` fails.
struct Uneven {
    calls: AtomicUsize,
    fail_at: usize,
}

impl nova_embed::Embedder for Uneven {
    fn model_id(&self) -> &str {
        "bag-of-words"
    }
    fn dim(&self) -> usize {
        common::DIM
    }
    fn embed(&self, texts: &[&str]) -> nova_embed::Result<Vec<nova_core::Embedding>> {
        nova_embed::Embedder::embed(&BagOfWords, texts)
    }
    fn embed_bulk(&self, texts: &[&str]) -> nova_embed::Result<Vec<nova_core::Embedding>> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        if call == 0 {
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        if call == self.fail_at {
            return Err(nova_embed::EmbedError::Tokenize(
                "embedder failed on purpose".into(),
            ));
        }
        self.embed(texts)
    }
    fn token_counts(&self, texts: &[&str]) -> nova_embed::Result<Vec<usize>> {
        nova_embed::Embedder::token_counts(&BagOfWords, texts)
    }
}

fn create_opts() -> IngestOptions<'static> {
    IngestOptions {
        create_missing: true,
        ..IngestOptions::default()
    }
}

#[test]
fn batches_embedded_out_of_order_commit_in_order_and_a_failed_one_stops_the_ingest() {
    let dir = TempDir::new().unwrap();
    let uneven = |fail_at| {
        let engine = Engine::new(
            dir.path(),
            Arc::new(Uneven {
                calls: AtomicUsize::new(0),
                fail_at,
            }),
            EngineOptions::single_caller(),
        )
        .unwrap();
        common::on_test_backend(engine, dir.path())
    };
    let (ctx, id) = (RequestCtx::local(), DocId::parse("big.md").unwrap());
    let progress = std::sync::Mutex::new(Vec::new());
    let record = |p: nova_engine::IngestProgress| progress.lock().unwrap().push(p.docs_done);
    let opts = IngestOptions {
        create_missing: true,
        progress: Some(&record),
        ..IngestOptions::default()
    };
    // Six documents of 200 chunks: five batches, the first finishing last. Each commit reports the
    // documents whole so far, so a batch committed before an earlier one shows as a step back.
    let docs: Vec<Document> = (0..6)
        .map(|i| {
            let mut d = sections(200, "many");
            d.id = format!("part{i}.md");
            d
        })
        .collect();
    let engine = uneven(usize::MAX);
    let summary = engine.ingest(&ctx, &kb("many"), &docs, &opts).unwrap();
    assert_eq!(summary.chunks, 1_200);
    let seen = progress.lock().unwrap().clone();
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "commits in input order: {seen:?}"
    );
    assert_eq!(seen.len(), 6, "five commits and the final report: {seen:?}");

    let name = kb("pipeline");
    engine
        .ingest(&ctx, &name, &[sections(1_200, "first")], &create_opts())
        .unwrap();
    let read = engine.document(&ctx, &name, &id).unwrap().unwrap();
    assert_eq!(read.chunks.len(), 1_200);
    drop(engine);

    // The third batch fails: the ingest reports it, nothing after the gap is committed, and readers
    // still see the whole first version.
    let engine = uneven(2);
    let err = engine
        .ingest(
            &ctx,
            &name,
            &[sections(1_200, "second")],
            &IngestOptions::default(),
        )
        .unwrap_err();
    assert!(format!("{err:?}").contains("on purpose"), "{err:?}");
    let read = engine.document(&ctx, &name, &id).unwrap().unwrap();
    assert_eq!(read.chunks.len(), 1_200);
    assert!(read.chunks.iter().all(|c| c.text.contains("first")));
}
