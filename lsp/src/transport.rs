//! The protocol's framing on a byte stream: `Content-Length: N` headers, a blank
//! line, then N bytes of JSON. Everything read is bounded: a header line, the
//! number of header lines and the body each have a limit, so an editor (or
//! anything else on the other end of the pipe) cannot make the server allocate
//! without bound. A body over the limit is read and thrown away without being
//! stored, and reading goes on with the next message.

use std::io::{self, BufRead, Read, Write};

use lsp_server::Message;

/// The largest message body read, in bytes. A whole document travels in one
/// message (`didOpen`), escaped as JSON; see [`crate::MAX_DOCUMENT`].
pub const MAX_MESSAGE: usize = 32 * 1024 * 1024;
/// The longest header line.
const MAX_HEADER_LINE: usize = 1024;
/// The most header lines one message may have.
const MAX_HEADERS: usize = 16;

/// Why a message could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Reading the stream failed.
    #[error("reading the input failed: {0}")]
    Io(#[from] io::Error),
    /// The stream ended in the middle of a message.
    #[error("the input ended in the middle of a message")]
    Truncated,
    /// A header line is too long, there are too many, or one is not `Name: value`.
    #[error("bad message header: {0}")]
    BadHeader(String),
    /// The headers have no `Content-Length`.
    #[error("a message has no Content-Length header")]
    NoLength,
    /// The body is larger than [`MAX_MESSAGE`]; it was skipped.
    #[error(
        "a message of {0} bytes is larger than the limit of {MAX_MESSAGE} bytes and was skipped"
    )]
    TooLarge(usize),
    /// The body is not a JSON-RPC message.
    #[error("a message is not valid JSON-RPC: {0}")]
    BadJson(String),
}

impl ReadError {
    /// Whether reading can go on with the next message after this error (the
    /// stream is still in step: the bad message was read whole).
    pub fn recoverable(&self) -> bool {
        matches!(self, ReadError::TooLarge(_) | ReadError::BadJson(_))
    }
}

/// Reads one message. `Ok(None)` when the input ends between messages.
pub fn read_message(input: &mut impl BufRead) -> Result<Option<Message>, ReadError> {
    read_message_limited(input, MAX_MESSAGE)
}

/// [`read_message`] with another body limit (for tests).
pub fn read_message_limited(
    input: &mut impl BufRead,
    max_body: usize,
) -> Result<Option<Message>, ReadError> {
    let mut length: Option<usize> = None;
    let mut headers = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let n = (&mut *input)
            .take(MAX_HEADER_LINE as u64 + 1)
            .read_until(b'\n', &mut line)?;
        if n == 0 {
            return if headers == 0 {
                Ok(None)
            } else {
                Err(ReadError::Truncated)
            };
        }
        if line.last() != Some(&b'\n') {
            return Err(if n > MAX_HEADER_LINE {
                ReadError::BadHeader("a header line is too long".into())
            } else {
                ReadError::Truncated
            });
        }
        let text = std::str::from_utf8(&line)
            .map_err(|_| ReadError::BadHeader("a header is not UTF-8".into()))?
            .trim_end_matches(['\r', '\n']);
        if text.is_empty() {
            if headers == 0 {
                // Blank lines between messages are tolerated.
                continue;
            }
            break;
        }
        headers += 1;
        if headers > MAX_HEADERS {
            return Err(ReadError::BadHeader("too many header lines".into()));
        }
        let Some((name, value)) = text.split_once(':') else {
            return Err(ReadError::BadHeader(format!(
                "`{text}` is not `Name: value`"
            )));
        };
        if name.trim().eq_ignore_ascii_case("content-length") {
            let v = value.trim();
            length = Some(
                v.parse()
                    .map_err(|_| ReadError::BadHeader(format!("`{v}` is not a length")))?,
            );
        }
    }
    let length = length.ok_or(ReadError::NoLength)?;
    if length > max_body {
        let skipped = io::copy(&mut (&mut *input).take(length as u64), &mut io::sink())?;
        if skipped < length as u64 {
            return Err(ReadError::Truncated);
        }
        return Err(ReadError::TooLarge(length));
    }
    let mut body = vec![0; length];
    input.read_exact(&mut body).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => ReadError::Truncated,
        _ => ReadError::Io(e),
    })?;
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| ReadError::BadJson(e.to_string()))
}

/// Writes one message with its header, and flushes.
pub fn write_message(output: &mut impl Write, message: &Message) -> io::Result<()> {
    let mut value = serde_json::to_value(message)?;
    if let Some(o) = value.as_object_mut() {
        o.insert("jsonrpc".into(), "2.0".into());
    }
    let body = serde_json::to_vec(&value)?;
    write!(output, "Content-Length: {}\r\n\r\n", body.len())?;
    output.write_all(&body)?;
    output.flush()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn framed(body: &str) -> Vec<u8> {
        format!("Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
    }

    #[test]
    fn reads_messages_one_after_another() {
        let mut input = framed(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}"#);
        input.extend(framed(
            r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#,
        ));
        let mut r = &input[..];
        assert!(matches!(
            read_message(&mut r).unwrap(),
            Some(Message::Request(q)) if q.method == "initialize"
        ));
        assert!(matches!(
            read_message(&mut r).unwrap(),
            Some(Message::Notification(n)) if n.method == "initialized"
        ));
        assert!(read_message(&mut r).unwrap().is_none());
    }

    #[test]
    fn a_body_over_the_limit_is_skipped_and_reading_goes_on() {
        let big = format!(
            r#"{{"jsonrpc":"2.0","method":"x","params":"{}"}}"#,
            "a".repeat(500)
        );
        let mut input = framed(&big);
        input.extend(framed(r#"{"jsonrpc":"2.0","method":"after"}"#));
        let mut r = &input[..];
        let e = read_message_limited(&mut r, 100).unwrap_err();
        assert!(matches!(e, ReadError::TooLarge(n) if n == big.len()), "{e}");
        assert!(e.recoverable());
        assert!(matches!(
            read_message_limited(&mut r, 100).unwrap(),
            Some(Message::Notification(n)) if n.method == "after"
        ));
    }

    #[test]
    fn a_huge_length_with_no_body_allocates_nothing() {
        let mut r = &b"Content-Length: 18446744073709551615\r\n\r\n"[..];
        assert!(matches!(
            read_message(&mut r),
            Err(ReadError::TooLarge(_) | ReadError::BadHeader(_) | ReadError::Truncated)
        ));
        let mut r = &b"Content-Length: 99999999\r\n\r\n{}"[..];
        assert!(matches!(read_message(&mut r), Err(ReadError::Truncated)));
    }

    #[test]
    fn bad_headers_are_reported() {
        let long = format!("X-{}: 1\r\n", "a".repeat(2000));
        for input in [
            long.as_str(),
            "Content-Length: ten\r\n\r\n",
            "no colon\r\n\r\n",
            "Content-Type: x\r\n\r\n{}",
        ] {
            let mut r = input.as_bytes();
            assert!(read_message(&mut r).is_err(), "{input}");
        }
        let many = "A: b\r\n".repeat(40);
        assert!(matches!(
            read_message(&mut many.as_bytes()),
            Err(ReadError::BadHeader(_))
        ));
        let mut r = &framed("{not json")[..];
        let e = read_message(&mut r).unwrap_err();
        assert!(matches!(e, ReadError::BadJson(_)) && e.recoverable());
    }

    #[test]
    fn writes_what_it_reads() {
        let m: Message =
            lsp_server::Notification::new("x".into(), serde_json::json!({"a": "中文"})).into();
        let mut out = Vec::new();
        write_message(&mut out, &m).unwrap();
        let text = String::from_utf8(out.clone()).unwrap();
        assert!(text.contains("\"jsonrpc\":\"2.0\""), "{text}");
        let back = read_message(&mut &out[..]).unwrap().unwrap();
        assert!(matches!(back, Message::Notification(n) if n.params["a"] == "中文"));
    }
}
