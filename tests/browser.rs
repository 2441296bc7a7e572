//! Headless Chromium for the tests and benchmarks of the web pages: chromedriver
//! started on a port of the tests' range, a fresh browser profile per client,
//! and the few page actions every browser test needs.

use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};

use crate::test_sip_port;

/// chromedriver on a port of the tests' own range, in a process group of its
/// own with the browsers it starts: dropped, the whole group is killed, so a
/// failed test leaves no browser behind.
pub struct Driver {
    child: Child,
    /// Where chromedriver listens.
    pub url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(group) = rustix::process::Pid::from_raw(self.child.id() as i32) {
            let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        }
        let _ = self.child.wait();
    }
}

/// A TCP port below the ephemeral range that nothing listens on now.
pub fn free_tcp_port() -> u16 {
    (0..50)
        .map(|_| test_sip_port())
        .find(|p| std::net::TcpListener::bind(("127.0.0.1", *p)).is_ok())
        .expect("a free TCP port in the tests' range")
}

/// Starts chromedriver; fails the test, naming the packages, when it is missing.
pub async fn chromedriver() -> Driver {
    let port = free_tcp_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .process_group(0)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start chromedriver ({e}): install the Debian packages `chromium` and \
                 `chromium-driver` (scripts/install-deps.sh does)"
            )
        });
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on port {port} within 10 s");
}

/// A new browser (its own profile: its own cookies) in headless Chromium.
pub async fn browser(driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                     "--window-size=1440,1100", "--lang=en-US",
                     "--disable-breakpad", "--disable-crash-reporter"],
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .unwrap_or_else(|e| panic!("chromedriver could not start Chromium: {e}"))
}

/// Waits (at most `secs`) until the element at `css` shows and its text
/// contains `want`; returns the text.
pub async fn wait_text(c: &Client, css: &str, want: &str, secs: u64) -> String {
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut last = String::new();
    while Instant::now() < deadline {
        if let Ok(el) = c.find(Locator::Css(css)).await
            && el.is_displayed().await.unwrap_or(false)
        {
            last = el.text().await.unwrap_or_default();
            if last.contains(want) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let status = match c.find(Locator::Css("#status")).await {
        Ok(el) => el.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    panic!(
        "`{css}` did not show `{want}` within {secs} s; it showed `{last}`; the status line: `{status}`"
    );
}

/// Clicks the element at `css`; a missing one fails the test.
pub async fn click(c: &Client, css: &str) {
    c.find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
        .click()
        .await
        .unwrap_or_else(|e| panic!("cannot click `{css}`: {e}"));
}

/// Replaces the text of the input at `css`.
pub async fn fill(c: &Client, css: &str, text: &str) {
    let el = c.find(Locator::Css(css)).await.unwrap();
    el.clear().await.unwrap();
    el.send_keys(text).await.unwrap();
}

/// Signs in on a page's sign-in form.
pub async fn sign_in_page(c: &Client, user: &str, password: &str) {
    wait_text(c, "#signin", "", 10).await;
    fill(c, "#signin-user", user).await;
    fill(c, "#signin-password", password).await;
    click(c, "#signin button[type=submit]").await;
}

/// Presses Alt + `key` as a person would (key down, key up): the pages'
/// keyboard shortcuts.
pub async fn alt(c: &Client, key: char) {
    use fantoccini::actions::{InputSource, KeyAction, KeyActions};
    use fantoccini::key::Key;
    let keys = KeyActions::new("keyboard".into())
        .then(KeyAction::Down {
            value: Key::Alt.into(),
        })
        .then(KeyAction::Down { value: key })
        .then(KeyAction::Up { value: key })
        .then(KeyAction::Up {
            value: Key::Alt.into(),
        });
    c.perform_actions(keys).await.unwrap();
}

/// Saves the page as `docs/images/NAME` (the README shows some of them).
pub async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
    let dir = crate::repo().join("docs/images");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), png).unwrap();
}
