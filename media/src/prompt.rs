//! Prompts: WAV files (or TTS audio) decoded once, mixed to mono, resampled to
//! 8 kHz and transcoded to both G.711 laws, then shared between calls.
//!
//! A [`Prompt`] holds its audio in `Arc` slices, so a thousand calls playing
//! the same greeting share one copy and a call's playback only keeps an index
//! into it. The [`PromptCache`] is keyed by content ([`PromptKey`], SHA-256 of
//! the file bytes or of the PCM and its rate), so a bundle's prompt manifest
//! and repeated TTS results share entries.
//!
//! Accepted files: RIFF/WAVE with 8/16/24/32-bit integer or 32-bit float PCM
//! (through hound, including WAVE_FORMAT_EXTENSIBLE), and G.711 μ-law/A-law
//! WAVs (format tags 7 and 6, common for telephony prompts), at any sample rate
//! and channel count. Loading reads and decodes synchronously: call it at
//! deploy time or inside `spawn_blocking`, not on a call's task.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::g711::{self, Law};
use super::resample::{Resampler, to_i16};

/// The sample rate of every prompt (and of all call audio).
pub const SAMPLE_RATE: u32 = 8000;

/// Lowest sample rate accepted in a file.
const MIN_RATE: u32 = 4000;
/// Highest sample rate accepted in a file.
const MAX_RATE: u32 = 384_000;

/// Why a prompt could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum PromptError {
    /// The file could not be read.
    #[error("cannot read prompt {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// The file is not a WAV file we can decode.
    #[error("prompt {path} is not a playable WAV file: {reason}")]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

fn unsupported(path: &Path, reason: impl Into<String>) -> PromptError {
    PromptError::Unsupported {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

/// Content hash identifying a prompt's audio.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PromptKey(pub [u8; 32]);

impl PromptKey {
    /// SHA-256 of a file's bytes (what a bundle's prompt manifest records).
    pub fn of_bytes(bytes: &[u8]) -> Self {
        let digest = Sha256::digest(bytes);
        let mut k = [0u8; 32];
        k.copy_from_slice(&digest);
        PromptKey(k)
    }

    /// SHA-256 of PCM samples (little-endian) and their rate, for TTS audio.
    pub fn of_pcm(samples: &[i16], rate: u32) -> Self {
        let mut h = Sha256::new();
        h.update(b"pcm16le:");
        h.update(rate.to_le_bytes());
        for s in samples {
            h.update(s.to_le_bytes());
        }
        let mut k = [0u8; 32];
        k.copy_from_slice(&h.finalize());
        PromptKey(k)
    }
}

impl std::fmt::Display for PromptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for PromptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PromptKey({self})")
    }
}

/// Audio ready to play on any call: 8 kHz mono PCM and both G.711 encodings.
#[derive(Debug, Clone)]
pub struct Prompt {
    /// Linear PCM at 8 kHz (for mixing, in-band analysis and recording).
    pub pcm: Arc<[i16]>,
    /// The same audio in μ-law (sent as is on PCMU calls).
    pub ulaw: Arc<[u8]>,
    /// The same audio in A-law (sent as is on PCMA calls).
    pub alaw: Arc<[u8]>,
    /// Playing time.
    pub duration: Duration,
    /// Content hash of the source.
    pub key: PromptKey,
}

impl Prompt {
    /// A prompt from mono PCM at any rate (TTS output, generated tones).
    /// `rate` is trusted to be a real audio rate (4-384 kHz); file input is
    /// checked by [`Prompt::load`] instead.
    pub fn from_pcm(samples: &[i16], rate: u32) -> Prompt {
        let key = PromptKey::of_pcm(samples, rate);
        let pcm = if rate == SAMPLE_RATE {
            samples.to_vec()
        } else {
            super::resample::resample(samples, rate, SAMPLE_RATE)
        };
        Self::from_8k(pcm, key)
    }

    fn from_8k(pcm: Vec<i16>, key: PromptKey) -> Prompt {
        let mut ulaw = vec![0u8; pcm.len()];
        let mut alaw = vec![0u8; pcm.len()];
        Law::Ulaw.encode(&pcm, &mut ulaw);
        Law::Alaw.encode(&pcm, &mut alaw);
        let duration = Duration::from_micros(pcm.len() as u64 * 1_000_000 / SAMPLE_RATE as u64);
        Prompt {
            pcm: pcm.into(),
            ulaw: ulaw.into(),
            alaw: alaw.into(),
            duration,
            key,
        }
    }

    /// Loads a WAV file.
    pub fn load(path: &Path) -> Result<Prompt, PromptError> {
        let bytes = read_file(path)?;
        Self::from_wav_bytes(&bytes, path)
    }

    /// Decodes WAV file contents; `path` only names the source in errors.
    pub fn from_wav_bytes(bytes: &[u8], path: &Path) -> Result<Prompt, PromptError> {
        let (pcm, rate) = decode_wav(bytes, path)?;
        let pcm = if rate == SAMPLE_RATE {
            pcm
        } else {
            super::resample::resample(&pcm, rate, SAMPLE_RATE)
        };
        Ok(Self::from_8k(pcm, PromptKey::of_bytes(bytes)))
    }

    /// The encoded audio for a law.
    pub fn encoded(&self, law: Law) -> &[u8] {
        match law {
            Law::Ulaw => &self.ulaw,
            Law::Alaw => &self.alaw,
        }
    }

    /// Number of 8 kHz samples.
    pub fn len(&self) -> usize {
        self.pcm.len()
    }

    /// Whether the prompt has no audio.
    pub fn is_empty(&self) -> bool {
        self.pcm.is_empty()
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, PromptError> {
    std::fs::read(path).map_err(|source| PromptError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads a WAV file as mono 16-bit PCM at its own rate (channels averaged).
pub fn read_wav_mono(path: &Path) -> Result<(Vec<i16>, u32), PromptError> {
    decode_wav(&read_file(path)?, path)
}

/// The `fmt` fields we need before choosing a decoder.
struct FmtInfo {
    tag: u16,
    channels: u16,
    rate: u32,
}

/// Walks the RIFF chunks: the `fmt ` info and the `data` payload.
fn riff_chunks<'a>(
    bytes: &'a [u8],
    path: &Path,
) -> Result<(FmtInfo, Option<&'a [u8]>), PromptError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(unsupported(
            path,
            "it does not start with a RIFF/WAVE header",
        ));
    }
    let mut pos = 12;
    let mut fmt = None;
    let mut data = None;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let size = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let start = pos + 8;
        let end = start.saturating_add(size).min(bytes.len());
        let body = &bytes[start..end];
        if id == b"fmt " {
            if body.len() < 16 {
                return Err(unsupported(path, "its fmt chunk is too short"));
            }
            fmt = Some(FmtInfo {
                tag: u16::from_le_bytes([body[0], body[1]]),
                channels: u16::from_le_bytes([body[2], body[3]]),
                rate: u32::from_le_bytes([body[4], body[5], body[6], body[7]]),
            });
        } else if id == b"data" {
            data = Some(body);
        }
        pos = start.saturating_add(size).saturating_add(size & 1);
    }
    let fmt = fmt.ok_or_else(|| unsupported(path, "it has no fmt chunk"))?;
    Ok((fmt, data))
}

/// Decodes WAV bytes to mono 16-bit PCM at the file's rate.
fn decode_wav(bytes: &[u8], path: &Path) -> Result<(Vec<i16>, u32), PromptError> {
    let (fmt, data) = riff_chunks(bytes, path)?;
    if fmt.channels == 0 {
        return Err(unsupported(path, "it declares no channels"));
    }
    if !(MIN_RATE..=MAX_RATE).contains(&fmt.rate) {
        return Err(unsupported(
            path,
            format!(
                "its sample rate {} Hz is outside {MIN_RATE}-{MAX_RATE} Hz",
                fmt.rate
            ),
        ));
    }
    if fmt.tag == 6 || fmt.tag == 7 {
        let law = if fmt.tag == 7 { Law::Ulaw } else { Law::Alaw };
        let data = data.ok_or_else(|| unsupported(path, "it has no data chunk"))?;
        let ch = fmt.channels as usize;
        let mono: Vec<i16> = data
            .chunks_exact(ch)
            .map(|frame| {
                let sum: i32 = frame
                    .iter()
                    .map(|&c| match law {
                        Law::Ulaw => g711::ulaw_decode(c) as i32,
                        Law::Alaw => g711::alaw_decode(c) as i32,
                    })
                    .sum();
                (sum / ch as i32) as i16
            })
            .collect();
        return Ok((mono, fmt.rate));
    }
    let patched;
    let bytes = match fix_streamed_sizes(bytes) {
        Some(p) => {
            patched = p;
            &patched[..]
        }
        None => bytes,
    };
    let reader = hound::WavReader::new(std::io::Cursor::new(bytes))
        .map_err(|e| unsupported(path, e.to_string()))?;
    let spec = reader.spec();
    let channels = spec.channels as usize;
    let rate = spec.sample_rate;
    // Samples as floats on the 16-bit scale.
    let interleaved: Vec<f32> = match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => {
            collect(reader.into_samples::<f32>(), path, |s| s * 32767.0)?
        }
        (hound::SampleFormat::Int, 8) => {
            collect(reader.into_samples::<i8>(), path, |s| s as f32 * 256.0)?
        }
        (hound::SampleFormat::Int, 16) => {
            collect(reader.into_samples::<i16>(), path, |s| s as f32)?
        }
        (hound::SampleFormat::Int, 24) => {
            collect(reader.into_samples::<i32>(), path, |s| s as f32 / 256.0)?
        }
        (hound::SampleFormat::Int, 32) => {
            collect(reader.into_samples::<i32>(), path, |s| s as f32 / 65536.0)?
        }
        (format, bits) => {
            return Err(unsupported(
                path,
                format!("{bits}-bit {format:?} samples are not supported"),
            ));
        }
    };
    let mono: Vec<f32> = if channels == 1 {
        interleaved
    } else {
        interleaved
            .chunks_exact(channels)
            .map(|f| f.iter().sum::<f32>() / channels as f32)
            .collect()
    };
    // Resample here in float (no extra rounding) when the caller will need 8 kHz anyway.
    if rate != SAMPLE_RATE {
        let out = Resampler::new(rate, SAMPLE_RATE).process(&mono);
        return Ok((to_i16(&out), SAMPLE_RATE));
    }
    Ok((to_i16(&mono), rate))
}

/// Files written to a pipe (`espeak-ng --stdout`, `sox ... -t wav -`) carry
/// placeholder sizes (0 or 0xFFFFFFFF) because the writer could not seek
/// back. Returns a copy with the RIFF and data sizes set from the real
/// length, or `None` when the sizes are already consistent.
fn fix_streamed_sizes(bytes: &[u8]) -> Option<Vec<u8>> {
    let mut pos = 12;
    while pos + 8 <= bytes.len() {
        let size = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let start = pos + 8;
        if &bytes[pos..pos + 4] == b"data" {
            let available = bytes.len() - start;
            if size <= available && size != 0 {
                return None;
            }
            let mut fixed = bytes.to_vec();
            fixed[pos + 4..pos + 8].copy_from_slice(&(available as u32).to_le_bytes());
            fixed[4..8].copy_from_slice(&((bytes.len() - 8) as u32).to_le_bytes());
            return Some(fixed);
        }
        pos = start.saturating_add(size).saturating_add(size & 1);
    }
    None
}

fn collect<S, R: std::io::Read>(
    samples: hound::WavIntoSamples<R, S>,
    path: &Path,
    scale: impl Fn(S) -> f32,
) -> Result<Vec<f32>, PromptError>
where
    S: hound::Sample,
{
    samples
        .map(|s| s.map(&scale).map_err(|e| unsupported(path, e.to_string())))
        .collect()
}

/// Shared store of decoded prompts, keyed by content.
///
/// Cheap to share behind an `Arc`; the lock is held only for map lookups and
/// inserts, never while decoding.
#[derive(Debug, Default)]
pub struct PromptCache {
    map: Mutex<HashMap<PromptKey, Arc<Prompt>>>,
}

impl PromptCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PromptKey, Arc<Prompt>>> {
        // A panic while holding the lock cannot leave the map half-updated
        // (single inserts/removes), so a poisoned lock is still usable.
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The prompt for a WAV file, decoding it only if its content is new.
    pub fn load(&self, path: &Path) -> Result<Arc<Prompt>, PromptError> {
        let bytes = read_file(path)?;
        self.load_bytes(&bytes, path)
    }

    /// The prompt for WAV bytes (e.g. from a bundle); `path` names them in errors.
    pub fn load_bytes(&self, bytes: &[u8], path: &Path) -> Result<Arc<Prompt>, PromptError> {
        let key = PromptKey::of_bytes(bytes);
        if let Some(p) = self.get(&key) {
            return Ok(p);
        }
        let prompt = Arc::new(Prompt::from_wav_bytes(bytes, path)?);
        Ok(self.lock().entry(key).or_insert(prompt).clone())
    }

    /// The prompt for PCM audio at any rate (TTS output).
    pub fn from_pcm(&self, samples: &[i16], rate: u32) -> Arc<Prompt> {
        let key = PromptKey::of_pcm(samples, rate);
        if let Some(p) = self.get(&key) {
            return p;
        }
        let prompt = Arc::new(Prompt::from_pcm(samples, rate));
        self.lock().entry(key).or_insert(prompt).clone()
    }

    /// A cached prompt by key.
    pub fn get(&self, key: &PromptKey) -> Option<Arc<Prompt>> {
        self.lock().get(key).cloned()
    }

    /// Removes a prompt (calls playing it keep their reference).
    pub fn remove(&self, key: &PromptKey) -> Option<Arc<Prompt>> {
        self.lock().remove(key)
    }

    /// Number of cached prompts.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, n: usize, amp: f64) -> impl Iterator<Item = f64> {
        (0..n).map(move |i| amp * (std::f64::consts::TAU * freq * i as f64 / rate as f64).sin())
    }

    fn write_wav(path: &Path, spec: hound::WavSpec, freq: f64, secs: f64) {
        let mut w = hound::WavWriter::create(path, spec).unwrap();
        let n = (spec.sample_rate as f64 * secs) as usize;
        for v in sine(freq, spec.sample_rate, n, 0.5) {
            for ch in 0..spec.channels {
                // Second channel inverted half-way: mixing must average, not pick one.
                let v = if ch == 1 { v * 0.5 } else { v };
                match (spec.sample_format, spec.bits_per_sample) {
                    (hound::SampleFormat::Float, _) => w.write_sample(v as f32).unwrap(),
                    (_, 8) => w.write_sample((v * 127.0) as i8).unwrap(),
                    (_, 16) => w.write_sample((v * 32767.0) as i16).unwrap(),
                    (_, 24) => w.write_sample((v * 8_388_607.0) as i32).unwrap(),
                    (_, _) => w.write_sample((v * 2_147_483_647.0) as i32).unwrap(),
                }
            }
        }
        w.finalize().unwrap();
    }

    fn rms(x: &[i16]) -> f64 {
        let mid = &x[x.len() / 4..3 * x.len() / 4];
        (mid.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / mid.len() as f64).sqrt()
    }

    #[test]
    fn loads_every_common_format() {
        let dir = tempdir();
        let rates = [8000, 11025, 16000, 22050, 32000, 44100, 48000];
        let formats = [
            (hound::SampleFormat::Int, 8),
            (hound::SampleFormat::Int, 16),
            (hound::SampleFormat::Int, 24),
            (hound::SampleFormat::Int, 32),
            (hound::SampleFormat::Float, 32),
        ];
        for rate in rates {
            for (format, bits) in formats {
                for channels in [1, 2] {
                    let path = dir.join(format!("t_{rate}_{bits}_{format:?}_{channels}.wav"));
                    let spec = hound::WavSpec {
                        channels,
                        sample_rate: rate,
                        bits_per_sample: bits,
                        sample_format: format,
                    };
                    write_wav(&path, spec, 1013.0, 0.5);
                    let p = Prompt::load(&path).unwrap();
                    assert_eq!(p.len(), 4000, "{path:?}");
                    assert_eq!(p.duration, Duration::from_millis(500));
                    // Mono: amplitude 0.5; stereo: average of 0.5 and 0.25.
                    let amp = if channels == 1 { 0.5 } else { 0.375 } * 32767.0;
                    let got = rms(&p.pcm);
                    let want = amp / 2f64.sqrt();
                    assert!(
                        (got / want - 1.0).abs() < 0.05,
                        "{path:?}: rms {got} want {want}"
                    );
                    let mut back = vec![0i16; p.len()];
                    Law::Ulaw.decode(&p.ulaw, &mut back);
                    let u = rms(&back);
                    assert!((u / got - 1.0).abs() < 0.02, "{path:?} ulaw {u} vs {got}");
                    Law::Alaw.decode(&p.alaw, &mut back);
                    let a = rms(&back);
                    assert!((a / got - 1.0).abs() < 0.02, "{path:?} alaw {a} vs {got}");
                }
            }
        }
    }

    #[test]
    fn loads_g711_wavs() {
        let dir = tempdir();
        for (tag, law) in [(7u16, Law::Ulaw), (6u16, Law::Alaw)] {
            let pcm: Vec<i16> = sine(440.0, 8000, 800, 10000.0).map(|v| v as i16).collect();
            let mut codes = vec![0u8; pcm.len()];
            law.encode(&pcm, &mut codes);
            let mut f = Vec::new();
            f.extend_from_slice(b"RIFF");
            f.extend_from_slice(&(4 + 26 + 8 + codes.len() as u32).to_le_bytes());
            f.extend_from_slice(b"WAVEfmt ");
            f.extend_from_slice(&18u32.to_le_bytes());
            f.extend_from_slice(&tag.to_le_bytes());
            f.extend_from_slice(&1u16.to_le_bytes());
            f.extend_from_slice(&8000u32.to_le_bytes());
            f.extend_from_slice(&8000u32.to_le_bytes());
            f.extend_from_slice(&1u16.to_le_bytes());
            f.extend_from_slice(&8u16.to_le_bytes());
            f.extend_from_slice(&0u16.to_le_bytes());
            f.extend_from_slice(b"data");
            f.extend_from_slice(&(codes.len() as u32).to_le_bytes());
            f.extend_from_slice(&codes);
            let path = dir.join(format!("g711_{tag}.wav"));
            std::fs::write(&path, &f).unwrap();
            let p = Prompt::load(&path).unwrap();
            assert_eq!(p.len(), 800);
            assert_eq!(p.encoded(law), &codes[..]);
        }
    }

    #[test]
    fn clear_errors_name_the_file() {
        let dir = tempdir();
        let missing = dir.join("nope.wav");
        let e = Prompt::load(&missing).unwrap_err();
        assert!(matches!(e, PromptError::Io { .. }));
        assert!(e.to_string().contains("nope.wav"), "{e}");
        let junk = dir.join("junk.wav");
        std::fs::write(&junk, b"this is not audio at all").unwrap();
        let e = Prompt::load(&junk).unwrap_err();
        assert!(
            e.to_string().contains("junk.wav") && e.to_string().contains("RIFF"),
            "{e}"
        );
        let mut truncated = Vec::from(&b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0"[..]);
        truncated.extend_from_slice(&[1, 0, 1, 0]);
        let e = Prompt::from_wav_bytes(&truncated, Path::new("cut.wav")).unwrap_err();
        assert!(e.to_string().contains("cut.wav"), "{e}");
        // A 1 Hz "prompt" would blow up to 8000 times its size: refused.
        let mut one_hz = Vec::from(&b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0"[..]);
        one_hz.extend_from_slice(&[1, 0, 1, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 0, 16, 0]);
        one_hz.extend_from_slice(b"data\0\0\0\0");
        let e = Prompt::from_wav_bytes(&one_hz, Path::new("slow.wav")).unwrap_err();
        assert!(e.to_string().contains("1 Hz is outside"), "{e}");
    }

    #[test]
    fn cache_shares_by_content() {
        let dir = tempdir();
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        write_wav(&dir.join("a.wav"), spec, 500.0, 0.2);
        std::fs::copy(dir.join("a.wav"), dir.join("b.wav")).unwrap();
        let cache = PromptCache::new();
        let a = cache.load(&dir.join("a.wav")).unwrap();
        let b = cache.load(&dir.join("b.wav")).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(cache.len(), 1);
        let pcm: Vec<i16> = sine(300.0, 22050, 2205, 5000.0).map(|v| v as i16).collect();
        let t1 = cache.from_pcm(&pcm, 22050);
        let t2 = cache.from_pcm(&pcm, 22050);
        assert!(Arc::ptr_eq(&t1, &t2));
        assert_eq!(t1.len(), 800);
        assert_eq!(cache.len(), 2);
        assert!(cache.get(&t1.key).is_some());
        cache.remove(&a.key);
        assert_eq!(cache.len(), 1);
        assert_eq!(format!("{}", a.key).len(), 64);
    }

    use super::tests_support::tempdir;
}

/// Helpers shared by the media tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use std::path::PathBuf;

    /// A fresh directory under the system temp dir.
    pub(crate) fn tempdir() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "dialect-media-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }
}
