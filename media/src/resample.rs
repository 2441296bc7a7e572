//! Sample-rate conversion to (and from) 8 kHz with a proper anti-aliasing
//! filter: a polyphase windowed-sinc (Kaiser, β = 8, 24 zero crossings each
//! side), cutoff at 46 % of the lower of the two rates.
//!
//! Prompts are converted once when loaded, so the cost (a few hundred
//! multiply-adds per output sample) is paid at deploy time, never per packet.

/// Zero crossings of the sinc on each side of the centre.
const ZERO_CROSSINGS: f64 = 24.0;
/// Kaiser window shape (about 80 dB stop-band attenuation).
const KAISER_BETA: f64 = 8.0;
/// Cutoff as a fraction of the lower sample rate.
const CUTOFF: f64 = 0.4625;
/// Most filter phases kept in the table; finer fractional positions round to
/// the nearest one (only for unusual rate pairs).
const MAX_PHASES: u64 = 4096;

/// A rational-ratio resampler with a precomputed polyphase filter table.
#[derive(Debug, Clone)]
pub struct Resampler {
    /// Output rate / gcd.
    up: u64,
    /// Input rate / gcd.
    down: u64,
    phases: u64,
    /// Taps per phase (even); the filter spans `taps/2` input samples each side.
    taps: usize,
    table: Vec<f32>,
}

fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// Modified Bessel function of the first kind, order 0 (series).
fn bessel_i0(x: f64) -> f64 {
    let mut sum = 1.0;
    let mut term = 1.0;
    let q = x * x / 4.0;
    for k in 1..64 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

impl Resampler {
    /// A resampler from `from` Hz to `to` Hz (both non-zero).
    pub fn new(from: u32, to: u32) -> Self {
        let (from, to) = (from.max(1) as u64, to.max(1) as u64);
        let g = gcd(from, to);
        let (up, down) = (to / g, from / g);
        let phases = up.min(MAX_PHASES);
        // Cutoff in cycles per input sample.
        let fc = CUTOFF * from.min(to) as f64 / from as f64;
        let reach = ZERO_CROSSINGS / (2.0 * fc);
        let half = reach.ceil() as usize;
        let taps = 2 * half;
        let i0_beta = bessel_i0(KAISER_BETA);
        let mut table = vec![0f32; phases as usize * taps];
        for p in 0..phases as usize {
            let frac = p as f64 / phases as f64;
            for j in 0..taps {
                // Distance from the output instant to input sample j.
                let tau = frac + half as f64 - 1.0 - j as f64;
                let x = tau / reach;
                let value = if x.abs() >= 1.0 {
                    0.0
                } else {
                    let arg = 2.0 * fc * tau;
                    let sinc = if arg.abs() < 1e-12 {
                        1.0
                    } else {
                        (std::f64::consts::PI * arg).sin() / (std::f64::consts::PI * arg)
                    };
                    let window = bessel_i0(KAISER_BETA * (1.0 - x * x).sqrt()) / i0_beta;
                    2.0 * fc * sinc * window
                };
                table[p * taps + j] = value as f32;
            }
        }
        Resampler {
            up,
            down,
            phases,
            taps,
            table,
        }
    }

    /// Number of output samples for `input_len` input samples.
    pub fn output_len(&self, input_len: usize) -> usize {
        ((input_len as u64 * self.up).div_ceil(self.down)) as usize
    }

    /// Converts a whole signal.
    pub fn process(&self, input: &[f32]) -> Vec<f32> {
        if self.up == self.down {
            return input.to_vec();
        }
        let n_out = self.output_len(input.len());
        let half = (self.taps / 2) as i64;
        let mut out = Vec::with_capacity(n_out);
        for n in 0..n_out as u64 {
            let pos = n * self.down;
            let mut i = (pos / self.up) as i64;
            let rem = pos % self.up;
            let mut phase = (rem * self.phases + self.up / 2) / self.up;
            if phase == self.phases {
                phase = 0;
                i += 1;
            }
            let coeffs = &self.table[phase as usize * self.taps..(phase as usize + 1) * self.taps];
            let first = i - half + 1;
            let mut acc = 0f32;
            if first >= 0 && (first as usize + self.taps) <= input.len() {
                let xs = &input[first as usize..first as usize + self.taps];
                for (x, h) in xs.iter().zip(coeffs) {
                    acc += x * h;
                }
            } else {
                for (j, h) in coeffs.iter().enumerate() {
                    let k = first + j as i64;
                    if k >= 0 && (k as usize) < input.len() {
                        acc += input[k as usize] * h;
                    }
                }
            }
            out.push(acc);
        }
        out
    }
}

/// Resamples 16-bit audio from `from` Hz to `to` Hz (rounding, saturating).
pub fn resample(input: &[i16], from: u32, to: u32) -> Vec<i16> {
    if from == to {
        return input.to_vec();
    }
    let f: Vec<f32> = input.iter().map(|&s| s as f32).collect();
    to_i16(&Resampler::new(from, to).process(&f))
}

/// Converts float samples on the 16-bit scale to `i16`, rounding and saturating.
pub fn to_i16(samples: &[f32]) -> Vec<i16> {
    samples
        .iter()
        .map(|&s| s.round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(freq: f64, rate: u32, secs: f64, amp: f64) -> Vec<f32> {
        let n = (rate as f64 * secs) as usize;
        (0..n)
            .map(|i| (amp * (std::f64::consts::TAU * freq * i as f64 / rate as f64).sin()) as f32)
            .collect()
    }

    /// RMS over the middle of the signal (away from the filter's edges).
    fn rms_mid(x: &[f32]) -> f64 {
        let a = x.len() / 4;
        let b = 3 * x.len() / 4;
        (x[a..b].iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / (b - a) as f64).sqrt()
    }

    #[test]
    fn three_khz_survives_from_every_common_rate() {
        for rate in [11025, 16000, 22050, 32000, 44100, 48000] {
            let out = Resampler::new(rate, 8000).process(&sine(3000.0, rate, 0.5, 10000.0));
            assert_eq!(out.len(), 4000, "rate {rate}");
            let rms = rms_mid(&out);
            let expected = 10000.0 / 2f64.sqrt();
            let db = 20.0 * (rms / expected).log10();
            assert!(db.abs() < 1.0, "rate {rate}: 3 kHz changed by {db:.2} dB");
        }
    }

    #[test]
    fn six_khz_at_48k_is_attenuated_by_40_db() {
        let out = Resampler::new(48000, 8000).process(&sine(6000.0, 48000, 0.5, 10000.0));
        let db = 20.0 * (rms_mid(&out) / (10000.0 / 2f64.sqrt())).log10();
        assert!(db < -40.0, "6 kHz only attenuated by {db:.1} dB");
        // Everything above the output Nyquist rate is stopped, not just 6 kHz.
        for f in [4300.0, 5000.0, 7000.0, 9000.0, 15000.0] {
            let out = Resampler::new(44100, 8000).process(&sine(f, 44100, 0.3, 10000.0));
            let db = 20.0 * (rms_mid(&out) / (10000.0 / 2f64.sqrt())).log10();
            assert!(db < -40.0, "{f} Hz only attenuated by {db:.1} dB");
        }
    }

    #[test]
    fn tone_frequency_is_kept() {
        // A 1 kHz tone at 44.1 kHz comes out as 1 kHz at 8 kHz: compare with
        // a reference sine by correlation.
        let out = Resampler::new(44100, 8000).process(&sine(1000.0, 44100, 0.25, 8000.0));
        let reference = sine(1000.0, 8000, 0.25, 8000.0);
        let (mut best, mut total) = (0f64, 0f64);
        for (a, b) in out[500..1500].iter().zip(&reference[500..1500]) {
            best += (*a as f64) * (*b as f64);
            total += (*b as f64).powi(2);
        }
        assert!(
            (best / total - 1.0).abs() < 0.02,
            "correlation {}",
            best / total
        );
    }

    #[test]
    fn identity_and_upsampling() {
        let x: Vec<i16> = (0..100).map(|i| i * 10).collect();
        assert_eq!(resample(&x, 8000, 8000), x);
        let up = Resampler::new(8000, 16000).process(&sine(1000.0, 8000, 0.25, 10000.0));
        assert_eq!(up.len(), 4000);
        let db = 20.0 * (rms_mid(&up) / (10000.0 / 2f64.sqrt())).log10();
        assert!(db.abs() < 0.5, "{db}");
        // An odd rate pair still works (phases are rounded).
        let odd = Resampler::new(44099, 8000).process(&sine(1000.0, 44099, 0.25, 10000.0));
        let db = 20.0 * (rms_mid(&odd) / (10000.0 / 2f64.sqrt())).log10();
        assert!(db.abs() < 0.5, "{db}");
    }
}
