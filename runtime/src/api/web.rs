//! The pages people use in a browser: the agent desk at `/`, the supervisor
//! wallboard at `/wallboard`, the statistics at `/reports` and the recordings
//! at `/recordings`, with their scripts, styles and icon under `/assets/…`.
//!
//! The files live in `runtime/web/` and are compiled into the binary, so a
//! media server without internet access serves everything itself and a page
//! never loads code from another host. These routes are open: the pages sign
//! in through the API (`POST /api/v1/login`) and every action they take is
//! checked there, by role, exactly as for any other client.
//!
//! Every answer carries a strict Content-Security-Policy (scripts, styles and
//! connections only from this server, no inline script, no framing), so that
//! text coming from callers — a caller id, a call-data value, a trail entry —
//! can never run as code even if a page forgot to treat it as text.

use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::ApiError;

/// The policy every page and asset is served with: everything from this
/// server only (WebSockets included, which CSP 3 counts as `'self'`), no
/// inline script or style, no plugins, and no framing by other sites.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// One file of the pages, as compiled in.
#[derive(Debug)]
pub struct Asset {
    /// Its name under `/assets/`.
    pub name: &'static str,
    /// The `Content-Type` it is served with.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

const HTML: &str = "text/html; charset=utf-8";
const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";
const SVG: &str = "image/svg+xml";

/// The desk's page.
const DESK: Asset = Asset {
    name: "desk.html",
    content_type: HTML,
    body: include_bytes!("../../web/desk.html"),
};

/// The wallboard's page.
const WALLBOARD: Asset = Asset {
    name: "wallboard.html",
    content_type: HTML,
    body: include_bytes!("../../web/wallboard.html"),
};

/// The reports page (statistics by queue, agent, skill and trunk).
const REPORTS: Asset = Asset {
    name: "reports.html",
    content_type: HTML,
    body: include_bytes!("../../web/reports.html"),
};

/// The recordings page (search and play).
const RECORDINGS: Asset = Asset {
    name: "recordings.html",
    content_type: HTML,
    body: include_bytes!("../../web/recordings.html"),
};

/// Every page, as [`routes`] serves them.
const PAGES: [&Asset; 4] = [&DESK, &WALLBOARD, &REPORTS, &RECORDINGS];

/// Everything under `/assets/`.
pub const ASSETS: &[Asset] = &[
    Asset {
        name: "style.css",
        content_type: CSS,
        body: include_bytes!("../../web/style.css"),
    },
    Asset {
        name: "icon.svg",
        content_type: SVG,
        body: include_bytes!("../../web/icon.svg"),
    },
    Asset {
        name: "i18n.js",
        content_type: JS,
        body: include_bytes!("../../web/i18n.js"),
    },
    Asset {
        name: "common.js",
        content_type: JS,
        body: include_bytes!("../../web/common.js"),
    },
    Asset {
        name: "desk.js",
        content_type: JS,
        body: include_bytes!("../../web/desk.js"),
    },
    Asset {
        name: "wallboard.js",
        content_type: JS,
        body: include_bytes!("../../web/wallboard.js"),
    },
    Asset {
        name: "chart.js",
        content_type: JS,
        body: include_bytes!("../../web/chart.js"),
    },
    Asset {
        name: "reports.js",
        content_type: JS,
        body: include_bytes!("../../web/reports.js"),
    },
    Asset {
        name: "recordings.js",
        content_type: JS,
        body: include_bytes!("../../web/recordings.js"),
    },
];

/// The routes of the pages, to merge into the API router (open: see
/// `access::is_open`). They need nothing of the server's state.
pub fn routes<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    axum::Router::new()
        .route("/", get(desk))
        .route("/wallboard", get(wallboard))
        .route("/reports", get(reports))
        .route("/recordings", get(recordings))
        .route("/assets/{name}", get(asset))
}

async fn desk(headers: HeaderMap) -> Response {
    serve(&DESK, &headers)
}

async fn wallboard(headers: HeaderMap) -> Response {
    serve(&WALLBOARD, &headers)
}

async fn reports(headers: HeaderMap) -> Response {
    serve(&REPORTS, &headers)
}

async fn recordings(headers: HeaderMap) -> Response {
    serve(&RECORDINGS, &headers)
}

async fn asset(Path(name): Path<String>, headers: HeaderMap) -> Result<Response, ApiError> {
    let found = ASSETS
        .iter()
        .find(|a| a.name == name)
        .ok_or_else(|| ApiError::not_found(format!("there is no asset {name}")))?;
    Ok(serve(found, &headers))
}

/// A strong validator of an asset's bytes (FNV-1a), so that a browser asks
/// again on every load (`no-cache`) but gets a 304 while the binary is the
/// same, and sees a new version at once after an upgrade.
fn etag(body: &[u8]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in body {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    format!("\"{h:016x}-{}\"", body.len())
}

/// Each asset's validator, computed once: the bytes are the binary's own.
fn etag_of(a: &'static Asset) -> &'static str {
    static TAGS: std::sync::OnceLock<std::collections::HashMap<&'static str, String>> =
        std::sync::OnceLock::new();
    TAGS.get_or_init(|| {
        ASSETS
            .iter()
            .chain(PAGES)
            .map(|a| (a.name, etag(a.body)))
            .collect()
    })
    .get(a.name)
    .map_or("", String::as_str)
}

fn serve(a: &'static Asset, headers: &HeaderMap) -> Response {
    let tag = etag_of(a);
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag));
    let mut r = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (StatusCode::OK, a.body).into_response()
    };
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(a.content_type),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if let Ok(v) = HeaderValue::from_str(tag) {
        h.insert(header::ETAG, v);
    }
    r
}

#[cfg(test)]
mod tests;
