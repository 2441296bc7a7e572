//! Storage: everything that must survive a restart (contact records, workorders
//! and their history, agent states, outbound tasks, the audit log).
//!
//! [`Store`] is the trait the rest of the runtime uses, so that the backend can
//! change without a rewrite. [`SledStore`] is the embedded default (one machine,
//! no setup); [`postgres::PgStore`] keeps the same trees in a PostgreSQL
//! database that several runtimes share (`store: postgres://…`). A [`Batch`] is applied atomically across
//! trees, and [`Store::commit`] returns only once the batch is durable on disk:
//! concurrent commits share one flush (group commit), so durability does not cost
//! one fsync per write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::broadcast;

use serde::Serialize;
use serde::de::DeserializeOwned;

#[cfg(test)]
mod conformance;
pub mod fenced;
pub mod postgres;
#[cfg(any(test, feature = "test-postgres"))]
pub mod test_postgres;

pub use fenced::FencedStore;
pub use postgres::{PgStore, PgTarget};

/// A storage failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum StoreError {
    /// The database reported an error.
    #[error("storage error: {0}")]
    Db(String),
    /// A stored value could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// A fenced batch was refused, nothing of it written: this runtime no
    /// longer holds the lease named (another runtime took the service over).
    #[error("this runtime no longer holds the lease `{0}`; nothing was written")]
    Fenced(String),
}

impl From<tokio::task::JoinError> for StoreError {
    /// A storage task that panicked or was cancelled: the write it carried may
    /// or may not have happened, so it is reported as a failure of the store.
    fn from(e: tokio::task::JoinError) -> StoreError {
        StoreError::Db(format!("the storage task failed: {e}"))
    }
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> StoreError {
        StoreError::Db(e.to_string())
    }
}

/// Writes applied together: all of them or none.
#[derive(Debug, Default, Clone)]
pub struct Batch {
    ops: Vec<(String, Vec<u8>, Option<Vec<u8>>)>,
    /// Written only while this lease is held by this holder (see [`Fence`]).
    fence: Option<Fence>,
}

/// A condition on a batch: it is written only if `holder` holds the lease
/// `lease` at the moment of writing, checked by the store inside the same
/// transaction. A runtime that was paused past its lease (a stalled process,
/// a partition) and wakes up still believing it leads cannot overwrite what
/// the new holder wrote meanwhile: its batches fail with
/// [`StoreError::Fenced`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// The lease's name.
    pub lease: String,
    /// Who must hold it.
    pub holder: String,
}

impl Batch {
    /// An empty batch.
    pub fn new() -> Batch {
        Batch::default()
    }

    /// Sets `key` in `tree`.
    pub fn put(&mut self, tree: &str, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) {
        self.ops
            .push((tree.to_string(), key.into(), Some(value.into())));
    }

    /// Sets `key` in `tree` to the JSON form of `value`.
    pub fn put_json<T: Serialize>(&mut self, tree: &str, key: impl Into<Vec<u8>>, value: &T) {
        let bytes = serde_json::to_vec(value).unwrap_or_default();
        self.put(tree, key, bytes);
    }

    /// Removes `key` from `tree`.
    pub fn delete(&mut self, tree: &str, key: impl Into<Vec<u8>>) {
        self.ops.push((tree.to_string(), key.into(), None));
    }

    /// Makes the batch conditional on `fence` (see [`Fence`]).
    pub fn fence(&mut self, fence: Fence) {
        self.fence = Some(fence);
    }

    /// Moves every write of `other` to the end of this batch (a later write of a
    /// key wins, as if the two were applied one after the other). A fence of
    /// `other` applies to the whole batch.
    pub fn append(&mut self, mut other: Batch) {
        if let Some(f) = other.fence.take() {
            self.fence = Some(f);
        }
        if self.ops.is_empty() {
            self.ops = other.ops;
        } else {
            self.ops.append(&mut other.ops);
        }
    }

    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Number of writes.
    pub fn len(&self) -> usize {
        self.ops.len()
    }
}

/// What the runtime stores through.
pub trait Store: Send + Sync + 'static {
    /// The value of `key` in `tree`.
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Entries of `tree` with keys in `from..to` (to exclusive), at most `limit`, in
    /// key order (or reverse). Keys compare bytewise, shorter first on a tie
    /// (`a` < `a\0` < `b`); `from >= to` or a `limit` of 0 gives nothing.
    fn range(
        &self,
        tree: &str,
        from: &[u8],
        to: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Entries, StoreError>;
    /// Every entry of `tree` whose key starts with `prefix`.
    fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Entries, StoreError>;
    /// Applies a batch atomically (after a crash all of it is there or none;
    /// sled's range reads are not snapshots, so a concurrent reader of many
    /// keys may see part of a batch there) and returns once it is durable. Blocking: call it
    /// from `spawn_blocking` (or [`commit_async`]) in async code.
    fn commit(&self, batch: Batch) -> Result<(), StoreError>;
    /// Applies a batch atomically without waiting for durability (for data that may
    /// be lost in a crash, such as statistics, or when [`Store::sync`] follows).
    fn apply(&self, batch: Batch) -> Result<(), StoreError>;
    /// Returns once everything applied so far is durable (sharing flushes with
    /// concurrent commits). Blocking, like [`Store::commit`].
    fn sync(&self) -> Result<(), StoreError>;
    /// A new value of a durable, strictly increasing counter.
    fn next_id(&self, counter: &str) -> Result<u64, StoreError>;
    /// Reserves `n` consecutive new values of a counter at once and returns the
    /// first; values reserved but never used are skipped after a restart (the
    /// counter stays strictly increasing, with gaps). For writers that take many ids.
    fn next_ids(&self, counter: &str, n: u64) -> Result<u64, StoreError> {
        let first = self.next_id(counter)?;
        for _ in 1..n {
            self.next_id(counter)?;
        }
        Ok(first)
    }
    /// Number of entries in a tree.
    fn count(&self, tree: &str) -> Result<usize, StoreError>;

    /// Takes or renews the lease `name` for `holder`: true when `holder` now
    /// holds it until `ttl` from now, false when another holder's lease has not
    /// lapsed yet. One holder at a time among every process on the store (on
    /// PostgreSQL the database's clock decides when a lease lapses; on sled
    /// leases live in the process and are gone after a restart). A `ttl` of
    /// zero gives up a lease one holds. For the ACD's active instance and timer
    /// ownership: renew well within `ttl`, and stop acting as holder once a
    /// renewal fails or returns false; write with a [`Fence`] so that a holder
    /// that missed its renewals cannot write.
    fn lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError>;

    /// Who holds the lease `name` now, if its holder's lease has not lapsed.
    fn lease_holder(&self, name: &str) -> Result<Option<String>, StoreError>;

    /// Claims for `holder`, until `ttl` from now, up to `limit` entries of
    /// `tree` with keys in `from..to` that no one holds a live claim on, in key
    /// order, and returns them. Two claimers never get the same entry while its
    /// claim lives (on PostgreSQL `FOR UPDATE SKIP LOCKED`, so that claimers do
    /// not wait for each other). A claim ends when the entry is deleted (a put
    /// keeps it) or when it lapses, after which any claimer may take the entry
    /// again: delete an entry once its work is done, and keep `ttl` above the
    /// time the work takes. An entry one already holds is not returned again.
    /// On sled claims live in the process, like leases.
    fn claim(
        &self,
        tree: &str,
        from: &[u8],
        to: &[u8],
        holder: &str,
        limit: usize,
        ttl: Duration,
    ) -> Result<Entries, StoreError>;

    /// Changes to `tree` by any process on the store, from now on: each
    /// changed key (put or deleted; a key written twice may come once), or
    /// [`TreeChange::Reread`] when changes may have been missed (too many keys
    /// in one batch, a lost connection to PostgreSQL). A receiver that lags
    /// behind gets `RecvError::Lagged` and should re-read too. On PostgreSQL a
    /// change reaches other processes within milliseconds (`LISTEN`/`NOTIFY`);
    /// writes to trees that no process ever watched send nothing. A change
    /// committed while `watch` is being called may be missed: read the tree
    /// after `watch` returns.
    fn watch(&self, tree: &str) -> Result<broadcast::Receiver<TreeChange>, StoreError>;
}

/// What [`Store::watch`] reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TreeChange {
    /// This key was put or deleted.
    Key(Vec<u8>),
    /// Changes may have been missed: read the tree again.
    Reread,
}

/// The one store every part of the runtime holds, behind the trait so that the
/// backend can change without them knowing.
pub type SharedStore = Arc<dyn Store>;

/// Key/value pairs read from a tree, in key order.
pub type Entries = Vec<(Vec<u8>, Vec<u8>)>;

/// Reads a JSON value.
pub fn get_json<T: DeserializeOwned>(
    store: &dyn Store,
    tree: &str,
    key: &[u8],
) -> Result<Option<T>, StoreError> {
    match store.get(tree, key)? {
        Some(b) => serde_json::from_slice(&b)
            .map(Some)
            .map_err(|e| StoreError::Corrupt(format!("{tree}: {e}"))),
        None => Ok(None),
    }
}

/// Commits a batch from async code without blocking the executor.
pub async fn commit_async(store: SharedStore, batch: Batch) -> Result<(), StoreError> {
    tokio::task::spawn_blocking(move || store.commit(batch)).await?
}

/// The embedded store: sled, with group commit.
///
/// Cost model (sled 0.34): every [`Store::commit`]/[`Store::apply`] is one sled
/// transaction, which reads each key before writing it and takes a process-wide
/// lock that a running flush holds for its whole length, so a write waits for the
/// flush in progress. Writers with many small changes should gather them into one
/// batch (the workorder engine writes one per group of changes).
pub struct SledStore {
    db: sled::Db,
    /// Open tree handles by name (`Db::open_tree` takes a lock and allocates).
    trees: RwLock<HashMap<String, sled::Tree>>,
    epoch: AtomicU64,
    flush: Mutex<FlushState>,
    flushed: Condvar,
    /// Leases by name: (holder, until). In memory: one process uses a sled store.
    leases: Mutex<HashMap<String, (String, Instant)>>,
    /// Live claims by (tree, key): (holder, until).
    claims: Mutex<Claims>,
}

/// Live claims of a sled store by (tree, key): (holder, until).
type Claims = HashMap<(String, Vec<u8>), (String, Instant)>;

#[derive(Default)]
struct FlushState {
    flushed_epoch: u64,
    flushing: bool,
}

impl SledStore {
    /// Opens (or creates) the store in `dir`.
    pub fn open(dir: &std::path::Path) -> Result<SledStore, StoreError> {
        std::fs::create_dir_all(dir)
            .map_err(|e| StoreError::Db(format!("cannot create {}: {e}", dir.display())))?;
        let config = sled::Config::new()
            .path(dir.join("db"))
            .cache_capacity(256 * 1024 * 1024);
        // sled's flusher thread keeps the file lock for a moment after the
        // last handle is dropped: a reopen right after a close waits for it
        // (a lock still held after that is another process's).
        let patience = std::time::Instant::now() + std::time::Duration::from_secs(2);
        let db = loop {
            match config.open() {
                Err(sled::Error::Io(e))
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        && std::time::Instant::now() < patience =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                opened => break opened?,
            }
        };
        Ok(SledStore {
            db,
            trees: RwLock::new(HashMap::new()),
            epoch: AtomicU64::new(0),
            flush: Mutex::new(FlushState::default()),
            flushed: Condvar::new(),
            leases: Mutex::new(HashMap::new()),
            claims: Mutex::new(HashMap::new()),
        })
    }

    fn tree(&self, name: &str) -> Result<sled::Tree, StoreError> {
        if let Some(t) = self.trees.read().ok().and_then(|m| m.get(name).cloned()) {
            return Ok(t);
        }
        let t = self.db.open_tree(name)?;
        if let Ok(mut m) = self.trees.write() {
            m.insert(name.to_string(), t.clone());
        }
        Ok(t)
    }

    /// Waits until everything applied up to `epoch` is on disk, sharing flushes
    /// between waiting threads.
    fn wait_durable(&self, epoch: u64) -> Result<(), StoreError> {
        let mut st = self
            .flush
            .lock()
            .map_err(|_| StoreError::Db("flush lock poisoned".into()))?;
        while st.flushed_epoch < epoch {
            if st.flushing {
                st = self
                    .flushed
                    .wait(st)
                    .map_err(|_| StoreError::Db("flush lock poisoned".into()))?;
                continue;
            }
            st.flushing = true;
            let target = self.epoch.load(Ordering::SeqCst);
            drop(st);
            let result = self.db.flush();
            st = self
                .flush
                .lock()
                .map_err(|_| StoreError::Db("flush lock poisoned".into()))?;
            st.flushing = false;
            if result.is_ok() {
                st.flushed_epoch = st.flushed_epoch.max(target);
            }
            self.flushed.notify_all();
            result?;
        }
        Ok(())
    }

    fn apply_batch(&self, batch: Batch) -> Result<u64, StoreError> {
        use sled::Transactional;
        // The lease lock is held through the write, so the lease cannot pass
        // to another holder between the check and the write.
        let leases_guard = match &batch.fence {
            Some(f) => {
                let leases = self
                    .leases
                    .lock()
                    .map_err(|_| StoreError::Db("lease lock poisoned".into()))?;
                let held = leases
                    .get(&f.lease)
                    .is_some_and(|(h, until)| *h == f.holder && *until > Instant::now());
                if !held {
                    return Err(StoreError::Fenced(f.lease.clone()));
                }
                Some(leases)
            }
            None => None,
        };
        if batch.is_empty() {
            // sled's transaction over no tree panics; nothing to write is done.
            return Ok(self.epoch.load(Ordering::SeqCst));
        }
        let mut names: Vec<&str> = batch.ops.iter().map(|(t, _, _)| t.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        let trees: Vec<sled::Tree> = names
            .iter()
            .map(|n| self.tree(n))
            .collect::<Result<_, _>>()?;
        let result: sled::transaction::TransactionResult<(), ()> =
            trees.as_slice().transaction(|tx| {
                for (t, k, v) in &batch.ops {
                    let i = names.binary_search(&t.as_str()).unwrap_or(0);
                    match v {
                        Some(v) => {
                            tx[i].insert(k.as_slice(), v.as_slice())?;
                        }
                        None => {
                            tx[i].remove(k.as_slice())?;
                        }
                    }
                }
                Ok(())
            });
        result.map_err(|e| StoreError::Db(format!("{e:?}")))?;
        drop(leases_guard);
        // A deleted entry takes its claim with it.
        if let Ok(mut claims) = self.claims.lock()
            && !claims.is_empty()
        {
            for (t, k, v) in batch.ops {
                if v.is_none() {
                    claims.remove(&(t, k));
                }
            }
        }
        Ok(self.epoch.fetch_add(1, Ordering::SeqCst) + 1)
    }
}

impl Store for SledStore {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tree(tree)?.get(key)?.map(|v| v.to_vec()))
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
        let t = self.tree(tree)?;
        let iter = t.range(from.to_vec()..to.to_vec());
        let mut out = Vec::new();
        let push = |out: &mut Entries,
                    r: sled::Result<(sled::IVec, sled::IVec)>|
         -> Result<bool, StoreError> {
            let (k, v) = r?;
            out.push((k.to_vec(), v.to_vec()));
            Ok(out.len() < limit)
        };
        if reverse {
            for r in iter.rev() {
                if !push(&mut out, r)? {
                    break;
                }
            }
        } else {
            for r in iter {
                if !push(&mut out, r)? {
                    break;
                }
            }
        }
        Ok(out)
    }

    fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Entries, StoreError> {
        let t = self.tree(tree)?;
        t.scan_prefix(prefix)
            .map(|r| {
                r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(StoreError::from)
            })
            .collect()
    }

    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        let epoch = self.apply_batch(batch)?;
        self.wait_durable(epoch)
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        self.apply_batch(batch).map(|_| ())
    }

    fn sync(&self) -> Result<(), StoreError> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        self.wait_durable(epoch)
    }

    fn next_id(&self, counter: &str) -> Result<u64, StoreError> {
        self.next_ids(counter, 1)
    }

    fn next_ids(&self, counter: &str, n: u64) -> Result<u64, StoreError> {
        let t = self.tree("counters")?;
        let v = t.update_and_fetch(counter.as_bytes(), |old| {
            let last = old
                .and_then(|b| <[u8; 8]>::try_from(b).ok())
                .map(u64::from_be_bytes)
                .unwrap_or(0);
            Some(last.saturating_add(n.max(1)).to_be_bytes().to_vec())
        })?;
        let bytes = v.ok_or_else(|| StoreError::Db("counter vanished".into()))?;
        let arr: [u8; 8] = bytes
            .as_ref()
            .try_into()
            .map_err(|_| StoreError::Corrupt("counter".into()))?;
        Ok(u64::from_be_bytes(arr) - n.max(1) + 1)
    }

    fn count(&self, tree: &str) -> Result<usize, StoreError> {
        Ok(self.tree(tree)?.len())
    }

    fn lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        let mut leases = self
            .leases
            .lock()
            .map_err(|_| StoreError::Db("lease lock poisoned".into()))?;
        let now = Instant::now();
        let free = match leases.get(name) {
            Some((h, until)) => h == holder || *until <= now,
            None => true,
        };
        if free {
            leases.insert(name.to_string(), (holder.to_string(), now + ttl));
        }
        Ok(free)
    }

    fn lease_holder(&self, name: &str) -> Result<Option<String>, StoreError> {
        let leases = self
            .leases
            .lock()
            .map_err(|_| StoreError::Db("lease lock poisoned".into()))?;
        Ok(leases
            .get(name)
            .filter(|(_, until)| *until > Instant::now())
            .map(|(h, _)| h.clone()))
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
        let t = self.tree(tree)?;
        let mut claims = self
            .claims
            .lock()
            .map_err(|_| StoreError::Db("claim lock poisoned".into()))?;
        let now = Instant::now();
        claims.retain(|_, (_, until)| *until > now);
        let mut out = Vec::new();
        for r in t.range(from.to_vec()..to.to_vec()) {
            let (k, v) = r?;
            let id = (tree.to_string(), k.to_vec());
            if claims.contains_key(&id) {
                continue;
            }
            claims.insert(id, (holder.to_string(), now + ttl));
            out.push((k.to_vec(), v.to_vec()));
            if out.len() >= limit {
                break;
            }
        }
        Ok(out)
    }

    fn watch(&self, tree: &str) -> Result<broadcast::Receiver<TreeChange>, StoreError> {
        let subscriber = self.tree(tree)?.watch_prefix(Vec::new());
        let (tx, rx) = broadcast::channel(WATCH_BUFFER);
        // sled's subscriber blocks between events: a thread per watch, which
        // ends at the first event after every receiver is gone.
        std::thread::Builder::new()
            .name(format!("store-watch-{tree}"))
            .spawn(move || {
                for event in subscriber {
                    let key = match event {
                        sled::Event::Insert { key, .. } | sled::Event::Remove { key } => key,
                    };
                    if tx.send(TreeChange::Key(key.to_vec())).is_err() {
                        break;
                    }
                }
            })
            .map_err(|e| StoreError::Db(format!("cannot start a watch: {e}")))?;
        Ok(rx)
    }
}

/// Changes a watcher may fall behind by before it is told to re-read.
const WATCH_BUFFER: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_are_atomic_and_readable() {
        let dir = tempdir();
        let s = SledStore::open(&dir).unwrap();
        let mut b = Batch::new();
        b.put("a", b"k1".to_vec(), b"v1".to_vec());
        b.put("b", b"k2".to_vec(), b"v2".to_vec());
        s.commit(b).unwrap();
        assert_eq!(s.get("a", b"k1").unwrap().as_deref(), Some(&b"v1"[..]));
        assert_eq!(s.get("b", b"k2").unwrap().as_deref(), Some(&b"v2"[..]));
        assert_eq!(s.next_id("x").unwrap(), 1);
        assert_eq!(s.next_id("x").unwrap(), 2);
        let r = s.range("a", b"", b"\xff", 10, false).unwrap();
        assert_eq!(r.len(), 1);
        drop(s);
        let s = SledStore::open(&dir).unwrap();
        assert_eq!(s.next_id("x").unwrap(), 3, "counters survive a reopen");
        assert_eq!(
            s.next_ids("x", 10).unwrap(),
            4,
            "a block starts after the last id"
        );
        assert_eq!(
            s.next_id("x").unwrap(),
            14,
            "and the next id after the block"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn concurrent_commits_share_flushes() {
        let dir = tempdir();
        let s = Arc::new(SledStore::open(&dir).unwrap());
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..50 {
                        let mut b = Batch::new();
                        b.put("t", format!("{t}-{i}").into_bytes(), vec![1]);
                        s.commit(b).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(s.count("t").unwrap(), 400);
        let _ = std::fs::remove_dir_all(&dir);
    }

    fn tempdir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!(
            "dialect-store-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
