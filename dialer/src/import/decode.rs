//! Text of any encoding a list arrives in, as a stream of UTF-8.
//!
//! A byte-order mark names the encoding (UTF-8, UTF-16LE/BE) and is dropped.
//! Without one, an encoding the caller names is used; otherwise the first
//! non-ASCII text decides: if it is valid UTF-8 the file is UTF-8, else it is
//! GB18030 (a superset of GBK and GB2312, what Chinese carrier and Excel
//! exports write). Up to then ASCII passes through unchanged, so the decision
//! needs no look-ahead past the first non-ASCII bytes and the whole file is
//! never held. Bytes that are invalid in the chosen encoding become U+FFFD,
//! which the importer reports as bad encoding in the row that holds them.

use std::io::{self, Read};

use encoding_rs::{Decoder, Encoding, GB18030, UTF_8};

/// Bytes read from the source at a time.
const CHUNK: usize = 64 * 1024;
/// Non-ASCII bytes looked at before deciding between UTF-8 and GB18030.
const DECIDE_WINDOW: usize = 1024;

/// A reader of UTF-8 over a source in another or an unknown encoding.
pub(crate) struct DecodingReader<R> {
    inner: R,
    /// Undecoded bytes: `raw[raw_pos..]` are pending.
    raw: Vec<u8>,
    raw_pos: usize,
    /// Decoded UTF-8: `out[out_pos..]` is pending.
    out: Vec<u8>,
    out_pos: usize,
    decoder: Option<Decoder>,
    encoding: Option<&'static Encoding>,
    eof: bool,
    finished: bool,
    /// Source bytes consumed so far, for progress.
    consumed: u64,
}

impl<R: Read> DecodingReader<R> {
    /// A reader that detects the encoding, or uses `explicit` when there is no
    /// byte-order mark.
    pub(crate) fn new(inner: R, explicit: Option<&'static Encoding>) -> io::Result<Self> {
        let mut reader = DecodingReader {
            inner,
            raw: Vec::with_capacity(CHUNK),
            raw_pos: 0,
            out: Vec::with_capacity(CHUNK * 3),
            out_pos: 0,
            decoder: None,
            encoding: None,
            eof: false,
            finished: false,
            consumed: 0,
        };
        while reader.raw.len() < 3 && reader.fill_raw()? > 0 {}
        if let Some((encoding, bom_len)) = Encoding::for_bom(&reader.raw) {
            reader.raw_pos = bom_len;
            reader.choose(encoding);
        } else if let Some(encoding) = explicit {
            reader.choose(encoding);
        }
        Ok(reader)
    }

    /// The source's first bytes (before any decoding), for recognising a
    /// workbook given as CSV.
    pub(crate) fn head(&self) -> &[u8] {
        &self.raw[..self.raw.len().min(16)]
    }

    /// The encoding chosen so far (`None` while the text has been ASCII).
    pub(crate) fn encoding(&self) -> Option<&'static Encoding> {
        self.encoding
    }

    /// Source bytes consumed so far.
    pub(crate) fn consumed(&self) -> u64 {
        self.consumed
    }

    fn choose(&mut self, encoding: &'static Encoding) {
        self.encoding = Some(encoding);
        self.decoder = Some(encoding.new_decoder_without_bom_handling());
    }

    /// Reads more source bytes after the pending ones; 0 at the end.
    fn fill_raw(&mut self) -> io::Result<usize> {
        if self.eof {
            return Ok(0);
        }
        if self.raw_pos > 0 {
            self.raw.drain(..self.raw_pos);
            self.raw_pos = 0;
        }
        let start = self.raw.len();
        self.raw.resize(start + CHUNK, 0);
        let n = loop {
            match self.inner.read(&mut self.raw[start..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.raw.truncate(start);
                    return Err(e);
                }
            }
        };
        self.raw.truncate(start + n);
        self.consumed += n as u64;
        if n == 0 {
            self.eof = true;
        }
        Ok(n)
    }

    /// Decodes pending source bytes into `out`; false when nothing is left.
    fn produce(&mut self) -> io::Result<bool> {
        self.out.clear();
        self.out_pos = 0;
        loop {
            if self.raw_pos == self.raw.len() && !self.eof {
                self.fill_raw()?;
            }
            let pending = &self.raw[self.raw_pos..];
            if self.decoder.is_none() {
                let ascii = pending.iter().position(|b| !b.is_ascii());
                match ascii {
                    None => {
                        self.out.extend_from_slice(pending);
                        self.raw_pos = self.raw.len();
                        if !self.out.is_empty() {
                            return Ok(true);
                        }
                        if self.eof {
                            return Ok(false);
                        }
                        continue;
                    }
                    Some(0) => {
                        if pending.len() < DECIDE_WINDOW && !self.eof {
                            self.fill_raw()?;
                            continue;
                        }
                        let window = &pending[..pending.len().min(DECIDE_WINDOW)];
                        self.choose(if looks_like_utf8(window, self.eof) {
                            UTF_8
                        } else {
                            GB18030
                        });
                    }
                    Some(n) => {
                        self.out.extend_from_slice(&pending[..n]);
                        self.raw_pos += n;
                        return Ok(true);
                    }
                }
            }
            let Some(decoder) = self.decoder.as_mut() else {
                continue;
            };
            if self.finished {
                return Ok(false);
            }
            let pending = &self.raw[self.raw_pos..];
            let room = decoder
                .max_utf8_buffer_length(pending.len())
                .unwrap_or(CHUNK * 4);
            self.out.resize(room.max(16), 0);
            let last = self.eof;
            let (_, read, written, _) = decoder.decode_to_utf8(pending, &mut self.out, last);
            self.raw_pos += read;
            self.out.truncate(written);
            if last && self.raw_pos == self.raw.len() {
                self.finished = true;
            }
            if !self.out.is_empty() {
                return Ok(true);
            }
            if self.finished {
                return Ok(false);
            }
        }
    }
}

/// Whether the first non-ASCII text reads as UTF-8: valid to the window's
/// end (a sequence cut by the window's end counts, unless the source ended
/// there), or valid for at least [`UTF8_EVIDENCE`] non-ASCII bytes before an
/// invalid one — GB18030 text is almost never valid UTF-8 that long, while a
/// UTF-8 file may hold a few bad bytes, which are then reported in their row.
fn looks_like_utf8(window: &[u8], at_end: bool) -> bool {
    match std::str::from_utf8(window) {
        Ok(_) => true,
        Err(e) => {
            let valid = &window[..e.valid_up_to()];
            let evidence = valid.iter().filter(|b| !b.is_ascii()).count();
            evidence >= UTF8_EVIDENCE
                || (e.error_len().is_none() && !at_end && e.valid_up_to() + 4 > window.len())
        }
    }
}

/// Non-ASCII bytes of valid UTF-8 that settle the encoding (four Chinese
/// characters).
const UTF8_EVIDENCE: usize = 12;

impl<R: Read> Read for DecodingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.out_pos == self.out.len() && !self.produce()? {
            return Ok(0);
        }
        let n = buf.len().min(self.out.len() - self.out_pos);
        buf[..n].copy_from_slice(&self.out[self.out_pos..self.out_pos + n]);
        self.out_pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads everything through a reader that hands out `step` bytes a call,
    /// so multi-byte characters are cut at every place.
    fn decode(bytes: &[u8], explicit: Option<&'static Encoding>, step: usize) -> (String, String) {
        struct Trickle<'a>(&'a [u8], usize);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = self.1.min(buf.len()).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let mut reader = DecodingReader::new(Trickle(bytes, step), explicit).unwrap_or_else(|e| {
            panic!("open: {e}");
        });
        let mut text = String::new();
        reader
            .read_to_string(&mut text)
            .unwrap_or_else(|e| panic!("read: {e}"));
        let name = reader.encoding().map_or("ascii", |e| e.name()).to_string();
        (text, name)
    }

    #[test]
    fn utf8_with_and_without_mark() {
        let text = "手机号码,客户姓名\n13800138000,张三\n";
        for step in [1, 2, 3, 7, 4096] {
            assert_eq!(
                decode(text.as_bytes(), None, step),
                (text.into(), "UTF-8".into())
            );
            let mut marked = b"\xEF\xBB\xBF".to_vec();
            marked.extend_from_slice(text.as_bytes());
            assert_eq!(decode(&marked, None, step), (text.into(), "UTF-8".into()));
        }
    }

    #[test]
    fn gbk_detected_after_ascii() {
        let text = format!(
            "{}手机号码,客户姓名\n13800138000,张三\n",
            "a,b\n".repeat(5000)
        );
        let (gbk, _, _) = GB18030.encode(&text);
        for step in [1, 5, 65536] {
            assert_eq!(decode(&gbk, None, step), (text.clone(), "gb18030".into()));
        }
    }

    #[test]
    fn explicit_encoding_and_utf16() {
        let text = "电话\n13800138000\n";
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        assert_eq!(decode(&gbk, Some(encoding_rs::GBK), 3).0, text);
        let mut utf16 = vec![0xFF, 0xFE];
        for unit in text.encode_utf16() {
            utf16.extend_from_slice(&unit.to_le_bytes());
        }
        assert_eq!(decode(&utf16, None, 3), (text.into(), "UTF-16LE".into()));
    }

    #[test]
    fn ascii_only_and_empty() {
        assert_eq!(
            decode(b"a,b\n1,2\n", None, 2),
            ("a,b\n1,2\n".into(), "ascii".into())
        );
        assert_eq!(decode(b"", None, 2), (String::new(), "ascii".into()));
    }

    #[test]
    fn invalid_bytes_become_replacement_characters() {
        let mut bytes = "手机号码,姓名\n".as_bytes().to_vec();
        bytes.extend_from_slice(b"\xFF\xFE\n");
        let (text, name) = decode(&bytes, None, 4096);
        assert_eq!(name, "UTF-8");
        assert!(text.contains('\u{fffd}'));
        // Too little valid UTF-8 before the bad bytes: GB18030.
        assert_eq!(decode(b"\xE5\xA7\x93\n\xFF", None, 4096).1, "gb18030");
        let (gbk, _, _) = GB18030.encode("手机号码,客户姓名,欠费金额");
        assert_eq!(decode(&gbk, None, 4096).1, "gb18030");
    }
}
