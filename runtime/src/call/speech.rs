//! Turning a flow's prompts into audio: prompt files from the deployed bundle (the
//! call's language folder first), and speech through the TTS engine with numbers,
//! money, dates, times and digit strings read the way each language reads them.
//! Synthesized audio is transcoded once and shared (the prompt cache is keyed by
//! content).

use std::sync::Arc;

use dialect_compiler::exec::{Prompt as FlowPrompt, Speech};
use dialect_speech::say::{self, Currency};
use dialect_speech::{Lang, Voice};

use crate::deploy::Deployed;
use dialect_media::{Prompt, PromptCache};

/// Text to speech for prompts.
#[derive(Clone)]
pub struct Speaker {
    tts: Option<Arc<dyn dialect_speech::tts::Tts>>,
    cache: Arc<PromptCache>,
}

impl Speaker {
    /// A speaker over a TTS engine (`None`: speech prompts are skipped with a warning).
    pub fn new(tts: Option<Arc<dyn dialect_speech::tts::Tts>>) -> Speaker {
        Speaker {
            tts,
            cache: Arc::new(PromptCache::new()),
        }
    }

    /// The audio of a flow prompt, as a list of prompts to play in order.
    pub async fn render(
        &self,
        deployed: &Deployed,
        prompt: &FlowPrompt,
        language: &str,
    ) -> Result<Vec<Arc<Prompt>>, String> {
        match prompt {
            FlowPrompt::Files(files) => files
                .iter()
                .map(|f| {
                    deployed
                        .prompt(f, language)
                        .ok_or_else(|| format!("the prompt file {f} is not in the bundle"))
                })
                .collect(),
            FlowPrompt::Speech { items, voice, rate } => {
                let text = speakable(items, language);
                if text.trim().is_empty() {
                    return Ok(Vec::new());
                }
                let Some(tts) = &self.tts else {
                    return Err("no text-to-speech engine is configured".into());
                };
                let mut v = Voice::new(language);
                if let Some(name) = voice {
                    v = v.with_name(name.clone());
                }
                if let Some(r) = rate {
                    v = v.with_rate((*r).min(u32::from(u16::MAX)) as u16);
                }
                let audio = tts
                    .synthesize(&text, &v)
                    .await
                    .map_err(|e| format!("text to speech failed: {e}"))?;
                Ok(vec![self.cache.from_pcm(&audio.samples, audio.sample_rate)])
            }
        }
    }
}

/// The words for a list of speech items in a language.
pub fn speakable(items: &[Speech], language: &str) -> String {
    let lang = Lang::from_tag(language);
    let zh = matches!(lang, Lang::Zh);
    let mut parts: Vec<String> = Vec::new();
    for it in items {
        parts.push(match it {
            Speech::Text(t) => t.clone(),
            // Amounts are renminbi whatever the call's language: 元/角/分 in
            // Chinese, yuan and fen in English.
            Speech::Money(n) => say::money(lang, Currency::Yuan, (n * 100.0).round() as i64),
            Speech::Number(n) => {
                if n.fract() == 0.0 && n.abs() < 1e15 {
                    say::number(lang, *n as i64)
                } else {
                    say::decimal(lang, &format!("{n:.2}")).unwrap_or_else(|_| format!("{n}"))
                }
            }
            Speech::Digits(d) => say::digits(lang, d),
            Speech::Date(d) => say::date(lang, *d),
            Speech::DateTime(d) => say::datetime(lang, *d),
            Speech::Time(t) => {
                let time = chrono::NaiveTime::from_num_seconds_from_midnight_opt(*t % 86_400, 0)
                    .unwrap_or_default();
                say::time(lang, time)
            }
        });
    }
    if zh { parts.concat() } else { parts.join(" ") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn money_and_dates_read_per_language() {
        let items = vec![Speech::Text("余额".into()), Speech::Money(12.5)];
        let zh = speakable(&items, "zh");
        assert!(zh.starts_with("余额") && zh.contains('元'), "{zh}");
        assert_eq!(zh, "余额十二元五角");
        let en = speakable(&[Speech::Money(12.5)], "en");
        assert_eq!(en, "twelve yuan and fifty fen");
        assert_eq!(speakable(&[Speech::Money(0.05)], "zh"), "五分");
        assert_eq!(speakable(&[Speech::Money(100.0)], "en"), "one hundred yuan");
        let repair = chrono::NaiveDate::from_ymd_opt(2026, 12, 7)
            .and_then(|d| d.and_hms_opt(14, 30, 0))
            .unwrap();
        assert_eq!(
            speakable(
                &[
                    Speech::Text("预计修复时间".into()),
                    Speech::DateTime(repair)
                ],
                "zh"
            ),
            "预计修复时间二零二六年十二月七日十四点三十分"
        );
        assert_eq!(
            speakable(&[Speech::DateTime(repair)], "en"),
            "December seventh, twenty twenty-six at two thirty PM"
        );
    }
}
