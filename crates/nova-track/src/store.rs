//! The local run store: one SQLite file (`<data>/tracking/runs.sqlite`), runs numbered 1, 2, … in the order
//! they were recorded. Writes are one transaction each, so a run is stored whole or not at all.

use crate::{Result, TrackError};
use rusqlite::{params, Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// A run to record.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct NewRun {
    /// `eval`, `eval-answers`, `tickets-train` or `tickets-eval`.
    pub kind: String,
    /// A readable name, e.g. `eval scifact`.
    pub name: String,
    /// Unix seconds.
    pub started_at: u64,
    /// Unix seconds.
    pub ended_at: u64,
    /// What the run was given.
    pub params: BTreeMap<String, String>,
    /// What it measured.
    pub metrics: BTreeMap<String, f64>,
    /// Where and with what it ran (machine, binary version).
    pub tags: BTreeMap<String, String>,
    /// The whole report, as the command would write it with `--out`.
    pub report: serde_json::Value,
}

/// A recorded run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Run {
    /// Its number in this store.
    pub id: i64,
    /// The run's id at the MLflow server it was sent to, if any.
    pub mlflow_run_id: Option<String>,
    /// Everything recorded.
    #[serde(flatten)]
    pub run: NewRun,
}

/// One line of `nova runs list`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunSummary {
    /// Its number.
    pub id: i64,
    /// Its kind.
    pub kind: String,
    /// Its name.
    pub name: String,
    /// Unix seconds.
    pub started_at: u64,
    /// Seconds it took.
    pub seconds: u64,
    /// The metric the kind is judged by (`nDCG@10` of the first mode, accuracy, …), when present.
    pub headline: Option<(String, f64)>,
}

/// The store.
pub struct RunStore {
    path: PathBuf,
    conn: Mutex<Connection>,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    ended_at INTEGER NOT NULL,
    report TEXT NOT NULL,
    mlflow_run_id TEXT
);
CREATE TABLE IF NOT EXISTS params (run_id INTEGER NOT NULL REFERENCES runs(id), key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));
CREATE TABLE IF NOT EXISTS metrics (run_id INTEGER NOT NULL REFERENCES runs(id), key TEXT NOT NULL, value REAL NOT NULL, PRIMARY KEY (run_id, key));
CREATE TABLE IF NOT EXISTS tags (run_id INTEGER NOT NULL REFERENCES runs(id), key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (run_id, key));
";

/// The metric `nova runs list` shows for a run of `kind`, by key order of preference.
fn headline_keys(kind: &str) -> &'static [&'static str] {
    match kind {
        "eval" => &["ndcg_at_10"],
        "tickets-train" | "tickets-eval" => &["accuracy"],
        "eval-answers" => &["faithfulness", "citation_precision"],
        _ => &[],
    }
}

impl RunStore {
    /// Opens (creating when needed) the store at `path`.
    pub fn open(path: &Path) -> Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| TrackError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let err = |source| TrackError::Store {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(err)?;
        // WAL: a `nova runs list` never waits for an evaluation that is recording.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(err)?;
        conn.pragma_update(None, "busy_timeout", 5000)
            .map_err(err)?;
        conn.execute_batch(SCHEMA).map_err(err)?;
        Ok(Self {
            path: path.to_path_buf(),
            conn: Mutex::new(conn),
        })
    }

    fn err(&self) -> impl Fn(rusqlite::Error) -> TrackError + '_ {
        |source| TrackError::Store {
            path: self.path.clone(),
            source,
        }
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock leaves SQLite consistent (transactions roll back).
        self.conn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Records `run`; returns its number.
    pub fn record(&self, run: &NewRun) -> Result<i64> {
        let mut conn = self.conn();
        let tx = conn.transaction().map_err(self.err())?;
        tx.execute(
            "INSERT INTO runs (kind, name, started_at, ended_at, report) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                run.kind,
                run.name,
                run.started_at as i64,
                run.ended_at as i64,
                serde_json::to_string(&run.report)?
            ],
        )
        .map_err(self.err())?;
        let id = tx.last_insert_rowid();
        for (table, pairs) in [("params", &run.params), ("tags", &run.tags)] {
            for (k, v) in pairs {
                tx.execute(
                    &format!("INSERT INTO {table} (run_id, key, value) VALUES (?1, ?2, ?3)"),
                    params![id, k, v],
                )
                .map_err(self.err())?;
            }
        }
        // SQLite stores NaN as NULL: a metric that is not a number is not recorded.
        for (k, v) in run.metrics.iter().filter(|(_, v)| v.is_finite()) {
            tx.execute(
                "INSERT INTO metrics (run_id, key, value) VALUES (?1, ?2, ?3)",
                params![id, k, v],
            )
            .map_err(self.err())?;
        }
        tx.commit().map_err(self.err())?;
        Ok(id)
    }

    /// Notes the id MLflow gave run `id`.
    pub fn set_mlflow_run_id(&self, id: i64, mlflow_run_id: &str) -> Result<()> {
        self.conn()
            .execute(
                "UPDATE runs SET mlflow_run_id = ?1 WHERE id = ?2",
                params![mlflow_run_id, id],
            )
            .map_err(self.err())?;
        Ok(())
    }

    /// The latest `limit` runs (of `kind`, when given), newest first.
    pub fn list(&self, kind: Option<&str>, limit: usize) -> Result<Vec<RunSummary>> {
        let conn = self.conn();
        let mut stmt = conn
            .prepare(
                "SELECT id, kind, name, started_at, ended_at FROM runs
                 WHERE ?1 IS NULL OR kind = ?1 ORDER BY id DESC LIMIT ?2",
            )
            .map_err(self.err())?;
        let rows = stmt
            .query_map(params![kind, limit as i64], |r| {
                Ok(RunSummary {
                    id: r.get(0)?,
                    kind: r.get(1)?,
                    name: r.get(2)?,
                    started_at: r.get::<_, i64>(3)? as u64,
                    seconds: (r.get::<_, i64>(4)? - r.get::<_, i64>(3)?).max(0) as u64,
                    headline: None,
                })
            })
            .map_err(self.err())?
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(self.err())?;
        let mut out = Vec::with_capacity(rows.len());
        for mut row in rows {
            let metrics = Self::pairs::<f64>(&conn, "metrics", row.id).map_err(self.err())?;
            row.headline = headline_keys(&row.kind).iter().find_map(|k| {
                // Evaluations key metrics by ranking (`hybrid.ndcg_at_10`): the default mode's first.
                let mut found: Vec<(&String, &f64)> = metrics
                    .iter()
                    .filter(|(key, _)| key.as_str() == *k || key.ends_with(&format!(".{k}")))
                    .collect();
                found.sort_by_key(|(key, _)| !key.starts_with("hybrid"));
                found.first().map(|(key, v)| ((*key).clone(), **v))
            });
            out.push(row);
        }
        Ok(out)
    }

    fn pairs<T: rusqlite::types::FromSql>(
        conn: &Connection,
        table: &str,
        id: i64,
    ) -> rusqlite::Result<BTreeMap<String, T>> {
        let mut stmt = conn.prepare(&format!(
            "SELECT key, value FROM {table} WHERE run_id = ?1 ORDER BY rowid"
        ))?;
        let rows = stmt.query_map(params![id], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect()
    }

    /// Run `id`.
    pub fn get(&self, id: i64) -> Result<Run> {
        let conn = self.conn();
        let head = conn
            .query_row(
                "SELECT kind, name, started_at, ended_at, report, mlflow_run_id FROM runs WHERE id = ?1",
                params![id],
                |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, i64>(2)?,
                        r.get::<_, i64>(3)?,
                        r.get::<_, String>(4)?,
                        r.get::<_, Option<String>>(5)?,
                    ))
                },
            )
            .optional()
            .map_err(self.err())?
            .ok_or_else(|| TrackError::NoSuchRun(id.to_string()))?;
        let (kind, name, started_at, ended_at, report, mlflow_run_id) = head;
        Ok(Run {
            id,
            mlflow_run_id,
            run: NewRun {
                kind,
                name,
                started_at: started_at as u64,
                ended_at: ended_at as u64,
                params: Self::pairs(&conn, "params", id).map_err(self.err())?,
                metrics: Self::pairs(&conn, "metrics", id).map_err(self.err())?,
                tags: Self::pairs(&conn, "tags", id).map_err(self.err())?,
                report: serde_json::from_str(&report)?,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(kind: &str, ndcg: f64) -> NewRun {
        NewRun {
            kind: kind.into(),
            name: format!("{kind} set"),
            started_at: 100,
            ended_at: 130,
            params: BTreeMap::from([("fusion".into(), "convex:0.6".into())]),
            metrics: BTreeMap::from([
                ("hybrid.ndcg_at_10".into(), ndcg),
                ("dense.ndcg_at_10".into(), 0.5),
            ]),
            tags: BTreeMap::from([("host".into(), "box".into())]),
            report: serde_json::json!({ "modes": [] }),
        }
    }

    #[test]
    fn runs_round_trip_survive_reopening_and_list_newest_first() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("tracking/runs.sqlite");
        let store = RunStore::open(&path).expect("open");
        let a = store.record(&run("eval", 0.7)).expect("a");
        let b = store.record(&run("tickets-train", 0.0)).expect("b");
        assert_eq!((a, b), (1, 2));
        store.set_mlflow_run_id(a, "abc").expect("mlflow id");
        drop(store);
        let store = RunStore::open(&path).expect("reopen");
        let got = store.get(a).expect("get");
        assert_eq!(got.mlflow_run_id.as_deref(), Some("abc"));
        assert_eq!(got.run.metrics["hybrid.ndcg_at_10"], 0.7);
        assert_eq!(got.run.params["fusion"], "convex:0.6");
        assert_eq!(got.run.tags["host"], "box");
        let all = store.list(None, 10).expect("list");
        assert_eq!(all.iter().map(|r| r.id).collect::<Vec<_>>(), [2, 1]);
        assert_eq!(all[1].seconds, 30);
        assert_eq!(all[1].headline, Some(("hybrid.ndcg_at_10".into(), 0.7)));
        let evals = store.list(Some("eval"), 10).expect("list");
        assert_eq!(evals.len(), 1);
        assert!(matches!(store.get(9), Err(TrackError::NoSuchRun(_))));
    }
}
