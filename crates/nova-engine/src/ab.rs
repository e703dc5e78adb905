//! A/B tests of index versions: sticky assignment of users to arms, per-arm figures with confidence
//! intervals, and the guardrail tests that roll a worse candidate back on their own.
//!
//! - Assignment: SHA-256 of (experiment id, unit) — the unit is the client's session id when it sends
//!   one, else the caller's subject — mapped to [0, 1): below the share is the candidate. Sticky for a
//!   unit for the life of the experiment, independent between experiments.
//! - Rates (error, helpful) get Wilson score intervals (95 %).
//! - Guardrails, each one-sided at level α, checked every `check_every` events once both arms have
//!   their minimum samples:
//!   - error rate: two-proportion z-test of H0 p_cand − p_ctrl ≤ margin;
//!   - helpful rate: two-proportion z-test of H0 p_ctrl − p_cand ≤ margin;
//!   - latency: the candidate's p95 above the control's by more than the relative margin, *and* a
//!     Mann-Whitney U test (normal approximation, ties averaged) says its latencies are stochastically
//!     larger.
//!
//!   Looking repeatedly inflates the false-alarm rate of a fixed-level test, so the default α is 0.01
//!   and looks are spaced; a rollback costs little (the control keeps serving), a missed regression more.

use crate::error::{EngineError, Result};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::VecDeque;
use std::path::Path;

/// Which side of an experiment a request is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Arm {
    /// The serving version.
    Control,
    /// The version under test.
    Candidate,
}

impl Arm {
    /// `control` or `candidate`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Control => "control",
            Self::Candidate => "candidate",
        }
    }

    fn index(self) -> usize {
        match self {
            Self::Control => 0,
            Self::Candidate => 1,
        }
    }
}

/// Where an experiment stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ExperimentState {
    /// Traffic is split.
    Running,
    /// A guardrail fired: all traffic is back on the control.
    RolledBack,
    /// Stopped by an administrator.
    Stopped,
    /// Stopped, and the candidate now serves.
    Promoted,
}

/// When the candidate counts as worse.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Guardrails {
    /// Searches each arm needs before error rate and latency are tested.
    pub min_searches: u64,
    /// Rated results each arm needs before the helpful rate is tested.
    pub min_feedback: u64,
    /// Error rate the candidate may exceed the control's by (absolute, e.g. 0.01 = one point).
    pub error_margin: f64,
    /// How much higher the candidate's p95 latency may be (relative, 0.25 = 25 %).
    pub latency_margin: f64,
    /// Helpful rate the candidate may fall short of the control's by (absolute).
    pub helpful_margin: f64,
    /// Significance level of each one-sided test.
    pub alpha: f64,
    /// Events between two looks.
    pub check_every: u64,
}

impl Default for Guardrails {
    fn default() -> Self {
        Self {
            min_searches: 200,
            min_feedback: 50,
            error_margin: 0.01,
            latency_margin: 0.25,
            helpful_margin: 0.05,
            alpha: 0.01,
            check_every: 50,
        }
    }
}

/// An experiment on one KB.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Experiment {
    /// Its id (`ab-<unix seconds>`): part of every assignment's hash.
    pub id: String,
    /// The version the control arm searches when the experiment started.
    pub control: u32,
    /// The index version under test.
    pub candidate: u32,
    /// Hybrid fusion of the candidate arm (a retrieval-config test); `None`: the candidate version's.
    pub fusion: Option<String>,
    /// Share of units sent to the candidate, in (0, 1).
    pub share: f64,
    /// Unix seconds.
    pub started_at: u64,
    /// Where it stands.
    pub state: ExperimentState,
    /// Why it ended (the guardrail that fired, or who stopped it).
    pub reason: Option<String>,
    /// When the candidate counts as worse.
    pub guardrails: Guardrails,
}

impl Experiment {
    /// The arm `unit` is on (sticky).
    pub fn arm(&self, unit: &str) -> Arm {
        assign(&self.id, unit, self.share)
    }
}

/// The arm of `unit` in experiment `id` with `share` of units on the candidate.
pub fn assign(id: &str, unit: &str, share: f64) -> Arm {
    let digest = Sha256::new()
        .chain_update(id.as_bytes())
        .chain_update([0])
        .chain_update(unit.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    // 53 bits: an exact double in [0, 1).
    let x = (u64::from_be_bytes(first) >> 11) as f64 / (1u64 << 53) as f64;
    if x < share {
        Arm::Candidate
    } else {
        Arm::Control
    }
}

/// One recorded event (a line of the experiment's event log).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum Event {
    /// A search served (or failed on the server's side).
    Search { arm: Arm, ok: bool, ms: f64 },
    /// A result rated: helpful (or resolved) or not.
    Feedback { arm: Arm, helpful: bool },
}

/// What an arm has seen.
#[derive(Debug, Clone, Default)]
pub(crate) struct ArmStats {
    searches: u64,
    errors: u64,
    latencies: VecDeque<f64>,
    feedback: u64,
    helpful: u64,
}

/// Latencies kept per arm for the percentile and the rank test: the most recent this many.
const LATENCY_WINDOW: usize = 20_000;

impl ArmStats {
    fn add(&mut self, event: &Event) {
        match *event {
            Event::Search { ok, ms, .. } => {
                self.searches += 1;
                if ok {
                    if self.latencies.len() == LATENCY_WINDOW {
                        self.latencies.pop_front();
                    }
                    self.latencies.push_back(ms);
                } else {
                    self.errors += 1;
                }
            }
            Event::Feedback { helpful, .. } => {
                self.feedback += 1;
                self.helpful += u64::from(helpful);
            }
        }
    }
}

/// Both arms' figures and the event count.
#[derive(Debug, Clone, Default)]
pub(crate) struct Tally {
    arms: [ArmStats; 2],
    events: u64,
}

impl Tally {
    /// Counts an event; true when it is time to look.
    pub fn add(&mut self, event: &Event, every: u64) -> bool {
        let arm = match event {
            Event::Search { arm, .. } | Event::Feedback { arm, .. } => *arm,
        };
        self.arms[arm.index()].add(event);
        self.events += 1;
        self.events.is_multiple_of(every.max(1))
    }

    /// Reads an experiment's event log (absent: nothing yet).
    pub fn load(path: &Path) -> Result<Self> {
        let mut tally = Self::default();
        let text = match fs_err::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(tally),
            Err(source) => {
                return Err(EngineError::Io {
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        // A line cut by a crash is skipped: the rest still counts.
        for event in text.lines().filter_map(|l| serde_json::from_str(l).ok()) {
            tally.add(&event, u64::MAX);
        }
        Ok(tally)
    }
}

/// The event log holds no user text: nothing sealed; not synced (analytics: a crash loses at most the
/// last few events).
pub(crate) const EVENTS: crate::sealed_log::LogKind = crate::sealed_log::LogKind {
    typed_by_user: |_| false,
    context: "ab-events",
    durable: false,
};

/// One arm's figures.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ArmReport {
    /// The arm.
    pub arm: Arm,
    /// Its index version.
    pub version: u32,
    /// Searches served to it (impressions).
    pub searches: u64,
    /// Searches that failed on the server's side.
    pub errors: u64,
    /// errors / searches, with its 95 % Wilson interval.
    pub error_rate: Rate,
    /// Median latency of its successful searches, milliseconds.
    pub latency_p50_ms: f64,
    /// 95th percentile, milliseconds.
    pub latency_p95_ms: f64,
    /// Results rated (clicks on a verdict).
    pub feedback: u64,
    /// Ratings per search.
    pub feedback_per_search: f64,
    /// (helpful + resolved) / rated, with its 95 % Wilson interval.
    pub helpful_rate: Rate,
}

/// A proportion with its 95 % Wilson score interval.
#[derive(Debug, Clone, Copy, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rate {
    /// Successes / trials (0 when there were none).
    pub value: f64,
    /// Lower bound.
    pub low: f64,
    /// Upper bound.
    pub high: f64,
}

impl Rate {
    fn wilson(k: u64, n: u64) -> Self {
        if n == 0 {
            return Self {
                value: 0.0,
                low: 0.0,
                high: 1.0,
            };
        }
        let (k, n, z) = (k as f64, n as f64, 1.959_963_984_540_054);
        let p = k / n;
        let centre = (p + z * z / (2.0 * n)) / (1.0 + z * z / n);
        let half = z * ((p * (1.0 - p) + z * z / (4.0 * n)) / n).sqrt() / (1.0 + z * z / n);
        Self {
            value: p,
            low: (centre - half).max(0.0),
            high: (centre + half).min(1.0),
        }
    }
}

/// One guardrail's test.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GuardTest {
    /// `error_rate`, `latency_p95` or `helpful_rate`.
    pub metric: String,
    /// The test used.
    pub test: String,
    /// Control's and candidate's value.
    pub control: f64,
    /// The candidate's.
    pub candidate: f64,
    /// One-sided p-value (`None` until both arms have their minimum samples).
    pub p_value: Option<f64>,
    /// Worse beyond the margin with p < α.
    pub worse: bool,
}

/// Per-arm figures and the guardrail tests.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AbReport {
    /// The experiment.
    pub experiment: Experiment,
    /// The serving version's arm.
    pub control: ArmReport,
    /// The candidate's arm.
    pub candidate: ArmReport,
    /// Each guardrail's test now.
    pub tests: Vec<GuardTest>,
}

fn percentile(sorted: &[f64], q: f64) -> f64 {
    nova_core::percentile(sorted, q).unwrap_or(0.0)
}

fn arm_report(arm: Arm, version: u32, s: &ArmStats) -> ArmReport {
    let mut lat: Vec<f64> = s.latencies.iter().copied().collect();
    lat.sort_by(f64::total_cmp);
    ArmReport {
        arm,
        version,
        searches: s.searches,
        errors: s.errors,
        error_rate: Rate::wilson(s.errors, s.searches),
        latency_p50_ms: percentile(&lat, 0.5),
        latency_p95_ms: percentile(&lat, 0.95),
        feedback: s.feedback,
        feedback_per_search: if s.searches == 0 {
            0.0
        } else {
            s.feedback as f64 / s.searches as f64
        },
        helpful_rate: Rate::wilson(s.helpful, s.feedback),
    }
}

/// Standard normal upper tail.
fn upper_tail(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function (Numerical Recipes' erfcc, |error| < 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let r = t
        * (-z * z - 1.265_512_23
            + t * (1.000_023_68
                + t * (0.374_091_96
                    + t * (0.096_784_18
                        + t * (-0.186_288_06
                            + t * (0.278_868_07
                                + t * (-1.135_203_98
                                    + t * (1.488_515_87
                                        + t * (-0.822_152_23 + t * 0.170_872_77)))))))))
            .exp();
    if x >= 0.0 {
        r
    } else {
        2.0 - r
    }
}

/// p-value of H0: p_worse − p_better ≤ margin, from k successes in n trials each (pooled-variance
/// z-test, the difference shifted by the margin).
fn proportion_test(k_worse: u64, n_worse: u64, k_better: u64, n_better: u64, margin: f64) -> f64 {
    let (kw, nw, kb, nb) = (
        k_worse as f64,
        n_worse as f64,
        k_better as f64,
        n_better as f64,
    );
    let (pw, pb) = (kw / nw, kb / nb);
    let pooled = (kw + kb) / (nw + nb);
    let se = (pooled * (1.0 - pooled) * (1.0 / nw + 1.0 / nb)).sqrt();
    if se == 0.0 {
        return if pw - pb > margin { 0.0 } else { 1.0 };
    }
    upper_tail((pw - pb - margin) / se)
}

/// p-value of H0: candidate latencies are not stochastically larger than control's (Mann-Whitney U,
/// normal approximation with midranks for ties).
fn mann_whitney_greater(candidate: &[f64], control: &[f64]) -> f64 {
    let (n1, n2) = (candidate.len() as f64, control.len() as f64);
    let mut all: Vec<(f64, bool)> = candidate
        .iter()
        .map(|&x| (x, true))
        .chain(control.iter().map(|&x| (x, false)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < all.len() {
        let mut j = i;
        while j + 1 < all.len() && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let midrank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += all[i..=j].iter().filter(|(_, c)| *c).count() as f64 * midrank;
        i = j + 1;
    }
    let u = rank_sum - n1 * (n1 + 1.0) / 2.0;
    let sd = (n1 * n2 * (n1 + n2 + 1.0) / 12.0).sqrt();
    if sd == 0.0 {
        return 1.0;
    }
    upper_tail((u - n1 * n2 / 2.0) / sd)
}

/// The report, with each guardrail's test.
pub(crate) fn report(exp: &Experiment, tally: &Tally) -> AbReport {
    let [ctrl, cand] = &tally.arms;
    let g = &exp.guardrails;
    let control = arm_report(Arm::Control, exp.control, ctrl);
    let candidate = arm_report(Arm::Candidate, exp.candidate, cand);
    let enough_searches = ctrl.searches >= g.min_searches && cand.searches >= g.min_searches;
    let enough_feedback = ctrl.feedback >= g.min_feedback && cand.feedback >= g.min_feedback;
    let mut tests = Vec::new();
    let p = enough_searches.then(|| {
        proportion_test(
            cand.errors,
            cand.searches,
            ctrl.errors,
            ctrl.searches,
            g.error_margin,
        )
    });
    tests.push(GuardTest {
        metric: "error_rate".into(),
        test: format!(
            "two-proportion z-test, one-sided, margin {}",
            g.error_margin
        ),
        control: control.error_rate.value,
        candidate: candidate.error_rate.value,
        p_value: p,
        worse: p.is_some_and(|p| p < g.alpha),
    });
    let slower = candidate.latency_p95_ms > control.latency_p95_ms * (1.0 + g.latency_margin);
    let enough_latencies = !cand.latencies.is_empty() && !ctrl.latencies.is_empty();
    let p = (enough_searches && enough_latencies).then(|| {
        let (c, k): (Vec<f64>, Vec<f64>) = (
            cand.latencies.iter().copied().collect(),
            ctrl.latencies.iter().copied().collect(),
        );
        mann_whitney_greater(&c, &k)
    });
    tests.push(GuardTest {
        metric: "latency_p95".into(),
        test: format!(
            "p95 above control by > {:.0} % and Mann-Whitney U, one-sided",
            g.latency_margin * 100.0
        ),
        control: control.latency_p95_ms,
        candidate: candidate.latency_p95_ms,
        p_value: p,
        worse: slower && p.is_some_and(|p| p < g.alpha),
    });
    let p = enough_feedback.then(|| {
        proportion_test(
            ctrl.helpful,
            ctrl.feedback,
            cand.helpful,
            cand.feedback,
            g.helpful_margin,
        )
    });
    tests.push(GuardTest {
        metric: "helpful_rate".into(),
        test: format!(
            "two-proportion z-test, one-sided, margin {}",
            g.helpful_margin
        ),
        control: control.helpful_rate.value,
        candidate: candidate.helpful_rate.value,
        p_value: p,
        worse: p.is_some_and(|p| p < g.alpha),
    });
    AbReport {
        experiment: exp.clone(),
        control,
        candidate,
        tests,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stats(searches: u64, errors: u64, latency: f64, feedback: u64, helpful: u64) -> ArmStats {
        ArmStats {
            searches,
            errors,
            latencies: (0..searches - errors)
                .map(|i| latency + (i % 10) as f64)
                .collect(),
            feedback,
            helpful,
        }
    }

    fn exp() -> Experiment {
        Experiment {
            id: "ab-1".into(),
            control: 1,
            candidate: 2,
            fusion: None,
            share: 0.5,
            started_at: 0,
            state: ExperimentState::Running,
            reason: None,
            guardrails: Guardrails::default(),
        }
    }

    fn worse(tally: &Tally) -> Vec<String> {
        report(&exp(), tally)
            .tests
            .into_iter()
            .filter(|t| t.worse)
            .map(|t| t.metric)
            .collect()
    }

    #[test]
    fn each_guardrail_fires_on_its_own_regression_and_not_on_noise() {
        let equal = Tally {
            arms: [
                stats(1000, 5, 20.0, 300, 200),
                stats(1000, 6, 20.0, 300, 195),
            ],
            events: 0,
        };
        assert!(worse(&equal).is_empty());
        let errors = Tally {
            arms: [
                stats(1000, 5, 20.0, 300, 200),
                stats(1000, 60, 20.0, 300, 200),
            ],
            events: 0,
        };
        assert_eq!(worse(&errors), ["error_rate"]);
        let slow = Tally {
            arms: [
                stats(1000, 5, 20.0, 300, 200),
                stats(1000, 5, 40.0, 300, 200),
            ],
            events: 0,
        };
        assert_eq!(worse(&slow), ["latency_p95"]);
        let unhelpful = Tally {
            arms: [
                stats(1000, 5, 20.0, 300, 210),
                stats(1000, 5, 20.0, 300, 150),
            ],
            events: 0,
        };
        assert_eq!(worse(&unhelpful), ["helpful_rate"]);
        let too_few = Tally {
            arms: [stats(100, 0, 20.0, 10, 10), stats(100, 50, 90.0, 10, 0)],
            events: 0,
        };
        assert!(worse(&too_few).is_empty(), "below the minimum samples");
    }

    #[test]
    fn assignment_is_sticky_and_follows_the_share() {
        let n = 10_000;
        let candidates = (0..n)
            .filter(|u| assign("ab-7", &format!("user-{u}"), 0.2) == Arm::Candidate)
            .count();
        assert!(
            (candidates as f64 / n as f64 - 0.2).abs() < 0.02,
            "{candidates}"
        );
        assert_eq!(assign("ab-7", "user-1", 0.2), assign("ab-7", "user-1", 0.2));
    }

    #[test]
    fn wilson_and_normal_tails_match_known_values() {
        let r = Rate::wilson(50, 100);
        assert!(
            (r.low - 0.4038).abs() < 1e-3 && (r.high - 0.5962).abs() < 1e-3,
            "{r:?}"
        );
        assert!((upper_tail(1.959_964) - 0.025).abs() < 1e-6);
        assert!((upper_tail(0.0) - 0.5).abs() < 1e-7);
    }
}
