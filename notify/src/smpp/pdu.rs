//! The SMPP 3.4 PDUs an ESME and an SMSC exchange to send SMS and hear back
//! about them, encoded and decoded without IO.
//!
//! Every PDU is a 16-byte header (`command_length`, `command_id`,
//! `command_status`, `sequence_number`, all big-endian) and a body of
//! NUL-terminated strings, octets and, for `submit_sm`/`deliver_sm`, optional
//! TLVs. [`decode`] takes bytes from the network: a length beyond
//! [`MAX_PDU_LEN`], a body that ends early, a string without its NUL or longer
//! than the specification allows, or an unknown command is an error, never a
//! panic. An unknown command keeps its sequence number so that the reader can
//! answer it with `generic_nack`.

/// Largest PDU accepted (a `submit_sm` with a 64 KiB `message_payload` TLV
/// would not fit, and no SMSC sends one).
pub const MAX_PDU_LEN: usize = 64 * 1024;
/// Length of the header.
pub const HEADER_LEN: usize = 16;

/// Command ids (SMPP 3.4, 5.1.2.1).
pub mod command {
    /// generic_nack
    pub const GENERIC_NACK: u32 = 0x8000_0000;
    /// bind_receiver
    pub const BIND_RECEIVER: u32 = 0x0000_0001;
    /// bind_receiver_resp
    pub const BIND_RECEIVER_RESP: u32 = 0x8000_0001;
    /// bind_transmitter
    pub const BIND_TRANSMITTER: u32 = 0x0000_0002;
    /// bind_transmitter_resp
    pub const BIND_TRANSMITTER_RESP: u32 = 0x8000_0002;
    /// submit_sm
    pub const SUBMIT_SM: u32 = 0x0000_0004;
    /// submit_sm_resp
    pub const SUBMIT_SM_RESP: u32 = 0x8000_0004;
    /// deliver_sm
    pub const DELIVER_SM: u32 = 0x0000_0005;
    /// deliver_sm_resp
    pub const DELIVER_SM_RESP: u32 = 0x8000_0005;
    /// unbind
    pub const UNBIND: u32 = 0x0000_0006;
    /// unbind_resp
    pub const UNBIND_RESP: u32 = 0x8000_0006;
    /// bind_transceiver
    pub const BIND_TRANSCEIVER: u32 = 0x0000_0009;
    /// bind_transceiver_resp
    pub const BIND_TRANSCEIVER_RESP: u32 = 0x8000_0009;
    /// enquire_link
    pub const ENQUIRE_LINK: u32 = 0x0000_0015;
    /// enquire_link_resp
    pub const ENQUIRE_LINK_RESP: u32 = 0x8000_0015;
}

/// Command statuses this crate sends or acts on (SMPP 3.4, 5.1.3).
pub mod status {
    /// No error.
    pub const OK: u32 = 0x0000_0000;
    /// Message length is invalid.
    pub const INVALID_MSG_LEN: u32 = 0x0000_0001;
    /// Command length is invalid.
    pub const INVALID_CMD_LEN: u32 = 0x0000_0002;
    /// Invalid command id.
    pub const INVALID_CMD_ID: u32 = 0x0000_0003;
    /// Incorrect bind status for the command.
    pub const INVALID_BIND_STATUS: u32 = 0x0000_0004;
    /// Already bound.
    pub const ALREADY_BOUND: u32 = 0x0000_0005;
    /// System error.
    pub const SYSTEM_ERROR: u32 = 0x0000_0008;
    /// Invalid source address.
    pub const INVALID_SOURCE_ADDR: u32 = 0x0000_000A;
    /// Invalid destination address.
    pub const INVALID_DEST_ADDR: u32 = 0x0000_000B;
    /// Bind failed.
    pub const BIND_FAILED: u32 = 0x0000_000D;
    /// Invalid password.
    pub const INVALID_PASSWORD: u32 = 0x0000_000E;
    /// Invalid system id.
    pub const INVALID_SYSTEM_ID: u32 = 0x0000_000F;
    /// Message queue full.
    pub const MSG_QUEUE_FULL: u32 = 0x0000_0014;
    /// Throttling error: the ESME exceeded its allowed message rate.
    pub const THROTTLED: u32 = 0x0000_0058;
}

/// TLV tags this crate reads or writes.
pub mod tag {
    /// The SMSC message id a delivery receipt is about.
    pub const RECEIPTED_MESSAGE_ID: u16 = 0x001E;
    /// The final state of the message a receipt is about.
    pub const MESSAGE_STATE: u16 = 0x0427;
    /// A message body longer than `short_message` allows.
    pub const MESSAGE_PAYLOAD: u16 = 0x0424;
    /// The SMSC's SMPP version, in a bind response.
    pub const SC_INTERFACE_VERSION: u16 = 0x0210;
}

/// Why bytes are not a PDU.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PduError {
    /// Fewer bytes than the header or `command_length` says.
    #[error("the PDU is truncated: {have} bytes of {need}")]
    Truncated {
        /// Bytes there are.
        have: usize,
        /// Bytes needed.
        need: usize,
    },
    /// `command_length` below the header's length or above [`MAX_PDU_LEN`].
    #[error("a command_length of {0} is out of bounds (16 to {MAX_PDU_LEN})")]
    BadLength(u32),
    /// A command this crate does not know; answer with `generic_nack`.
    #[error("unknown command id {command_id:#010x}")]
    UnknownCommand {
        /// Its id.
        command_id: u32,
        /// Its sequence number, for the `generic_nack`.
        sequence: u32,
    },
    /// A field is malformed (named).
    #[error("malformed {command} PDU: {reason}")]
    Malformed {
        /// The command it came in.
        command: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// A field to encode is longer than the specification allows.
    #[error("{field} may have at most {max} bytes, not {len}")]
    FieldTooLong {
        /// The field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The most allowed (without the NUL).
        max: usize,
    },
}

/// One PDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pdu {
    /// Matches a response to its request.
    pub sequence: u32,
    /// 0 in requests; a response's outcome.
    pub status: u32,
    /// The command and its fields.
    pub body: Body,
}

/// The commands, with their fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    /// Send and receive on one link (the usual bind).
    BindTransceiver(Bind),
    /// Answer to a transceiver bind.
    BindTransceiverResp(BindResp),
    /// Send only.
    BindTransmitter(Bind),
    /// Answer to a transmitter bind.
    BindTransmitterResp(BindResp),
    /// Receive only.
    BindReceiver(Bind),
    /// Answer to a receiver bind.
    BindReceiverResp(BindResp),
    /// A message to send.
    SubmitSm(ShortMessage),
    /// The SMSC took a message: its id.
    SubmitSmResp {
        /// The SMSC's id of the message (empty when refused).
        message_id: String,
    },
    /// A message or a delivery receipt from the SMSC.
    DeliverSm(ShortMessage),
    /// The ESME took a `deliver_sm`.
    DeliverSmResp,
    /// Are you there?
    EnquireLink,
    /// Yes.
    EnquireLinkResp,
    /// Closing the link.
    Unbind,
    /// Closed.
    UnbindResp,
    /// A PDU the other side could not take.
    GenericNack,
}

impl Body {
    /// The command id on the wire.
    pub fn command_id(&self) -> u32 {
        use command::*;
        match self {
            Body::BindTransceiver(_) => BIND_TRANSCEIVER,
            Body::BindTransceiverResp(_) => BIND_TRANSCEIVER_RESP,
            Body::BindTransmitter(_) => BIND_TRANSMITTER,
            Body::BindTransmitterResp(_) => BIND_TRANSMITTER_RESP,
            Body::BindReceiver(_) => BIND_RECEIVER,
            Body::BindReceiverResp(_) => BIND_RECEIVER_RESP,
            Body::SubmitSm(_) => SUBMIT_SM,
            Body::SubmitSmResp { .. } => SUBMIT_SM_RESP,
            Body::DeliverSm(_) => DELIVER_SM,
            Body::DeliverSmResp => DELIVER_SM_RESP,
            Body::EnquireLink => ENQUIRE_LINK,
            Body::EnquireLinkResp => ENQUIRE_LINK_RESP,
            Body::Unbind => UNBIND,
            Body::UnbindResp => UNBIND_RESP,
            Body::GenericNack => GENERIC_NACK,
        }
    }

    /// The command's name, for errors and logs.
    pub fn name(&self) -> &'static str {
        command_name(self.command_id())
    }
}

/// The name of a command id.
pub fn command_name(id: u32) -> &'static str {
    use command::*;
    match id {
        BIND_TRANSCEIVER => "bind_transceiver",
        BIND_TRANSCEIVER_RESP => "bind_transceiver_resp",
        BIND_TRANSMITTER => "bind_transmitter",
        BIND_TRANSMITTER_RESP => "bind_transmitter_resp",
        BIND_RECEIVER => "bind_receiver",
        BIND_RECEIVER_RESP => "bind_receiver_resp",
        SUBMIT_SM => "submit_sm",
        SUBMIT_SM_RESP => "submit_sm_resp",
        DELIVER_SM => "deliver_sm",
        DELIVER_SM_RESP => "deliver_sm_resp",
        ENQUIRE_LINK => "enquire_link",
        ENQUIRE_LINK_RESP => "enquire_link_resp",
        UNBIND => "unbind",
        UNBIND_RESP => "unbind_resp",
        GENERIC_NACK => "generic_nack",
        _ => "unknown",
    }
}

/// The fields of a bind request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bind {
    /// Who binds (at most 15 bytes).
    pub system_id: String,
    /// Its password (at most 8 bytes).
    pub password: String,
    /// The kind of ESME, as the SMSC asks (at most 12 bytes; often empty).
    pub system_type: String,
    /// 0x34 for SMPP 3.4.
    pub interface_version: u8,
    /// Type of number of `address_range`.
    pub addr_ton: u8,
    /// Numbering plan of `address_range`.
    pub addr_npi: u8,
    /// Which addresses this ESME serves (at most 40 bytes; often empty).
    pub address_range: String,
}

/// The fields of a bind response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindResp {
    /// The SMSC's id (absent in some refusals, then empty).
    pub system_id: String,
    /// Optional TLVs (such as `sc_interface_version`).
    pub tlvs: Vec<Tlv>,
}

/// An optional parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tlv {
    /// Which parameter.
    pub tag: u16,
    /// Its value.
    pub value: Vec<u8>,
}

/// The fields of `submit_sm` and `deliver_sm` (the same layout).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ShortMessage {
    /// Service type (at most 5 bytes; usually empty).
    pub service_type: String,
    /// Type of number of the sender.
    pub source_addr_ton: u8,
    /// Numbering plan of the sender.
    pub source_addr_npi: u8,
    /// The sender (at most 20 bytes).
    pub source_addr: String,
    /// Type of number of the recipient.
    pub dest_addr_ton: u8,
    /// Numbering plan of the recipient.
    pub dest_addr_npi: u8,
    /// The recipient (at most 20 bytes).
    pub destination_addr: String,
    /// Message mode and type; 0x40 says a user data header leads the message,
    /// 0x04 marks a delivery receipt in `deliver_sm`.
    pub esm_class: u8,
    /// Protocol id.
    pub protocol_id: u8,
    /// Priority.
    pub priority_flag: u8,
    /// When to deliver (at most 16 bytes; empty: now).
    pub schedule_delivery_time: String,
    /// How long to try (at most 16 bytes; empty: the SMSC's default).
    pub validity_period: String,
    /// 1: ask for a delivery receipt.
    pub registered_delivery: u8,
    /// Replace an earlier message.
    pub replace_if_present_flag: u8,
    /// How `short_message` is encoded (0 GSM, 8 UCS-2).
    pub data_coding: u8,
    /// A canned message's id.
    pub sm_default_msg_id: u8,
    /// The message (at most 254 bytes).
    pub short_message: Vec<u8>,
    /// Optional parameters.
    pub tlvs: Vec<Tlv>,
}

/// `esm_class` bits of an SMSC delivery receipt in `deliver_sm`.
pub const ESM_DELIVERY_RECEIPT: u8 = 0x04;

/// The state of a message as a delivery receipt gives it (SMPP 3.4, 5.2.28).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageState {
    /// On its way.
    Enroute,
    /// Reached the handset.
    Delivered,
    /// Its validity ran out.
    Expired,
    /// Deleted.
    Deleted,
    /// Cannot be delivered.
    Undeliverable,
    /// Accepted (by an operator on the recipient's behalf).
    Accepted,
    /// Unknown.
    Unknown,
    /// Rejected.
    Rejected,
}

impl MessageState {
    /// From the `message_state` TLV's value.
    pub fn from_code(code: u8) -> Option<MessageState> {
        Some(match code {
            1 => MessageState::Enroute,
            2 => MessageState::Delivered,
            3 => MessageState::Expired,
            4 => MessageState::Deleted,
            5 => MessageState::Undeliverable,
            6 => MessageState::Accepted,
            7 => MessageState::Unknown,
            8 => MessageState::Rejected,
            _ => return None,
        })
    }

    /// The `message_state` TLV's value.
    pub fn code(self) -> u8 {
        match self {
            MessageState::Enroute => 1,
            MessageState::Delivered => 2,
            MessageState::Expired => 3,
            MessageState::Deleted => 4,
            MessageState::Undeliverable => 5,
            MessageState::Accepted => 6,
            MessageState::Unknown => 7,
            MessageState::Rejected => 8,
        }
    }

    /// From the `stat:` word of a receipt's text.
    pub fn from_stat(word: &str) -> Option<MessageState> {
        Some(match word.to_ascii_uppercase().as_str() {
            "ENROUTE" => MessageState::Enroute,
            "DELIVRD" => MessageState::Delivered,
            "EXPIRED" => MessageState::Expired,
            "DELETED" => MessageState::Deleted,
            "UNDELIV" => MessageState::Undeliverable,
            "ACCEPTD" => MessageState::Accepted,
            "UNKNOWN" => MessageState::Unknown,
            "REJECTD" => MessageState::Rejected,
            _ => return None,
        })
    }

    /// The `stat:` word of a receipt's text.
    pub fn stat(self) -> &'static str {
        match self {
            MessageState::Enroute => "ENROUTE",
            MessageState::Delivered => "DELIVRD",
            MessageState::Expired => "EXPIRED",
            MessageState::Deleted => "DELETED",
            MessageState::Undeliverable => "UNDELIV",
            MessageState::Accepted => "ACCEPTD",
            MessageState::Unknown => "UNKNOWN",
            MessageState::Rejected => "REJECTD",
        }
    }

    /// Whether no further receipt will follow.
    pub fn is_final(self) -> bool {
        !matches!(self, MessageState::Enroute | MessageState::Accepted)
    }
}

/// What a delivery receipt says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The SMSC's id of the message, as `submit_sm_resp` gave it.
    pub message_id: String,
    /// Its state.
    pub state: MessageState,
    /// The network's error code (`err:` in the text), when given.
    pub error: Option<String>,
}

impl ShortMessage {
    /// The first TLV with `tag`.
    pub fn tlv(&self, tag: u16) -> Option<&[u8]> {
        self.tlvs
            .iter()
            .find(|t| t.tag == tag)
            .map(|t| t.value.as_slice())
    }

    /// The delivery receipt this `deliver_sm` carries, if it is one: the
    /// `receipted_message_id`/`message_state` TLVs when present, else the
    /// `id:… stat:… err:…` text of the short message (SMPP 3.4 Appendix B).
    pub fn receipt(&self) -> Option<Receipt> {
        let text = String::from_utf8_lossy(&self.short_message);
        let field = |key: &str| -> Option<&str> {
            // Keys are matched at word starts: `id:` is not the tail of `sid:`.
            let mut from = 0;
            while let Some(i) = text[from..].find(key) {
                let at = from + i;
                if at == 0 || text[..at].ends_with(' ') {
                    let rest = &text[at + key.len()..];
                    return Some(rest.split(' ').next().unwrap_or(""));
                }
                from = at + key.len();
            }
            None
        };
        let tlv_id = self.tlv(tag::RECEIPTED_MESSAGE_ID).map(|v| {
            let end = v.iter().position(|&b| b == 0).unwrap_or(v.len());
            String::from_utf8_lossy(&v[..end]).into_owned()
        });
        let tlv_state = self
            .tlv(tag::MESSAGE_STATE)
            .and_then(|v| v.first().copied())
            .and_then(MessageState::from_code);
        let is_receipt = self.esm_class & 0x3C == ESM_DELIVERY_RECEIPT
            || tlv_id.is_some()
            || tlv_state.is_some();
        if !is_receipt {
            return None;
        }
        let message_id = tlv_id.or_else(|| field("id:").map(str::to_string))?;
        let state = tlv_state.or_else(|| field("stat:").and_then(MessageState::from_stat))?;
        let error = field("err:").map(str::to_string);
        Some(Receipt {
            message_id,
            state,
            error,
        })
    }
}

/// Reads the `command_length` of a PDU whose first four bytes are `prefix`,
/// checked against the bounds, so that a reader knows how much more to read
/// (and refuses before reading it).
pub fn frame_length(prefix: [u8; 4]) -> Result<usize, PduError> {
    let len = u32::from_be_bytes(prefix);
    if (len as usize) < HEADER_LEN || len as usize > MAX_PDU_LEN {
        return Err(PduError::BadLength(len));
    }
    Ok(len as usize)
}

/// Decodes one whole PDU (exactly `command_length` bytes; more is an error).
pub fn decode(bytes: &[u8]) -> Result<Pdu, PduError> {
    if bytes.len() < 4 {
        return Err(PduError::Truncated {
            have: bytes.len(),
            need: HEADER_LEN,
        });
    }
    let len = frame_length([bytes[0], bytes[1], bytes[2], bytes[3]])?;
    if bytes.len() < len {
        return Err(PduError::Truncated {
            have: bytes.len(),
            need: len,
        });
    }
    if bytes.len() > len {
        return Err(PduError::Malformed {
            command: "unknown",
            reason: format!(
                "{} bytes after its command_length of {len}",
                bytes.len() - len
            ),
        });
    }
    let word = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
    let (command_id, status, sequence) = (word(4), word(8), word(12));
    let name = command_name(command_id);
    let mut r = Reader {
        bytes: &bytes[HEADER_LEN..len],
        at: 0,
        command: name,
    };
    use command::*;
    let body = match command_id {
        BIND_TRANSCEIVER => Body::BindTransceiver(r.bind()?),
        BIND_TRANSMITTER => Body::BindTransmitter(r.bind()?),
        BIND_RECEIVER => Body::BindReceiver(r.bind()?),
        BIND_TRANSCEIVER_RESP => Body::BindTransceiverResp(r.bind_resp()?),
        BIND_TRANSMITTER_RESP => Body::BindTransmitterResp(r.bind_resp()?),
        BIND_RECEIVER_RESP => Body::BindReceiverResp(r.bind_resp()?),
        SUBMIT_SM => Body::SubmitSm(r.short_message()?),
        DELIVER_SM => Body::DeliverSm(r.short_message()?),
        SUBMIT_SM_RESP => {
            // A refusal may come without a body at all.
            let message_id = if r.is_empty() {
                String::new()
            } else {
                r.cstring("message_id", 65)?
            };
            Body::SubmitSmResp { message_id }
        }
        DELIVER_SM_RESP => {
            // The message_id field is unused and NUL; some SMSCs leave it out.
            if !r.is_empty() {
                r.cstring("message_id", 65)?;
            }
            Body::DeliverSmResp
        }
        ENQUIRE_LINK => Body::EnquireLink,
        ENQUIRE_LINK_RESP => Body::EnquireLinkResp,
        UNBIND => Body::Unbind,
        UNBIND_RESP => Body::UnbindResp,
        GENERIC_NACK => Body::GenericNack,
        _ => {
            return Err(PduError::UnknownCommand {
                command_id,
                sequence,
            });
        }
    };
    if !r.is_empty() {
        return Err(r.malformed(format!("{} bytes left over", r.bytes.len() - r.at)));
    }
    Ok(Pdu {
        sequence,
        status,
        body,
    })
}

/// Reads fields off a body, each read checked.
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    command: &'static str,
}

impl Reader<'_> {
    fn malformed(&self, reason: String) -> PduError {
        PduError::Malformed {
            command: self.command,
            reason,
        }
    }

    fn is_empty(&self) -> bool {
        self.at >= self.bytes.len()
    }

    fn u8(&mut self, field: &str) -> Result<u8, PduError> {
        let b = *self
            .bytes
            .get(self.at)
            .ok_or_else(|| self.malformed(format!("the body ends before {field}")))?;
        self.at += 1;
        Ok(b)
    }

    fn take(&mut self, n: usize, field: &str) -> Result<&[u8], PduError> {
        let end = self.at + n;
        if end > self.bytes.len() {
            return Err(self.malformed(format!(
                "{field} claims {n} bytes but {} are left",
                self.bytes.len() - self.at
            )));
        }
        let s = &self.bytes[self.at..end];
        self.at = end;
        Ok(s)
    }

    /// A C-Octet String of at most `max` bytes including its NUL.
    fn cstring(&mut self, field: &str, max: usize) -> Result<String, PduError> {
        let rest = &self.bytes[self.at.min(self.bytes.len())..];
        let Some(nul) = rest.iter().take(max).position(|&b| b == 0) else {
            return Err(
                self.malformed(format!("{field} has no terminating NUL within {max} bytes"))
            );
        };
        let s = String::from_utf8_lossy(&rest[..nul]).into_owned();
        self.at += nul + 1;
        Ok(s)
    }

    fn tlvs(&mut self) -> Result<Vec<Tlv>, PduError> {
        let mut tlvs = Vec::new();
        while !self.is_empty() {
            let head = self.take(4, "a TLV header")?;
            let tag = u16::from_be_bytes([head[0], head[1]]);
            let len = usize::from(u16::from_be_bytes([head[2], head[3]]));
            let value = self.take(len, "a TLV value")?.to_vec();
            tlvs.push(Tlv { tag, value });
        }
        Ok(tlvs)
    }

    fn bind(&mut self) -> Result<Bind, PduError> {
        Ok(Bind {
            system_id: self.cstring("system_id", 16)?,
            password: self.cstring("password", 9)?,
            system_type: self.cstring("system_type", 13)?,
            interface_version: self.u8("interface_version")?,
            addr_ton: self.u8("addr_ton")?,
            addr_npi: self.u8("addr_npi")?,
            address_range: self.cstring("address_range", 41)?,
        })
    }

    fn bind_resp(&mut self) -> Result<BindResp, PduError> {
        if self.is_empty() {
            return Ok(BindResp::default());
        }
        Ok(BindResp {
            system_id: self.cstring("system_id", 16)?,
            tlvs: self.tlvs()?,
        })
    }

    fn short_message(&mut self) -> Result<ShortMessage, PduError> {
        let mut m = ShortMessage {
            service_type: self.cstring("service_type", 6)?,
            source_addr_ton: self.u8("source_addr_ton")?,
            source_addr_npi: self.u8("source_addr_npi")?,
            source_addr: self.cstring("source_addr", 21)?,
            dest_addr_ton: self.u8("dest_addr_ton")?,
            dest_addr_npi: self.u8("dest_addr_npi")?,
            destination_addr: self.cstring("destination_addr", 21)?,
            esm_class: self.u8("esm_class")?,
            protocol_id: self.u8("protocol_id")?,
            priority_flag: self.u8("priority_flag")?,
            schedule_delivery_time: self.cstring("schedule_delivery_time", 17)?,
            validity_period: self.cstring("validity_period", 17)?,
            registered_delivery: self.u8("registered_delivery")?,
            replace_if_present_flag: self.u8("replace_if_present_flag")?,
            data_coding: self.u8("data_coding")?,
            sm_default_msg_id: self.u8("sm_default_msg_id")?,
            ..ShortMessage::default()
        };
        let sm_length = usize::from(self.u8("sm_length")?);
        if sm_length > 254 {
            return Err(self.malformed(format!("sm_length {sm_length} is above 254")));
        }
        m.short_message = self.take(sm_length, "short_message")?.to_vec();
        m.tlvs = self.tlvs()?;
        Ok(m)
    }
}

/// Writes fields, each checked against its maximum.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
}

impl Writer<'_> {
    fn cstring(&mut self, field: &'static str, s: &str, max: usize) -> Result<(), PduError> {
        if s.len() > max || s.as_bytes().contains(&0) {
            return Err(PduError::FieldTooLong {
                field,
                len: s.len(),
                max,
            });
        }
        self.out.extend_from_slice(s.as_bytes());
        self.out.push(0);
        Ok(())
    }

    fn tlvs(&mut self, tlvs: &[Tlv]) -> Result<(), PduError> {
        for t in tlvs {
            let len = u16::try_from(t.value.len()).map_err(|_| PduError::FieldTooLong {
                field: "a TLV value",
                len: t.value.len(),
                max: usize::from(u16::MAX),
            })?;
            self.out.extend_from_slice(&t.tag.to_be_bytes());
            self.out.extend_from_slice(&len.to_be_bytes());
            self.out.extend_from_slice(&t.value);
        }
        Ok(())
    }

    fn bind(&mut self, b: &Bind) -> Result<(), PduError> {
        self.cstring("system_id", &b.system_id, 15)?;
        self.cstring("password", &b.password, 8)?;
        self.cstring("system_type", &b.system_type, 12)?;
        self.out
            .extend_from_slice(&[b.interface_version, b.addr_ton, b.addr_npi]);
        self.cstring("address_range", &b.address_range, 40)
    }

    fn short_message(&mut self, m: &ShortMessage) -> Result<(), PduError> {
        self.cstring("service_type", &m.service_type, 5)?;
        self.out
            .extend_from_slice(&[m.source_addr_ton, m.source_addr_npi]);
        self.cstring("source_addr", &m.source_addr, 20)?;
        self.out
            .extend_from_slice(&[m.dest_addr_ton, m.dest_addr_npi]);
        self.cstring("destination_addr", &m.destination_addr, 20)?;
        self.out
            .extend_from_slice(&[m.esm_class, m.protocol_id, m.priority_flag]);
        self.cstring("schedule_delivery_time", &m.schedule_delivery_time, 16)?;
        self.cstring("validity_period", &m.validity_period, 16)?;
        if m.short_message.len() > 254 {
            return Err(PduError::FieldTooLong {
                field: "short_message",
                len: m.short_message.len(),
                max: 254,
            });
        }
        self.out.extend_from_slice(&[
            m.registered_delivery,
            m.replace_if_present_flag,
            m.data_coding,
            m.sm_default_msg_id,
            m.short_message.len() as u8,
        ]);
        self.out.extend_from_slice(&m.short_message);
        self.tlvs(&m.tlvs)
    }
}

impl Pdu {
    /// A request with `sequence`.
    pub fn request(sequence: u32, body: Body) -> Pdu {
        Pdu {
            sequence,
            status: status::OK,
            body,
        }
    }

    /// Appends the PDU's bytes to `out` (which may hold earlier PDUs: a
    /// buffer reused across writes allocates nothing once grown).
    pub fn encode_into(&self, out: &mut Vec<u8>) -> Result<(), PduError> {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&self.body.command_id().to_be_bytes());
        out.extend_from_slice(&self.status.to_be_bytes());
        out.extend_from_slice(&self.sequence.to_be_bytes());
        let mut w = Writer { out };
        let written = match &self.body {
            Body::BindTransceiver(b) | Body::BindTransmitter(b) | Body::BindReceiver(b) => {
                w.bind(b)
            }
            Body::BindTransceiverResp(r)
            | Body::BindTransmitterResp(r)
            | Body::BindReceiverResp(r) => w
                .cstring("system_id", &r.system_id, 15)
                .and_then(|()| w.tlvs(&r.tlvs)),
            Body::SubmitSm(m) | Body::DeliverSm(m) => w.short_message(m),
            Body::SubmitSmResp { message_id } => w.cstring("message_id", message_id, 64),
            Body::DeliverSmResp => w.cstring("message_id", "", 64),
            Body::EnquireLink
            | Body::EnquireLinkResp
            | Body::Unbind
            | Body::UnbindResp
            | Body::GenericNack => Ok(()),
        };
        if let Err(e) = written {
            out.truncate(start);
            return Err(e);
        }
        let len = out.len() - start;
        if len > MAX_PDU_LEN {
            out.truncate(start);
            return Err(PduError::FieldTooLong {
                field: "the PDU",
                len,
                max: MAX_PDU_LEN,
            });
        }
        out[start..start + 4].copy_from_slice(&(len as u32).to_be_bytes());
        Ok(())
    }

    /// The PDU's bytes.
    pub fn encode(&self) -> Result<Vec<u8>, PduError> {
        let mut out = Vec::with_capacity(64);
        self.encode_into(&mut out)?;
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
