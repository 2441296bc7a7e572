//! The built-in TTS engine: espeak-ng run as a child process.
//!
//! Each synthesis runs `espeak-ng --stdout --stdin -b 1 -v VOICE [-s RATE]
//! [-p PITCH]` without a shell; the text goes in on stdin, a WAV comes out on
//! stdout. The child is killed when the time limit passes or the caller stops
//! waiting (`kill_on_drop`). A semaphore bounds how many run at once so that
//! a burst of new prompts cannot starve the media tasks of CPU.
//!
//! Chinese is spoken with espeak-ng's `cmn-latn-pinyin` voice: espeak-ng 1.51
//! turns Han characters into pinyin, and its plain `cmn` voice then reads
//! that pinyin as English words ("年" comes out as "nai-an-two").

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::process::Command;
use tokio::sync::Semaphore;

use super::Tts;
use crate::BoxFuture;
use crate::audio::{Audio, decode_wav};
use crate::error::{Error, Result};
use crate::voice::Voice;

const ENGINE: &str = "espeak-ng";

/// Settings of [`EspeakTts`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspeakConfig {
    /// The program to run; looked up in `PATH` when it has no slash.
    pub program: PathBuf,
    /// Longest time one synthesis may take before the child is killed.
    pub timeout: Duration,
    /// Most children running at once; further requests wait their turn.
    pub max_concurrent: usize,
    /// Longest text accepted, in characters.
    pub max_text_chars: usize,
}

impl Default for EspeakConfig {
    fn default() -> Self {
        EspeakConfig {
            program: PathBuf::from("espeak-ng"),
            timeout: Duration::from_secs(10),
            max_concurrent: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_text_chars: 4000,
        }
    }
}

/// Speech synthesis by the espeak-ng program.
#[derive(Debug)]
pub struct EspeakTts {
    config: EspeakConfig,
    permits: Semaphore,
}

impl EspeakTts {
    /// An engine with these settings (nothing is started until first use).
    pub fn new(config: EspeakConfig) -> Self {
        let permits = Semaphore::new(config.max_concurrent.max(1));
        EspeakTts { config, permits }
    }

    /// The espeak-ng voice for a [`Voice`]: Chinese maps to
    /// `cmn-latn-pinyin` (see the module docs), the rest as
    /// [`Voice::espeak_name`].
    pub fn voice_arg(voice: &Voice) -> Result<String> {
        let name = voice.espeak_name()?;
        Ok(match name.split_once('+') {
            Some(("cmn", variant)) => format!("cmn-latn-pinyin+{variant}"),
            None if name == "cmn" => "cmn-latn-pinyin".to_owned(),
            _ => name,
        })
    }

    /// The arguments for one synthesis, after the program name.
    fn args(voice: &Voice) -> Result<Vec<String>> {
        let mut args = vec![
            "--stdout".to_owned(),
            "--stdin".to_owned(),
            "-b".to_owned(),
            "1".to_owned(),
            "-v".to_owned(),
            Self::voice_arg(voice)?,
        ];
        if let Some(rate) = voice.rate {
            args.push("-s".to_owned());
            args.push(rate.clamp(80, 450).to_string());
        }
        if let Some(pitch) = voice.pitch {
            args.push("-p".to_owned());
            args.push(pitch.min(99).to_string());
        }
        Ok(args)
    }

    async fn run(&self, text: &str, voice: &Voice) -> Result<Audio> {
        if text.trim().is_empty() {
            return Err(Error::InvalidText("the text is empty".into()));
        }
        let chars = text.chars().count();
        if chars > self.config.max_text_chars {
            return Err(Error::InvalidText(format!(
                "{chars} characters is more than the limit of {}",
                self.config.max_text_chars
            )));
        }
        if text.contains('\0') {
            return Err(Error::InvalidText(
                "the text contains a NUL character".into(),
            ));
        }
        let args = Self::args(voice)?;
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|e| Error::Worker(e.to_string()))?;

        let mut child = Command::new(&self.config.program)
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|source| Error::EngineMissing {
                engine: ENGINE,
                path: self.config.program.clone(),
                source,
            })?;
        let mut stdin = child
            .stdin
            .take()
            .ok_or_else(|| Error::Worker("espeak-ng stdin was not captured".into()))?;
        let mut input = text.as_bytes().to_vec();
        input.push(b'\n');
        let feed = async move {
            // A write error means the child exited early; its exit status
            // and stderr (below) tell why.
            let _ = stdin.write_all(&input).await;
            drop(stdin);
        };
        let work = async {
            let ((), output) = tokio::join!(feed, child.wait_with_output());
            output
        };
        let output = tokio::time::timeout(self.config.timeout, work)
            .await
            .map_err(|_| Error::Timeout {
                engine: ENGINE,
                after: self.config.timeout,
            })?
            .map_err(|e| Error::EngineFailed {
                engine: ENGINE,
                detail: e.to_string(),
            })?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            return Err(Error::EngineFailed {
                engine: ENGINE,
                detail: format!("{} ({})", stderr.trim(), output.status),
            });
        }
        decode_wav(&output.stdout).map_err(|e| Error::EngineFailed {
            engine: ENGINE,
            detail: format!("wrote audio that cannot be read: {e}"),
        })
    }
}

impl Tts for EspeakTts {
    fn synthesize<'a>(&'a self, text: &'a str, voice: &'a Voice) -> BoxFuture<'a, Result<Audio>> {
        Box::pin(self.run(text, voice))
    }

    fn engine_id(&self) -> String {
        ENGINE.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::level_dbfs;

    #[tokio::test]
    async fn speaks_english_and_chinese() {
        let tts = EspeakTts::new(EspeakConfig::default());
        for (text, voice) in [
            ("one hundred twenty-three dollars", Voice::en()),
            ("一百二十三元四角五分", Voice::zh()),
            (
                "complaint",
                Voice::new("en-GB").with_name("f3").with_rate(140),
            ),
        ] {
            let audio = tts.synthesize(text, &voice).await.unwrap();
            assert_eq!(audio.sample_rate, 22050);
            let secs = audio.duration().as_secs_f64();
            assert!((0.3..10.0).contains(&secs), "{text}: {secs} s");
            assert!(level_dbfs(&audio.samples) > -40.0, "{text} is silent");
        }
    }

    #[tokio::test]
    async fn rate_changes_length() {
        let tts = EspeakTts::new(EspeakConfig::default());
        let text = "please hold while we connect your call";
        let slow = tts
            .synthesize(text, &Voice::en().with_rate(100))
            .await
            .unwrap();
        let fast = tts
            .synthesize(text, &Voice::en().with_rate(300))
            .await
            .unwrap();
        assert!(slow.samples.len() > fast.samples.len() * 2);
    }

    #[tokio::test]
    async fn text_is_not_interpreted_by_a_shell() {
        let tts = EspeakTts::new(EspeakConfig::default());
        let dir = std::env::temp_dir().join(format!("dialect-speech-shell-{}", std::process::id()));
        let text = format!(
            "hello; touch {} $(touch {}) `touch {}`",
            dir.display(),
            dir.display(),
            dir.display()
        );
        tts.synthesize(&text, &Voice::en()).await.unwrap();
        assert!(!dir.exists());
        // Text that looks like an option is spoken, not obeyed.
        let audio = tts.synthesize("--version", &Voice::en()).await.unwrap();
        assert!(!audio.samples.is_empty());
    }

    #[tokio::test]
    async fn missing_program_is_a_clear_error() {
        let tts = EspeakTts::new(EspeakConfig {
            program: PathBuf::from("/nonexistent/espeak-ng"),
            ..EspeakConfig::default()
        });
        let err = tts.synthesize("hello", &Voice::en()).await.unwrap_err();
        assert!(matches!(err, Error::EngineMissing { .. }), "{err}");
        assert!(err.to_string().contains("/nonexistent/espeak-ng"), "{err}");
    }

    #[tokio::test]
    async fn unknown_voice_reports_espeak_message() {
        let tts = EspeakTts::new(EspeakConfig::default());
        let err = tts
            .synthesize("hello", &Voice::new("xx-nosuch"))
            .await
            .unwrap_err();
        match err {
            Error::EngineFailed { detail, .. } => assert!(detail.contains("voice"), "{detail}"),
            other => panic!("{other}"),
        }
    }

    #[tokio::test]
    async fn bad_input_is_refused_before_running() {
        let tts = EspeakTts::new(EspeakConfig {
            max_text_chars: 10,
            ..EspeakConfig::default()
        });
        for text in ["", "   ", "this is far too long", "a\0b"] {
            let err = tts.synthesize(text, &Voice::en()).await.unwrap_err();
            assert!(matches!(err, Error::InvalidText(_)), "{text:?}: {err}");
        }
        let err = tts.synthesize("hi", &Voice::new("-x")).await.unwrap_err();
        assert!(matches!(err, Error::InvalidVoice(_)));
    }

    #[tokio::test]
    async fn slow_engine_times_out() {
        // A script that never answers stands in for a hung engine.
        let dir = std::env::temp_dir().join(format!("dialect-speech-slow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("espeak-ng");
        std::fs::write(&script, "#!/bin/sh\nexec sleep 30\n").unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        let tts = EspeakTts::new(EspeakConfig {
            program: script,
            timeout: Duration::from_millis(300),
            ..EspeakConfig::default()
        });
        let err = tts.synthesize("hello", &Voice::en()).await.unwrap_err();
        assert!(matches!(err, Error::Timeout { .. }), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
