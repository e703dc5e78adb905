//! Who can see a document, and why: the answer to an administrator's question, computed with the same
//! rule the access filter applies inside every store query ([`nova_core::Principal::visibility`]).

use crate::kb::StoredDocument;
use nova_auth::KeyInfo;
use nova_core::{KbName, Principal, Role};
use serde::Serialize;

/// Whom to explain the document's visibility for.
#[derive(Debug, Clone)]
pub enum AccessQuestion {
    /// Every API key with a role on the knowledge base.
    Keys,
    /// The API key with this name.
    Key(String),
    /// A reader of the knowledge base in these groups (e.g. a JWT caller, whose groups come from its token).
    Groups(Vec<String>),
    /// Both: the key's verdict, then the hypothetical reader's (to compare a key with a token's groups).
    KeyAndGroups(String, Vec<String>),
}

impl AccessQuestion {
    /// The API key asked about, if any.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Key(k) | Self::KeyAndGroups(k, _) => Some(k),
            Self::Keys | Self::Groups(_) => None,
        }
    }
}

/// The answer.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DocumentAccess {
    /// Knowledge base.
    pub kb: String,
    /// Document id.
    pub doc_id: String,
    /// The document's groups (empty: open to every reader of the KB).
    pub acl: Vec<String>,
    /// The rule in one sentence.
    pub rule: String,
    /// One verdict per caller asked about.
    pub callers: Vec<CallerAccess>,
}

/// One caller's verdict.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CallerAccess {
    /// `key:<name>`, or `groups` for a hypothetical reader.
    pub subject: String,
    /// Its strongest role on the KB, if any.
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub role: Option<Role>,
    /// Its groups.
    pub groups: Vec<String>,
    /// Whether it sees the document.
    pub can_read: bool,
    /// Why, in a sentence.
    pub reason: String,
}

/// The rule for `doc` in words.
fn rule(kb: &KbName, acl: &[String]) -> String {
    if acl.is_empty() {
        format!("no acl: every reader of `{kb}` sees it")
    } else {
        format!(
            "readers of `{kb}` in one of {} see it; administrators of `{kb}` see every document",
            acl.join(", ")
        )
    }
}

fn verdict(principal: &Principal, kb: &KbName, acl: &[String]) -> CallerAccess {
    let v = principal.visibility(kb, acl);
    CallerAccess {
        subject: principal.subject.clone(),
        role: principal.role_on(kb),
        groups: principal.groups.clone(),
        can_read: v.can_read(),
        reason: v.explain(kb, acl),
    }
}

/// Verdicts for `question` about `doc`, given the data folder's keys.
pub(crate) fn explain(
    kb: &KbName,
    doc: &StoredDocument,
    keys: &[KeyInfo],
    question: &AccessQuestion,
) -> DocumentAccess {
    DocumentAccess {
        kb: kb.to_string(),
        doc_id: doc.id.clone(),
        acl: doc.acl.clone(),
        rule: rule(kb, &doc.acl),
        callers: callers(kb, &doc.acl, keys, question),
    }
}

/// One verdict per caller `question` asks about, for a document whose acl is `acl`.
fn callers(
    kb: &KbName,
    acl: &[String],
    keys: &[KeyInfo],
    question: &AccessQuestion,
) -> Vec<CallerAccess> {
    match question {
        AccessQuestion::Keys => keys
            .iter()
            .filter(|k| k.refusal().is_none())
            .map(KeyInfo::principal)
            .filter(|p| p.role_on(kb).is_some())
            .map(|p| verdict(&p, kb, acl))
            .collect(),
        AccessQuestion::Key(name) => keys
            .iter()
            .filter(|k| &k.name == name)
            .map(|k| match k.refusal() {
                Some(why) => CallerAccess {
                    can_read: false,
                    reason: format!("{why}: refused before any document is read"),
                    ..verdict(&k.principal(), kb, acl)
                },
                None => verdict(&k.principal(), kb, acl),
            })
            .collect(),
        AccessQuestion::Groups(groups) => {
            let refs: Vec<&str> = groups.iter().map(String::as_str).collect();
            vec![CallerAccess {
                subject: "groups".into(),
                ..verdict(&Principal::member("groups", &refs), kb, acl)
            }]
        }
        AccessQuestion::KeyAndGroups(name, groups) => {
            let mut both = callers(kb, acl, keys, &AccessQuestion::Key(name.clone()));
            both.extend(callers(
                kb,
                acl,
                keys,
                &AccessQuestion::Groups(groups.clone()),
            ));
            both
        }
    }
}
