//! What travels between the bridge and its clients.

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::voice::Voice;

/// The header that carries an ASR request's grammar as JSON.
pub const GRAMMAR_HEADER: &str = "x-dialect-grammar";

/// Body of `POST /v1/tts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TtsRequest {
    /// What to say.
    pub text: String,
    /// How to say it.
    pub voice: Voice,
}

/// Body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// The message, for logs.
    pub error: String,
    /// A stable name of the error kind (`unknown_word`, `invalid_text`...).
    pub kind: String,
    /// For `unknown_word`: the word.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub word: Option<String>,
    /// For `unknown_word`: the phrase it is in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phrase: Option<String>,
}

impl ErrorBody {
    /// The wire form of an error, and whether the caller is at fault (4xx).
    pub(crate) fn from_error(error: &Error) -> (Self, bool) {
        let (kind, client_fault) = match error {
            Error::InvalidVoice(_) => ("invalid_voice", true),
            Error::InvalidText(_) => ("invalid_text", true),
            Error::Audio(_) => ("audio", true),
            Error::UnknownWord { .. } => ("unknown_word", true),
            Error::Grammar(_) => ("grammar", true),
            Error::EngineMissing { .. } => ("engine_missing", false),
            Error::EngineFailed { .. } => ("engine_failed", false),
            Error::Timeout { .. } => ("timeout", false),
            Error::Cache { .. } => ("cache", false),
            Error::Remote { .. } => ("remote", false),
            Error::Worker(_) => ("worker", false),
        };
        let (word, phrase) = match error {
            Error::UnknownWord { word, phrase } => (Some(word.clone()), Some(phrase.clone())),
            _ => (None, None),
        };
        (
            ErrorBody {
                error: error.to_string(),
                kind: kind.to_owned(),
                word,
                phrase,
            },
            client_fault,
        )
    }

    /// The error a client reports for this answer from `url`.
    pub(crate) fn into_error(self, url: &str) -> Error {
        match self.kind.as_str() {
            "unknown_word" => Error::UnknownWord {
                word: self.word.unwrap_or_default(),
                phrase: self.phrase.unwrap_or_default(),
            },
            "grammar" => Error::Grammar(self.error),
            "invalid_text" => Error::InvalidText(self.error),
            "invalid_voice" => Error::InvalidVoice(self.error),
            "audio" => Error::Audio(self.error),
            _ => Error::Remote {
                url: url.to_owned(),
                detail: self.error,
            },
        }
    }
}

/// JSON with every non-ASCII character escaped as `\uXXXX`, fit for a header.
pub(crate) fn ascii_json<T: Serialize>(value: &T) -> Result<String, serde_json::Error> {
    let json = serde_json::to_string(value)?;
    let mut out = String::with_capacity(json.len());
    for c in json.chars() {
        if c.is_ascii() {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{unit:04x}"));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::asr::Grammar;

    #[test]
    fn header_json_is_ascii_and_round_trips() {
        let g = Grammar::phrases([("账单 😀", "bill")]);
        let text = ascii_json(&g).unwrap();
        assert!(text.is_ascii(), "{text}");
        let back: Grammar = serde_json::from_str(&text).unwrap();
        assert_eq!(back, g);
    }

    #[test]
    fn unknown_word_survives_the_wire() {
        let err = Error::UnknownWord {
            word: "zorb".into(),
            phrase: "zorb it".into(),
        };
        let (body, client) = ErrorBody::from_error(&err);
        assert!(client);
        let json = serde_json::to_string(&body).unwrap();
        let back: ErrorBody = serde_json::from_str(&json).unwrap();
        match back.into_error("http://x") {
            Error::UnknownWord { word, phrase } => {
                assert_eq!((word.as_str(), phrase.as_str()), ("zorb", "zorb it"))
            }
            other => panic!("{other}"),
        }
    }
}
