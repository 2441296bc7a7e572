//! The rule a phone password must meet. Digest authentication lets anyone who
//! captures one exchange try passwords offline against it (MD5 is fast), so
//! the lock-outs that stop online guessing are not enough on their own: the
//! password itself must be long and varied. The rule, written for the people
//! who choose passwords:
//!
//! - at least [`MIN_LENGTH`] characters;
//! - at least two kinds among lower-case letters, upper-case letters, digits
//!   and other characters (so not only digits: a PIN is never enough);
//! - at least [`MIN_DISTINCT`] different characters;
//! - not the user name, nor containing it when the user name has 4 or more
//!   characters;
//! - no control characters (they do not survive YAML, JSON and phone keypads
//!   alike).

/// Fewest characters in a phone password.
pub const MIN_LENGTH: usize = 10;

/// Fewest different characters in a phone password.
pub const MIN_DISTINCT: usize = 5;

/// What is wrong with a password; its `Display` says how to fix it, without
/// repeating the password.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum WeakPassword {
    /// Shorter than [`MIN_LENGTH`].
    #[error("the phone password is too short: it needs at least {MIN_LENGTH} characters")]
    TooShort,
    /// Only one kind of character.
    #[error(
        "the phone password needs at least two kinds of characters among lower-case letters, upper-case letters, digits and others"
    )]
    OneKind,
    /// Too few different characters.
    #[error(
        "the phone password repeats itself: it needs at least {MIN_DISTINCT} different characters"
    )]
    Repetitive,
    /// Is or contains the user name.
    #[error("the phone password must not contain the user name")]
    HasUserName,
    /// Contains a control character.
    #[error("the phone password must not contain control characters")]
    ControlCharacter,
}

/// Checks `password` for user `username` against the rule.
pub fn check_password(username: &str, password: &str) -> Result<(), WeakPassword> {
    if password.chars().any(char::is_control) {
        return Err(WeakPassword::ControlCharacter);
    }
    if password.chars().count() < MIN_LENGTH {
        return Err(WeakPassword::TooShort);
    }
    let kinds = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password
            .chars()
            .any(|c| !c.is_lowercase() && !c.is_uppercase() && !c.is_ascii_digit()),
    ];
    if kinds.iter().filter(|k| **k).count() < 2 {
        return Err(WeakPassword::OneKind);
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < MIN_DISTINCT {
        return Err(WeakPassword::Repetitive);
    }
    let user = username.to_lowercase();
    let lower = password.to_lowercase();
    if !user.is_empty() && (lower == user || user.chars().count() >= 4 && lower.contains(&user)) {
        return Err(WeakPassword::HasUserName);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        for (pw, want) in [
            ("1234", Err(WeakPassword::TooShort)),
            ("s3cret", Err(WeakPassword::TooShort)),
            ("0123456789", Err(WeakPassword::OneKind)),
            ("correcthorse", Err(WeakPassword::OneKind)),
            ("aaaaaaaaa1", Err(WeakPassword::Repetitive)),
            ("x7001-phone-key", Err(WeakPassword::HasUserName)),
            ("line\nbreak-9", Err(WeakPassword::ControlCharacter)),
            ("Correcthorse", Ok(())),
            ("blue-pigeon-42", Ok(())),
            ("电话密码是很长的2024", Ok(())),
        ] {
            assert_eq!(check_password("7001", pw), want, "{pw}");
        }
        // A short user name may appear inside a password by chance.
        assert_eq!(check_password("7", "blue-pigeon-7"), Ok(()));
        assert_eq!(
            check_password("ab", "ab").unwrap_err(),
            WeakPassword::TooShort
        );
        assert!(
            !WeakPassword::TooShort.to_string().contains("1234"),
            "messages never repeat the password"
        );
    }
}
