//! The codec against PDUs written out byte by byte from the specification, and
//! against the broken input a network can send.

use super::*;

/// Bytes from hex with spaces (test data only).
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(|b| b.is_ascii_hexdigit()).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn submit(text: &[u8]) -> ShortMessage {
    ShortMessage {
        source_addr_ton: 5,
        source_addr_npi: 0,
        source_addr: "Hotline".into(),
        dest_addr_ton: 1,
        dest_addr_npi: 1,
        destination_addr: "8613800138000".into(),
        registered_delivery: 1,
        data_coding: 8,
        short_message: text.to_vec(),
        ..ShortMessage::default()
    }
}

#[test]
fn bind_transceiver_is_byte_exact() {
    let pdu = Pdu::request(
        1,
        Body::BindTransceiver(Bind {
            system_id: "dialect".into(),
            password: "secret".into(),
            interface_version: 0x34,
            ..Bind::default()
        }),
    );
    let bytes = pdu.encode().unwrap();
    assert_eq!(
        bytes,
        hex("00000024 00000009 00000000 00000001
             64 69 61 6c 65 63 74 00  73 65 63 72 65 74 00  00  34 00 00  00")
    );
    assert_eq!(decode(&bytes).unwrap(), pdu);
}

#[test]
fn enquire_link_and_unbind_are_headers_only() {
    let bytes = Pdu::request(7, Body::EnquireLink).encode().unwrap();
    assert_eq!(bytes, hex("00000010 00000015 00000000 00000007"));
    let resp = decode(&hex("00000010 80000015 00000000 00000007")).unwrap();
    assert_eq!(resp.body, Body::EnquireLinkResp);
    assert_eq!(resp.sequence, 7);
    assert_eq!(
        decode(&hex("00000010 00000006 00000000 00000003"))
            .unwrap()
            .body,
        Body::Unbind
    );
    assert_eq!(
        decode(&hex("00000010 80000000 00000003 00000009")).unwrap(),
        Pdu {
            sequence: 9,
            status: status::INVALID_CMD_ID,
            body: Body::GenericNack
        }
    );
}

#[test]
fn submit_sm_is_byte_exact() {
    let pdu = Pdu::request(2, Body::SubmitSm(submit(&[0x4F, 0x60, 0x59, 0x7D])));
    let bytes = pdu.encode().unwrap();
    assert_eq!(
        bytes,
        hex("00000039 00000004 00000000 00000002
             00
             05 00 48 6f 74 6c 69 6e 65 00
             01 01 38 36 31 33 38 30 30 31 33 38 30 30 30 00
             00 00 00
             00 00
             01 00 08 00
             04 4f 60 59 7d")
    );
    assert_eq!(decode(&bytes).unwrap(), pdu);
}

#[test]
fn submit_sm_resp_with_and_without_a_body() {
    let ok = decode(&hex("00000014 80000004 00000000 00000002 61626300")).unwrap();
    assert_eq!(
        ok.body,
        Body::SubmitSmResp {
            message_id: "abc".into()
        }
    );
    let refused = decode(&hex("00000010 80000004 0000000b 00000002")).unwrap();
    assert_eq!(refused.status, status::INVALID_DEST_ADDR);
    assert_eq!(
        refused.body,
        Body::SubmitSmResp {
            message_id: String::new()
        }
    );
    assert_eq!(
        Pdu {
            sequence: 2,
            status: 0,
            body: Body::SubmitSmResp {
                message_id: "abc".into()
            }
        }
        .encode()
        .unwrap(),
        hex("00000014 80000004 00000000 00000002 61626300")
    );
}

#[test]
fn bind_resp_with_an_interface_version_tlv() {
    let bytes = hex("0000001a 80000009 00000000 00000001 534d534300 0210 0001 34");
    let pdu = decode(&bytes).unwrap();
    assert_eq!(
        pdu.body,
        Body::BindTransceiverResp(BindResp {
            system_id: "SMSC".into(),
            tlvs: vec![Tlv {
                tag: tag::SC_INTERFACE_VERSION,
                value: vec![0x34]
            }],
        })
    );
    assert_eq!(pdu.encode().unwrap(), bytes);
    // A refusal without a body.
    let refused = decode(&hex("00000010 80000009 0000000e 00000001")).unwrap();
    assert_eq!(refused.status, status::INVALID_PASSWORD);
}

#[test]
fn deliver_sm_resp_with_and_without_its_null_message_id() {
    let with = hex("00000011 80000005 00000000 00000004 00");
    assert_eq!(decode(&with).unwrap().body, Body::DeliverSmResp);
    assert_eq!(
        Pdu {
            sequence: 4,
            status: 0,
            body: Body::DeliverSmResp
        }
        .encode()
        .unwrap(),
        with
    );
    let without = hex("00000010 80000005 00000000 00000004");
    assert_eq!(decode(&without).unwrap().body, Body::DeliverSmResp);
}

#[test]
fn a_receipt_in_text_only() {
    let text = b"id:7f3a sub:001 dlvrd:001 submit date:2612071550 done date:2612071551 stat:DELIVRD err:000 text:hello";
    let sm = ShortMessage {
        esm_class: ESM_DELIVERY_RECEIPT,
        short_message: text.to_vec(),
        ..ShortMessage::default()
    };
    let bytes = Pdu::request(5, Body::DeliverSm(sm)).encode().unwrap();
    let Body::DeliverSm(back) = decode(&bytes).unwrap().body else {
        panic!("not a deliver_sm")
    };
    assert_eq!(
        back.receipt(),
        Some(Receipt {
            message_id: "7f3a".into(),
            state: MessageState::Delivered,
            error: Some("000".into()),
        })
    );
}

#[test]
fn receipt_tlvs_win_over_the_text() {
    let sm = ShortMessage {
        esm_class: ESM_DELIVERY_RECEIPT,
        short_message: b"id:wrong stat:DELIVRD err:000".to_vec(),
        tlvs: vec![
            Tlv {
                tag: tag::RECEIPTED_MESSAGE_ID,
                value: b"right\0".to_vec(),
            },
            Tlv {
                tag: tag::MESSAGE_STATE,
                value: vec![5],
            },
        ],
        ..ShortMessage::default()
    };
    let r = sm.receipt().unwrap();
    assert_eq!(r.message_id, "right");
    assert_eq!(r.state, MessageState::Undeliverable);
}

#[test]
fn an_ordinary_message_is_not_a_receipt() {
    let sm = ShortMessage {
        short_message: b"id:1 stat:DELIVRD".to_vec(),
        ..ShortMessage::default()
    };
    assert_eq!(sm.receipt(), None);
    let sid = ShortMessage {
        esm_class: ESM_DELIVERY_RECEIPT,
        short_message: b"sid:9 stat:EXPIRED".to_vec(),
        ..ShortMessage::default()
    };
    assert_eq!(sid.receipt(), None, "`sid:` is not `id:`");
}

#[test]
fn a_decoded_receipt_reads_as_expected() {
    let bytes = hex(
        "0000006c00000005000000000000002a00010138363133383030313338303030
         000000486f746c696e65000400000000000000002e69643a6162313220737562
         3a30303120646c7672643a30303120737461743a554e44454c4956206572723a
         303031001e00056162313200",
    );
    let pdu = decode(&bytes).unwrap();
    let Body::DeliverSm(sm) = &pdu.body else {
        panic!("not a deliver_sm")
    };
    assert_eq!(
        sm.receipt().map(|r| (r.message_id, r.state, r.error)),
        Some((
            "ab12".into(),
            MessageState::Undeliverable,
            Some("001".into())
        ))
    );
    let tlvs: Vec<String> = sm
        .tlvs
        .iter()
        .map(|t| format!("{:#06x}={:?}", t.tag, String::from_utf8_lossy(&t.value)))
        .collect();
    insta::assert_snapshot!(
        "receipt_deliver_sm",
        format!(
            "{} sequence={} status={}\nfrom={} to={} esm_class={:#04x} data_coding={}\ntext={:?}\ntlvs={}\nreceipt={:?}",
            pdu.body.name(),
            pdu.sequence,
            pdu.status,
            sm.source_addr,
            sm.destination_addr,
            sm.esm_class,
            sm.data_coding,
            String::from_utf8_lossy(&sm.short_message),
            tlvs.join(" "),
            sm.receipt(),
        )
    );
}

#[test]
fn lengths_out_of_bounds_are_refused_before_reading() {
    assert_eq!(frame_length([0, 0, 0, 15]), Err(PduError::BadLength(15)));
    assert_eq!(frame_length([0, 1, 0, 1]), Err(PduError::BadLength(65537)));
    assert_eq!(frame_length([0, 0, 0, 16]), Ok(16));
    assert!(matches!(
        decode(&hex("ffffffff 00000015 00000000 00000001")),
        Err(PduError::BadLength(_))
    ));
}

#[test]
fn truncated_and_trailing_bytes_are_errors() {
    assert!(matches!(
        decode(&hex("000000")),
        Err(PduError::Truncated { .. })
    ));
    assert!(matches!(
        decode(&hex("00000014 80000004 00000000 00000002 6162")),
        Err(PduError::Truncated { .. })
    ));
    assert!(matches!(
        decode(&hex("00000011 00000015 00000000 00000001 00")),
        Err(PduError::Malformed { .. })
    ));
    assert!(matches!(
        decode(&hex("00000010 00000015 00000000 00000001 00")),
        Err(PduError::Malformed { .. })
    ));
}

#[test]
fn a_string_without_its_nul_is_malformed() {
    // message_id of four bytes and no NUL.
    let e = decode(&hex("00000014 80000004 00000000 00000002 61626364")).unwrap_err();
    assert!(
        e.to_string().contains("message_id has no terminating NUL"),
        "{e}"
    );
    // system_id longer than 15 bytes.
    let mut long = hex("00000000 00000009 00000000 00000001");
    long.extend_from_slice(b"abcdefghijklmnopq\0pw\0\0\x34\0\0\0");
    let len = long.len() as u32;
    long[..4].copy_from_slice(&len.to_be_bytes());
    assert!(matches!(decode(&long), Err(PduError::Malformed { .. })));
}

#[test]
fn an_sm_length_past_the_body_is_malformed() {
    let mut sm = Pdu::request(2, Body::SubmitSm(submit(b"abcd")))
        .encode()
        .unwrap();
    let at = sm.len() - 5;
    sm[at] = 200;
    let e = decode(&sm).unwrap_err();
    assert!(e.to_string().contains("short_message claims 200"), "{e}");
}

#[test]
fn an_unknown_command_keeps_its_sequence_for_the_nack() {
    assert_eq!(
        decode(&hex("00000010 00000103 00000000 0000000c")),
        Err(PduError::UnknownCommand {
            command_id: 0x103,
            sequence: 12
        })
    );
}

#[test]
fn fields_too_long_are_not_encoded() {
    let pdu = Pdu::request(
        1,
        Body::BindTransceiver(Bind {
            system_id: "dialect".into(),
            password: "much too long".into(),
            ..Bind::default()
        }),
    );
    assert_eq!(
        pdu.encode(),
        Err(PduError::FieldTooLong {
            field: "password",
            len: 13,
            max: 8
        })
    );
    let mut buf = vec![1, 2, 3];
    assert!(pdu.encode_into(&mut buf).is_err());
    assert_eq!(
        buf,
        vec![1, 2, 3],
        "a failed encode leaves the buffer as it was"
    );
}

proptest::proptest! {
    #[test]
    fn decoding_random_bytes_never_panics(bytes in proptest::collection::vec(0u8..=255, 0..300)) {
        let _ = decode(&bytes);
    }

    #[test]
    fn decoding_random_bodies_after_a_valid_header_never_panics(
        command in proptest::sample::select(vec![1u32, 2, 4, 5, 6, 9, 0x15, 0x8000_0004, 0x8000_0009]),
        body in proptest::collection::vec(0u8..=255, 0..300),
    ) {
        let mut bytes = ((16 + body.len()) as u32).to_be_bytes().to_vec();
        bytes.extend_from_slice(&command.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        bytes.extend_from_slice(&body);
        let _ = decode(&bytes);
    }

    #[test]
    fn submit_sm_round_trips(
        to in "[0-9]{1,20}",
        text in proptest::collection::vec(0u8..=255, 0..=254),
        coding in 0u8..=8,
    ) {
        let mut m = submit(&text);
        m.destination_addr = to;
        m.data_coding = coding;
        let pdu = Pdu::request(3, Body::SubmitSm(m));
        let bytes = pdu.encode().unwrap();
        proptest::prop_assert_eq!(decode(&bytes).unwrap(), pdu);
    }
}
