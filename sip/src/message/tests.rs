//! Tests of parsing at the edge, encoding and the response builders.

use super::*;

const INVITE: &str = "INVITE sip:bob@127.0.0.1 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bK776asdhds;rport\r\n\
Max-Forwards: 70\r\n\
To: Bob <sip:bob@127.0.0.1>\r\n\
From: Alice <sip:alice@10.0.0.1>;tag=1928301774\r\n\
Call-ID: a84b4c76e66710@pc33\r\n\
CSeq: 314159 INVITE\r\n\
Contact: <sip:alice@10.0.0.1>\r\n\
Content-Type: application/sdp\r\n\
Content-Length: 4\r\n\r\nv=0\n";

#[test]
fn parses_a_valid_invite() {
    let Inbound::Request(r) = parse(INVITE.as_bytes(), true).unwrap() else {
        panic!("not a request")
    };
    assert_eq!(r.method, Method::Invite);
    assert_eq!(cseq(&r.headers), Some((314159, Method::Invite)));
    assert_eq!(from_tag(&r.headers).as_deref(), Some("1928301774"));
    assert_eq!(to_tag(&r.headers), None);
    assert_eq!(r.body, b"v=0\n");
    let via = parse_via(&top_via(&r.headers).unwrap()).unwrap();
    assert_eq!(via.branch.as_deref(), Some("z9hG4bK776asdhds"));
    assert_eq!(via.rport, Some(None));
    assert_eq!(via.sent_by(), "10.0.0.1:5060");
}

#[test]
fn compact_forms_and_folding_are_understood() {
    let msg = "OPTIONS sip:x@127.0.0.1 SIP/2.0\r\n\
v: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa\r\n\
f: <sip:a@b>;tag=1\r\n\
t: <sip:x@127.0.0.1>\r\n\
i: abc\r\n\
Subject: one\r\n two\r\n\
CSeq: 1 OPTIONS\r\n\
l: 0\r\n\r\n";
    let Inbound::Request(r) = parse(msg.as_bytes(), true).unwrap() else {
        panic!()
    };
    assert_eq!(call_id(&r.headers).as_deref(), Some("abc"));
    assert_eq!(
        header_value(&r.headers, "Subject").as_deref(),
        Some("one two")
    );
}

#[test]
fn stamps_received_and_rport() {
    let Inbound::Request(mut r) = parse(INVITE.as_bytes(), true).unwrap() else {
        panic!()
    };
    stamp_received(&mut r, "192.0.2.7:40000".parse().unwrap());
    let via = parse_via(&top_via(&r.headers).unwrap()).unwrap();
    assert_eq!(via.received.as_deref(), Some("192.0.2.7"));
    assert_eq!(via.rport, Some(Some(40000)));
    assert_eq!(
        response_destination(&via),
        Some(("192.0.2.7".to_string(), 40000))
    );
}

#[test]
fn response_copies_dialog_headers_and_adds_a_tag() {
    let Inbound::Request(r) = parse(INVITE.as_bytes(), true).unwrap() else {
        panic!()
    };
    let resp = response_for(&r, 180, Some("xyz"));
    let bytes = encode_response(&resp);
    let Inbound::Response(back) = parse(&bytes, false).unwrap() else {
        panic!()
    };
    assert_eq!(back.status_code.code(), 180);
    assert_eq!(to_tag(&back.headers).as_deref(), Some("xyz"));
    assert_eq!(
        call_id(&back.headers).as_deref(),
        Some("a84b4c76e66710@pc33")
    );
    assert!(String::from_utf8_lossy(&bytes).starts_with("SIP/2.0 180 Ringing\r\n"));
}

#[test]
fn missing_call_id_gets_no_reply_but_bad_cseq_gets_400() {
    let no_callid = INVITE.replace("Call-ID: a84b4c76e66710@pc33\r\n", "");
    let m = parse(no_callid.as_bytes(), true).unwrap_err();
    assert!(m.reply.is_none(), "{m:?}");
    let bad_cseq = INVITE.replace("CSeq: 314159 INVITE", "CSeq: 314159 BYE");
    let m = parse(bad_cseq.as_bytes(), true).unwrap_err();
    let reply = String::from_utf8(m.reply.unwrap().to_vec()).unwrap();
    assert!(reply.starts_with("SIP/2.0 400 Bad Request\r\n"), "{reply}");
    assert!(
        reply.contains("Warning: 399 dialect \"the CSeq method"),
        "{reply}"
    );
    assert!(reply.contains(";tag="));
}

#[test]
fn unknown_method_gets_501() {
    let msg = INVITE
        .replace("INVITE sip:", "FROB sip:")
        .replace("314159 INVITE", "314159 FROB");
    let m = parse(msg.as_bytes(), true).unwrap_err();
    let reply = String::from_utf8(m.reply.unwrap().to_vec()).unwrap();
    assert!(reply.starts_with("SIP/2.0 501 "), "{reply}");
}

#[test]
fn datagram_body_is_cut_to_content_length_and_short_body_is_rejected() {
    let long = format!("{INVITE}extra");
    let Inbound::Request(r) = parse(long.as_bytes(), true).unwrap() else {
        panic!()
    };
    assert_eq!(r.body, b"v=0\n");
    let short = INVITE.replace("Content-Length: 4", "Content-Length: 40");
    assert!(parse(short.as_bytes(), true).unwrap_err().reply.is_some());
}

#[test]
fn list_splitting_respects_quotes_and_brackets() {
    assert_eq!(
        split_list("\"a, b\" <sip:x@y;a=1,2>;q=1, <sip:z@w>"),
        vec!["\"a, b\" <sip:x@y;a=1,2>;q=1", "<sip:z@w>"]
    );
    assert_eq!(
        uri_of("\"A\" <sip:a@b:5060>;tag=3").as_deref(),
        Some("sip:a@b:5060")
    );
    assert_eq!(uri_of("sip:a@b;tag=3").as_deref(), Some("sip:a@b"));
    assert_eq!(
        uri_host_port("sip:1001@10.0.0.1:5062;transport=tcp"),
        Some(("10.0.0.1".to_string(), Some(5062)))
    );
    assert_eq!(uri_user("sip:1001@h").as_deref(), Some("1001"));
    assert_eq!(
        param("<sip:a@b;lr>;expires=30", "expires"),
        Some(Some("30".into()))
    );
    assert_eq!(param("<sip:a@b;lr>", "lr"), None);
}

mod props {
    use super::*;
    use proptest::prelude::*;

    fn check_verdict(data: &[u8], datagram: bool) {
        match parse(data, datagram) {
            Ok(msg) => {
                // Whatever parsed must encode and parse again.
                let bytes = encode(&msg);
                assert!(
                    parse(&bytes, false).is_ok(),
                    "re-encoded message did not parse"
                );
            }
            Err(Malformed {
                reply: Some(reply), ..
            }) if reply.starts_with(b"SIP/2.0 501 ") => {}
            Err(Malformed {
                reply: Some(reply), ..
            }) => match parse(&reply, true) {
                Ok(Inbound::Response(r)) => assert_eq!(r.status_code.code(), 400),
                _ => {
                    // Only an extension method echoed in CSeq may stop rsip
                    // (its method set is closed); the reply is still valid SIP.
                    let text = String::from_utf8_lossy(&reply).to_string();
                    let method = text
                        .lines()
                        .find_map(|l| l.strip_prefix("CSeq: "))
                        .and_then(|c| c.split_whitespace().nth(1))
                        .unwrap_or("");
                    assert!(
                        method.parse::<Method>().is_err(),
                        "the 400 we built does not parse: {text}"
                    );
                }
            },
            Err(_) => {}
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn random_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..600)) {
            check_verdict(&data, true);
            check_verdict(&data, false);
        }

        #[test]
        fn mutated_invites_never_panic(
            edits in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8)
        ) {
            let mut data = INVITE.as_bytes().to_vec();
            for (at, byte, kind) in edits {
                if data.is_empty() { break; }
                let i = at.index(data.len());
                match kind {
                    0 => data[i] = byte,
                    1 => { data.remove(i); }
                    _ => data.insert(i, byte),
                }
            }
            check_verdict(&data, true);
        }

        #[test]
        fn truncated_invites_never_panic(cut in 0usize..400) {
            let data = INVITE.as_bytes();
            check_verdict(&data[..cut.min(data.len())], true);
        }
    }
}
