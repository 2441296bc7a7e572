//! Limits on what one received message may hold, checked on the raw bytes before
//! rsip builds anything from them.
//!
//! A server transaction keeps its request until timer J or H ends it (32 s on UDP),
//! and rsip turns every header into owned strings; a datagram of 800 Vias costs
//! far more memory than its 55 KB. So size and header counts are checked here, at
//! the edge, by counting lines and list items without allocating: a message over
//! a limit never reaches rsip, a transaction or the application. What is answered
//! is what SIP says ([`Verdict`]); what deserves no answer is dropped and counted.

/// The limits applied to every received message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageLimits {
    /// Largest UDP datagram taken (RFC 3261 18.1.1 sends anything near the MTU
    /// over TCP, so 16 KiB leaves room for every real request).
    pub max_datagram: usize,
    /// Largest message over a stream transport (TCP), headers and body.
    pub max_stream: usize,
    /// Most header lines (a folded line counts once).
    pub max_headers: usize,
    /// Most Via values: more than any real path has (Max-Forwards starts at 70,
    /// and a response must repeat every one of them).
    pub max_vias: usize,
    /// Most Route values, and separately most Record-Route values.
    pub max_routes: usize,
}

impl Default for MessageLimits {
    fn default() -> Self {
        Self {
            max_datagram: 16 * 1024,
            max_stream: super::MAX_MESSAGE_SIZE,
            max_headers: 128,
            max_vias: 32,
            max_routes: 32,
        }
    }
}

/// What to do with a message over a limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// A request too large: `513 Message Too Large` (RFC 3261 21.5.14), when an
    /// answer can be built and is small.
    TooLarge,
    /// A request with too many Route, Record-Route or header lines: `400 Bad
    /// Request` naming the header (the answer copies none of them).
    TooMany(String),
    /// Too many Vias, or too large to read at all: no answer, since every Via
    /// would have to be repeated in it.
    Drop(String),
}

/// Header counts of a message head (the text before the empty line).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct HeadCounts {
    /// Header lines (continuation lines belong to the header they continue).
    pub headers: usize,
    /// Via values (comma-separated values counted one by one).
    pub vias: usize,
    /// Route values (comma-separated values counted one by one).
    pub routes: usize,
    /// Record-Route values (comma-separated values counted one by one).
    pub record_routes: usize,
}

/// Counts the headers of a raw head; the request or status line is not a
/// header. Allocates only when the head has folded lines (rare), to unfold them.
pub fn count_head(head: &[u8]) -> HeadCounts {
    let folded = head
        .windows(2)
        .any(|w| w[0] == b'\n' && matches!(w[1], b' ' | b'\t'));
    if folded {
        count_lines(&super::unfold(head))
    } else {
        count_lines(head)
    }
}

fn count_lines(head: &[u8]) -> HeadCounts {
    let mut counts = HeadCounts::default();
    for line in head.split(|&b| b == b'\n').skip(1) {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        counts.headers += 1;
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = trim(&line[..colon]);
        let value = &line[colon + 1..];
        if name.eq_ignore_ascii_case(b"via") || name.eq_ignore_ascii_case(b"v") {
            counts.vias += count_list(value);
        } else if name.eq_ignore_ascii_case(b"route") {
            counts.routes += count_list(value);
        } else if name.eq_ignore_ascii_case(b"record-route") {
            counts.record_routes += count_list(value);
        }
    }
    counts
}

fn trim(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &s[start..end.max(start)]
}

/// Items of a comma-separated header value (commas inside quotes or angle
/// brackets do not separate); an empty value counts as none.
fn count_list(value: &[u8]) -> usize {
    let (mut quoted, mut angle, mut escaped) = (false, false, false);
    let (mut items, mut content) = (0usize, false);
    for &b in value {
        if escaped {
            escaped = false;
            continue;
        }
        match b {
            b'\\' if quoted => escaped = true,
            b'"' => quoted = !quoted,
            b'<' if !quoted => angle = true,
            b'>' if !quoted => angle = false,
            b',' if !quoted && !angle => {
                if content {
                    items += 1;
                }
                content = false;
                continue;
            }
            _ => {}
        }
        if !b.is_ascii_whitespace() {
            content = true;
        }
    }
    items + usize::from(content)
}

impl MessageLimits {
    /// Checks a received message's size and header counts; `None` when it is
    /// within every limit.
    pub fn check(&self, data: &[u8], datagram: bool) -> Option<Verdict> {
        let max = if datagram {
            self.max_datagram
        } else {
            self.max_stream
        };
        let head_end = super::find(data, b"\r\n\r\n").unwrap_or(data.len());
        let counts = count_head(&data[..head_end]);
        if counts.vias > self.max_vias {
            return Some(Verdict::Drop(format!(
                "{} Via values, at most {} are taken",
                counts.vias, self.max_vias
            )));
        }
        if data.len() > max {
            if data.len() > super::MAX_MESSAGE_SIZE.max(max) {
                return Some(Verdict::Drop(format!(
                    "{} bytes, too large to read",
                    data.len()
                )));
            }
            return Some(Verdict::TooLarge);
        }
        for (what, n, limit) in [
            ("Route", counts.routes, self.max_routes),
            ("Record-Route", counts.record_routes, self.max_routes),
            ("header", counts.headers, self.max_headers),
        ] {
            if n > limit {
                return Some(Verdict::TooMany(format!(
                    "too many {what} lines: {n}, at most {limit}"
                )));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_list_values_lines_and_folding() {
        let head = b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=1, SIP/2.0/UDP b\r\nv: SIP/2.0/UDP c\r\nRoute: <sip:a,b>, <sip:c>\r\nRecord-Route: <sip:x>\r\nTo: \"a, b\" <sip:t>\r\nVia: SIP/2.0/UDP d,\r\n SIP/2.0/UDP e";
        let c = count_head(head);
        assert_eq!(c.vias, 5);
        assert_eq!(c.routes, 2);
        assert_eq!(c.record_routes, 1);
        assert_eq!(c.headers, 6);
    }

    #[test]
    fn verdicts_follow_the_limits() {
        let limits = MessageLimits {
            max_datagram: 200,
            max_stream: 400,
            max_headers: 4,
            max_vias: 2,
            max_routes: 1,
        };
        let small = b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP a;branch=z9hG4bK1\r\n\r\n";
        assert_eq!(limits.check(small, true), None);
        let mut big = small[..small.len() - 2].to_vec();
        big.extend_from_slice(format!("X: {}\r\n\r\n", "a".repeat(300)).as_bytes());
        assert_eq!(limits.check(&big, true), Some(Verdict::TooLarge));
        assert_eq!(limits.check(&big, false), None, "TCP takes more");
        let vias =
            b"OPTIONS sip:a SIP/2.0\r\nVia: SIP/2.0/UDP a, SIP/2.0/UDP b, SIP/2.0/UDP c\r\n\r\n";
        assert!(matches!(limits.check(vias, true), Some(Verdict::Drop(_))));
        let routes = b"OPTIONS sip:a SIP/2.0\r\nRoute: <sip:a>\r\nRoute: <sip:b>\r\n\r\n";
        assert!(
            matches!(limits.check(routes, true), Some(Verdict::TooMany(m)) if m.contains("Route"))
        );
    }
}
