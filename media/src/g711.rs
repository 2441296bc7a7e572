//! G.711 μ-law and A-law companding (ITU-T G.711), used for every RTP audio
//! packet (PCMU = payload type 0, PCMA = 8).
//!
//! Decoding is a lookup in a 256-entry table built at compile time. Encoding
//! one sample is a few integer operations (a leading-zero count finds the
//! segment); encoding a frame is a lookup per sample in a 64 KiB table per
//! law built from that on first use. The bit layouts follow the reference
//! implementation of G.711 (Sun Microsystems' `g711.c`), which the table tests
//! below check value by value.

/// Largest magnitude the μ-law encoder represents before clipping (14-bit range).
const ULAW_CLIP: i32 = 32635;
/// Bias added before the μ-law segment search.
const ULAW_BIAS: i32 = 0x84;

const fn ulaw_to_linear_calc(code: u8) -> i16 {
    let u = !code;
    let exponent = ((u >> 4) & 0x07) as i32;
    let mantissa = (u & 0x0F) as i32;
    let magnitude = (((mantissa << 3) + ULAW_BIAS) << exponent) - ULAW_BIAS;
    if u & 0x80 != 0 {
        -magnitude as i16
    } else {
        magnitude as i16
    }
}

const fn alaw_to_linear_calc(code: u8) -> i16 {
    let a = code ^ 0x55;
    let segment = ((a & 0x70) >> 4) as i32;
    let mut t = ((a & 0x0F) as i32) << 4;
    t = match segment {
        0 => t + 8,
        1 => t + 0x108,
        _ => (t + 0x108) << (segment - 1),
    };
    if a & 0x80 != 0 { t as i16 } else { -t as i16 }
}

const fn build_table(alaw: bool) -> [i16; 256] {
    let mut table = [0i16; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = if alaw {
            alaw_to_linear_calc(i as u8)
        } else {
            ulaw_to_linear_calc(i as u8)
        };
        i += 1;
    }
    table
}

/// μ-law code to 16-bit linear PCM.
static ULAW_TO_LINEAR: [i16; 256] = build_table(false);
/// A-law code to 16-bit linear PCM.
static ALAW_TO_LINEAR: [i16; 256] = build_table(true);

/// Decodes one μ-law byte to a 16-bit linear sample.
#[inline]
pub fn ulaw_decode(code: u8) -> i16 {
    ULAW_TO_LINEAR[code as usize]
}

/// Decodes one A-law byte to a 16-bit linear sample.
#[inline]
pub fn alaw_decode(code: u8) -> i16 {
    ALAW_TO_LINEAR[code as usize]
}

/// Encodes a 16-bit linear sample as μ-law.
#[inline]
pub fn ulaw_encode(sample: i16) -> u8 {
    let s = sample as i32;
    let (sign, magnitude) = if s < 0 { (0x80, -s) } else { (0x00, s) };
    let biased = magnitude.min(ULAW_CLIP) + ULAW_BIAS;
    // `biased` lies in 0x84..=0x7FFF: its top set bit is bit 7..=14.
    let exponent = (31 - biased.leading_zeros() as i32) - 7;
    let mantissa = (biased >> (exponent + 3)) & 0x0F;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Encodes a 16-bit linear sample as A-law.
#[inline]
pub fn alaw_encode(sample: i16) -> u8 {
    let mut pcm = (sample as i32) >> 3; // 13-bit magnitude range
    let mask = if pcm >= 0 {
        0xD5
    } else {
        pcm = -pcm - 1;
        0x55
    };
    // Segment: 0 for 0..=0x1F, then one per doubling up to 7 for ..=0xFFF.
    let segment = if pcm <= 0x1F {
        0
    } else {
        (31 - pcm.leading_zeros() as i32) - 4
    };
    let code = if segment >= 8 {
        0x7F
    } else if segment < 2 {
        (segment << 4) | ((pcm >> 1) & 0x0F)
    } else {
        (segment << 4) | ((pcm >> segment) & 0x0F)
    };
    (code ^ mask) as u8
}

/// Encoding tables over every 16-bit input (64 KiB per law), built on first
/// use from the scalar encoders: a frame then costs one lookup per sample.
struct EncodeTables {
    ulaw: Box<[u8]>,
    alaw: Box<[u8]>,
}

static ENCODE: std::sync::LazyLock<EncodeTables> = std::sync::LazyLock::new(|| EncodeTables {
    ulaw: (i16::MIN..=i16::MAX).map(ulaw_encode).collect(),
    alaw: (i16::MIN..=i16::MAX).map(alaw_encode).collect(),
});

#[inline]
fn table_index(sample: i16) -> usize {
    (sample as i32 + 32768) as usize
}

/// Which G.711 law an audio stream uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Law {
    /// μ-law (North America, Japan); RTP payload type 0, `PCMU`.
    Ulaw,
    /// A-law (Europe, China, most of the world); RTP payload type 8, `PCMA`.
    Alaw,
}

impl Law {
    /// Encodes `pcm` into `out` (which must be at least as long) and returns the
    /// number of bytes written.
    #[inline]
    pub fn encode(self, pcm: &[i16], out: &mut [u8]) -> usize {
        let n = pcm.len().min(out.len());
        let table: &[u8] = match self {
            Law::Ulaw => &ENCODE.ulaw,
            Law::Alaw => &ENCODE.alaw,
        };
        for (o, &s) in out[..n].iter_mut().zip(pcm) {
            *o = table[table_index(s)];
        }
        n
    }

    /// Decodes `codes` into `out` (which must be at least as long) and returns
    /// the number of samples written.
    #[inline]
    pub fn decode(self, codes: &[u8], out: &mut [i16]) -> usize {
        let n = codes.len().min(out.len());
        let table = match self {
            Law::Ulaw => &ULAW_TO_LINEAR,
            Law::Alaw => &ALAW_TO_LINEAR,
        };
        for (o, &c) in out[..n].iter_mut().zip(codes) {
            *o = table[c as usize];
        }
        n
    }

    /// The static RTP payload type (0 for PCMU, 8 for PCMA).
    pub fn payload_type(self) -> u8 {
        match self {
            Law::Ulaw => 0,
            Law::Alaw => 8,
        }
    }

    /// The law for a static RTP payload type.
    pub fn from_payload_type(pt: u8) -> Option<Law> {
        match pt {
            0 => Some(Law::Ulaw),
            8 => Some(Law::Alaw),
            _ => None,
        }
    }

    /// The code for digital silence (linear 0, or the nearest to it).
    pub fn silence(self) -> u8 {
        match self {
            Law::Ulaw => 0xFF,
            Law::Alaw => 0xD5,
        }
    }

    /// Transcodes one code of this law to `to` (through linear PCM).
    #[inline]
    pub fn transcode(self, code: u8, to: Law) -> u8 {
        match (self, to) {
            (Law::Ulaw, Law::Alaw) => alaw_encode(ulaw_decode(code)),
            (Law::Alaw, Law::Ulaw) => ulaw_encode(alaw_decode(code)),
            _ => code,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ulaw_known_values() {
        // Values from the G.711 reference decoder.
        let known: &[(u8, i16)] = &[
            (0xFF, 0),
            (0x7F, 0),
            (0xFE, 8),
            (0x7E, -8),
            (0xF0, 120),
            (0xEF, 132),
            (0xE0, 372),
            (0xD0, 876),
            (0xCF, 924),
            (0xC0, 1884),
            (0xBF, 1980),
            (0x80, 32124),
            (0x00, -32124),
            (0x01, -31100),
            (0x8F, 16764),
            (0x0F, -16764),
            (0x10, -15996),
        ];
        for &(code, value) in known {
            assert_eq!(ulaw_decode(code), value, "code {code:#04x}");
        }
        assert_eq!(ulaw_encode(0), 0xFF);
        assert_eq!(ulaw_encode(-1), 0x7F);
        assert_eq!(ulaw_encode(32767), 0x80);
        assert_eq!(ulaw_encode(-32768), 0x00);
        assert_eq!(ulaw_encode(8), 0xFE);
        assert_eq!(ulaw_encode(1000), 0xCE);
        assert_eq!(ulaw_encode(-1000), 0x4E);
    }

    #[test]
    fn alaw_known_values() {
        let known: &[(u8, i16)] = &[
            (0xD5, 8),
            (0x55, -8),
            (0xD4, 24),
            (0xAA, 32256),
            (0x2A, -32256),
            (0xFA, 1008),
            (0x00, -5504),
            (0x01, -5248),
            (0x02, -6016),
            (0xC5, 264),
            (0x80, 5504),
        ];
        for &(code, value) in known {
            assert_eq!(alaw_decode(code), value, "code {code:#04x}");
        }
        assert_eq!(alaw_encode(0), 0xD5);
        assert_eq!(alaw_encode(-1), 0x55);
        assert_eq!(alaw_encode(32767), 0xAA);
        assert_eq!(alaw_encode(-32768), 0x2A);
        assert_eq!(alaw_encode(1000), 0xFA);
        assert_eq!(alaw_encode(24), 0xD4);
    }

    #[test]
    fn decode_then_encode_is_identity() {
        for code in 0..=255u8 {
            // μ-law 0x7F is "negative zero" and encodes back as positive zero.
            let back = ulaw_encode(ulaw_decode(code));
            if code == 0x7F {
                assert_eq!(back, 0xFF);
            } else {
                assert_eq!(back, code, "ulaw {code:#04x}");
            }
            assert_eq!(alaw_encode(alaw_decode(code)), code, "alaw {code:#04x}");
        }
    }

    #[test]
    fn tables_are_monotonic_and_symmetric() {
        let mut ulaw: Vec<i16> = (0..=255u8).map(ulaw_decode).collect();
        let mut alaw: Vec<i16> = (0..=255u8).map(alaw_decode).collect();
        for code in 0..=127u8 {
            assert_eq!(ulaw_decode(code), -ulaw_decode(code | 0x80));
            assert_eq!(alaw_decode(code), -alaw_decode(code | 0x80));
        }
        ulaw.sort();
        ulaw.dedup();
        alaw.sort();
        alaw.dedup();
        assert_eq!(ulaw.len(), 255); // two zeros
        assert_eq!(alaw.len(), 256);
    }

    /// Every input encodes to the code whose decoded value is nearest within
    /// its segment: the error is at most half a quantization step (plus the
    /// clipping region at the extremes).
    #[test]
    fn encode_error_is_bounded_by_step() {
        for s in i16::MIN..=i16::MAX {
            let x = s as i32;
            let u = ulaw_decode(ulaw_encode(s)) as i32;
            let a = alaw_decode(alaw_encode(s)) as i32;
            let mag = x.unsigned_abs() as i32;
            // Step sizes double per segment: μ-law 8..=1024 (biased),
            // A-law 16..=1024 (A-law truncates, so the bound is a full step).
            let ulaw_step = ((mag + 0x84).max(0x84) >> 4).max(8);
            let alaw_step = (mag >> 4).max(16);
            if mag <= 32000 {
                assert!((x - u).abs() <= ulaw_step, "ulaw {s}: {u}");
                assert!((x - a).abs() <= alaw_step, "alaw {s}: {a}");
            }
            // Sign is always kept (zero may go either way).
            assert!(x * u >= 0 || u.abs() <= 8, "ulaw sign {s}");
            assert!(x * a >= 0 || a.abs() <= 8, "alaw sign {s}");
        }
    }

    #[test]
    fn table_encoder_matches_scalar_encoder() {
        let all: Vec<i16> = (i16::MIN..=i16::MAX).collect();
        let mut out = vec![0u8; all.len()];
        Law::Ulaw.encode(&all, &mut out);
        assert!(all.iter().zip(&out).all(|(&s, &c)| ulaw_encode(s) == c));
        Law::Alaw.encode(&all, &mut out);
        assert!(all.iter().zip(&out).all(|(&s, &c)| alaw_encode(s) == c));
    }

    #[test]
    fn slices_and_transcode() {
        let pcm: Vec<i16> = (0..160)
            .map(|i| ((i as f32 * 0.3).sin() * 9000.0) as i16)
            .collect();
        let mut codes = [0u8; 160];
        let mut back = [0i16; 160];
        for law in [Law::Ulaw, Law::Alaw] {
            assert_eq!(law.encode(&pcm, &mut codes), 160);
            assert_eq!(law.decode(&codes, &mut back), 160);
            for (a, b) in pcm.iter().zip(back.iter()) {
                assert!((*a as i32 - *b as i32).abs() <= 300);
            }
            assert_eq!(law.decode(&[law.silence()], &mut back[..1]), 1);
            assert!(back[0].abs() <= 8);
        }
        for code in 0..=255u8 {
            let a = Law::Ulaw.transcode(code, Law::Alaw);
            let diff = (ulaw_decode(code) as i32 - alaw_decode(a) as i32).abs();
            assert!(diff <= (ulaw_decode(code) as i32).abs() / 16 + 16, "{code}");
        }
    }
}
