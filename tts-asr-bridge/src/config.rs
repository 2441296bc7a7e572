//! Engine selection by configuration: local engines or the speech bridge.
//!
//! The runtime's configuration file holds a [`SpeechConfig`]; at start-up
//! [`SpeechConfig::build`] gives the `Arc<dyn Tts>` and `Arc<dyn Asr>` its
//! call tasks use. In YAML:
//!
//! ```yaml
//! speech:
//!   tts: { engine: espeak }            # or { engine: bridge, url: "http://speech1:8790" }
//!   asr: { engine: bridge, url: "http://speech1:8790", timeout_ms: 5000 }
//!   tts_cache_mib: 64
//!   tts_cache_dir: /var/cache/dialect/tts
//!   endpoint: { no_input_timeout: 5000, end_silence: 800 }
//! ```
//!
//! TTS is cached locally whichever engine makes it, so a media server plays
//! its common prompts without asking the farm again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::asr::{Asr, EndpointConfig, SphinxAsr, SphinxConfig};
use crate::bridge::{RemoteAsr, RemoteTts};
use crate::error::Result;
use crate::tts::{CacheConfig, CachedTts, EspeakConfig, EspeakTts, Tts};

/// Speech settings of a runtime (or of the bridge).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SpeechConfig {
    /// Which synthesizer.
    pub tts: TtsEngine,
    /// Which recognizer.
    pub asr: AsrEngine,
    /// Memory for synthesized audio, in MiB.
    pub tts_cache_mib: usize,
    /// Keep synthesized audio on disk here too.
    pub tts_cache_dir: Option<PathBuf>,
    /// End-pointing of callers' speech.
    pub endpoint: EndpointConfig,
}

impl Default for SpeechConfig {
    fn default() -> Self {
        SpeechConfig {
            tts: TtsEngine::default(),
            asr: AsrEngine::default(),
            tts_cache_mib: 64,
            tts_cache_dir: None,
            endpoint: EndpointConfig::default(),
        }
    }
}

/// The synthesizer to use.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "engine", rename_all = "snake_case")]
pub enum TtsEngine {
    /// espeak-ng on this machine.
    Espeak {
        /// The program (looked up in `PATH`).
        #[serde(default = "default_espeak")]
        program: PathBuf,
        /// Time limit of one synthesis.
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
    },
    /// The speech bridge (`dialect-speech-bridge`), over HTTP; what it
    /// synthesizes is still cached here.
    Bridge {
        /// Its base URL, such as `http://speech1:8790`.
        url: String,
        /// Time limit of one request.
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
    },
}

impl Default for TtsEngine {
    fn default() -> Self {
        TtsEngine::Espeak {
            program: default_espeak(),
            timeout_ms: default_timeout_ms(),
        }
    }
}

/// The recognizer to use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "engine", rename_all = "snake_case")]
pub enum AsrEngine {
    /// Pooled pocketsphinx decoders on this machine.
    Pocketsphinx(SphinxConfig),
    /// The speech bridge (`dialect-speech-bridge`), over HTTP: recognitions
    /// run on its decoders.
    Bridge {
        /// Its base URL, such as `http://speech1:8790`.
        url: String,
        /// Time limit of one request.
        #[serde(default = "default_timeout_ms")]
        timeout_ms: u64,
    },
}

impl Default for AsrEngine {
    fn default() -> Self {
        AsrEngine::Pocketsphinx(SphinxConfig::default())
    }
}

fn default_espeak() -> PathBuf {
    PathBuf::from("espeak-ng")
}

fn default_timeout_ms() -> u64 {
    10_000
}

impl SpeechConfig {
    /// The configured synthesizer, behind the cache.
    pub fn build_tts(&self) -> Result<Arc<dyn Tts>> {
        let cache = CacheConfig {
            max_bytes: self.tts_cache_mib << 20,
            dir: self.tts_cache_dir.clone(),
        };
        Ok(match &self.tts {
            TtsEngine::Espeak {
                program,
                timeout_ms,
            } => Arc::new(CachedTts::new(
                EspeakTts::new(EspeakConfig {
                    program: program.clone(),
                    timeout: Duration::from_millis(*timeout_ms),
                    ..EspeakConfig::default()
                }),
                cache,
            )),
            TtsEngine::Bridge { url, timeout_ms } => Arc::new(CachedTts::new(
                RemoteTts::new(url, Duration::from_millis(*timeout_ms))?,
                cache,
            )),
        })
    }

    /// The configured recognizer (local decoders are created now).
    pub async fn build_asr(&self) -> Result<Arc<dyn Asr>> {
        Ok(match &self.asr {
            AsrEngine::Pocketsphinx(config) => Arc::new(SphinxAsr::new(config.clone()).await?),
            AsrEngine::Bridge { url, timeout_ms } => {
                Arc::new(RemoteAsr::new(url, Duration::from_millis(*timeout_ms))?)
            }
        })
    }

    /// Both engines.
    pub async fn build(&self) -> Result<(Arc<dyn Tts>, Arc<dyn Asr>)> {
        Ok((self.build_tts()?, self.build_asr().await?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::InputMode;

    #[test]
    fn reads_the_documented_shape() {
        let config: SpeechConfig = serde_json::from_str(
            r#"{
                "tts": {"engine": "bridge", "url": "http://speech1:8790"},
                "asr": {"engine": "pocketsphinx", "decoders": 3, "input": "native8k"},
                "tts_cache_dir": "/tmp/tts",
                "endpoint": {"no_input_timeout": 3000}
            }"#,
        )
        .unwrap();
        assert_eq!(
            config.tts,
            TtsEngine::Bridge {
                url: "http://speech1:8790".into(),
                timeout_ms: 10_000
            }
        );
        match &config.asr {
            AsrEngine::Pocketsphinx(s) => {
                assert_eq!((s.decoders, s.input), (3, InputMode::Native8k));
                assert_eq!(s.min_confidence, SphinxConfig::default().min_confidence);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(config.endpoint.no_input_timeout, Duration::from_secs(3));
        assert_eq!(
            config.endpoint.end_silence,
            EndpointConfig::default().end_silence
        );
        assert_eq!(config.tts_cache_mib, 64);
        let empty: SpeechConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, SpeechConfig::default());
    }

    #[tokio::test]
    async fn builds_remote_engines_without_connecting() {
        let config = SpeechConfig {
            tts: TtsEngine::Bridge {
                url: "http://127.0.0.1:9".into(),
                timeout_ms: 500,
            },
            asr: AsrEngine::Bridge {
                url: "http://127.0.0.1:9".into(),
                timeout_ms: 500,
            },
            ..SpeechConfig::default()
        };
        let (tts, _asr) = config.build().await.unwrap();
        assert_eq!(tts.engine_id(), "bridge http://127.0.0.1:9");
    }
}
