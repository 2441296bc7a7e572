//! The speech bridge's WAV reader (`POST /v1/asr` bodies, espeak-ng's
//! streaming output): any bytes give audio or an error, never a panic, and
//! what it reads can be resampled to 8 kHz and written back.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(audio) = dialect_speech::audio::decode_wav(data) {
        // Keep the resampling work bounded: a few seconds of audio.
        if audio.samples.len() <= 48_000 {
            let eight = audio.resampled(8000);
            let wav = eight.to_wav();
            let again = dialect_speech::audio::decode_wav(&wav).expect("own WAV reads back");
            assert_eq!(again, eight);
        }
    }
});
