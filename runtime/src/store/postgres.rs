//! The PostgreSQL store: the same [`Store`] as sled, on a database that several
//! runtimes share, so that a cluster of them sees one set of contacts,
//! workorders, counters and lists.
//!
//! The trait is blocking and is called from tokio workers, from `spawn_blocking`
//! and from plain threads alike, so the store runs its driver (`tokio-postgres`
//! with a `deadpool-postgres` pool) on a small runtime of its own and each call
//! waits for its answer on a channel: that works in every one of those contexts,
//! where `Handle::block_on` would panic inside the server's runtime.
//!
//! Every tree lives in one table `entries(tree, key, value)` (see
//! `migrations/0001_entries.sql` for why); the schema is created and upgraded
//! by versioned migrations compiled into the binary, applied at open in one
//! transaction under an advisory lock, so that runtimes starting together do not
//! race. A lost connection is retried where that cannot apply a write twice, and
//! reported otherwise; no call waits longer than [`OPERATION_TIMEOUT`].

use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use tokio::sync::broadcast;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::error::SqlState;

use super::{Batch, Entries, Store, StoreError, TreeChange, WATCH_BUFFER};

/// The migrations, in order: (version, name, SQL). A version once released is
/// never edited; a change to the schema is a new file.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "entries", include_str!("migrations/0001_entries.sql")),
    (2, "cluster", include_str!("migrations/0002_cluster.sql")),
];

/// The advisory lock held while migrating ("Dialect" + 1): one runtime
/// migrates, the others wait and then find nothing left to do.
const MIGRATION_LOCK: i64 = 0x4469_616c_6563_7401;

/// The longest any one call waits for PostgreSQL, retries included; past it the
/// call fails (a write may or may not have happened, as after a crash).
pub const OPERATION_TIMEOUT: Duration = Duration::from_secs(30);

/// Connections each store opens at most (`pool_size=` in the URL changes it).
const DEFAULT_POOL_SIZE: usize = 16;

/// Tries of an operation that failed in a way a retry can mend (a connection
/// lost before anything was committed, a deadlock).
const ATTEMPTS: u32 = 5;

/// Where the socket of a PostgreSQL installed from Debian packages lives: the
/// host when the URL names none (`postgres:///dialect`).
const DEFAULT_SOCKET_DIR: &str = "/var/run/postgresql";

/// A PostgreSQL database to store in, parsed from the configuration's
/// `store: postgres://…`. Its `Debug` and [`PgTarget::redacted`] never show the
/// password.
#[derive(Clone)]
pub struct PgTarget {
    config: tokio_postgres::Config,
    pool_size: usize,
    shown: String,
}

impl std::fmt::Debug for PgTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl PgTarget {
    /// Parses `postgres://user:password@host:port/db?…` (or `postgresql://`;
    /// `postgres:///db?host=/run/postgresql` for a unix socket). Besides
    /// libpq's parameters it takes `pool_size=N` (connections, 1 to 1000). TLS
    /// is not built in: `sslmode=require` is refused rather than ignored.
    pub fn parse(url: &str) -> Result<PgTarget, String> {
        let url = url.trim();
        if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
            return Err("a PostgreSQL store is written `postgres://user@host/database`".into());
        }
        let (base, query) = match url.split_once('?') {
            Some((b, q)) => (b, q),
            None => (url, ""),
        };
        let mut pool_size = DEFAULT_POOL_SIZE;
        let mut kept = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("pool_size", n)) => {
                    pool_size = n
                        .parse()
                        .ok()
                        .filter(|n| (1..=1000).contains(n))
                        .ok_or_else(|| {
                            format!("pool_size={n}: give a number of connections from 1 to 1000")
                        })?;
                }
                _ => kept.push(pair),
            }
        }
        let cleaned = if kept.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", kept.join("&"))
        };
        let mut config: tokio_postgres::Config = cleaned.parse().map_err(|e| {
            // The driver's message names the parameter at fault, never its value.
            format!("not a PostgreSQL URL: {e}")
        })?;
        if config.get_ssl_mode() == SslMode::Require {
            return Err(
                "sslmode=require: this build has no TLS for PostgreSQL; connect \
                        over a unix socket or a trusted network with sslmode=disable"
                    .into(),
            );
        }
        if config.get_hosts().is_empty() {
            config.host_path(DEFAULT_SOCKET_DIR);
        }
        if config.get_dbname().is_none_or(str::is_empty) {
            return Err("name the database: postgres://user@host/DATABASE".into());
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("dialect");
        let shown = describe(&config);
        Ok(PgTarget {
            config,
            pool_size,
            shown,
        })
    }

    /// The target without its password (`postgres://dialect@db1:5432/dialect`),
    /// for logs and messages.
    pub fn redacted(&self) -> &str {
        &self.shown
    }
}

/// `postgres://user@host:port/db`, or `postgres://user@/db?host=/socket/dir`.
fn describe(config: &tokio_postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or("");
    let ports = config.get_ports();
    let mut tcp = Vec::new();
    let mut sockets = Vec::new();
    for (i, host) in config.get_hosts().iter().enumerate() {
        let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
        match host {
            Host::Tcp(h) => tcp.push(format!("{h}:{port}")),
            Host::Unix(p) => sockets.push(p.display().to_string()),
        }
    }
    let at = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    if sockets.is_empty() {
        format!("postgres://{at}{}/{db}", tcp.join(","))
    } else {
        format!("postgres://{at}/{db}?host={}", sockets.join(","))
    }
}

/// Why one attempt at an operation failed, and so whether to try again.
enum Failure {
    /// No connection could be had.
    Pool(PoolError),
    /// PostgreSQL or the connection reported an error before anything could
    /// have been committed.
    Pg(tokio_postgres::Error),
    /// The connection broke while COMMIT was on its way: the batch may or may
    /// not be stored, so it is not retried.
    Unknown(tokio_postgres::Error),
    /// A stored value is not what the schema says.
    Corrupt(String),
    /// The batch's fence did not hold: the lease named is not ours.
    Fenced(String),
}

impl From<PoolError> for Failure {
    fn from(e: PoolError) -> Failure {
        Failure::Pool(e)
    }
}

impl From<tokio_postgres::Error> for Failure {
    fn from(e: tokio_postgres::Error) -> Failure {
        Failure::Pg(e)
    }
}

impl Failure {
    fn retryable(&self) -> bool {
        match self {
            Failure::Pool(PoolError::Backend(_)) => true,
            Failure::Pool(_) => false,
            Failure::Pg(e) => {
                e.is_closed()
                    || matches!(
                        e.code(),
                        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED
                            || *c == SqlState::T_R_SERIALIZATION_FAILURE
                            || *c == SqlState::ADMIN_SHUTDOWN
                            || *c == SqlState::CANNOT_CONNECT_NOW
                            || c.code().starts_with("08")
                    )
                    || e.as_db_error().is_none() && e.code().is_none() && is_io(e)
            }
            Failure::Unknown(_) | Failure::Corrupt(_) | Failure::Fenced(_) => false,
        }
    }

    fn into_store_error(self, target: &str) -> StoreError {
        match self {
            Failure::Pool(e) => StoreError::Db(format!("PostgreSQL at {target}: {e}")),
            Failure::Pg(e) => StoreError::Db(format!("PostgreSQL at {target}: {}", pg_message(&e))),
            Failure::Unknown(e) => StoreError::Db(format!(
                "PostgreSQL at {target}: the connection broke during COMMIT, the batch may or may not be stored: {}",
                pg_message(&e)
            )),
            Failure::Corrupt(what) => StoreError::Corrupt(what),
            Failure::Fenced(lease) => StoreError::Fenced(lease),
        }
    }
}

/// True when the driver's error comes from the socket (a reset, a refused
/// connection), which a new connection may mend.
fn is_io(e: &tokio_postgres::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if s.is::<std::io::Error>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The server's own words when it sent an error, else the driver's.
fn pg_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(e) {
            Some(s) => format!("{e}: {s}"),
            None => e.to_string(),
        },
    }
}

/// Runs `attempt` until it succeeds, fails in a way a retry cannot mend, or
/// [`ATTEMPTS`] tries have been made, with a short growing pause between tries.
async fn retry<T, F, Fut>(mut attempt: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(f) if f.retryable() && tries < ATTEMPTS => {
                tokio::time::sleep(Duration::from_millis(50 * u64::from(tries))).await;
            }
            other => return other,
        }
    }
}

const GET: &str = "SELECT value FROM entries WHERE tree = $1 AND key = $2";
const RANGE_UP: &str = "SELECT key, value FROM entries WHERE tree = $1 AND key >= $2 AND key < $3 \
                        ORDER BY key LIMIT $4";
const RANGE_DOWN: &str = "SELECT key, value FROM entries WHERE tree = $1 AND key >= $2 AND key < $3 \
                          ORDER BY key DESC LIMIT $4";
const FROM_ON: &str = "SELECT key, value FROM entries WHERE tree = $1 AND key >= $2 ORDER BY key";
const COUNT: &str = "SELECT count(*) FROM entries WHERE tree = $1";
const UPSERT: &str = "INSERT INTO entries (tree, key, value) \
                      SELECT * FROM unnest($1::text[], $2::bytea[], $3::bytea[]) \
                      ON CONFLICT (tree, key) DO UPDATE SET value = excluded.value";
const DELETE: &str = "DELETE FROM entries e USING unnest($1::text[], $2::bytea[]) AS d(tree, key) \
                      WHERE e.tree = d.tree AND e.key = d.key";
const NEXT_IDS: &str = "INSERT INTO counters (name, value) VALUES ($1, $2) \
                        ON CONFLICT (name) DO UPDATE SET value = counters.value + excluded.value \
                        RETURNING value";
const SYNC: &str = "INSERT INTO sync_marker (backend, n) VALUES (pg_backend_pid(), 1) \
                    ON CONFLICT (backend) DO UPDATE SET n = sync_marker.n + 1";

const NOTIFY: &str = "SELECT pg_notify('dialect_store', n.payload) \
                      FROM unnest($1::text[], $2::text[]) AS n(tree, payload) \
                      WHERE n.tree IN (SELECT tree FROM watched_trees)";
const LEASE: &str = "INSERT INTO leases (name, holder, until) \
                     VALUES ($1, $2, now() + $3::bigint * interval '1 millisecond') \
                     ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
                     WHERE leases.holder = excluded.holder OR leases.until <= now() \
                     RETURNING holder";
const HOLDER: &str = "SELECT holder FROM leases WHERE name = $1 AND until > now()";
/// A fenced batch's check: the row is locked FOR SHARE until COMMIT, so the
/// lease cannot pass to another holder while the batch is being written.
const FENCE: &str =
    "SELECT 1 FROM leases WHERE name = $1 AND holder = $2 AND until > now() FOR SHARE";
const CLAIM: &str = "UPDATE entries SET claimed_by = $4, \
                            claimed_until = now() + $6::bigint * interval '1 millisecond' \
                     WHERE tree = $1 AND key IN ( \
                         SELECT key FROM entries \
                         WHERE tree = $1 AND key >= $2 AND key < $3 \
                           AND (claimed_until IS NULL OR claimed_until <= now()) \
                         ORDER BY key LIMIT $5 \
                         FOR UPDATE SKIP LOCKED) \
                     RETURNING key, value";

/// The channel notices of watched trees travel on.
const CHANNEL: &str = "dialect_store";

/// A notice's payload stays under PostgreSQL's 8000 bytes; a batch whose keys
/// do not fit sends "re-read" instead.
const MAX_NOTICE: usize = 7900;

/// A batch reduced to its final effect (the last write of a key wins), sorted
/// so that concurrent batches lock rows in one order.
#[derive(Default)]
struct Writes {
    put_trees: Vec<String>,
    put_keys: Vec<Vec<u8>>,
    put_values: Vec<Vec<u8>>,
    delete_trees: Vec<String>,
    delete_keys: Vec<Vec<u8>>,
    /// Per tree written: its notice (`tree\nhexkey,hexkey` or `tree\n*`), sent
    /// only if some node watches the tree.
    notice_trees: Vec<String>,
    notices: Vec<String>,
    fence: Option<super::Fence>,
}

impl Writes {
    fn from_batch(batch: Batch) -> Writes {
        let mut last: HashMap<(String, Vec<u8>), Option<Vec<u8>>> = HashMap::new();
        for (tree, key, value) in batch.ops {
            last.insert((tree, key), value);
        }
        let mut sorted: Vec<_> = last.into_iter().collect();
        sorted.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut w = Writes {
            fence: batch.fence,
            ..Writes::default()
        };
        for ((tree, key), value) in sorted {
            if w.notice_trees.last() != Some(&tree) {
                w.notice_trees.push(tree.clone());
                w.notices.push(format!("{tree}\n"));
            }
            if let Some(notice) = w.notices.last_mut()
                && !notice.ends_with('*')
            {
                if notice.len() + 2 * key.len() + 1 > MAX_NOTICE {
                    notice.truncate(tree.len() + 1);
                    notice.push('*');
                } else {
                    if !notice.ends_with('\n') {
                        notice.push(',');
                    }
                    for b in &key {
                        notice.push_str(&format!("{b:02x}"));
                    }
                }
            }
            match value {
                Some(v) => {
                    w.put_trees.push(tree);
                    w.put_keys.push(key);
                    w.put_values.push(v);
                }
                None => {
                    w.delete_trees.push(tree);
                    w.delete_keys.push(key);
                }
            }
        }
        w
    }

    fn is_empty(&self) -> bool {
        self.put_keys.is_empty() && self.delete_keys.is_empty()
    }
}

/// The shortest key above every key that starts with `prefix`, or None when
/// there is none (the prefix is empty or all 0xFF).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xFF {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// The store on PostgreSQL. See the module documentation.
pub struct PgStore {
    pool: Pool,
    /// The driver's runtime; taken out on drop to shut it down without blocking.
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    shown: String,
    /// For the listening connection of [`Store::watch`].
    config: tokio_postgres::Config,
    /// Watchers by tree, fed by the listener (started at the first watch).
    watchers: Arc<Mutex<Option<Watchers>>>,
}

/// The senders of this store's watches, by tree.
type Watchers = HashMap<String, broadcast::Sender<TreeChange>>;

impl PgStore {
    /// Connects, applies the migrations this database lacks, and returns the
    /// store. Blocking (it waits for the server); fails with a clear error when
    /// the database cannot be reached or was migrated by a newer runtime.
    pub fn open(target: &PgTarget) -> Result<PgStore, StoreError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("dialect-store-pg")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Db(format!("cannot start the PostgreSQL driver: {e}")))?;
        let handle = runtime.handle().clone();
        let manager = Manager::from_config(
            target.config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(target.pool_size)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .wait_timeout(Some(OPERATION_TIMEOUT))
            .create_timeout(Some(Duration::from_secs(10)))
            .recycle_timeout(Some(Duration::from_secs(5)))
            .build()
            .map_err(|e| StoreError::Db(format!("PostgreSQL pool: {e}")))?;
        let store = PgStore {
            pool,
            runtime: Some(runtime),
            handle,
            shown: target.shown.clone(),
            config: target.config.clone(),
            watchers: Arc::new(Mutex::new(None)),
        };
        let applied = store.run(|pool| async move { migrate(&pool).await })?;
        if !applied.is_empty() {
            tracing::info!(store = %store.shown, "applied schema migrations {applied:?}");
        }
        let synchronous = store.run(|pool| async move {
            retry(|| async {
                let c = pool.get().await?;
                let row = c.query_one("SHOW synchronous_commit", &[]).await?;
                row.try_get::<_, String>(0).map_err(Failure::Pg)
            })
            .await
        })?;
        if synchronous == "off" {
            tracing::warn!(
                store = %store.shown,
                "synchronous_commit is off on this database: a commit may be lost if the database server crashes"
            );
        }
        Ok(store)
    }

    /// The database, without its password.
    pub fn redacted(&self) -> &str {
        &self.shown
    }

    /// Runs `make(pool)` on the driver's runtime and waits for its result, from
    /// any thread: a tokio worker, a blocking task or a plain thread.
    fn run<T, F, Fut>(&self, make: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(Pool) -> Fut,
        Fut: Future<Output = Result<T, Failure>> + Send + 'static,
    {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        let work = make(self.pool.clone());
        let shown = self.shown.clone();
        self.handle.spawn(async move {
            let result = match tokio::time::timeout(OPERATION_TIMEOUT, work).await {
                Ok(r) => r.map_err(|f| f.into_store_error(&shown)),
                Err(_) => Err(StoreError::Db(format!(
                    "PostgreSQL at {shown}: no answer within {} s",
                    OPERATION_TIMEOUT.as_secs()
                ))),
            };
            let _ = tx.send(result);
        });
        rx.recv().map_err(|_| {
            StoreError::Db(format!(
                "PostgreSQL at {}: the driver stopped before answering",
                self.shown
            ))
        })?
    }

    fn write(&self, batch: Batch, durable: bool) -> Result<(), StoreError> {
        let writes = Writes::from_batch(batch);
        if writes.is_empty() {
            return Ok(());
        }
        self.run(move |pool| async move {
            let (pool, w) = (&pool, &writes);
            retry(|| async move { write_once(pool, w, durable).await }).await
        })
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Safe in async code too, where dropping a runtime would panic; work in
        // flight is abandoned and its transactions roll back on the server.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// One try at writing a batch in one transaction. `durable`: wait for the WAL
/// flush at COMMIT (the server's default); else `synchronous_commit = off`.
async fn write_once(pool: &Pool, w: &Writes, durable: bool) -> Result<(), Failure> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    if !durable {
        tx.batch_execute("SET LOCAL synchronous_commit = off")
            .await?;
    }
    if let Some(f) = &w.fence {
        let st = tx.prepare_cached(FENCE).await?;
        if tx.query_opt(&st, &[&f.lease, &f.holder]).await?.is_none() {
            return Err(Failure::Fenced(f.lease.clone()));
        }
    }
    let (upsert, delete, notify) = futures::try_join!(
        tx.prepare_cached(UPSERT),
        tx.prepare_cached(DELETE),
        tx.prepare_cached(NOTIFY)
    )?;
    // The three statements go out together (the driver pipelines them), so a
    // batch costs one round trip before its COMMIT.
    let puts = async {
        if w.put_keys.is_empty() {
            return Ok(0);
        }
        tx.execute(&upsert, &[&w.put_trees, &w.put_keys, &w.put_values])
            .await
    };
    let deletes = async {
        if w.delete_keys.is_empty() {
            return Ok(0);
        }
        tx.execute(&delete, &[&w.delete_trees, &w.delete_keys])
            .await
    };
    let notice_params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
        [&w.notice_trees, &w.notices];
    let notices = tx.execute(&notify, &notice_params);
    futures::try_join!(puts, deletes, notices)?;
    tx.commit().await.map_err(|e| {
        if e.is_closed() || e.as_db_error().is_none() {
            Failure::Unknown(e)
        } else {
            Failure::Pg(e)
        }
    })
}

/// Applies the migrations the database lacks; returns their versions.
async fn migrate(pool: &Pool) -> Result<Vec<i32>, Failure> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    integer PRIMARY KEY,
             name       text NOT NULL,
             applied_at timestamptz NOT NULL DEFAULT now()
         )",
    )
    .await?;
    let mut done = Vec::new();
    for row in tx
        .query("SELECT version FROM schema_migrations", &[])
        .await?
    {
        done.push(row.try_get::<_, i32>(0)?);
    }
    let newest = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    if let Some(unknown) = done.iter().copied().filter(|v| *v > newest).max() {
        return Err(Failure::Corrupt(format!(
            "the database's schema is at version {unknown}, written by a newer Dialect; \
             this one knows versions up to {newest}: upgrade this runtime"
        )));
    }
    let mut applied = Vec::new();
    for (version, name, sql) in MIGRATIONS {
        if done.contains(version) {
            continue;
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
            &[version, name],
        )
        .await?;
        applied.push(*version);
    }
    tx.commit().await?;
    Ok(applied)
}

fn entries_of(rows: Vec<tokio_postgres::Row>) -> Result<Entries, Failure> {
    rows.into_iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

impl Store for PgStore {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let (tree, key) = (tree.to_string(), key.to_vec());
        self.run(move |pool| async move {
            let (pool, tree, key) = (&pool, &tree, &key);
            retry(|| async move {
                let c = pool.get().await?;
                let st = c.prepare_cached(GET).await?;
                match c.query_opt(&st, &[tree, key]).await? {
                    Some(row) => Ok(Some(row.try_get(0)?)),
                    None => Ok(None),
                }
            })
            .await
        })
    }

    fn range(
        &self,
        tree: &str,
        from: &[u8],
        to: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Entries, StoreError> {
        if limit == 0 || from >= to {
            return Ok(Vec::new());
        }
        let (tree, from, to) = (tree.to_string(), from.to_vec(), to.to_vec());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        self.run(move |pool| async move {
            let (pool, tree, from, to) = (&pool, &tree, &from, &to);
            retry(|| async move {
                let c = pool.get().await?;
                let st = c
                    .prepare_cached(if reverse { RANGE_DOWN } else { RANGE_UP })
                    .await?;
                entries_of(c.query(&st, &[tree, from, to, &limit]).await?)
            })
            .await
        })
    }

    fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Entries, StoreError> {
        match prefix_end(prefix) {
            Some(end) => self.range(tree, prefix, &end, usize::MAX, false),
            None => {
                let (tree, from) = (tree.to_string(), prefix.to_vec());
                self.run(move |pool| async move {
                    let (pool, tree, from) = (&pool, &tree, &from);
                    retry(|| async move {
                        let c = pool.get().await?;
                        let st = c.prepare_cached(FROM_ON).await?;
                        entries_of(c.query(&st, &[tree, from]).await?)
                    })
                    .await
                })
            }
        }
    }

    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        self.write(batch, true)
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        self.write(batch, false)
    }

    fn sync(&self) -> Result<(), StoreError> {
        // A durable commit flushes the log up to its own record, which lies past
        // every commit made before it, asynchronous ones included.
        self.run(|pool| async move {
            let pool = &pool;
            retry(|| async move {
                let c = pool.get().await?;
                let st = c.prepare_cached(SYNC).await?;
                c.execute(&st, &[]).await?;
                Ok(())
            })
            .await
        })
    }

    fn next_id(&self, counter: &str) -> Result<u64, StoreError> {
        self.next_ids(counter, 1)
    }

    fn next_ids(&self, counter: &str, n: u64) -> Result<u64, StoreError> {
        let n = i64::try_from(n.max(1))
            .map_err(|_| StoreError::Db(format!("cannot reserve {n} ids at once")))?;
        let counter = counter.to_string();
        // The increment commits without waiting for the disk: an id only matters
        // once a batch that uses it is durable, and that batch's flush comes
        // later in the log. After a server crash ids not so used may be handed
        // out again, as with sled; the counter never goes below a used id.
        // Retrying after a lost connection can skip ids (a gap), never repeat one.
        let last: i64 = self.run(move |pool| async move {
            let (pool, counter) = (&pool, &counter);
            retry(|| async move {
                let mut client = pool.get().await?;
                let tx = client.transaction().await?;
                tx.batch_execute("SET LOCAL synchronous_commit = off")
                    .await?;
                let st = tx.prepare_cached(NEXT_IDS).await?;
                let row = tx.query_one(&st, &[counter, &n]).await?;
                let last: i64 = row.try_get(0)?;
                tx.commit().await?;
                Ok(last)
            })
            .await
        })?;
        let first = last - n + 1;
        u64::try_from(first).map_err(|_| StoreError::Corrupt("a counter is negative".into()))
    }

    fn count(&self, tree: &str) -> Result<usize, StoreError> {
        let tree = tree.to_string();
        let n: i64 = self.run(move |pool| async move {
            let (pool, tree) = (&pool, &tree);
            retry(|| async move {
                let c = pool.get().await?;
                let st = c.prepare_cached(COUNT).await?;
                Ok(c.query_one(&st, &[tree]).await?.try_get(0)?)
            })
            .await
        })?;
        Ok(usize::try_from(n).unwrap_or(0))
    }

    fn lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let (name, holder) = (name.to_string(), holder.to_string());
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        self.run(move |pool| async move {
            let (pool, name, holder) = (&pool, &name, &holder);
            retry(|| async move {
                let c = pool.get().await?;
                let st = c.prepare_cached(LEASE).await?;
                Ok(c.query_opt(&st, &[name, holder, &ms]).await?.is_some())
            })
            .await
        })
    }

    fn lease_holder(&self, name: &str) -> Result<Option<String>, StoreError> {
        let name = name.to_string();
        self.run(move |pool| async move {
            let (pool, name) = (&pool, &name);
            retry(|| async move {
                let c = pool.get().await?;
                let st = c.prepare_cached(HOLDER).await?;
                match c.query_opt(&st, &[name]).await? {
                    Some(row) => Ok(Some(row.try_get(0)?)),
                    None => Ok(None),
                }
            })
            .await
        })
    }

    fn claim(
        &self,
        tree: &str,
        from: &[u8],
        to: &[u8],
        holder: &str,
        limit: usize,
        ttl: Duration,
    ) -> Result<Entries, StoreError> {
        if limit == 0 || from >= to {
            return Ok(Vec::new());
        }
        let (tree, from, to) = (tree.to_string(), from.to_vec(), to.to_vec());
        let holder = holder.to_string();
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
        // A claim lost with its connection before COMMIT was not made; one
        // lost during COMMIT lapses after `ttl` (a retry then finds other
        // entries), so retrying never hands an entry to two claimers.
        let mut claimed = self.run(move |pool| async move {
            let (pool, tree, from, to, holder) = (&pool, &tree, &from, &to, &holder);
            retry(|| async move {
                let c = pool.get().await?;
                let st = c.prepare_cached(CLAIM).await?;
                entries_of(c.query(&st, &[tree, from, to, holder, &limit, &ms]).await?)
            })
            .await
        })?;
        claimed.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(claimed)
    }

    fn watch(&self, tree: &str) -> Result<broadcast::Receiver<TreeChange>, StoreError> {
        let rx = {
            let mut guard = self
                .watchers
                .lock()
                .map_err(|_| StoreError::Db("watch lock poisoned".into()))?;
            let start_listener = guard.is_none();
            let watchers = guard.get_or_insert_with(HashMap::new);
            let rx = watchers
                .entry(tree.to_string())
                .or_insert_with(|| broadcast::channel(WATCH_BUFFER).0)
                .subscribe();
            if start_listener {
                let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
                self.handle.spawn(listen(
                    self.config.clone(),
                    self.watchers.clone(),
                    self.shown.clone(),
                    ready_tx,
                ));
                drop(guard);
                // The first LISTEN must be in place before writers are told.
                ready_rx
                    .recv_timeout(OPERATION_TIMEOUT)
                    .map_err(|_| {
                        StoreError::Db(format!(
                            "PostgreSQL at {}: cannot listen for changes",
                            self.shown
                        ))
                    })?
                    .map_err(|f| f.into_store_error(&self.shown))?;
            }
            rx
        };
        let tree = tree.to_string();
        self.run(move |pool| async move {
            let (pool, tree) = (&pool, &tree);
            retry(|| async move {
                let c = pool.get().await?;
                c.execute(
                    "INSERT INTO watched_trees (tree) VALUES ($1) ON CONFLICT DO NOTHING",
                    &[tree],
                )
                .await?;
                Ok(())
            })
            .await
        })?;
        Ok(rx)
    }
}

/// The listening connection: forwards each notice to the watchers of its
/// tree, and after a lost connection reconnects and tells every watcher to
/// re-read (notices sent meanwhile were not kept for it). Ends with the store.
async fn listen(
    config: tokio_postgres::Config,
    watchers: Arc<Mutex<Option<Watchers>>>,
    shown: String,
    ready: std::sync::mpsc::SyncSender<Result<(), Failure>>,
) {
    let mut ready = Some(ready);
    let mut pause = Duration::from_millis(100);
    loop {
        match config.connect(NoTls).await {
            Ok((client, mut connection)) => {
                let mut messages = futures::stream::poll_fn(move |cx| connection.poll_message(cx));
                let listen_sql = format!("LISTEN {CHANNEL}");
                let outcome = {
                    // The connection is driven by reading its messages, so both
                    // run together until LISTEN is acknowledged.
                    let listening = client.batch_execute(&listen_sql);
                    let mut listening = std::pin::pin!(listening);
                    loop {
                        tokio::select! {
                            done = &mut listening => break done.map_err(Failure::Pg),
                            message = messages.next() => match message {
                                Some(Ok(m)) => deliver(&watchers, m),
                                Some(Err(e)) => break Err(Failure::Pg(e)),
                                None => break Err(Failure::Corrupt("the connection closed".into())),
                            },
                        }
                    }
                };
                match outcome {
                    Ok(()) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(Ok(()));
                        } else {
                            reread_all(&watchers);
                        }
                        pause = Duration::from_millis(100);
                        while let Some(Ok(m)) = messages.next().await {
                            deliver(&watchers, m);
                        }
                        drop(client);
                        tracing::warn!(store = %shown, "lost the connection listening for changes; reconnecting");
                        reread_all(&watchers);
                    }
                    Err(f) => {
                        if let Some(r) = ready.take() {
                            let _ = r.send(Err(f));
                            // The watch fails; a later one starts anew.
                            if let Ok(mut g) = watchers.lock() {
                                *g = None;
                            }
                            return;
                        }
                    }
                }
            }
            Err(e) => {
                if let Some(r) = ready.take() {
                    let _ = r.send(Err(Failure::Pg(e)));
                    if let Ok(mut g) = watchers.lock() {
                        *g = None;
                    }
                    return;
                }
            }
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}

/// Hands a notice to the watchers of its tree.
fn deliver(watchers: &Mutex<Option<Watchers>>, message: tokio_postgres::AsyncMessage) {
    let tokio_postgres::AsyncMessage::Notification(n) = message else {
        return;
    };
    if n.channel() != CHANNEL {
        return;
    }
    let Some((tree, keys)) = n.payload().split_once('\n') else {
        return;
    };
    let Ok(guard) = watchers.lock() else {
        return;
    };
    let Some(sender) = guard.as_ref().and_then(|w| w.get(tree)) else {
        return;
    };
    if keys == "*" {
        let _ = sender.send(TreeChange::Reread);
        return;
    }
    for hex in keys.split(',') {
        match unhex(hex) {
            Some(key) => {
                let _ = sender.send(TreeChange::Key(key));
            }
            None => {
                let _ = sender.send(TreeChange::Reread);
            }
        }
    }
}

fn reread_all(watchers: &Mutex<Option<Watchers>>) {
    if let Ok(guard) = watchers.lock()
        && let Some(w) = guard.as_ref()
    {
        for sender in w.values() {
            let _ = sender.send(TreeChange::Reread);
        }
    }
}

/// Bytes from lowercase hex, None if it is not.
fn unhex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The unix socket folder a target connects through, if any (for tests and
/// tools that must reach the same server).
pub fn socket_dir(target: &PgTarget) -> Option<PathBuf> {
    target.config.get_hosts().iter().find_map(|h| match h {
        Host::Unix(p) => Some(p.clone()),
        Host::Tcp(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_parsed_and_shown_without_password() {
        let t = PgTarget::parse("postgres://dialect:s3cret@db1:5433/calls?pool_size=4").unwrap();
        assert_eq!(t.redacted(), "postgres://dialect@db1:5433/calls");
        assert_eq!(format!("{t:?}"), "postgres://dialect@db1:5433/calls");
        assert_eq!(t.pool_size, 4);
        assert!(!format!("{t:?}").contains("s3cret"));

        let t = PgTarget::parse("postgresql:///calls?host=/tmp/pg").unwrap();
        assert_eq!(t.redacted(), "postgres:///calls?host=/tmp/pg");
        assert_eq!(socket_dir(&t), Some(PathBuf::from("/tmp/pg")));

        let t = PgTarget::parse("postgres:///calls").unwrap();
        assert_eq!(socket_dir(&t), Some(PathBuf::from(DEFAULT_SOCKET_DIR)));
    }

    #[test]
    fn bad_urls_get_a_clear_error() {
        for (url, says) in [
            ("mysql://x/y", "postgres://user@host/database"),
            ("postgres://db1/", "name the database"),
            ("postgres://db1/x?pool_size=0", "pool_size=0"),
            ("postgres://db1/x?sslmode=require", "no TLS"),
            ("postgres://db1/x?frobnicate=1", "not a PostgreSQL URL"),
        ] {
            let e = PgTarget::parse(url).unwrap_err();
            assert!(e.contains(says), "{url}: {e}");
        }
        let e = PgTarget::parse("postgres://u:hunter2@db1/x?port=abc").unwrap_err();
        assert!(!e.contains("hunter2"), "{e}");
    }

    #[test]
    fn the_configuration_chooses_the_store() {
        use crate::config::{Config, StoreChoice};
        let path = std::path::Path::new("dialect.yaml");
        let c = Config::parse(path, "data_dir: /tmp/x\n").unwrap();
        assert!(matches!(c.store, StoreChoice::Sled), "sled by default");
        let c = Config::parse(path, "store: sled\n").unwrap();
        assert!(matches!(c.store, StoreChoice::Sled));
        let c = Config::parse(path, "store: postgres://dialect:pw123@db1/dialect\n").unwrap();
        let StoreChoice::Postgres(t) = &c.store else {
            panic!("not postgres: {:?}", c.store)
        };
        assert_eq!(t.redacted(), "postgres://dialect@db1:5432/dialect");
        assert!(!format!("{c:?}").contains("pw123"), "a password in Debug");
        let c = Config::parse(path, "store: postgresql:///dialect?host=/run/pg\n").unwrap();
        assert!(matches!(c.store, StoreChoice::Postgres(_)));

        let e = Config::parse(path, "data_dir: x\nstore: mysql://u:pw123@h/db\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("dialect.yaml:2:"), "{e}");
        assert!(e.contains("write `sled` or a PostgreSQL URL"), "{e}");
        assert!(!e.contains("pw123"), "{e}");
        let e = Config::parse(path, "store: postgres://u:pw123@h/db?sslmode=require\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no TLS") && !e.contains("pw123"), "{e}");
    }

    proptest::proptest! {
        /// Whatever the configuration holds, parsing answers without a panic
        /// and never repeats the password.
        #[test]
        fn any_url_parses_or_errs_without_the_password(
            tail in "[ -~]{0,60}",
            scheme in proptest::sample::select(vec!["postgres://", "postgresql://", "postgres:///", "pg://"]),
        ) {
            let url = format!("{scheme}u:Pw9secret@{tail}");
            match PgTarget::parse(&url) {
                Ok(t) => {
                    let shown = format!("{t:?}");
                    proptest::prop_assert!(!shown.contains("Pw9secret"), "{}", shown);
                }
                Err(e) => proptest::prop_assert!(!e.contains("Pw9secret"), "{}", e),
            }
        }
    }

    #[test]
    fn batches_reduce_to_their_last_write_per_key() {
        let mut b = Batch::new();
        b.put("t", b"a".to_vec(), b"1".to_vec());
        b.delete("t", b"a".to_vec());
        b.put("t", b"b".to_vec(), b"2".to_vec());
        b.put("s", b"b".to_vec(), b"3".to_vec());
        b.put("t", b"b".to_vec(), b"4".to_vec());
        let w = Writes::from_batch(b);
        assert_eq!(w.put_trees, vec!["s".to_string(), "t".to_string()]);
        assert_eq!(w.put_values, vec![b"3".to_vec(), b"4".to_vec()]);
        assert_eq!(w.delete_keys, vec![b"a".to_vec()]);
    }

    #[test]
    fn prefix_ends_skip_trailing_ff() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }
}
