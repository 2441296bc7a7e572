//! Voices and languages: what a flow asks for, and how an engine names it.
//!
//! Flows speak in language tags (`zh`, `en`, `en-GB`, `yue`); [`Voice`] adds
//! an optional engine voice variant, rate and pitch. [`Voice::espeak_name`]
//! maps a tag to the espeak-ng voice (`zh` → `cmn`, `en` → `en-us`).
//! [`Lang`] is the coarse language the number/date readers in
//! [`say`](crate::say) understand.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// A voice request: language plus optional engine-specific tuning.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Voice {
    /// Language tag: `zh`, `zh-CN`, `cmn`, `en`, `en-US`, `en-GB`, `yue`, ... or
    /// any espeak-ng voice name.
    pub language: String,
    /// Voice variant of the engine (espeak-ng: `f3`, `m2`, `klatt`...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Speaking rate in words per minute (espeak-ng: 80..=450, default 175).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<u16>,
    /// Pitch, 0..=99 (default 50).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pitch: Option<u8>,
}

impl Voice {
    /// The default voice of a language.
    pub fn new(language: impl Into<String>) -> Self {
        Voice {
            language: language.into(),
            name: None,
            rate: None,
            pitch: None,
        }
    }

    /// Chinese (Mandarin).
    pub fn zh() -> Self {
        Voice::new("zh")
    }

    /// English (US).
    pub fn en() -> Self {
        Voice::new("en")
    }

    /// The same voice with an engine variant.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// The same voice at another rate (words per minute).
    pub fn with_rate(mut self, rate: u16) -> Self {
        self.rate = Some(rate);
        self
    }

    /// The same voice at another pitch (0..=99).
    pub fn with_pitch(mut self, pitch: u8) -> Self {
        self.pitch = Some(pitch);
        self
    }

    /// The espeak-ng `-v` argument: the mapped language, then `+variant`.
    ///
    /// Fails on names with characters outside `[A-Za-z0-9_-]`, so nothing
    /// that looks like an option or a path reaches the engine.
    pub fn espeak_name(&self) -> Result<String> {
        check_name(&self.language)?;
        let lang = self.language.to_ascii_lowercase().replace('_', "-");
        let base = match lang.as_str() {
            "zh" | "zh-cn" | "zh-hans" | "zh-cmn" | "cmn" | "cmn-cn" | "mandarin" => "cmn",
            "zh-hk" | "zh-yue" | "yue" | "cantonese" => "yue",
            "en" | "en-us" => "en-us",
            "en-gb" | "en-uk" => "en-gb",
            other => other,
        };
        match &self.name {
            Some(name) => {
                check_name(name)?;
                Ok(format!("{base}+{name}"))
            }
            None => Ok(base.to_owned()),
        }
    }

    /// The coarse language for [`say`](crate::say) (Chinese for `zh*`,
    /// `cmn`, `yue`; English otherwise).
    pub fn lang(&self) -> Lang {
        Lang::from_tag(&self.language)
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && !name.starts_with('-')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidVoice(name.to_owned()))
    }
}

/// A language the readers in [`say`](crate::say) can produce text for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    /// Chinese (written with Han characters; any Chinese voice reads it).
    Zh,
    /// English: every tag that is not Chinese falls back to it
    /// ([`Lang::from_tag`]).
    En,
}

impl Lang {
    /// Chinese for `zh`, `zh-*`, `cmn*`, `yue*`; English for everything else.
    pub fn from_tag(tag: &str) -> Lang {
        let tag = tag.to_ascii_lowercase();
        if tag == "zh"
            || tag.starts_with("zh-")
            || tag.starts_with("zh_")
            || tag.starts_with("cmn")
            || tag.starts_with("yue")
        {
            Lang::Zh
        } else {
            Lang::En
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn espeak_names() {
        let cases = [
            (Voice::zh(), "cmn"),
            (Voice::new("zh-CN"), "cmn"),
            (Voice::en(), "en-us"),
            (Voice::new("en_GB"), "en-gb"),
            (Voice::new("yue"), "yue"),
            (Voice::new("fr"), "fr"),
            (Voice::en().with_name("f3"), "en-us+f3"),
        ];
        for (voice, want) in cases {
            assert_eq!(voice.espeak_name().unwrap(), want, "{voice:?}");
        }
    }

    #[test]
    fn hostile_names_are_refused() {
        for bad in ["", "-x", "en us", "../../etc/passwd", "en;rm", "en\n"] {
            assert!(
                matches!(Voice::new(bad).espeak_name(), Err(Error::InvalidVoice(_))),
                "{bad:?}"
            );
            assert!(Voice::en().with_name(bad).espeak_name().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn languages() {
        assert_eq!(Lang::from_tag("zh-CN"), Lang::Zh);
        assert_eq!(Lang::from_tag("cmn"), Lang::Zh);
        assert_eq!(Lang::from_tag("yue"), Lang::Zh);
        assert_eq!(Lang::from_tag("en-GB"), Lang::En);
        assert_eq!(Lang::from_tag("zhx"), Lang::En);
    }
}
