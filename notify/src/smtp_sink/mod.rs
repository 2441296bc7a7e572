//! A mail server on loopback for tests (feature `peer`): Python's `aiosmtpd`
//! (Debian `python3-aiosmtpd`, installed by `scripts/install-deps.sh`) with a
//! handler that decodes each message with Python's `email` package and
//! writes it as JSON, so tests check what a mail client would show: the
//! decoded subject, the body, each attachment's bytes.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The handler, written next to the messages at start.
const HANDLER: &str = include_str!("mailsink.py");

/// A mail as the sink decoded it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ReceivedMail {
    /// The envelope sender.
    pub mail_from: String,
    /// The envelope recipients.
    pub rcpt_tos: Vec<String>,
    /// The `From` header, decoded.
    pub from: String,
    /// The `To` header, decoded.
    pub to: String,
    /// The `Subject` header, decoded.
    pub subject: String,
    /// The `Message-ID` header.
    pub message_id: String,
    /// The text body, decoded.
    pub body: Option<String>,
    /// The attachments.
    pub attachments: Vec<ReceivedAttachment>,
}

/// An attachment as received.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct ReceivedAttachment {
    /// Its file name, decoded.
    pub filename: Option<String>,
    /// Its MIME type.
    pub content_type: String,
    /// Its bytes, in hex.
    pub hex: String,
}

impl ReceivedAttachment {
    /// Its bytes.
    pub fn bytes(&self) -> Vec<u8> {
        (0..self.hex.len() / 2)
            .filter_map(|i| u8::from_str_radix(self.hex.get(2 * i..2 * i + 2)?, 16).ok())
            .collect()
    }
}

/// A running `aiosmtpd`; it is killed when dropped.
pub struct MailSink {
    port: u16,
    dir: PathBuf,
    child: Child,
}

impl Drop for MailSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A Python that has aiosmtpd: the one on PATH, else Debian's.
fn python() -> Result<String, String> {
    for candidate in ["python3", "/usr/bin/python3"] {
        let ok = Command::new(candidate)
            .args(["-c", "import aiosmtpd"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return Ok(candidate.to_string());
        }
    }
    Err("no python3 with aiosmtpd: run scripts/install-deps.sh (python3-aiosmtpd)".into())
}

impl MailSink {
    /// Starts aiosmtpd on 127.0.0.1 on a free port of `ports` (starting at one
    /// picked by process id), waiting until it accepts connections.
    pub fn start(ports: std::ops::RangeInclusive<u16>) -> Result<MailSink, String> {
        let python = python()?;
        let (first, last) = (*ports.start(), *ports.end());
        let span = u32::from(last.saturating_sub(first)) + 1;
        // Spread over the range by process and by sinks this process started,
        // so that parallel tests do not race for one port.
        static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let started = STARTED.fetch_add(7, std::sync::atomic::Ordering::Relaxed);
        let offset = std::process::id().wrapping_add(started) % span;
        let mut last_error = String::from("an empty port range");
        for i in 0..span {
            let port = first + ((offset + i) % span) as u16;
            // Skip ports taken now; aiosmtpd would only fail later.
            if std::net::TcpListener::bind(("127.0.0.1", port)).is_err() {
                continue;
            }
            let dir = std::env::temp_dir().join(format!(
                "dialect-mailsink-{}-{port}-{:08x}",
                std::process::id(),
                rand::random::<u32>()
            ));
            std::fs::create_dir_all(dir.join("mail")).map_err(|e| e.to_string())?;
            std::fs::write(dir.join("dialect_mailsink.py"), HANDLER).map_err(|e| e.to_string())?;
            let child = Command::new(&python)
                .args(["-m", "aiosmtpd", "-n", "-l"])
                .arg(format!("127.0.0.1:{port}"))
                .args(["-c", "dialect_mailsink.Sink"])
                .arg(dir.join("mail"))
                .env("PYTHONPATH", &dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot start aiosmtpd: {e}"))?;
            let mut sink = MailSink { port, dir, child };
            match sink.wait_listening(Duration::from_secs(10)) {
                Ok(()) => return Ok(sink),
                Err(e) => last_error = e,
            }
        }
        Err(last_error)
    }

    fn wait_listening(&mut self, within: Duration) -> Result<(), String> {
        let deadline = Instant::now() + within;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = self.child.stderr.take() {
                    use std::io::Read as _;
                    let _ = e.read_to_string(&mut err);
                }
                return Err(format!("aiosmtpd exited ({status}): {err}"));
            }
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                // Another process's server may answer on the port while ours
                // failed to bind it: ours must still be alive a moment later.
                std::thread::sleep(Duration::from_millis(300));
                if let Ok(Some(status)) = self.child.try_wait() {
                    return Err(format!("aiosmtpd exited ({status}); the port was taken"));
                }
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err("aiosmtpd did not listen in time".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Its port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The mails received so far, in order.
    pub fn mails(&self) -> Vec<ReceivedMail> {
        read_mails(&self.dir.join("mail"))
    }

    /// Waits until at least `n` mails are in, at most `within`.
    pub async fn wait_mails(&self, n: usize, within: Duration) -> Vec<ReceivedMail> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let mails = self.mails();
            if mails.len() >= n || tokio::time::Instant::now() >= deadline {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }
}

fn read_mails(dir: &Path) -> Vec<ReceivedMail> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .filter_map(|p| serde_json::from_slice(&std::fs::read(p).ok()?).ok())
        .collect()
}
