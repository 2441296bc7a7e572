//! DTMF tone generation: in-band sending when the peer negotiated no
//! telephone-event payload, and test signals for the detector.

use super::DtmfKey;

/// Peak amplitude of a 0 dBm0 sine on the 16-bit scale (G.711's reference).
pub const DBM0_PEAK: f32 = 22657.0;

/// Peak amplitude of a sine at `dbm0` (0 dBm0 = 22,657).
pub fn dbm0_to_amplitude(dbm0: f32) -> f32 {
    DBM0_PEAK * 10f32.powf(dbm0 / 20.0)
}

/// Generates the two tones of a key, sample by sample, with continuous phase.
///
/// Mixing into a frame allocates nothing, so the media task can send in-band
/// digits on its 20 ms tick.
#[derive(Debug, Clone)]
pub struct ToneGenerator {
    low: Oscillator,
    high: Oscillator,
    remaining: usize,
}

#[derive(Debug, Clone)]
struct Oscillator {
    /// Current (cos, sin) of the phase.
    state: (f64, f64),
    /// (cos, sin) of the phase step.
    step: (f64, f64),
    amplitude: f64,
}

impl Oscillator {
    fn new(freq: f64, amplitude: f64, sample_rate: f64) -> Self {
        let w = 2.0 * std::f64::consts::PI * freq / sample_rate;
        Oscillator {
            state: (1.0, 0.0),
            step: (w.cos(), w.sin()),
            amplitude,
        }
    }

    #[inline]
    fn next(&mut self) -> f64 {
        let v = self.state.1 * self.amplitude;
        let (c, s) = self.state;
        let (dc, ds) = self.step;
        let (nc, ns) = (c * dc - s * ds, s * dc + c * ds);
        // Renormalize to keep the amplitude from drifting over long tones.
        let g = 1.5 - 0.5 * (nc * nc + ns * ns);
        self.state = (nc * g, ns * g);
        v
    }
}

impl ToneGenerator {
    /// A generator for `key` at `level_dbm0` per tone, lasting `samples`
    /// samples at 8 kHz.
    pub fn new(key: DtmfKey, level_dbm0: f32, samples: usize) -> Self {
        let (lo, hi) = key.frequencies();
        Self::with_frequencies(lo, hi, level_dbm0, level_dbm0, samples, 8000)
    }

    /// A generator for two arbitrary tones (for off-nominal and twist tests).
    pub fn with_frequencies(
        low_hz: f32,
        high_hz: f32,
        low_dbm0: f32,
        high_dbm0: f32,
        samples: usize,
        sample_rate: u32,
    ) -> Self {
        ToneGenerator {
            low: Oscillator::new(
                low_hz as f64,
                dbm0_to_amplitude(low_dbm0) as f64,
                sample_rate as f64,
            ),
            high: Oscillator::new(
                high_hz as f64,
                dbm0_to_amplitude(high_dbm0) as f64,
                sample_rate as f64,
            ),
            remaining: samples,
        }
    }

    /// Samples still to generate.
    pub fn remaining(&self) -> usize {
        self.remaining
    }

    /// Adds the next samples to `out` (saturating); returns how many were
    /// added (less than `out.len()` when the tone ends).
    pub fn mix_into(&mut self, out: &mut [i16]) -> usize {
        let n = out.len().min(self.remaining);
        for o in &mut out[..n] {
            let v = self.low.next() + self.high.next() + *o as f64;
            *o = v.round().clamp(-32768.0, 32767.0) as i16;
        }
        self.remaining -= n;
        n
    }

    /// Generates the whole tone into a new vector (for tests and files).
    pub fn to_vec(mut self) -> Vec<i16> {
        let mut v = vec![0i16; self.remaining];
        self.mix_into(&mut v);
        v
    }
}
