//! The built-in recognizer: pocketsphinx with JSGF grammars, pooled.
//!
//! Decoders are slow to create (the acoustic model and a 134 000-word
//! dictionary are loaded) and not thread-safe, so [`SphinxAsr`] keeps a pool:
//! a recognition takes a permit (at most [`SphinxConfig::decoders`] run at
//! once), borrows an idle decoder or creates one, runs on a blocking thread
//! (`spawn_blocking`), and puts the decoder back. Each decoder keeps the
//! searches of the grammars it has seen (up to [`SEARCHES_PER_DECODER`]), so
//! a menu's JSGF is compiled once per decoder, not once per call.
//!
//! # 8 kHz audio and the 16 kHz model
//!
//! The installed en-us model is trained on 16 kHz audio. [`InputMode`]
//! chooses between decoding the 8 kHz call audio with an 8 kHz front end
//! (`-samprate 8000 -nfft 256 -upperf 3500`) or upsampling it to 16 kHz for
//! the model's own front end. See the crate docs for what was measured.
//!
//! # Confidence
//!
//! A closed grammar always finds *some* phrase, and pocketsphinx's own
//! posterior for a grammar search is always 1. Two signals are used instead:
//! an utterance the grammar cannot explain at all leaves no hypothesis
//! (→ [`Recognition::NoMatch`]), and otherwise the grammar path's acoustic
//! score per speech frame says how well the words fit the sound. Pocketsphinx
//! normalizes senone scores to the best one in each frame, so this is a
//! distance from the best the acoustic model could do: small for a real
//! match, large when other words were forced into the grammar. It is
//! reported as [`Analysis::frame_score`] (0 is perfect) and mapped to a
//! confidence by `1 / (1 + (frame_score / confidence_scale)^4)`; results
//! below [`SphinxConfig::min_confidence`] become [`Recognition::NoMatch`].
//!
//! A phone loop as the reference (the usual likelihood-ratio confidence)
//! was tried: pocketsphinx's allphone search took 5 s per second of audio,
//! and a phone loop in a JSGF grammar swallowed the in-grammar phrases.
//!
//! # Decoder settings
//!
//! `-remove_noise no -remove_silence no`: both keep a noise estimate from
//! one utterance to the next, so a pooled decoder answered differently
//! depending on the previous call (measured: the same clip of "fault report"
//! came out as "billing" or "fault report" depending on what was decoded
//! before). The end-pointer already trims silence.
//!
//! Fixed white noise ([`SphinxConfig::noise_floor`], peak 32, about
//! -66 dBFS) is added before decoding. Upsampled 8 kHz audio has nothing
//! above 4 kHz, and the model's filters up there then see whatever is left,
//! digital silence or line hiss, which made results swing between calls;
//! a known floor steadies them (menu phrases went from 27-28 to 32 of 32
//! right in the measurement below). It is deterministic, unlike
//! `-dither yes`, whose random state a pooled decoder would carry over.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::endpoint::{self, Endpoint, EndpointConfig, SAMPLE_RATE};
use super::ffi::{Decoder, FfiError, Hypothesis};
use super::grammar::Compiled;
use super::{Asr, Grammar, Recognition};
use crate::BoxFuture;
use crate::audio::resample;
use crate::error::{Error, Result};

const ENGINE: &str = "pocketsphinx";

/// Grammars remembered by each decoder.
pub(crate) const SEARCHES_PER_DECODER: usize = 32;

/// How 8 kHz call audio meets the 16 kHz acoustic model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InputMode {
    /// Decode at 8 kHz: `-samprate 8000 -nfft 256 -upperf 3500`.
    Native8k,
    /// Upsample to 16 kHz and use the model's own front end.
    #[default]
    Upsample16k,
}

/// Settings of [`SphinxAsr`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SphinxConfig {
    /// The acoustic model directory (`-hmm`).
    pub model_dir: PathBuf,
    /// The pronunciation dictionary (`-dict`).
    pub dictionary: PathBuf,
    /// How 8 kHz audio is fed to the model.
    pub input: InputMode,
    /// Most decoders (and so recognitions running at once).
    pub decoders: usize,
    /// Decoders created up front by [`SphinxAsr::new`].
    pub warm: usize,
    /// The [`Analysis::frame_score`] at which confidence is 0.5.
    pub confidence_scale: f32,
    /// Confidence below which a result is [`Recognition::NoMatch`].
    pub min_confidence: f32,
    /// Longest utterance accepted, in seconds of audio.
    pub max_utterance_secs: f32,
    /// Peak of the fixed white noise added before decoding (see the module
    /// docs), in sample units.
    pub noise_floor: i16,
    /// More `-name value` decoder arguments (tuning).
    pub extra_args: Vec<(String, String)>,
}

impl Default for SphinxConfig {
    fn default() -> Self {
        let base = PathBuf::from("/usr/share/pocketsphinx/model/en-us");
        SphinxConfig {
            model_dir: base.join("en-us"),
            dictionary: base.join("cmudict-en-us.dict"),
            input: InputMode::default(),
            decoders: std::thread::available_parallelism().map_or(2, |n| n.get()),
            warm: 1,
            confidence_scale: 5.5,
            min_confidence: 0.5,
            max_utterance_secs: 30.0,
            noise_floor: 32,
            extra_args: Vec::new(),
        }
    }
}

impl SphinxConfig {
    /// The decoder arguments for this configuration.
    ///
    /// The model's `feat.params` overrides arguments given on the command
    /// line, and it sets `-upperf 6800`, which an 8 kHz front end refuses
    /// (above the 4 kHz Nyquist frequency). For [`InputMode::Native8k`] a
    /// copy with `-upperf 3500` is written to the temporary directory and
    /// named by `-featparams`.
    fn args(&self) -> Result<Vec<(String, String)>> {
        let mut args = vec![
            ("-hmm".to_owned(), self.model_dir.display().to_string()),
            ("-dict".to_owned(), self.dictionary.display().to_string()),
            // Both keep a noise estimate from one utterance to the next: a
            // pooled decoder would then answer differently depending on the
            // previous call. The end-pointer already removes silence.
            ("-remove_noise".to_owned(), "no".to_owned()),
            ("-remove_silence".to_owned(), "no".to_owned()),
        ];
        if self.input == InputMode::Native8k {
            for (k, v) in [("-samprate", "8000"), ("-nfft", "256"), ("-upperf", "3500")] {
                args.push((k.to_owned(), v.to_owned()));
            }
            if let Some(path) = self.narrowband_feat_params()? {
                args.push(("-featparams".to_owned(), path.display().to_string()));
            }
        }
        args.extend(self.extra_args.iter().cloned());
        Ok(args)
    }

    fn narrowband_feat_params(&self) -> Result<Option<PathBuf>> {
        let original = self.model_dir.join("feat.params");
        let text = match std::fs::read_to_string(&original) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(Error::EngineFailed {
                    engine: ENGINE,
                    detail: format!("cannot read {}: {e}", original.display()),
                });
            }
        };
        let narrow: String = text
            .lines()
            .map(|line| {
                if line.trim_start().starts_with("-upperf") {
                    "-upperf 3500\n".to_owned()
                } else {
                    format!("{line}\n")
                }
            })
            .collect();
        let mut hasher = DefaultHasher::new();
        narrow.hash(&mut hasher);
        let path = std::env::temp_dir().join(format!(
            "dialect-speech-{:016x}.feat.params",
            hasher.finish()
        ));
        if std::fs::read_to_string(&path).is_ok_and(|existing| existing == narrow) {
            return Ok(Some(path));
        }
        // Through a private file and a rename: another process may be
        // reading the shared one.
        let private = path.with_extension(format!("{}.tmp", std::process::id()));
        let written = std::fs::write(&private, narrow.as_bytes())
            .and_then(|()| std::fs::rename(&private, &path));
        written.map_err(|e| Error::EngineFailed {
            engine: ENGINE,
            detail: format!("cannot write {}: {e}", path.display()),
        })?;
        Ok(Some(path))
    }

    fn decoder_rate(&self) -> u32 {
        match self.input {
            InputMode::Native8k => SAMPLE_RATE,
            InputMode::Upsample16k => 16_000,
        }
    }
}

/// The details of one recognition, for tuning and measurement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// What the flow gets.
    pub recognition: Recognition,
    /// The grammar hypothesis, if any.
    pub hypothesis: Option<String>,
    /// 10 ms frames in the utterance.
    pub frames: i32,
    /// Frames the grammar path spent in words (not silence or noise).
    pub speech_frames: i32,
    /// How far the grammar path's acoustic score falls short of the best
    /// senones, per speech frame (scaled natural log; 0 is perfect, real
    /// matches measure about 2-6).
    pub frame_score: Option<f32>,
    /// Wall time of the recognition once its decoder was ready (waiting for a
    /// decoder not included).
    pub decode_time: Duration,
}

/// Recognition by pocketsphinx decoders in a pool.
#[derive(Clone)]
pub struct SphinxAsr {
    inner: Arc<Inner>,
}

struct Inner {
    config: SphinxConfig,
    args: Vec<(String, String)>,
    idle: Mutex<Vec<Worker>>,
    permits: Arc<Semaphore>,
}

impl std::fmt::Debug for SphinxAsr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SphinxAsr")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl SphinxAsr {
    /// Creates the pool and [`SphinxConfig::warm`] decoders (on a blocking
    /// thread: this takes about a second per decoder).
    pub async fn new(config: SphinxConfig) -> Result<Self> {
        let decoders = config.decoders.max(1);
        let inner = Arc::new(Inner {
            args: config.args()?,
            permits: Arc::new(Semaphore::new(decoders)),
            idle: Mutex::new(Vec::with_capacity(decoders)),
            config,
        });
        let warm = inner.config.warm.min(decoders);
        for _ in 0..warm {
            let for_thread = inner.clone();
            let worker = tokio::task::spawn_blocking(move || Worker::new(&for_thread))
                .await
                .map_err(|e| Error::Worker(e.to_string()))??;
            inner.lock_idle().push(worker);
        }
        Ok(SphinxAsr { inner })
    }

    /// The configuration the pool was built with.
    pub fn config(&self) -> &SphinxConfig {
        &self.inner.config
    }

    /// Recognizes and reports the details (scores, timing).
    pub async fn analyse(&self, grammar: &Grammar, samples: Vec<i16>) -> Result<Analysis> {
        let compiled = grammar.compile()?;
        let max = (self.inner.config.max_utterance_secs * SAMPLE_RATE as f32) as usize;
        if samples.len() > max {
            return Err(Error::Audio(format!(
                "utterance of {:.1} s is longer than the limit of {} s",
                samples.len() as f32 / SAMPLE_RATE as f32,
                self.inner.config.max_utterance_secs
            )));
        }
        self.on_worker(move |inner, worker| worker.recognize(inner, &compiled, &samples))
            .await
    }

    /// Runs `job` with a decoder on a blocking thread. The permit and the
    /// decoder travel with the job, so a caller that stops waiting neither
    /// frees the permit early nor loses the decoder.
    async fn on_worker<T: Send + 'static>(
        &self,
        job: impl FnOnce(&Inner, &mut Worker) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let permit: OwnedSemaphorePermit = self
            .inner
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| Error::Worker(e.to_string()))?;
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let idle = inner.lock_idle().pop();
            let mut worker = match idle {
                Some(w) => w,
                None => Worker::new(&inner)?,
            };
            let result = job(&inner, &mut worker);
            // A decoder that failed inside the library may be in any state:
            // drop it and let the next request build a fresh one.
            if !matches!(result, Err(Error::EngineFailed { .. })) {
                inner.lock_idle().push(worker);
            }
            result
        })
        .await
        .map_err(|e| Error::Worker(e.to_string()))?
    }
}

impl Inner {
    fn lock_idle(&self) -> std::sync::MutexGuard<'_, Vec<Worker>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Asr for SphinxAsr {
    fn check<'a>(&'a self, grammar: &'a Grammar) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let compiled = grammar.compile()?;
            self.on_worker(move |_, worker| worker.prepare(&compiled).map(|_| ()))
                .await
        })
    }

    fn recognize(
        &self,
        grammar: Arc<Grammar>,
        samples: Vec<i16>,
    ) -> BoxFuture<'_, Result<Recognition>> {
        Box::pin(async move { Ok(self.analyse(&grammar, samples).await?.recognition) })
    }
}

/// One decoder and the searches it holds.
struct Worker {
    decoder: Decoder,
    /// JSGF hash → search name, most recently used last.
    searches: Vec<(u64, String)>,
    next_id: u64,
}

fn engine_error(e: FfiError) -> Error {
    Error::EngineFailed {
        engine: ENGINE,
        detail: e.to_string(),
    }
}

impl Worker {
    fn new(inner: &Inner) -> Result<Self> {
        let started = Instant::now();
        let args: Vec<(&str, &str)> = inner
            .args
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let files = [
            inner.config.model_dir.join("mdef"),
            inner.config.model_dir.join("means"),
            inner.config.dictionary.clone(),
        ];
        let files: Vec<&std::path::Path> = files.iter().map(PathBuf::as_path).collect();
        let decoder = Decoder::new(&args, &files).map_err(engine_error)?;
        tracing::debug!(elapsed = ?started.elapsed(), "pocketsphinx decoder ready");
        Ok(Worker {
            decoder,
            searches: Vec::new(),
            next_id: 0,
        })
    }

    /// Makes sure the grammar's search exists; returns its name.
    fn prepare(&mut self, compiled: &Compiled) -> Result<String> {
        let mut hasher = DefaultHasher::new();
        compiled.jsgf.hash(&mut hasher);
        let hash = hasher.finish();
        if let Some(i) = self.searches.iter().position(|(h, _)| *h == hash) {
            let entry = self.searches.remove(i);
            let name = entry.1.clone();
            self.searches.push(entry);
            return Ok(name);
        }
        for (word, phrase) in &compiled.words {
            if self
                .decoder
                .lookup_word(word)
                .map_err(engine_error)?
                .is_none()
            {
                return Err(Error::UnknownWord {
                    word: word.clone(),
                    phrase: phrase.clone(),
                });
            }
        }
        self.next_id += 1;
        let name = format!("g{}", self.next_id);
        self.decoder
            .set_jsgf(&name, &compiled.jsgf)
            .map_err(|_| Error::Grammar("pocketsphinx could not compile the grammar".into()))?;
        if self.searches.len() >= SEARCHES_PER_DECODER {
            let (_, old) = self.searches.remove(0);
            // Failing to free an old search only costs memory.
            let _ = self.decoder.unset_search(&old);
        }
        self.searches.push((hash, name.clone()));
        Ok(name)
    }

    fn recognize(
        &mut self,
        inner: &Inner,
        compiled: &Compiled,
        samples: &[i16],
    ) -> Result<Analysis> {
        let search = self.prepare(compiled)?;
        let started = Instant::now();
        let config = &inner.config;
        if let Endpoint::NoInput = endpoint::endpoint_recording(samples, EndpointConfig::default())
        {
            return Ok(Analysis {
                recognition: Recognition::NoInput,
                hypothesis: None,
                frames: 0,
                speech_frames: 0,
                frame_score: None,
                decode_time: started.elapsed(),
            });
        }
        let mut audio = match config.decoder_rate() {
            SAMPLE_RATE => samples.to_vec(),
            rate => resample(samples, SAMPLE_RATE, rate),
        };
        dither(&mut audio, config.noise_floor);
        let audio = audio.as_slice();
        let hyp = self.decoder.decode(&search, audio).map_err(engine_error)?;
        let Some(hyp) = hyp.filter(|h| !h.text.trim().is_empty()) else {
            return Ok(Analysis {
                recognition: Recognition::NoMatch {
                    text: None,
                    confidence: 0.0,
                },
                hypothesis: None,
                frames: 0,
                speech_frames: 0,
                frame_score: None,
                decode_time: started.elapsed(),
            });
        };
        let speech_frames = speech_frames(&hyp);
        // The library's acoustic scores are scaled down; x1000 gives numbers
        // of a readable size. Zero speech frames: the path is all silence.
        let frame_score = if speech_frames > 0 {
            (-1000.0 * hyp.acoustic_ln() / f64::from(speech_frames)).max(0.0) as f32
        } else {
            f32::INFINITY
        };
        let confidence = 1.0 / (1.0 + (frame_score / config.confidence_scale.max(1e-3)).powi(4));
        let choice = compiled.choice_for(&hyp.text);
        let recognition = match choice {
            Some(choice) if confidence >= config.min_confidence => Recognition::Recognized {
                choice,
                text: hyp.text.clone(),
                confidence,
            },
            _ => Recognition::NoMatch {
                text: Some(hyp.text.clone()),
                confidence,
            },
        };
        Ok(Analysis {
            recognition,
            hypothesis: Some(hyp.text),
            frames: hyp.frames,
            speech_frames,
            frame_score: Some(frame_score),
            decode_time: started.elapsed(),
        })
    }
}

/// Frames of the hypothesis spent in dictionary words.
fn speech_frames(hyp: &Hypothesis) -> i32 {
    hyp.segments
        .iter()
        .filter(|s| {
            !(s.word.starts_with('<') || s.word.starts_with('[') || s.word.starts_with('('))
        })
        .map(|s| (s.frames.1 - s.frames.0 + 1).max(0))
        .sum()
}

/// Adds fixed pseudo-random white noise in `-peak..=peak` to each sample.
fn dither(samples: &mut [i16], peak: i16) {
    let peak = i32::from(peak.max(0));
    let span = (2 * peak + 1) as u32;
    let mut state = 0x2545_f491u32;
    for s in samples {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        *s = s.saturating_add(((state % span) as i32 - peak) as i16);
    }
}
