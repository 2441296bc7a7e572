//! Cost of the answering-machine detector per 20 ms frame (160 samples):
//! the fax tone Goertzel filters and the greeting analysis, on speech-like
//! audio and on a fax tone. Run with `cargo bench -p dialect-media --bench amd`.

#![allow(clippy::unwrap_used)] // a benchmark of fixed inputs

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use dialect_media::amd::{AmdConfig, AmdDetector};

fn speechlike(n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let syllable = 0.5 + 0.5 * (std::f64::consts::TAU * 4.0 * t).sin();
            (syllable
                * (6000.0 * (std::f64::consts::TAU * 180.0 * t).sin()
                    + 3000.0 * (std::f64::consts::TAU * 730.0 * t).sin())) as i16
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    // 100 frames (2 s): short of any decision with max words and the
    // greeting set high, so every push runs the whole analysis.
    let speech = speechlike(160 * 100);
    let never_decides = AmdConfig {
        greeting_ms: 60_000,
        max_words: 1000,
        max_word_ms: 60_000,
        total_analysis_ms: 60_000,
        ..AmdConfig::default()
    };
    c.bench_function("amd push 100 frames of speech (per frame: /100)", |b| {
        b.iter(|| {
            let mut det = AmdDetector::new(never_decides.clone());
            for frame in speech.chunks(160) {
                black_box(det.push(black_box(frame)));
            }
        })
    });
    let ced: Vec<i16> = (0..160 * 100)
        .map(|i| (8000.0 * (std::f64::consts::TAU * 2100.0 * i as f64 / 8000.0).sin()) as i16)
        .collect();
    c.bench_function("amd push 100 frames of 2100 Hz (per frame: /100)", |b| {
        b.iter(|| {
            let mut det = AmdDetector::new(AmdConfig::default());
            for frame in ced.chunks(160) {
                black_box(det.push(black_box(frame)));
            }
        })
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);
