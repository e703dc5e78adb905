//! `[compliance] profile`: one switch that turns on what a regime needs and refuses to start while a
//! required piece (a key, a certificate) is missing. The table in docs/compliance.md is this file in
//! words; `nova config` prints the settings a profile produced.

use anyhow::{bail, Result};
use serde::{Deserialize, Serialize};

/// The regimes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// No profile: every control as configured.
    #[default]
    None,
    /// Health data (HIPAA): read auditing, PII redaction, encryption at rest, TLS, no query text kept,
    /// six-year audit retention.
    Hipaa,
    /// Financial reporting (SOX): admin and document-change auditing sealed with HMAC, seven-year
    /// retention, change records for routers and KBs.
    Sox,
    /// Card data (PCI DSS): card numbers (and other PII) redacted everywhere, TLS, auditing.
    Pci,
    /// Legal privilege: documents tagged `privileged` only for their ACL groups (admins included),
    /// every access to one in the privilege log.
    Legal,
}

/// The tag that marks a privileged document under the legal profile.
pub const PRIVILEGED_TAG: &str = "privileged";

/// Six years, the retention HIPAA asks of its documentation.
const HIPAA_RETENTION_DAYS: u64 = 6 * 365;
/// Seven years, the retention SOX asks of audit records.
const SOX_RETENTION_DAYS: u64 = 7 * 365;

impl Profile {
    fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Hipaa => "hipaa",
            Self::Sox => "sox",
            Self::Pci => "pci",
            Self::Legal => "legal",
        }
    }
}

/// `[compliance]`.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ComplianceConfig {
    /// The regime to enforce.
    pub profile: Profile,
}

/// What a profile reads and sets in the rest of the configuration.
pub struct Controls<'a> {
    /// `audit.enabled` (unset: follows auth).
    pub audit_enabled: &'a mut Option<bool>,
    /// `audit.reads`.
    pub audit_reads: &'a mut bool,
    /// `audit.query_text`.
    pub audit_query_text: &'a mut bool,
    /// `audit.retention_days` (0 = forever).
    pub audit_retention_days: &'a mut u64,
    /// Whether `audit.hmac_key_file` is set.
    pub audit_hmac: bool,
    /// `redaction.enabled`.
    pub redaction: &'a mut bool,
    /// Whether an encryption key is configured.
    pub encryption: bool,
    /// Whether `server.tls_cert` and `server.tls_key` are set.
    pub tls: bool,
}

impl Profile {
    /// Turns on what the profile needs; an error listing every missing or contradicting setting, with
    /// the key that fixes it.
    pub fn apply(self, c: Controls<'_>) -> Result<()> {
        if self == Self::None {
            return Ok(());
        }
        let mut problems = Vec::new();
        if *c.audit_enabled == Some(false) {
            problems.push("the audit trail is required: remove `audit.enabled = false`".to_owned());
        }
        *c.audit_enabled = Some(true);
        let mut keep_at_least = |days: u64| {
            if *c.audit_retention_days != 0 && *c.audit_retention_days < days {
                *c.audit_retention_days = days;
            }
        };
        match self {
            Self::Hipaa => {
                *c.audit_reads = true;
                *c.redaction = true;
                keep_at_least(HIPAA_RETENTION_DAYS);
                if *c.audit_query_text {
                    problems.push(
                        "query text must not be kept: set `audit.query_text = false`".to_owned(),
                    );
                }
                if !c.encryption {
                    problems.push(ENCRYPTION.to_owned());
                }
                if !c.tls {
                    problems.push(TLS.to_owned());
                }
            }
            Self::Sox => {
                keep_at_least(SOX_RETENTION_DAYS);
                if !c.audit_hmac {
                    problems.push(
                        "audit records must be sealed with a key: set `audit.hmac_key_file` \
                         (`openssl rand -hex 32 > audit.key`)"
                            .to_owned(),
                    );
                }
            }
            Self::Pci => {
                *c.redaction = true;
                if !c.tls {
                    problems.push(TLS.to_owned());
                }
            }
            Self::Legal => {
                *c.audit_reads = true;
            }
            Self::None => {}
        }
        if !problems.is_empty() {
            bail!(
                "compliance profile `{}` refuses to start: {}",
                self.name(),
                problems.join("; ")
            );
        }
        Ok(())
    }

    /// The tag marking privileged documents, when the profile enforces privilege.
    pub fn privilege_tag(self) -> Option<String> {
        (self == Self::Legal).then(|| PRIVILEGED_TAG.to_owned())
    }
}

const ENCRYPTION: &str = "encryption at rest is off: set `encryption.key_file` \
                          (NOVA_ENCRYPTION__KEY_FILE) or `encryption.key_env`";
const TLS: &str = "TLS is off: set `server.tls_cert` and `server.tls_key`";

#[cfg(test)]
mod tests {
    use super::*;

    struct Settings {
        enabled: Option<bool>,
        reads: bool,
        query_text: bool,
        retention: u64,
        redaction: bool,
    }

    fn apply(p: Profile, hmac: bool, encryption: bool, tls: bool) -> (Result<()>, Settings) {
        let mut s = Settings {
            enabled: None,
            reads: false,
            query_text: false,
            retention: 365,
            redaction: false,
        };
        let r = p.apply(Controls {
            audit_enabled: &mut s.enabled,
            audit_reads: &mut s.reads,
            audit_query_text: &mut s.query_text,
            audit_retention_days: &mut s.retention,
            audit_hmac: hmac,
            redaction: &mut s.redaction,
            encryption,
            tls,
        });
        (r, s)
    }

    #[test]
    fn each_profile_turns_on_its_controls_when_its_requirements_are_met() {
        let (r, s) = apply(Profile::Hipaa, false, true, true);
        assert!(r.is_ok());
        assert_eq!(s.enabled, Some(true));
        assert!(s.reads && s.redaction && !s.query_text);
        assert_eq!(s.retention, 2190);
        let (r, s) = apply(Profile::Sox, true, false, false);
        assert!(r.is_ok());
        assert_eq!((s.enabled, s.retention), (Some(true), 2555));
        let (r, s) = apply(Profile::Pci, false, false, true);
        assert!(r.is_ok() && s.redaction && s.enabled == Some(true));
        let (r, s) = apply(Profile::Legal, false, false, false);
        assert!(r.is_ok() && s.reads);
        assert_eq!(
            Profile::Legal.privilege_tag().as_deref(),
            Some("privileged")
        );
        let (r, s) = apply(Profile::None, false, false, false);
        assert!(r.is_ok() && s.enabled.is_none() && !s.redaction);
    }

    #[test]
    fn a_missing_requirement_is_refused_by_name() {
        let msg = |p, hmac, enc, tls| apply(p, hmac, enc, tls).0.unwrap_err().to_string();
        let hipaa = msg(Profile::Hipaa, true, false, false);
        assert!(hipaa.contains("encryption.key_file") && hipaa.contains("server.tls_cert"));
        assert!(msg(Profile::Sox, false, true, true).contains("audit.hmac_key_file"));
        assert!(msg(Profile::Pci, true, true, false).contains("server.tls_cert"));
    }
}
