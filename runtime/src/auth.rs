//! API users, roles and the audit log (REQUIREMENTS S1): every request names a user
//! by bearer token; every endpoint says which roles may use it; every change is
//! written to the audit log.
//!
//! People at a browser sign in with a password instead ([`crate::login`]).
//!
//! Tokens: a configuration without `api_users` gets one admin whose token is
//! generated at the first start and kept in the data folder ([`admin_token`]);
//! tokens anyone could guess are refused when the API listens beyond this
//! machine ([`weak_token`]); the IVR reaches the API with a token of its own
//! made at each start ([`IVR_USER`]).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;

use serde::Serialize;

use crate::config::{ApiUser, Role};
pub use crate::config::{MIN_TOKEN_LEN, OLD_DEFAULT_TOKEN, weak_token};
use crate::store::{Batch, SharedStore};

/// A user the request was authenticated as.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct User {
    /// Name from `api_users` (or the runtime's own), written to the audit log.
    pub name: String,
    /// Role: decides which endpoints the user may call (admins pass every check).
    pub role: Role,
    /// Department from `api_users`: the only one whose workorders a handler sees;
    /// any user's department also receives the notifications addressed to it.
    pub department: Option<String>,
}

impl User {
    /// True when the user has one of `roles` (admins have every role).
    pub fn has_role(&self, roles: &[Role]) -> bool {
        self.role == Role::Admin || roles.contains(&self.role)
    }
}

/// How a configured token says it is a digest, not the token itself.
pub const TOKEN_DIGEST_PREFIX: &str = "sha256:";

/// The 32 bytes of a digest written as 64 hex digits.
pub fn parse_digest(hex: &str) -> Option<[u8; 32]> {
    let hex = hex.trim();
    if hex.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// A token's digest: what the users are looked up by, so that neither the
/// configuration nor the lookup holds or compares the token itself (a lookup
/// by digest tells a timing observer nothing about the token).
pub fn token_digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
}

/// The line `dialect passwd --token` prints for the configuration.
pub fn digest_line(token: &str) -> String {
    let d = token_digest(token);
    format!(
        "{TOKEN_DIGEST_PREFIX}{}",
        d.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// The known API users: by token digest for programs, by name and password
/// hash for people, and the sessions people signed in to.
#[derive(Debug)]
pub struct Users {
    by_token: HashMap<[u8; 32], User>,
    by_name: HashMap<String, (String, User)>,
    /// The sessions of people signed in at a browser.
    pub sessions: crate::login::Sessions,
}

impl Default for Users {
    fn default() -> Users {
        Users::new(&[])
    }
}

impl Users {
    /// From the configuration (sessions end after an hour unused).
    pub fn new(users: &[ApiUser]) -> Users {
        Users::with_session_idle(users, std::time::Duration::from_secs(3600))
    }

    /// From the configuration, with sessions that end after `idle` unused.
    pub fn with_session_idle(users: &[ApiUser], idle: std::time::Duration) -> Users {
        let user = |u: &ApiUser| User {
            name: u.name.clone(),
            role: u.role,
            department: u.department.clone(),
        };
        Users {
            by_token: users
                .iter()
                .filter(|u| !u.token.is_empty())
                .filter_map(|u| {
                    let key = match u.token.strip_prefix(TOKEN_DIGEST_PREFIX) {
                        Some(hex) => parse_digest(hex)?,
                        None => token_digest(&u.token),
                    };
                    Some((key, user(u)))
                })
                .collect(),
            by_name: users
                .iter()
                .filter_map(|u| Some((u.name.clone(), (u.password.clone()?, user(u)))))
                .collect(),
            sessions: crate::login::Sessions::new(idle),
        }
    }

    /// Adds the runtime's own user (role `system`), whose token the runtime sends
    /// when a flow's lookup reaches this API (the IVR's progress inquiry).
    pub fn add_system_user(&mut self, name: &str, token: &str) {
        self.by_token.insert(
            token_digest(token),
            User {
                name: name.to_string(),
                role: Role::System,
                department: None,
            },
        );
    }

    /// Whether a token (or a session's id) names any user (checked before a
    /// request's body is read).
    pub fn knows(&self, token: &str) -> bool {
        self.by_token.contains_key(&token_digest(token)) || self.sessions.knows(token)
    }

    /// The user whose password is `password`, if it is theirs. Slow on purpose
    /// (Argon2id), and as slow for a name that has no password.
    pub fn check_password(&self, name: &str, password: &str) -> Option<User> {
        match self.by_name.get(name) {
            Some((phc, user)) => crate::login::verify_password(phc, password).then(|| user.clone()),
            None => {
                let _ = crate::login::verify_password(crate::login::decoy_hash(), password);
                None
            }
        }
    }

    /// The user a request's credential (a bearer token, or a session's id from
    /// its cookie) names, if it may use an endpoint open to `roles`.
    pub fn authorize(&self, token: Option<&str>, roles: &[Role]) -> Result<User, AuthError> {
        let Some(token) = token else {
            return Err(AuthError::Unauthorized(
                "send a token: `Authorization: Bearer TOKEN`, or sign in".into(),
            ));
        };
        let user = match self.by_token.get(&token_digest(token)) {
            Some(u) => u.clone(),
            None => self
                .sessions
                .user(token)
                .ok_or_else(|| AuthError::Unauthorized("unknown token".into()))?,
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
        Ok(user)
    }
}

/// The name the IVR's requests to this API carry in the audit log.
pub const IVR_USER: &str = "ivr";

/// A random secret of `bytes` bytes, hex-encoded (the thread RNG is a CSPRNG
/// seeded from the operating system).
pub fn random_secret(bytes: usize) -> String {
    use rand::RngCore;
    let mut raw = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut raw);
    raw.iter().map(|b| format!("{b:02x}")).collect()
}

/// The file in the data folder holding the generated admin token.
pub const ADMIN_TOKEN_FILE: &str = "admin-token";

/// Reads a secret kept in `path`, or makes one and stores it readable by this
/// user only (0600). Returns it and whether it was just made.
pub fn stored_secret(path: &Path, bytes: usize) -> std::io::Result<(String, bool)> {
    if let Ok(text) = std::fs::read_to_string(path) {
        let text = text.trim();
        if !text.is_empty() {
            return Ok((text.to_string(), false));
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let secret = random_secret(bytes);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(secret.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    Ok((secret, true))
}

/// The admin token when the configuration names no API users: the one kept in
/// `data_dir/admin-token`, or a new one (printed once, at the start that makes it).
pub fn admin_token(data_dir: &Path) -> std::io::Result<(String, bool)> {
    stored_secret(&data_dir.join(ADMIN_TOKEN_FILE), 24)
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
    /// Whatever else the action records (JSON, its shape set by `action`).
    pub detail: serde_json::Value,
}

/// Store tree of the audit log, keyed by time (big-endian Unix ms) then id, so
/// that a time range is a key range.
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
    audit_entry(
        store,
        AuditEntry {
            at_ms: crate::time::now_ms(),
            user: user.name.clone(),
            role: user.role.to_string(),
            action: action.into(),
            target: target.into(),
            detail,
        },
    )
    .await;
}

/// Writes one entry to the audit log; also for a request that names no
/// user yet (a failed sign-in: the name tried, no role).
pub async fn audit_entry(store: &SharedStore, entry: AuditEntry) {
    let id = store.next_id("audit").unwrap_or(0);
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

/// The users as the API's handlers share them: read-only once shared.
pub type SharedUsers = Arc<Users>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generated_admin_token_is_kept_readable_by_its_owner_only() {
        let dir = std::env::temp_dir().join(format!("dialect-admin-token-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (token, new) = admin_token(&dir).unwrap();
        assert!(new);
        assert_eq!(weak_token(&token), None, "{token}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(ADMIN_TOKEN_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        assert_eq!(
            admin_token(&dir).unwrap(),
            (token, false),
            "read back, not made again"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn weak_tokens_are_named() {
        assert!(weak_token(OLD_DEFAULT_TOKEN).is_some());
        assert!(weak_token("change-me-6").is_some());
        assert!(weak_token("t-1001").is_some());
        assert_eq!(weak_token(&random_secret(16)), None);
    }
}
