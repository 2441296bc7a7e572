//! API users, roles and the audit log (REQUIREMENTS S1): every request names a user
//! by bearer token; every endpoint says which roles may use it; every change is
//! written to the audit log.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::config::{ApiUser, Role};
use crate::store::{Batch, SharedStore};

/// A user the request was authenticated as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Department (handlers).
    pub department: Option<String>,
}

impl User {
    /// True when the user has one of `roles` (admins have every role).
    pub fn has_role(&self, roles: &[Role]) -> bool {
        self.role == Role::Admin || roles.contains(&self.role)
    }
}

/// The known API users, by token.
#[derive(Debug, Default)]
pub struct Users {
    by_token: HashMap<String, User>,
}

impl Users {
    /// From the configuration.
    pub fn new(users: &[ApiUser]) -> Users {
        Users {
            by_token: users
                .iter()
                .map(|u| {
                    (
                        u.token.clone(),
                        User {
                            name: u.name.clone(),
                            role: u.role,
                            department: u.department.clone(),
                        },
                    )
                })
                .collect(),
        }
    }

    /// The user a request's bearer token names, if it may use an endpoint open
    /// to `roles`.
    pub fn authorize(&self, token: Option<&str>, roles: &[Role]) -> Result<User, AuthError> {
        let Some(token) = token else {
            return Err(AuthError::Unauthorized(
                "send a token: `Authorization: Bearer TOKEN`".into(),
            ));
        };
        let Some(user) = self.by_token.get(token) else {
            return Err(AuthError::Unauthorized("unknown token".into()));
        };
        if !user.has_role(roles) {
            return Err(AuthError::Forbidden(format!(
                "the role `{}` may not do this; allowed: {}",
                user.role,
                roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        Ok(user.clone())
    }
}

/// Why a request may not go on; the API turns it into 401 or 403.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No credentials, or credentials of nobody (401).
    #[error("{0}")]
    Unauthorized(String),
    /// A known user whose role may not do this (403).
    #[error("{0}")]
    Forbidden(String),
}

/// True when a user may see sensitive fields (ID and card numbers, S2) unmasked:
/// supervisors and admins; agents, handlers, inspectors and analysts see them masked.
pub fn sees_sensitive(user: &User) -> bool {
    matches!(user.role, Role::Supervisor | Role::Admin)
}

/// Masks a sensitive value: the first 3 and last 4 characters stay
/// (`110***********1234`); values of 8 characters or fewer are masked whole.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let mut out = String::with_capacity(value.len());
    out.extend(&chars[..3]);
    out.extend(std::iter::repeat_n('*', chars.len() - 7));
    out.extend(&chars[chars.len() - 4..]);
    out
}

/// One entry of the audit log.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct AuditEntry {
    /// When, Unix milliseconds.
    pub at_ms: i64,
    /// Who.
    pub user: String,
    /// With which role.
    pub role: String,
    /// What (`deploy`, `workorder.transition`, `agent.force_ready`...).
    pub action: String,
    /// On what (a workorder number, an agent id...).
    pub target: String,
    /// Details.
    pub detail: serde_json::Value,
}

/// The audit log tree.
pub const AUDIT_TREE: &str = "audit";

/// Roles that may read contact history and the running program's description.
pub const HISTORY_READERS: &[Role] = &[
    Role::Agent,
    Role::Supervisor,
    Role::QualityInspector,
    Role::Analyst,
];

/// Every working role (history readers and department handlers), not admin.
pub const STAFF: &[Role] = &[
    Role::Agent,
    Role::Supervisor,
    Role::QualityInspector,
    Role::Analyst,
    Role::Handler,
];

/// Adds an audit entry to a batch (so it is committed with the change it records).
pub fn audit_into(batch: &mut Batch, id: u64, entry: &AuditEntry) {
    let mut key = entry.at_ms.to_be_bytes().to_vec();
    key.extend_from_slice(&id.to_be_bytes());
    batch.put_json(AUDIT_TREE, key, entry);
}

/// Writes an audit entry on its own (durably).
pub async fn audit(
    store: &SharedStore,
    user: &User,
    action: &str,
    target: &str,
    detail: serde_json::Value,
) {
    let id = store.next_id("audit").unwrap_or(0);
    let entry = AuditEntry {
        at_ms: crate::time::now_ms(),
        user: user.name.clone(),
        role: user.role.to_string(),
        action: action.into(),
        target: target.into(),
        detail,
    };
    let mut b = Batch::new();
    audit_into(&mut b, id, &entry);
    if let Err(e) = crate::store::commit_async(store.clone(), b).await {
        tracing::error!("audit log write failed: {e}");
    }
}

/// Audit entries in `from..to` (Unix ms), newest first.
pub fn audit_entries(
    store: &dyn crate::store::Store,
    from_ms: i64,
    to_ms: i64,
    limit: usize,
) -> Result<Vec<AuditEntry>, crate::store::StoreError> {
    let mut out = Vec::new();
    for (_, v) in store.range(
        AUDIT_TREE,
        &from_ms.to_be_bytes(),
        &to_ms.to_be_bytes(),
        limit,
        true,
    )? {
        if let Ok(e) = serde_json::from_slice(&v) {
            out.push(e);
        }
    }
    Ok(out)
}

/// Shared users.
pub type SharedUsers = Arc<Users>;
