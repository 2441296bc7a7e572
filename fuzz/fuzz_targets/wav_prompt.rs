//! Prompt files: decoding arbitrary bytes as a WAV never panics; a decoded
//! prompt has all three encodings of the same length.
#![no_main]

use std::path::Path;

use dialect_media::prompt::Prompt;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() > 1 << 16 {
        return;
    }
    if let Ok(p) = Prompt::from_wav_bytes(data, Path::new("fuzz.wav")) {
        assert_eq!(p.pcm.len(), p.ulaw.len());
        assert_eq!(p.pcm.len(), p.alaw.len());
    }
});
