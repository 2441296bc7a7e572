//! The pages over real HTTP on loopback: types, the security headers, caching,
//! and the promises the pages make about themselves (no inline code, every
//! asset they name is served, every word in both languages).

use super::*;

async fn serve_pages() -> String {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = l.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(l, routes::<()>()).await;
    });
    format!("http://{addr}")
}

fn text(a: &Asset) -> &'static str {
    std::str::from_utf8(a.body).unwrap()
}

fn named(name: &str) -> &'static Asset {
    ASSETS.iter().find(|a| a.name == name).unwrap()
}

#[tokio::test]
async fn pages_and_assets_come_with_their_type_and_a_strict_policy() {
    let base = serve_pages().await;
    let http = reqwest::Client::new();
    let mut paths: Vec<(String, &str)> = ["/", "/wallboard", "/reports", "/recordings"]
        .into_iter()
        .map(|p| (p.to_string(), HTML))
        .collect();
    paths.extend(
        ASSETS
            .iter()
            .map(|a| (format!("/assets/{}", a.name), a.content_type)),
    );
    for (path, kind) in paths {
        let r = http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let h = r.headers();
        assert_eq!(h["content-type"], kind, "{path}");
        assert_eq!(
            h["content-security-policy"], CONTENT_SECURITY_POLICY,
            "{path}"
        );
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(!r.bytes().await.unwrap().is_empty(), "{path}");
    }
    let r = http
        .get(format!("{base}/assets/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let r = http
        .get(format!("{base}/assets/..%2Fweb.rs"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "only the compiled-in files are served");
}

#[tokio::test]
async fn an_unchanged_asset_is_not_sent_again() {
    let base = serve_pages().await;
    let http = reqwest::Client::new();
    let r = http
        .get(format!("{base}/assets/desk.js"))
        .send()
        .await
        .unwrap();
    let tag = r.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(r.headers()["cache-control"], "no-cache");
    let again = http
        .get(format!("{base}/assets/desk.js"))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert!(again.bytes().await.unwrap().is_empty());
    let other = http
        .get(format!("{base}/assets/wallboard.js"))
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200, "another file has another tag");
}

#[test]
fn pages_hold_no_inline_code_or_style() {
    for page in PAGES {
        let html = text(page);
        let lower = html.to_ascii_lowercase();
        for (i, _) in lower.match_indices("<script") {
            let tag = &lower[i..i + lower[i..].find('>').unwrap()];
            assert!(tag.contains(" src="), "{}: inline script {tag}", page.name);
        }
        assert!(!lower.contains("<style"), "{}: inline style", page.name);
        assert!(!lower.contains(" style="), "{}: style attribute", page.name);
        assert!(
            !lower.contains("javascript:"),
            "{}: javascript: URL",
            page.name
        );
        let handler = lower.split(|c: char| c.is_whitespace()).find(|w| {
            w.starts_with("on") && w.contains('=') && w[2..].starts_with(char::is_alphabetic)
        });
        assert_eq!(handler, None, "{}: inline event handler", page.name);
    }
}

#[test]
fn every_file_a_page_or_module_names_is_served() {
    let mut named_files = Vec::new();
    for page in PAGES {
        for piece in text(page).split("/assets/").skip(1) {
            let name: String = piece.chars().take_while(|c| *c != '"').collect();
            named_files.push((page.name, name));
        }
    }
    for a in ASSETS.iter().filter(|a| a.content_type == JS) {
        for piece in text(a).split("from \"./").skip(1) {
            let name: String = piece.chars().take_while(|c| *c != '"').collect();
            named_files.push((a.name, name));
        }
    }
    assert!(named_files.len() >= 8, "{named_files:?}");
    for (by, name) in named_files {
        assert!(
            ASSETS.iter().any(|a| a.name == name),
            "{by} names /assets/{name}, which is not compiled in"
        );
    }
}

/// The keys of one language's table in `i18n.js` (`const zh = { ... };`).
fn table_keys(lang: &str) -> std::collections::BTreeSet<String> {
    let src = text(named("i18n.js"));
    let start = src.find(&format!("const {lang} = {{")).unwrap();
    let body = &src[start..start + src[start..].find("\n};").unwrap()];
    body.lines()
        .skip(1)
        .filter_map(|l| {
            let l = l.trim();
            let (key, _) = l.split_once(':')?;
            let key = key.trim().trim_matches('"');
            (!key.is_empty() && !key.starts_with("//")).then(|| key.to_string())
        })
        .collect()
}

#[test]
fn every_word_is_in_both_languages() {
    let en = table_keys("en");
    let zh = table_keys("zh");
    assert!(en.len() > 100, "{}", en.len());
    let only_en: Vec<_> = en.difference(&zh).collect();
    let only_zh: Vec<_> = zh.difference(&en).collect();
    assert!(only_en.is_empty(), "missing in Chinese: {only_en:?}");
    assert!(only_zh.is_empty(), "missing in English: {only_zh:?}");
    // Every key a page marks, and every literal key a module asks for.
    let mut used = Vec::new();
    for page in PAGES {
        for attr in [
            "data-i18n=\"",
            "data-i18n-title=\"",
            "data-i18n-label=\"",
            "data-i18n-placeholder=\"",
        ] {
            for piece in text(page).split(attr).skip(1) {
                used.push(piece.chars().take_while(|c| *c != '"').collect::<String>());
            }
        }
    }
    for a in ASSETS.iter().filter(|a| a.content_type == JS) {
        let src = text(a);
        for (i, _) in src.match_indices("t(\"") {
            // `t(` itself, not the end of `split(` or `select(`.
            let before = src[..i].chars().next_back();
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            let key = &src[i + 3..];
            used.push(key.chars().take_while(|c| *c != '"').collect::<String>());
        }
    }
    assert!(used.len() > 50, "{}", used.len());
    for key in used {
        assert!(en.contains(&key), "`{key}` has no words in i18n.js");
    }
}

#[test]
fn every_state_role_and_action_the_pages_draw_has_words() {
    let en = table_keys("en");
    for state in [
        "signed_out",
        "ready",
        "not_ready",
        "ringing",
        "talking",
        "held",
        "wrap_up",
    ] {
        assert!(en.contains(&format!("state.{state}")), "{state}");
    }
    for role in [
        "agent",
        "supervisor",
        "quality_inspector",
        "analyst",
        "admin",
        "handler",
    ] {
        assert!(en.contains(&format!("role.{role}")), "{role}");
    }
    // The desk's buttons say `act.NAME`; the keys table says `key.NAME`.
    let desk = text(&DESK);
    for piece in desk.split("data-action=\"").skip(1) {
        let action: String = piece.chars().take_while(|c| *c != '"').collect();
        assert!(
            en.contains(&format!("act.{action}")) || action.starts_with("save_"),
            "{action}"
        );
        assert!(
            en.contains(&format!("key.{action}")),
            "no shortcut words for {action}"
        );
    }
}
