//! Positions as editors count them: a 0-based line and a column in UTF-16 code
//! units (the Language Server Protocol's default). A Chinese character is one
//! UTF-16 unit but three UTF-8 bytes, and a character outside the Basic
//! Multilingual Plane is two units, so byte offsets from spans are converted
//! here and nowhere else.

/// A 0-based line and UTF-16 column, as the Language Server Protocol counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct LineCol {
    /// 0-based line.
    pub line: u32,
    /// 0-based column in UTF-16 code units.
    pub col: u32,
}

/// Where each line of one text starts, to convert between byte offsets and
/// [`LineCol`]s in both directions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex {
    starts: Vec<usize>,
    len: usize,
}

impl LineIndex {
    /// Indexes `text`. Lines end at `\n` (a `\r` before it belongs to the line).
    pub fn new(text: &str) -> LineIndex {
        let mut starts = vec![0];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|&(_, b)| b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex {
            starts,
            len: text.len(),
        }
    }

    /// Number of lines (a text ending with a line break has an empty last line).
    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// The position of byte `offset` of `text` (clamped to the text, and to the
    /// start of the character it falls in).
    pub fn position(&self, text: &str, offset: usize) -> LineCol {
        let offset = floor_boundary(text, offset.min(self.len));
        let line = match self.starts.binary_search(&offset) {
            Ok(l) => l,
            Err(l) => l - 1,
        };
        let start = self.starts[line];
        let col: usize = text[start..offset].chars().map(char::len_utf16).sum();
        LineCol {
            line: line as u32,
            col: col as u32,
        }
    }

    /// The byte offset of `pos` in `text`. A line past the end is the end of the
    /// text; a column past the end of its line is the end of the line (before its
    /// line break); a column inside a surrogate pair is the start of the character.
    pub fn offset(&self, text: &str, pos: LineCol) -> usize {
        let Some(&start) = self.starts.get(pos.line as usize) else {
            return self.len;
        };
        let end = self
            .starts
            .get(pos.line as usize + 1)
            .map(|&next| next - 1)
            .unwrap_or(self.len);
        let mut units = 0u32;
        for (i, c) in text[start..end].char_indices() {
            let w = c.len_utf16() as u32;
            if units + w > pos.col {
                return start + i;
            }
            units += w;
        }
        end
    }
}

fn floor_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_characters_count_one_unit_and_three_bytes() {
        let text = "flow 热线 on \"10000\" {\n  play \"欢迎.wav\" # 欢迎\n}\n";
        let idx = LineIndex::new(text);
        let on = text.find("on").unwrap();
        assert_eq!(idx.position(text, on), LineCol { line: 0, col: 8 });
        assert_eq!(idx.offset(text, LineCol { line: 0, col: 8 }), on);
        let hash = text.find('#').unwrap();
        assert_eq!(idx.position(text, hash), LineCol { line: 1, col: 16 });
        assert_eq!(idx.offset(text, LineCol { line: 1, col: 16 }), hash);
        // Past the end of a line: the end of that line, not the next one.
        let end1 = text.find("\n}").unwrap();
        assert_eq!(idx.offset(text, LineCol { line: 1, col: 99 }), end1);
        assert_eq!(idx.offset(text, LineCol { line: 9, col: 0 }), text.len());
        assert_eq!(idx.line_count(), 4);
    }

    #[test]
    fn characters_outside_the_basic_plane_take_two_units() {
        let text = "say \"😀x\"";
        let idx = LineIndex::new(text);
        let x = text.find('x').unwrap();
        assert_eq!(idx.position(text, x), LineCol { line: 0, col: 7 });
        assert_eq!(idx.offset(text, LineCol { line: 0, col: 7 }), x);
        // Inside the surrogate pair: the start of the emoji.
        assert_eq!(idx.offset(text, LineCol { line: 0, col: 6 }), x - 4);
        // A byte offset inside a character goes back to its start.
        assert_eq!(idx.position(text, x - 1), LineCol { line: 0, col: 5 });
    }

    #[test]
    fn round_trips_every_character_start() {
        let text = "a\r\n中文，b\n\n“引号”😀z";
        let idx = LineIndex::new(text);
        for (i, _) in text.char_indices() {
            let p = idx.position(text, i);
            assert_eq!(idx.offset(text, p), i, "offset {i} -> {p:?}");
        }
    }
}
