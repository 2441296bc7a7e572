//! Text to short-message bytes and back: the GSM 03.38 default alphabet
//! (`data_coding` 0, one septet per octet, as SMPP carries it unpacked) when
//! every character has a place in it, else UCS-2 (`data_coding` 8, UTF-16BE,
//! so Chinese text goes this way); a text too long for one message is split
//! into parts that each start with a concatenation header (UDH, IEI 0x00,
//! 8-bit reference), with `esm_class` 0x40 saying a header is there.
//!
//! Part sizes follow the handsets: 160 septets or 70 UCS-2 units fit one
//! message; a split message carries 153 septets or 67 units per part (the
//! 6-byte header takes the rest). A part never ends inside a GSM escape pair
//! or a UTF-16 surrogate pair, so every part decodes on its own.

/// `data_coding` of the SMSC default alphabet (GSM 03.38 here).
pub const DATA_CODING_GSM: u8 = 0;
/// `data_coding` of UCS-2 (UTF-16BE).
pub const DATA_CODING_UCS2: u8 = 8;
/// `esm_class` bit saying the short message starts with a user data header.
pub const ESM_UDHI: u8 = 0x40;

/// Septets in one unsplit GSM message.
pub const GSM_SINGLE: usize = 160;
/// Septets in each part of a split GSM message.
pub const GSM_PART: usize = 153;
/// UTF-16 units in one unsplit UCS-2 message.
pub const UCS2_SINGLE: usize = 70;
/// UTF-16 units in each part of a split UCS-2 message.
pub const UCS2_PART: usize = 67;
/// Most parts a concatenated message can have (the header counts in a byte).
pub const MAX_PARTS: usize = 255;

/// The GSM escape to the extension table.
const ESCAPE: u8 = 0x1B;

/// The GSM 03.38 default alphabet, by septet value.
const GSM_BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table: characters written as ESC followed by this septet.
const GSM_EXTENSION: [(char, u8); 10] = [
    ('\u{0C}', 0x0A),
    ('^', 0x14),
    ('{', 0x28),
    ('}', 0x29),
    ('\\', 0x2F),
    ('[', 0x3C),
    ('~', 0x3D),
    (']', 0x3E),
    ('|', 0x40),
    ('€', 0x65),
];

/// The septets of `c` in the GSM alphabet: one, two (escaped), or none when it
/// has no place there.
fn gsm_septets(c: char) -> Option<([u8; 2], usize)> {
    if c != '\u{1B}'
        && let Some(i) = GSM_BASIC.iter().position(|&g| g == c)
    {
        return Some(([i as u8, 0], 1));
    }
    GSM_EXTENSION
        .iter()
        .find(|(g, _)| *g == c)
        .map(|(_, s)| ([ESCAPE, *s], 2))
}

/// Whether every character of `text` is in the GSM alphabet (with its extension).
pub fn fits_gsm(text: &str) -> bool {
    text.chars().all(|c| gsm_septets(c).is_some())
}

/// A text that cannot be sent as SMS.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    /// Even split, it needs more parts than a concatenation header can count.
    #[error("the text needs {parts} SMS parts; at most {MAX_PARTS} can be joined")]
    TooLong {
        /// Parts it would need.
        parts: usize,
    },
}

/// A text ready for `submit_sm`: its coding and one short message per part,
/// each starting with its concatenation header when there are several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedText {
    /// `data_coding` for every part.
    pub data_coding: u8,
    /// `esm_class` for every part: [`ESM_UDHI`] when split, else 0.
    pub esm_class: u8,
    /// The `short_message` of each part, in order.
    pub parts: Vec<Vec<u8>>,
}

/// Encodes `text` for SMS: GSM when it fits, else UCS-2, split when too long;
/// `reference` identifies the parts of this message to the handset (it is
/// ignored when there is one part).
pub fn encode(text: &str, reference: u8) -> Result<EncodedText, TextError> {
    // Each chunk is a run of whole characters' bytes; chunks become parts.
    let (data_coding, units, unit_bytes, single, part) = if fits_gsm(text) {
        let mut units: Vec<Vec<u8>> = Vec::with_capacity(text.len());
        for c in text.chars() {
            if let Some((s, n)) = gsm_septets(c) {
                units.push(s[..n].to_vec());
            }
        }
        (DATA_CODING_GSM, units, 1, GSM_SINGLE, GSM_PART)
    } else {
        let units: Vec<Vec<u8>> = text
            .chars()
            .map(|c| {
                let mut buf = [0u16; 2];
                c.encode_utf16(&mut buf)
                    .iter()
                    .flat_map(|u| u.to_be_bytes())
                    .collect()
            })
            .collect();
        (DATA_CODING_UCS2, units, 2, UCS2_SINGLE, UCS2_PART)
    };
    let total_units: usize = units.iter().map(|u| u.len() / unit_bytes).sum();
    if total_units <= single {
        return Ok(EncodedText {
            data_coding,
            esm_class: 0,
            parts: vec![units.concat()],
        });
    }
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut current: Vec<u8> = Vec::new();
    for u in &units {
        if (current.len() + u.len()) / unit_bytes > part {
            chunks.push(std::mem::take(&mut current));
        }
        current.extend_from_slice(u);
    }
    if !current.is_empty() {
        chunks.push(current);
    }
    let total = chunks.len();
    if total > MAX_PARTS {
        return Err(TextError::TooLong { parts: total });
    }
    let parts = chunks
        .into_iter()
        .enumerate()
        .map(|(i, chunk)| {
            let mut sm = Vec::with_capacity(6 + chunk.len());
            sm.extend_from_slice(&[0x05, 0x00, 0x03, reference, total as u8, (i + 1) as u8]);
            sm.extend_from_slice(&chunk);
            sm
        })
        .collect();
    Ok(EncodedText {
        data_coding,
        esm_class: ESM_UDHI,
        parts,
    })
}

/// Where a part belongs in a concatenated message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Concat {
    /// The reference shared by the parts of one message.
    pub reference: u16,
    /// How many parts the message has.
    pub total: u8,
    /// This part's number, from 1.
    pub part: u8,
}

/// Splits a short message into its concatenation information (when its user
/// data header carries one, 8- or 16-bit reference) and its text bytes. A
/// header that claims more bytes than there are is treated as text.
pub fn split_udh(esm_class: u8, short_message: &[u8]) -> (Option<Concat>, &[u8]) {
    if esm_class & ESM_UDHI == 0 || short_message.is_empty() {
        return (None, short_message);
    }
    let udh_len = usize::from(short_message[0]);
    let Some(udh) = short_message.get(1..1 + udh_len) else {
        return (None, short_message);
    };
    let rest = &short_message[1 + udh_len..];
    let mut i = 0;
    let mut concat = None;
    while i + 2 <= udh.len() {
        let (iei, len) = (udh[i], usize::from(udh[i + 1]));
        let Some(value) = udh.get(i + 2..i + 2 + len) else {
            break;
        };
        match (iei, value) {
            (0x00, [r, t, p]) => {
                concat = Some(Concat {
                    reference: u16::from(*r),
                    total: *t,
                    part: *p,
                });
            }
            (0x08, [r1, r2, t, p]) => {
                concat = Some(Concat {
                    reference: u16::from_be_bytes([*r1, *r2]),
                    total: *t,
                    part: *p,
                });
            }
            _ => {}
        }
        i += 2 + len;
    }
    (concat, rest)
}

/// Decodes short-message bytes in `data_coding` (GSM unpacked, Latin-1, UCS-2);
/// what cannot be decoded becomes U+FFFD rather than an error, since a receipt
/// or a reply is still worth reading.
pub fn decode(data_coding: u8, bytes: &[u8]) -> String {
    match data_coding {
        DATA_CODING_UCS2 => {
            let units: Vec<u16> = bytes
                .chunks(2)
                .map(|c| u16::from_be_bytes([c[0], c.get(1).copied().unwrap_or(0)]))
                .collect();
            char::decode_utf16(units)
                .map(|r| r.unwrap_or(char::REPLACEMENT_CHARACTER))
                .collect()
        }
        // Latin-1 and ASCII.
        1 | 3 => bytes.iter().map(|&b| char::from(b)).collect(),
        _ => {
            let mut out = String::with_capacity(bytes.len());
            let mut it = bytes.iter();
            while let Some(&b) = it.next() {
                if b == ESCAPE {
                    let next = it.next().copied().unwrap_or(0xFF);
                    let c = GSM_EXTENSION
                        .iter()
                        .find(|(_, s)| *s == next)
                        .map_or(char::REPLACEMENT_CHARACTER, |(c, _)| *c);
                    out.push(c);
                } else {
                    out.push(
                        GSM_BASIC
                            .get(usize::from(b))
                            .copied()
                            .unwrap_or(char::REPLACEMENT_CHARACTER),
                    );
                }
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_is_gsm_and_one_septet_a_character() {
        let e = encode("Hello @ 1", 7).unwrap();
        assert_eq!(e.data_coding, DATA_CODING_GSM);
        assert_eq!(e.esm_class, 0);
        assert_eq!(
            e.parts,
            vec![vec![0x48, 0x65, 0x6C, 0x6C, 0x6F, 0x20, 0x00, 0x20, 0x31]]
        );
    }

    #[test]
    fn extension_characters_take_an_escape() {
        let e = encode("€[x]", 1).unwrap();
        assert_eq!(e.parts[0], vec![0x1B, 0x65, 0x1B, 0x3C, 0x78, 0x1B, 0x3E]);
        assert_eq!(decode(0, &e.parts[0]), "€[x]");
    }

    #[test]
    fn chinese_goes_as_ucs2_big_endian() {
        let e = encode("你好", 1).unwrap();
        assert_eq!(e.data_coding, DATA_CODING_UCS2);
        assert_eq!(e.parts, vec![vec![0x4F, 0x60, 0x59, 0x7D]]);
        assert_eq!(decode(8, &e.parts[0]), "你好");
    }

    #[test]
    fn a_gsm_text_of_160_is_one_part_and_161_two() {
        let one = encode(&"a".repeat(160), 1).unwrap();
        assert_eq!(one.parts.len(), 1);
        let two = encode(&"a".repeat(161), 9).unwrap();
        assert_eq!(two.esm_class, ESM_UDHI);
        assert_eq!(two.parts.len(), 2);
        assert_eq!(&two.parts[0][..6], &[5, 0, 3, 9, 2, 1]);
        assert_eq!(two.parts[0].len(), 6 + 153);
        assert_eq!(&two.parts[1][..6], &[5, 0, 3, 9, 2, 2]);
        assert_eq!(two.parts[1].len(), 6 + 8);
    }

    #[test]
    fn an_escape_pair_is_never_split() {
        // 152 septets, then a two-septet euro sign: it moves to the next part.
        let text = format!("{}€{}", "a".repeat(152), "b".repeat(10));
        let e = encode(&text, 1).unwrap();
        assert_eq!(e.parts[0].len(), 6 + 152);
        assert_eq!(&e.parts[1][6..8], &[0x1B, 0x65]);
    }

    #[test]
    fn a_hundred_chinese_characters_are_two_ucs2_parts() {
        let text: String = "故障报修已受理请保持电话畅通"
            .chars()
            .cycle()
            .take(100)
            .collect();
        let e = encode(&text, 42).unwrap();
        assert_eq!(e.data_coding, DATA_CODING_UCS2);
        assert_eq!(e.parts.len(), 2);
        assert_eq!(e.parts[0].len(), 6 + 67 * 2);
        assert_eq!(e.parts[1].len(), 6 + 33 * 2);
        let joined: String = e
            .parts
            .iter()
            .map(|p| {
                let (c, rest) = split_udh(e.esm_class, p);
                assert_eq!(c.map(|c| (c.reference, c.total)), Some((42, 2)));
                decode(8, rest)
            })
            .collect();
        assert_eq!(joined, text);
    }

    #[test]
    fn a_surrogate_pair_is_never_split() {
        // 66 units, then an emoji of two units: it cannot end the first part.
        let text = format!("{}😀{}", "中".repeat(66), "文".repeat(10));
        let e = encode(&text, 1).unwrap();
        assert_eq!(e.parts[0].len(), 6 + 66 * 2);
        assert_eq!(
            decode(8, &e.parts[1][6..]),
            format!("😀{}", "文".repeat(10))
        );
    }

    #[test]
    fn too_many_parts_is_an_error() {
        let err = encode(&"中".repeat(67 * 255 + 1), 1).unwrap_err();
        assert_eq!(err, TextError::TooLong { parts: 256 });
    }

    #[test]
    fn broken_headers_and_odd_bytes_do_not_panic() {
        assert_eq!(split_udh(0x40, &[9, 0, 3]), (None, &[9u8, 0, 3][..]));
        assert_eq!(split_udh(0x40, &[]).0, None);
        assert_eq!(decode(8, &[0xD8, 0x00]), "\u{FFFD}");
        assert_eq!(decode(8, &[0x00]), "\u{0}");
        assert_eq!(decode(0, &[0x1B]), "\u{FFFD}");
        assert_eq!(decode(0, &[0xFF]), "\u{FFFD}");
    }
}
