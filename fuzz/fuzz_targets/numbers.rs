//! Fuzzes the telephone-number reader and dial-plan patterns: a number from a
//! SIP header, a file or the API is read into canonical form (which must read
//! back to itself), and a pattern written by an operator is parsed and matched
//! against it.
#![no_main]

use dialect_numbers::{NumberRules, Pattern, canonical};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (pattern, number) = text.split_once('\n').unwrap_or((&text, &text));
    let rules = NumberRules::default();
    if let Ok(n) = canonical(number, &rules) {
        assert_eq!(canonical(&n, &rules).as_deref(), Ok(n.as_str()), "canonical twice");
        if let Ok(p) = Pattern::parse(pattern) {
            let _ = p.matches(&n);
        }
    }
    if let Ok(p) = Pattern::parse(pattern) {
        let _ = p.matches(number);
    }
});
