//! E-mail through lettre to a real SMTP server on loopback (aiosmtpd, ports
//! 2500–2599), decoded there as a mail client would.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test helpers stop the test at the first surprise"
)]

use std::time::Duration;

use dialect_notify::smtp::{Attachment, Email, SmtpConfig, SmtpError, SmtpMailer, TlsMode};
use dialect_notify::smtp_sink::MailSink;
use dialect_notify::{Gateways, Outgoing};

fn mailer(port: u16) -> SmtpMailer {
    SmtpMailer::new(SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        user: None,
        password: None,
        from: "热线 <hotline@example.cn>".into(),
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

/// A short WAV file: 8 kHz, 16-bit, 100 samples of a ramp.
fn wav() -> Vec<u8> {
    let samples: Vec<u8> = (0..100i16).flat_map(|i| (i * 300).to_le_bytes()).collect();
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + samples.len() as u32).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(samples.len() as u32).to_le_bytes());
    w.extend_from_slice(&samples);
    w
}

#[tokio::test]
async fn a_chinese_mail_with_a_recording_arrives_whole() {
    let sink = MailSink::start(2500..=2599).expect("aiosmtpd");
    let recording = wav();
    let email = Email {
        to: "王经理 <manager@example.cn>".into(),
        subject: "工单 42 超时未修复，请处理".into(),
        body: "客户留言见附件。\nThe message is attached.".into(),
        attachments: vec![Attachment {
            filename: "留言-42.wav".into(),
            content_type: "audio/wav".into(),
            bytes: recording.clone(),
        }],
    };
    let gateways = Gateways {
        sms: None,
        email: Some(mailer(sink.port())),
    };
    let ids = gateways.send(&Outgoing::Email(email)).await.unwrap();
    let mails = sink.wait_mails(1, Duration::from_secs(5)).await;
    assert_eq!(mails.len(), 1, "one mail received");
    let m = &mails[0];
    assert_eq!(m.subject, "工单 42 超时未修复，请处理");
    assert_eq!(m.from, "热线 <hotline@example.cn>");
    assert_eq!(m.to, "王经理 <manager@example.cn>");
    assert_eq!(m.mail_from, "hotline@example.cn");
    assert_eq!(m.rcpt_tos, vec!["manager@example.cn".to_string()]);
    // Mail lines end in CRLF on the wire.
    assert_eq!(
        m.body
            .as_deref()
            .map(|b| b.trim_end().replace("\r\n", "\n")),
        Some("客户留言见附件。\nThe message is attached.".to_string())
    );
    assert_eq!(
        ids,
        vec![m.message_id.clone()],
        "the id returned is the mail's Message-ID"
    );
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.filename.as_deref(), Some("留言-42.wav"));
    assert_eq!(a.content_type, "audio/wav");
    assert_eq!(
        a.bytes(),
        recording,
        "the recording's bytes arrive unchanged"
    );
}

#[tokio::test]
async fn a_plain_mail_has_no_attachment() {
    let sink = MailSink::start(2500..=2599).expect("aiosmtpd");
    mailer(sink.port())
        .send(&Email {
            to: "ops@example.cn".into(),
            subject: "Order 7 repaired".into(),
            body: "Please call the customer.".into(),
            attachments: Vec::new(),
        })
        .await
        .unwrap();
    let mails = sink.wait_mails(1, Duration::from_secs(5)).await;
    assert_eq!(mails[0].subject, "Order 7 repaired");
    assert!(mails[0].attachments.is_empty());
}

#[tokio::test]
async fn bad_addresses_and_dead_servers_are_told_apart() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let m = mailer(port);
    let email = |to: &str| Email {
        to: to.into(),
        subject: "x".into(),
        body: "x".into(),
        attachments: Vec::new(),
    };
    let bad = m.send(&email("not an address")).await.unwrap_err();
    assert!(
        matches!(bad, SmtpError::Message(_)) && bad.is_permanent(),
        "{bad}"
    );
    let down = m.send(&email("ops@example.cn")).await.unwrap_err();
    assert!(
        matches!(down, SmtpError::Transient(_)) && !down.is_permanent(),
        "{down}"
    );
    let config = SmtpMailer::new(SmtpConfig {
        host: "127.0.0.1".into(),
        port,
        tls: TlsMode::None,
        user: None,
        password: None,
        from: "no at sign".into(),
        timeout: Duration::from_secs(1),
    })
    .unwrap_err();
    assert!(matches!(config, SmtpError::Config(_)), "{config}");
}
