//! Who is asking: the caller of every engine request and the access filter derived from it. The
//! filter is built here from the verified principal and nowhere from client input, so a store read
//! can require one without trusting its caller.

use crate::filter::{Condition, Filter};
use serde::Serialize;

/// The payload key holding a document's permitted groups; reserved, never a client filter field.
pub const ACL_FIELD: &str = "acl";

/// An authenticated caller: a subject with roles and group memberships.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Principal {
    /// Stable subject id (a key name, an OIDC `sub`, `local-admin`).
    pub subject: String,
    /// Roles granted (`reader`, `editor`, `admin`, …).
    pub roles: Vec<String>,
    /// Groups; a document with a non-empty `acl` is visible only to members of one of them.
    pub groups: Vec<String>,
}

/// The role that sees every document regardless of its `acl`.
pub const ADMIN_ROLE: &str = "admin";

impl Principal {
    /// The operator at the command line (and, until access control is configured, every HTTP caller):
    /// an administrator who sees everything.
    pub fn local_admin() -> Self {
        Self {
            subject: "local-admin".into(),
            roles: vec![ADMIN_ROLE.into()],
            groups: Vec::new(),
        }
    }

    /// A caller with `groups` and no administrative role.
    pub fn member(subject: impl Into<String>, groups: &[&str]) -> Self {
        Self {
            subject: subject.into(),
            roles: vec!["reader".into()],
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        }
    }

    /// True for administrators.
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == ADMIN_ROLE)
    }
}

/// Everything an engine call knows about its caller.
#[derive(Debug, Clone)]
pub struct RequestCtx {
    /// Who is asking.
    pub principal: Principal,
    /// The request's id (the HTTP `x-request-id`, or a fresh one for CLI runs), for logs and audit.
    pub request_id: String,
    /// Experiment arm this request is assigned to, when an A/B test runs.
    pub variant: Option<String>,
}

impl RequestCtx {
    /// A request by `principal`.
    pub fn new(principal: Principal, request_id: impl Into<String>) -> Self {
        Self {
            principal,
            request_id: request_id.into(),
            variant: None,
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

    /// The filter every store read on this caller's behalf must carry.
    pub fn access(&self) -> AccessFilter {
        AccessFilter::for_principal(&self.principal)
    }
}

/// The documents a caller may read, as a payload filter. Constructed only from a [`Principal`] (or,
/// for the engine's own bookkeeping, [`AccessFilter::system`]), so store reads cannot be handed one made
/// from request input.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessFilter(Option<Filter>);

impl AccessFilter {
    /// Administrators see all; everyone else sees documents whose `acl` is empty or names one of their
    /// groups.
    pub fn for_principal(principal: &Principal) -> Self {
        if principal.is_admin() {
            return Self(None);
        }
        let mut should = vec![Condition::is_empty(ACL_FIELD)];
        if !principal.groups.is_empty() {
            should.push(Condition::any_of(ACL_FIELD, principal.groups.clone()));
        }
        Self(Some(Filter {
            should,
            ..Filter::default()
        }))
    }

    /// No restriction: for the engine's own reads that serve no caller's view (change detection during
    /// ingest, counting for a store's bookkeeping). Never for results returned to a caller.
    pub fn system() -> Self {
        Self(None)
    }

    /// The restriction, `None` when everything is visible.
    pub fn filter(&self) -> Option<&Filter> {
        self.0.as_ref()
    }

    /// `filter` restricted to what this caller may see.
    pub fn restrict(&self, filter: Filter) -> Filter {
        match &self.0 {
            None => filter,
            Some(access) => filter.intersect(access.clone()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn admins_see_everything_and_members_see_open_or_shared_documents() {
        assert_eq!(
            AccessFilter::for_principal(&Principal::local_admin()).filter(),
            None
        );
        let f = AccessFilter::for_principal(&Principal::member("ann", &["hr"]));
        let f = f.filter().expect("members are restricted");
        assert_eq!(
            f.should,
            vec![
                Condition::is_empty("acl"),
                Condition::any_of("acl", ["hr".to_owned()])
            ]
        );
        let none = AccessFilter::for_principal(&Principal::member("bob", &[]));
        assert_eq!(
            none.filter().map(|f| f.should.len()),
            Some(1),
            "only open documents"
        );
    }
}
