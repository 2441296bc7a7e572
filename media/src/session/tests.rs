//! Sessions on loopback: real sockets, real time (bounded by timeouts).

use super::*;
use crate::dtmf::{DtmfKey, KeySource, ToneGenerator};
use crate::prompt::tests_support::tempdir;

fn ports() -> PortAllocator {
    PortAllocator::new("127.0.0.1".parse().unwrap(), 31000..=38999)
}

fn remote(addr: SocketAddr, codec: Law, event_pt: Option<u8>) -> RemoteMedia {
    RemoteMedia {
        addr: Some(addr),
        codec,
        event_pt,
    }
}

/// Two sessions sending to each other.
fn pair(ports: &PortAllocator, codec: Law, event_pt: Option<u8>) -> (RtpSession, RtpSession) {
    let unknown = RemoteMedia {
        addr: None,
        codec,
        event_pt,
    };
    let a = RtpSession::start(ports, SessionConfig::new(unknown)).unwrap();
    let b = RtpSession::start(ports, SessionConfig::new(unknown)).unwrap();
    a.handle()
        .update_remote(remote(b.local_addr(), codec, event_pt));
    b.handle()
        .update_remote(remote(a.local_addr(), codec, event_pt));
    (a, b)
}

/// Events until `done` holds for what was collected, or the time limit.
async fn collect(
    s: &mut RtpSession,
    limit: Duration,
    done: impl Fn(&[MediaEvent]) -> bool,
) -> Vec<MediaEvent> {
    let mut out = Vec::new();
    let deadline = Instant::now() + limit;
    while !done(&out) {
        match tokio::time::timeout_at(deadline, s.next_event()).await {
            Ok(Some(e)) => out.push(e),
            Ok(None) | Err(_) => break,
        }
    }
    out
}

fn keys(events: &[MediaEvent]) -> Vec<(char, KeySource)> {
    events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Key(k) => Some((k.key.as_char(), k.source)),
            _ => None,
        })
        .collect()
}

/// A prompt: silence, then each key as an 80 ms tone with 80 ms gaps.
fn dtmf_prompt(digits: &str) -> Arc<Prompt> {
    let mut pcm = vec![0i16; 1600];
    for c in digits.chars() {
        let k = DtmfKey::from_char(c).unwrap();
        pcm.extend(ToneGenerator::new(k, -8.0, 640).to_vec());
        pcm.extend(std::iter::repeat_n(0, 640));
    }
    pcm.extend(std::iter::repeat_n(0, 1600));
    Arc::new(Prompt::from_pcm(&pcm, 8000))
}

fn tone_prompt(freq: f64, ms: usize) -> Arc<Prompt> {
    let pcm: Vec<i16> = (0..ms * 8)
        .map(|i| (8000.0 * (std::f64::consts::TAU * freq * i as f64 / 8000.0).sin()) as i16)
        .collect();
    Arc::new(Prompt::from_pcm(&pcm, 8000))
}

#[tokio::test]
async fn keys_arrive_in_band_and_by_rfc4733() {
    let ports = ports();
    let (mut a, mut b) = pair(&ports, Law::Ulaw, Some(101));
    let id = a.handle().play(dtmf_prompt("159"), PlayOptions::default());
    let got = collect(&mut b, Duration::from_secs(5), |e| keys(e).len() >= 3).await;
    assert_eq!(
        keys(&got),
        [
            ('1', KeySource::Inband),
            ('5', KeySource::Inband),
            ('9', KeySource::Inband)
        ]
    );
    let done = collect(&mut a, Duration::from_secs(3), |e| !e.is_empty()).await;
    assert_eq!(
        done,
        [MediaEvent::PlaybackFinished {
            id,
            interrupted: false
        }]
    );
    a.handle().send_digits("159", Duration::from_millis(100));
    let got = collect(&mut b, Duration::from_secs(5), |e| keys(e).len() >= 3).await;
    assert_eq!(
        keys(&got),
        [
            ('1', KeySource::Rfc4733),
            ('5', KeySource::Rfc4733),
            ('9', KeySource::Rfc4733)
        ]
    );
    for e in &got {
        if let MediaEvent::Key(k) = e {
            assert_eq!(k.duration, Duration::from_millis(100));
        }
    }
}

#[tokio::test]
async fn digits_fall_back_to_in_band_without_telephone_event() {
    let ports = ports();
    let (a, mut b) = pair(&ports, Law::Alaw, None);
    a.handle().send_digits("2#8", Duration::from_millis(80));
    let got = collect(&mut b, Duration::from_secs(5), |e| keys(e).len() >= 3).await;
    assert_eq!(
        keys(&got),
        [
            ('2', KeySource::Inband),
            ('#', KeySource::Inband),
            ('8', KeySource::Inband)
        ]
    );
}

#[tokio::test]
async fn a_key_barges_in() {
    let ports = ports();
    let (a, mut b) = pair(&ports, Law::Ulaw, Some(101));
    let long1 = b
        .handle()
        .play(tone_prompt(440.0, 4000), PlayOptions { barge_in: true });
    let long2 = b
        .handle()
        .play(tone_prompt(440.0, 4000), PlayOptions { barge_in: true });
    let keep = b
        .handle()
        .play(tone_prompt(600.0, 300), PlayOptions { barge_in: false });
    tokio::time::sleep(Duration::from_millis(300)).await;
    a.handle()
        .send_dtmf(DtmfKey::Key5, Duration::from_millis(100));
    let started = Instant::now();
    let got = collect(&mut b, Duration::from_secs(3), |e| e.len() >= 4).await;
    // The first event packet stops both barge-in prompts; the key is
    // reported at its end; the prompt without barge-in then plays out.
    assert_eq!(
        got,
        [
            MediaEvent::PlaybackFinished {
                id: long1,
                interrupted: true
            },
            MediaEvent::PlaybackFinished {
                id: long2,
                interrupted: true
            },
            got[2].clone(),
            MediaEvent::PlaybackFinished {
                id: keep,
                interrupted: false
            },
        ]
    );
    assert_eq!(keys(&got[2..3]), [('5', KeySource::Rfc4733)]);
    assert!(started.elapsed() < Duration::from_secs(3));
}

fn read_wav(path: &std::path::Path) -> Vec<i16> {
    let r = hound::WavReader::open(path).unwrap();
    let spec = r.spec();
    assert_eq!(
        (spec.channels, spec.sample_rate, spec.bits_per_sample),
        (1, 8000, 16)
    );
    r.into_samples().map(|s| s.unwrap()).collect()
}

fn rms(x: &[i16]) -> f64 {
    (x.iter().map(|&v| (v as f64).powi(2)).sum::<f64>() / x.len().max(1) as f64).sqrt()
}

#[tokio::test]
async fn recording_limits_silence_and_end_key() {
    let ports = ports();
    let dir = tempdir();
    let (a, mut b) = pair(&ports, Law::Ulaw, Some(101));
    a.handle()
        .play(tone_prompt(500.0, 3000), PlayOptions::default());
    // 1. Duration limit: exactly 600 ms of the caller's tone.
    let path = dir.join("limit.wav");
    let mut opts = RecordOptions::new(&path);
    opts.limits.max_duration = Duration::from_millis(600);
    b.handle().record(opts).unwrap();
    let got = collect(&mut b, Duration::from_secs(3), |e| !e.is_empty()).await;
    assert_eq!(
        got,
        [MediaEvent::RecordingFinished {
            path: path.clone(),
            duration: Duration::from_millis(600),
            reason: RecordStop::MaxDuration
        }]
    );
    let samples = read_wav(&path);
    assert_eq!(samples.len(), 4800);
    assert!(
        rms(&samples[1600..]) > 3000.0,
        "the caller's tone is in the file"
    );
    // 2. Silence: the caller stops talking.
    a.handle().stop_playback();
    let path = dir.join("silence.wav");
    let mut opts = RecordOptions::new(&path);
    opts.silence_timeout = Some(Duration::from_millis(400));
    b.handle().record(opts).unwrap();
    let got = collect(&mut b, Duration::from_secs(3), |e| !e.is_empty()).await;
    match &got[..] {
        [
            MediaEvent::RecordingFinished {
                reason: RecordStop::Silence,
                duration,
                ..
            },
        ] => {
            assert!(*duration >= Duration::from_millis(400) && *duration < Duration::from_secs(1));
        }
        other => panic!("{other:?}"),
    }
    // 3. An end key: reported as the reason, not as a key.
    let path = dir.join("key.wav");
    let mut opts = RecordOptions::new(&path);
    opts.end_keys = KeySet::parse("#*");
    b.handle().record(opts).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    a.handle()
        .send_dtmf(DtmfKey::Pound, Duration::from_millis(100));
    let got = collect(&mut b, Duration::from_secs(3), |e| !e.is_empty()).await;
    match &got[..] {
        [
            MediaEvent::RecordingFinished {
                reason: RecordStop::Key(DtmfKey::Pound),
                path: p,
                ..
            },
        ] => {
            assert_eq!(p, &path)
        }
        other => panic!("{other:?}"),
    }
    // 4. Stopped by the call, and a recording in progress at hang-up.
    let path = dir.join("stop.wav");
    b.handle().record(RecordOptions::new(&path)).unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.handle().stop_recording();
    let got = collect(&mut b, Duration::from_secs(3), |e| !e.is_empty()).await;
    assert!(matches!(
        &got[..],
        [MediaEvent::RecordingFinished {
            reason: RecordStop::Stopped,
            ..
        }]
    ));
    let path = dir.join("hangup.wav");
    b.handle().record(RecordOptions::new(&path)).unwrap();
    b.handle().close();
    let got = collect(&mut b, Duration::from_secs(3), |_| false).await;
    assert!(matches!(
        &got[..],
        [MediaEvent::RecordingFinished {
            reason: RecordStop::HangUp,
            ..
        }]
    ));
    assert!(read_wav(&path).len() < 8000);
    drop(a);
}

#[tokio::test]
async fn bridge_passes_audio_from_a_to_c_through_b_and_records_both_sides() {
    let ports = ports();
    // A <-> B1 on PCMU; B2 <-> C on PCMA; B1 and B2 bridged (transcoding).
    let (mut a, b1) = pair(&ports, Law::Ulaw, None);
    let (b2, mut c) = pair(&ports, Law::Alaw, None);
    let dir = tempdir();
    let path = dir.join("bridge.wav");
    let mut opts = RecordOptions::new(&path);
    opts.mode = RecordMode::Both;
    b1.handle().record(opts).unwrap();
    let bridge = bridge(b1.handle(), b2.handle());
    a.handle().play(dtmf_prompt("7"), PlayOptions::default());
    let at_c = collect(&mut c, Duration::from_secs(5), |e| !keys(e).is_empty()).await;
    assert_eq!(keys(&at_c), [('7', KeySource::Inband)]);
    c.handle().play(dtmf_prompt("3"), PlayOptions::default());
    let at_a = collect(&mut a, Duration::from_secs(5), |e| !keys(e).is_empty()).await;
    assert_eq!(keys(&at_a), [('3', KeySource::Inband)]);
    // The whole-call recording on B1 holds both digits.
    b1.handle().stop_recording();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let recorded = read_wav(&path);
    let found: String = crate::dtmf::detect(&recorded, 8000)
        .iter()
        .map(|d| d.key.as_char())
        .collect();
    assert_eq!(found, "73", "the recording holds both directions in order");
    // Unbridged: C no longer hears A.
    drop(bridge);
    tokio::time::sleep(Duration::from_millis(100)).await;
    a.handle().play(dtmf_prompt("1"), PlayOptions::default());
    let at_c = collect(&mut c, Duration::from_millis(1500), |e| !keys(e).is_empty()).await;
    assert!(keys(&at_c).is_empty(), "{at_c:?}");
}

#[tokio::test]
async fn supervisor_listens_and_whispers() {
    let ports = ports();
    let (a, b1) = pair(&ports, Law::Ulaw, None);
    let (b2, mut agent) = pair(&ports, Law::Ulaw, None);
    let (sup_leg, mut supervisor) = pair(&ports, Law::Ulaw, None);
    let _bridge = bridge(b1.handle(), b2.handle());
    // The supervisor's leg hears the caller (A) and the agent.
    let _listen = listen(sup_leg.handle(), b1.handle(), b2.handle());
    let _whisper = whisper(sup_leg.handle(), b2.handle());
    a.handle().play(dtmf_prompt("4"), PlayOptions::default());
    let heard = collect(&mut supervisor, Duration::from_secs(5), |e| {
        !keys(e).is_empty()
    })
    .await;
    assert_eq!(keys(&heard), [('4', KeySource::Inband)]);
    // The supervisor speaks: the agent hears it (the caller does not, by construction).
    let _ = collect(&mut agent, Duration::from_millis(300), |_| false).await;
    supervisor
        .handle()
        .play(dtmf_prompt("6"), PlayOptions::default());
    let at_agent = collect(&mut agent, Duration::from_secs(5), |e| {
        keys(e).contains(&('6', KeySource::Inband))
    })
    .await;
    assert!(
        keys(&at_agent).contains(&('6', KeySource::Inband)),
        "{at_agent:?}"
    );
}

#[tokio::test]
async fn packets_hold_resume_silence_and_close() {
    let ports = ports();
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut config = SessionConfig::new(remote(peer.local_addr().unwrap(), Law::Ulaw, Some(101)));
    config.remote_silence = Some(Duration::from_millis(300));
    let mut s = RtpSession::start(&ports, config).unwrap();
    assert_eq!(s.local_addr().port() % 2, 0);
    s.handle().start_moh(tone_prompt(300.0, 50));
    let mut buf = [0u8; 1500];
    let mut headers = Vec::new();
    for _ in 0..20 {
        let (n, from) = tokio::time::timeout(Duration::from_secs(1), peer.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(from, s.local_addr());
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        assert_eq!((p.payload_type, p.payload.len()), (0, 160));
        assert!(
            p.payload.iter().any(|&b| b != 0xFF),
            "music on hold is playing"
        );
        headers.push((p.marker, p.sequence, p.timestamp, p.ssrc));
    }
    assert!(headers[0].0 && headers[1..].iter().all(|h| !h.0));
    for w in headers.windows(2) {
        assert_eq!(w[1].1, w[0].1.wrapping_add(1));
        assert_eq!(w[1].2, w[0].2.wrapping_add(160));
        assert_eq!(w[1].3, w[0].3);
    }
    // No RTP from the peer: reported once.
    let got = collect(&mut s, Duration::from_secs(2), |e| !e.is_empty()).await;
    assert!(
        matches!(&got[..], [MediaEvent::RemoteSilent { silent_for }] if *silent_for >= Duration::from_millis(300))
    );
    // Hold: nothing is sent.
    s.handle().hold();
    tokio::time::sleep(Duration::from_millis(60)).await;
    let mut last = *headers.last().unwrap();
    while let Ok((n, _)) = peer.try_recv_from(&mut buf) {
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        last = (p.marker, p.sequence, p.timestamp, p.ssrc);
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(200), peer.recv_from(&mut buf))
            .await
            .is_err()
    );
    // Resume: packets again, a new talkspurt, timestamps moved on with time.
    s.handle().resume();
    let (n, _) = tokio::time::timeout(Duration::from_secs(1), peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    assert!(p.marker);
    // Nothing was sent while held (no sequence gap), but 200 ms of
    // timestamps went by.
    assert_eq!(p.sequence, last.1.wrapping_add(1));
    assert!(p.timestamp.wrapping_sub(last.2) >= 160 * 10);
    // Close: the port goes back to the allocator.
    assert_eq!(ports.in_use(), 1);
    s.handle().close();
    let rest = collect(&mut s, Duration::from_secs(2), |_| false).await;
    assert!(rest.is_empty());
    assert_eq!(ports.in_use(), 0);
}

#[tokio::test]
async fn latches_onto_the_first_source_and_ignores_others() {
    let ports = ports();
    let unknown = RemoteMedia {
        addr: None,
        codec: Law::Ulaw,
        event_pt: Some(101),
    };
    let mut s = RtpSession::start(&ports, SessionConfig::new(unknown)).unwrap();
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut stream = RtpStream::new(1, 1, 1);
    let mut buf = [0u8; 200];
    // One RFC 4733 key from the peer teaches the session where to send.
    for p in EventSender::new(DtmfKey::Key8, 480, 10, 1000, 160) {
        let h = stream.next_at(101, p.marker, p.timestamp);
        let n = h.write_packet(&p.payload.to_bytes(), &mut buf).unwrap();
        peer.send_to(&buf[..n], s.local_addr()).await.unwrap();
    }
    let got = collect(&mut s, Duration::from_secs(2), |e| !e.is_empty()).await;
    assert_eq!(keys(&got), [('8', KeySource::Rfc4733)]);
    let (n, _) = tokio::time::timeout(Duration::from_secs(1), peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(RtpPacket::parse(&buf[..n]).unwrap().payload_type, 0);
    // Garbage and packets from another address are ignored.
    peer.send_to(b"not rtp", s.local_addr()).await.unwrap();
    let other = tokio::net::UdpSocket::bind("127.0.0.2:0").await;
    if let Ok(other) = other {
        for p in EventSender::new(DtmfKey::Key9, 480, 10, 9000, 160) {
            let h = stream.next_at(101, p.marker, p.timestamp);
            let n = h.write_packet(&p.payload.to_bytes(), &mut buf).unwrap();
            other.send_to(&buf[..n], s.local_addr()).await.unwrap();
        }
    }
    let got = collect(&mut s, Duration::from_millis(500), |e| !e.is_empty()).await;
    assert!(keys(&got).is_empty(), "{got:?}");
}

#[tokio::test]
async fn latches_onto_a_peer_behind_nat() {
    let ports = ports();
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // The SDP names an address nobody sends from (a private address behind NAT).
    let advertised: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let mut s = RtpSession::start(
        &ports,
        SessionConfig::new(remote(advertised, Law::Ulaw, Some(101))),
    )
    .unwrap();
    let mut stream = RtpStream::new(5, 1, 1);
    let mut buf = [0u8; 200];
    for p in EventSender::new(DtmfKey::Key3, 480, 10, 1000, 160) {
        let h = stream.next_at(101, p.marker, p.timestamp);
        let n = h.write_packet(&p.payload.to_bytes(), &mut buf).unwrap();
        peer.send_to(&buf[..n], s.local_addr()).await.unwrap();
    }
    let got = collect(&mut s, Duration::from_secs(2), |e| !e.is_empty()).await;
    assert_eq!(keys(&got), [('3', KeySource::Rfc4733)]);
    // Audio now goes to where the packets came from.
    let (n, _) = tokio::time::timeout(Duration::from_secs(1), peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(RtpPacket::parse(&buf[..n]).unwrap().payload_type, 0);
    // Without latching, the same packets are dropped (other port, same host: accepted).
    let mut config =
        SessionConfig::new(remote("127.0.0.2:9".parse().unwrap(), Law::Ulaw, Some(101)));
    config.latch_remote = false;
    let mut strict = RtpSession::start(&ports, config).unwrap();
    for p in EventSender::new(DtmfKey::Key4, 480, 10, 5000, 160) {
        let h = stream.next_at(101, p.marker, p.timestamp);
        let n = h.write_packet(&p.payload.to_bytes(), &mut buf).unwrap();
        peer.send_to(&buf[..n], strict.local_addr()).await.unwrap();
    }
    let got = collect(&mut strict, Duration::from_millis(500), |e| !e.is_empty()).await;
    assert!(keys(&got).is_empty(), "{got:?}");
}

#[tokio::test]
async fn queue_order_moh_and_codec_change() {
    let ports = ports();
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut s = RtpSession::start(
        &ports,
        SessionConfig::new(remote(peer.local_addr().unwrap(), Law::Ulaw, None)),
    )
    .unwrap();
    // Music first; two prompts interrupt it and play in order; music resumes.
    let moh = tone_prompt(300.0, 1000);
    s.handle().start_moh(moh.clone());
    let p1 = s
        .handle()
        .play(tone_prompt(1000.0, 100), PlayOptions::default());
    let p2 = s
        .handle()
        .play(tone_prompt(2000.0, 100), PlayOptions::default());
    let got = collect(&mut s, Duration::from_secs(3), |e| e.len() >= 2).await;
    assert_eq!(
        got,
        [
            MediaEvent::PlaybackFinished {
                id: p1,
                interrupted: false
            },
            MediaEvent::PlaybackFinished {
                id: p2,
                interrupted: false
            }
        ]
    );
    // What goes out now is the music (μ-law), then after the re-INVITE the
    // same music in A-law with the new payload type.
    // The packet carrying p2's last samples is sent by the media clock right
    // after the event: let it arrive, then skip everything up to now.
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut buf = [0u8; 1500];
    while peer.try_recv_from(&mut buf).is_ok() {}
    let (n, _) = tokio::time::timeout(Duration::from_secs(1), peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    assert_eq!(p.payload_type, 0);
    assert!(
        moh.ulaw.windows(160).any(|w| w == p.payload),
        "a frame of the music"
    );
    s.handle()
        .update_remote(remote(peer.local_addr().unwrap(), Law::Alaw, None));
    let mut seen_alaw = false;
    for _ in 0..20 {
        let (n, _) = tokio::time::timeout(Duration::from_secs(1), peer.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        let p = RtpPacket::parse(&buf[..n]).unwrap();
        if p.payload_type == 8 {
            assert!(
                moh.alaw.windows(160).any(|w| w == p.payload),
                "a frame of the music in A-law"
            );
            seen_alaw = true;
            break;
        }
    }
    assert!(seen_alaw);
    // stop_playback empties the queue; stop_moh leaves silence.
    let p3 = s
        .handle()
        .play(tone_prompt(1000.0, 5000), PlayOptions::default());
    let p4 = s
        .handle()
        .play(tone_prompt(1000.0, 5000), PlayOptions::default());
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.handle().stop_playback();
    s.handle().stop_moh();
    let got = collect(&mut s, Duration::from_secs(2), |e| e.len() >= 2).await;
    assert_eq!(
        got,
        [
            MediaEvent::PlaybackFinished {
                id: p3,
                interrupted: true
            },
            MediaEvent::PlaybackFinished {
                id: p4,
                interrupted: true
            }
        ]
    );
    tokio::time::sleep(Duration::from_millis(60)).await;
    while peer.try_recv_from(&mut buf).is_ok() {}
    let (n, _) = tokio::time::timeout(Duration::from_secs(1), peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    assert!(
        p.payload.iter().all(|&b| b == Law::Alaw.silence()),
        "silence after stop"
    );
}
