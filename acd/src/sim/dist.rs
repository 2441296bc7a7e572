//! Random durations for the simulator, written in traffic files as a duration
//! (`3m`: constant) or `{exponential: 3m}`, `{lognormal: {mean: 3m, sd: 1m}}`,
//! `{uniform: [1m, 5m]}`, `{erlang: {k: 3, mean: 3m}}`.

use rand::Rng;
use serde::{Deserialize, Deserializer};

/// A duration in milliseconds read from `30s`, `2m`, `1h30m` or a number of ms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ms(pub i64);

impl<'de> Deserialize<'de> for Ms {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Ms, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(i64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Num(n) if n >= 0 => Ok(Ms(n)),
            Raw::Num(n) => Err(serde::de::Error::custom(format!("{n} is negative"))),
            Raw::Text(s) => dialect_lang::literal::parse_duration(s.trim())
                .filter(|ms| *ms >= 0)
                .map(Ms)
                .ok_or_else(|| {
                    serde::de::Error::custom(format!("`{s}` is not a duration such as 30s or 3m"))
                }),
        }
    }
}

/// Lognormal parameters as written: the `mean` and standard deviation (`sd`) of
/// the durations themselves.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(missing_docs, reason = "fields are described on the type")]
pub struct MeanSd {
    pub mean: Ms,
    pub sd: Ms,
}

/// Erlang-k parameters as written (`{erlang: {k: 3, mean: 3m}}`).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErlangK {
    /// Number of exponential phases.
    pub k: u32,
    /// The mean of the whole duration (all `k` phases).
    pub mean: Ms,
}

/// A distribution of durations as a traffic file writes it: a plain duration
/// is constant; otherwise `exponential`, `lognormal`, `uniform` or `erlang`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Dist {
    /// Always the same.
    Constant(Ms),
    /// Exponential with this mean.
    Exponential(Ms),
    /// Lognormal with this mean and standard deviation.
    Lognormal(MeanSd),
    /// Uniform between the two.
    Uniform(Ms, Ms),
    /// Erlang-k (sum of k exponentials) with this mean.
    Erlang(ErlangK),
}

impl<'de> Deserialize<'de> for Dist {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dist, D::Error> {
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case", deny_unknown_fields)]
        enum Tagged {
            Constant(Ms),
            Exponential(Ms),
            Lognormal(MeanSd),
            Uniform((Ms, Ms)),
            Erlang(ErlangK),
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Plain(Ms),
            Tagged(Tagged),
        }
        let raw = Raw::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "expected a duration (3m) or {exponential: 3m}, {lognormal: {mean: 3m, sd: 1m}}, \
                 {uniform: [1m, 5m]}, {erlang: {k: 3, mean: 3m}}",
            )
        })?;
        Ok(match raw {
            Raw::Plain(m) | Raw::Tagged(Tagged::Constant(m)) => Dist::Constant(m),
            Raw::Tagged(Tagged::Exponential(m)) => Dist::Exponential(m),
            Raw::Tagged(Tagged::Lognormal(p)) => Dist::Lognormal(p),
            Raw::Tagged(Tagged::Uniform((a, b))) => Dist::Uniform(a.min(b), a.max(b)),
            Raw::Tagged(Tagged::Erlang(e)) => Dist::Erlang(e),
        })
    }
}

impl Dist {
    /// The mean, ms.
    pub fn mean(&self) -> f64 {
        match self {
            Dist::Constant(m) | Dist::Exponential(m) => m.0 as f64,
            Dist::Lognormal(p) => p.mean.0 as f64,
            Dist::Uniform(a, b) => (a.0 + b.0) as f64 / 2.0,
            Dist::Erlang(e) => e.mean.0 as f64,
        }
    }

    /// A sample, ms (at least 0).
    pub fn sample(&self, rng: &mut impl Rng) -> i64 {
        let v = match *self {
            Dist::Constant(m) => m.0 as f64,
            Dist::Exponential(m) => exp(rng, m.0 as f64),
            Dist::Lognormal(p) => {
                let (m, s) = (p.mean.0 as f64, p.sd.0 as f64);
                if m <= 0.0 {
                    0.0
                } else {
                    let sigma2 = (1.0 + (s * s) / (m * m)).ln();
                    let mu = m.ln() - sigma2 / 2.0;
                    (mu + sigma2.sqrt() * normal(rng)).exp()
                }
            }
            Dist::Uniform(a, b) => a.0 as f64 + rng.random::<f64>() * (b.0 - a.0) as f64,
            Dist::Erlang(e) => {
                let k = e.k.max(1);
                let phase = e.mean.0 as f64 / f64::from(k);
                (0..k).map(|_| exp(rng, phase)).sum()
            }
        };
        v.max(0.0).round() as i64
    }
}

/// An exponential sample with this mean (unrounded).
pub fn exp(rng: &mut impl Rng, mean: f64) -> f64 {
    let u: f64 = rng.random();
    -mean * (1.0 - u).ln()
}

fn normal(rng: &mut impl Rng) -> f64 {
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn parse(s: &str) -> Dist {
        serde_yaml::from_str(s).unwrap()
    }

    #[test]
    fn forms_parse() {
        assert_eq!(parse("3m"), Dist::Constant(Ms(180_000)));
        assert_eq!(parse("{exponential: 90s}"), Dist::Exponential(Ms(90_000)));
        assert_eq!(
            parse("{uniform: [5m, 1m]}"),
            Dist::Uniform(Ms(60_000), Ms(300_000))
        );
        assert!(matches!(
            parse("{lognormal: {mean: 3m, sd: 1m}}"),
            Dist::Lognormal(_)
        ));
        assert!(serde_yaml::from_str::<Dist>("{gamma: 3m}").is_err());
        assert!(serde_yaml::from_str::<Dist>("soon").is_err());
    }

    #[test]
    fn sample_means_are_right() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for d in [
            parse("{exponential: 100s}"),
            parse("{lognormal: {mean: 100s, sd: 50s}}"),
            parse("{uniform: [50s, 150s]}"),
            parse("{erlang: {k: 3, mean: 100s}}"),
        ] {
            let n = 200_000;
            let m: f64 = (0..n).map(|_| d.sample(&mut rng) as f64).sum::<f64>() / n as f64;
            assert!((m - 100_000.0).abs() / 100_000.0 < 0.01, "{d:?}: {m}");
        }
    }
}
