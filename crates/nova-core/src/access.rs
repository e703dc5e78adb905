//! Who is asking: the caller of every engine request and the access filter derived from it. The
//! filter is built here from the verified principal and nowhere from client input, so a store read
//! can require one without trusting its caller.

use crate::filter::{Condition, Filter};
use crate::names::KbName;
use serde::{Deserialize, Serialize};

/// The payload key holding a document's permitted groups; reserved, never a client filter field.
pub const ACL_FIELD: &str = "acl";

/// What a caller may do. `reader` reads (search, troubleshoot, documents, feedback, ticket routing);
/// `editor` also writes documents and trains routers; `admin` also creates and deletes knowledge bases
/// and manages keys, and sees every document of the KBs it administers; `metrics` only scrapes
/// `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Read-only access to knowledge bases.
    Reader,
    /// Reader plus document writes and router training.
    Editor,
    /// Editor plus knowledge-base lifecycle and key management.
    Admin,
    /// Only the Prometheus endpoint.
    Metrics,
}

impl Role {
    /// `reader`, `editor`, `admin` or `metrics`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reader => "reader",
            Self::Editor => "editor",
            Self::Admin => "admin",
            Self::Metrics => "metrics",
        }
    }

    /// Whether holding `self` allows what `needed` allows.
    pub fn allows(self, needed: Role) -> bool {
        match (self, needed) {
            (Self::Admin, _) => true,
            (Self::Metrics, n) => n == Self::Metrics,
            (Self::Editor, n) => matches!(n, Self::Editor | Self::Reader),
            (Self::Reader, n) => n == Self::Reader,
        }
    }

    fn rank(self) -> u8 {
        match self {
            Self::Metrics => 0,
            Self::Reader => 1,
            Self::Editor => 2,
            Self::Admin => 3,
        }
    }
}

impl std::str::FromStr for Role {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "reader" => Ok(Self::Reader),
            "editor" => Ok(Self::Editor),
            "admin" => Ok(Self::Admin),
            "metrics" => Ok(Self::Metrics),
            other => Err(format!(
                "unknown role `{other}` (reader, editor, admin or metrics)"
            )),
        }
    }
}

/// A role on some knowledge bases (`kbs: None`: on every one, including ones created later).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant {
    /// The role.
    pub role: Role,
    /// The knowledge bases it covers; `None` = all.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kbs: Option<Vec<KbName>>,
}

impl Grant {
    fn covers(&self, kb: &KbName) -> bool {
        self.kbs.as_ref().is_none_or(|kbs| kbs.contains(kb))
    }
}

/// A caller that lacks the role or the knowledge-base grant an action needs. The message names what
/// is missing, never whether anything exists behind it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", match kb {
    Some(kb) => format!("`{subject}` needs the `{}` role on knowledge base `{kb}`", needed.as_str()),
    None => format!("`{subject}` needs the `{}` role on every knowledge base", needed.as_str()),
})]
pub struct Denied {
    /// Who asked.
    pub subject: String,
    /// The role the action needs.
    pub needed: Role,
    /// The knowledge base it was needed on (`None`: a global action such as key management).
    pub kb: Option<String>,
}

/// An authenticated caller: a subject with role grants and group memberships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// Stable subject id (a key name, an OIDC `sub`, `local-admin`).
    pub subject: String,
    /// Roles on knowledge bases.
    pub grants: Vec<Grant>,
    /// Groups; a document with a non-empty `acl` is visible only to members of one of them.
    pub groups: Vec<String>,
}

impl Principal {
    /// The operator at the command line (and every HTTP caller when `auth.mode = "off"`): an
    /// administrator of every knowledge base, who sees everything.
    pub fn local_admin() -> Self {
        Self {
            subject: "local-admin".into(),
            grants: vec![Grant {
                role: Role::Admin,
                kbs: None,
            }],
            groups: Vec::new(),
        }
    }

    /// A reader of every knowledge base in `groups`.
    pub fn member(subject: impl Into<String>, groups: &[&str]) -> Self {
        Self {
            subject: subject.into(),
            grants: vec![Grant {
                role: Role::Reader,
                kbs: None,
            }],
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    /// The strongest role this caller holds on `kb` (`metrics` does not count), if any.
    pub fn role_on(&self, kb: &KbName) -> Option<Role> {
        self.grants
            .iter()
            .filter(|g| g.role != Role::Metrics && g.covers(kb))
            .map(|g| g.role)
            .max_by_key(|r| r.rank())
    }

    /// The strongest role this caller holds anywhere, if any (for per-role defaults such as rate limits).
    pub fn strongest_role(&self) -> Option<Role> {
        self.grants.iter().map(|g| g.role).max_by_key(|r| r.rank())
    }

    /// Allowed to do what `needed` allows on `kb`, or on every knowledge base when `kb` is `None`.
    pub fn require(&self, needed: Role, kb: Option<&KbName>) -> Result<(), Denied> {
        let ok = self.grants.iter().any(|g| {
            g.role.allows(needed)
                && match kb {
                    Some(kb) => g.covers(kb),
                    None => g.kbs.is_none(),
                }
        });
        if ok {
            Ok(())
        } else {
            Err(Denied {
                subject: self.subject.clone(),
                needed,
                kb: kb.map(ToString::to_string),
            })
        }
    }

    /// Holds `needed` on at least one knowledge base (for routes that read no KB, like embeddings).
    pub fn require_somewhere(&self, needed: Role) -> Result<(), Denied> {
        if self.grants.iter().any(|g| g.role.allows(needed)) {
            Ok(())
        } else {
            Err(Denied {
                subject: self.subject.clone(),
                needed,
                kb: None,
            })
        }
    }
}

/// Whether a caller may read one document, and why: the rule [`AccessFilter`] puts into every store
/// query, decided in memory (for an administrator asking who can see a document).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Visibility {
    /// An administrator of the knowledge base: sees every document in it.
    KbAdmin,
    /// The document has no `acl`: every reader of the knowledge base sees it.
    OpenDocument,
    /// The caller is in a group the document's `acl` names.
    SharedGroup(String),
    /// The caller reads the knowledge base but is in none of the document's groups.
    NotInGroups,
    /// The caller holds no reading role on the knowledge base.
    NoRoleOnKb,
}

impl Visibility {
    /// Whether the caller sees the document.
    pub fn can_read(&self) -> bool {
        matches!(
            self,
            Self::KbAdmin | Self::OpenDocument | Self::SharedGroup(_)
        )
    }

    /// The reason in a sentence.
    pub fn explain(&self, kb: &KbName, acl: &[String]) -> String {
        match self {
            Self::KbAdmin => format!("administrator of `{kb}`: sees every document in it"),
            Self::OpenDocument => {
                format!("reads `{kb}` and the document has no acl (open to every reader)")
            }
            Self::SharedGroup(g) => format!("member of `{g}`, which the document's acl names"),
            Self::NotInGroups => format!(
                "reads `{kb}` but is in none of the document's groups ({})",
                acl.join(", ")
            ),
            Self::NoRoleOnKb => format!("holds no reader, editor or admin role on `{kb}`"),
        }
    }
}

impl Principal {
    /// Whether this caller may read a document of `kb` whose acl is `acl`, and why.
    pub fn visibility(&self, kb: &KbName, acl: &[String]) -> Visibility {
        match self.role_on(kb) {
            None => Visibility::NoRoleOnKb,
            Some(Role::Admin) => Visibility::KbAdmin,
            Some(_) if acl.is_empty() => Visibility::OpenDocument,
            Some(_) => self
                .groups
                .iter()
                .find(|g| acl.contains(g))
                .map_or(Visibility::NotInGroups, |g| {
                    Visibility::SharedGroup(g.clone())
                }),
        }
    }
}

/// Everything an engine call knows about its caller.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    /// Who is asking.
    pub principal: Principal,
    /// The request's id (the HTTP `x-request-id`, or a fresh one for CLI runs), for logs and audit.
    pub request_id: String,
    /// The client's session id (`X-Session-Id`): the unit an A/B test assigns to an arm, so one user
    /// stays on one arm; without it the caller's subject is the unit.
    pub session: Option<String>,
}

impl RequestCtx {
    /// A request by `principal`.
    pub fn new(principal: Principal, request_id: impl Into<String>) -> Self {
        Self {
            principal,
            request_id: request_id.into(),
            session: None,
        }
    }

    /// A command-line run by the local administrator.
    pub fn local() -> Self {
        Self::new(Principal::local_admin(), "cli")
    }

    /// The service's own work (readiness probes, metrics), named by `what`: sees everything, returns
    /// nothing to a client.
    pub fn internal(what: &str) -> Self {
        Self::new(Principal::local_admin(), what)
    }

    /// The filter every store read of `kb` on this caller's behalf must carry.
    pub fn access(&self, kb: &KbName) -> AccessFilter {
        AccessFilter::for_principal(&self.principal, kb)
    }
}

/// The documents a caller may read, as a payload filter. Constructed only from a [`Principal`] (or,
/// for the engine's own bookkeeping, [`AccessFilter::system`]), so store reads cannot be handed one made
/// from request input.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessFilter {
    /// The restriction; `None` when everything is visible.
    filter: Option<Filter>,
    /// What is left of it in a store where no document sets an `acl` (the legal-privilege rule).
    when_no_acl: Option<Filter>,
}

impl AccessFilter {
    /// Administrators of `kb` see all of it; everyone else sees documents whose `acl` is empty or names
    /// one of their groups.
    pub fn for_principal(principal: &Principal, kb: &KbName) -> Self {
        if principal.role_on(kb) == Some(Role::Admin) {
            return Self::system();
        }
        let mut should = vec![Condition::is_empty(ACL_FIELD)];
        if !principal.groups.is_empty() {
            should.push(Condition::any_of(ACL_FIELD, principal.groups.clone()));
        }
        Self {
            filter: Some(Filter {
                should,
                ..Filter::default()
            }),
            when_no_acl: None,
        }
    }

    /// This filter with legal privilege on top: documents whose `tags` hold `tag` are visible only to
    /// members of a group their `acl` names — administrators of the KB included, and nobody when the
    /// `acl` is empty.
    pub fn privileged(self, principal: &Principal, tags_field: &str, tag: &str) -> Self {
        let not_privileged = Condition::Filter(Box::new(Filter {
            must_not: vec![Condition::eq(tags_field, tag)],
            ..Filter::default()
        }));
        let only_open = Filter::must([not_privileged.clone()]);
        let mut should = vec![not_privileged];
        if !principal.groups.is_empty() {
            should.push(Condition::any_of(ACL_FIELD, principal.groups.clone()));
        }
        let rule = Filter {
            should,
            ..Filter::default()
        };
        let and = |base: Option<Filter>, extra: Filter| match base {
            None => extra,
            Some(f) => f.intersect(extra),
        };
        Self {
            filter: Some(and(self.filter, rule)),
            // Without any acl in the store nobody is in a privileged document's groups.
            when_no_acl: Some(and(self.when_no_acl, only_open)),
        }
    }

    /// No restriction: for the engine's own reads that serve no caller's view (change detection during
    /// ingest, counting for a store's bookkeeping). Never for results returned to a caller.
    pub fn system() -> Self {
        Self {
            filter: None,
            when_no_acl: None,
        }
    }

    /// This filter over a store in which no document sets an `acl`: there every document is open to
    /// every reader of the KB, so nothing is restricted. A store that knows it holds no `acl` (and
    /// keeps knowing it while it answers) may read with this instead, sparing a check of every point.
    pub fn where_no_document_sets_acl(&self) -> Self {
        Self {
            filter: self.when_no_acl.clone(),
            when_no_acl: self.when_no_acl.clone(),
        }
    }

    /// The restriction, `None` when everything is visible.
    pub fn filter(&self) -> Option<&Filter> {
        self.filter.as_ref()
    }

    /// `filter` restricted to what this caller may see.
    pub fn restrict(&self, filter: Filter) -> Filter {
        match &self.filter {
            None => filter,
            Some(access) => filter.intersect(access.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kb(n: &str) -> KbName {
        KbName::parse(n).expect("name")
    }

    #[test]
    fn admins_see_everything_and_members_see_open_or_shared_documents() {
        let ops = kb("ops");
        assert_eq!(
            AccessFilter::for_principal(&Principal::local_admin(), &ops).filter(),
            None
        );
        let f = AccessFilter::for_principal(&Principal::member("ann", &["hr"]), &ops);
        let f = f.filter().expect("members are restricted");
        assert_eq!(
            f.should,
            vec![
                Condition::is_empty("acl"),
                Condition::any_of("acl", ["hr".to_owned()])
            ]
        );
        let none = AccessFilter::for_principal(&Principal::member("bob", &[]), &ops);
        assert_eq!(
            none.filter().map(|f| f.should.len()),
            Some(1),
            "only open documents"
        );
    }

    #[test]
    fn privilege_restricts_admins_too_and_survives_a_store_without_acls() {
        let ops = kb("ops");
        let admin = Principal::local_admin();
        let f = AccessFilter::for_principal(&admin, &ops).privileged(&admin, "tags", "privileged");
        let not_privileged = Condition::Filter(Box::new(Filter {
            must_not: vec![Condition::eq("tags", "privileged")],
            ..Filter::default()
        }));
        assert_eq!(
            f.filter().map(|f| f.should.clone()),
            Some(vec![not_privileged.clone()]),
            "an admin in no group sees no privileged document"
        );
        // Where no document sets an acl, nobody is in a privileged document's groups.
        let open = f.where_no_document_sets_acl();
        assert_eq!(open.filter(), Some(&Filter::must([not_privileged])));
        let ann = Principal::member("ann", &["legal"]);
        let g = AccessFilter::for_principal(&ann, &ops).privileged(&ann, "tags", "privileged");
        assert_eq!(
            g.filter().map(|f| f.must.len()),
            Some(2),
            "both rules apply"
        );
    }

    #[test]
    fn visibility_in_words_follows_the_access_filter() {
        let ops = kb("ops");
        let acl = vec!["hr".to_owned(), "legal".to_owned()];
        let cases = [
            (Principal::local_admin(), Visibility::KbAdmin),
            (
                Principal::member("ann", &["eng", "legal"]),
                Visibility::SharedGroup("legal".into()),
            ),
            (Principal::member("bob", &["eng"]), Visibility::NotInGroups),
            (
                Principal {
                    subject: "m".into(),
                    grants: vec![Grant {
                        role: Role::Metrics,
                        kbs: None,
                    }],
                    groups: vec!["hr".into()],
                },
                Visibility::NoRoleOnKb,
            ),
        ];
        for (who, want) in cases {
            let v = who.visibility(&ops, &acl);
            assert_eq!(v, want, "{}", who.subject);
            assert_eq!(
                v.can_read(),
                matches!(want, Visibility::KbAdmin | Visibility::SharedGroup(_))
            );
        }
        assert_eq!(
            Principal::member("c", &[]).visibility(&ops, &[]),
            Visibility::OpenDocument
        );
    }

    #[test]
    fn roles_nest_and_grants_are_scoped_to_their_knowledge_bases() {
        let p = Principal {
            subject: "k".into(),
            grants: vec![
                Grant {
                    role: Role::Editor,
                    kbs: Some(vec![kb("ops")]),
                },
                Grant {
                    role: Role::Reader,
                    kbs: None,
                },
            ],
            groups: vec![],
        };
        assert!(p.require(Role::Editor, Some(&kb("ops"))).is_ok());
        assert!(p.require(Role::Reader, Some(&kb("hr"))).is_ok());
        let denied = p
            .require(Role::Editor, Some(&kb("hr")))
            .expect_err("reader only");
        assert_eq!(
            denied.to_string(),
            "`k` needs the `editor` role on knowledge base `hr`"
        );
        assert!(p.require(Role::Admin, None).is_err());
        assert_eq!(p.role_on(&kb("ops")), Some(Role::Editor));
        // A KB-scoped admin administers only its KB, and sees all of that KB's documents.
        let admin = Principal {
            subject: "a".into(),
            grants: vec![Grant {
                role: Role::Admin,
                kbs: Some(vec![kb("ops")]),
            }],
            groups: vec![],
        };
        assert!(AccessFilter::for_principal(&admin, &kb("ops"))
            .filter()
            .is_none());
        assert!(admin.require(Role::Admin, None).is_err());
        assert_eq!(admin.role_on(&kb("hr")), None);
        // The metrics role reads no knowledge base.
        let scraper = Principal {
            subject: "m".into(),
            grants: vec![Grant {
                role: Role::Metrics,
                kbs: None,
            }],
            groups: vec![],
        };
        assert!(scraper.require(Role::Reader, Some(&kb("ops"))).is_err());
        assert!(scraper.require(Role::Metrics, None).is_ok());
    }
}
