//! The program and the number lists across a cluster: a bundle deployed to any
//! runtime (`POST /api/v1/deploy`) is stored in the tree `deploys`, and every
//! runtime watches that tree and the list entries' tree and rebuilds its
//! program when either changes, within a second (PostgreSQL's
//! `LISTEN`/`NOTIFY`). A call keeps the program it started on, as with a
//! deploy on one runtime. A runtime that starts runs the stored bundle, not
//! its project folder, so a runtime restarted after a deploy runs what the
//! others run.

use std::sync::Arc;

use sha2::Digest;
use tokio::sync::broadcast::error::RecvError;
use tokio_util::sync::CancellationToken;

use crate::deploy::ProgramSlot;
use crate::store::{Batch, SharedStore, Store, StoreError};

/// The tree that holds the cluster's deployed bundle.
pub const DEPLOYS: &str = "deploys";

/// Its one key: the SHA-256 of the bundle, then the bundle.
const CURRENT: &[u8] = b"current";

/// Stores `bundle`, just deployed on this runtime, for every runtime.
pub fn publish(store: &dyn Store, bundle: &[u8]) -> Result<(), StoreError> {
    let mut value = sha2::Sha256::digest(bundle).to_vec();
    value.extend_from_slice(bundle);
    let mut batch = Batch::new();
    batch.put(DEPLOYS, CURRENT.to_vec(), value);
    store.commit(batch)
}

/// The cluster's deployed bundle, if a deploy stored one.
pub fn stored(store: &dyn Store) -> Result<Option<Vec<u8>>, StoreError> {
    Ok(store
        .get(DEPLOYS, CURRENT)?
        .filter(|v| v.len() > 32)
        .map(|mut v| v.split_off(32)))
}

/// Follows the deploys and list changes of the other runtimes until
/// `shutdown`.
pub fn follow(
    store: SharedStore,
    slot: Arc<ProgramSlot>,
    shutdown: CancellationToken,
) -> Result<(), StoreError> {
    let mut deploys = store.watch(DEPLOYS)?;
    let mut lists = store.watch(crate::lists::LIST_ENTRIES)?;
    tokio::spawn(async move {
        // What changed while the watches were being set up.
        load_deployed(&store, &slot).await;
        relist(&store, &slot).await;
        loop {
            tokio::select! {
                _ = shutdown.cancelled() => break,
                r = deploys.recv() => match r {
                    Ok(_) | Err(RecvError::Lagged(_)) => load_deployed(&store, &slot).await,
                    Err(RecvError::Closed) => break,
                },
                r = lists.recv() => match r {
                    Ok(_) | Err(RecvError::Lagged(_)) => {
                        // A bulk change comes as many keys: one rebuild for them.
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                        while lists.try_recv().is_ok() {}
                        relist(&store, &slot).await;
                    }
                    Err(RecvError::Closed) => break,
                },
            }
        }
    });
    Ok(())
}

/// Runs the stored bundle if it is not the one running.
async fn load_deployed(store: &SharedStore, slot: &Arc<ProgramSlot>) {
    let (store, slot) = (store.clone(), slot.clone());
    let done = tokio::task::spawn_blocking(move || {
        let Some(bundle) = stored(&*store)? else {
            return Ok(None);
        };
        if *slot.bundle() == bundle {
            return Ok(None);
        }
        Ok::<_, StoreError>(Some(slot.deploy_bundle(&bundle)))
    })
    .await;
    match done {
        Ok(Ok(Some(Ok(info)))) => tracing::info!(
            version = info.version,
            project = %info.project,
            "running the program another runtime of the cluster deployed"
        ),
        Ok(Ok(Some(Err(e)))) => {
            tracing::error!("the program another runtime deployed does not load here: {e}")
        }
        Ok(Ok(None)) => {}
        Ok(Err(e)) => tracing::error!("cannot read the cluster's deployed program: {e}"),
        Err(e) => tracing::error!("loading the cluster's deployed program failed: {e}"),
    }
}

async fn relist(store: &SharedStore, slot: &Arc<ProgramSlot>) {
    let (store, slot) = (store.clone(), slot.clone());
    match tokio::task::spawn_blocking(move || slot.relist(&*store)).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!("cannot apply another runtime's list change: {e}"),
        Err(e) => tracing::error!("applying a list change failed: {e}"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::lists::ListEntry;
    use crate::store::SledStore;
    use crate::workorder::tests::{hotline, temp_dir};

    /// Waits (at most 5 s) for `what` of the running program to hold.
    async fn eventually(
        slot: &ProgramSlot,
        what: impl Fn(&crate::deploy::Deployed) -> bool,
    ) -> bool {
        for _ in 0..100 {
            if what(&slot.current()) {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        false
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn deploys_and_list_changes_of_other_runtimes_are_followed() {
        let dir = temp_dir("follow");
        let store: SharedStore = Arc::new(SledStore::open(&dir).unwrap());
        let slot = hotline();
        let stop = CancellationToken::new();
        follow(store.clone(), slot.clone(), stop.clone()).unwrap();

        // Another runtime adds a number to the red list.
        let entry = ListEntry {
            list: "redlist".into(),
            number: "13600000099".into(),
            category: None,
            reason: "VIP".into(),
            added_ms: 0,
            by: "admin".into(),
        };
        crate::lists::change(&store, &[entry], &[]).await.unwrap();
        let listed = |d: &crate::deploy::Deployed| {
            d.program
                .ir()
                .lists
                .iter()
                .any(|l| l.name == "redlist" && l.entries.iter().any(|e| e == "13600000099"))
        };
        assert!(
            eventually(&slot, listed).await,
            "the list change reached the program"
        );

        // Another runtime deploys a different project.
        let project = temp_dir("follow-project");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(
            project.join("main.flow"),
            "flow main \"入口\" on \"10086\" {\n  say \"你好\"\n  hangup\n}\n",
        )
        .unwrap();
        let bundle = crate::deploy::compile_project(&project).unwrap();
        let before = slot.version();
        publish(&*store, &bundle).unwrap();
        assert!(
            eventually(&slot, |d| d.info.numbers == vec!["10086".to_string()]).await,
            "the deploy reached this runtime"
        );
        assert!(slot.version() > before);
        assert_eq!(stored(&*store).unwrap().unwrap(), bundle);

        // Stored again unchanged: nothing is rebuilt.
        let version = slot.version();
        publish(&*store, &bundle).unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        assert_eq!(slot.version(), version);
        stop.cancel();
        drop(store);
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_dir_all(&project);
    }
}
