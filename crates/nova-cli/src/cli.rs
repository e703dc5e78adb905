//! Command-line grammar. Every flag documents its default and an example.

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

/// KB Nova: a self-hosted knowledge-base troubleshooting engine.
///
/// Quick start:
///   scripts/fetch-models.sh                       # install the embedding model into models/
///   nova similar "disk full" "no space left on device" "printer jammed"
///   nova embed --input texts.jsonl --output vectors.jsonl
#[derive(Debug, Parser)]
#[command(name = "nova", version, about, long_about, verbatim_doc_comment)]
pub struct Cli {
    /// Configuration file [default: ./nova.toml if present, else built-in defaults]. See
    /// config/nova.example.toml for every key; NOVA_SECTION__KEY environment variables override it.
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Model folder or `hf:owner/name[@rev]`, overriding model.path
    /// [default: models/all-MiniLM-L6-v2]. Example: --model hf:sentence-transformers/all-MiniLM-L6-v2
    #[arg(long, global = true, value_name = "PATH|hf:ID")]
    pub model: Option<String>,

    /// Inference threads, overriding model.threads [default: 0 = all cores].
    #[arg(long, global = true, value_name = "N")]
    pub threads: Option<usize>,

    /// Log as JSON lines on stderr (for log shippers) instead of human-readable text.
    #[arg(long, global = true)]
    pub log_json: bool,

    /// More log output (-v info, -vv debug). RUST_LOG overrides it.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Turn texts into embedding vectors (JSON lines on stdout, or a JSONL file in and out).
    ///
    /// Examples:
    ///   nova embed "pods stuck in CrashLoopBackOff" "disk full on /var"
    ///   nova embed --input docs.jsonl --output docs.vec.jsonl   # objects with a "text" field
    #[command(verbatim_doc_comment)]
    Embed(EmbedArgs),

    /// Show how close texts are in meaning: the cosine similarity of every pair, as a table.
    ///
    /// Example:
    ///   nova similar "VPN keeps disconnecting" "remote access drops every few minutes" "printer out of toner"
    #[command(verbatim_doc_comment)]
    Similar(SimilarArgs),

    /// Add files and folders to a knowledge base: Markdown, text, HTML, PDF, JSONL (BEIR corpora or any
    /// records) and CSV exports.
    ///
    /// Re-ingesting an unchanged document is a no-op; a changed one replaces its chunks. Bad files and
    /// rows are listed with the reason (and line) and skipped; the exit code is then 2. Examples:
    ///   nova ingest examples/kb
    ///   nova ingest ../shared/datasets/scifact/corpus.jsonl --kb scifact
    ///   nova ingest export.csv --kb tickets --kind ticket --id-field "Ticket ID" --text-field subject,body
    #[command(verbatim_doc_comment)]
    Ingest(IngestArgs),

    /// Search a knowledge base: the best documents with their best passage and why they matched.
    ///
    /// Examples:
    ///   nova search "pods stuck in CrashLoopBackOff after upgrade"
    ///   nova search "vpn drops" --mode bm25 -k 5 --filter kind=article --json
    #[command(verbatim_doc_comment)]
    Search(SearchArgs),

    /// Troubleshoot a problem: suggested steps citing their source, the best passages, and similar
    /// tickets with their resolutions. Extractive: no language model involved.
    ///
    /// Examples:
    ///   nova troubleshoot "pods stuck in CrashLoopBackOff after the upgrade"
    ///   nova troubleshoot "vpn drops" --filter tags=vpn --tickets 5 --json
    #[command(verbatim_doc_comment)]
    Troubleshoot(TroubleshootArgs),

    /// Ask a question: an answer written from the knowledge base, streamed as it is written, with its
    /// sources listed after it. Every [n] in the answer names a passage the writer was given; citations
    /// of anything else are removed. Nothing relevant in the KB: a refusal, and no model is called.
    ///
    /// The writer is generation.provider: "extractive" (default; no model), "local" (a GGUF chat
    /// model; scripts/fetch-models.sh installs SmolLM2-135M-Instruct) or "openai" (any
    /// OpenAI-compatible endpoint).
    ///
    /// Examples:
    ///   nova ask "my vpn keeps disconnecting" --kb examples
    ///   nova ask "pods crash after deploy" --generator local --max-tokens 200
    ///   NOVA_GENERATION__PROVIDER=openai NOVA_GENERATION__BASE_URL=http://127.0.0.1:11434/v1 \
    ///     NOVA_GENERATION__MODEL=llama3.2 nova ask "printer offline"
    #[command(verbatim_doc_comment)]
    Ask(AskArgs),

    /// Support tickets: import, train a router, evaluate, classify, suggest solutions.
    ///
    /// The router predicts a ticket's category (queue) from its text, with a calibrated confidence.
    /// A typical run:
    ///   nova tickets import tickets.jsonl --kb helpdesk     # Zendesk/Jira/ServiceNow/Freshdesk headers
    ///   nova tickets train --kb helpdesk --label category   # knn, logreg, hybrid vs baselines, 5-fold CV
    ///   nova tickets eval --kb helpdesk --test holdout.csv --plot confusion.svg
    ///   nova tickets classify --kb helpdesk --subject "VPN down" "Cannot connect since the update"
    ///   nova tickets suggest --kb helpdesk --subject "VPN down" "Cannot connect since the update"
    #[command(subcommand, verbatim_doc_comment)]
    Tickets(TicketsCommand),

    /// Remove a document (all its chunks) from a knowledge base.
    Delete(DeleteArgs),

    /// Manage knowledge bases: create one with options (`nova ingest` creates plain ones on first use).
    ///
    /// Examples:
    ///   nova kb create patients --redact-pii     # personal data replaced at every ingest into it
    #[command(subcommand, verbatim_doc_comment)]
    Kb(KbCommand),

    /// Show what PII redaction would replace in files — by kind and file — without ingesting anything.
    ///
    /// Reads files the way `nova ingest` does and applies the built-in kinds (e-mail, phone, card, SSN,
    /// IBAN, IP) plus `[redaction.patterns]`. Examples:
    ///   nova redact --dry-run ~/exports/tickets.csv
    ///   nova redact --dry-run docs/ --show     # also print each redacted text
    #[command(verbatim_doc_comment)]
    Redact(RedactArgs),

    /// List the knowledge bases in the data folder with their document and chunk counts.
    Kbs,

    /// Run the HTTP API (search, troubleshoot, documents, OpenAI-compatible embeddings, metrics).
    ///
    /// The address is printed at start; API docs are served at /docs (no internet needed).
    /// Every route but /healthz and /readyz needs an API key (`nova keys create`) unless
    /// auth.mode = "off". SIGINT/SIGTERM stop it after in-flight requests finish. Examples:
    ///   nova keys create --name ops-admin --role admin   # prints the key once
    ///   nova serve                               # server.addr, default 127.0.0.1:8080
    ///   nova serve --addr 0.0.0.0:8080
    ///   curl -s localhost:8080/v1/kbs/default/search -H "Authorization: Bearer $NOVA_KEY" \
    ///        -H 'content-type: application/json' -d '{"query": "vpn keeps dropping", "k": 3}'
    #[command(verbatim_doc_comment)]
    Serve(ServeArgs),

    /// Manage API keys: create (the key is printed once), list, revoke.
    ///
    /// Works while `nova serve` runs: a new or revoked key takes effect on its next request.
    /// Examples:
    ///   nova keys create --name ops-admin --role admin
    ///   nova keys create --name support --role reader --kb helpdesk --groups support,l2 --expires-in 90d
    ///   nova keys list
    ///   nova keys revoke support
    #[command(subcommand, verbatim_doc_comment)]
    Keys(KeysCommand),

    /// Check and read the audit trail (data/audit/): who did and read what, hash-chained.
    ///
    /// Works while `nova serve` runs. `verify` exits 0 when every record is intact and 1 naming the
    /// first record that was edited, removed or reordered. Examples:
    ///   nova audit verify
    ///   nova audit export --since 2026-12-01 --until 2026-12-31 --format csv --out december.csv
    ///   nova audit export --subject support --kb helpdesk --action document
    #[command(subcommand, verbatim_doc_comment)]
    Audit(AuditCommand),

    /// Evaluate retrieval quality (nDCG@10, Recall@5/@100, MRR@10, latency) on a BEIR-format dataset, or
    /// on a folder of documents with a queries file naming the relevant documents; with --answers, the
    /// answers' citations instead.
    ///
    /// Examples:
    ///   nova eval --dataset ../shared/datasets/scifact --out scifact-report.json
    ///   nova eval --kb-queries ../shared/datasets/troubleshooting/queries.jsonl \
    ///             --docs ../shared/datasets/troubleshooting/docs
    ///   nova eval --answers --generator local --kb-queries ../shared/datasets/troubleshooting/queries.jsonl \
    ///             --docs ../shared/datasets/troubleshooting/docs --out answers-report.json
    #[command(verbatim_doc_comment)]
    Eval(EvalArgs),

    /// Runs recorded by `nova eval` and `nova tickets train|eval`: parameters (model and weights hash,
    /// fusion, dataset and its hash, …), metrics, machine and version; compare two.
    ///
    /// Examples:
    ///   nova runs list
    ///   nova runs show 3
    ///   nova runs compare 3 4        # every metric with its change, and the parameters that differ
    #[command(subcommand, verbatim_doc_comment)]
    Runs(RunsCommand),

    /// What a knowledge base answers badly: questions that found nothing, whose best passage matched
    /// poorly, or whose result was rated "not helpful", grouped by meaning, most asked first.
    ///
    /// Reads the KB's query log (every search is logged unless data.query_log = false; kept as long as
    /// feedback) and its feedback; embeds each distinct question once. What the writers should write next.
    /// Examples:
    ///   nova gaps --kb helpdesk
    ///   nova gaps --kb helpdesk --days 7 --json
    #[command(verbatim_doc_comment)]
    Gaps(GapsArgs),

    /// Index versions of a knowledge base: lineage, blue-green rebuilds behind an eval gate, rollback,
    /// fusion tuning.
    ///
    /// A rebuild writes a new version beside the serving one (searches keep being answered by the old
    /// one; ingests wait), scores both on the golden set attached with `nova kb attach-eval`, and
    /// switches the alias only when no metric (nDCG@10, Recall@5, Recall@100, MRR@10) falls by more
    /// than the threshold. Stop `nova serve` first (it holds the KB).
    /// Examples:
    ///   nova kb attach-eval helpdesk --docs ./kb --queries golden.jsonl
    ///   nova index build --kb helpdesk --chunk-words 100 --note "smaller chunks"
    ///   nova index list --kb helpdesk
    ///   nova index diff 1 2 --kb helpdesk
    ///   nova index rollback --kb helpdesk
    ///   nova index tune --kb helpdesk          # pick hybrid's fusion weight on the golden set
    #[command(subcommand, verbatim_doc_comment)]
    Index(IndexCommand),

    /// A/B tests of index versions: a share of users (sticky per X-Session-Id, else per caller) search a
    /// candidate version while `nova serve` runs; errors, latency and ratings are counted per arm and
    /// the candidate is rolled back by itself when a guardrail test finds it worse.
    ///
    /// Start and stop need the KB free (stop `nova serve`, or use POST /v1/kbs/{kb}/ab and /ab/stop);
    /// report reads what the server logged.
    /// Examples:
    ///   nova index build --kb helpdesk --chunk-words 100 --no-switch     # version 2, not serving
    ///   nova ab start --kb helpdesk --candidate 2 --share 0.2
    ///   nova ab report --kb helpdesk
    ///   nova ab stop --kb helpdesk --promote
    #[command(subcommand, verbatim_doc_comment)]
    Ab(AbCommand),

    /// Query drift: the recent searches of a KB against a reference window — centroid shift of the query
    /// embeddings, low-score share, zero-result rate, BM25 out-of-vocabulary rate — each against its
    /// [drift] threshold.
    ///
    /// Reads the KB's query log (the last [drift] window searches; embeds them again). `nova serve` watches
    /// the same signals every [drift] interval_secs, exports them as nova_drift{kb,signal} and calls
    /// [drift] webhook_url when one starts alerting.
    /// Examples:
    ///   nova drift report --kb helpdesk
    ///   nova drift baseline --kb helpdesk     # the current window becomes the reference
    #[command(subcommand, verbatim_doc_comment)]
    Drift(DriftCommand),

    /// Measure speed (writes a JSON result file; see bench/README.md).
    #[command(subcommand)]
    Bench(BenchCommand),

    /// Print the HTTP API's OpenAPI document (JSON), e.g. `nova openapi > docs/openapi.json`.
    Openapi,

    /// Print the effective configuration (all layers merged) as TOML.
    Config,
}

impl Command {
    /// The subcommand as typed (`serve`, `ingest`): how this process names itself in KB locks.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Embed(_) => "embed",
            Self::Similar(_) => "similar",
            Self::Ingest(_) => "ingest",
            Self::Search(_) => "search",
            Self::Troubleshoot(_) => "troubleshoot",
            Self::Ask(_) => "ask",
            Self::Tickets(_) => "tickets",
            Self::Delete(_) => "delete",
            Self::Kb(_) => "kb",
            Self::Redact(_) => "redact",
            Self::Kbs => "kbs",
            Self::Serve(_) => "serve",
            Self::Keys(_) => "keys",
            Self::Audit(_) => "audit",
            Self::Eval(_) => "eval",
            Self::Runs(_) => "runs",
            Self::Gaps(_) => "gaps",
            Self::Index(_) => "index",
            Self::Ab(_) => "ab",
            Self::Drift(_) => "drift",
            Self::Bench(_) => "bench",
            Self::Openapi => "openapi",
            Self::Config => "config",
        }
    }
}

/// `nova embed`.
#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Texts to embed; each becomes one JSON line `{"text": …, "embedding": […]}` on stdout.
    #[arg(conflicts_with_all = ["input"], required_unless_present = "input")]
    pub texts: Vec<String>,

    /// JSONL file of objects with a text field; each object is written back with an added `embedding`.
    #[arg(long, short, value_name = "FILE", requires = "output")]
    pub input: Option<PathBuf>,

    /// Where to write the JSONL result (`-` for stdout).
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,

    /// Name of the field holding the text [default: text].
    #[arg(long, default_value = "text", value_name = "NAME")]
    pub field: String,
}

/// `nova similar`.
#[derive(Debug, Args)]
pub struct SimilarArgs {
    /// Two or more texts to compare.
    #[arg(required = true, num_args = 2..)]
    pub texts: Vec<String>,
}

/// `nova audit …`.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Check the whole trail: every record sealed (with audit.hmac_key_file's key when set), numbered
    /// without gaps and chained to the one before; exit 1 naming the first broken record.
    Verify(AuditVerifyArgs),
    /// Write records (oldest first) as JSON lines — the stored, sealed lines — or CSV.
    Export(AuditExportArgs),
}

/// `nova audit verify`.
#[derive(Debug, Args)]
pub struct AuditVerifyArgs {
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nova audit export`.
#[derive(Debug, Args)]
pub struct AuditExportArgs {
    /// From this day (YYYY-MM-DD, UTC) or time (RFC 3339), inclusive.
    #[arg(long)]
    pub since: Option<String>,
    /// Up to this day (YYYY-MM-DD: the whole day included) or time (RFC 3339, excluded).
    #[arg(long)]
    pub until: Option<String>,
    /// Only this subject (a key name, an OIDC `sub`, `local-admin`).
    #[arg(long)]
    pub subject: Option<String>,
    /// Only this knowledge base.
    #[arg(long)]
    pub kb: Option<String>,
    /// Only this action, or a family of them (`document` matches `document.delete`).
    #[arg(long)]
    pub action: Option<String>,
    /// Only the privilege log: reads of documents tagged `privileged` (the `legal` profile).
    #[arg(long, conflicts_with = "action")]
    pub privileged: bool,
    /// `jsonl` (the sealed lines, verifiable) or `csv` (for a spreadsheet).
    #[arg(long, value_enum, default_value = "jsonl")]
    pub format: AuditFormat,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum AuditFormat {
    /// One sealed JSON record per line.
    Jsonl,
    /// A header row and one row per record.
    Csv,
}

/// `nova keys …`.
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Create a key and print it once (the last line of stdout, or `{"key": …}` with --json).
    Create(KeyCreateArgs),
    /// List keys (never their secrets).
    List(KeyListArgs),
    /// Revoke a key by name.
    Revoke(KeyRevokeArgs),
}

/// `nova keys create`.
#[derive(Debug, Args)]
pub struct KeyCreateArgs {
    /// Unique name (letters, digits, `-`, `_`); it is the caller's subject in logs.
    #[arg(long)]
    pub name: String,

    /// reader (search, troubleshoot, read documents, feedback, tickets), editor (+ write documents,
    /// train routers), admin (+ create/delete KBs, keys) or metrics (only /metrics).
    #[arg(long)]
    pub role: String,

    /// Knowledge base the role covers (repeatable) [default: every KB].
    #[arg(long = "kb", value_name = "KB")]
    pub kbs: Vec<String>,

    /// Groups for document permissions, comma-separated, e.g. --groups hr,payroll.
    #[arg(long, value_delimiter = ',', value_name = "GROUPS")]
    pub groups: Vec<String>,

    /// Lifetime, e.g. 90d, 12h or 30m [default: until revoked].
    #[arg(long, value_name = "DURATION")]
    pub expires_in: Option<String>,

    /// Request rate, e.g. 600/min, 10/s or 5000/h [default: auth.role_rates for its role, else
    /// unlimited]. Over it: 429 rate_limited with Retry-After.
    #[arg(long, value_name = "RATE")]
    pub rate: Option<String>,

    /// Requests per UTC day [default: auth.role_daily_quotas for its role, else unlimited]. Over it:
    /// 429 quota_exceeded.
    #[arg(long, value_name = "N")]
    pub daily_quota: Option<u64>,

    /// Print JSON ({"key", "info"}) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `nova keys list`.
#[derive(Debug, Args)]
pub struct KeyListArgs {
    /// Print JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// `nova keys revoke`.
#[derive(Debug, Args)]
pub struct KeyRevokeArgs {
    /// The key's name.
    pub name: String,
}

/// `nova tickets …`.
#[derive(Debug, Subcommand)]
pub enum TicketsCommand {
    /// Import a ticket export (CSV or JSONL) as `kind=ticket` documents.
    ///
    /// Subject + body are embedded and indexed; category, answer, priority, status and created are
    /// stored (and filterable). Columns are recognised by name (id/ticket_id/issue key/number, subject/summary/short_description,
    /// body/description, category/queue/group/assignment_group, answer/resolution/close_notes,
    /// priority, status/state, created/created_at/opened_at); --map names any of them. Rows without a
    /// body, with broken quoting or invalid UTF-8 are listed with their line and skipped (exit code 2).
    /// Examples:
    ///   nova tickets import ../shared/datasets/tickets/tickets.jsonl --kb helpdesk
    ///   nova tickets import it_tickets.csv --kb it --map body=Document,category=Topic_group
    #[command(verbatim_doc_comment)]
    Import(TicketImportArgs),

    /// Train a router on the KB's stored ticket embeddings (no re-embedding).
    ///
    /// Compares kNN, logistic regression, a hybrid of logistic regression and TF-IDF kNN, and the
    /// TF-IDF kNN and majority-class baselines by stratified k-fold cross-validation, keeps the chosen
    /// head (auto: the best macro-F1), calibrates its probabilities on the out-of-fold predictions and
    /// saves it as a new version under <kb>/router/<label>/.
    ///
    /// Example:
    ///   nova tickets train --kb helpdesk --label category --algorithm auto --threshold 0.5
    #[command(verbatim_doc_comment)]
    Train(TicketTrainArgs),

    /// Evaluate the current router on a labelled export (--test), or show its saved cross-validation.
    ///
    /// Prints accuracy, macro-F1, per-class precision/recall/F1, the confusion matrix and the
    /// coverage/accuracy trade-off of the "needs human" threshold; --plot writes the matrix as SVG.
    ///
    /// Examples:
    ///   nova tickets eval --kb helpdesk --test holdout.jsonl --plot confusion.svg
    ///   nova tickets eval --kb helpdesk --json report.json
    #[command(verbatim_doc_comment)]
    Eval(TicketEvalArgs),

    /// Route a new ticket: the top labels with calibrated probabilities, or "needs human".
    ///
    /// Example:
    ///   nova tickets classify --kb helpdesk --subject "Refund not received" "I returned the item…"
    #[command(verbatim_doc_comment)]
    Classify(TicketQueryArgs),

    /// Suggest solutions for a new ticket: route, similar resolved tickets, passages, steps.
    ///
    /// Similar resolved tickets come with their answers (one per distinct answer); KB passages and
    /// extracted steps cite their source.
    ///
    /// Example:
    ///   nova tickets suggest --kb default --subject "VPN drops" "Disconnects every few minutes"
    #[command(verbatim_doc_comment)]
    Suggest(TicketQueryArgs),
}

/// `nova tickets import`.
#[derive(Debug, Args)]
pub struct TicketImportArgs {
    /// The export file.
    pub file: PathBuf,

    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,

    /// File format [default: from the extension: .csv, .jsonl/.ndjson].
    #[arg(long, value_parser = ["csv", "jsonl"])]
    pub format: Option<String>,

    /// Columns for ticket fields, FIELD=COLUMN comma-separated; fields: id, subject, body, category,
    /// answer, priority, status, created. Example: --map body=Document,category=Topic_group
    #[arg(long, value_delimiter = ',', value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,
}

/// `nova tickets train`.
#[derive(Debug, Args)]
pub struct TicketTrainArgs {
    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,

    /// Ticket field to predict.
    #[arg(long, default_value = "category")]
    pub label: String,

    /// Head to keep: knn, logreg, hybrid (logreg + TF-IDF kNN), or auto (best cross-validated
    /// macro-F1). (`--model` is the global embedding-model flag, hence the name.)
    #[arg(long, default_value = "auto", value_parser = ["auto", "knn", "logreg", "hybrid"])]
    pub algorithm: String,

    /// Neighbours voting in kNN (and the TF-IDF baseline).
    #[arg(long, default_value_t = 10)]
    pub k: usize,

    /// L2 penalty of the logistic regression (on the summed log-loss).
    #[arg(long, default_value_t = 0.1)]
    pub alpha: f64,

    /// Cross-validation folds.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,

    /// Fold shuffling seed (same seed, same data → same model).
    #[arg(long, default_value_t = 42)]
    pub seed: u64,

    /// Default "needs human" threshold on the top calibrated probability.
    #[arg(long, default_value_t = 0.5)]
    pub threshold: f32,

    /// Print the cross-validation results as JSON.
    #[arg(long)]
    pub json: bool,

    #[command(flatten)]
    pub track: TrackArgs,
}

/// `nova tickets eval`.
#[derive(Debug, Args)]
pub struct TicketEvalArgs {
    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,

    /// Ticket field the router predicts.
    #[arg(long, default_value = "category")]
    pub label: String,

    /// Labelled test export (CSV/JSONL, same mapping rules as import) [default: the router's saved
    /// cross-validation].
    #[arg(long, value_name = "FILE")]
    pub test: Option<PathBuf>,

    /// Format of --test [default: from the extension].
    #[arg(long, value_parser = ["csv", "jsonl"])]
    pub format: Option<String>,

    /// Column mapping for --test, as for import.
    #[arg(long, value_delimiter = ',', value_name = "FIELD=COLUMN")]
    pub map: Vec<String>,

    /// Write the confusion matrix as an SVG heat map.
    #[arg(long, value_name = "FILE.svg")]
    pub plot: Option<PathBuf>,

    /// Write the full report as JSON.
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,

    #[command(flatten)]
    pub track: TrackArgs,
}

/// `nova tickets classify` and `nova tickets suggest`.
#[derive(Debug, Args)]
pub struct TicketQueryArgs {
    /// The ticket's body (description).
    pub body: String,

    /// The ticket's subject line.
    #[arg(long, default_value = "")]
    pub subject: String,

    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,

    /// Ticket field the router predicts.
    #[arg(long, default_value = "category")]
    pub label: String,

    /// "Needs human" below this confidence [default: the router's].
    #[arg(long)]
    pub threshold: Option<f32>,

    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nova bench …`.
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Embedding throughput: texts/s and tokens/s for short queries and ~200-token passages, on 1 and 2
    /// threads, plus the machine's sgemm peak for reference.
    ///
    /// Example (the shared datasets beside the repo):
    ///   nova bench embed --queries ../shared/datasets/cranfield/queries.jsonl \
    ///                    --passages ../shared/datasets/troubleshooting/docs
    #[command(verbatim_doc_comment)]
    Embed(BenchEmbedArgs),

    /// HTTP load on a search endpoint of this machine: RPS and p50/p95/p99 per concurrency level.
    ///
    /// Example (a running `nova serve` with the SciFact KB from `nova eval`):
    ///   nova bench http --kb eval-scifact --queries ../shared/datasets/scifact/queries.jsonl \
    ///                   --concurrency 1,8,32 --duration 10
    #[command(verbatim_doc_comment)]
    Http(BenchHttpArgs),

    /// What authenticating a request costs, in process: an API key, a JWT and the rate limiter, in µs
    /// per call. With --write DIR it also leaves a JWKS, a token and a config file for running
    /// `nova --config DIR/nova-jwt.toml serve` with JWT callers in an HTTP benchmark.
    ///
    /// Example:
    ///   nova bench auth --iterations 50000
    #[command(verbatim_doc_comment)]
    Auth(BenchAuthArgs),

    /// The local chat model's speed: time to first token (reading the prompt) and decode tokens/s over
    /// exactly --tokens greedy tokens, median of --runs after a warm-up — the figures
    /// `bench/generate_baseline.py` measures for llama.cpp on the same GGUF and chat.
    ///
    /// Example:
    ///   nova bench generate --messages bench/generate-messages.json --tokens 128 --runs 5
    #[command(verbatim_doc_comment)]
    Generate(BenchGenerateArgs),

    /// A long run of mixed traffic at a steady rate — searches, troubleshooting, ingest and deletes —
    /// against a server on this machine, watching its latency, memory and open files for drift or leaks.
    /// Writes a JSON report with per-window figures and trends, and an SVG plot of p95 latency, RSS and
    /// file descriptors over time. `bench/soak.sh` starts a server and runs it for 30 minutes.
    ///
    /// Example (a running `nova serve`, pid 4242, with the sample KB as `soak`):
    ///   nova bench soak --kb soak --queries bench/soak-queries.jsonl --pid 4242 --minutes 30
    #[command(verbatim_doc_comment)]
    Soak(BenchSoakArgs),
}

/// `nova bench soak`.
#[derive(Debug, Args)]
pub struct BenchSoakArgs {
    /// Base URL of the server (127.0.0.1 only).
    #[arg(long, default_value = "http://127.0.0.1:8080/")]
    pub url: String,

    /// Knowledge base to search and write to (its `soak-*` documents are replaced and deleted).
    #[arg(long, default_value = "soak")]
    pub kb: String,

    /// API key sent as `Authorization: Bearer <key>` (an editor of the KB at least).
    #[arg(long, env = "NOVA_KEY", hide_env_values = true, value_name = "KEY")]
    pub key: Option<String>,

    /// JSONL file of problems (a `text` field per line); each request adds its number, so no two
    /// queries are the same and no cache answers them.
    #[arg(long, value_name = "FILE")]
    pub queries: PathBuf,

    /// How long to run, in minutes.
    #[arg(long, default_value_t = 30.0)]
    pub minutes: f64,

    /// Requests started per second, whatever the answers take (an open loop): of every 20, 12
    /// searches, 5 troubleshoots, 2 ingests of one document, 1 delete.
    #[arg(long, default_value_t = 8.0)]
    pub rate: f64,

    /// Most requests in flight; a request due while that many are open is not sent and is counted as
    /// shed (the server is not keeping up with --rate).
    #[arg(long, default_value_t = 32)]
    pub max_in_flight: usize,

    /// Seconds per reporting window (latency percentiles, RSS and open files are taken per window).
    #[arg(long, default_value_t = 30)]
    pub window: u64,

    /// The server's process id, to sample its resident memory and open files from /proc.
    #[arg(long)]
    pub pid: Option<u32>,

    /// JSON report.
    #[arg(long, value_name = "FILE", default_value = "bench/results/soak.json")]
    pub out: PathBuf,

    /// SVG plot of p95 latency per operation, RSS and open files over time.
    #[arg(long, value_name = "FILE", default_value = "bench/results/soak.svg")]
    pub plot: PathBuf,
}

/// `nova bench generate`.
#[derive(Debug, Args)]
pub struct BenchGenerateArgs {
    /// JSON file with the chat: [{"role": "system"|"user"|"assistant", "content": "…"}, …].
    #[arg(long, value_name = "FILE")]
    pub messages: PathBuf,

    /// The GGUF [default: generation.model_path].
    #[arg(long, value_name = "FILE")]
    pub gguf: Option<PathBuf>,

    /// Tokens to decode per run (end of turn ignored).
    #[arg(long, default_value_t = 128)]
    pub tokens: usize,

    /// Timed runs (the median is reported), after one warm-up.
    #[arg(long, default_value_t = 5)]
    pub runs: usize,

    /// Write the result as JSON here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `nova bench auth`.
#[derive(Debug, Args)]
pub struct BenchAuthArgs {
    /// Calls per case.
    #[arg(long, default_value_t = 20_000)]
    pub iterations: usize,

    /// Folder to leave jwks.json, token and nova-jwt.toml in.
    #[arg(long, value_name = "DIR")]
    pub write: Option<PathBuf>,

    /// JSON result file.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `nova bench http`.
#[derive(Debug, Args)]
pub struct BenchHttpArgs {
    /// Base URL of the server (127.0.0.1 only).
    #[arg(long, default_value = "http://127.0.0.1:8080/")]
    pub url: String,

    /// Knowledge base to search.
    #[arg(long, default_value = "default")]
    pub kb: String,

    /// API key sent as `Authorization: Bearer <key>` (needed unless the server runs with
    /// auth.mode = "off").
    #[arg(long, env = "NOVA_KEY", hide_env_values = true, value_name = "KEY")]
    pub key: Option<String>,

    /// JSONL file of queries (a `text` field per line), used round-robin.
    #[arg(long, value_name = "FILE")]
    pub queries: PathBuf,

    /// Interleave requests over several servers instead of `--url`: `LABEL=URL`, repeated. Each client
    /// sends one query to every arm in turn, so the host's drift hits all arms alike and the arms are
    /// compared by latency at equal load (throughput at a fixed concurrency is concurrency / mean
    /// latency). The key of arm `off` comes from `NOVA_KEY_OFF`, and so on.
    #[arg(long = "arm", value_name = "LABEL=URL")]
    pub arms: Vec<String>,

    /// Concurrency levels, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32")]
    pub concurrency: Vec<usize>,

    /// Seconds per level.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,

    /// Search mode sent with each query.
    #[arg(long, default_value = "hybrid")]
    pub mode: String,

    /// Documents per query.
    #[arg(short, default_value_t = 10)]
    pub k: usize,

    /// Name for this run in the output (e.g. nova-cold, seed).
    #[arg(long, default_value = "nova")]
    pub label: String,

    /// JSON result file.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "bench/results/http-nova.json"
    )]
    pub out: PathBuf,
}

/// `nova bench embed`.
#[derive(Debug, Args)]
pub struct BenchEmbedArgs {
    /// JSONL file of short queries (a `text` field per line).
    #[arg(
        long,
        value_name = "FILE",
        default_value = "../shared/datasets/cranfield/queries.jsonl"
    )]
    pub queries: PathBuf,

    /// Folder of Markdown/text documents, cut into ~200-token passages.
    #[arg(
        long,
        value_name = "DIR",
        default_value = "../shared/datasets/troubleshooting/docs"
    )]
    pub passages: PathBuf,

    /// Thread counts to measure, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,2")]
    pub thread_counts: Vec<usize>,

    /// Most passages to use (queries are all used).
    #[arg(long, default_value_t = 256)]
    pub max_passages: usize,

    /// Query batch sizes whose latency is measured (p50/p99 per call), comma-separated: what a server
    /// sees, one query or a few batched together. Empty (`--batch-sizes ''`) skips them.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub batch_sizes: Vec<usize>,

    /// Minimum seconds to measure each case (repeats the set until reached).
    #[arg(long, default_value_t = 3.0)]
    pub min_seconds: f64,

    /// JSON result file. The texts used are written beside it (`<name>.texts.json`) so a baseline can
    /// embed exactly the same inputs.
    #[arg(
        long,
        value_name = "FILE",
        default_value = "bench/results/embed-nova.json"
    )]
    pub out: PathBuf,
}

/// `nova ingest`.
#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Files or folders to ingest (folders recursively; hidden files are ignored).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,

    /// Knowledge base name [default: data.default_kb, "default"].
    #[arg(long)]
    pub kb: Option<String>,

    /// JSONL/CSV field holding the document id [default: _id, id, ticket_id, key or number; CSV rows
    /// without one are named FILE:LINE]. Example: --id-field "Ticket ID"
    #[arg(long, value_name = "NAME")]
    pub id_field: Option<String>,

    /// JSONL/CSV field holding the title [default: title, subject or summary].
    #[arg(long, value_name = "NAME")]
    pub title_field: Option<String>,

    /// JSONL/CSV field(s) holding the text, joined in order [default: the first of text, body,
    /// content, description]. Example: --text-field subject,body
    #[arg(long = "text-field", value_name = "NAME", value_delimiter = ',')]
    pub text_fields: Vec<String>,

    /// Kind given to records without a `kind` field: article or ticket [default: article].
    #[arg(long, value_name = "KIND")]
    pub kind: Option<String>,

    /// Groups allowed to see documents that set no `acl` themselves, comma-separated, e.g.
    /// --acl hr,payroll [default: everyone with access to the KB].
    #[arg(long, value_delimiter = ',', value_name = "GROUPS")]
    pub acl: Vec<String>,
}

/// `nova search`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// What you are looking for, in your own words.
    pub query: String,

    /// Knowledge base name [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,

    /// hybrid (dense + BM25, fused), dense or bm25.
    #[arg(long, default_value = "hybrid")]
    pub mode: String,

    /// Number of documents.
    #[arg(short, default_value_t = 10)]
    pub k: usize,

    /// Payload filter FIELD=VALUE (repeatable, all must match), e.g. --filter kind=ticket.
    #[arg(long = "filter", value_name = "FIELD=VALUE")]
    pub filters: Vec<String>,

    /// Expand the BM25 query with the words of its best passages (pseudo-relevance feedback): helps
    /// questions phrased unlike the documents on some collections, hurts on others (README: Evaluation).
    #[arg(long)]
    pub prf: bool,

    /// Search as a reader in these groups (comma-separated) sees it: documents whose `acl` names none of
    /// them are left out, exactly as for an API key with those groups.
    #[arg(
        long,
        value_delimiter = ',',
        value_name = "GROUPS",
        conflicts_with = "as_key"
    )]
    pub as_groups: Option<Vec<String>>,

    /// Search as the API key with this name sees it (its role, KB grants and groups).
    #[arg(long, value_name = "NAME")]
    pub as_key: Option<String>,

    /// Print JSON instead of a readable list.
    #[arg(long)]
    pub json: bool,
}

/// `nova serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Listen address, overriding server.addr [default: 127.0.0.1:8080]; port 0 picks a free port.
    #[arg(long, value_name = "HOST:PORT")]
    pub addr: Option<String>,
}

/// `nova troubleshoot`.
#[derive(Debug, Args)]
pub struct TroubleshootArgs {
    /// The problem, as the user or the ticket describes it.
    pub problem: String,

    /// Knowledge base name [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,

    /// Knowledge-base passages to consider.
    #[arg(long, default_value_t = 5)]
    pub passages: usize,

    /// Similar tickets to show (0 for none).
    #[arg(long, default_value_t = 3)]
    pub tickets: usize,

    /// Payload filter FIELD=VALUE (repeatable, all must match), e.g. --filter product=vpn.
    #[arg(long = "filter", value_name = "FIELD=VALUE")]
    pub filters: Vec<String>,

    /// Print JSON instead of a readable report.
    #[arg(long)]
    pub json: bool,
}

/// `nova ask`.
#[derive(Debug, Args)]
pub struct AskArgs {
    /// The question.
    pub question: String,

    /// Knowledge base name [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,

    #[command(flatten)]
    pub generation: GeneratorArgs,

    /// Payload filter FIELD=VALUE (repeatable, all must match).
    #[arg(long = "filter", value_name = "FIELD=VALUE")]
    pub filters: Vec<String>,

    /// Print the whole answer as JSON (citations, usage, timings) instead of streaming text.
    #[arg(long)]
    pub json: bool,
}

/// Who writes answers and how (`nova ask`, `nova eval --answers`).
#[derive(Debug, Args)]
pub struct GeneratorArgs {
    /// Who writes the answer [default: generation.provider].
    #[arg(long, value_enum)]
    pub generator: Option<crate::config::Provider>,

    /// The GGUF for --generator local [default: generation.model_path].
    #[arg(long, value_name = "FILE")]
    pub gguf: Option<std::path::PathBuf>,

    /// Most tokens in the answer [default: generation.max_tokens].
    #[arg(long)]
    pub max_tokens: Option<usize>,

    /// Sampling temperature, 0 = greedy [default: generation.temperature].
    #[arg(long)]
    pub temperature: Option<f32>,
}

/// `nova kb …`.
#[derive(Debug, Subcommand)]
pub enum KbCommand {
    /// Create an empty knowledge base.
    Create(KbCreateArgs),
    /// Re-seal a knowledge base under the current encryption key.
    ///
    /// After rotating the key (new key in `encryption.key_file`, the old one in
    /// `encryption.previous_key_files`), run this for every KB, then drop the old key. It also encrypts a
    /// KB written before encryption was on. Chunks, the feedback log and router files are re-sealed;
    /// vectors are untouched, so nothing is re-embedded. Stop `nova serve` first (or it holds the KB).
    Rekey(KbRekeyArgs),
    /// Write a snapshot of a knowledge base to a file.
    ///
    /// One tar archive: the store, kb.json, routers and feedback, with a manifest of every file's
    /// SHA-256. Writes to the KB wait while it is copied. While `nova serve` holds the KB, download it
    /// from the server instead: GET /v1/kbs/{kb}/snapshot (administrators of the KB).
    Snapshot(KbSnapshotArgs),
    /// Restore a snapshot as a new knowledge base.
    ///
    /// Every file is checked against the snapshot's manifest before the KB appears; a truncated or
    /// altered archive is refused and leaves nothing behind. The KB must not exist yet (`--as` picks
    /// another name). A running server finds the restored KB on its next request.
    Restore(KbRestoreArgs),
    /// Write every chunk of a knowledge base (both vectors and the stored text) to a file.
    ///
    /// JSON Lines: a header with the KB's settings, one line per chunk, an end line with the count.
    /// `nova kb import` reads it back on any store backend ([store] kind) without re-embedding: the way
    /// to move a KB between the embedded store and a Qdrant cluster, or between clusters. Sealed text
    /// stays sealed (the importing side needs the same encryption key).
    Export(KbExportArgs),
    /// Create a knowledge base from a `nova kb export` file, on the configured store backend.
    ///
    /// The file's end line is checked against the chunks read. An import that stopped midway (a
    /// truncated file, a crash) continues after its last written chunk with --resume.
    Import(KbImportArgs),
    /// Copy a knowledge base to a Qdrant cluster without re-embedding, then verify the copy.
    ///
    /// Chunks are streamed in batches of 256 in id order; an interrupted run continues where it stopped
    /// when run again with the same --to. The copy is compared with the original (chunk counts, and the
    /// dense rankings of 20 sampled chunks) and the command fails if they differ. Collections are laid
    /// out as [store] says (collection_prefix, shard_number, replication_factor, ...). Afterwards set
    /// [store] kind = "qdrant" and qdrant_urls to serve from the cluster; the embedded copy stays until
    /// you drop it.
    Migrate(KbMigrateArgs),
    /// Attach the golden query set that `nova index build` gates rebuilds on (and `nova index tune`
    /// tunes on).
    ///
    /// Either a BEIR folder (queries.jsonl + qrels/test.tsv; the corpus in it is not read into the KB)
    /// or a queries file whose lines are {"id","text","relevant":[document paths]} with the folder the
    /// paths point into. Judged documents are matched to the KB's ids; queries none of whose documents
    /// is in the KB are dropped (and counted). Replaces an earlier golden set.
    AttachEval(KbAttachEvalArgs),
}

/// `nova kb attach-eval`.
#[derive(Debug, Args)]
pub struct KbAttachEvalArgs {
    /// The knowledge base.
    pub name: String,
    /// BEIR folder with queries.jsonl and qrels/test.tsv.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "queries",
        conflicts_with = "queries"
    )]
    pub beir: Option<PathBuf>,
    /// Queries file with lines {"id","text","relevant":[document paths]} (with --docs).
    #[arg(long, value_name = "FILE", requires = "docs")]
    pub queries: Option<PathBuf>,
    /// Folder of documents the --queries paths point into.
    #[arg(long, value_name = "DIR")]
    pub docs: Option<PathBuf>,
}

/// `nova index …`.
#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Every version of a KB's index: state, parent, settings, documents, gate verdict.
    List(IndexListArgs),
    /// One version's full lineage record.
    Show(IndexShowArgs),
    /// What changed between two versions: settings, documents added/removed/changed, golden-set metrics.
    Diff(IndexDiffArgs),
    /// Build a new version beside the serving one and switch to it if it passes the eval gate.
    ///
    /// The documents are read back from the serving version and cut and indexed with the new settings
    /// (unset ones are kept). Refused versions are deleted; their record stays in the lineage. The gate's
    /// evaluation is recorded as a run (`nova runs show N`).
    Build(IndexBuildArgs),
    /// Switch back to the version that served before (or to --to N) at once.
    Rollback(IndexRollbackArgs),
    /// Pick hybrid search's fusion for the serving version by its golden-set nDCG@10.
    ///
    /// Tries the current fusion, convex α = 0.0, 0.1, …, 1.0, RRF and the adaptive default (or the
    /// --fusion list); the best
    /// becomes the version's default (a tie keeps the current one). Recorded as a run and in the lineage.
    Tune(IndexTuneArgs),
}

/// `nova drift …`.
#[derive(Debug, Subcommand)]
pub enum DriftCommand {
    /// Each drift signal now, against the reference and its threshold.
    Report(DriftArgs),
    /// Make the current window the reference (after a deliberate change of what users ask).
    Baseline(DriftArgs),
}

/// `nova drift report|baseline`.
#[derive(Debug, Args)]
pub struct DriftArgs {
    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nova ab …`.
#[derive(Debug, Subcommand)]
pub enum AbCommand {
    /// Start an A/B test of an index version against the serving one.
    Start(AbStartArgs),
    /// Searches, error rate, latency and helpful rate per arm with 95 % intervals, and each guardrail's
    /// test (two-proportion z-tests, Mann-Whitney U).
    Report(AbReportArgs),
    /// End the test; --promote makes the candidate the serving version.
    Stop(AbStopArgs),
}

/// `nova ab start`.
#[derive(Debug, Args)]
pub struct AbStartArgs {
    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,
    /// The index version under test (`nova index list`).
    #[arg(long, value_name = "N")]
    pub candidate: u32,
    /// Share of users sent to the candidate, strictly between 0 and 1.
    #[arg(long, default_value_t = 0.1)]
    pub share: f64,
    /// Hybrid fusion of the candidate arm (tests a retrieval setting).
    #[arg(long, value_name = "SPEC")]
    pub fusion: Option<String>,
    /// Searches each arm needs before error rate and latency are tested.
    #[arg(long, default_value_t = 200)]
    pub min_searches: u64,
    /// Ratings each arm needs before the helpful rate is tested.
    #[arg(long, default_value_t = 50)]
    pub min_feedback: u64,
    /// Significance level of each one-sided guardrail test.
    #[arg(long, default_value_t = 0.01)]
    pub alpha: f64,
    /// Helpful rate the candidate may fall short by before it is rolled back (absolute).
    #[arg(long, default_value_t = 0.05)]
    pub helpful_margin: f64,
    /// Error rate the candidate may exceed the control's by (absolute).
    #[arg(long, default_value_t = 0.01)]
    pub error_margin: f64,
    /// How much higher the candidate's p95 latency may be (relative: 0.25 = 25 %).
    #[arg(long, default_value_t = 0.25)]
    pub latency_margin: f64,
}

/// `nova ab report`.
#[derive(Debug, Args)]
pub struct AbReportArgs {
    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nova ab stop`.
#[derive(Debug, Args)]
pub struct AbStopArgs {
    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,
    /// Make the candidate the serving version.
    #[arg(long)]
    pub promote: bool,
}

/// `nova index list`.
#[derive(Debug, Args)]
pub struct IndexListArgs {
    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nova index show`.
#[derive(Debug, Args)]
pub struct IndexShowArgs {
    /// The version number (`nova index list`).
    pub version: u32,
    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,
}

/// `nova index diff`.
#[derive(Debug, Args)]
pub struct IndexDiffArgs {
    /// Version A.
    pub a: u32,
    /// Version B.
    pub b: u32,
    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nova index build`.
#[derive(Debug, Args)]
pub struct IndexBuildArgs {
    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,
    /// Words per chunk [default: the serving version's].
    #[arg(long, value_name = "N")]
    pub chunk_words: Option<usize>,
    /// Words repeated between the pieces of a split paragraph [default: the serving version's].
    #[arg(long, value_name = "N")]
    pub overlap_words: Option<usize>,
    /// Hybrid fusion by default in the new version: rrf, rrf:K, convex:ALPHA, zscore:ALPHA, dbsf:ALPHA,
    /// adaptive:ALPHA:SLOPE:PIVOT[:BOOST:DEPTH[:BACKING]]
    /// [default: the serving version's].
    #[arg(long, value_name = "SPEC")]
    pub fusion: Option<String>,
    /// How far below the serving version a golden-set metric may fall.
    #[arg(long, default_value_t = nova_engine::DEFAULT_GATE_THRESHOLD)]
    pub threshold: f64,
    /// Keep serving the old version even if the new one passes (switch later with rollback --to N).
    #[arg(long)]
    pub no_switch: bool,
    /// Why this version is built (kept in its lineage).
    #[arg(long)]
    pub note: Option<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nova index rollback`.
#[derive(Debug, Args)]
pub struct IndexRollbackArgs {
    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,
    /// Switch to this version instead of the previous one.
    #[arg(long, value_name = "N")]
    pub to: Option<u32>,
}

/// `nova index tune`.
#[derive(Debug, Args)]
pub struct IndexTuneArgs {
    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,
    /// Fusions to try, comma-separated [default: convex:0.0 … convex:1.0 by 0.1, rrf and
    /// adaptive:0.55:0.1:4:0.3:10:20].
    #[arg(long, value_name = "SPEC", value_delimiter = ',')]
    pub fusion: Vec<String>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nova kb export`.
#[derive(Debug, Args)]
pub struct KbExportArgs {
    /// The knowledge base.
    pub name: String,
    /// The file to write (replaced if it exists).
    #[arg(long)]
    pub out: std::path::PathBuf,
}

/// `nova kb import`.
#[derive(Debug, Args)]
pub struct KbImportArgs {
    /// A file written by `nova kb export`.
    pub file: std::path::PathBuf,
    /// Import under this name instead of the one it was exported from.
    #[arg(long = "as")]
    pub as_name: Option<String>,
    /// Continue an import that stopped midway instead of refusing the existing KB.
    #[arg(long)]
    pub resume: bool,
}

/// `nova kb migrate`.
#[derive(Debug, Args)]
pub struct KbMigrateArgs {
    /// The knowledge base (on the configured store).
    pub name: String,
    /// The cluster: `qdrant://HOST:GRPC_PORT[,HOST:GRPC_PORT...]` (or http:// gRPC URLs).
    #[arg(long)]
    pub to: String,
}

/// `nova kb snapshot`.
#[derive(Debug, Args)]
pub struct KbSnapshotArgs {
    /// The knowledge base.
    pub name: String,
    /// The archive to write (replaced if it exists).
    #[arg(long)]
    pub out: std::path::PathBuf,
}

/// `nova kb restore`.
#[derive(Debug, Args)]
pub struct KbRestoreArgs {
    /// An archive written by `nova kb snapshot`.
    pub file: std::path::PathBuf,
    /// Restore under this name instead of the one it was taken of.
    #[arg(long = "as")]
    pub as_name: Option<String>,
}

/// `nova kb rekey`.
#[derive(Debug, Args)]
pub struct KbRekeyArgs {
    /// The knowledge base.
    pub name: String,
}

/// `nova kb create`.
#[derive(Debug, Args)]
pub struct KbCreateArgs {
    /// Letters, digits, `-` and `_`; at most 64 characters.
    pub name: String,
    /// Replace personal data with placeholders in everything ingested into it, whatever
    /// `[redaction] enabled` says.
    #[arg(long)]
    pub redact_pii: bool,
}

/// `nova redact`.
#[derive(Debug, Args)]
pub struct RedactArgs {
    /// Files and folders, as for `nova ingest`.
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Report only; nothing is written (the only mode: ingest redacts when redaction is on).
    #[arg(long)]
    pub dry_run: bool,
    /// Also print each document's redacted title and text.
    #[arg(long)]
    pub show: bool,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nova delete`.
#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Document id as shown by `nova search` (the path relative to the ingested folder, or a record id).
    pub doc_id: String,

    /// Knowledge base name [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,
}

/// Where a run is recorded: the data folder's tracking store (`nova runs`), and an MLflow server when one
/// is named.
#[derive(Debug, Args, Default)]
pub struct TrackArgs {
    /// Also send the run to this MLflow tracking server (e.g. http://127.0.0.1:5000)
    /// [default: tracking.mlflow_url].
    #[arg(long, value_name = "URL")]
    pub mlflow: Option<String>,

    /// MLflow experiment [default: tracking.mlflow_experiment].
    #[arg(long, value_name = "NAME")]
    pub experiment: Option<String>,

    /// Do not record this run.
    #[arg(long)]
    pub no_track: bool,
}

/// `nova runs`.
#[derive(Debug, Subcommand)]
pub enum RunsCommand {
    /// Recorded runs, newest first.
    List(RunsListArgs),
    /// One run: parameters, tags and metrics.
    Show(RunsShowArgs),
    /// Two runs side by side: every metric with its change (B − A), and the parameters that differ.
    Compare(RunsCompareArgs),
}

/// `nova runs list`.
#[derive(Debug, Args)]
pub struct RunsListArgs {
    /// Only runs of this kind: eval, tickets-train, tickets-eval.
    #[arg(long)]
    pub kind: Option<String>,
    /// Most runs shown.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nova runs show`.
#[derive(Debug, Args)]
pub struct RunsShowArgs {
    /// The run's number (`nova runs list`).
    pub id: i64,
    /// Print JSON (with the full report).
    #[arg(long)]
    pub json: bool,
}

/// `nova runs compare`.
#[derive(Debug, Args)]
pub struct RunsCompareArgs {
    /// Run A.
    pub a: i64,
    /// Run B.
    pub b: i64,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// `nova eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// BEIR folder with corpus.jsonl, queries.jsonl and qrels/test.tsv.
    #[arg(
        long,
        value_name = "DIR",
        required_unless_present = "kb_queries",
        conflicts_with = "kb_queries"
    )]
    pub dataset: Option<PathBuf>,

    /// Queries file with lines {"id","text","relevant":[document paths]} (use with --docs).
    #[arg(long, value_name = "FILE", requires = "docs")]
    pub kb_queries: Option<PathBuf>,

    /// Folder of documents the --kb-queries paths point into.
    #[arg(long, value_name = "DIR")]
    pub docs: Option<PathBuf>,

    /// Evaluate answers instead of retrieval: how often each answer cites a judged relevant document,
    /// dropped citations, refusals, time to first token and latency.
    #[arg(long)]
    pub answers: bool,

    #[command(flatten)]
    pub generation: GeneratorArgs,

    /// Modes to evaluate, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "hybrid,dense,bm25")]
    pub modes: Vec<String>,

    /// Hybrid fusion: rrf, rrf:K, convex (α = 0.5) or convex:ALPHA (weight of the dense scores),
    /// zscore:ALPHA, dbsf:ALPHA, or adaptive:ALPHA:SLOPE:PIVOT[:BOOST:DEPTH[:BACKING]] (z-score fusion
    /// whose dense weight falls as BM25's best candidate stands out, α − SLOPE·(best/mean − PIVOT),
    /// and rises by BOOST when dense does not rank BM25's best document in its top DEPTH — with
    /// BACKING, only if BM25 ranks dense's best document in its top BACKING) [default:
    /// adaptive:0.55:0.1:4:0.3:10:20, as search uses]. Several, comma-separated, evaluate hybrid once per
    /// fusion over the same retrieved candidates (a sweep: --fusion rrf,convex:0.3,adaptive:0.55:0.1:4).
    #[arg(long, value_name = "SPEC", value_delimiter = ',')]
    pub fusion: Vec<String>,

    /// Chunks fetched from each retriever before fusion.
    #[arg(long, default_value_t = 300, value_name = "N")]
    pub candidates: usize,

    /// Expand BM25 queries with terms of their best chunks (pseudo-relevance feedback, RM3) in bm25
    /// and hybrid modes.
    #[arg(long)]
    pub prf: bool,

    /// Knowledge base to (re)use [default: eval-<dataset folder name>]; the corpus is ingested into it
    /// (a no-op when already there).
    #[arg(long)]
    pub kb: Option<String>,

    /// Write the report as JSON here.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,

    /// Write every ranking as a TREC run file here (`qid Q0 doc rank score tag`, tag = mode or
    /// `hybrid-<fusion>`), for per-query comparisons (bench/bm25_compare.py) and trec_eval.
    #[arg(long, value_name = "FILE")]
    pub runs: Option<PathBuf>,

    #[command(flatten)]
    pub track: TrackArgs,
}

/// `nova gaps`.
#[derive(Debug, Args)]
pub struct GapsArgs {
    /// Knowledge base [default: data.default_kb].
    #[arg(long)]
    pub kb: Option<String>,
    /// Questions of the last this many days.
    #[arg(long, default_value_t = 30)]
    pub days: u64,
    /// A best passage below this cosine similarity is a poor answer.
    #[arg(long, default_value_t = 0.35)]
    pub max_best: f32,
    /// How similar a question must be to a group to join it.
    #[arg(long, default_value_t = 0.7)]
    pub similarity: f32,
    /// Most groups shown.
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}
