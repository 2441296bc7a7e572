//! A throwaway PostgreSQL for tests and benchmarks: `initdb` and `postgres`
//! from `/usr/lib/postgresql/*/bin` in a temporary folder, listening on a unix
//! socket in that folder only (no TCP port, so parallel runs cannot collide),
//! with fsync on because the tests check durability.
//!
//! One cluster per process, started by the first [`shared`] call; each test
//! takes its own database ([`TestPostgres::create_database`]). PostgreSQL
//! refuses to run as root, so under root (CI, containers) it runs as the
//! `postgres` system user. A watchdog shell started beside it stops the server
//! (immediate shutdown) and removes the folder as soon as this process is gone,
//! however it ends, so that no server is left running.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use std::os::unix::process::CommandExt;

/// The running test cluster.
#[derive(Debug)]
pub struct TestPostgres {
    root: PathBuf,
    bin: PathBuf,
    databases: AtomicU32,
}

/// The process's cluster, started on first use; the error says what is missing.
pub fn shared() -> Result<&'static TestPostgres, String> {
    static CLUSTER: OnceLock<Result<TestPostgres, String>> = OnceLock::new();
    CLUSTER
        .get_or_init(TestPostgres::start)
        .as_ref()
        .map_err(Clone::clone)
}

/// The newest PostgreSQL's `bin` folder (`DIALECT_PG_BIN` overrides it).
fn find_bin() -> Result<PathBuf, String> {
    if let Ok(dir) = std::env::var("DIALECT_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "PostgreSQL is not installed (no /usr/lib/postgresql/*/bin/initdb): \
         run scripts/install-deps.sh, or set DIALECT_PG_BIN"
            .to_string()
    })
}

/// The `postgres` system user's uid and gid, from /etc/passwd.
fn postgres_user() -> Result<(u32, u32), String> {
    let passwd = std::fs::read_to_string("/etc/passwd").map_err(|e| format!("/etc/passwd: {e}"))?;
    passwd
        .lines()
        .find_map(|l| {
            let mut fields = l.split(':');
            if fields.next() != Some("postgres") {
                return None;
            }
            let uid = fields.nth(1)?.parse().ok()?;
            let gid = fields.next()?.parse().ok()?;
            Some((uid, gid))
        })
        .ok_or_else(|| {
            "running as root, PostgreSQL needs the `postgres` system user: \
             run scripts/install-deps.sh"
                .to_string()
        })
}

impl TestPostgres {
    fn start() -> Result<TestPostgres, String> {
        let bin = find_bin()?;
        let as_user = if rustix::process::geteuid().is_root() {
            Some(postgres_user()?)
        } else {
            None
        };
        let root = std::env::temp_dir().join(format!(
            "dialect-pg-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        std::fs::create_dir_all(&root).map_err(|e| format!("{}: {e}", root.display()))?;
        if let Some((uid, gid)) = as_user {
            std::os::unix::fs::chown(&root, Some(uid), Some(gid))
                .map_err(|e| format!("chown {}: {e}", root.display()))?;
        }
        let data = root.join("data");
        let command = |program: &str| {
            let mut c = Command::new(bin.join(program));
            c.current_dir(&root).stdin(Stdio::null());
            if let Some((uid, gid)) = as_user {
                c.uid(uid).gid(gid);
            }
            c
        };
        let out = command("initdb")
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--locale=C",
                "-N",
                "-D",
            ])
            .arg(&data)
            .output()
            .map_err(|e| format!("cannot run initdb: {e}"))?;
        if !out.status.success() {
            let _ = std::fs::remove_dir_all(&root);
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let log = std::fs::File::create(root.join("postgres.log"))
            .map_err(|e| format!("postgres.log: {e}"))?;
        let log2 = log.try_clone().map_err(|e| e.to_string())?;
        let mut server = command("postgres")
            .arg("-D")
            .arg(&data)
            .args([
                "-c",
                "listen_addresses=",
                "-c",
                "fsync=on",
                "-c",
                "max_connections=200",
            ])
            .args(["-c", "shared_buffers=32MB", "-c", "logging_collector=off"])
            .arg("-c")
            .arg(format!("unix_socket_directories={}", root.display()))
            .stdout(log)
            .stderr(log2)
            .process_group(0)
            .spawn()
            .map_err(|e| format!("cannot start postgres: {e}"))?;
        // The watchdog: once this process is gone, an immediate shutdown of
        // the server, then the folder goes.
        let watchdog = format!(
            "while kill -0 {me} 2>/dev/null; do sleep 0.2; done; \
             kill -QUIT {pg} 2>/dev/null; \
             for i in $(seq 100); do kill -0 {pg} 2>/dev/null || break; sleep 0.1; done; \
             rm -rf '{root}'",
            me = std::process::id(),
            pg = server.id(),
            root = root.display(),
        );
        Command::new("sh")
            .args(["-c", &watchdog])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .map_err(|e| {
                let _ = server.kill();
                format!("cannot start the watchdog: {e}")
            })?;
        let cluster = TestPostgres {
            root,
            bin,
            databases: AtomicU32::new(0),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if cluster.psql("postgres", "SELECT 1").is_ok() {
                return Ok(cluster);
            }
            if let Ok(Some(status)) = server.try_wait() {
                let log =
                    std::fs::read_to_string(cluster.root.join("postgres.log")).unwrap_or_default();
                return Err(format!("postgres exited ({status}):\n{log}"));
            }
            if Instant::now() > deadline {
                let _ = server.kill();
                return Err("postgres did not accept connections within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Runs one SQL command with psql over the socket.
    fn psql(&self, database: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bin.join("psql"))
            .arg("-h")
            .arg(&self.root)
            .args([
                "-U",
                "postgres",
                "-X",
                "-q",
                "-t",
                "-A",
                "-v",
                "ON_ERROR_STOP=1",
                "-d",
            ])
            .arg(database)
            .args(["-c", sql])
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run psql: {e}"))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    /// A new, empty database (named after `hint`) and its `store:` URL.
    pub fn create_database(&self, hint: &str) -> Result<String, String> {
        let n = self.databases.fetch_add(1, Ordering::Relaxed);
        let clean: String = hint
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '_'
                }
            })
            .take(40)
            .collect();
        let name = format!("t{n}_{clean}");
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""))?;
        Ok(self.url(&name))
    }

    /// The `store:` URL of a database of this cluster.
    pub fn url(&self, database: &str) -> String {
        format!(
            "postgres:///{database}?host={}&user=postgres",
            self.root.display()
        )
    }

    /// The folder holding the socket, the data and the server's log.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Runs SQL on a database of the cluster and returns psql's unaligned output
    /// (for tests that look under the store).
    pub fn query(&self, database_url: &str, sql: &str) -> Result<String, String> {
        let db = database_url
            .strip_prefix("postgres:///")
            .and_then(|r| r.split('?').next())
            .ok_or_else(|| format!("{database_url} is not a URL of this cluster"))?;
        self.psql(db, sql)
    }
}
