//! Notifications that leave Dialect: SMS to handsets and e-mail to mailboxes.
//!
//! This crate speaks the protocols and knows nothing of the runtime's store:
//! the runtime's outbox worker (`dialect_runtime::notify`) decides what to
//! send and when, and sends through a [`Gateways`] built from configuration.
//!
//! # Layout
//!
//! - [`smpp`]: SMPP 3.4, the carriers' SMS protocol: the PDU codec
//!   ([`smpp::pdu`]), GSM 03.38/UCS-2 text and concatenation
//!   ([`smpp::text`]), the ESME client ([`smpp::client`]) and, with the
//!   feature `peer`, a small SMSC for tests.
//! - [`smtp`]: e-mail through an SMTP relay (lettre, rustls).
//! - [`http`]: SMS through an HTTP gateway.
//! - `smtp_sink` (feature `peer`): a mail server on loopback for tests.
//! - [`Gateways`] (here): whichever of these is configured, behind one `send`.

pub mod http;
pub mod smpp;
pub mod smtp;
#[cfg(feature = "peer")]
pub mod smtp_sink;

pub use smpp::client::{DeliveryReport, SmppClient, SmppConfig};

/// The way SMS leave: one gateway at a time.
#[derive(Debug, Clone)]
pub enum SmsGateway {
    /// An SMPP link to the carrier's SMSC; receipts follow.
    Smpp(SmppClient),
    /// An HTTP gateway; no receipts.
    Http(http::HttpSms),
}

/// What to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// An SMS.
    Sms {
        /// Our id of the message (the outbox entry's), for gateways that
        /// deduplicate.
        id: String,
        /// The recipient's number.
        to: String,
        /// The text.
        text: String,
    },
    /// An e-mail.
    Email(smtp::Email),
}

/// Why a notification did not leave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SendError {
    /// For the operator: what went wrong.
    pub message: String,
    /// Trying again cannot help (a bad address, a refused message).
    pub permanent: bool,
}

impl From<smpp::client::SmppError> for SendError {
    fn from(e: smpp::client::SmppError) -> SendError {
        SendError {
            permanent: e.is_permanent(),
            message: e.to_string(),
        }
    }
}

impl From<smtp::SmtpError> for SendError {
    fn from(e: smtp::SmtpError) -> SendError {
        SendError {
            permanent: e.is_permanent(),
            message: e.to_string(),
        }
    }
}

impl From<http::HttpSmsError> for SendError {
    fn from(e: http::HttpSmsError) -> SendError {
        SendError {
            permanent: e.is_permanent(),
            message: e.to_string(),
        }
    }
}

/// The gateways configured; a channel without one cannot send.
#[derive(Debug, Clone, Default)]
pub struct Gateways {
    /// Where SMS go.
    pub sms: Option<SmsGateway>,
    /// Where e-mail goes.
    pub email: Option<smtp::SmtpMailer>,
}

/// The error when a channel has no gateway: the notification waits.
pub const NO_SMS_GATEWAY: &str = "no sms gateway configured";
/// The same for e-mail.
pub const NO_EMAIL_GATEWAY: &str = "no email gateway configured";

impl Gateways {
    /// Whether `outgoing`'s channel has a gateway.
    pub fn can_send(&self, outgoing: &Outgoing) -> bool {
        match outgoing {
            Outgoing::Sms { .. } => self.sms.is_some(),
            Outgoing::Email(_) => self.email.is_some(),
        }
    }

    /// Sends through the channel's gateway; returns the gateway's ids (one per
    /// SMS part with SMPP, the Message-ID of a mail, the HTTP gateway's id
    /// when it gives one).
    pub async fn send(&self, outgoing: &Outgoing) -> Result<Vec<String>, SendError> {
        let missing = |what: &str| SendError {
            message: what.to_string(),
            permanent: false,
        };
        match outgoing {
            Outgoing::Sms { id, to, text } => match &self.sms {
                Some(SmsGateway::Smpp(client)) => Ok(client.submit(to, text).await?),
                Some(SmsGateway::Http(gateway)) => {
                    Ok(gateway.send(id, to, text).await?.into_iter().collect())
                }
                None => Err(missing(NO_SMS_GATEWAY)),
            },
            Outgoing::Email(email) => match &self.email {
                Some(mailer) => Ok(vec![mailer.send(email).await?]),
                None => Err(missing(NO_EMAIL_GATEWAY)),
            },
        }
    }

    /// Closes the links that need it (SMPP unbinds).
    pub async fn close(&self) {
        if let Some(SmsGateway::Smpp(client)) = &self.sms {
            client.close().await;
        }
    }
}
