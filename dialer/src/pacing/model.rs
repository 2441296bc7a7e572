//! What the predictive pacer learns online from the campaign's own calls: the
//! live-answer rate, when live answers come (the answer-delay distribution),
//! when the other lines end (busy, no answer, machines), how long agents talk,
//! and how long wrap-up takes. Distributions are histograms that forget: when
//! one holds more than its memory, every count is halved, so a change in the
//! list or the time of day shows within a few hundred calls.

/// An empirical distribution of durations with a cumulative lookup.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    bin_ms: i64,
    counts: Vec<f64>,
    total: f64,
    /// `cumulative[i]` = share of observations in bins `0..=i`.
    cumulative: Vec<f64>,
    dirty: bool,
    memory: f64,
}

impl Histogram {
    /// A histogram of `bins` bins of `bin_ms`, the last one open-ended, seeded with
    /// `weight` pseudo-observations of an exponential distribution of mean `prior_ms`.
    pub(crate) fn new(
        bin_ms: i64,
        bins: usize,
        memory: f64,
        prior_ms: f64,
        weight: f64,
    ) -> Histogram {
        let mut h = Histogram {
            bin_ms: bin_ms.max(1),
            counts: vec![0.0; bins.max(2)],
            total: 0.0,
            cumulative: vec![0.0; bins.max(2)],
            dirty: true,
            memory,
        };
        let k = 40;
        for i in 0..k {
            let q = (f64::from(i) + 0.5) / f64::from(k);
            let x = -prior_ms * (1.0 - q).ln();
            h.add_weighted(x as i64, weight / f64::from(k));
        }
        h.refresh();
        h
    }

    fn bin_of(&self, x_ms: i64) -> usize {
        ((x_ms.max(0) / self.bin_ms) as usize).min(self.counts.len() - 1)
    }

    fn add_weighted(&mut self, x_ms: i64, w: f64) {
        let b = self.bin_of(x_ms);
        self.counts[b] += w;
        self.total += w;
        if self.total > self.memory {
            for c in &mut self.counts {
                *c *= 0.5;
            }
            self.total *= 0.5;
        }
        self.dirty = true;
    }

    /// Counts one observation.
    pub(crate) fn add(&mut self, x_ms: i64) {
        self.add_weighted(x_ms, 1.0);
    }

    /// Rebuilds the cumulative shares after observations.
    pub(crate) fn refresh(&mut self) {
        if !self.dirty {
            return;
        }
        let mut run = 0.0;
        for (c, out) in self.counts.iter().zip(self.cumulative.iter_mut()) {
            run += c;
            *out = if self.total > 0.0 {
                run / self.total
            } else {
                0.0
            };
        }
        self.dirty = false;
    }

    /// P(X ≤ x), linear within a bin; valid after [`Histogram::refresh`].
    pub(crate) fn cdf(&self, x_ms: i64) -> f64 {
        if x_ms < 0 {
            return 0.0;
        }
        let b = (x_ms / self.bin_ms) as usize;
        if b >= self.counts.len() - 1 {
            // The open-ended last bin: all but it is below.
            let below = self.cumulative[self.counts.len() - 2];
            return if b >= self.counts.len() { 1.0 } else { below };
        }
        let before = if b == 0 { 0.0 } else { self.cumulative[b - 1] };
        let frac = (x_ms - b as i64 * self.bin_ms) as f64 / self.bin_ms as f64;
        before + (self.cumulative[b] - before) * frac
    }

    /// The smallest x with P(X ≤ x) ≥ q, to a bin.
    pub(crate) fn quantile(&self, q: f64) -> i64 {
        let i = self.cumulative.partition_point(|&c| c < q);
        (i as i64 + 1) * self.bin_ms
    }

    /// The mean, ms (bins at their middle).
    pub(crate) fn mean(&self) -> f64 {
        if self.total <= 0.0 {
            return 0.0;
        }
        self.counts
            .iter()
            .enumerate()
            .map(|(i, c)| c * (i as f64 + 0.5) * self.bin_ms as f64)
            .sum::<f64>()
            / self.total
    }
}

/// The learned traffic model.
#[derive(Debug, Clone)]
pub(crate) struct Model {
    /// Weighted live answers and resolved lines, forgetting like the histograms.
    live: f64,
    resolved: f64,
    /// Weighted answers by a machine or fax, forgetting with `resolved`.
    machines: f64,
    memory: f64,
    /// Dial → live answer.
    pub(crate) live_delay: Histogram,
    /// Dial → end of a line that did not bring a person (busy, no answer, machine...).
    pub(crate) other_end: Histogram,
    /// Talk time of connected calls.
    pub(crate) talk: Histogram,
    /// Wrap-up time (running mean).
    wrap_mean_ms: f64,
}

/// Starting beliefs before the campaign's own calls are known.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Priors {
    /// The share of dialled lines answered by a person.
    pub live_rate: f64,
    /// Mean dial-to-answer time of live answers, ms.
    pub answer_delay_ms: f64,
    /// Mean time until a line without a person ends, ms.
    pub other_end_ms: f64,
    /// Mean talk time, ms.
    pub talk_ms: f64,
    /// Mean wrap-up time, ms.
    pub wrap_ms: f64,
}

impl Default for Priors {
    fn default() -> Priors {
        Priors {
            live_rate: 0.3,
            answer_delay_ms: 8_000.0,
            other_end_ms: 15_000.0,
            talk_ms: 180_000.0,
            wrap_ms: 30_000.0,
        }
    }
}

/// Prior weight, in observations.
const PRIOR_WEIGHT: f64 = 20.0;

impl Model {
    pub(crate) fn new(p: &Priors) -> Model {
        Model {
            live: p.live_rate * PRIOR_WEIGHT,
            resolved: PRIOR_WEIGHT,
            machines: p.live_rate * PRIOR_WEIGHT / 2.0,
            memory: 2_000.0,
            live_delay: Histogram::new(250, 480, 2_000.0, p.answer_delay_ms, PRIOR_WEIGHT),
            other_end: Histogram::new(250, 480, 2_000.0, p.other_end_ms, PRIOR_WEIGHT),
            talk: Histogram::new(2_000, 1_800, 1_000.0, p.talk_ms, PRIOR_WEIGHT),
            wrap_mean_ms: p.wrap_ms,
        }
    }

    fn resolve(&mut self, live: bool) {
        self.resolved += 1.0;
        if live {
            self.live += 1.0;
        }
        if self.resolved > self.memory {
            self.resolved *= 0.5;
            self.live *= 0.5;
            self.machines *= 0.5;
        }
    }

    pub(crate) fn answered_live(&mut self, delay_ms: i64) {
        self.resolve(true);
        self.live_delay.add(delay_ms);
    }

    /// A machine or fax answered `after_ms` after the dial.
    pub(crate) fn answered_by_machine(&mut self, after_ms: i64) {
        self.machines += 1.0;
        self.ended_without_person(after_ms);
    }

    pub(crate) fn ended_without_person(&mut self, after_ms: i64) {
        self.resolve(false);
        self.other_end.add(after_ms);
    }

    pub(crate) fn talk_ended(&mut self, talk_ms: i64) {
        self.talk.add(talk_ms);
    }

    pub(crate) fn wrap_ended(&mut self, wrap_ms: i64) {
        self.wrap_mean_ms += (wrap_ms as f64 - self.wrap_mean_ms) * 0.05;
    }

    pub(crate) fn refresh(&mut self) {
        self.live_delay.refresh();
        self.other_end.refresh();
        self.talk.refresh();
    }

    /// The share of lines answered by a person.
    pub(crate) fn live_rate(&self) -> f64 {
        if self.resolved > 0.0 {
            self.live / self.resolved
        } else {
            0.0
        }
    }

    /// The share of answered lines that are people: the chance that a line
    /// under machine detection brings one.
    pub(crate) fn person_share_of_answers(&self) -> f64 {
        let answers = self.live + self.machines;
        if answers > 0.0 {
            self.live / answers
        } else {
            0.0
        }
    }

    pub(crate) fn wrap_mean_ms(&self) -> f64 {
        self.wrap_mean_ms
    }

    /// P(a line still ringing after `elapsed_ms` brings a person within the next
    /// `within_ms`).
    pub(crate) fn live_within(&self, elapsed_ms: i64, within_ms: i64) -> f64 {
        let p = self.live_rate();
        let fl_now = self.live_delay.cdf(elapsed_ms);
        let pending = 1.0 - p * fl_now - (1.0 - p) * self.other_end.cdf(elapsed_ms);
        if pending <= 1e-9 {
            return 0.0;
        }
        let gained = p * (self.live_delay.cdf(elapsed_ms + within_ms) - fl_now);
        (gained / pending).clamp(0.0, 1.0)
    }

    /// P(an agent who has talked for `elapsed_ms` is free (talk and wrap-up
    /// done) within `within_ms`).
    pub(crate) fn free_within(&self, elapsed_ms: i64, within_ms: i64) -> f64 {
        let talk_left_by = within_ms - self.wrap_mean_ms as i64;
        if talk_left_by <= 0 {
            return 0.0;
        }
        let f_now = self.talk.cdf(elapsed_ms);
        let surviving = 1.0 - f_now;
        if surviving <= 1e-9 {
            // Longer than anything seen: assume the call ends at the next bin's pace.
            return 0.5;
        }
        ((self.talk.cdf(elapsed_ms + talk_left_by) - f_now) / surviving).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_learns_a_distribution_and_forgets_the_prior() {
        let mut h = Histogram::new(1000, 100, 10_000.0, 50_000.0, 20.0);
        for _ in 0..2000 {
            h.add(10_000);
            h.add(20_000);
        }
        h.refresh();
        assert!(h.cdf(9_000) < 0.02, "{}", h.cdf(9_000));
        assert!((h.cdf(11_000) - 0.5).abs() < 0.02);
        assert!(h.cdf(21_000) > 0.98);
        assert_eq!(h.quantile(0.9), 21_000);
        assert!((h.mean() - 15_500.0).abs() < 300.0, "{}", h.mean());
    }

    #[test]
    fn ringing_lines_lose_their_chance_of_a_person_as_they_ring() {
        let mut m = Model::new(&Priors::default());
        for _ in 0..300 {
            m.answered_live(5_000);
            m.ended_without_person(30_000);
            m.ended_without_person(30_000);
        }
        m.refresh();
        assert!((m.live_rate() - 1.0 / 3.0).abs() < 0.02);
        let fresh = m.live_within(0, 60_000);
        let late = m.live_within(10_000, 60_000);
        assert!((fresh - 1.0 / 3.0).abs() < 0.05, "{fresh}");
        assert!(late < 0.05, "{late}");
    }

    #[test]
    fn agents_in_long_calls_free_up_by_the_talk_distribution() {
        let mut m = Model::new(&Priors::default());
        for _ in 0..500 {
            m.talk_ended(60_000);
            m.talk_ended(120_000);
        }
        for _ in 0..100 {
            m.wrap_ended(10_000);
        }
        m.refresh();
        assert!((m.wrap_mean_ms() - 10_000.0).abs() < 500.0);
        // After 90 s, half the calls (the 120 s ones) remain and end 30 s later.
        assert!(m.free_within(90_000, 45_000) > 0.9);
        assert!(m.free_within(90_000, 5_000) < 0.01);
    }
}
