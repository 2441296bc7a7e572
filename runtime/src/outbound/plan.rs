//! Dial plans: which numbers an origin or a trunk may reach.
//!
//! A plan allows a number when one `allow` pattern matches its canonical form
//! and no `deny` pattern does. The built-in plan `national` is the safe
//! default: Chinese mobile numbers, numbers with an area code and local
//! numbers; nothing abroad, no premium-rate or information services, no short
//! codes (emergency numbers have a rule of their own).

use std::collections::BTreeMap;

use dialect_numbers::Pattern;

use crate::config::DialPlanConfig;

/// A dial plan, ready to match numbers.
#[derive(Debug, Clone)]
pub struct DialPlan {
    /// Its name, for refusals and the audit log.
    pub name: String,
    allow: Vec<Pattern>,
    deny: Vec<Pattern>,
}

/// Why a plan does not allow a number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlanRefusal {
    /// A `deny` pattern matched.
    Denied {
        /// The `deny` pattern that matched, as text.
        pattern: String,
    },
    /// No `allow` pattern matched.
    NotAllowed,
}

/// The patterns of the built-in `national` plan.
const NATIONAL_ALLOW: &[&str] = &[
    "1[3-9]XXXXXXXXX", // mobile
    "0[1-9]XXXXXXXX",  // area code and number, 10 digits
    "0[1-9]XXXXXXXXX", // 11 digits
    "0[1-9]XXXXXXXXXX",
    "[2-8]XXXXXX", // local, 7 or 8 digits
    "[2-8]XXXXXXX",
];
const NATIONAL_DENY: &[&str] = &[
    "00.",   // abroad
    "168.",  // information services (声讯)
    "0168.", // the same with a trunk prefix
    "1259.", // value-added service platforms
    "1258.",
];

impl DialPlan {
    /// A plan from its configuration.
    pub fn new(name: &str, config: &DialPlanConfig) -> DialPlan {
        DialPlan {
            name: name.to_string(),
            allow: config.allow.clone(),
            deny: config.deny.clone(),
        }
    }

    /// The built-in `national` plan.
    pub fn national() -> DialPlan {
        let parse = |list: &[&str]| -> Vec<Pattern> {
            list.iter().filter_map(|p| Pattern::parse(p).ok()).collect()
        };
        DialPlan {
            name: "national".into(),
            allow: parse(NATIONAL_ALLOW),
            deny: parse(NATIONAL_DENY),
        }
    }

    /// Every plan of a configuration by name, `national` included (a configured
    /// plan of that name replaces it).
    pub fn all(configured: &BTreeMap<String, DialPlanConfig>) -> BTreeMap<String, DialPlan> {
        let mut plans = BTreeMap::new();
        plans.insert("national".to_string(), DialPlan::national());
        for (name, config) in configured {
            plans.insert(name.clone(), DialPlan::new(name, config));
        }
        plans
    }

    /// Whether `number` (canonical) may be dialled under this plan.
    pub fn check(&self, number: &str) -> Result<(), PlanRefusal> {
        if let Some(p) = self.deny.iter().find(|p| p.matches(number)) {
            return Err(PlanRefusal::Denied {
                pattern: p.as_str().to_string(),
            });
        }
        if self.allow.iter().any(|p| p.matches(number)) {
            Ok(())
        } else {
            Err(PlanRefusal::NotAllowed)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_national_plan_allows_home_numbers_and_nothing_costly() {
        let plan = DialPlan::national();
        assert_eq!(
            NATIONAL_ALLOW.len() + NATIONAL_DENY.len(),
            plan.allow.len() + plan.deny.len()
        );
        for n in [
            "13800138000",
            "01065529988",
            "075512345678",
            "65529988",
            "6552998",
        ] {
            assert_eq!(plan.check(n), Ok(()), "{n}");
        }
        for n in ["00882169999999", "00442079460000"] {
            assert_eq!(
                plan.check(n),
                Err(PlanRefusal::Denied {
                    pattern: "00.".into()
                }),
                "{n}"
            );
        }
        assert!(matches!(
            plan.check("16812345"),
            Err(PlanRefusal::Denied { .. })
        ));
        for n in ["110", "10000", "95588", "12800138000", "1380013800"] {
            assert_eq!(plan.check(n), Err(PlanRefusal::NotAllowed), "{n}");
        }
    }
}
