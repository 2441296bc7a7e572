//! PCM audio: the [`Audio`] type, WAV reading and writing, and resampling.
//!
//! TTS engines hand back [`Audio`] at their own sample rate (espeak-ng speaks
//! at 22 050 Hz); the runtime converts prompts to 8 kHz itself. The resampler
//! here exists for the recognizer side: the bridge accepts WAV at any rate and
//! the pocketsphinx engine may upsample 8 kHz calls to its model's 16 kHz.
//!
//! [`decode_wav`] accepts the "streaming" WAV that programs write to a pipe,
//! whose header claims a length they could not know (espeak-ng writes
//! `0x7ffff000`): the declared sizes are clamped to the bytes present before
//! hound parses the file.

use std::io::Cursor;
use std::sync::Arc;

use crate::error::{Error, Result};

/// Mono 16-bit PCM audio.
#[derive(Clone, PartialEq, Eq)]
pub struct Audio {
    /// Samples per second.
    pub sample_rate: u32,
    /// The samples; shared, so cached prompts are handed out without copying.
    pub samples: Arc<[i16]>,
}

impl std::fmt::Debug for Audio {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audio")
            .field("sample_rate", &self.sample_rate)
            .field("samples", &self.samples.len())
            .finish()
    }
}

impl Audio {
    /// Wraps samples at a rate.
    pub fn new(sample_rate: u32, samples: impl Into<Arc<[i16]>>) -> Self {
        Audio {
            sample_rate,
            samples: samples.into(),
        }
    }

    /// Length in seconds.
    pub fn duration(&self) -> std::time::Duration {
        if self.sample_rate == 0 {
            return std::time::Duration::ZERO;
        }
        std::time::Duration::from_secs_f64(self.samples.len() as f64 / f64::from(self.sample_rate))
    }

    /// Bytes of sample memory, the unit of the TTS cache bound.
    pub fn byte_len(&self) -> usize {
        self.samples.len() * 2
    }

    /// Encodes as a 16-bit mono WAV file.
    pub fn to_wav(&self) -> Vec<u8> {
        encode_wav(self.sample_rate, &self.samples)
    }

    /// Decodes a WAV file (see [`decode_wav`]).
    pub fn from_wav(bytes: &[u8]) -> Result<Self> {
        decode_wav(bytes)
    }

    /// A copy at another sample rate (see [`resample`]).
    pub fn resampled(&self, sample_rate: u32) -> Audio {
        if sample_rate == self.sample_rate {
            return self.clone();
        }
        Audio::new(
            sample_rate,
            resample(&self.samples, self.sample_rate, sample_rate),
        )
    }
}

/// Encodes samples as a 16-bit mono PCM WAV file.
pub fn encode_wav(sample_rate: u32, samples: &[i16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(44 + samples.len() * 2);
    out.extend_from_slice(b"RIFF");
    let data_len = u32::try_from(samples.len() * 2).unwrap_or(u32::MAX - 36);
    out.extend_from_slice(&(36 + data_len).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&1u16.to_le_bytes()); // PCM
    out.extend_from_slice(&1u16.to_le_bytes()); // mono
    out.extend_from_slice(&sample_rate.to_le_bytes());
    out.extend_from_slice(&(sample_rate * 2).to_le_bytes());
    out.extend_from_slice(&2u16.to_le_bytes()); // block align
    out.extend_from_slice(&16u16.to_le_bytes()); // bits
    out.extend_from_slice(b"data");
    out.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        out.extend_from_slice(&s.to_le_bytes());
    }
    out
}

/// Decodes a 16-bit PCM WAV file (mono, or stereo mixed down) into [`Audio`].
///
/// Chunk sizes larger than the data present (a WAV written to a pipe) are
/// clamped first; anything else malformed is an [`Error::Audio`].
pub fn decode_wav(bytes: &[u8]) -> Result<Audio> {
    let fixed = fix_streaming_sizes(bytes)?;
    let reader = hound::WavReader::new(Cursor::new(fixed.as_slice()))
        .map_err(|e| Error::Audio(e.to_string()))?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Int || spec.bits_per_sample != 16 {
        return Err(Error::Audio(format!(
            "expected 16-bit PCM, got {} bits ({:?})",
            spec.bits_per_sample, spec.sample_format
        )));
    }
    if spec.sample_rate == 0 || spec.sample_rate > 384_000 {
        return Err(Error::Audio(format!(
            "unsupported sample rate {}",
            spec.sample_rate
        )));
    }
    let channels = usize::from(spec.channels);
    if !(1..=2).contains(&channels) {
        return Err(Error::Audio(format!(
            "expected mono or stereo, got {channels} channels"
        )));
    }
    let interleaved = reader
        .into_samples::<i16>()
        .collect::<Result<Vec<i16>, _>>()
        .map_err(|e| Error::Audio(e.to_string()))?;
    let samples: Vec<i16> = if channels == 1 {
        interleaved
    } else {
        interleaved
            .chunks_exact(2)
            .map(|p| ((i32::from(p[0]) + i32::from(p[1])) / 2) as i16)
            .collect()
    };
    Ok(Audio::new(spec.sample_rate, samples))
}

/// Returns a copy of a RIFF/WAVE file whose RIFF and `data` sizes match the
/// bytes present. Stops after the `data` chunk.
fn fix_streaming_sizes(bytes: &[u8]) -> Result<Vec<u8>> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(Error::Audio("not a RIFF/WAVE file".into()));
    }
    let mut pos = 12usize;
    while pos + 8 <= bytes.len() {
        let id = &bytes[pos..pos + 4];
        let declared = u32::from_le_bytes([
            bytes[pos + 4],
            bytes[pos + 5],
            bytes[pos + 6],
            bytes[pos + 7],
        ]) as usize;
        let body = pos + 8;
        let available = bytes.len() - body;
        if id == b"data" {
            let mut len = declared.min(available);
            len -= len % 2;
            let end = body + len;
            let mut out = bytes[..end].to_vec();
            let data_len = u32::try_from(len).map_err(|_| Error::Audio("file too large".into()))?;
            out[pos + 4..pos + 8].copy_from_slice(&data_len.to_le_bytes());
            let riff_len =
                u32::try_from(end - 8).map_err(|_| Error::Audio("file too large".into()))?;
            out[4..8].copy_from_slice(&riff_len.to_le_bytes());
            return Ok(out);
        }
        if declared > available {
            return Err(Error::Audio(format!(
                "chunk `{}` is cut short",
                String::from_utf8_lossy(id)
            )));
        }
        // Chunks are padded to an even length.
        pos = body + declared + (declared & 1);
    }
    Err(Error::Audio("no `data` chunk".into()))
}

/// Number of zero crossings of the sinc kernel on each side.
const ZERO_CROSSINGS: f64 = 16.0;
/// Passband edge as a fraction of the lower Nyquist frequency.
const ROLL_OFF: f64 = 0.94;

/// Converts `input` from `from` Hz to `to` Hz with a windowed-sinc filter.
///
/// Band-limits to the lower of the two Nyquist frequencies (anti-aliasing on
/// the way down, anti-imaging on the way up). Returns the input unchanged
/// when the rates are equal and an empty vector when either is zero.
pub fn resample(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to {
        return input.to_vec();
    }
    if from == 0 || to == 0 || input.is_empty() {
        return Vec::new();
    }
    let g = gcd(from, to);
    let (up, down) = (u64::from(to / g), u64::from(from / g));
    // Cut-off in cycles per input sample.
    let cutoff = 0.5 * ROLL_OFF * f64::min(1.0, f64::from(to) / f64::from(from));
    let half_width = (ZERO_CROSSINGS / (2.0 * cutoff)).ceil() as i64;
    let taps = (2 * half_width) as usize;
    let kernel = |d: f64| -> f64 {
        let x = d / half_width as f64;
        if x.abs() >= 1.0 {
            return 0.0;
        }
        let window = 0.42
            + 0.5 * (std::f64::consts::PI * x).cos()
            + 0.08 * (2.0 * std::f64::consts::PI * x).cos();
        let arg = 2.0 * cutoff * d;
        let sinc = if arg.abs() < 1e-12 {
            1.0
        } else {
            (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg)
        };
        2.0 * cutoff * sinc * window
    };
    // One row of taps per output phase when the ratio is small enough.
    let table: Option<Vec<f32>> = (up <= 4096).then(|| {
        let mut t = Vec::with_capacity(up as usize * taps);
        for p in 0..up {
            let frac = p as f64 / up as f64;
            for j in 0..taps as i64 {
                let k = j - half_width + 1;
                t.push(kernel(frac - k as f64) as f32);
            }
        }
        t
    });

    let out_len = (input.len() as u64 * up / down) as usize;
    let mut out = Vec::with_capacity(out_len);
    for n in 0..out_len as u64 {
        let pos = n * down;
        let base = (pos / up) as i64;
        let phase = pos % up;
        let mut acc = 0f64;
        for j in 0..taps as i64 {
            let k = j - half_width + 1;
            let idx = base + k;
            if idx < 0 || idx as usize >= input.len() {
                continue;
            }
            let w = match &table {
                Some(t) => f64::from(t[phase as usize * taps + j as usize]),
                None => kernel(phase as f64 / up as f64 - k as f64),
            };
            acc += w * f64::from(input[idx as usize]);
        }
        out.push(acc.round().clamp(-32768.0, 32767.0) as i16);
    }
    out
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Root-mean-square level of samples in dBFS (-100 for digital silence).
pub fn level_dbfs(samples: &[i16]) -> f32 {
    if samples.is_empty() {
        return -100.0;
    }
    let energy: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (energy / samples.len() as f64).sqrt();
    if rms < 1.0 {
        return -100.0;
    }
    (20.0 * (rms / 32768.0).log10()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, freq: f64, secs: f64, amp: f64) -> Vec<i16> {
        let n = (f64::from(rate) * secs) as usize;
        (0..n)
            .map(|i| {
                (amp * (2.0 * std::f64::consts::PI * freq * i as f64 / f64::from(rate)).sin())
                    as i16
            })
            .collect()
    }

    #[test]
    fn wav_round_trip() {
        let samples: Vec<i16> = (0..1000).map(|i| (i * 37 % 2000 - 1000) as i16).collect();
        let wav = encode_wav(8000, &samples);
        let audio = decode_wav(&wav).unwrap();
        assert_eq!(audio.sample_rate, 8000);
        assert_eq!(&*audio.samples, &samples[..]);
    }

    #[test]
    fn streaming_header_is_clamped() {
        let samples = [1i16, -2, 3, -4, 5];
        let mut wav = encode_wav(22050, &samples);
        wav[4..8].copy_from_slice(&0x7fff_f024u32.to_le_bytes());
        wav[40..44].copy_from_slice(&0x7fff_f000u32.to_le_bytes());
        wav.push(0x55); // half a sample at the end is dropped
        let audio = decode_wav(&wav).unwrap();
        assert_eq!(&*audio.samples, &samples[..]);
    }

    #[test]
    fn stereo_is_mixed_down() {
        let spec = hound::WavSpec {
            channels: 2,
            sample_rate: 16000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut buf = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut buf, spec).unwrap();
        for (l, r) in [(100i16, 300i16), (-50, -150)] {
            w.write_sample(l).unwrap();
            w.write_sample(r).unwrap();
        }
        w.finalize().unwrap();
        let audio = decode_wav(buf.get_ref()).unwrap();
        assert_eq!(&*audio.samples, &[200, -100]);
    }

    #[test]
    fn garbage_is_an_error() {
        for bytes in [
            &b""[..],
            b"RIFF",
            b"RIFF\0\0\0\0WAVE",
            b"RIFF\0\0\0\0WAVEfmt \xff\xff\0\0",
            b"OggS\0\0\0\0\0\0\0\0\0\0\0\0",
        ] {
            assert!(
                matches!(decode_wav(bytes), Err(Error::Audio(_))),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn resampling_keeps_in_band_tones_and_removes_out_of_band() {
        // 1 kHz survives 22050 -> 8000 at nearly full level.
        let tone = sine(22050, 1000.0, 0.5, 10000.0);
        let down = resample(&tone, 22050, 8000);
        assert_eq!(down.len(), 4000 - 1 + 1);
        let level_in = level_dbfs(&tone);
        let level_out = level_dbfs(&down[200..3800]);
        assert!(
            (level_in - level_out).abs() < 0.5,
            "{level_in} vs {level_out}"
        );
        // 6 kHz is above the 4 kHz Nyquist of the output: filtered away.
        let high = sine(22050, 6000.0, 0.5, 10000.0);
        let down = resample(&high, 22050, 8000);
        assert!(level_dbfs(&down[200..3800]) < level_dbfs(&high) - 40.0);
        // Upsampling 8 kHz -> 16 kHz keeps a 1 kHz tone.
        let tone8 = sine(8000, 1000.0, 0.5, 10000.0);
        let up = resample(&tone8, 8000, 16000);
        assert_eq!(up.len(), 8000);
        assert!((level_dbfs(&tone8) - level_dbfs(&up[400..7600])).abs() < 0.5);
    }

    #[test]
    fn levels() {
        assert_eq!(level_dbfs(&[0; 160]), -100.0);
        let full = sine(8000, 1000.0, 0.1, 32767.0);
        assert!((level_dbfs(&full) + 3.0).abs() < 0.1);
    }
}
