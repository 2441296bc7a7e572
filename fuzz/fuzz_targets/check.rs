//! Fuzz target: any bytes through the parser and the checker must never panic,
//! and every diagnostic must point inside the file.
//! Run: `cargo fuzz run -s none check ../flows/hotline` (seeds: the reference flows).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let checked = dialect_lang::check_text("fuzz.flow", data);
    let len = checked.project.sources.files()[0].text.len() as u32;
    for d in &checked.diagnostics {
        assert!(d.span.start <= d.span.end && d.span.end <= len);
    }
});
