//! Audio between sessions: a fixed-size ring of 8 kHz samples, and a shared
//! pipe around it that one session's receive path writes and another
//! session's send tick reads (bridging, supervisor listen and whisper).
//!
//! The ring absorbs network jitter: reading starts once 40 ms are buffered
//! (and again after running dry), missing audio reads as silence, and when
//! the writer runs ahead (clock drift between two far ends) the oldest audio
//! is dropped so the delay stays below 200 ms. Nothing allocates after
//! creation; the pipe's lock is held for a copy of one frame.

use std::sync::Mutex;

/// Capacity of a ring: 200 ms.
pub const RING_CAPACITY: usize = 1600;
/// Audio buffered before reading starts: 40 ms.
const PRIME: usize = 320;

/// A jitter-absorbing ring buffer of PCM samples.
#[derive(Debug, Clone)]
pub struct PcmRing {
    buf: Box<[i16; RING_CAPACITY]>,
    read: usize,
    len: usize,
    primed: bool,
}

impl Default for PcmRing {
    fn default() -> Self {
        Self::new()
    }
}

impl PcmRing {
    /// An empty ring.
    pub fn new() -> Self {
        PcmRing {
            buf: Box::new([0; RING_CAPACITY]),
            read: 0,
            len: 0,
            primed: false,
        }
    }

    /// Samples buffered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether nothing is buffered.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends samples, dropping the oldest when full.
    pub fn write(&mut self, samples: &[i16]) {
        let samples = &samples[samples.len().saturating_sub(RING_CAPACITY)..];
        let overflow = (self.len + samples.len()).saturating_sub(RING_CAPACITY);
        if overflow > 0 {
            self.read = (self.read + overflow) % RING_CAPACITY;
            self.len -= overflow;
        }
        let mut w = (self.read + self.len) % RING_CAPACITY;
        for &s in samples {
            self.buf[w] = s;
            w = (w + 1) % RING_CAPACITY;
        }
        self.len += samples.len();
        if self.len >= PRIME {
            self.primed = true;
        }
    }

    /// Takes `out.len()` samples, calling `f(out_index, sample)` for each one
    /// available; returns how many there were (zero until primed).
    fn take(&mut self, n: usize, mut f: impl FnMut(usize, i16)) -> usize {
        if !self.primed {
            return 0;
        }
        let n = n.min(self.len);
        for i in 0..n {
            f(i, self.buf[self.read]);
            self.read = (self.read + 1) % RING_CAPACITY;
        }
        self.len -= n;
        if self.len == 0 {
            self.primed = false;
        }
        n
    }

    /// Fills `out` with the next samples (silence where none are buffered).
    pub fn read_into(&mut self, out: &mut [i16]) {
        out.fill(0);
        self.take(out.len(), |i, s| out[i] = s);
    }

    /// Adds the next samples into `out` (saturating); returns how many were added.
    pub fn mix_into(&mut self, out: &mut [i16]) -> usize {
        let len = out.len();
        self.take(len, |i, s| out[i] = out[i].saturating_add(s))
    }
}

/// A ring shared between two session tasks.
#[derive(Debug, Default)]
pub struct PcmPipe {
    ring: Mutex<PcmRing>,
}

impl PcmPipe {
    /// An empty pipe.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, PcmRing> {
        // The ring's invariants hold after every statement; a panic elsewhere
        // while holding the lock leaves it usable.
        self.ring.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Appends received audio.
    pub fn write(&self, samples: &[i16]) {
        self.lock().write(samples);
    }

    /// Mixes the next frame into `out`.
    pub fn mix_into(&self, out: &mut [i16]) -> usize {
        self.lock().mix_into(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn primes_then_reads_in_order() {
        let mut r = PcmRing::new();
        let a: Vec<i16> = (0..160).collect();
        let b: Vec<i16> = (160..320).collect();
        r.write(&a);
        let mut out = [7i16; 160];
        r.read_into(&mut out);
        assert_eq!(out, [0; 160], "not primed yet: silence");
        r.write(&b);
        r.read_into(&mut out);
        assert_eq!(&out[..], &a[..]);
        let mut mixed = [1i16; 160];
        assert_eq!(r.mix_into(&mut mixed), 160);
        assert_eq!(mixed[0], 161);
        assert!(r.is_empty());
        // Ran dry: must prime again.
        r.write(&a);
        assert_eq!(r.mix_into(&mut mixed), 0);
    }

    #[test]
    fn overflow_drops_oldest() {
        let mut r = PcmRing::new();
        for i in 0..20i16 {
            r.write(&[i; 160]);
        }
        assert_eq!(r.len(), RING_CAPACITY);
        let mut out = [0i16; 160];
        r.read_into(&mut out);
        assert_eq!(out[0], 10);
        let pipe = PcmPipe::new();
        pipe.write(&[5; 400]);
        let mut out = [1i16; 160];
        assert_eq!(pipe.mix_into(&mut out), 160);
        assert_eq!(out[0], 6);
    }
}
