//! Recording call audio to WAV (8 kHz, 16-bit, mono) with a duration and a
//! size limit, and a small energy-based silence detector used to end message
//! recordings.
//!
//! The session writes one 20 ms frame per tick (the caller's audio, or the
//! mix of both directions for whole-call recording), so a recording's length
//! follows the wall clock even when packets are lost. The writer is buffered
//! (64 KiB), so a call issues a write system call about every four seconds.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::dtmf::DtmfKey;

/// Size of the WAV header hound writes for 16-bit mono PCM.
const WAV_HEADER_LEN: u64 = 44;

/// Why a recording stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordStop {
    /// The maximum duration was reached.
    MaxDuration,
    /// The maximum file size was reached.
    MaxSize,
    /// The caller was silent for the silence timeout.
    Silence,
    /// The caller pressed one of the ending keys.
    Key(DtmfKey),
    /// The call's task asked to stop.
    Stopped,
    /// The call ended.
    HangUp,
    /// Writing the file failed (disk full, ...); the file may be incomplete.
    WriteFailed,
}

/// Limits of one recording: whichever is reached first stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordLimits {
    /// Longest recording.
    pub max_duration: Duration,
    /// Largest file, header included.
    pub max_bytes: u64,
}

impl Default for RecordLimits {
    fn default() -> Self {
        RecordLimits {
            max_duration: Duration::from_secs(3600),
            max_bytes: 2 * 1024 * 1024 * 1024,
        }
    }
}

/// Why a recording could not be made.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The file could not be created or written.
    #[error("cannot write recording {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What failed.
        source: hound::Error,
    },
}

/// A finished recording: the file is complete unless `reason` is
/// [`RecordStop::WriteFailed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The WAV file.
    pub path: PathBuf,
    /// Length of the audio.
    pub duration: Duration,
    /// Why it stopped.
    pub reason: RecordStop,
}

/// A WAV file being written.
pub struct Recorder {
    path: PathBuf,
    writer: hound::WavWriter<BufWriter<File>>,
    samples: u64,
    max_samples: u64,
    /// Which limit `max_samples` comes from.
    limit: RecordStop,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("samples", &self.samples)
            .field("max_samples", &self.max_samples)
            .finish()
    }
}

impl Recorder {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: &Path, limits: RecordLimits) -> Result<Recorder, RecordError> {
        let err = |source| RecordError::Write {
            path: path.to_path_buf(),
            source,
        };
        let file = File::create(path).map_err(|e| err(hound::Error::IoError(e)))?;
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let writer =
            hound::WavWriter::new(BufWriter::with_capacity(64 * 1024, file), spec).map_err(err)?;
        let by_time = limits.max_duration.as_micros() as u64 * 8 / 1000;
        let by_size = limits.max_bytes.saturating_sub(WAV_HEADER_LEN) / 2;
        Ok(Recorder {
            path: path.to_path_buf(),
            writer,
            samples: 0,
            max_samples: by_time.min(by_size),
            limit: if by_size < by_time {
                RecordStop::MaxSize
            } else {
                RecordStop::MaxDuration
            },
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Audio written so far.
    pub fn duration(&self) -> Duration {
        Duration::from_micros(self.samples * 125)
    }

    /// Appends samples, up to the limits; returns the limit that was reached,
    /// if any (the samples beyond it are dropped).
    pub fn write(&mut self, samples: &[i16]) -> Result<Option<RecordStop>, RecordError> {
        let room = self.max_samples.saturating_sub(self.samples) as usize;
        let n = samples.len().min(room);
        let mut w = self.writer.get_i16_writer(n as u32);
        for &s in &samples[..n] {
            w.write_sample(s);
        }
        w.flush().map_err(|source| RecordError::Write {
            path: self.path.clone(),
            source,
        })?;
        self.samples += n as u64;
        if self.samples >= self.max_samples {
            Ok(Some(self.limit_reason()))
        } else {
            Ok(None)
        }
    }

    /// Appends the sum of two frames (both directions of a call),
    /// saturating; `a` and `b` should have the same length.
    pub fn write_mixed(&mut self, a: &[i16], b: &[i16]) -> Result<Option<RecordStop>, RecordError> {
        let mut mixed = [0i16; 480];
        let mut result = None;
        for (ca, cb) in a.chunks(480).zip(b.chunks(480)) {
            let n = ca.len().min(cb.len());
            for i in 0..n {
                mixed[i] = ca[i].saturating_add(cb[i]);
            }
            result = self.write(&mixed[..n])?;
            if result.is_some() {
                break;
            }
        }
        Ok(result)
    }

    /// Closes the file (writing the final header sizes).
    pub fn finish(self, reason: RecordStop) -> Result<Recording, RecordError> {
        let duration = self.duration();
        let path = self.path;
        self.writer
            .finalize()
            .map_err(|source| RecordError::Write {
                path: path.clone(),
                source,
            })?;
        Ok(Recording {
            path,
            duration,
            reason,
        })
    }

    fn limit_reason(&self) -> RecordStop {
        self.limit
    }
}

/// Tells speech from silence by the energy of 20 ms frames.
///
/// A frame is silent when its RMS level is below the threshold (default
/// −40 dBm0: quiet line noise is −60 to −50 dBm0, speech −25 to −10 dBm0).
#[derive(Debug, Clone)]
pub struct SilenceDetector {
    /// Mean-square threshold on the 16-bit scale.
    threshold: f64,
    silent_samples: u64,
    heard_sound: bool,
}

impl Default for SilenceDetector {
    fn default() -> Self {
        Self::new(-40.0)
    }
}

impl SilenceDetector {
    /// A detector with the silence threshold at `dbm0` RMS.
    pub fn new(dbm0: f32) -> Self {
        let rms = super::dtmf::DBM0_PEAK as f64 / 2f64.sqrt() * 10f64.powf(dbm0 as f64 / 20.0);
        SilenceDetector {
            threshold: rms * rms,
            silent_samples: 0,
            heard_sound: false,
        }
    }

    /// Feeds a frame; returns whether it was silent.
    pub fn feed(&mut self, frame: &[i16]) -> bool {
        if frame.is_empty() {
            return true;
        }
        let energy: f64 = frame.iter().map(|&s| (s as f64) * (s as f64)).sum();
        let silent = energy / (frame.len() as f64) < self.threshold;
        if silent {
            self.silent_samples += frame.len() as u64;
        } else {
            self.silent_samples = 0;
            self.heard_sound = true;
        }
        silent
    }

    /// How long the audio has been silent without interruption.
    pub fn silent_for(&self) -> Duration {
        Duration::from_micros(self.silent_samples * 125)
    }

    /// Whether any frame so far was not silent.
    pub fn heard_sound(&self) -> bool {
        self.heard_sound
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prompt::tests_support::tempdir;

    fn tone(n: usize, amp: f64) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (i as f64 * 0.3).sin()) as i16)
            .collect()
    }

    #[test]
    fn stops_at_max_duration_with_exact_length() {
        let dir = tempdir();
        let path = dir.join("a.wav");
        let limits = RecordLimits {
            max_duration: Duration::from_millis(1000),
            ..Default::default()
        };
        let mut r = Recorder::create(&path, limits).unwrap();
        let frame = tone(160, 5000.0);
        let mut frames = 0;
        let reason = loop {
            frames += 1;
            if let Some(reason) = r.write(&frame).unwrap() {
                break reason;
            }
            assert!(frames < 100);
        };
        assert_eq!((frames, reason), (50, RecordStop::MaxDuration));
        // Nothing more is written after the limit.
        assert_eq!(r.write(&frame).unwrap(), Some(RecordStop::MaxDuration));
        let rec = r.finish(reason).unwrap();
        assert_eq!(rec.duration, Duration::from_secs(1));
        let reader = hound::WavReader::open(&path).unwrap();
        let spec = reader.spec();
        assert_eq!(
            (spec.channels, spec.sample_rate, spec.bits_per_sample),
            (1, 8000, 16)
        );
        assert_eq!(reader.len(), 8000);
        let samples: Vec<i16> = reader.into_samples().map(|s| s.unwrap()).collect();
        assert_eq!(&samples[..160], &frame[..]);
    }

    #[test]
    fn stops_at_max_size_mid_frame() {
        let dir = tempdir();
        let path = dir.join("b.wav");
        let limits = RecordLimits {
            max_duration: Duration::from_secs(60),
            max_bytes: 44 + 2 * 1000,
        };
        let mut r = Recorder::create(&path, limits).unwrap();
        let frame = tone(160, 5000.0);
        let mut reason = None;
        for _ in 0..10 {
            reason = r.write(&frame).unwrap();
            if reason.is_some() {
                break;
            }
        }
        assert_eq!(reason, Some(RecordStop::MaxSize));
        r.finish(RecordStop::MaxSize).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 44 + 2000);
        assert_eq!(hound::WavReader::open(&path).unwrap().len(), 1000);
    }

    #[test]
    fn mixes_both_directions() {
        let dir = tempdir();
        let path = dir.join("c.wav");
        let mut r = Recorder::create(&path, RecordLimits::default()).unwrap();
        let a = [1000i16; 160];
        let b = [-300i16; 160];
        let loud = [30000i16; 160];
        assert_eq!(r.write_mixed(&a, &b).unwrap(), None);
        assert_eq!(r.write_mixed(&loud, &loud).unwrap(), None);
        let rec = r.finish(RecordStop::HangUp).unwrap();
        assert_eq!(rec.reason, RecordStop::HangUp);
        let samples: Vec<i16> = hound::WavReader::open(&path)
            .unwrap()
            .into_samples()
            .map(|s| s.unwrap())
            .collect();
        assert_eq!(samples.len(), 320);
        assert!(samples[..160].iter().all(|&s| s == 700));
        assert!(samples[160..].iter().all(|&s| s == i16::MAX));
    }

    #[test]
    fn unwritable_path_names_the_file() {
        let e = Recorder::create(Path::new("/nonexistent-dir/x.wav"), RecordLimits::default())
            .unwrap_err();
        assert!(e.to_string().contains("/nonexistent-dir/x.wav"), "{e}");
    }

    #[test]
    fn silence_detector() {
        let mut d = SilenceDetector::default();
        // Line noise around -55 dBm0 is silence; speech-level audio is not.
        let quiet = tone(160, 22657.0 * 10f64.powf(-55.0 / 20.0));
        let loud = tone(160, 22657.0 * 10f64.powf(-20.0 / 20.0));
        for _ in 0..10 {
            assert!(d.feed(&quiet));
        }
        assert_eq!(d.silent_for(), Duration::from_millis(200));
        assert!(!d.heard_sound());
        assert!(!d.feed(&loud));
        assert_eq!(d.silent_for(), Duration::ZERO);
        assert!(d.heard_sound());
        assert!(d.feed(&[0; 160]));
        assert_eq!(d.silent_for(), Duration::from_millis(20));
    }
}
