//! SIP messages at the edge: parsing received bytes, the lenient `400 Bad Request`
//! path for malformed requests, encoding, and builders for responses and requests.
//!
//! rsip supplies the message types ([`rsip::Request`], [`rsip::Response`]); its
//! errors never leave this module: they become [`SipError`] or a [`Malformed`]
//! verdict. Header values are read with the small helpers here (`header_value`,
//! [`param`], [`tag_of`], [`uri_of`]) that work on the raw text, so a header that
//! rsip's typed parsers would reject still yields its tag or branch.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use rand::Rng;
use rsip::headers::UntypedHeader;
use rsip::{Header, Headers, Method, StatusCode};

mod limits;

pub use limits::{HeadCounts, MessageLimits, Verdict, count_head};

/// Errors of the SIP layer, as the application sees them.
#[derive(Debug, thiserror::Error)]
pub enum SipError {
    /// A message could not be parsed or is missing something it needs.
    #[error("malformed SIP message: {0}")]
    Malformed(String),
    /// A header is missing from a message that must have it.
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// A URI could not be parsed.
    #[error("invalid URI `{0}`")]
    InvalidUri(String),
    /// A socket operation failed.
    #[error("transport error: {0}")]
    Io(#[from] std::io::Error),
    /// No transport is configured for the requested kind (UDP or TCP).
    #[error("no {0} transport is configured")]
    NoTransport(&'static str),
    /// A destination host name could not be resolved.
    #[error("cannot resolve `{0}`")]
    Resolve(String),
    /// The client transaction timed out (timer B or F) or the transport failed.
    #[error("the request timed out")]
    Timeout,
    /// The endpoint has shut down.
    #[error("the SIP endpoint has shut down")]
    Shutdown,
    /// The response arrived, but was not what the operation needed.
    #[error("unexpected response {0}")]
    Unexpected(u16),
    /// The INVITE was cancelled before it could be answered.
    #[error("the call was cancelled")]
    Cancelled,
    /// Digest authentication could not be completed.
    #[error("authentication failed: {0}")]
    Auth(String),
}

/// Message counters that the runtime exports as metrics. All fields only grow.
#[derive(Debug, Default)]
pub struct Counters {
    /// SIP messages received and parsed successfully.
    pub received: AtomicU64,
    /// Malformed messages dropped without any answer.
    pub malformed_dropped: AtomicU64,
    /// Malformed requests answered with `400 Bad Request` (or `501` for unknown methods).
    pub bad_request_sent: AtomicU64,
    /// Retransmissions sent by transactions and the 2xx retransmitter.
    pub retransmissions: AtomicU64,
    /// Retransmitted requests or responses received and absorbed.
    pub retransmissions_received: AtomicU64,
    /// Messages handed to a transport for sending.
    pub sent: AtomicU64,
    /// Messages refused by a size or header-count limit ([`MessageLimits`]):
    /// answered 513 or 400, or dropped.
    pub over_limits: AtomicU64,
    /// TCP connections refused because a connection cap was reached.
    pub connections_refused: AtomicU64,
    /// TCP connections closed because a message took too long or the connection
    /// stayed idle too long.
    pub connections_timed_out: AtomicU64,
    /// Sockets that could not be opened because the process had no file
    /// descriptor left (EMFILE/ENFILE).
    pub descriptors_exhausted: AtomicU64,
}

/// A point-in-time copy of [`Counters`].
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct CounterSnapshot {
    /// See [`Counters::received`].
    pub received: u64,
    /// See [`Counters::malformed_dropped`].
    pub malformed_dropped: u64,
    /// See [`Counters::bad_request_sent`].
    pub bad_request_sent: u64,
    /// See [`Counters::retransmissions`].
    pub retransmissions: u64,
    /// See [`Counters::retransmissions_received`].
    pub retransmissions_received: u64,
    /// See [`Counters::sent`].
    pub sent: u64,
    /// See [`Counters::over_limits`].
    pub over_limits: u64,
    /// See [`Counters::connections_refused`].
    pub connections_refused: u64,
    /// See [`Counters::connections_timed_out`].
    pub connections_timed_out: u64,
    /// See [`Counters::descriptors_exhausted`].
    pub descriptors_exhausted: u64,
}

impl Counters {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads all counters.
    pub fn snapshot(&self) -> CounterSnapshot {
        CounterSnapshot {
            received: self.received.load(Ordering::Relaxed),
            malformed_dropped: self.malformed_dropped.load(Ordering::Relaxed),
            bad_request_sent: self.bad_request_sent.load(Ordering::Relaxed),
            retransmissions: self.retransmissions.load(Ordering::Relaxed),
            retransmissions_received: self.retransmissions_received.load(Ordering::Relaxed),
            sent: self.sent.load(Ordering::Relaxed),
            over_limits: self.over_limits.load(Ordering::Relaxed),
            connections_refused: self.connections_refused.load(Ordering::Relaxed),
            connections_timed_out: self.connections_timed_out.load(Ordering::Relaxed),
            descriptors_exhausted: self.descriptors_exhausted.load(Ordering::Relaxed),
        }
    }
}

/// A received message that parsed and passed the checks every SIP message must pass.
#[derive(Debug, Clone)]
pub enum Inbound {
    /// A request.
    Request(rsip::Request),
    /// A response.
    Response(rsip::Response),
}

/// Why received bytes were not accepted, and what to answer if anything.
#[derive(Debug, Clone)]
pub struct Malformed {
    /// What was wrong, in words fit for a log line and a `Warning` header.
    pub reason: String,
    /// A ready-to-send `400 Bad Request` (or `501 Not Implemented`), when the
    /// message was a request whose Via, From, To, Call-ID and CSeq could be read.
    pub reply: Option<Bytes>,
}

/// Largest message we accept at all (datagram or stream).
pub const MAX_MESSAGE_SIZE: usize = 64 * 1024;

/// Parses one complete SIP message.
///
/// `datagram` selects the RFC 3261 18.3 rules for UDP: a body longer than
/// Content-Length is truncated, a shorter one is an error. Stream transports hand
/// over exactly one framed message. Never panics, whatever the bytes.
pub fn parse(data: &[u8], datagram: bool) -> Result<Inbound, Malformed> {
    let result = std::panic::catch_unwind(|| parse_inner(data, datagram));
    match result {
        Ok(r) => r,
        Err(_) => Err(lenient_reject(data, "the message could not be parsed")),
    }
}

fn parse_inner(data: &[u8], datagram: bool) -> Result<Inbound, Malformed> {
    if data.len() > MAX_MESSAGE_SIZE {
        return Err(Malformed {
            reason: "message too large".into(),
            reply: None,
        });
    }
    let Some(head_end) = find(data, b"\r\n\r\n") else {
        return Err(lenient_reject(data, "no empty line after the headers"));
    };
    let head = &data[..head_end];
    let mut body = &data[head_end + 4..];
    if std::str::from_utf8(head).is_err() {
        return Err(lenient_reject(data, "the headers are not valid UTF-8"));
    }
    // Unfold continuation lines (RFC 3261 7.3.1): rsip does not.
    let mut unfolded = unfold(head);
    let declared = content_length_raw(&unfolded);
    match declared {
        Some(Ok(len)) => {
            if len > body.len() {
                return Err(lenient_reject(
                    data,
                    "Content-Length is larger than the body",
                ));
            }
            if datagram || len < body.len() {
                body = &body[..len];
            }
        }
        Some(Err(())) => return Err(lenient_reject(data, "Content-Length is not a number")),
        None if !datagram => {
            return Err(lenient_reject(
                data,
                "Content-Length is required on a stream transport",
            ));
        }
        None => {}
    }
    let first_line = unfolded.split(|&b| b == b'\n').next().unwrap_or_default();
    let first_line = String::from_utf8_lossy(first_line);
    let first_line = first_line.trim_end_matches('\r');
    if !first_line.starts_with("SIP/") && first_line.split(' ').count() != 3 {
        return Err(lenient_reject(
            data,
            "the request line must be METHOD URI SIP/2.0",
        ));
    }
    unfolded.extend_from_slice(b"\r\n\r\n");
    unfolded.extend_from_slice(body);
    let msg = match rsip::SipMessage::try_from(unfolded.as_slice()) {
        Ok(m) => m,
        Err(e) => {
            return Err(lenient_reject(data, &describe_rsip_error(&e)));
        }
    };
    let msg = match msg {
        rsip::SipMessage::Request(mut r) => {
            normalize_headers(&mut r.headers);
            Inbound::Request(r)
        }
        rsip::SipMessage::Response(mut r) => {
            normalize_headers(&mut r.headers);
            Inbound::Response(r)
        }
    };
    if let Err(reason) = check(&msg) {
        return Err(match &msg {
            Inbound::Request(_) => lenient_reject(data, &reason),
            Inbound::Response(_) => Malformed {
                reason,
                reply: None,
            },
        });
    }
    Ok(msg)
}

fn describe_rsip_error(e: &rsip::Error) -> String {
    let text = e.to_string();
    // rsip error texts can echo arbitrarily long input: keep the gist.
    let mut short: String = text.chars().take(80).collect();
    if short.len() < text.len() {
        short.push_str("...");
    }
    format!("unparsable message ({short})")
}

/// Checks what every message needs before the transaction layer sees it.
fn check(msg: &Inbound) -> Result<(), String> {
    let headers = match msg {
        Inbound::Request(r) => &r.headers,
        Inbound::Response(r) => &r.headers,
    };
    let via = top_via(headers).ok_or("the Via header is missing")?;
    let via = parse_via(&via).ok_or("the Via header is malformed")?;
    if matches!(msg, Inbound::Request(_)) && via.branch.as_deref().is_none_or(str::is_empty) {
        return Err("the Via header has no branch".into());
    }
    for (name, present) in [
        ("From", header_value(headers, "From").is_some()),
        ("To", header_value(headers, "To").is_some()),
        ("Call-ID", header_value(headers, "Call-ID").is_some()),
    ] {
        if !present {
            return Err(format!("the {name} header is missing"));
        }
    }
    if header_value(headers, "Call-ID").is_some_and(|v| v.trim().is_empty()) {
        return Err("the Call-ID header is empty".into());
    }
    for name in ["From", "To"] {
        let value = header_value(headers, name).unwrap_or_default();
        if uri_of(&value).is_none() {
            return Err(format!("the {name} header has no URI"));
        }
    }
    let (_, cseq_method) = cseq(headers).ok_or("the CSeq header is missing or malformed")?;
    if let Inbound::Request(r) = msg {
        if cseq_method != r.method {
            return Err("the CSeq method does not match the request line".into());
        }
        if let Some(mf) = header_value(headers, "Max-Forwards")
            && mf.trim().parse::<u32>().is_err()
        {
            return Err("Max-Forwards is not a number".into());
        }
    }
    Ok(())
}

/// Builds the `400 Bad Request` answer for bytes that did not parse, reading the
/// needed headers leniently line by line; `reply` is `None` when that is impossible
/// (or when the bytes look like a response, which is never answered).
pub fn lenient_reject(data: &[u8], reason: &str) -> Malformed {
    let reason = sanitize(reason);
    let reply = lenient_reply(data, &reason, None);
    Malformed { reason, reply }
}

/// What a received message over a [`MessageLimits`] limit gets: `513 Message Too
/// Large` or `400 Bad Request` when SIP says so and the answer can be built from
/// a few headers, else nothing.
pub fn reject_over_limit(data: &[u8], verdict: &Verdict) -> Malformed {
    match verdict {
        Verdict::TooLarge => {
            let reason = format!("the message is {} bytes, more than taken", data.len());
            let reply = lenient_reply(data, &reason, Some((513, "Message Too Large")));
            Malformed { reason, reply }
        }
        Verdict::TooMany(why) => lenient_reject(data, why),
        Verdict::Drop(why) => Malformed {
            reason: sanitize(why),
            reply: None,
        },
    }
}

/// Most Via values an answer built here copies; a request with more gets none
/// (Max-Forwards starts at 70, so more means a loop or an attack).
const MAX_ANSWERED_VIAS: usize = 70;

fn lenient_reply(data: &[u8], reason: &str, status: Option<(u16, &str)>) -> Option<Bytes> {
    let text = String::from_utf8_lossy(&data[..data.len().min(MAX_MESSAGE_SIZE)]);
    let head = text.split("\r\n\r\n").next().unwrap_or("");
    let mut lines = head.split("\r\n");
    let first = lines.next()?.trim();
    if first.starts_with("SIP/") || first.is_empty() {
        return None;
    }
    let mut parts = first.split(' ');
    let method_token = parts.next().unwrap_or("");
    let request_line_ok = parts.next().is_some_and(|u| !u.is_empty())
        && parts
            .next()
            .is_some_and(|v| v.eq_ignore_ascii_case("SIP/2.0"))
        && parts.next().is_none()
        && !method_token.is_empty()
        && method_token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b));
    let mut vias = Vec::new();
    let (mut from, mut to, mut call_id, mut cseq_v) = (None, None, None, None);
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let name = name.trim();
        let value = value.trim();
        if value.is_empty() || value.len() > 1024 {
            continue;
        }
        match canonical_name(name) {
            "Via" => vias.push(value.to_string()),
            "From" => from = Some(value.to_string()),
            "To" => to = Some(value.to_string()),
            "Call-ID" => call_id = Some(value.to_string()),
            "CSeq" => cseq_v = Some(value.to_string()),
            _ => {}
        }
    }
    if vias.iter().map(|v| count_head_values(v)).sum::<usize>() > MAX_ANSWERED_VIAS {
        return None;
    }
    // Without a readable top Via there is nowhere a response could be routed.
    let top = vias
        .first()
        .and_then(|v| split_list(v).into_iter().next())?;
    parse_via(&top)?;
    let (from, to, call_id, cseq_v) = (from?, to?, call_id?, cseq_v?);
    if uri_of(&from).is_none() || uri_of(&to).is_none() || call_id.contains(char::is_whitespace) {
        return None;
    }
    // A CSeq that cannot be read is rebuilt from what can: the number (else 0) and
    // the method (else the request line's), so that the client can still match it.
    let mut cseq_parts = cseq_v.split_whitespace();
    let number = cseq_parts
        .next()
        .and_then(|n| n.parse::<u32>().ok())
        .unwrap_or(0);
    let is_token = |m: &&str| {
        m.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.!%*_+`'~".contains(&b))
    };
    let cseq_method = cseq_parts
        .next()
        .filter(|m| m.parse::<Method>().is_ok() || (!request_line_ok && is_token(m)))
        .or_else(|| (!method_token.is_empty() && is_token(&method_token)).then_some(method_token));
    if cseq_method.is_some_and(|m| m.eq_ignore_ascii_case("ACK")) || method_token == "ACK" {
        // ACK is never answered.
        return None;
    }
    let cseq_v = format!("{number} {}", cseq_method?);
    let known = Method::all()
        .iter()
        .any(|m| m.to_string().eq_ignore_ascii_case(method_token));
    let (code, phrase) = match status {
        Some(s) => s,
        None if request_line_ok && !known => (501, "Not Implemented"),
        None => (400, "Bad Request"),
    };
    let mut out = format!("SIP/2.0 {code} {phrase}\r\n");
    for v in &vias {
        let _ = write!(out, "Via: {v}\r\n");
    }
    let to = if tag_of(&to).is_none() {
        format!("{to};tag={}", new_tag())
    } else {
        to
    };
    let _ = write!(
        out,
        "From: {from}\r\nTo: {to}\r\nCall-ID: {call_id}\r\nCSeq: {cseq_v}\r\n"
    );
    let _ = write!(
        out,
        "Warning: 399 dialect \"{reason}\"\r\nContent-Length: 0\r\n\r\n"
    );
    Some(Bytes::from(out))
}

fn count_head_values(via: &str) -> usize {
    split_list(via).len()
}

fn sanitize(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control())
        .map(|c| if c == '"' || c == '\\' { '\'' } else { c })
        .take(200)
        .collect()
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn unfold(head: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(head.len());
    let mut i = 0;
    while i < head.len() {
        if head[i] == b'\r'
            && head.get(i + 1) == Some(&b'\n')
            && matches!(head.get(i + 2), Some(b' ' | b'\t'))
        {
            out.push(b' ');
            i += 3;
            while matches!(head.get(i), Some(b' ' | b'\t')) {
                i += 1;
            }
        } else {
            out.push(head[i]);
            i += 1;
        }
    }
    out
}

/// Content-Length from a raw header block: `None` if absent, `Err` if not a number.
fn content_length_raw(head: &[u8]) -> Option<Result<usize, ()>> {
    let text = std::str::from_utf8(head).ok()?;
    for line in text.split("\r\n").skip(1) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if canonical_name(name.trim()) == "Content-Length" {
            return Some(value.trim().parse::<usize>().map_err(|_| ()));
        }
    }
    None
}

/// The long form of a header name, for the compact forms of RFC 3261 7.3.3 and
/// case-insensitive matching of the names this layer reads.
pub fn canonical_name(name: &str) -> &str {
    const NAMES: [(&str, &str); 18] = [
        ("v", "Via"),
        ("via", "Via"),
        ("f", "From"),
        ("from", "From"),
        ("t", "To"),
        ("to", "To"),
        ("i", "Call-ID"),
        ("call-id", "Call-ID"),
        ("cseq", "CSeq"),
        ("m", "Contact"),
        ("contact", "Contact"),
        ("l", "Content-Length"),
        ("content-length", "Content-Length"),
        ("c", "Content-Type"),
        ("content-type", "Content-Type"),
        ("k", "Supported"),
        ("s", "Subject"),
        ("max-forwards", "Max-Forwards"),
    ];
    for (short, long) in NAMES {
        if name.eq_ignore_ascii_case(short) {
            return long;
        }
    }
    name
}

/// Turns compact header names (which rsip stores as `Other`) into typed variants.
fn normalize_headers(headers: &mut Headers) {
    let needs = headers
        .iter()
        .any(|h| matches!(h, Header::Other(n, _) if n.len() == 1));
    if !needs {
        return;
    }
    let old: Vec<Header> = std::mem::take(headers).into_iter().collect();
    for h in old {
        let h = match h {
            Header::Other(name, value) if name.len() == 1 => match canonical_name(&name) {
                "Via" => Header::Via(rsip::headers::Via::new(value)),
                "From" => Header::From(rsip::headers::From::new(value)),
                "To" => Header::To(rsip::headers::To::new(value)),
                "Call-ID" => Header::CallId(rsip::headers::CallId::new(value)),
                "Contact" => Header::Contact(rsip::headers::Contact::new(value)),
                "Content-Length" => Header::ContentLength(rsip::headers::ContentLength::new(value)),
                "Content-Type" => Header::ContentType(rsip::headers::ContentType::new(value)),
                "Supported" => Header::Supported(rsip::headers::Supported::new(value)),
                "Subject" => Header::Subject(rsip::headers::Subject::new(value)),
                _ => Header::Other(name, value),
            },
            h => h,
        };
        headers.push(h);
    }
}

/// The header name of an rsip header, in its canonical spelling.
pub fn header_name(h: &Header) -> &str {
    match h {
        Header::Via(_) => "Via",
        Header::From(_) => "From",
        Header::To(_) => "To",
        Header::CallId(_) => "Call-ID",
        Header::CSeq(_) => "CSeq",
        Header::Contact(_) => "Contact",
        Header::ContentLength(_) => "Content-Length",
        Header::ContentType(_) => "Content-Type",
        Header::MaxForwards(_) => "Max-Forwards",
        Header::Route(_) => "Route",
        Header::RecordRoute(_) => "Record-Route",
        Header::Expires(_) => "Expires",
        Header::Authorization(_) => "Authorization",
        Header::ProxyAuthorization(_) => "Proxy-Authorization",
        Header::WwwAuthenticate(_) => "WWW-Authenticate",
        Header::ProxyAuthenticate(_) => "Proxy-Authenticate",
        Header::Allow(_) => "Allow",
        Header::Accept(_) => "Accept",
        Header::Supported(_) => "Supported",
        Header::Require(_) => "Require",
        Header::UserAgent(_) => "User-Agent",
        Header::Server(_) => "Server",
        Header::MinExpires(_) => "Min-Expires",
        Header::Warning(_) => "Warning",
        Header::Subject(_) => "Subject",
        Header::Other(name, _) => canonical_name(name),
        _ => "",
    }
}

/// The raw value of an rsip header.
pub fn raw_value(h: &Header) -> String {
    match h {
        Header::Other(_, v) => v.clone(),
        h => {
            let s = h.to_string();
            match s.split_once(':') {
                Some((_, v)) => v.trim().to_string(),
                None => s,
            }
        }
    }
}

/// The value of the first header called `name` (canonical spelling), if any.
pub fn header_value(headers: &Headers, name: &str) -> Option<String> {
    headers
        .iter()
        .find(|h| header_name(h).eq_ignore_ascii_case(name))
        .map(raw_value)
}

/// All values of headers called `name`, with comma-separated lists split apart
/// (only for headers whose grammar allows it: Via, Route, Record-Route, Contact).
pub fn header_values(headers: &Headers, name: &str) -> Vec<String> {
    headers
        .iter()
        .filter(|h| header_name(h).eq_ignore_ascii_case(name))
        .flat_map(|h| split_list(&raw_value(h)))
        .collect()
}

/// Splits a header value on commas that are outside quotes and angle brackets.
pub fn split_list(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let (mut quoted, mut angle, mut start) = (false, false, 0);
    let bytes = value.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if quoted => i += 1,
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                let part = value[start..i].trim();
                if !part.is_empty() {
                    out.push(part.to_string());
                }
                start = i + 1;
            }
            _ => {}
        }
        i += 1;
    }
    if start <= value.len() {
        let part = value.get(start..).unwrap_or("").trim();
        if !part.is_empty() {
            out.push(part.to_string());
        }
    }
    out
}

/// The header parameters of a value such as `<sip:a@b>;tag=1;lr` (the part after
/// the URI). Returns `Some(None)` for a flag parameter, `Some(Some(v))` for a value.
pub fn param(value: &str, name: &str) -> Option<Option<String>> {
    let params = header_params(value);
    for p in params.split(';') {
        let p = p.trim();
        let (n, v) = match p.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"').to_string())),
            None => (p, None),
        };
        if n.eq_ignore_ascii_case(name) {
            return Some(v);
        }
    }
    None
}

/// The part of a header value after its URI: the header parameters.
fn header_params(value: &str) -> &str {
    if let Some(close) = value.rfind('>')
        && value[..close].contains('<')
    {
        return &value[close + 1..];
    }
    // Without angle brackets, parameters after the URI belong to the header.
    match value.find(';') {
        Some(i) => &value[i..],
        None => "",
    }
}

/// The `tag` parameter of a From or To value.
pub fn tag_of(value: &str) -> Option<String> {
    param(value, "tag").flatten().filter(|t| !t.is_empty())
}

/// The URI text of a name-addr or addr-spec (`"Bob" <sip:b@h>;tag=x` -> `sip:b@h`).
pub fn uri_of(value: &str) -> Option<String> {
    let v = value.trim();
    if let (Some(open), Some(close)) = (v.find('<'), v.rfind('>')) {
        if open < close {
            let uri = v[open + 1..close].trim();
            return (!uri.is_empty()).then(|| uri.to_string());
        }
        return None;
    }
    let uri = v.split(';').next().unwrap_or("").trim();
    (uri.contains(':') && !uri.contains(' ')).then(|| uri.to_string())
}

/// The user part of a SIP URI text (`sip:1001@host` -> `1001`).
pub fn uri_user(uri: &str) -> Option<String> {
    let rest = uri.split_once(':')?.1;
    let (user, _) = rest.split_once('@')?;
    let user = user.split(':').next().unwrap_or(user);
    (!user.is_empty()).then(|| user.to_string())
}

/// The host and port of a SIP URI text (`sip:1001@10.0.0.1:5062;transport=tcp`).
pub fn uri_host_port(uri: &str) -> Option<(String, Option<u16>)> {
    let rest = uri.split_once(':')?.1;
    let rest = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
    let hostport = rest.split([';', '?']).next()?;
    split_host_port(hostport)
}

/// Splits `host[:port]`, including `[v6]:port`.
pub fn split_host_port(hostport: &str) -> Option<(String, Option<u16>)> {
    let hostport = hostport.trim();
    if hostport.is_empty() {
        return None;
    }
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        return Some((host.to_string(), port));
    }
    match hostport.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => Some((h.to_string(), Some(p.parse().ok()?))),
        Some(_) => Some((hostport.to_string(), None)),
        None => Some((hostport.to_string(), None)),
    }
}

/// The parts of a Via header value that the transaction and transport layers use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViaInfo {
    /// `UDP`, `TCP`, ... as written, upper-cased.
    pub transport: String,
    /// The sent-by host.
    pub host: String,
    /// The sent-by port, if written.
    pub port: Option<u16>,
    /// The branch parameter: the transaction's id.
    pub branch: Option<String>,
    /// `Some(None)` for a bare `rport` (RFC 3581), `Some(Some(p))` once filled in.
    pub rport: Option<Option<u16>>,
    /// The `received` parameter: the source address a server saw
    /// ([`stamp_received`]).
    pub received: Option<String>,
}

impl ViaInfo {
    /// `host:port` as written, the key part of server transaction matching.
    pub fn sent_by(&self) -> String {
        match self.port {
            Some(p) => format!("{}:{p}", self.host),
            None => self.host.clone(),
        }
    }
}

/// Parses one Via value (`SIP/2.0/UDP host:port;branch=...`).
pub fn parse_via(value: &str) -> Option<ViaInfo> {
    let value = value.trim();
    let (proto, rest) = value.split_once(|c: char| c.is_ascii_whitespace())?;
    let mut proto_parts = proto.split('/');
    let name = proto_parts.next()?.trim();
    let version = proto_parts.next()?.trim();
    let transport = proto_parts.next()?.trim().to_ascii_uppercase();
    if !name.eq_ignore_ascii_case("SIP") || version != "2.0" || transport.is_empty() {
        return None;
    }
    let rest = rest.trim();
    let (hostport, params) = match rest.find(';') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = split_host_port(hostport)?;
    if host.is_empty() || host.contains(char::is_whitespace) {
        return None;
    }
    let mut info = ViaInfo {
        transport,
        host,
        port,
        branch: None,
        rport: None,
        received: None,
    };
    for p in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (n, v) = match p.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim())),
            None => (p, None),
        };
        if n.eq_ignore_ascii_case("branch") {
            info.branch = v.map(str::to_string);
        } else if n.eq_ignore_ascii_case("rport") {
            info.rport = Some(v.and_then(|v| v.parse().ok()));
        } else if n.eq_ignore_ascii_case("received") {
            info.received = v.map(str::to_string);
        }
    }
    Some(info)
}

/// The first Via value (the one this hop added), if any.
pub fn top_via(headers: &Headers) -> Option<String> {
    headers
        .iter()
        .find(|h| matches!(h, Header::Via(_)))
        .and_then(|h| split_list(&raw_value(h)).into_iter().next())
}

/// The CSeq number and method.
pub fn cseq(headers: &Headers) -> Option<(u32, Method)> {
    let v = header_value(headers, "CSeq")?;
    let mut it = v.split_whitespace();
    let n = it.next()?.parse().ok()?;
    let m = it.next()?.parse().ok()?;
    if it.next().is_some() {
        return None;
    }
    Some((n, m))
}

/// The Call-ID value, trimmed; `None` when the header is missing.
pub fn call_id(headers: &Headers) -> Option<String> {
    header_value(headers, "Call-ID").map(|v| v.trim().to_string())
}

/// The tag of the From header; `None` when the header or its tag is missing.
pub fn from_tag(headers: &Headers) -> Option<String> {
    header_value(headers, "From").and_then(|v| tag_of(&v))
}

/// The tag of the To header.
pub fn to_tag(headers: &Headers) -> Option<String> {
    header_value(headers, "To").and_then(|v| tag_of(&v))
}

/// Adds `received` (and fills `rport`) on the top Via of a request, per RFC 3261
/// 18.2.1 and RFC 3581, from the address it really came from.
pub fn stamp_received(req: &mut rsip::Request, source: SocketAddr) {
    let Some(pos) = req.headers.iter().position(|h| matches!(h, Header::Via(_))) else {
        return;
    };
    let Some(h) = req.headers.iter().nth(pos) else {
        return;
    };
    let mut values = split_list(&raw_value(h));
    let Some(top) = values.first().cloned() else {
        return;
    };
    let Some(info) = parse_via(&top) else { return };
    let ip = source.ip();
    let host_matches = info
        .host
        .trim_matches(|c| c == '[' || c == ']')
        .parse::<IpAddr>()
        .is_ok_and(|h| h == ip);
    let mut new_top = String::with_capacity(top.len() + 32);
    for (i, part) in top.split(';').enumerate() {
        let name = part.split('=').next().unwrap_or("").trim();
        if i > 0 && (name.eq_ignore_ascii_case("received") || name.eq_ignore_ascii_case("rport")) {
            continue;
        }
        if i > 0 {
            new_top.push(';');
        }
        new_top.push_str(part);
    }
    if !host_matches || info.rport.is_some() {
        let _ = write!(new_top, ";received={ip}");
    }
    if info.rport.is_some() {
        let _ = write!(new_top, ";rport={}", source.port());
    }
    if new_top == top {
        return;
    }
    values[0] = new_top;
    let joined = values.join(", ");
    let mut all: Vec<Header> = std::mem::take(&mut req.headers).into_iter().collect();
    all[pos] = Header::Via(rsip::headers::Via::new(joined));
    req.headers = all.into();
}

/// Where a response to a request goes (RFC 3261 18.2.2, RFC 3581): the address in
/// `received`/`rport` of the top Via, or its sent-by.
pub fn response_destination(via: &ViaInfo) -> Option<(String, u16)> {
    let host = via.received.clone().unwrap_or_else(|| via.host.clone());
    let default_port = if via.transport == "TLS" { 5061 } else { 5060 };
    let port = match via.rport {
        Some(Some(p)) => p,
        _ => via.port.unwrap_or(default_port),
    };
    Some((host, port))
}

/// A fresh branch parameter with the RFC 3261 magic cookie.
pub fn new_branch() -> String {
    format!("z9hG4bK{}", random_token(16))
}

/// A fresh From/To tag.
pub fn new_tag() -> String {
    random_token(12)
}

/// A fresh Call-ID.
pub fn new_call_id() -> String {
    random_token(24)
}

/// A random alphanumeric token of `len` characters.
pub fn random_token(len: usize) -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..len)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// The usual reason phrase of a status code.
pub fn reason_phrase(code: u16) -> &'static str {
    match code {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        415 => "Unsupported Media Type",
        420 => "Bad Extension",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => "Unknown",
    }
}

/// Serialises a request with a correct Content-Length.
pub fn encode_request(req: &rsip::Request) -> Bytes {
    let mut out = format!("{} {} SIP/2.0\r\n", req.method, req.uri);
    encode_rest(&mut out, &req.headers, &req.body)
}

/// Serialises a response with a correct Content-Length and a readable reason phrase.
pub fn encode_response(resp: &rsip::Response) -> Bytes {
    let code = resp.status_code.code();
    let phrase = match &resp.status_code {
        StatusCode::Other(_, p) if p != "Other" => p.as_str(),
        _ => reason_phrase(code),
    };
    let mut out = format!("SIP/2.0 {code} {phrase}\r\n");
    encode_rest(&mut out, &resp.headers, &resp.body)
}

fn encode_rest(out: &mut String, headers: &Headers, body: &[u8]) -> Bytes {
    for h in headers.iter() {
        if matches!(h, Header::ContentLength(_)) || header_name(h) == "Content-Length" {
            continue;
        }
        let name = header_name(h);
        let value = raw_value(h);
        if name.is_empty() {
            let _ = write!(out, "{h}\r\n");
        } else {
            let _ = write!(out, "{name}: {value}\r\n");
        }
    }
    let _ = write!(out, "Content-Length: {}\r\n\r\n", body.len());
    let mut bytes = out.clone().into_bytes();
    bytes.extend_from_slice(body);
    Bytes::from(bytes)
}

/// Serialises either kind of message.
pub fn encode(msg: &Inbound) -> Bytes {
    match msg {
        Inbound::Request(r) => encode_request(r),
        Inbound::Response(r) => encode_response(r),
    }
}

/// Builds a response to `req`: copies Via, From, To, Call-ID and CSeq (RFC 3261
/// 8.2.6.2), adds `to_tag` to To when it has none, and copies Record-Route for
/// responses that can create a dialog (12.1.1).
pub fn response_for(req: &rsip::Request, code: u16, to_tag: Option<&str>) -> rsip::Response {
    let mut headers = Headers::default();
    for h in req.headers.iter() {
        match h {
            Header::Via(_) | Header::From(_) | Header::CallId(_) | Header::CSeq(_) => {
                headers.push(h.clone())
            }
            Header::To(to) => {
                let value = to.value().to_string();
                let value = match (tag_of(&value), to_tag) {
                    (None, Some(tag)) if code != 100 => format!("{value};tag={tag}"),
                    _ => value,
                };
                headers.push(Header::To(rsip::headers::To::new(value)));
            }
            Header::RecordRoute(_)
                if (101..300).contains(&code)
                    && matches!(req.method, Method::Invite | Method::Subscribe) =>
            {
                headers.push(h.clone())
            }
            _ => {}
        }
    }
    rsip::Response {
        status_code: StatusCode::from(code),
        version: rsip::Version::V2,
        headers,
        body: Vec::new(),
    }
}

/// Sets (replaces) a header by name on a header list.
pub fn set_header(headers: &mut Headers, header: Header) {
    let name = header_name(&header).to_string();
    headers.retain(|h| !header_name(h).eq_ignore_ascii_case(&name));
    headers.push(header);
}

/// Adds an arbitrary header by name and value.
pub fn other(name: &str, value: impl Into<String>) -> Header {
    Header::Other(name.to_string(), value.into())
}

/// Parses a URI text into rsip's type.
pub fn parse_uri(text: &str) -> Result<rsip::Uri, SipError> {
    std::panic::catch_unwind(|| rsip::Uri::try_from(text))
        .ok()
        .and_then(Result::ok)
        .ok_or_else(|| SipError::InvalidUri(text.to_string()))
}

#[cfg(test)]
mod tests;
