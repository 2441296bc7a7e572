//! Offer/answer tables, round trips, hold, and garbage that must not panic.

use super::*;

fn local() -> LocalMedia {
    LocalMedia {
        session_id: 42,
        ..LocalMedia::g711("127.0.0.1".parse().unwrap(), 40000)
    }
}

fn offer_with(formats: &str, extra: &str) -> SessionDescription {
    let text = format!(
        "v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 5004 RTP/AVP {formats}\r\n{extra}"
    );
    SessionDescription::parse(text.as_bytes()).unwrap()
}

#[test]
fn negotiation_table() {
    struct Case {
        formats: &'static str,
        extra: &'static str,
        expect: Result<(Codec, u8, Option<u8>), NegotiationError>,
    }
    let te101 = "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\n";
    let te96 = "a=rtpmap:96 telephone-event/8000\r\n";
    let cases = [
        Case {
            formats: "0",
            extra: "",
            expect: Ok((Codec::Pcmu, 0, None)),
        },
        Case {
            formats: "8",
            extra: "",
            expect: Ok((Codec::Pcma, 8, None)),
        },
        Case {
            formats: "0 8",
            extra: "",
            expect: Ok((Codec::Pcmu, 0, None)),
        },
        Case {
            formats: "8 0",
            extra: "",
            expect: Ok((Codec::Pcma, 8, None)),
        },
        Case {
            formats: "18 8 0",
            extra: "",
            expect: Ok((Codec::Pcma, 8, None)),
        },
        Case {
            formats: "0 101",
            extra: te101,
            expect: Ok((Codec::Pcmu, 0, Some(101))),
        },
        Case {
            formats: "8 96",
            extra: te96,
            expect: Ok((Codec::Pcma, 8, Some(96))),
        },
        Case {
            formats: "97",
            extra: "a=rtpmap:97 PCMA/8000\r\n",
            expect: Ok((Codec::Pcma, 97, None)),
        },
        Case {
            formats: "18 9",
            extra: "",
            expect: Err(NegotiationError::NoCommonCodec),
        },
        Case {
            formats: "101",
            extra: te101,
            expect: Err(NegotiationError::NoCommonCodec),
        },
        Case {
            formats: "96",
            extra: "a=rtpmap:96 opus/48000/2\r\n",
            expect: Err(NegotiationError::NoCommonCodec),
        },
    ];
    for c in cases {
        let got = answer(&offer_with(c.formats, c.extra), &local())
            .map(|(_, n)| (n.codec, n.payload_type, n.telephone_event));
        assert_eq!(got, c.expect, "offer formats {}", c.formats);
    }
}

#[test]
fn answer_text_echoes_payload_types_and_round_trips() {
    let offer = offer_with(
        "8 0 96",
        "a=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-15\r\na=ptime:30\r\n",
    );
    let (sdp, n) = answer(&offer, &local()).unwrap();
    assert_eq!(n.remote, Some("10.0.0.1:5004".parse().unwrap()));
    assert_eq!(n.ptime, Some(30));
    assert!(!n.hold);
    let text = sdp.to_string();
    assert!(text.contains("m=audio 40000 RTP/AVP 8 96\r\n"), "{text}");
    assert!(text.contains("a=rtpmap:96 telephone-event/8000\r\n"));
    assert!(text.contains("a=fmtp:96 0-15\r\n"));
    assert!(text.contains("a=sendrecv\r\n"));
    let back = SessionDescription::parse(text.as_bytes()).unwrap();
    assert_eq!(back, sdp);
    // The offerer reads our answer the same way.
    let read = read_answer(&back, &local()).unwrap();
    assert_eq!(
        (read.codec, read.payload_type, read.telephone_event),
        (Codec::Pcma, 8, Some(96))
    );
}

#[test]
fn hold_is_detected_both_ways() {
    let sendonly = offer_with("0", "a=sendonly\r\n");
    let (sdp, n) = answer(&sendonly, &local()).unwrap();
    assert!(n.hold);
    assert_eq!(n.direction, Direction::RecvOnly);
    assert!(sdp.to_string().contains("a=recvonly"));
    let inactive = offer_with("0", "a=inactive\r\n");
    assert_eq!(
        answer(&inactive, &local()).unwrap().1.direction,
        Direction::Inactive
    );
    let zero = SessionDescription::parse(
        b"v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n",
    )
    .unwrap();
    let n = answer(&zero, &local()).unwrap().1;
    assert!(n.hold);
    assert_eq!(n.remote, None);
    let resumed = offer_with("0", "a=sendrecv\r\n");
    assert!(!answer(&resumed, &local()).unwrap().1.hold);
}

#[test]
fn missing_or_disabled_audio_is_no_audio_and_other_streams_are_rejected() {
    let video_only = SessionDescription::parse(
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5006 RTP/AVP 96\r\n",
    )
    .unwrap();
    assert_eq!(
        answer(&video_only, &local()).unwrap_err(),
        NegotiationError::NoAudio
    );
    let both = SessionDescription::parse(
        b"v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nc=IN IP4 1.2.3.4\r\nt=0 0\r\nm=video 5006 RTP/AVP 96\r\nm=audio 5004 RTP/AVP 0\r\n",
    )
    .unwrap();
    let (sdp, _) = answer(&both, &local()).unwrap();
    assert_eq!(sdp.media.len(), 2);
    assert_eq!(sdp.media[0].port, 0);
    assert_eq!(sdp.media[1].port, 40000);
    let port0 = offer_with("0", "")
        .to_string()
        .replace("m=audio 5004", "m=audio 0");
    let port0 = SessionDescription::parse(port0.as_bytes()).unwrap();
    assert_eq!(
        answer(&port0, &local()).unwrap_err(),
        NegotiationError::NoAudio
    );
}

#[test]
fn offer_lists_our_codecs_and_garbage_is_an_error() {
    let text = offer(&local()).to_string();
    assert!(text.contains("m=audio 40000 RTP/AVP 0 8 101\r\n"), "{text}");
    assert!(text.starts_with("v=0\r\no=- 42 1 IN IP4 127.0.0.1\r\n"));
    for bad in [
        &b""[..],
        b"hello",
        b"v=1\r\n",
        b"v=0\r\no=x\r\n",
        b"v=0\r\nm=audio x RTP/AVP 0\r\n",
        &[0xff, 0xfe],
    ] {
        assert!(SessionDescription::parse(bad).is_err(), "{bad:?}");
    }
}

mod props {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(sdp) = SessionDescription::parse(&data) {
                let _ = answer(&sdp, &local());
                let _ = read_answer(&sdp, &local());
            }
        }

        #[test]
        fn sdp_like_lines_never_panic(lines in proptest::collection::vec(
            ("[vosctmab]", "[ -~]{0,40}"), 0..12)
        ) {
            let mut text = String::from("v=0\r\n");
            for (k, v) in lines {
                text.push_str(&format!("{k}={v}\r\n"));
            }
            if let Ok(sdp) = SessionDescription::parse(text.as_bytes())
                && let Ok((ans, _)) = answer(&sdp, &local()) {
                    prop_assert!(SessionDescription::parse(ans.to_string().as_bytes()).is_ok());
                }
        }
    }
}

/// An offer of `protocol` with RFC 4568-style key lines `crypto`.
fn srtp_offer(protocol: &str, crypto: &str) -> SessionDescription {
    let text = format!(
        "v=0\r\no=alice 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\n\
m=audio 5004 {protocol} 0 101\r\na=rtpmap:101 telephone-event/8000\r\n{crypto}"
    );
    SessionDescription::parse(text.as_bytes()).unwrap()
}

const KEY_LINE: &str = "a=crypto:3 AES_CM_128_HMAC_SHA1_32 inline:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\r\n\
a=crypto:4 AES_CM_128_HMAC_SHA1_80 inline:CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJ\r\n";

fn with_policy(srtp: SrtpPolicy) -> LocalMedia {
    LocalMedia { srtp, ..local() }
}

#[test]
fn an_srtp_offer_is_answered_with_our_key_under_its_tag_and_profile() {
    for profile in ["RTP/SAVP", "RTP/AVP"] {
        let local = with_policy(SrtpPolicy::Offer);
        let (sdp, n) = answer(&srtp_offer(profile, KEY_LINE), &local).unwrap();
        let keys = n.srtp.expect("SRTP negotiated");
        assert_eq!(keys.theirs, SdesKey([9; 30]));
        assert_eq!(keys.ours, local.sdes_key);
        let text = sdp.to_string();
        assert!(
            text.contains(&format!("m=audio 40000 {profile} 0 101\r\n")),
            "{text}"
        );
        let ours = Crypto::ours(4, local.sdes_key).to_string();
        assert!(text.contains(&format!("a=crypto:{ours}\r\n")), "{text}");
        assert_eq!(text.matches("a=crypto").count(), 1);
        // The offerer reads our answer back (as the offer's tag 4, not ours 1:
        // this only checks the text parses to the same description).
        assert_eq!(SessionDescription::parse(text.as_bytes()).unwrap(), sdp);
    }
}

#[test]
fn srtp_policies_decide_what_is_refused() {
    let plain = srtp_offer("RTP/AVP", "");
    let savp = srtp_offer("RTP/SAVP", KEY_LINE);
    let savp_unusable = srtp_offer(
        "RTP/SAVP",
        "a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcH\r\n",
    );
    let avp_keys = srtp_offer("RTP/AVP", KEY_LINE);
    use NegotiationError::{SrtpRequired, SrtpUnsupported};
    let cases = [
        (SrtpPolicy::Off, &plain, Ok(false)),
        (SrtpPolicy::Off, &avp_keys, Ok(false)),
        (SrtpPolicy::Off, &savp, Err(SrtpUnsupported)),
        (SrtpPolicy::Offer, &plain, Ok(false)),
        (SrtpPolicy::Offer, &savp_unusable, Err(SrtpUnsupported)),
        (SrtpPolicy::Require, &plain, Err(SrtpRequired)),
        (SrtpPolicy::Require, &savp_unusable, Err(SrtpRequired)),
        (SrtpPolicy::Require, &avp_keys, Ok(true)),
        (SrtpPolicy::Require, &savp, Ok(true)),
    ];
    for (policy, offer, want) in cases {
        let got = answer(offer, &with_policy(policy)).map(|(_, n)| n.srtp.is_some());
        assert_eq!(got, want, "{policy:?} {:?}", offer.media[0].protocol);
    }
}

#[test]
fn our_offers_and_the_answers_to_them() {
    let off = offer(&with_policy(SrtpPolicy::Off)).to_string();
    assert!(
        off.contains("RTP/AVP") && !off.contains("a=crypto"),
        "{off}"
    );
    let best_effort = with_policy(SrtpPolicy::Offer);
    let text = offer(&best_effort).to_string();
    assert!(text.contains("m=audio 40000 RTP/AVP 0 8 101\r\n"), "{text}");
    assert!(
        text.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:"),
        "{text}"
    );
    let required = with_policy(SrtpPolicy::Require);
    let text = offer(&required).to_string();
    assert!(
        text.contains("m=audio 40000 RTP/SAVP 0 8 101\r\n"),
        "{text}"
    );
    // The far end answers our offer with its own key under our tag...
    let far = LocalMedia {
        sdes_key: SdesKey([5; 30]),
        ..with_policy(SrtpPolicy::Offer)
    };
    let (ans, _) = answer(&offer(&best_effort), &far).unwrap();
    let n = read_answer(&ans, &best_effort).unwrap();
    assert_eq!(
        n.srtp,
        Some(SdesKeys {
            ours: best_effort.sdes_key,
            theirs: SdesKey([5; 30])
        })
    );
    // ...or without one: plain RTP when SRTP was only offered, refused when required.
    let plain_far = with_policy(SrtpPolicy::Off);
    let (ans, _) = answer(&offer(&best_effort), &plain_far).unwrap();
    assert_eq!(read_answer(&ans, &best_effort).unwrap().srtp, None);
    assert_eq!(
        read_answer(&ans, &required).unwrap_err(),
        NegotiationError::SrtpRequired
    );
}
