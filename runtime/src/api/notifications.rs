//! Where SMS and e-mail notifications are: the outbox entries of a contact,
//! or all those in one status (`failed` to see what needs a look), newest
//! first, with their attempts, last error, gateway ids and receipts.
//!
//! | Route | Who | What |
//! |---|---|---|
//! | `GET /api/v1/outbox?contact=&status=&limit=` | the roles that read contacts | newest first: the outbox entries (`crate::notify::OutboxEntry`) |
//!
//! (`/api/v1/notifications` is the workorder engine's in-app notices to
//! roles and users, a different thing.)

use axum::Json;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;

use super::{ApiError, AppState, bearer};
use crate::notify::Status;

/// Most outbox entries one query looks through, newest first.
const SCAN_LIMIT: usize = 100_000;

/// The routes of this module.
pub fn routes() -> axum::Router<AppState> {
    axum::Router::new().route("/api/v1/outbox", get(list))
}

/// Query of `GET /api/v1/outbox`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NotificationQuery {
    contact: Option<u64>,
    status: Option<String>,
    limit: Option<usize>,
}

async fn list(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<NotificationQuery>,
) -> Result<Response, ApiError> {
    s.users
        .authorize(bearer(&headers), crate::auth::HISTORY_READERS)?;
    let status = q
        .status
        .as_deref()
        .map(str::parse::<Status>)
        .transpose()
        .map_err(ApiError::invalid)?;
    let limit = q.limit.unwrap_or(100).min(1_000);
    let store = s.store.clone();
    let contact = q.contact;
    let found = tokio::task::spawn_blocking(move || {
        crate::notify::query(&*store, contact, status, limit, SCAN_LIMIT)
    })
    .await
    .map_err(ApiError::internal)??;
    Ok(Json(found).into_response())
}

#[cfg(test)]
mod tests {
    //! The route over real HTTP on loopback: who may read, and the filters.

    use std::sync::Arc;

    use crate::api::test_user;
    use crate::store::Batch;

    #[tokio::test]
    async fn notifications_by_contact_and_status_for_history_readers_only() {
        let dir = std::env::temp_dir().join(format!(
            "dialect-notifications-api-{}-{}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let store: crate::store::SharedStore =
            Arc::new(crate::store::SledStore::open(&dir).expect("a store"));
        let mut b = Batch::new();
        for (id, contact, status) in [(1u64, 7u64, "sent"), (2, 7, "failed"), (3, 8, "failed")] {
            b.put_json(
                crate::notify::OUTBOX,
                id.to_be_bytes().to_vec(),
                &serde_json::json!({
                    "id": id, "contact": contact, "channel": "sms", "to": "8613800138000",
                    "subject": null, "body": "工单已受理", "queued_ms": 1, "status": status,
                    "attempts": 1, "last_error": if status == "failed" { Some("refused") } else { None },
                }),
            );
        }
        store.commit(b).expect("a commit");
        let addr = crate::api::serve_hotline(
            store,
            &[test_user("ana", "analyst"), test_user("ops", "handler")],
        )
        .await;
        let get = |query: &str, token: Option<&str>| {
            let mut r = reqwest::Client::new().get(format!("http://{addr}/api/v1/outbox{query}"));
            if let Some(t) = token {
                r = r.bearer_auth(t);
            }
            r.send()
        };
        let ana = Some("t-ana-0123456789abcdef");
        let r = get("?contact=7", ana).await.expect("an answer");
        assert_eq!(r.status(), 200);
        let list: Vec<serde_json::Value> = r.json().await.expect("json");
        let ids: Vec<u64> = list.iter().map(|e| e["id"].as_u64().unwrap_or(0)).collect();
        assert_eq!(ids, vec![2, 1], "contact 7's, newest first");
        assert_eq!(list[0]["body"], "工单已受理");
        assert_eq!(list[0]["last_error"], "refused");

        let failed: Vec<serde_json::Value> = get("?status=failed", ana)
            .await
            .expect("an answer")
            .json()
            .await
            .expect("json");
        assert_eq!(failed.len(), 2);
        assert!(failed.iter().all(|e| e["status"] == "failed"));

        let bad = get("?status=lost", ana).await.expect("an answer");
        assert_eq!(bad.status(), 400);
        assert_eq!(
            get("?contact=7", Some("t-ops-0123456789abcdef"))
                .await
                .expect("an answer")
                .status(),
            403,
            "a department handler reads no contact history"
        );
        assert_eq!(
            get("?contact=7", None).await.expect("an answer").status(),
            401
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
