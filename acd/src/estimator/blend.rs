//! The estimate the ACD announces: four delay predictors of a waiting call and
//! an online-learned blend of them ([`LearnedBlend`]).
//!
//! The predictors ([`Predictions::of`]) read the queue as it is now:
//!
//! - **queue length with departures** (QL-m of Ibrahim & Whitt): the caller at
//!   position `k` moves up each time an agent frees up or a caller ahead leaves
//!   without being answered; `θ` counts every such exit (abandonment, overflow,
//!   maximum wait, cancel keys, closing) per unit of waiting time;
//! - **head of line** (HOL): the `k - 1` callers between the head of the queue
//!   and this caller arrived, and stayed, over the time the head has waited more
//!   than this caller; the queue moves at that rate, so `k` places take
//!   `k (w_head - w) / (k - 1)`;
//! - **last to enter service** (LES): the wait of the last caller an agent
//!   answered, less what this caller has already waited;
//! - **queue length with departures by age** (module `hazard`): QL-m with the
//!   departure rate learned for each age of wait, so that a caller ahead who is
//!   about to reach an overflow or maximum-wait age counts for little.
//!
//! None of them is right everywhere. QL-m is nearly exact for exponential
//! patience with steady staffing, but knows nothing of a rule such as `overflow
//! ... when waited > 3m`, which removes every caller ahead at a fixed age, nor of
//! patience that is not exponential. The delay-history predictors (HOL, LES) see
//! those effects in the waits they read, but lag when arrivals or staffing
//! change and are noisy for the first places. So the blend learns, for each
//! position band and each predictor, the median of `ln(actual / predicted)` of
//! the calls that were then answered (a stochastic-approximation median, which is
//! what minimises the median absolute error the simulator scores), and a running
//! absolute error of each corrected predictor and of their mean; the estimate is
//! the corrected predictor with the smallest recent error in the caller's band.
//! Nothing is assumed about the rules: overflow, patience, callbacks and keys act
//! on the waits the blend learns from, so a project's own rules are what it
//! adapts to. Until a band has calls answered it borrows the learning of all
//! positions together, and until then QL-m alone.
//!
//! Only calls answered in the queue teach it (the wait of a caller who left is
//! not known), so it predicts the wait of a caller who stays: what a caller who
//! hears "about 2 minutes" wants to know.

/// The four predictors, in the order of [`Predictions::as_array`].
pub const PREDICTORS: usize = 4;

/// Candidate estimates the blend tracks: the four predictors and their mean.
const CANDIDATES: usize = PREDICTORS + 1;

/// Calls a band must have taught a candidate before its own learning is used.
const MIN_SAMPLES: u32 = 8;

/// The slowest the learning gets: about the last this many answered calls count.
const MEMORY_CALLS: f64 = 400.0;

/// Added to waits before taking logarithms, so that a wait of 0 has one, ms.
const LOG_OFFSET_MS: f64 = 2_000.0;

/// Position bands grow by this factor: positions 1 to 5 have a band each,
/// further back a band spans about a quarter more positions than the one
/// before; the bias of a predictor changes with the position, slowly further
/// back.
const BAND_GROWTH: f64 = 1.25;
/// Bands in all; the last takes every position beyond (about 7,500).
const BANDS: usize = 40;

/// What the predictors read of one waiting call and its queue.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct WaitState {
    /// Its place in the queue (1 is next).
    pub position: u32,
    /// How long it has waited in this queue, ms.
    pub waited_ms: f64,
    /// How long the caller at the head of the queue has waited, ms (`None`
    /// when this caller is the head).
    pub head_waited_ms: Option<f64>,
    /// The wait of the last caller an agent answered from this queue, ms.
    pub last_entered_ms: Option<f64>,
    /// Agents serving the queue over the mean handle time: calls per ms.
    pub service_rate: f64,
    /// Callers leaving unanswered per waiting caller per ms.
    pub departure_rate: f64,
    /// The queue-length prediction with departures by age
    /// ([`age_queue_estimate`](super::age_queue_estimate)), which needs every
    /// caller ahead and so is worked out by the caller of [`Predictions::of`], ms.
    pub by_age_ms: Option<f64>,
}

/// The remaining wait each predictor gives, ms (`None` where a predictor has
/// nothing to go on).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Predictions {
    /// Queue length with departures (QL-m).
    pub queue_length_ms: Option<f64>,
    /// Head of line (HOL).
    pub head_of_line_ms: Option<f64>,
    /// Last to enter service (LES).
    pub last_entered_ms: Option<f64>,
    /// Queue length with departures by age.
    pub by_age_ms: Option<f64>,
}

impl Predictions {
    /// The four predictors on `state`.
    pub fn of(state: &WaitState) -> Predictions {
        let k = state.position;
        let queue_length_ms =
            super::queue_length_estimate(k, state.service_rate, state.departure_rate);
        let head_of_line_ms = match state.head_waited_ms {
            Some(head) if k >= 2 && head > state.waited_ms => {
                Some(f64::from(k) * (head - state.waited_ms) / f64::from(k - 1))
            }
            _ => None,
        };
        let last_entered_ms = state
            .last_entered_ms
            .map(|les| les - state.waited_ms)
            .filter(|rest| *rest > 0.0);
        Predictions {
            queue_length_ms,
            head_of_line_ms,
            last_entered_ms,
            by_age_ms: state.by_age_ms,
        }
    }

    /// The predictions in a fixed order: QL-m, HOL, LES, by age.
    pub fn as_array(&self) -> [Option<f64>; PREDICTORS] {
        [
            self.queue_length_ms,
            self.head_of_line_ms,
            self.last_entered_ms,
            self.by_age_ms,
        ]
    }
}

/// What one band has learned of one candidate.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    /// Answered calls learned from.
    samples: u32,
    /// Running median of `ln((actual + c) / (predicted + c))`.
    log_bias: f64,
    /// Running mean absolute deviation around `log_bias`: the step size scale.
    log_spread: f64,
    /// Running mean absolute error of the corrected estimate, ms.
    abs_error_ms: f64,
}

impl Cell {
    fn rate(&self) -> f64 {
        (1.0 / f64::from(self.samples + 1)).max(1.0 / MEMORY_CALLS)
    }

    fn learn_bias(&mut self, predicted_ms: f64, actual_ms: f64) {
        let residual = (actual_ms.max(0.0) + LOG_OFFSET_MS).ln()
            - (predicted_ms.max(0.0) + LOG_OFFSET_MS).ln();
        let deviation = residual - self.log_bias;
        let rate = self.rate();
        if self.samples == 0 {
            self.log_bias = residual;
        } else {
            let step = 1.5 * rate * (self.log_spread + 0.02);
            self.log_bias += step * deviation.signum();
        }
        self.log_spread += rate * (deviation.abs() - self.log_spread);
    }

    fn learn_error(&mut self, estimate_ms: f64, actual_ms: f64) {
        let rate = self.rate();
        let error = (estimate_ms - actual_ms).abs();
        if self.samples == 0 {
            self.abs_error_ms = error;
        } else {
            self.abs_error_ms += rate * (error - self.abs_error_ms);
        }
    }

    fn correct(&self, predicted_ms: f64) -> f64 {
        ((predicted_ms.max(0.0) + LOG_OFFSET_MS) * self.log_bias.exp() - LOG_OFFSET_MS).max(0.0)
    }
}

/// One position band: a cell per candidate.
#[derive(Debug, Clone, Copy, Default)]
struct Band {
    cells: [Cell; CANDIDATES],
}

/// The online-learned blend of one queue (see the module doc).
#[derive(Debug, Clone)]
pub struct LearnedBlend {
    bands: [Band; BANDS],
    all: Band,
}

impl Default for LearnedBlend {
    fn default() -> Self {
        LearnedBlend::new()
    }
}

fn band_of(position: u32) -> usize {
    let band = (f64::from(position.max(1)).ln() / BAND_GROWTH.ln() + 1e-9).floor();
    (band as usize).min(BANDS - 1)
}

impl LearnedBlend {
    /// A blend that has learned nothing (it starts as QL-m alone).
    pub fn new() -> LearnedBlend {
        LearnedBlend {
            bands: [Band::default(); BANDS],
            all: Band::default(),
        }
    }

    /// The cell that speaks for candidate `i` at `band`: the band's own once it
    /// has learned enough, else all positions', else none.
    fn cell(&self, band: usize, i: usize) -> Option<&Cell> {
        let own = &self.bands[band].cells[i];
        if own.samples >= MIN_SAMPLES {
            Some(own)
        } else if self.all.cells[i].samples >= MIN_SAMPLES {
            Some(&self.all.cells[i])
        } else {
            None
        }
    }

    /// Each candidate's corrected estimate and the error it has shown, at `band`.
    fn candidates(&self, band: usize, p: &Predictions) -> [Option<(f64, Option<f64>)>; CANDIDATES] {
        let mut out = [None; CANDIDATES];
        let mut sum = 0.0;
        let mut count = 0u32;
        for (i, raw) in p.as_array().iter().enumerate() {
            let Some(raw) = raw.filter(|x| x.is_finite()) else {
                continue;
            };
            let cell = self.cell(band, i);
            let corrected = cell.map(|c| c.correct(raw)).unwrap_or(raw);
            sum += corrected;
            count += 1;
            out[i] = Some((corrected, cell.map(|c| c.abs_error_ms)));
        }
        if count >= 2 {
            let cell = self.cell(band, PREDICTORS);
            out[PREDICTORS] = Some((sum / f64::from(count), cell.map(|c| c.abs_error_ms)));
        }
        out
    }

    /// The estimated remaining wait of a caller at `position`, ms; `None` when no
    /// predictor has anything to go on (nobody serves the queue).
    pub fn estimate(&self, position: u32, p: &Predictions) -> Option<f64> {
        let candidates = self.candidates(band_of(position), p);
        let best = candidates
            .iter()
            .flatten()
            .filter_map(|(estimate, error)| error.map(|e| (*estimate, e)))
            .min_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((estimate, _)) => Some(estimate),
            // Nothing learned yet: QL-m, else whichever predictor there is.
            None => candidates.iter().flatten().map(|(e, _)| *e).next(),
        }
    }

    /// A caller who was at `position` with predictions `p` when they entered the
    /// queue was answered after `actual_ms`.
    pub fn learn(&mut self, position: u32, p: &Predictions, actual_ms: f64) {
        if !actual_ms.is_finite() {
            return;
        }
        let band = band_of(position);
        // Score each candidate as it would have been told, before learning.
        let told = self.candidates(band, p);
        for (i, raw) in p.as_array().iter().enumerate() {
            let Some(raw) = raw.filter(|x| x.is_finite()) else {
                continue;
            };
            for cell in [&mut self.bands[band].cells[i], &mut self.all.cells[i]] {
                if let Some((estimate, _)) = told[i] {
                    cell.learn_error(estimate, actual_ms);
                }
                cell.learn_bias(raw, actual_ms);
                cell.samples = cell.samples.saturating_add(1);
            }
        }
        if let Some((estimate, _)) = told[PREDICTORS] {
            for cell in [
                &mut self.bands[band].cells[PREDICTORS],
                &mut self.all.cells[PREDICTORS],
            ] {
                cell.learn_error(estimate, actual_ms);
                cell.samples = cell.samples.saturating_add(1);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::rngs::StdRng;
    use rand::{Rng, SeedableRng};

    use super::*;

    fn state(position: u32) -> WaitState {
        WaitState {
            position,
            waited_ms: 0.0,
            head_waited_ms: Some(120_000.0),
            last_entered_ms: Some(150_000.0),
            service_rate: 10.0 / 180_000.0,
            departure_rate: 0.0,
            by_age_ms: None,
        }
    }

    #[test]
    fn predictors_read_the_queue() {
        let p = Predictions::of(&state(4));
        assert_eq!(p.queue_length_ms.map(f64::round), Some(72_000.0));
        // 3 callers arrived over the head's 120 s: 4 places take 160 s.
        assert_eq!(p.head_of_line_ms.map(f64::round), Some(160_000.0));
        assert_eq!(p.last_entered_ms, Some(150_000.0));
        // The head has no head-of-line prediction; a caller who has waited longer
        // than the last answered one has no LES prediction.
        let head = Predictions::of(&WaitState {
            position: 1,
            waited_ms: 200_000.0,
            ..state(1)
        });
        assert_eq!(head.head_of_line_ms, None);
        assert_eq!(head.last_entered_ms, None);
        assert!(head.queue_length_ms.is_some());
        // Nobody serving: no queue-length prediction.
        let unstaffed = Predictions::of(&WaitState {
            service_rate: 0.0,
            ..state(3)
        });
        assert_eq!(unstaffed.queue_length_ms, None);
    }

    #[test]
    fn untaught_it_is_the_queue_length_predictor() {
        let blend = LearnedBlend::new();
        let p = Predictions::of(&state(5));
        assert_eq!(blend.estimate(5, &p), p.queue_length_ms);
        let only_les = Predictions {
            last_entered_ms: Some(9_000.0),
            ..Predictions::default()
        };
        assert_eq!(blend.estimate(5, &only_les), Some(9_000.0));
        assert_eq!(blend.estimate(5, &Predictions::default()), None);
    }

    #[test]
    fn it_learns_a_bias_and_picks_the_predictor_that_holds() {
        // Actual waits are 40 % of what QL-m says (callers ahead leave), with
        // noise; LES is unrelated noise. The blend must end up near 0.4 × QL-m.
        let mut rng = StdRng::seed_from_u64(3);
        let mut blend = LearnedBlend::new();
        let mut errors = Vec::new();
        for n in 0..3_000 {
            let position = rng.random_range(1..30u32);
            let ql = f64::from(position) * 18_000.0;
            let actual = 0.4 * ql * rng.random_range(0.8..1.2);
            let p = Predictions {
                queue_length_ms: Some(ql),
                head_of_line_ms: None,
                last_entered_ms: Some(rng.random_range(0.0..300_000.0)),
                by_age_ms: None,
            };
            if n >= 2_000 {
                let estimate = blend.estimate(position, &p).unwrap_or(f64::NAN);
                errors.push((estimate - actual).abs() / actual);
            }
            blend.learn(position, &p, actual);
        }
        errors.sort_by(f64::total_cmp);
        let median = errors[errors.len() / 2];
        assert!(median < 0.12, "median relative error {median}");
    }

    #[test]
    fn bands_cover_every_position() {
        assert_eq!(band_of(0), 0);
        assert_eq!(band_of(1), 0);
        assert_eq!(band_of(2), 3);
        assert_eq!(band_of(3), 4);
        assert_eq!(band_of(4), 6);
        assert_eq!(band_of(5), 7);
        assert_eq!(band_of(6), 8);
        assert!(band_of(100) < band_of(200));
        assert_eq!(band_of(10_000), BANDS - 1);
        assert_eq!(band_of(u32::MAX), BANDS - 1);
    }
}
