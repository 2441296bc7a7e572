//! [`FencedStore`]: a store whose every write carries a [`Fence`], given to
//! the code of a service that runs on one runtime of a cluster at a time (the
//! workorder engine, the outbox): that code writes as it always did, and once
//! its runtime has lost the service's lease nothing more of it reaches the
//! database, even if the runtime has not noticed yet.

use std::time::Duration;

use tokio::sync::broadcast;

use super::{Batch, Entries, Fence, SharedStore, Store, StoreError, TreeChange};

/// A [`Store`] that fences every batch with one lease and holder, and passes
/// everything else to the store it wraps.
pub struct FencedStore {
    inner: SharedStore,
    fence: Fence,
}

impl FencedStore {
    /// Wraps `inner`: its writes need `holder` to hold the lease `lease`.
    pub fn new(inner: SharedStore, lease: &str, holder: &str) -> FencedStore {
        FencedStore {
            inner,
            fence: Fence {
                lease: lease.to_string(),
                holder: holder.to_string(),
            },
        }
    }

    fn fenced(&self, mut batch: Batch) -> Batch {
        batch.fence(self.fence.clone());
        batch
    }
}

impl Store for FencedStore {
    fn get(&self, tree: &str, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(tree, key)
    }

    fn range(
        &self,
        tree: &str,
        from: &[u8],
        to: &[u8],
        limit: usize,
        reverse: bool,
    ) -> Result<Entries, StoreError> {
        self.inner.range(tree, from, to, limit, reverse)
    }

    fn scan_prefix(&self, tree: &str, prefix: &[u8]) -> Result<Entries, StoreError> {
        self.inner.scan_prefix(tree, prefix)
    }

    fn commit(&self, batch: Batch) -> Result<(), StoreError> {
        self.inner.commit(self.fenced(batch))
    }

    fn apply(&self, batch: Batch) -> Result<(), StoreError> {
        self.inner.apply(self.fenced(batch))
    }

    fn sync(&self) -> Result<(), StoreError> {
        self.inner.sync()
    }

    fn next_id(&self, counter: &str) -> Result<u64, StoreError> {
        self.inner.next_id(counter)
    }

    fn next_ids(&self, counter: &str, n: u64) -> Result<u64, StoreError> {
        self.inner.next_ids(counter, n)
    }

    fn count(&self, tree: &str) -> Result<usize, StoreError> {
        self.inner.count(tree)
    }

    fn lease(&self, name: &str, holder: &str, ttl: Duration) -> Result<bool, StoreError> {
        self.inner.lease(name, holder, ttl)
    }

    fn lease_holder(&self, name: &str) -> Result<Option<String>, StoreError> {
        self.inner.lease_holder(name)
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
        self.inner.claim(tree, from, to, holder, limit, ttl)
    }

    fn watch(&self, tree: &str) -> Result<broadcast::Receiver<TreeChange>, StoreError> {
        self.inner.watch(tree)
    }
}
