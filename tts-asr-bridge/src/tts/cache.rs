//! A TTS cache: each (text, voice) is synthesized once.
//!
//! [`CachedTts`] wraps any [`Tts`]. It keeps recent audio in memory up to a
//! byte bound, evicting the least recently used, and can also keep every
//! synthesis as a WAV file in a directory that survives restarts (files are
//! named by a SHA-256 of the engine id, voice and text). Concurrent requests
//! for the same sentence share one synthesis. Failures are not cached.
//!
//! The locks here are plain `std::sync::Mutex`es held for map operations
//! only, never across an `.await`.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::Tts;
use crate::BoxFuture;
use crate::audio::{Audio, decode_wav};
use crate::error::{Error, Result};
use crate::voice::Voice;

/// Settings of [`CachedTts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheConfig {
    /// Most bytes of samples kept in memory (64 MiB by default: about half an
    /// hour of espeak-ng speech).
    pub max_bytes: usize,
    /// A directory for WAV copies of every synthesis, created if missing.
    pub dir: Option<PathBuf>,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_bytes: 64 << 20,
            dir: None,
        }
    }
}

/// Counters of a [`CachedTts`], for metrics and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Requests answered from memory.
    pub memory_hits: u64,
    /// Requests answered from the cache directory.
    pub disk_hits: u64,
    /// Syntheses by the inner engine.
    pub synthesized: u64,
    /// Entries in memory now.
    pub entries: usize,
    /// Bytes of samples in memory now.
    pub bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    text: String,
    voice: Voice,
}

/// The in-memory part: a map plus a recency index.
#[derive(Debug, Default)]
struct Lru {
    map: HashMap<Key, (Audio, u64)>,
    order: BTreeMap<u64, Key>,
    tick: u64,
    bytes: usize,
}

impl Lru {
    fn get(&mut self, key: &Key) -> Option<Audio> {
        self.tick += 1;
        let tick = self.tick;
        let (audio, used) = self.map.get_mut(key)?;
        let old = std::mem::replace(used, tick);
        let audio = audio.clone();
        if let Some(k) = self.order.remove(&old) {
            self.order.insert(tick, k);
        }
        Some(audio)
    }

    fn insert(&mut self, key: Key, audio: Audio, max_bytes: usize) {
        let size = audio.byte_len();
        if size > max_bytes {
            return;
        }
        self.tick += 1;
        if let Some((old, used)) = self.map.remove(&key) {
            self.bytes -= old.byte_len();
            self.order.remove(&used);
        }
        while self.bytes + size > max_bytes {
            let Some((_, oldest)) = self.order.pop_first() else {
                break;
            };
            if let Some((gone, _)) = self.map.remove(&oldest) {
                self.bytes -= gone.byte_len();
            }
        }
        self.bytes += size;
        self.order.insert(self.tick, key.clone());
        self.map.insert(key, (audio, self.tick));
    }
}

/// A [`Tts`] that remembers what it has said.
pub struct CachedTts<T> {
    inner: T,
    config: CacheConfig,
    memory: Mutex<Lru>,
    in_flight: Mutex<HashMap<Key, Arc<OnceCell<Audio>>>>,
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    synthesized: AtomicU64,
}

impl<T: Tts> CachedTts<T> {
    /// Wraps `inner`. The cache directory is created on first write.
    pub fn new(inner: T, config: CacheConfig) -> Self {
        CachedTts {
            inner,
            config,
            memory: Mutex::default(),
            in_flight: Mutex::default(),
            memory_hits: AtomicU64::new(0),
            disk_hits: AtomicU64::new(0),
            synthesized: AtomicU64::new(0),
        }
    }

    /// The wrapped engine.
    pub fn inner(&self) -> &T {
        &self.inner
    }

    /// Current counters.
    pub fn stats(&self) -> CacheStats {
        let (entries, bytes) = {
            let lru = self.memory.lock().unwrap_or_else(PoisonError::into_inner);
            (lru.map.len(), lru.bytes)
        };
        CacheStats {
            memory_hits: self.memory_hits.load(Ordering::Relaxed),
            disk_hits: self.disk_hits.load(Ordering::Relaxed),
            synthesized: self.synthesized.load(Ordering::Relaxed),
            entries,
            bytes,
        }
    }

    /// Synthesizes ahead of time (at deploy, for the prompts of a flow).
    pub async fn warm(&self, items: &[(String, Voice)]) -> Result<()> {
        for (text, voice) in items {
            self.get(text, voice).await?;
        }
        Ok(())
    }

    fn file_for(&self, dir: &Path, key: &Key) -> PathBuf {
        let mut hash = Sha256::new();
        hash.update(self.inner.engine_id().as_bytes());
        hash.update([0]);
        // Voice serializes with fixed field order: a stable identity.
        hash.update(serde_json::to_vec(&key.voice).unwrap_or_default());
        hash.update([0]);
        hash.update(key.text.as_bytes());
        let digest = hash.finalize();
        let mut name = String::with_capacity(68);
        for byte in digest.iter() {
            name.push_str(&format!("{byte:02x}"));
        }
        name.push_str(".wav");
        dir.join(name)
    }

    async fn get(&self, text: &str, voice: &Voice) -> Result<Audio> {
        let key = Key {
            text: text.to_owned(),
            voice: voice.clone(),
        };
        if let Some(audio) = self.lock_memory().get(&key) {
            self.memory_hits.fetch_add(1, Ordering::Relaxed);
            return Ok(audio);
        }
        let cell = {
            let mut in_flight = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            in_flight.entry(key.clone()).or_default().clone()
        };
        let result = cell.get_or_try_init(|| self.load_or_synthesize(&key)).await;
        if let Ok(audio) = result {
            self.lock_memory()
                .insert(key.clone(), audio.clone(), self.config.max_bytes);
        }
        // Whoever finishes first retires the shared cell; later requests find
        // the audio in memory (or, after an error, try again).
        {
            let mut in_flight = self
                .in_flight
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if in_flight.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                in_flight.remove(&key);
            }
        }
        result.cloned()
    }

    fn lock_memory(&self) -> std::sync::MutexGuard<'_, Lru> {
        self.memory.lock().unwrap_or_else(PoisonError::into_inner)
    }

    async fn load_or_synthesize(&self, key: &Key) -> Result<Audio> {
        let file = self
            .config
            .dir
            .as_deref()
            .map(|dir| self.file_for(dir, key));
        if let Some(file) = &file {
            match tokio::fs::read(file).await {
                Ok(bytes) => match decode_wav(&bytes) {
                    Ok(audio) => {
                        self.disk_hits.fetch_add(1, Ordering::Relaxed);
                        return Ok(audio);
                    }
                    Err(e) => {
                        tracing::warn!(file = %file.display(), error = %e, "ignoring unreadable TTS cache file")
                    }
                },
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(file = %file.display(), error = %e, "cannot read TTS cache file")
                }
            }
        }
        let audio = self.inner.synthesize(&key.text, &key.voice).await?;
        self.synthesized.fetch_add(1, Ordering::Relaxed);
        if let Some(file) = &file
            && let Err(e) = write_atomically(file, &audio.to_wav()).await
        {
            tracing::warn!(error = %e, "cannot store synthesized audio in the TTS cache");
        }
        Ok(audio)
    }
}

/// Writes through a temporary file and a rename, so readers never see half a file.
async fn write_atomically(file: &Path, bytes: &[u8]) -> Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let cache_err = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Cache { path, source }
    };
    if let Some(dir) = file.parent() {
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(cache_err(dir))?;
    }
    let tmp = file.with_extension(format!(
        "tmp-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    tokio::fs::write(&tmp, bytes)
        .await
        .map_err(cache_err(&tmp))?;
    if let Err(e) = tokio::fs::rename(&tmp, file).await {
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(cache_err(file)(e));
    }
    Ok(())
}

impl<T: Tts> Tts for CachedTts<T> {
    fn synthesize<'a>(&'a self, text: &'a str, voice: &'a Voice) -> BoxFuture<'a, Result<Audio>> {
        Box::pin(self.get(text, voice))
    }

    fn engine_id(&self) -> String {
        self.inner.engine_id()
    }
}

impl<T> std::fmt::Debug for CachedTts<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedTts")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tts::{EspeakConfig, EspeakTts};

    fn espeak() -> EspeakTts {
        EspeakTts::new(EspeakConfig::default())
    }

    #[tokio::test]
    async fn same_sentence_is_synthesized_once() {
        let tts = CachedTts::new(espeak(), CacheConfig::default());
        let a = tts
            .synthesize("your balance is", &Voice::en())
            .await
            .unwrap();
        let b = tts
            .synthesize("your balance is", &Voice::en())
            .await
            .unwrap();
        assert!(Arc::ptr_eq(&a.samples, &b.samples));
        let other_voice = tts
            .synthesize("your balance is", &Voice::en().with_rate(120))
            .await
            .unwrap();
        assert_ne!(a.samples.len(), other_voice.samples.len());
        let stats = tts.stats();
        assert_eq!(
            (stats.synthesized, stats.memory_hits, stats.entries),
            (2, 1, 2)
        );
    }

    #[tokio::test]
    async fn concurrent_requests_share_one_synthesis() {
        let tts = Arc::new(CachedTts::new(espeak(), CacheConfig::default()));
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let tts = tts.clone();
                tokio::spawn(
                    async move { tts.synthesize("please wait", &Voice::en()).await.unwrap() },
                )
            })
            .collect();
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.unwrap());
        }
        assert!(results.windows(2).all(|w| w[0] == w[1]));
        assert_eq!(tts.stats().synthesized, 1);
    }

    #[tokio::test]
    async fn memory_bound_evicts_least_recently_used() {
        let one = espeak().synthesize("one", &Voice::en()).await.unwrap();
        // Room for about two short words.
        let tts = CachedTts::new(
            espeak(),
            CacheConfig {
                max_bytes: one.byte_len() * 5 / 2,
                dir: None,
            },
        );
        tts.synthesize("one", &Voice::en()).await.unwrap();
        tts.synthesize("two", &Voice::en()).await.unwrap();
        tts.synthesize("one", &Voice::en()).await.unwrap(); // "one" is now the most recent
        tts.synthesize("six", &Voice::en()).await.unwrap(); // evicts "two"
        assert_eq!(tts.stats().synthesized, 3);
        assert!(tts.stats().bytes <= one.byte_len() * 5 / 2);
        tts.synthesize("one", &Voice::en()).await.unwrap();
        assert_eq!(tts.stats().synthesized, 3, "one was kept");
        tts.synthesize("two", &Voice::en()).await.unwrap();
        assert_eq!(tts.stats().synthesized, 4, "two was evicted");
    }

    #[tokio::test]
    async fn disk_cache_survives_a_restart() {
        let dir = std::env::temp_dir().join(format!("dialect-speech-cache-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let config = CacheConfig {
            max_bytes: 1 << 20,
            dir: Some(dir.join("tts")),
        };
        let first = CachedTts::new(espeak(), config.clone());
        let a = first.synthesize("账单查询", &Voice::zh()).await.unwrap();
        assert_eq!(first.stats().synthesized, 1);
        let files: Vec<_> = std::fs::read_dir(dir.join("tts")).unwrap().collect();
        assert_eq!(files.len(), 1);

        let second = CachedTts::new(espeak(), config);
        let b = second.synthesize("账单查询", &Voice::zh()).await.unwrap();
        assert_eq!(a, b);
        let stats = second.stats();
        assert_eq!((stats.synthesized, stats.disk_hits), (0, 1));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn failures_are_not_cached() {
        let tts = CachedTts::new(espeak(), CacheConfig::default());
        assert!(
            tts.synthesize("hi", &Voice::new("xx-nosuch"))
                .await
                .is_err()
        );
        assert!(
            tts.synthesize("hi", &Voice::new("xx-nosuch"))
                .await
                .is_err()
        );
        assert_eq!(tts.stats().entries, 0);
    }
}
