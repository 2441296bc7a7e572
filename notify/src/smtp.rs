//! E-mail through an SMTP relay with `lettre`: plain, STARTTLS or implicit
//! TLS (rustls), optional authentication, UTF-8 headers (a Chinese sender
//! name or subject is encoded as RFC 2047 words), a text body and optional
//! attachments such as a call's WAV recording.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::{Attachment as MimeAttachment, Mailbox, MultiPart, SinglePart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// How the connection to the relay is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TlsMode {
    /// In clear (a relay on the same host or a trusted network).
    #[default]
    None,
    /// Plain first, then `STARTTLS`, which must succeed (port 587).
    StartTls,
    /// TLS from the first byte (port 465).
    Tls,
}

/// Where e-mail goes and as whom.
#[derive(Debug, Clone)]
pub struct SmtpConfig {
    /// The relay's host name (also the name its certificate must carry).
    pub host: String,
    /// Its port.
    pub port: u16,
    /// Protection of the connection.
    pub tls: TlsMode,
    /// User name, when the relay asks for authentication.
    pub user: Option<String>,
    /// Its password.
    pub password: Option<String>,
    /// The sender, as `Name <address>` (the name may be Chinese).
    pub from: String,
    /// How long the whole exchange with the relay may take.
    pub timeout: Duration,
}

/// A file attached to a mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    /// The name the recipient sees.
    pub filename: String,
    /// Its MIME type, such as `audio/wav`.
    pub content_type: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// One mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    /// The recipient, `address` or `Name <address>`.
    pub to: String,
    /// Its subject.
    pub subject: String,
    /// The text body.
    pub body: String,
    /// Files attached.
    pub attachments: Vec<Attachment>,
}

/// Why a mail was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpError {
    /// The configuration cannot work (a sender that is not an address, TLS
    /// parameters refused).
    #[error("e-mail configuration: {0}")]
    Config(String),
    /// The mail itself is wrong: no valid recipient, a bad attachment type.
    /// Trying again will not help.
    #[error("the mail cannot be sent: {0}")]
    Message(String),
    /// The relay refused it for good (a 5xx answer).
    #[error("the mail server refused the mail: {0}")]
    Refused(String),
    /// The relay could not be reached or failed for now (try again later).
    #[error("the mail server failed: {0}")]
    Transient(String),
}

impl SmtpError {
    /// Whether trying again cannot help.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            SmtpError::Message(_) | SmtpError::Refused(_) | SmtpError::Config(_)
        )
    }
}

/// Reads a sender or recipient as `Name <address>` or a bare address.
pub fn parse_mailbox(s: &str) -> Result<Mailbox, String> {
    s.trim().parse::<Mailbox>().map_err(|e| {
        format!("`{s}` is not an e-mail address such as \"Hotline <hotline@example.cn>\" ({e})")
    })
}

/// A relay, ready to send; clones share its connection pool.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    config: SmtpConfig,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer")
            .field("host", &self.config.host)
            .field("port", &self.config.port)
            .field("tls", &self.config.tls)
            .finish()
    }
}

impl SmtpMailer {
    /// Checks the configuration and prepares the transport (nothing is
    /// connected until the first mail).
    pub fn new(config: SmtpConfig) -> Result<SmtpMailer, SmtpError> {
        let from = parse_mailbox(&config.from).map_err(SmtpError::Config)?;
        let tls = match config.tls {
            TlsMode::None => Tls::None,
            TlsMode::StartTls | TlsMode::Tls => {
                let params = TlsParameters::new(config.host.clone())
                    .map_err(|e| SmtpError::Config(format!("TLS towards {}: {e}", config.host)))?;
                if config.tls == TlsMode::Tls {
                    Tls::Wrapper(params)
                } else {
                    Tls::Required(params)
                }
            }
        };
        let mut builder =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(config.host.as_str())
                .port(config.port)
                .tls(tls)
                .timeout(Some(config.timeout));
        if let Some(user) = &config.user {
            builder = builder.credentials(Credentials::new(
                user.clone(),
                config.password.clone().unwrap_or_default(),
            ));
        }
        Ok(SmtpMailer {
            transport: builder.build(),
            from,
            config,
        })
    }

    /// The mail as it would be sent (for tests and for logs).
    pub fn build(&self, email: &Email) -> Result<Message, SmtpError> {
        let to = parse_mailbox(&email.to).map_err(SmtpError::Message)?;
        let domain = self.from.email.domain().to_string();
        let message_id = format!("<{:032x}@{domain}>", rand::random::<u128>());
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(email.subject.clone())
            .message_id(Some(message_id));
        let text = SinglePart::builder()
            .header(ContentType::TEXT_PLAIN)
            .body(email.body.clone());
        let built = if email.attachments.is_empty() {
            builder.singlepart(text)
        } else {
            let mut parts = MultiPart::mixed().singlepart(text);
            for a in &email.attachments {
                let kind = ContentType::parse(&a.content_type).map_err(|e| {
                    SmtpError::Message(format!("`{}` is not a MIME type: {e}", a.content_type))
                })?;
                parts = parts.singlepart(
                    MimeAttachment::new(a.filename.clone()).body(a.bytes.clone(), kind),
                );
            }
            builder.multipart(parts)
        };
        built.map_err(|e| SmtpError::Message(e.to_string()))
    }

    /// Sends one mail; returns its `Message-ID`.
    pub async fn send(&self, email: &Email) -> Result<String, SmtpError> {
        let message = self.build(email)?;
        let id = message
            .headers()
            .get_raw("Message-ID")
            .unwrap_or_default()
            .to_string();
        let sent = tokio::time::timeout(self.config.timeout, self.transport.send(message)).await;
        match sent {
            Err(_) => Err(SmtpError::Transient(format!(
                "no answer within {:?}",
                self.config.timeout
            ))),
            Ok(Err(e)) if e.is_permanent() => Err(SmtpError::Refused(e.to_string())),
            Ok(Err(e)) => Err(SmtpError::Transient(e.to_string())),
            Ok(Ok(_)) => Ok(id),
        }
    }
}
