//! Storage: everything that must survive a restart (contact records, workorders
//! and their history, agent states, outbound tasks, the audit log).
//!
//! [`Store`] is the trait the rest of the runtime uses, so that a distributed
//! backend (PostgreSQL, Redis) can replace the embedded one without a rewrite.
//! [`SledStore`] is the embedded default. A [`Batch`] is applied atomically across
//! trees, and [`Store::commit`] returns only once the batch is durable on disk:
//! concurrent commits share one flush (group commit), so durability does not cost
//! one fsync per write.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, RwLock};

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A storage failure.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("storage error: {0}")]
    Db(String),
    /// A stored value could not be decoded.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
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

    /// Moves every write of `other` to the end of this batch (a later write of a
    /// key wins, as if the two were applied one after the other).
    pub fn append(&mut self, mut other: Batch) {
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
    /// key order (or reverse).
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
    /// Applies a batch atomically and returns once it is durable. Blocking: call it
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
}

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
}

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
