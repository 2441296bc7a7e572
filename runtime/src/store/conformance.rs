//! The [`Store`] contract, checked on every backend: each check is a function
//! over a [`Backend`] (a way to open the store, again and again), and the
//! `conformance!` list runs every check on sled and on PostgreSQL (a throwaway
//! cluster from [`super::test_postgres`]). A backend that passes them all can
//! replace the other without the runtime noticing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use super::{Batch, Fence, SharedStore, SledStore, Store, StoreError, TreeChange};

/// How a check opens the store under test.
pub(super) struct Backend {
    open: Box<dyn Fn() -> SharedStore>,
    /// Whether two opens are two independent clients of one database (as two
    /// runtimes on PostgreSQL); sled allows one open per folder, so its second
    /// "node" is the same store.
    independent_opens: bool,
    /// A folder to remove when the check is over.
    folder: Option<std::path::PathBuf>,
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Some(dir) = &self.folder {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

impl Backend {
    fn sled(test: &str) -> Backend {
        let dir = std::env::temp_dir().join(format!(
            "dialect-conformance-{test}-{}-{:x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        let folder = Some(dir.clone());
        Backend {
            open: Box::new(move || Arc::new(SledStore::open(&dir).unwrap())),
            independent_opens: false,
            folder,
        }
    }

    fn postgres(test: &str) -> Backend {
        let cluster = super::test_postgres::shared().unwrap_or_else(|e| panic!("{e}"));
        let url = cluster.create_database(test).unwrap();
        let target = super::postgres::PgTarget::parse(&url).unwrap();
        Backend {
            open: Box::new(move || Arc::new(super::postgres::PgStore::open(&target).unwrap())),
            independent_opens: true,
            folder: None,
        }
    }

    fn open(&self) -> SharedStore {
        (self.open)()
    }

    /// A second client of the same data while `first` is open.
    fn another(&self, first: &SharedStore) -> SharedStore {
        if self.independent_opens {
            self.open()
        } else {
            first.clone()
        }
    }
}

fn put(s: &dyn Store, tree: &str, key: &[u8], value: &[u8]) {
    let mut b = Batch::new();
    b.put(tree, key.to_vec(), value.to_vec());
    s.commit(b).unwrap();
}

fn keys(entries: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    entries.iter().map(|(k, _)| k.clone()).collect()
}

pub(super) fn get_put_delete(b: &Backend) {
    let s = b.open();
    assert_eq!(s.get("t", b"k").unwrap(), None);
    put(&*s, "t", b"k", b"v1");
    assert_eq!(s.get("t", b"k").unwrap(), Some(b"v1".to_vec()));
    put(&*s, "t", b"k", b"v2");
    assert_eq!(
        s.get("t", b"k").unwrap(),
        Some(b"v2".to_vec()),
        "a put replaces"
    );
    assert_eq!(s.get("other", b"k").unwrap(), None, "trees are apart");
    put(&*s, "t", b"", b"empty key");
    put(&*s, "t", b"e", b"");
    assert_eq!(s.get("t", b"").unwrap(), Some(b"empty key".to_vec()));
    assert_eq!(
        s.get("t", b"e").unwrap(),
        Some(Vec::new()),
        "an empty value is a value"
    );
    let mut batch = Batch::new();
    batch.delete("t", b"k".to_vec());
    batch.delete("t", b"never there".to_vec());
    s.commit(batch).unwrap();
    assert_eq!(s.get("t", b"k").unwrap(), None);
    assert_eq!(s.count("t").unwrap(), 2);
    // The last write of a key in a batch wins.
    let mut batch = Batch::new();
    batch.put("t", b"x".to_vec(), b"1".to_vec());
    batch.delete("t", b"x".to_vec());
    batch.put("t", b"y".to_vec(), b"1".to_vec());
    batch.put("t", b"y".to_vec(), b"2".to_vec());
    s.commit(batch).unwrap();
    assert_eq!(s.get("t", b"x").unwrap(), None);
    assert_eq!(s.get("t", b"y").unwrap(), Some(b"2".to_vec()));
    s.commit(Batch::new()).unwrap();
}

pub(super) fn batches_are_all_or_nothing(b: &Backend) {
    let s = b.open();
    let mut batch = Batch::new();
    for i in 0..200u32 {
        batch.put("a", i.to_be_bytes().to_vec(), vec![1]);
        batch.put("b", i.to_be_bytes().to_vec(), vec![2]);
    }
    s.commit(batch).unwrap();
    assert_eq!(s.count("a").unwrap(), 200);
    assert_eq!(s.count("b").unwrap(), 200);
    // A batch the store refuses leaves nothing behind: a tree name with a NUL
    // is refused by PostgreSQL's text type; on sled a batch whose tree cannot
    // be opened fails before it starts. Either way the good writes beside it
    // must not land.
    let mut bad = Batch::new();
    bad.put("a", b"new".to_vec(), vec![3]);
    bad.delete("b", 0u32.to_be_bytes().to_vec());
    bad.put("bad\0tree", b"k".to_vec(), vec![4]);
    match s.commit(bad) {
        Ok(()) => {
            // A backend that takes any tree name stored all of it.
            assert_eq!(s.get("a", b"new").unwrap(), Some(vec![3]));
            assert_eq!(s.get("b", &0u32.to_be_bytes()).unwrap(), None);
        }
        Err(_) => {
            assert_eq!(s.get("a", b"new").unwrap(), None, "a failed batch wrote");
            assert_eq!(s.count("b").unwrap(), 200, "a failed batch deleted");
        }
    }
}

pub(super) fn ranges_follow_byte_order(b: &Backend) {
    let s = b.open();
    let stored: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x00],
        vec![0x00, 0x00],
        vec![0x00, 0xFF],
        vec![0x01],
        b"a".to_vec(),
        b"a\x00".to_vec(),
        b"ab".to_vec(),
        b"b".to_vec(),
        vec![0x7F],
        vec![0x80],
        vec![0xFE, 0xFF],
        vec![0xFF],
        vec![0xFF, 0x00],
        vec![0xFF, 0xFF, 0xFF],
    ];
    let mut batch = Batch::new();
    for (i, k) in stored.iter().enumerate() {
        batch.put("r", k.clone(), vec![i as u8]);
    }
    batch.put("other", b"a".to_vec(), vec![0]);
    s.commit(batch).unwrap();
    let mut sorted = stored.clone();
    sorted.sort();

    let top = [0xFFu8; 8];
    let all = s.range("r", b"", &top, usize::MAX, false).unwrap();
    assert_eq!(keys(&all), sorted, "ascending byte order");
    for (k, v) in &all {
        let i = stored.iter().position(|x| x == k).unwrap();
        assert_eq!(v, &vec![i as u8], "values follow their keys");
    }
    let down = s.range("r", b"", &top, usize::MAX, true).unwrap();
    let mut reversed = sorted.clone();
    reversed.reverse();
    assert_eq!(keys(&down), reversed, "descending byte order");

    // Bounds: from inclusive, to exclusive.
    let mid = s.range("r", b"a", b"b", usize::MAX, false).unwrap();
    assert_eq!(
        keys(&mid),
        vec![b"a".to_vec(), b"a\x00".to_vec(), b"ab".to_vec()]
    );
    let zeros = s
        .range("r", &[0x00], &[0x00, 0xFF], usize::MAX, false)
        .unwrap();
    assert_eq!(keys(&zeros), vec![vec![0x00], vec![0x00, 0x00]]);
    let high = s
        .range("r", &[0xFF], &[0xFF, 0xFF, 0xFF, 0x00], 10, false)
        .unwrap();
    assert_eq!(
        keys(&high),
        vec![vec![0xFF], vec![0xFF, 0x00], vec![0xFF, 0xFF, 0xFF]]
    );

    // Limits, both ways.
    let first3 = s.range("r", b"", &top, 3, false).unwrap();
    assert_eq!(keys(&first3), sorted[..3].to_vec());
    let last2 = s.range("r", b"", &top, 2, true).unwrap();
    assert_eq!(keys(&last2), reversed[..2].to_vec());
    let last_below_b = s.range("r", b"", b"b", 1, true).unwrap();
    assert_eq!(keys(&last_below_b), vec![b"ab".to_vec()]);

    // Empty ranges.
    assert!(s.range("r", b"a", b"a", 10, false).unwrap().is_empty());
    assert!(s.range("r", b"b", b"a", 10, false).unwrap().is_empty());
    assert!(s.range("r", b"", &top, 0, false).unwrap().is_empty());
    assert!(s.range("nothing", b"", &top, 10, true).unwrap().is_empty());
    assert_eq!(
        s.range("r", b"", &[0x00], 10, false).unwrap().len(),
        1,
        "only the empty key"
    );
}

pub(super) fn prefixes_and_counts(b: &Backend) {
    let s = b.open();
    let mut batch = Batch::new();
    for k in [
        &b"order/1"[..],
        b"order/2",
        b"order/10",
        b"order0",
        b"orde",
        b"\xff\xff",
        b"\xff\xff\x00",
        b"\xff",
        b"\xfe",
    ] {
        batch.put("p", k.to_vec(), k.to_vec());
    }
    s.commit(batch).unwrap();
    let orders = s.scan_prefix("p", b"order/").unwrap();
    assert_eq!(
        keys(&orders),
        vec![
            b"order/1".to_vec(),
            b"order/10".to_vec(),
            b"order/2".to_vec()
        ]
    );
    assert_eq!(orders[0].1, b"order/1".to_vec());
    let ff = s.scan_prefix("p", b"\xff\xff").unwrap();
    assert_eq!(
        keys(&ff),
        vec![b"\xff\xff".to_vec(), b"\xff\xff\x00".to_vec()]
    );
    let ffs = s.scan_prefix("p", b"\xff").unwrap();
    assert_eq!(ffs.len(), 3);
    assert_eq!(
        s.scan_prefix("p", b"").unwrap().len(),
        9,
        "the empty prefix is everything"
    );
    assert!(s.scan_prefix("p", b"x").unwrap().is_empty());
    assert_eq!(s.count("p").unwrap(), 9);
    assert_eq!(s.count("empty").unwrap(), 0);
}

pub(super) fn counters_increase_across_threads_and_clients(b: &Backend) {
    let first = b.open();
    let second = b.another(&first);
    let threads: Vec<_> = (0..6)
        .map(|t| {
            let s = if t % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                for i in 0..40 {
                    if i % 5 == 0 {
                        let start = s.next_ids("c", 3).unwrap();
                        mine.extend([start, start + 1, start + 2]);
                    } else {
                        mine.push(s.next_id("c").unwrap());
                    }
                }
                mine
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in threads {
        let mine = t.join().unwrap();
        assert!(
            mine.windows(2).all(|w| w[0] < w[1]),
            "each caller sees its ids rise"
        );
        all.extend(mine);
    }
    let n = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), n, "no id is handed out twice");
    assert_eq!(all.first(), Some(&1));
    assert_eq!(
        *all.last().unwrap() as usize,
        n,
        "ids without a lost update are dense"
    );
    assert_eq!(first.next_id("other").unwrap(), 1, "counters are apart");
}

pub(super) fn id_blocks_leave_gaps_but_never_go_back(b: &Backend) {
    let s = b.open();
    assert_eq!(s.next_id("x").unwrap(), 1);
    assert_eq!(
        s.next_ids("x", 10).unwrap(),
        2,
        "a block starts after the last id"
    );
    assert_eq!(s.next_id("x").unwrap(), 12, "the next id follows the block");
    assert_eq!(s.next_ids("x", 0).unwrap(), 13, "a block of none takes one");
    drop(s);
    let s = b.open();
    assert_eq!(s.next_id("x").unwrap(), 14, "counters survive a reopen");
}

pub(super) fn commits_survive_a_reopen(b: &Backend) {
    let s = b.open();
    let mut batch = Batch::new();
    for i in 0..50u32 {
        batch.put("d", i.to_be_bytes().to_vec(), vec![7; 300]);
    }
    s.commit(batch).unwrap();
    let mut batch = Batch::new();
    batch.delete("d", 0u32.to_be_bytes().to_vec());
    s.commit(batch).unwrap();
    drop(s);
    let s = b.open();
    assert_eq!(s.count("d").unwrap(), 49);
    assert_eq!(s.get("d", &1u32.to_be_bytes()).unwrap(), Some(vec![7; 300]));
    assert_eq!(s.get("d", &0u32.to_be_bytes()).unwrap(), None);
}

pub(super) fn applied_writes_are_visible_and_synced(b: &Backend) {
    let s = b.open();
    let other = b.another(&s);
    for i in 0..20u8 {
        let mut batch = Batch::new();
        batch.put("stats", vec![i], vec![i]);
        s.apply(batch).unwrap();
    }
    assert_eq!(
        s.count("stats").unwrap(),
        20,
        "applied writes are read at once"
    );
    assert_eq!(
        other.get("stats", &[19]).unwrap(),
        Some(vec![19]),
        "by every client"
    );
    s.sync().unwrap();
    // Concurrent syncs and commits do not wait on each other forever.
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let s = s.clone();
            std::thread::spawn(move || {
                for i in 0..10u8 {
                    let mut batch = Batch::new();
                    batch.put("stats", vec![t, i, 0], vec![1]);
                    s.apply(batch).unwrap();
                    s.sync().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    drop(other);
    drop(s);
    let s = b.open();
    assert_eq!(s.count("stats").unwrap(), 60);
}

pub(super) fn works_from_async_tasks_and_blocking_threads(b: &Backend) {
    let s = b.open();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Straight from a worker thread, as some handlers read.
        put(&*s, "async", b"k", b"v");
        assert_eq!(s.get("async", b"k").unwrap(), Some(b"v".to_vec()));
        let mut batch = Batch::new();
        batch.put("async", b"k2".to_vec(), b"v2".to_vec());
        super::commit_async(s.clone(), batch).await.unwrap();
        let s2 = s.clone();
        let n = tokio::task::spawn_blocking(move || s2.count("async").unwrap())
            .await
            .unwrap();
        assert_eq!(n, 2);
        // From a current-thread runtime nested in a plain thread.
        let s3 = s.clone();
        std::thread::spawn(move || {
            let inner = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            inner.block_on(async { s3.next_id("async").unwrap() })
        })
        .join()
        .unwrap();
    });
    // The store may be dropped inside async code.
    rt.block_on(async move { drop(s) });
}

pub(super) fn leases_have_one_holder(b: &Backend) {
    let first = b.open();
    let second = b.another(&first);
    let short = Duration::from_millis(300);
    assert!(
        first.lease("acd", "n1", short).unwrap(),
        "a free lease is taken"
    );
    assert!(
        !second.lease("acd", "n2", short).unwrap(),
        "a held lease is not"
    );
    assert!(
        first.lease("acd", "n1", short).unwrap(),
        "the holder renews"
    );
    assert!(
        second.lease("other", "n2", short).unwrap(),
        "leases are apart"
    );
    std::thread::sleep(Duration::from_millis(450));
    assert!(
        second.lease("acd", "n2", short).unwrap(),
        "a lapsed lease is taken"
    );
    assert!(
        !first.lease("acd", "n1", short).unwrap(),
        "and lost by its old holder"
    );
    assert!(
        second.lease("acd", "n2", Duration::ZERO).unwrap(),
        "a ttl of 0 gives it up"
    );
    std::thread::sleep(Duration::from_millis(5));
    assert!(
        first.lease("acd", "n1", short).unwrap(),
        "then anyone may take it"
    );

    // Many contenders at once, on two clients: exactly one wins.
    let winners: usize = (0..8)
        .map(|i| {
            let s = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            std::thread::spawn(move || s.lease("race", &format!("n{i}"), Duration::from_secs(30)))
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|t| usize::from(t.join().unwrap().unwrap()))
        .sum();
    assert_eq!(winners, 1);
}

pub(super) fn fenced_batches_need_the_lease(b: &Backend) {
    let first = b.open();
    let second = b.another(&first);
    let short = Duration::from_millis(300);
    let fenced = |holder: &str, key: &[u8]| {
        let mut batch = Batch::new();
        batch.put("fenced", key.to_vec(), b"v".to_vec());
        batch.fence(Fence {
            lease: "workorders".into(),
            holder: holder.into(),
        });
        batch
    };
    assert_eq!(
        first.commit(fenced("n1", b"a")),
        Err(StoreError::Fenced("workorders".into())),
        "no one holds the lease"
    );
    assert_eq!(first.lease_holder("workorders").unwrap(), None);
    assert!(first.lease("workorders", "n1", short).unwrap());
    assert_eq!(
        second.lease_holder("workorders").unwrap().as_deref(),
        Some("n1"),
        "every client sees the holder"
    );
    first.commit(fenced("n1", b"b")).unwrap();
    second.apply(fenced("n1", b"c")).unwrap();
    assert_eq!(
        second.commit(fenced("n2", b"d")),
        Err(StoreError::Fenced("workorders".into())),
        "another holder is refused"
    );
    std::thread::sleep(Duration::from_millis(450));
    assert_eq!(second.lease_holder("workorders").unwrap(), None, "lapsed");
    assert_eq!(
        first.commit(fenced("n1", b"e")),
        Err(StoreError::Fenced("workorders".into())),
        "a lapsed holder is refused, though no one took the lease over"
    );
    assert!(second.lease("workorders", "n2", short).unwrap());
    second.commit(fenced("n2", b"f")).unwrap();
    assert_eq!(
        first.commit(fenced("n1", b"g")),
        Err(StoreError::Fenced("workorders".into())),
        "the old holder is refused after a take-over"
    );
    let written: Vec<Vec<u8>> = keys(&first.scan_prefix("fenced", b"").unwrap());
    assert_eq!(written, vec![b"b".to_vec(), b"c".to_vec(), b"f".to_vec()]);

    // The wrapper fences every write of the code given it.
    assert!(first.lease("outbox", "n1", short).unwrap());
    let wrapped = super::FencedStore::new(first.clone(), "outbox", "n1");
    put(&wrapped, "fenced", b"h", b"v");
    std::thread::sleep(Duration::from_millis(450));
    assert!(second.lease("outbox", "n2", short).unwrap());
    let mut late = Batch::new();
    late.put("fenced", b"i".to_vec(), b"v".to_vec());
    assert_eq!(
        wrapped.commit(late),
        Err(StoreError::Fenced("outbox".into()))
    );
    assert!(first.get("fenced", b"h").unwrap().is_some());
    assert!(first.get("fenced", b"i").unwrap().is_none());
}

pub(super) fn claims_hand_each_entry_to_one_claimer(b: &Backend) {
    let first = b.open();
    let second = b.another(&first);
    let mut batch = Batch::new();
    for i in 0..300u32 {
        batch.put("due", i.to_be_bytes().to_vec(), i.to_le_bytes().to_vec());
    }
    batch.put("due", b"zz-after".to_vec(), vec![0]);
    batch.put("not-due", 1u32.to_be_bytes().to_vec(), vec![0]);
    first.commit(batch).unwrap();
    let (from, to) = (0u32.to_be_bytes(), 300u32.to_be_bytes());

    let claimers: Vec<_> = (0..6)
        .map(|i| {
            let s = if i % 2 == 0 {
                first.clone()
            } else {
                second.clone()
            };
            std::thread::spawn(move || {
                let mut mine = Vec::new();
                loop {
                    let got = s
                        .claim(
                            "due",
                            &from,
                            &to,
                            &format!("node{i}"),
                            7,
                            Duration::from_secs(60),
                        )
                        .unwrap();
                    if got.is_empty() {
                        return mine;
                    }
                    assert!(got.len() <= 7);
                    assert!(got.windows(2).all(|w| w[0].0 < w[1].0), "in key order");
                    for (k, v) in got {
                        let n = u32::from_be_bytes(k.as_slice().try_into().unwrap());
                        assert_eq!(v, n.to_le_bytes().to_vec(), "with its value");
                        mine.push(n);
                    }
                }
            })
        })
        .collect();
    let mut all: Vec<u32> = claimers
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort_unstable();
    assert_eq!(
        all,
        (0..300).collect::<Vec<_>>(),
        "every entry claimed exactly once"
    );
    let again = first
        .claim("due", &from, &to, "node0", 10, Duration::from_secs(60))
        .unwrap();
    assert!(again.is_empty(), "a live claim is not handed out again");

    // A claim lapses; a delete ends it; a put keeps it.
    let (a, b_key) = (b"a".to_vec(), b"b".to_vec());
    let mut batch = Batch::new();
    batch.put("short", a.clone(), vec![1]);
    batch.put("short", b_key.clone(), vec![1]);
    first.commit(batch).unwrap();
    let got = first
        .claim("short", b"", b"\xff", "n1", 10, Duration::from_millis(200))
        .unwrap();
    assert_eq!(keys(&got), vec![a.clone(), b_key.clone()]);
    put(&*first, "short", &a, &[2]);
    assert!(
        second
            .claim("short", b"", b"\xff", "n2", 10, Duration::from_secs(60))
            .unwrap()
            .is_empty(),
        "a put keeps the claim"
    );
    let mut batch = Batch::new();
    batch.delete("short", b_key.clone());
    first.commit(batch).unwrap();
    put(&*first, "short", &b_key, &[3]);
    let got = second
        .claim("short", b"", b"\xff", "n2", 10, Duration::from_secs(60))
        .unwrap();
    assert_eq!(
        got,
        vec![(b_key.clone(), vec![3])],
        "a re-created entry is free"
    );
    std::thread::sleep(Duration::from_millis(300));
    let got = second
        .claim("short", b"", b"\xff", "n2", 10, Duration::from_secs(60))
        .unwrap();
    assert_eq!(got, vec![(a, vec![2])], "a lapsed claim is free again");
    assert!(
        first
            .claim("short", b"b", b"a", "n1", 10, Duration::from_secs(1))
            .unwrap()
            .is_empty()
    );
}

/// The next change a watch reports, within `patience`.
fn next_change(
    rx: &mut tokio::sync::broadcast::Receiver<TreeChange>,
    patience: Duration,
) -> Option<TreeChange> {
    let deadline = std::time::Instant::now() + patience;
    loop {
        match rx.try_recv() {
            Ok(change) => return Some(change),
            Err(tokio::sync::broadcast::error::TryRecvError::Empty) => {
                if std::time::Instant::now() > deadline {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("watch: {e}"),
        }
    }
}

pub(super) fn watches_report_changes_from_other_clients(b: &Backend) {
    let first = b.open();
    let second = b.another(&first);
    let mut rx = first.watch("lists").unwrap();
    let mut unwatched = first.watch("calm").unwrap();
    let second_rx = second.watch("lists").unwrap();
    drop(second_rx);
    let second_sees = std::time::Instant::now();
    put(&*second, "lists", b"dnc/13800138000", b"1");
    put(&*second, "busy", b"k", b"1");
    let mut batch = Batch::new();
    batch.delete("lists", b"dnc/13800138000".to_vec());
    batch.put("lists", vec![0x00, 0xFF], vec![]);
    second.commit(batch).unwrap();
    let a_second = Duration::from_secs(1);
    assert_eq!(
        next_change(&mut rx, a_second),
        Some(TreeChange::Key(b"dnc/13800138000".to_vec()))
    );
    let mut rest = vec![
        next_change(&mut rx, a_second).unwrap(),
        next_change(&mut rx, a_second).unwrap(),
    ];
    rest.sort_by_key(|c| format!("{c:?}"));
    assert_eq!(
        rest,
        vec![
            TreeChange::Key(vec![0x00, 0xFF]),
            TreeChange::Key(b"dnc/13800138000".to_vec()),
        ]
    );
    assert!(second_sees.elapsed() < Duration::from_secs(3));
    assert_eq!(
        next_change(&mut unwatched, Duration::from_millis(100)),
        None
    );

    // A batch with more keys than a notice holds: the keys, or "re-read".
    let mut batch = Batch::new();
    for i in 0..2000u64 {
        batch.put("lists", i.to_be_bytes().to_vec(), vec![]);
    }
    second.commit(batch).unwrap();
    let mut keys_seen = 0;
    loop {
        match next_change(&mut rx, a_second) {
            Some(TreeChange::Reread) => break,
            Some(TreeChange::Key(_)) => {
                keys_seen += 1;
                if keys_seen == 2000 {
                    break;
                }
            }
            None => panic!("the big batch was not reported ({keys_seen} keys)"),
        }
    }
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod on_sled {
            $(#[test]
            fn $check() {
                super::$check(&super::Backend::sled(stringify!($check)));
            })*
        }
        mod on_postgres {
            $(#[test]
            fn $check() {
                super::$check(&super::Backend::postgres(stringify!($check)));
            })*
        }
    };
}

conformance!(
    get_put_delete,
    batches_are_all_or_nothing,
    ranges_follow_byte_order,
    prefixes_and_counts,
    counters_increase_across_threads_and_clients,
    id_blocks_leave_gaps_but_never_go_back,
    commits_survive_a_reopen,
    applied_writes_are_visible_and_synced,
    works_from_async_tasks_and_blocking_threads,
    leases_have_one_holder,
    fenced_batches_need_the_lease,
    claims_hand_each_entry_to_one_claimer,
    watches_report_changes_from_other_clients,
);
