//! The password policy: what a new password must look like before it is hashed and stored.
//!
//! Rules (all checked, all reported at once): at least 12 characters (Unicode scalar values),
//! at most 256; at least one upper-case letter, one lower-case letter, one digit and one symbol;
//! and not a common password. "Common" means the password, compared case-insensitively, is in
//! the bundled list of the 10,000 most frequent leaked passwords (`password_policy/NOTICE.md`
//! names the source), or is such a password with only digits and symbols added around it
//! (`Password123!`, `!!Dragon2024`): that is exactly how people satisfy composition rules, and
//! attackers' wordlists know it.
//!
//! The check never echoes the password: errors name the broken rules only.

use std::collections::HashSet;
use std::fmt;

/// The bundled list, lower case, one password per line, most common first.
const COMMON_PASSWORDS: &str = include_str!("password_policy/common-passwords.txt");

/// The minimum length, in characters.
pub const MIN_LENGTH: usize = 12;
/// The maximum length, in characters (bounds the hashing work an attacker can ask for).
pub const MAX_LENGTH: usize = 256;

/// One rule of the policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PasswordRule {
    /// At least [`MIN_LENGTH`] characters.
    MinLength,
    /// At most [`MAX_LENGTH`] characters.
    MaxLength,
    /// At least one upper-case letter.
    Uppercase,
    /// At least one lower-case letter.
    Lowercase,
    /// At least one digit.
    Digit,
    /// At least one symbol (a character that is neither a letter, a digit nor white space).
    Symbol,
    /// Not a common password, nor one with only digits and symbols added around it.
    NotCommon,
}

impl PasswordRule {
    /// A short, user-facing description of what the rule asks for.
    #[must_use]
    pub const fn description(self) -> &'static str {
        match self {
            Self::MinLength => "at least 12 characters",
            Self::MaxLength => "at most 256 characters",
            Self::Uppercase => "an upper-case letter",
            Self::Lowercase => "a lower-case letter",
            Self::Digit => "a digit",
            Self::Symbol => "a symbol",
            Self::NotCommon => "not a common password",
        }
    }

    /// A stable machine-readable code, e.g. for a problem+json `errors` member.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::MinLength => "min_length",
            Self::MaxLength => "max_length",
            Self::Uppercase => "uppercase",
            Self::Lowercase => "lowercase",
            Self::Digit => "digit",
            Self::Symbol => "symbol",
            Self::NotCommon => "not_common",
        }
    }
}

impl fmt::Display for PasswordRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.description())
    }
}

/// A password that breaks the policy, with every rule it breaks (in rule order, never empty).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("password does not meet the policy: it needs {}", list(.broken))]
pub struct PasswordPolicyError {
    broken: Vec<PasswordRule>,
}

impl PasswordPolicyError {
    /// The rules the password breaks.
    #[must_use]
    pub fn broken_rules(&self) -> &[PasswordRule] {
        &self.broken
    }
}

fn list(rules: &[PasswordRule]) -> String {
    rules
        .iter()
        .map(|rule| rule.description())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The password policy, holding the common-password list.
///
/// Build it once ([`PasswordPolicy::standard`] parses the bundled list, ~10,000 entries) and
/// keep it in the service that checks passwords.
#[derive(Clone)]
pub struct PasswordPolicy {
    common: HashSet<String>,
}

impl fmt::Debug for PasswordPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordPolicy")
            .field("common_passwords", &self.common.len())
            .finish()
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self::standard()
    }
}

impl PasswordPolicy {
    /// The policy with the bundled list of common passwords.
    #[must_use]
    pub fn standard() -> Self {
        Self::with_common_passwords(COMMON_PASSWORDS.lines())
    }

    /// The policy with another list of common passwords (compared case-insensitively).
    #[must_use]
    pub fn with_common_passwords<I, S>(passwords: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let common = passwords
            .into_iter()
            .map(|p| p.as_ref().trim().to_lowercase())
            .filter(|p| !p.is_empty())
            .collect();
        Self { common }
    }

    /// How many common passwords the policy knows.
    #[must_use]
    pub fn common_password_count(&self) -> usize {
        self.common.len()
    }

    /// Checks `password` against every rule.
    ///
    /// # Errors
    /// [`PasswordPolicyError`] listing every broken rule.
    pub fn check(&self, password: &str) -> Result<(), PasswordPolicyError> {
        let mut broken = Vec::new();
        let length = password.chars().count();
        if length < MIN_LENGTH {
            broken.push(PasswordRule::MinLength);
        }
        if length > MAX_LENGTH {
            broken.push(PasswordRule::MaxLength);
        }
        if !password.chars().any(char::is_uppercase) {
            broken.push(PasswordRule::Uppercase);
        }
        if !password.chars().any(char::is_lowercase) {
            broken.push(PasswordRule::Lowercase);
        }
        if !password.chars().any(char::is_numeric) {
            broken.push(PasswordRule::Digit);
        }
        if !password.chars().any(is_symbol) {
            broken.push(PasswordRule::Symbol);
        }
        if self.is_common(password) {
            broken.push(PasswordRule::NotCommon);
        }
        if broken.is_empty() {
            Ok(())
        } else {
            Err(PasswordPolicyError { broken })
        }
    }

    /// Whether `password` is a common password, or one decorated only with leading or trailing
    /// digits, symbols and white space.
    #[must_use]
    pub fn is_common(&self, password: &str) -> bool {
        let lower = password.to_lowercase();
        if self.common.contains(lower.as_str()) {
            return true;
        }
        let core = lower.trim_matches(|c: char| !c.is_alphabetic());
        !core.is_empty() && core.len() < lower.len() && self.common.contains(core)
    }
}

fn is_symbol(c: char) -> bool {
    !c.is_alphanumeric() && !c.is_whitespace() && !c.is_control()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken(password: &str) -> Vec<PasswordRule> {
        PasswordPolicy::standard()
            .check(password)
            .err()
            .map(|e| e.broken_rules().to_vec())
            .unwrap_or_default()
    }

    #[test]
    fn a_long_mixed_password_is_accepted() {
        assert_eq!(
            broken("Correct-Horse-Battery-9"),
            Vec::<PasswordRule>::new()
        );
        assert_eq!(broken("zR7#qLw2!vNp"), Vec::<PasswordRule>::new());
    }

    #[test]
    fn the_bundled_list_has_thousands_of_entries() {
        let policy = PasswordPolicy::standard();
        assert!(policy.common_password_count() >= 5_000);
        assert!(policy.is_common("password"));
        assert!(policy.is_common("123456"));
    }

    #[test]
    fn an_empty_password_breaks_every_composition_rule() {
        assert_eq!(
            broken(""),
            vec![
                PasswordRule::MinLength,
                PasswordRule::Uppercase,
                PasswordRule::Lowercase,
                PasswordRule::Digit,
                PasswordRule::Symbol,
            ]
        );
    }

    #[test]
    fn each_missing_class_is_reported() {
        assert_eq!(broken("abcdefgh1234!"), vec![PasswordRule::Uppercase]);
        assert_eq!(broken("ABCDEFGH1234!"), vec![PasswordRule::Lowercase]);
        assert_eq!(broken("Abcdefghijkl!"), vec![PasswordRule::Digit]);
        assert_eq!(broken("Abcdefgh12345"), vec![PasswordRule::Symbol]);
        assert_eq!(broken("Ab1!xyz"), vec![PasswordRule::MinLength]);
    }

    #[test]
    fn length_counts_characters_not_bytes() {
        // 11 characters but more than 12 bytes.
        assert_eq!(broken("Äöü1!abcdeF"), vec![PasswordRule::MinLength]);
        assert_eq!(broken("Äöü1!abcdeFg"), Vec::<PasswordRule>::new());
    }

    #[test]
    fn a_very_long_password_is_refused() {
        let long = format!("Aa1!{}", "x".repeat(MAX_LENGTH));
        assert_eq!(broken(&long), vec![PasswordRule::MaxLength]);
    }

    #[test]
    fn a_common_password_is_refused_whatever_its_case() {
        let policy = PasswordPolicy::with_common_passwords(["correcthorse!battery9"]);
        let err = policy.check("CorrectHorse!Battery9").unwrap_err();
        assert_eq!(err.broken_rules(), [PasswordRule::NotCommon]);
    }

    #[test]
    fn a_common_word_with_digits_and_symbols_added_is_refused() {
        // "password" and "dragon" are in the bundled list; these pass every composition rule.
        assert_eq!(broken("Password1234!"), vec![PasswordRule::NotCommon]);
        assert_eq!(broken("!!Dragon2024##"), vec![PasswordRule::NotCommon]);
        // A common word inside other letters is not the same password.
        assert_eq!(broken("Xpassword1234!"), Vec::<PasswordRule>::new());
    }

    #[test]
    fn the_error_lists_every_broken_rule_and_never_the_password() {
        let err = PasswordPolicy::standard().check("password").unwrap_err();
        let message = err.to_string();
        assert_eq!(
            message,
            "password does not meet the policy: it needs at least 12 characters, \
             an upper-case letter, a digit, a symbol, not a common password"
        );
        let debug = format!("{err:?}");
        assert!(!debug.contains("\"password\""));
    }

    #[test]
    fn rule_codes_are_stable() {
        let codes: Vec<_> = [
            PasswordRule::MinLength,
            PasswordRule::MaxLength,
            PasswordRule::Uppercase,
            PasswordRule::Lowercase,
            PasswordRule::Digit,
            PasswordRule::Symbol,
            PasswordRule::NotCommon,
        ]
        .iter()
        .map(|r| r.code())
        .collect();
        assert_eq!(
            codes,
            [
                "min_length",
                "max_length",
                "uppercase",
                "lowercase",
                "digit",
                "symbol",
                "not_common"
            ]
        );
    }
}
