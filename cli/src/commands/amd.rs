//! `dialect amd detect FILE.wav [--config FILE.yaml]`: the answering-machine
//! detector on a recording, so it can be measured on any set of calls.
//!
//! Prints one line on standard output, the verdict and the decision time in
//! seconds from the start of the file (`person 1.42`), and the rule that
//! decided on standard error. Files at other rates are resampled to 8 kHz;
//! stereo files are mixed down.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use dialect_media::amd::{AmdConfig, detect};

/// Reads the detector settings: YAML with any of `AmdConfig`'s fields, the
/// rest at their defaults.
fn load_config(path: &Path) -> Result<AmdConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let config: AmdConfig = if text.trim().is_empty() {
        AmdConfig::default()
    } else {
        serde_yaml::from_str(&text).with_context(|| format!("in {}", path.display()))?
    };
    config
        .validate()
        .with_context(|| format!("in {}", path.display()))?;
    Ok(config)
}

/// `dialect amd detect`.
pub(crate) fn detect_file(file: &Path, config: Option<&Path>) -> Result<ExitCode> {
    let config = match config {
        Some(path) => load_config(path)?,
        None => AmdConfig::default(),
    };
    // The reader mixes channels down and resamples to 8 kHz.
    let (pcm, rate) = dialect_media::prompt::read_wav_mono(file)
        .with_context(|| format!("cannot read {}", file.display()))?;
    if pcm.is_empty() {
        bail!("{} holds no audio", file.display());
    }
    let decision = detect(&pcm, rate, config);
    println!("{decision}");
    eprintln!("cause {}", decision.cause);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_files_are_checked() {
        let dir = std::env::temp_dir().join(format!("dialect-amd-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("good.yaml");
        std::fs::write(&good, "greeting_ms: 2000\n").unwrap();
        assert_eq!(load_config(&good).unwrap().greeting_ms, 2000);
        let bad = dir.join("bad.yaml");
        std::fs::write(&bad, "max_words: 0\n").unwrap();
        let err = format!("{:#}", load_config(&bad).unwrap_err());
        assert!(err.contains("max_words must be more than 0"), "{err}");
        let typo = dir.join("typo.yaml");
        std::fs::write(&typo, "greting_ms: 2000\n").unwrap();
        let err = format!("{:#}", load_config(&typo).unwrap_err());
        assert!(err.contains("greting_ms"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
