//! Dialog state (RFC 3261 section 12) and the requests built inside a dialog.
//!
//! A [`Dialog`] is plain data owned by the call task: Call-ID and tags, both
//! CSeqs, the remote target and the route set from Record-Route (kept in order as
//! UAS, reversed as UAC). It builds in-dialog requests (BYE, re-INVITE, INFO,
//! REFER, the ACK for a 2xx) with loose or strict routing, and checks incoming
//! in-dialog requests (CSeq order, target refresh). Sending is the endpoint's job.

use rsip::headers::UntypedHeader;
use rsip::{Header, Headers, Method};

use super::message::{self, SipError};
use super::transport::{Target, TransportKind};

/// Identifies a dialog from our side.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DialogId {
    /// The Call-ID, the same on both sides of the dialog.
    pub call_id: String,
    /// Our tag (From tag of requests we send, To tag of requests we receive).
    pub local_tag: String,
    /// The peer's tag (empty if the peer sent none).
    pub remote_tag: String,
}

impl DialogId {
    /// The dialog a received request belongs to (To tag is ours).
    pub fn of_request(req: &rsip::Request) -> Option<Self> {
        Some(Self {
            call_id: message::call_id(&req.headers)?,
            local_tag: message::to_tag(&req.headers)?,
            remote_tag: message::from_tag(&req.headers).unwrap_or_default(),
        })
    }

    /// The dialog a received response belongs to (From tag is ours).
    pub fn of_response(resp: &rsip::Response) -> Option<Self> {
        Some(Self {
            call_id: message::call_id(&resp.headers)?,
            local_tag: message::from_tag(&resp.headers)?,
            remote_tag: message::to_tag(&resp.headers).unwrap_or_default(),
        })
    }
}

/// Which side of the dialog-creating INVITE we were on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// We sent the INVITE.
    Uac,
    /// We received the INVITE.
    Uas,
}

/// Whether the dialog has been answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DialogState {
    /// Created by a provisional response with a tag.
    Early,
    /// Created or confirmed by a 2xx.
    Confirmed,
}

/// Why an incoming in-dialog request must be refused (RFC 3261 12.2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestCheck {
    /// Process it.
    Ok,
    /// The CSeq is lower than one already seen: answer 500.
    OutOfOrder,
}

/// The state of one dialog.
#[derive(Debug, Clone)]
pub struct Dialog {
    /// Call-ID and tags.
    pub id: DialogId,
    /// UAC or UAS.
    pub role: Role,
    /// Early or confirmed.
    pub state: DialogState,
    /// Our name-addr (without tag): the From of requests we send.
    pub local_uri: String,
    /// The peer's name-addr (without tag): the To of requests we send.
    pub remote_uri: String,
    /// CSeq of the last request we sent in this dialog.
    pub local_seq: u32,
    /// CSeq of the last request the peer sent, if any.
    pub remote_seq: Option<u32>,
    /// The peer's Contact URI: the Request-URI of our requests.
    pub remote_target: String,
    /// Route header values for our requests, in the order they are sent.
    pub route_set: Vec<String>,
    /// Our Contact URI.
    pub local_contact: String,
    /// The transport the dialog was set up on; used when a URI names none.
    pub transport: TransportKind,
    /// Where the dialog-creating request came from or went to, used when the
    /// next hop cannot be resolved (and for connection reuse).
    pub flow: Target,
}

/// Removes the `tag` parameter from a From/To value.
pub fn strip_tag(value: &str) -> String {
    let v = value.trim();
    let (uri_part, params) = match v.rfind('>') {
        Some(i) if v[..i].contains('<') => (&v[..=i], &v[i + 1..]),
        _ => match v.find(';') {
            Some(i) => (&v[..i], &v[i..]),
            None => (v, ""),
        },
    };
    let mut out = uri_part.to_string();
    for p in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let name = p.split('=').next().unwrap_or("").trim();
        if !name.eq_ignore_ascii_case("tag") {
            out.push(';');
            out.push_str(p);
        }
    }
    out
}

impl Dialog {
    /// The dialog a UAS creates for a received INVITE, with our chosen tag.
    pub fn uas(
        invite: &rsip::Request,
        local_tag: &str,
        local_contact: &str,
        source: Target,
    ) -> Result<Self, SipError> {
        let h = &invite.headers;
        let call_id = message::call_id(h).ok_or(SipError::MissingHeader("Call-ID"))?;
        let from = message::header_value(h, "From").ok_or(SipError::MissingHeader("From"))?;
        let to = message::header_value(h, "To").ok_or(SipError::MissingHeader("To"))?;
        let (seq, _) = message::cseq(h).ok_or(SipError::MissingHeader("CSeq"))?;
        let remote_target = message::header_values(h, "Contact")
            .first()
            .and_then(|c| message::uri_of(c))
            .unwrap_or_else(|| message::uri_of(&from).unwrap_or_default());
        Ok(Self {
            id: DialogId {
                call_id,
                local_tag: local_tag.to_string(),
                remote_tag: message::tag_of(&from).unwrap_or_default(),
            },
            role: Role::Uas,
            state: DialogState::Early,
            local_uri: strip_tag(&to),
            remote_uri: strip_tag(&from),
            local_seq: rand::random_range(1..10_000),
            remote_seq: Some(seq),
            remote_target,
            route_set: message::header_values(h, "Record-Route"),
            local_contact: local_contact.to_string(),
            transport: source.transport,
            flow: source,
        })
    }

    /// The dialog a UAC gets from a response with a To tag to its INVITE.
    pub fn uac(
        invite: &rsip::Request,
        resp: &rsip::Response,
        local_contact: &str,
        flow: Target,
    ) -> Result<Self, SipError> {
        let h = &invite.headers;
        let call_id = message::call_id(h).ok_or(SipError::MissingHeader("Call-ID"))?;
        let from = message::header_value(h, "From").ok_or(SipError::MissingHeader("From"))?;
        let to = message::header_value(&resp.headers, "To").ok_or(SipError::MissingHeader("To"))?;
        let (seq, _) = message::cseq(h).ok_or(SipError::MissingHeader("CSeq"))?;
        let remote_target = message::header_values(&resp.headers, "Contact")
            .first()
            .and_then(|c| message::uri_of(c))
            .unwrap_or_else(|| invite.uri.to_string());
        let mut route_set = message::header_values(&resp.headers, "Record-Route");
        route_set.reverse();
        let code = resp.status_code.code();
        Ok(Self {
            id: DialogId {
                call_id,
                local_tag: message::tag_of(&from).unwrap_or_default(),
                remote_tag: message::tag_of(&to).unwrap_or_default(),
            },
            role: Role::Uac,
            state: if (200..300).contains(&code) {
                DialogState::Confirmed
            } else {
                DialogState::Early
            },
            local_uri: strip_tag(&from),
            remote_uri: strip_tag(&to),
            local_seq: seq,
            remote_seq: None,
            remote_target,
            route_set,
            local_contact: local_contact.to_string(),
            transport: flow.transport,
            flow,
        })
    }

    /// Whether a received request belongs to this dialog.
    pub fn matches(&self, req: &rsip::Request) -> bool {
        DialogId::of_request(req).is_some_and(|id| id == self.id)
    }

    /// Checks a received in-dialog request and applies it: CSeq order (12.2.2)
    /// and, for re-INVITE/UPDATE, the new remote target from Contact.
    pub fn on_request(&mut self, req: &rsip::Request) -> RequestCheck {
        let Some((seq, _)) = message::cseq(&req.headers) else {
            return RequestCheck::OutOfOrder;
        };
        if req.method != Method::Ack && req.method != Method::Cancel {
            if self.remote_seq.is_some_and(|last| seq <= last) {
                return RequestCheck::OutOfOrder;
            }
            self.remote_seq = Some(seq);
        }
        if matches!(req.method, Method::Invite | Method::Update)
            && let Some(uri) = message::header_values(&req.headers, "Contact")
                .first()
                .and_then(|c| message::uri_of(c))
        {
            self.remote_target = uri;
        }
        RequestCheck::Ok
    }

    /// Applies a 2xx to our re-INVITE: the peer's Contact is the new target.
    pub fn on_target_refresh_response(&mut self, resp: &rsip::Response) {
        if let Some(uri) = message::header_values(&resp.headers, "Contact")
            .first()
            .and_then(|c| message::uri_of(c))
        {
            self.remote_target = uri;
        }
    }

    /// The URI of the next hop: the first route, or the remote target.
    pub fn next_hop(&self) -> String {
        match self.route_set.first() {
            Some(r) => message::uri_of(r).unwrap_or_else(|| self.remote_target.clone()),
            None => self.remote_target.clone(),
        }
    }

    /// A new in-dialog request (without Via, which the endpoint adds). Takes the
    /// next local CSeq unless the method is ACK or CANCEL.
    pub fn new_request(&mut self, method: Method) -> Result<rsip::Request, SipError> {
        if !matches!(method, Method::Ack | Method::Cancel) {
            self.local_seq = self.local_seq.wrapping_add(1);
        }
        self.build(method, self.local_seq)
    }

    /// The ACK for a 2xx to the INVITE with CSeq `invite_seq` (RFC 3261 13.2.2.4).
    pub fn ack(&self, invite_seq: u32) -> Result<rsip::Request, SipError> {
        self.build(Method::Ack, invite_seq)
    }

    fn build(&self, method: Method, seq: u32) -> Result<rsip::Request, SipError> {
        let mut headers = Headers::default();
        let strict = self
            .route_set
            .first()
            .is_some_and(|r| message::param(r, "lr").is_none() && !uri_has_lr(r));
        let uri_text = if strict {
            // Strict routing (12.2.1.1): the first route becomes the Request-URI.
            message::uri_of(&self.route_set[0]).unwrap_or_else(|| self.remote_target.clone())
        } else {
            self.remote_target.clone()
        };
        let routes: Vec<String> = if strict {
            let mut r: Vec<String> = self.route_set[1..].to_vec();
            r.push(format!("<{}>", self.remote_target));
            r
        } else {
            self.route_set.clone()
        };
        for r in routes {
            headers.push(Header::Route(rsip::headers::Route::new(r)));
        }
        headers.push(Header::MaxForwards(rsip::headers::MaxForwards::from(70u32)));
        headers.push(Header::From(rsip::headers::From::new(format!(
            "{};tag={}",
            self.local_uri, self.id.local_tag
        ))));
        let to = if self.id.remote_tag.is_empty() {
            self.remote_uri.clone()
        } else {
            format!("{};tag={}", self.remote_uri, self.id.remote_tag)
        };
        headers.push(Header::To(rsip::headers::To::new(to)));
        headers.push(Header::CallId(rsip::headers::CallId::new(
            self.id.call_id.clone(),
        )));
        headers.push(Header::CSeq(rsip::headers::CSeq::new(format!(
            "{seq} {method}"
        ))));
        if matches!(method, Method::Invite | Method::Update | Method::Refer) {
            headers.push(Header::Contact(rsip::headers::Contact::new(format!(
                "<{}>",
                self.local_contact
            ))));
        }
        Ok(rsip::Request {
            method,
            uri: message::parse_uri(&uri_text)?,
            version: rsip::Version::V2,
            headers,
            body: Vec::new(),
        })
    }
}

fn uri_has_lr(route: &str) -> bool {
    message::uri_of(route).is_some_and(|u| {
        u.split(';')
            .skip(1)
            .any(|p| p.trim().eq_ignore_ascii_case("lr") || p.trim().starts_with("lr="))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{Inbound, parse};

    fn invite() -> rsip::Request {
        let text = "INVITE sip:ivr@10.0.0.2 SIP/2.0\r\n\
Via: SIP/2.0/UDP 10.0.0.9;branch=z9hG4bKp1\r\n\
Via: SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKa1\r\n\
Record-Route: <sip:10.0.0.9;lr>\r\n\
Record-Route: <sip:10.0.0.8;lr>\r\n\
From: \"Alice\" <sip:alice@a.example>;tag=ft\r\n\
To: <sip:ivr@b.example>\r\n\
Call-ID: c1\r\n\
CSeq: 7 INVITE\r\n\
Contact: <sip:alice@10.0.0.1:5070>\r\n\
Content-Length: 0\r\n\r\n";
        match parse(text.as_bytes(), true).unwrap() {
            Inbound::Request(r) => r,
            _ => unreachable!(),
        }
    }

    fn flow() -> Target {
        Target {
            transport: TransportKind::Udp,
            addr: "10.0.0.9:5060".parse().unwrap(),
        }
    }

    #[test]
    fn uas_dialog_builds_a_loose_routed_bye() {
        let mut d = Dialog::uas(&invite(), "lt", "sip:ivr@10.0.0.2:5060", flow()).unwrap();
        assert_eq!(d.id.remote_tag, "ft");
        assert_eq!(d.next_hop(), "sip:10.0.0.9;lr");
        let seq = d.local_seq;
        let bye = d.new_request(Method::Bye).unwrap();
        assert_eq!(bye.uri.to_string(), "sip:alice@10.0.0.1:5070");
        let routes = message::header_values(&bye.headers, "Route");
        assert_eq!(routes, vec!["<sip:10.0.0.9;lr>", "<sip:10.0.0.8;lr>"]);
        assert_eq!(message::cseq(&bye.headers), Some((seq + 1, Method::Bye)));
        assert_eq!(message::from_tag(&bye.headers).as_deref(), Some("lt"));
        assert_eq!(message::to_tag(&bye.headers).as_deref(), Some("ft"));
        assert_eq!(
            message::header_value(&bye.headers, "From").unwrap(),
            "<sip:ivr@b.example>;tag=lt"
        );
    }

    #[test]
    fn in_dialog_requests_are_checked_for_order_and_refresh_the_target() {
        let mut d = Dialog::uas(&invite(), "lt", "sip:ivr@10.0.0.2", flow()).unwrap();
        let mut reinvite = invite();
        reinvite
            .headers
            .retain(|h| !matches!(h, Header::CSeq(_) | Header::Contact(_)));
        reinvite
            .headers
            .push(Header::CSeq(rsip::headers::CSeq::new("8 INVITE")));
        reinvite
            .headers
            .push(Header::Contact(rsip::headers::Contact::new(
                "<sip:alice@10.0.0.5>",
            )));
        assert_eq!(d.on_request(&reinvite), RequestCheck::Ok);
        assert_eq!(d.remote_target, "sip:alice@10.0.0.5");
        assert_eq!(d.on_request(&reinvite), RequestCheck::OutOfOrder);
    }

    #[test]
    fn uac_dialog_reverses_record_route_and_acks_with_the_invite_cseq() {
        let inv = invite();
        let mut resp = message::response_for(&inv, 200, Some("rt"));
        resp.headers
            .push(Header::Contact(rsip::headers::Contact::new(
                "<sip:bob@10.0.0.3>",
            )));
        // Pretend we were the UAC of this INVITE.
        let d = Dialog::uac(&inv, &resp, "sip:me@10.0.0.1", flow()).unwrap();
        assert_eq!(d.id.local_tag, "ft");
        assert_eq!(d.id.remote_tag, "rt");
        assert_eq!(d.route_set, vec!["<sip:10.0.0.8;lr>", "<sip:10.0.0.9;lr>"]);
        let ack = d.ack(7).unwrap();
        assert_eq!(message::cseq(&ack.headers), Some((7, Method::Ack)));
        assert_eq!(ack.uri.to_string(), "sip:bob@10.0.0.3");
    }

    #[test]
    fn strict_route_becomes_the_request_uri() {
        let mut d = Dialog::uas(&invite(), "lt", "sip:ivr@10.0.0.2", flow()).unwrap();
        d.route_set = vec!["<sip:10.0.0.9>".into(), "<sip:10.0.0.8;lr>".into()];
        let info = d.new_request(Method::Info).unwrap();
        assert_eq!(info.uri.to_string(), "sip:10.0.0.9");
        assert_eq!(
            message::header_values(&info.headers, "Route"),
            vec!["<sip:10.0.0.8;lr>", "<sip:alice@10.0.0.1:5070>"]
        );
    }

    #[test]
    fn strip_tag_keeps_other_params() {
        assert_eq!(strip_tag("<sip:a@b>;tag=1;x=2"), "<sip:a@b>;x=2");
        assert_eq!(strip_tag("sip:a@b;tag=1"), "sip:a@b");
    }
}
