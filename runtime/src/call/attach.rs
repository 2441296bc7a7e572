//! The recording a flow's `notify email … attach message` sends along: the
//! file `record` wrote, checked to be a finished WAV inside this server's
//! recordings folder before the outbox entry names it.
//!
//! A flow's recording variable is filled only once the media session reports
//! the recording finished (the WAV writer finalized: header and samples on
//! disk), so an e-mail queued after the `record` names a complete file. The
//! check here makes that a property of the attachment rather than of the
//! flow's order of statements: a variable filled from an order's field
//! (`o.recording` of a `lookup workorder`) may name any text, and a file still
//! being written has a header that counts no samples. Neither is attached.

use std::path::{Path, PathBuf};

/// Slack between the samples a WAV header counts and the file's length: the
/// header itself and any chunks before the data.
const HEADER_SLACK: u64 = 4096;

/// The file to attach for the recording `recording` (what `record` gave the
/// flow), or why there is none. The file must lie inside `folder` (the
/// server's recordings folder), and be a WAV whose header counts the samples
/// the file holds.
pub(crate) async fn finished_recording(folder: &Path, recording: &str) -> Result<PathBuf, String> {
    if recording.trim().is_empty() {
        return Err("the variable holds no recording".into());
    }
    let folder = tokio::fs::canonicalize(folder)
        .await
        .map_err(|e| format!("the recordings folder cannot be read: {e}"))?;
    let path = tokio::fs::canonicalize(recording)
        .await
        .map_err(|e| format!("the recording {recording} cannot be read: {e}"))?;
    if !path.starts_with(&folder) || path == folder {
        return Err(format!(
            "{recording} is not in the recordings folder {}",
            folder.display()
        ));
    }
    let checked = path.clone();
    tokio::task::spawn_blocking(move || complete_wav(&checked))
        .await
        .map_err(|e| format!("checking the recording failed: {e}"))??;
    Ok(path)
}

/// Whether `path` is a finished WAV file: readable, and its header counts
/// the samples that the file's length holds (a recording still being written
/// has a header that counts none).
fn complete_wav(path: &Path) -> Result<(), String> {
    let name = path.display();
    let file_len = std::fs::metadata(path)
        .map_err(|e| format!("the recording {name} cannot be read: {e}"))?
        .len();
    let reader =
        hound::WavReader::open(path).map_err(|e| format!("{name} is not a WAV file: {e}"))?;
    let spec = reader.spec();
    let bytes_per_frame = u64::from(spec.channels) * u64::from(spec.bits_per_sample).div_ceil(8);
    let data = u64::from(reader.duration()) * bytes_per_frame;
    if data > file_len || file_len - data > HEADER_SLACK {
        return Err(format!(
            "the recording {name} is not finished: its header counts {data} bytes of sound in a file of {file_len}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder() -> tempfile::TempDir {
        tempfile::tempdir().expect("a temporary folder")
    }

    /// A WAV of `samples`; unless `finalize`, sound follows that its header
    /// does not count yet, as while the recorder is still writing.
    fn write_wav(path: &Path, samples: usize, finalize: bool) {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::create(path, spec).expect("a WAV writer");
        for i in 0..samples {
            w.write_sample((i % 200) as i16).expect("a sample");
        }
        w.finalize().expect("finalized");
        if !finalize {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new()
                .append(true)
                .open(path)
                .expect("opened");
            f.write_all(&vec![0x11u8; samples * 2]).expect("appended");
        }
    }

    #[tokio::test]
    async fn a_finished_recording_in_the_folder_is_attached() {
        let dir = folder();
        let wav = dir.path().join("17-1-msg.wav");
        write_wav(&wav, 8000, true);
        let got = finished_recording(dir.path(), &wav.display().to_string())
            .await
            .expect("attached");
        assert_eq!(got.file_name(), wav.file_name());
    }

    #[tokio::test]
    async fn a_recording_still_being_written_is_not() {
        let dir = folder();
        let wav = dir.path().join("17-2-msg.wav");
        write_wav(&wav, 8000, false);
        let why = finished_recording(dir.path(), &wav.display().to_string())
            .await
            .expect_err("not finished");
        assert!(why.contains("not finished"), "{why}");
    }

    #[tokio::test]
    async fn files_outside_the_recordings_folder_and_empty_values_are_not() {
        let dir = folder();
        let elsewhere = folder();
        let wav = elsewhere.path().join("other.wav");
        write_wav(&wav, 800, true);
        let why = finished_recording(dir.path(), &wav.display().to_string())
            .await
            .expect_err("outside");
        assert!(why.contains("not in the recordings folder"), "{why}");
        let sneaky = format!("{}/../{}", dir.path().display(), wav.display());
        assert!(finished_recording(dir.path(), &sneaky).await.is_err());
        let why = finished_recording(dir.path(), "").await.expect_err("empty");
        assert!(why.contains("no recording"), "{why}");
        let text = dir.path().join("note.wav");
        std::fs::write(&text, "not a wav").expect("written");
        let why = finished_recording(dir.path(), &text.display().to_string())
            .await
            .expect_err("not a WAV");
        assert!(why.contains("not a WAV"), "{why}");
    }
}
