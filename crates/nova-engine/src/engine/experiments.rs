//! A/B tests behind the front door: which version a search goes to, what each arm saw, and the
//! automatic rollback when the candidate is worse (the statistics are `crate::ab`). Files, beside the
//! KB's index versions: `versions/ab.json` (the current experiment) and `versions/<id>.events.jsonl`
//! (one line per search or rating, read back after a restart).

use super::*;
use crate::ab::{self, AbReport, Arm, Event, Experiment, ExperimentState, Guardrails, Tally};
use crate::fusion::Fusion;
use crate::versions::{no_such_version, VersionFiles, VersionState};
use std::path::PathBuf;

/// What `nova ab start` asks for.
#[derive(Debug, Clone)]
pub struct AbSpec {
    /// The index version under test (built with `nova index build --no-switch`, or the standby one).
    pub candidate: u32,
    /// Share of users sent to it, in (0, 1).
    pub share: f64,
    /// Hybrid fusion of the candidate arm (to test a retrieval setting on the same index).
    pub fusion: Option<Fusion>,
    /// When the candidate counts as worse.
    pub guardrails: Guardrails,
}

/// A running experiment with its candidate index open and its tally.
pub(crate) struct Live {
    exp: Mutex<Experiment>,
    candidate: Arc<KnowledgeBase>,
    tally: Mutex<Tally>,
    log: PathBuf,
}

/// A request's arm, with the experiment it belongs to.
pub(crate) type OnArm = Option<(Arc<Live>, Arm)>;

fn ab_file(layout: &DataLayout, name: &KbName) -> PathBuf {
    layout.versions_dir(name.as_str()).join("ab.json")
}

fn events_file(layout: &DataLayout, name: &KbName, id: &str) -> PathBuf {
    layout
        .versions_dir(name.as_str())
        .join(format!("{id}.events.jsonl"))
}

/// An error the serving side caused (not the caller's input or rights): what the error-rate guardrail
/// counts.
fn server_side(e: &EngineError) -> bool {
    matches!(
        e,
        EngineError::Store(_)
            | EngineError::Embed(_)
            | EngineError::Internal(_)
            | EngineError::Payload(_)
            | EngineError::Io { .. }
            | EngineError::Encryption(_)
            | EngineError::WrongKey { .. }
            | EngineError::NoModel
    )
}

impl Engine {
    /// Starts an A/B test on `name`: `spec.share` of users (sticky by session id, else by caller) search
    /// the candidate version, the rest the serving one. Administrators of the KB.
    pub fn start_experiment(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        spec: &AbSpec,
    ) -> Result<Experiment> {
        ctx.principal.require(Role::Admin, Some(name))?;
        if !(spec.share > 0.0 && spec.share < 1.0) {
            return Err(EngineError::Invalid(format!(
                "the candidate's share must be between 0 and 1 (exclusive), got {}",
                spec.share
            )));
        }
        let serving = self.kb(name)?;
        if let Some(live) = self.live(name)? {
            let exp = live.exp.lock();
            if exp.state == ExperimentState::Running {
                return Err(EngineError::Invalid(format!(
                    "knowledge base `{name}` already runs experiment {} (nova ab stop --kb {name} \
                     first)",
                    exp.id
                )));
            }
        }
        if spec.candidate == serving.version() {
            return Err(EngineError::Invalid(format!(
                "version {} already serves `{name}`: test another one",
                spec.candidate
            )));
        }
        let record = VersionFiles::new(&self.layout, name.as_str())
            .record(spec.candidate)?
            .ok_or_else(|| no_such_version(name.as_str(), spec.candidate))?;
        if matches!(record.state, VersionState::Refused | VersionState::Retired) {
            return Err(EngineError::Invalid(format!(
                "version {} of `{name}` has no index any more; build one with `nova index build \
                 --no-switch`",
                spec.candidate
            )));
        }
        // A rolled-back experiment on the same version still holds its index open (a store opens once).
        let candidate = match self.ab_candidate(name, spec.candidate) {
            Some(open) => open,
            None => {
                self.experiments.write().remove(name);
                self.open_version(&name.version(spec.candidate), serving.lock())?
            }
        };
        let started_at = crate::tasks::now();
        // Unique among this KB's experiments: the id keys the event log and every assignment.
        let id = (0..)
            .map(|n| match n {
                0 => format!("ab-{started_at}"),
                n => format!("ab-{started_at}-{n}"),
            })
            .find(|id| !events_file(&self.layout, name, id).exists())
            .unwrap_or_default();
        let exp = Experiment {
            id,
            control: serving.version(),
            candidate: spec.candidate,
            fusion: spec.fusion.map(|f| f.to_string()),
            share: spec.share,
            started_at,
            state: ExperimentState::Running,
            reason: None,
            guardrails: spec.guardrails,
        };
        crate::files::write_json_atomic(&ab_file(&self.layout, name), &exp)?;
        let live = Live {
            log: events_file(&self.layout, name, &exp.id),
            tally: Mutex::new(Tally::default()),
            exp: Mutex::new(exp.clone()),
            candidate,
        };
        self.experiments
            .write()
            .insert(name.clone(), Some(Arc::new(live)));
        self.auditor.record(ctx, "ab.start", Some(name), |e| {
            e.detail(
                serde_json::json!({"id": exp.id, "candidate": exp.candidate, "share": exp.share}),
            )
        })?;
        Ok(exp)
    }

    /// Ends `name`'s experiment; with `promote` the candidate becomes the serving version.
    pub fn stop_experiment(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        promote: bool,
    ) -> Result<Experiment> {
        ctx.principal.require(Role::Admin, Some(name))?;
        let exp = self.current_experiment(name)?.ok_or_else(|| {
            EngineError::Invalid(format!("knowledge base `{name}` has no A/B test"))
        })?;
        let mut exp = exp;
        if exp.state == ExperimentState::Running {
            exp.state = if promote {
                ExperimentState::Promoted
            } else {
                ExperimentState::Stopped
            };
            exp.reason = Some(format!("stopped by {}", ctx.principal.subject));
        }
        crate::files::write_json_atomic(&ab_file(&self.layout, name), &exp)?;
        self.experiments.write().insert(name.clone(), None);
        if promote {
            self.switch_version(ctx, name, Some(exp.candidate))?;
        }
        self.auditor.record(ctx, "ab.stop", Some(name), |e| {
            e.detail(serde_json::json!({"id": exp.id, "promote": promote}))
        })?;
        Ok(exp)
    }

    /// The experiment's figures per arm and its guardrail tests (editors of the KB).
    pub fn ab_report(&self, ctx: &RequestCtx, name: &KbName) -> Result<AbReport> {
        ctx.principal.require(Role::Editor, Some(name))?;
        self.kb(name)?;
        if let Some(live) = self.live(name)? {
            let exp = live.exp.lock().clone();
            return Ok(ab::report(&exp, &live.tally.lock()));
        }
        // Ended (or run by another process): figures from its log.
        let exp = self.current_experiment(name)?.ok_or_else(|| {
            EngineError::Invalid(format!(
                "knowledge base `{name}` has no A/B test (nova ab start --kb {name} --candidate N)"
            ))
        })?;
        let tally = Tally::load(&events_file(&self.layout, name, &exp.id))?;
        Ok(ab::report(&exp, &tally))
    }

    /// The last experiment recorded for `name`, running or not.
    fn current_experiment(&self, name: &KbName) -> Result<Option<Experiment>> {
        let path = ab_file(&self.layout, name);
        if path.is_file() {
            crate::files::read_json(&path).map(Some)
        } else {
            Ok(None)
        }
    }

    /// `name`'s running experiment, opened from its files on first use.
    fn live(&self, name: &KbName) -> Result<Option<Arc<Live>>> {
        if let Some(known) = self.experiments.read().get(name) {
            return Ok(known.clone());
        }
        let live = match self.current_experiment(name) {
            Ok(Some(exp)) if exp.state == ExperimentState::Running => {
                let serving = self.kb(name)?;
                let log = events_file(&self.layout, name, &exp.id);
                let opened = self
                    .open_version(&name.version(exp.candidate), serving.lock())
                    .and_then(|candidate| Ok((candidate, Tally::load(&log)?)));
                match opened {
                    Ok((candidate, tally)) => Some(Arc::new(Live {
                        tally: Mutex::new(tally),
                        log,
                        exp: Mutex::new(exp),
                        candidate,
                    })),
                    // Searches must not fail for an experiment that cannot run (its candidate dropped
                    // by hand, an unreadable log): everyone stays on the serving version.
                    Err(e) => {
                        tracing::warn!(kb = %name, experiment = %exp.id, "A/B test not resumed, all traffic on control: {e}");
                        None
                    }
                }
            }
            Ok(_) => None,
            Err(e) => {
                tracing::warn!(kb = %name, "A/B test file unreadable, all traffic on control: {e}");
                None
            }
        };
        self.experiments.write().insert(name.clone(), live.clone());
        Ok(live)
    }

    /// The candidate index a running A/B test of `name` holds open, when it is version `n`.
    pub(super) fn ab_candidate(&self, name: &KbName, n: u32) -> Option<Arc<KnowledgeBase>> {
        let live = self.experiments.read().get(name).cloned().flatten()?;
        (live.candidate.version() == n).then(|| live.candidate.clone())
    }

    /// The arm `ctx`'s user is on while `name` runs an experiment, and the index that arm searches.
    pub(super) fn arm_for(&self, ctx: &RequestCtx, name: &KbName) -> Result<OnArm> {
        let Some(live) = self.live(name)? else {
            return Ok(None);
        };
        let exp = live.exp.lock();
        if exp.state != ExperimentState::Running {
            return Ok(None);
        }
        let unit = ctx.session.as_deref().unwrap_or(&ctx.principal.subject);
        let arm = exp.arm(unit);
        drop(exp);
        Ok(Some((live, arm)))
    }

    /// The index a search of `name` by `ctx` goes to, the options it runs with and its arm.
    pub(super) fn routed<'o>(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        opts: &'o SearchOptions,
    ) -> Result<(Arc<KnowledgeBase>, Cow<'o, SearchOptions>, OnArm)> {
        let arm = self.arm_for(ctx, name)?;
        let mut opts = Cow::Borrowed(opts);
        let kb = match &arm {
            Some((live, Arm::Candidate)) => {
                // The arm's fusion, when it tests one and the request named none (the only copy made).
                let fusion = live
                    .exp
                    .lock()
                    .fusion
                    .as_deref()
                    .and_then(|f| f.parse().ok());
                if opts.fusion.is_none() && fusion.is_some() {
                    opts.to_mut().fusion = fusion;
                }
                live.candidate.clone()
            }
            _ => self.kb(name)?,
        };
        Ok((kb, opts, arm))
    }

    /// Counts a search's outcome for its arm.
    pub(super) fn record_search<T>(
        &self,
        name: &KbName,
        arm: OnArm,
        result: &Result<T>,
        started: Instant,
    ) {
        if let Some((live, arm)) = arm {
            let ok = !result.as_ref().is_err_and(server_side);
            let ms = started.elapsed().as_secs_f64() * 1000.0;
            self.record_event(name, &live, Event::Search { arm, ok, ms });
        }
    }

    /// Counts a rating for the rater's arm; the arm, while a test runs.
    pub(super) fn record_rating(
        &self,
        ctx: &RequestCtx,
        name: &KbName,
        helpful: bool,
    ) -> Option<Arm> {
        match self.arm_for(ctx, name) {
            Ok(Some((live, arm))) => {
                self.record_event(name, &live, Event::Feedback { arm, helpful });
                Some(arm)
            }
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(kb = %name, "A/B rating not counted: {e}");
                None
            }
        }
    }

    /// Logs and counts an event; at each look, rolls the candidate back when a guardrail fires.
    fn record_event(&self, name: &KbName, live: &Live, event: Event) {
        let every = live.exp.lock().guardrails.check_every;
        let report = {
            let mut tally = live.tally.lock();
            // Under the tally's lock: one appender at a time keeps the log's lines whole.
            if let Err(e) = crate::sealed_log::append(&live.log, &event, None, &ab::EVENTS) {
                tracing::warn!(kb = %name, "A/B event not logged: {e}");
            }
            if !tally.add(&event, every) {
                return;
            }
            ab::report(&live.exp.lock(), &tally)
        };
        let fired: Vec<String> = report
            .tests
            .iter()
            .filter(|t| t.worse)
            .map(|t| {
                format!(
                    "{}: control {:.4}, candidate {:.4} (p = {:.2e})",
                    t.metric,
                    t.control,
                    t.candidate,
                    t.p_value.unwrap_or(1.0)
                )
            })
            .collect();
        if fired.is_empty() {
            return;
        }
        let exp = {
            let mut exp = live.exp.lock();
            if exp.state != ExperimentState::Running {
                return;
            }
            exp.state = ExperimentState::RolledBack;
            exp.reason = Some(format!("candidate worse on {}", fired.join("; ")));
            exp.clone()
        };
        tracing::warn!(kb = %name, experiment = %exp.id, reason = ?exp.reason, "A/B candidate rolled back");
        if let Err(e) = crate::files::write_json_atomic(&ab_file(&self.layout, name), &exp) {
            tracing::warn!(kb = %name, "the rollback was not saved: {e}");
        }
        let ctx = RequestCtx::internal("ab-guardrail");
        let audited = self.auditor.record(&ctx, "ab.rollback", Some(name), |e| {
            e.detail(serde_json::json!({"id": exp.id, "reason": exp.reason}))
        });
        if let Err(e) = audited {
            tracing::warn!(kb = %name, "the rollback was not audited: {e}");
        }
    }
}
