//! Signing in and out at a browser (see [`crate::login`]).
//!
//! | Route | Who | What |
//! |---|---|---|
//! | `POST /api/v1/login` | anyone | `{"user", "password"}`: 200 with the session cookie and `{user, role, csrf}`; 401 for a wrong name or password (audited); 429 while the name or the address is locked out for guessing |
//! | `POST /api/v1/logout` | a signed-in page | ends its session and clears the cookie (audited) |
//! | `GET /api/v1/me` | any user | who the credential names, and a session's anti-forgery token |

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json};
use serde::Deserialize;

use super::{ApiError, AppState, bearer, header_token};
use crate::auth::{AuditEntry, audit, audit_entry};
use crate::login::{SESSION_COOKIE, cleared_cookie, cookie, session_cookie};

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/login", post(login))
        .route("/api/v1/logout", post(logout))
        .route("/api/v1/me", get(me))
}

/// Body of `POST /api/v1/login`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Credentials {
    user: String,
    password: String,
}

/// The peer's address, when the server recorded it for the connection.
fn peer(info: Option<Extension<ConnectInfo<SocketAddr>>>) -> Option<IpAddr> {
    info.map(|Extension(ConnectInfo(a))| a.ip())
}

async fn login(
    State(s): State<AppState>,
    info: Option<Extension<ConnectInfo<SocketAddr>>>,
    Json(c): Json<Credentials>,
) -> Result<Response, ApiError> {
    let addr = peer(info);
    let name = c.user.trim().to_string();
    let refused = |action: &str, detail: serde_json::Value| AuditEntry {
        at_ms: crate::time::now_ms(),
        user: name.clone(),
        role: String::new(),
        action: action.into(),
        target: name.clone(),
        detail,
    };
    if let Err(wait) = s.users.sessions.may_try(&name, addr) {
        audit_entry(
            &s.store,
            refused(
                "login locked out",
                serde_json::json!({ "address": addr.map(|a| a.to_string()) }),
            ),
        )
        .await;
        let mut r = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "locked_out",
            format!(
                "too many wrong passwords: try again in {} minutes",
                wait.as_secs().div_ceil(60)
            ),
        )
        .into_response();
        if let Ok(v) = HeaderValue::from_str(&wait.as_secs().to_string()) {
            r.headers_mut().insert(header::RETRY_AFTER, v);
        }
        return Ok(r);
    }
    let users = s.users.clone();
    let (tried, password) = (name.clone(), c.password);
    let user = tokio::task::spawn_blocking(move || users.check_password(&tried, &password))
        .await
        .map_err(ApiError::internal)?;
    let Some(user) = user else {
        s.users.sessions.failed(&name, addr);
        audit_entry(
            &s.store,
            refused(
                "login failed",
                serde_json::json!({ "address": addr.map(|a| a.to_string()) }),
            ),
        )
        .await;
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "wrong user name or password",
        ));
    };
    s.users.sessions.succeeded(&name);
    let opened = s.users.sessions.open(user.clone());
    audit(
        &s.store,
        &user,
        "login",
        &user.name,
        serde_json::json!({ "address": addr.map(|a| a.to_string()) }),
    )
    .await;
    let mut r = Json(serde_json::json!({
        "user": user.name,
        "role": user.role,
        "department": user.department,
        "csrf": opened.csrf,
    }))
    .into_response();
    let cookie = HeaderValue::from_str(&session_cookie(&opened.id, s.access.tls))
        .map_err(ApiError::internal)?;
    r.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(r)
}

async fn logout(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(id) = cookie(&headers, SESSION_COOKIE) else {
        return Err(ApiError::invalid(
            "no session to end: this page is not signed in",
        ));
    };
    if let Some(user) = s.users.sessions.close(id) {
        audit(
            &s.store,
            &user,
            "logout",
            &user.name,
            serde_json::Value::Null,
        )
        .await;
    }
    let mut r = StatusCode::NO_CONTENT.into_response();
    let cleared = HeaderValue::from_str(&cleared_cookie()).map_err(ApiError::internal)?;
    r.headers_mut().insert(header::SET_COOKIE, cleared);
    Ok(r)
}

async fn me(State(s): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let user = s.users.authorize(bearer(&headers), crate::auth::STAFF)?;
    // A page that was reloaded asks for its anti-forgery token again; other
    // origins cannot read this answer.
    let csrf = match (header_token(&headers), cookie(&headers, SESSION_COOKIE)) {
        (None, Some(id)) => s.users.sessions.csrf_of(id),
        _ => None,
    };
    Ok(Json(serde_json::json!({
        "user": user.name,
        "role": user.role,
        "department": user.department,
        "csrf": csrf,
    }))
    .into_response())
}
