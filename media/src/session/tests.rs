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
        srtp: None,
    }
}

/// A session's settings for a far end on loopback whose signalling already
/// confirmed the call (as for a leg we call), so that it is sent to at once.
fn config(remote: RemoteMedia) -> SessionConfig {
    let mut c = SessionConfig::new(remote);
    c.confirmed_ip = Some("127.0.0.1".parse().unwrap());
    c
}

/// Two sessions sending to each other.
fn pair(ports: &PortAllocator, codec: Law, event_pt: Option<u8>) -> (RtpSession, RtpSession) {
    let unknown = RemoteMedia {
        addr: None,
        codec,
        event_pt,
        srtp: None,
    };
    let a = RtpSession::start(ports, config(unknown)).unwrap();
    let b = RtpSession::start(ports, config(unknown)).unwrap();
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
    let mut config = config(remote(peer.local_addr().unwrap(), Law::Ulaw, Some(101)));
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

/// Sends one RFC 4733 key press from `from` to `to` (`srtp`: protected).
async fn press(
    from: &tokio::net::UdpSocket,
    to: SocketAddr,
    stream: &mut RtpStream,
    key: DtmfKey,
    ts: u32,
    mut srtp: Option<&mut SrtpContext>,
) {
    let mut buf = [0u8; 200];
    for p in EventSender::new(key, 480, 10, ts, 160) {
        let h = stream.next_at(101, p.marker, p.timestamp);
        let mut n = h.write_packet(&p.payload.to_bytes(), &mut buf).unwrap();
        if let Some(ctx) = srtp.as_deref_mut() {
            n = ctx.protect(&mut buf, n).unwrap();
        }
        from.send_to(&buf[..n], to).await.unwrap();
    }
}

/// Datagrams waiting on `sock` within `wait`.
async fn received(sock: &tokio::net::UdpSocket, wait: Duration) -> usize {
    tokio::time::sleep(wait).await;
    let mut buf = [0u8; 1500];
    let mut n = 0;
    while sock.try_recv_from(&mut buf).is_ok() {
        n += 1;
    }
    n
}

#[tokio::test]
async fn a_source_the_sdp_did_not_name_is_not_latched_and_presses_no_keys() {
    let ports = ports();
    let caller = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let attacker = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut s = RtpSession::start(
        &ports,
        SessionConfig::new(remote(caller.local_addr().unwrap(), Law::Ulaw, Some(101))),
    )
    .unwrap();
    s.handle()
        .play(tone_prompt(1000.0, 2000), PlayOptions::default());
    // The attacker is first, on the right port.
    let mut stream = RtpStream::new(1, 1, 1);
    press(
        &attacker,
        s.local_addr(),
        &mut stream,
        DtmfKey::Key2,
        1000,
        None,
    )
    .await;
    let got = collect(&mut s, Duration::from_millis(600), |e| !e.is_empty()).await;
    assert!(keys(&got).is_empty(), "the attacker pressed a key: {got:?}");
    assert_eq!(
        received(&attacker, Duration::ZERO).await,
        0,
        "audio went to the attacker"
    );
    assert_eq!(
        received(&caller, Duration::ZERO).await,
        0,
        "sent before the caller proved itself"
    );
    assert!(s.handle().stats().packets_dropped >= 3);
    // The caller's own key counts, and its audio goes to the caller only.
    let mut stream = RtpStream::new(2, 1, 1);
    press(
        &caller,
        s.local_addr(),
        &mut stream,
        DtmfKey::Key8,
        5000,
        None,
    )
    .await;
    let got = collect(&mut s, Duration::from_secs(2), |e| !e.is_empty()).await;
    assert_eq!(keys(&got), [('8', KeySource::Rfc4733)]);
    assert!(received(&caller, Duration::from_millis(200)).await > 3);
    let mut stream = RtpStream::new(3, 1, 1);
    press(
        &attacker,
        s.local_addr(),
        &mut stream,
        DtmfKey::Key2,
        9000,
        None,
    )
    .await;
    let got = collect(&mut s, Duration::from_millis(500), |e| !e.is_empty()).await;
    assert!(keys(&got).is_empty(), "{got:?}");
    assert_eq!(received(&attacker, Duration::from_millis(100)).await, 0);
}

#[tokio::test]
async fn nothing_is_sent_until_the_far_end_proves_itself_and_prompts_wait_for_it() {
    let ports = ports();
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut s = RtpSession::start(
        &ports,
        SessionConfig::new(remote(peer.local_addr().unwrap(), Law::Ulaw, None)),
    )
    .unwrap();
    let prompt = tone_prompt(1000.0, 400);
    let id = s.handle().play(prompt.clone(), PlayOptions::default());
    assert_eq!(received(&peer, Duration::from_millis(300)).await, 0);
    // The ACK came from another host than the SDP's: still nothing.
    s.handle().confirm_peer("127.0.0.2".parse().unwrap());
    assert_eq!(received(&peer, Duration::from_millis(200)).await, 0);
    assert!(s.try_event().is_none(), "the prompt waited");
    // The ACK from the SDP's host: the prompt goes out from its start.
    s.handle().confirm_peer("127.0.0.1".parse().unwrap());
    let mut buf = [0u8; 1500];
    let (n, _) = tokio::time::timeout(Duration::from_secs(1), peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    let p = RtpPacket::parse(&buf[..n]).unwrap();
    assert_eq!(
        p.payload,
        &prompt.ulaw[..160],
        "the first frame of the prompt"
    );
    let got = collect(&mut s, Duration::from_secs(2), |e| !e.is_empty()).await;
    assert_eq!(
        got,
        [MediaEvent::PlaybackFinished {
            id,
            interrupted: false
        }]
    );
}

#[tokio::test]
async fn nat_mode_latches_the_signalled_host_on_any_port() {
    let ports = ports();
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // The SDP names an address nobody sends from (a private address behind
    // NAT); the signalling came from 127.0.0.1.
    let advertised: SocketAddr = "10.255.0.1:9".parse().unwrap();
    let mut nat = SessionConfig::new(remote(advertised, Law::Ulaw, Some(101)));
    nat.latch = Latch::Nat;
    nat.signalled_ip = Some("127.0.0.1".parse().unwrap());
    let mut s = RtpSession::start(&ports, nat).unwrap();
    let mut stream = RtpStream::new(5, 1, 1);
    press(
        &peer,
        s.local_addr(),
        &mut stream,
        DtmfKey::Key3,
        1000,
        None,
    )
    .await;
    let got = collect(&mut s, Duration::from_secs(2), |e| !e.is_empty()).await;
    assert_eq!(keys(&got), [('3', KeySource::Rfc4733)]);
    // Audio now goes to where the packets came from.
    assert!(received(&peer, Duration::from_millis(200)).await > 3);
    // Another source on the same host is not the latched one.
    let other = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    press(
        &other,
        s.local_addr(),
        &mut stream,
        DtmfKey::Key4,
        3000,
        None,
    )
    .await;
    let got = collect(&mut s, Duration::from_millis(500), |e| !e.is_empty()).await;
    assert!(keys(&got).is_empty(), "{got:?}");
    // In strict mode the same packets are dropped: not the SDP's address.
    let mut strict = RtpSession::start(
        &ports,
        SessionConfig::new(remote(advertised, Law::Ulaw, Some(101))),
    )
    .unwrap();
    press(
        &peer,
        strict.local_addr(),
        &mut stream,
        DtmfKey::Key4,
        5000,
        None,
    )
    .await;
    let got = collect(&mut strict, Duration::from_millis(500), |e| !e.is_empty()).await;
    assert!(keys(&got).is_empty(), "{got:?}");
}

#[tokio::test]
async fn srtp_keys_are_used_both_ways_and_plain_injection_is_dropped() {
    use crate::srtp::{MasterKey, SrtpKeys};
    let ports = ports();
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let (ours, theirs) = (MasterKey::random(), MasterKey::random());
    let mut r = remote(peer.local_addr().unwrap(), Law::Ulaw, Some(101));
    r.srtp = Some(SrtpKeys {
        send: ours,
        receive: theirs,
    });
    let mut s = RtpSession::start(&ports, SessionConfig::new(r)).unwrap();
    let prompt = tone_prompt(700.0, 1000);
    s.handle().play(prompt.clone(), PlayOptions::default());
    // Plain RTP from the right address (a spoofed source) is refused.
    let mut stream = RtpStream::new(9, 1, 1);
    press(
        &peer,
        s.local_addr(),
        &mut stream,
        DtmfKey::Key1,
        1000,
        None,
    )
    .await;
    let got = collect(&mut s, Duration::from_millis(500), |e| !e.is_empty()).await;
    assert!(keys(&got).is_empty(), "{got:?}");
    assert_eq!(received(&peer, Duration::ZERO).await, 0);
    assert!(s.handle().stats().packets_dropped >= 3);
    // Protected with the far end's key: taken, and it proves the address.
    let mut tx = SrtpContext::new(&theirs);
    press(
        &peer,
        s.local_addr(),
        &mut stream,
        DtmfKey::Key5,
        3000,
        Some(&mut tx),
    )
    .await;
    let got = collect(&mut s, Duration::from_secs(2), |e| !e.is_empty()).await;
    assert_eq!(keys(&got), [('5', KeySource::Rfc4733)]);
    // What the session sends decrypts with our key into the prompt.
    let mut rx = SrtpContext::new(&ours);
    let mut buf = [0u8; 1500];
    let (n, _) = tokio::time::timeout(Duration::from_secs(1), peer.recv_from(&mut buf))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(n, 12 + 160 + crate::srtp::TAG_LEN);
    let len = rx.unprotect(&mut buf, n).unwrap();
    let p = RtpPacket::parse(&buf[..len]).unwrap();
    assert!(
        prompt.ulaw.windows(160).any(|w| w == p.payload),
        "a frame of the prompt"
    );
}

#[tokio::test]
async fn queue_order_moh_and_codec_change() {
    let ports = ports();
    let peer = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut s = RtpSession::start(
        &ports,
        config(remote(peer.local_addr().unwrap(), Law::Ulaw, None)),
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
