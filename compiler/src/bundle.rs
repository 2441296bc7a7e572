//! Bundles: what `dialect compile` writes and `dialect deploy` ships.
//!
//! A bundle holds the checked IR (with its source map), the prompt manifest with
//! each file's content hash and duration, the prompt audio itself, and a few facts
//! about the build. On disk:
//!
//! ```text
//! offset  size  field
//! 0       8     magic  "DLBUNDLE"
//! 8       4     format version (little-endian u32, currently 1)
//! 12      4     CRC-32 of the payload
//! 16      8     payload length in bytes (little-endian u64)
//! 24      n     payload (postcard-encoded BundleData)
//! ```
//!
//! Loading checks the magic, the version, the length and the checksum, decodes the
//! payload and verifies the IR, and names the first thing that is wrong.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::backend::Engine;
use crate::error::CompileError;
use crate::exec::Program;
use crate::ir::{FORMAT_VERSION, ProgramIr};

/// The first bytes of every bundle.
pub const MAGIC: &[u8; 8] = b"DLBUNDLE";
/// Size of the header before the payload.
pub const HEADER_LEN: usize = 24;

/// One prompt file in a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptEntry {
    /// Path under the project's `prompts/` folder, with `/` separators (`zh/welcome.wav`).
    pub path: String,
    /// SHA-256 of the file, hex.
    pub sha256: String,
    /// Duration in milliseconds (0 when the file is not a WAV hound can read).
    pub duration_ms: u64,
    /// The file's bytes.
    #[serde(with = "serde_bytes_vec")]
    pub bytes: Vec<u8>,
}

mod serde_bytes_vec {
    //! Encodes prompt audio as one byte string rather than a sequence of numbers.
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
                Ok(v)
            }
        }
        d.deserialize_bytes(V)
    }
}

/// Everything inside a bundle.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BundleData {
    /// The project's name (its folder).
    pub project: String,
    /// When it was built (RFC 3339).
    pub built_at: String,
    /// The compiler that built it.
    pub compiler_version: String,
    /// The program.
    pub ir: ProgramIr,
    /// The prompt files.
    pub prompts: Vec<PromptEntry>,
}

/// Why a bundle was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BundleError {
    /// Fewer bytes than a header.
    #[error("this is not a bundle: it is only {0} bytes long")]
    TooShort(usize),
    /// The magic bytes are wrong.
    #[error("this is not a Dialect bundle (it does not start with DLBUNDLE)")]
    BadMagic,
    /// Another format version.
    #[error(
        "the bundle has format version {found}, but this runtime reads version {expected}; compile it again with this version of dialect"
    )]
    Version {
        /// In the file.
        found: u32,
        /// What we read.
        expected: u32,
    },
    /// The payload is shorter than the header says.
    #[error("the bundle is truncated: {missing} bytes are missing")]
    Truncated {
        /// How many bytes are missing.
        missing: u64,
    },
    /// The checksum does not match.
    #[error("the bundle is corrupt: its checksum does not match its contents")]
    Checksum,
    /// The payload could not be decoded.
    #[error("the bundle is corrupt: {0}")]
    Decode(String),
    /// The IR is inconsistent.
    #[error("the bundle's program is inconsistent: {0}")]
    Verify(crate::verify::VerifyError),
}

impl BundleData {
    /// Encodes the bundle.
    pub fn to_bytes(&self) -> Vec<u8> {
        let payload = postcard::to_allocvec(self).unwrap_or_default();
        let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// Decodes and verifies a bundle.
    pub fn from_bytes(bytes: &[u8]) -> Result<BundleData, BundleError> {
        if bytes.len() < HEADER_LEN {
            if bytes.len() >= 8 && &bytes[..8] != MAGIC {
                return Err(BundleError::BadMagic);
            }
            return Err(BundleError::TooShort(bytes.len()));
        }
        if &bytes[..8] != MAGIC {
            return Err(BundleError::BadMagic);
        }
        let word = |at: usize| {
            u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
        };
        let version = word(8);
        if version != FORMAT_VERSION {
            return Err(BundleError::Version {
                found: version,
                expected: FORMAT_VERSION,
            });
        }
        let crc = word(12);
        let mut len_bytes = [0u8; 8];
        len_bytes.copy_from_slice(&bytes[16..24]);
        let len = u64::from_le_bytes(len_bytes);
        let have = (bytes.len() - HEADER_LEN) as u64;
        if have < len {
            return Err(BundleError::Truncated {
                missing: len - have,
            });
        }
        let payload = &bytes[HEADER_LEN..HEADER_LEN + len as usize];
        if crc32fast::hash(payload) != crc {
            return Err(BundleError::Checksum);
        }
        let data: BundleData =
            postcard::from_bytes(payload).map_err(|e| BundleError::Decode(e.to_string()))?;
        crate::verify::verify(&data.ir).map_err(BundleError::Verify)?;
        Ok(data)
    }

    /// The CRC-32 written in a bundle's header (for `dialect inspect`).
    pub fn checksum(bytes: &[u8]) -> Option<u32> {
        (bytes.len() >= HEADER_LEN)
            .then(|| u32::from_le_bytes([bytes[12], bytes[13], bytes[14], bytes[15]]))
    }

    /// Builds a program from the bundle.
    pub fn program(&self, engine: Engine) -> Result<Program, CompileError> {
        Program::new(self.ir.clone(), engine)
    }
}

/// Loads a bundle and builds its program: `Bundle::load(bytes) -> Program` in one step.
pub fn load(bytes: &[u8], engine: Engine) -> Result<(BundleData, Program), String> {
    let data = BundleData::from_bytes(bytes).map_err(|e| e.to_string())?;
    let program = data.program(engine).map_err(|e| e.to_string())?;
    Ok((data, program))
}

/// Builds the bundle of a compiled project whose folder is `root`.
pub fn build(root: &Path, ir: ProgramIr) -> std::io::Result<BundleData> {
    let project = root
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "project".to_string());
    Ok(BundleData {
        project,
        built_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        compiler_version: env!("CARGO_PKG_VERSION").to_string(),
        prompts: collect_prompts(&root.join("prompts"))?,
        ir,
    })
}

/// Reads every file under `prompts_dir` into the manifest.
pub fn collect_prompts(prompts_dir: &Path) -> std::io::Result<Vec<PromptEntry>> {
    let mut out = Vec::new();
    let mut stack = vec![prompts_dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for e in rd {
            let p = e?.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            if !p.extension().is_some_and(|x| x.eq_ignore_ascii_case("wav")) {
                continue;
            }
            let bytes = std::fs::read(&p)?;
            let rel = p
                .strip_prefix(prompts_dir)
                .unwrap_or(&p)
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            out.push(PromptEntry {
                sha256: hex(&Sha256::digest(&bytes)),
                duration_ms: wav_duration_ms(&bytes),
                path: rel,
                bytes,
            });
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(out)
}

fn wav_duration_ms(bytes: &[u8]) -> u64 {
    match hound::WavReader::new(std::io::Cursor::new(bytes)) {
        Ok(r) => {
            let spec = r.spec();
            u64::from(r.duration()) * 1000 / u64::from(spec.sample_rate.max(1))
        }
        Err(_) => 0,
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BundleData {
        BundleData {
            project: "t".into(),
            built_at: "2026-11-22T00:00:00Z".into(),
            compiler_version: "0.1.0".into(),
            ir: ProgramIr::default(),
            prompts: vec![PromptEntry {
                path: "zh/a.wav".into(),
                sha256: "00".into(),
                duration_ms: 10,
                bytes: vec![1, 2, 3],
            }],
        }
    }

    #[test]
    fn round_trips() {
        let b = sample();
        assert_eq!(BundleData::from_bytes(&b.to_bytes()).unwrap(), b);
    }

    #[test]
    fn refuses_damaged_bundles_with_the_reason() {
        let bytes = sample().to_bytes();
        assert_eq!(
            BundleData::from_bytes(&bytes[..10]),
            Err(BundleError::TooShort(10))
        );
        let mut bad = bytes.clone();
        bad[0] = b'X';
        assert_eq!(BundleData::from_bytes(&bad), Err(BundleError::BadMagic));
        let mut v = bytes.clone();
        v[8] = 9;
        assert!(matches!(
            BundleData::from_bytes(&v),
            Err(BundleError::Version { found: 9, .. })
        ));
        assert!(matches!(
            BundleData::from_bytes(&bytes[..bytes.len() - 5]),
            Err(BundleError::Truncated { missing: 5 })
        ));
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0xFF;
        assert_eq!(BundleData::from_bytes(&flipped), Err(BundleError::Checksum));
    }
}
