//! Load test of the media plane: N pairs of sessions on loopback, each
//! sending a prompt to the other (2 × N sessions with audio both ways,
//! in-band DTMF detection on), on a tokio runtime with W worker threads.
//! Reports how late the 20 ms ticks ran and the CPU used.
//!
//! `cargo run --release -p dialect-media --example media_load -- [pairs=1000] [seconds=20] [workers=2]`

#![allow(clippy::unwrap_used)] // a measurement tool with fixed inputs

use std::sync::Arc;
use std::time::{Duration, Instant};

use dialect_media::g711::Law;
use dialect_media::*;

fn cpu_seconds() -> f64 {
    // utime and stime (fields 14 and 15) in clock ticks of 1/100 s.
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pairs: usize = args.get(1).and_then(|v| v.parse().ok()).unwrap_or(1000);
    let seconds: u64 = args.get(2).and_then(|v| v.parse().ok()).unwrap_or(20);
    let workers: usize = args.get(3).and_then(|v| v.parse().ok()).unwrap_or(2);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(run(pairs, seconds, workers));
}

async fn run(pairs: usize, seconds: u64, workers: usize) {
    let ports = PortAllocator::new("127.0.0.1".parse().unwrap(), 20000..=29999);
    let pcm: Vec<i16> = (0..8000 * 30)
        .map(|i| (4000.0 * (i as f64 * 0.071).sin() + 2500.0 * (i as f64 * 0.23).sin()) as i16)
        .collect();
    let prompt = Arc::new(Prompt::from_pcm(&pcm, 8000));
    let unknown = RemoteMedia {
        addr: None,
        codec: Law::Alaw,
        event_pt: Some(101),
        srtp: None,
    };
    // The pairs call each other: each far end's signalling is confirmed.
    let config = || {
        let mut c = SessionConfig::new(unknown);
        c.confirmed_ip = Some("127.0.0.1".parse().unwrap());
        c
    };
    let mut sessions = Vec::with_capacity(pairs * 2);
    // Calls start at random moments; spread the pairs over one 20 ms period.
    let spread = Duration::from_micros(20_000 / pairs.max(1) as u64);
    for _ in 0..pairs {
        let a = match RtpSession::start(&ports, config()) {
            Ok(s) => s,
            Err(e) => {
                eprintln!(
                    "stopping at {} sessions: {e} (raise `ulimit -n`?)",
                    sessions.len()
                );
                break;
            }
        };
        let Ok(b) = RtpSession::start(&ports, config()) else {
            break;
        };
        let remote = |s: &RtpSession| RemoteMedia {
            addr: Some(s.local_addr()),
            ..unknown
        };
        a.handle().update_remote(remote(&b));
        b.handle().update_remote(remote(&a));
        a.handle().start_moh(prompt.clone());
        b.handle().start_moh(prompt.clone());
        sessions.push(a);
        sessions.push(b);
        tokio::time::sleep(spread).await;
    }
    let n = sessions.len();
    println!(
        "{n} sessions ({} pairs) on {workers} worker threads, {seconds} s",
        n / 2
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let sum = |sessions: &[RtpSession]| {
        sessions.iter().fold(SessionStats::default(), |mut t, s| {
            let x = s.handle().stats();
            t.ticks += x.ticks;
            t.off_time_ticks += x.off_time_ticks;
            t.skipped_ticks += x.skipped_ticks;
            t.max_late_us = t.max_late_us.max(x.max_late_us);
            t.packets_sent += x.packets_sent;
            t.packets_received += x.packets_received;
            t
        })
    };
    let s0 = sum(&sessions);
    let cpu0 = cpu_seconds();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let wall = t0.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu0;
    let s1 = sum(&sessions);
    let ticks = s1.ticks - s0.ticks;
    let late = s1.off_time_ticks - s0.off_time_ticks;
    println!("ticks:            {ticks} ({:.0}/s)", ticks as f64 / wall);
    println!(
        "late > 2 ms:      {late} ({:.4} %)",
        100.0 * late as f64 / ticks.max(1) as f64
    );
    println!("skipped:          {}", s1.skipped_ticks - s0.skipped_ticks);
    println!(
        "max lateness:     {:.2} ms (whole run, start-up included)",
        s1.max_late_us as f64 / 1000.0
    );
    println!(
        "packets sent:     {:.0}/s",
        (s1.packets_sent - s0.packets_sent) as f64 / wall
    );
    println!(
        "packets received: {:.0}/s",
        (s1.packets_received - s0.packets_received) as f64 / wall
    );
    println!(
        "CPU:              {:.2} cores ({:.1} µs per packet sent+received, kernel UDP included)",
        cpu / wall,
        cpu * 1e6
            / ((s1.packets_sent - s0.packets_sent) + (s1.packets_received - s0.packets_received))
                .max(1) as f64
    );
}
