//! Menus and digit collection on a live call: prompts with barge-in, keys from all
//! three DTMF paths (type-ahead included), first-key and between-key time-outs,
//! key sequences, terminators, and speech through the recognizer: spoken menu
//! choices and spoken digits. With barge-in, the recognizer listens while the
//! prompt plays, and a caller who starts speaking stops it as a key would.

use std::sync::Arc;
use std::time::Duration;

use dialect_compiler::exec::{Command, Input};
use dialect_speech::asr::Progress;
use dialect_speech::asr::{Grammar, Recognition, Session as AsrSession};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::{Call, End, Event};

/// What the keys typed so far mean for a menu.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    /// A choice, and no longer pattern starts with the keys.
    Choice(u32),
    /// No choice starts with the keys.
    NoMatch,
    /// More keys may come (an exact match, if any, wins when they do not).
    Wait(Option<u32>),
}

/// What the recognizer tells a menu or a collect while it listens.
#[derive(Debug)]
enum Heard {
    /// The caller started speaking: the prompt stops (barge-in), and the turn
    /// waits for the utterance to end rather than for a key.
    Started,
    /// The turn is over.
    Result(Recognition),
}

/// The longest a turn that heard speech waits for its result (the
/// end-pointer's own limit on an utterance ends it well before).
const SPEECH_RESULT_WAIT: Duration = Duration::from_secs(20);

/// The longest the recognizer listens while a prompt plays (it is dropped
/// when the turn ends anyway).
const LISTEN_DURING_PROMPT: Duration = Duration::from_secs(120);

/// The next recognizer message, or never when not listening.
async fn heard(listening: &mut Option<mpsc::Receiver<Heard>>) -> Option<Heard> {
    match listening.as_mut() {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

fn decide(typed: &str, patterns: &[(String, u32)]) -> Decision {
    let exact = patterns.iter().find(|(p, _)| p == typed).map(|(_, i)| *i);
    let longer = patterns
        .iter()
        .any(|(p, _)| p.len() > typed.len() && p.starts_with(typed));
    match (exact, longer) {
        (Some(i), false) => Decision::Choice(i),
        (e, true) => Decision::Wait(e),
        (None, false) => Decision::NoMatch,
    }
}

impl Call {
    /// Runs a menu or a collect; returns what the flow is resumed with.
    pub(super) async fn input(&mut self, cmd: &Command, language: &str) -> Result<Input, End> {
        let (prompts, barge_in) = match cmd {
            Command::Menu {
                prompts, barge_in, ..
            }
            | Command::Collect {
                prompts, barge_in, ..
            } => (prompts, *barge_in),
            _ => return Ok(Input::Done),
        };
        let mut audio = Vec::new();
        for p in prompts {
            audio.extend(self.render(p, language).await);
        }
        // Keys typed ahead (during an earlier prompt) count at once.
        let mut typed = String::new();
        let mut playing: Option<dialect_media::PlaybackId> = None;
        if self.keys.is_empty() && !audio.is_empty() {
            let last = audio.len() - 1;
            for (i, p) in audio.into_iter().enumerate() {
                let id = self.media.play(p, dialect_media::PlayOptions { barge_in });
                if i == last {
                    playing = Some(id);
                }
            }
        }
        match cmd {
            Command::Menu {
                keys,
                phrases,
                timeout_ms,
                digit_timeout_ms,
                speech,
                confidence,
                ..
            } => {
                let patterns: Vec<(String, u32)> = keys
                    .iter()
                    .enumerate()
                    .flat_map(|(i, ks)| ks.iter().map(move |k| (k.clone(), i as u32)))
                    .collect();
                let grammar = if *speech {
                    self.grammar(phrases).await
                } else {
                    None
                };
                let mut listening = match &grammar {
                    Some(g) if barge_in && playing.is_some() => {
                        Some(self.listen(g.clone(), LISTEN_DURING_PROMPT))
                    }
                    _ => None,
                };
                let mut speaking = false;
                let mut deadline: Option<Instant> = None;
                loop {
                    while let Some(k) = self.keys.pop_front() {
                        if self.late_terminator(k) {
                            continue;
                        }
                        typed.push(k);
                        match decide(&typed, &patterns) {
                            Decision::Choice(i) => {
                                return Ok(self.stop_and(playing, Input::Choice(i)));
                            }
                            Decision::NoMatch => return Ok(self.stop_and(playing, Input::NoMatch)),
                            Decision::Wait(_) => {
                                deadline = Some(Instant::now() + ms(*digit_timeout_ms));
                            }
                        }
                    }
                    if playing.is_none() && deadline.is_none() {
                        deadline = Some(Instant::now() + ms(*timeout_ms));
                        if listening.is_none()
                            && let Some(g) = &grammar
                        {
                            listening = Some(self.listen(g.clone(), ms(*timeout_ms)));
                        }
                    }
                    let ev = tokio::select! {
                        ev = self.next_event(deadline) => ev,
                        h = heard(&mut listening) => {
                            match h {
                                Some(Heard::Started) => {
                                    speaking = true;
                                    if playing.is_some() {
                                        self.media.stop_playback();
                                    }
                                    deadline = Some(Instant::now() + SPEECH_RESULT_WAIT);
                                }
                                Some(Heard::Result(Recognition::Recognized { choice, confidence: c, .. }))
                                    if f64::from(c) >= *confidence =>
                                {
                                    if let Ok(i) = choice.parse::<u32>() {
                                        self.trail("speech", format!("recognized choice {} ({c:.2})", i + 1));
                                        return Ok(self.stop_and(playing, Input::Choice(i)));
                                    }
                                    return Ok(self.stop_and(playing, Input::NoMatch));
                                }
                                Some(Heard::Result(r @ (Recognition::Recognized { .. } | Recognition::NoMatch { .. }))) => {
                                    self.trail("speech", not_understood(&r));
                                    return Ok(self.stop_and(playing, Input::NoMatch));
                                }
                                // Nobody spoke in the recognizer's time: the
                                // menu's own time-out decides.
                                Some(Heard::Result(Recognition::NoInput)) | None => {
                                    listening = None;
                                    if speaking {
                                        return Ok(self.stop_and(playing, Input::NoInput));
                                    }
                                }
                            }
                            continue;
                        }
                    };
                    match ev {
                        Some(Event::Key(k)) if self.late_terminator(k) => {}
                        Some(Event::Key(k)) => {
                            if barge_in && playing.is_some() {
                                self.media.stop_playback();
                            }
                            self.keys.push_back(k);
                        }
                        Some(Event::Played(id, _)) if Some(id) == playing => playing = None,
                        Some(Event::Gone(e)) => return Err(e),
                        Some(_) => {}
                        None => {
                            // Time-out: an exact match waiting for more keys wins.
                            return Ok(match decide(&typed, &patterns) {
                                Decision::Wait(Some(i)) => Input::Choice(i),
                                _ if typed.is_empty() => Input::NoInput,
                                _ => Input::NoMatch,
                            });
                        }
                    }
                }
            }
            Command::Collect {
                min,
                max,
                terminator,
                timeout_ms,
                digit_timeout_ms,
                speech,
                confidence,
                mask,
                ..
            } => {
                let grammar = if *speech {
                    self.digits_grammar(*min, *max).await
                } else {
                    None
                };
                let mut listening = match &grammar {
                    Some(g) if barge_in && playing.is_some() => {
                        Some(self.listen(g.clone(), LISTEN_DURING_PROMPT))
                    }
                    _ => None,
                };
                let mut speaking = false;
                let mut deadline: Option<Instant> = None;
                loop {
                    while let Some(k) = self.keys.pop_front() {
                        if self.late_terminator(k) {
                            continue;
                        }
                        // A key ends listening: the entry is typed.
                        listening = None;
                        if Some(k) == *terminator {
                            return Ok(self.stop_and(playing, Input::Digits(typed)));
                        }
                        typed.push(k);
                        if typed.chars().count() >= *max as usize {
                            // The terminator callers press out of habit after the
                            // last digit belongs to this entry, not the next.
                            self.late_terminator =
                                terminator.map(|t| (t, Instant::now() + ms(*digit_timeout_ms)));
                            if let Some(t) = terminator
                                && self.keys.front() == Some(t)
                            {
                                self.keys.pop_front();
                                self.late_terminator = None;
                            }
                            return Ok(self.stop_and(playing, Input::Digits(typed)));
                        }
                        deadline = Some(Instant::now() + ms(*digit_timeout_ms));
                    }
                    if playing.is_none() && deadline.is_none() {
                        deadline = Some(Instant::now() + ms(*timeout_ms));
                        if listening.is_none()
                            && typed.is_empty()
                            && let Some(g) = &grammar
                        {
                            listening = Some(self.listen(g.clone(), ms(*timeout_ms)));
                        }
                    }
                    let ev = tokio::select! {
                        ev = self.next_event(deadline) => ev,
                        h = heard(&mut listening) => {
                            match h {
                                Some(Heard::Started) => {
                                    speaking = true;
                                    if playing.is_some() {
                                        self.media.stop_playback();
                                    }
                                    deadline = Some(Instant::now() + SPEECH_RESULT_WAIT);
                                }
                                Some(Heard::Result(Recognition::Recognized { choice, confidence: c, .. }))
                                    if f64::from(c) >= *confidence =>
                                {
                                    let shown = if *mask { "*".repeat(choice.chars().count()) } else { choice.clone() };
                                    self.trail("speech", format!("recognized digits {shown} ({c:.2})"));
                                    return Ok(self.stop_and(playing, Input::Digits(choice)));
                                }
                                Some(Heard::Result(r @ (Recognition::Recognized { .. } | Recognition::NoMatch { .. }))) => {
                                    let why = if *mask { "speech not understood".to_string() } else { not_understood(&r) };
                                    self.trail("speech", why);
                                    return Ok(self.stop_and(playing, Input::NoMatch));
                                }
                                Some(Heard::Result(Recognition::NoInput)) | None => {
                                    listening = None;
                                    if speaking {
                                        return Ok(self.stop_and(playing, Input::NoInput));
                                    }
                                }
                            }
                            continue;
                        }
                    };
                    match ev {
                        Some(Event::Key(k)) if self.late_terminator(k) => {}
                        Some(Event::Key(k)) => {
                            if barge_in && playing.is_some() {
                                self.media.stop_playback();
                            }
                            self.keys.push_back(k);
                        }
                        Some(Event::Played(id, _)) if Some(id) == playing => playing = None,
                        Some(Event::Gone(e)) => return Err(e),
                        Some(_) => {}
                        None => {
                            return Ok(if typed.is_empty() {
                                Input::NoInput
                            } else {
                                Input::Digits(typed)
                            });
                        }
                    }
                }
            }
            _ => Ok(Input::Done),
        }
    }

    /// Whether `k` is the terminator of a collect that already ended on its
    /// `max` digits, pressed soon after them: it is dropped. Any other key
    /// ends the wait for it.
    fn late_terminator(&mut self, k: char) -> bool {
        matches!(
            self.late_terminator.take(),
            Some((t, until)) if t == k && Instant::now() < until
        )
    }

    fn stop_and(&self, playing: Option<dialect_media::PlaybackId>, input: Input) -> Input {
        if playing.is_some() {
            self.media.stop_playback();
        }
        input
    }

    /// The recognition grammar of a menu's phrases, with the phrases the
    /// recognizer does not know left out (each checked once).
    async fn grammar(&self, phrases: &[Vec<String>]) -> Option<Arc<Grammar>> {
        let asr = self.env.asr.clone()?;
        let mut pairs = Vec::new();
        for (i, ps) in phrases.iter().enumerate() {
            for p in ps {
                let known = self
                    .env
                    .asr_phrases
                    .lock()
                    .ok()
                    .and_then(|m| m.get(p).copied());
                let known = match known {
                    Some(k) => k,
                    None => {
                        let ok = asr
                            .check(&Grammar::phrases([(p.clone(), i.to_string())]))
                            .await
                            .is_ok();
                        if let Ok(mut m) = self.env.asr_phrases.lock() {
                            m.insert(p.clone(), ok);
                        }
                        ok
                    }
                };
                if known {
                    pairs.push((p.clone(), i.to_string()));
                }
            }
        }
        (!pairs.is_empty()).then(|| Arc::new(Grammar::phrases(pairs)))
    }

    /// The grammar of spoken digits for a collect of `min..=max` digits, if the
    /// recognizer can take it.
    async fn digits_grammar(&self, min: u32, max: u32) -> Option<Arc<Grammar>> {
        let asr = self.env.asr.clone()?;
        let max = u8::try_from(max.clamp(1, 32)).unwrap_or(32);
        let min = u8::try_from(min.clamp(1, u32::from(max))).unwrap_or(1);
        let grammar = Grammar::digits(min, max);
        match asr.check(&grammar).await {
            Ok(()) => Some(Arc::new(grammar)),
            Err(e) => {
                tracing::warn!("spoken digits are not available: {e}");
                None
            }
        }
    }

    /// Starts listening to the caller for one utterance of `grammar`, for at
    /// most `no_input` before speech starts: the channel says when speech
    /// starts, then gives the result. Dropping the receiver ends the turn.
    fn listen(&self, grammar: Arc<Grammar>, no_input: Duration) -> mpsc::Receiver<Heard> {
        let (tx, rx) = mpsc::channel(2);
        let Some(asr) = self.env.asr.clone() else {
            return rx;
        };
        let tap = dialect_media::tap(&self.media);
        let endpoint = dialect_speech::asr::EndpointConfig {
            no_input_timeout: no_input.max(Duration::from_secs(1)),
            ..Default::default()
        };
        tokio::spawn(async move {
            let mut session = AsrSession::new(asr, grammar, endpoint);
            let mut frame = [0i16; 160];
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            // Bounded: the end-pointer's own limits end it well before this.
            for _ in 0..(LISTEN_DURING_PROMPT.as_millis() / 20 + 1500) {
                tick.tick().await;
                tap.read(&mut frame);
                if session.push(&frame) == Progress::SpeechStarted
                    && tx.send(Heard::Started).await.is_err()
                {
                    return;
                }
                if session.is_done() || tx.is_closed() {
                    break;
                }
            }
            drop(tap);
            if tx.is_closed() {
                return;
            }
            if let Ok(r) = session.finish().await {
                let _ = tx.send(Heard::Result(r)).await;
            }
        });
        rx
    }
}

/// The trail's words for speech that was heard but not taken.
fn not_understood(r: &Recognition) -> String {
    match r {
        Recognition::Recognized {
            text, confidence, ..
        } => {
            format!("not sure enough of \"{text}\" ({confidence:.2})")
        }
        Recognition::NoMatch { text, confidence } => match text {
            Some(t) => format!("not understood: \"{t}\" ({confidence:.2})"),
            None => "not understood".to_string(),
        },
        Recognition::NoInput => "nothing said".to_string(),
    }
}

fn ms(v: i64) -> Duration {
    Duration::from_millis(v.max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_sequences_wait_for_more_keys_only_when_they_can() {
        let p = vec![
            ("1".to_string(), 0),
            ("12".to_string(), 1),
            ("3".to_string(), 2),
        ];
        assert_eq!(decide("3", &p), Decision::Choice(2));
        assert_eq!(decide("1", &p), Decision::Wait(Some(0)));
        assert_eq!(decide("12", &p), Decision::Choice(1));
        assert_eq!(decide("4", &p), Decision::NoMatch);
    }
}
