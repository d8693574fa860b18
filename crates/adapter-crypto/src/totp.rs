//! RFC 6238 TOTP (on RFC 4226 HOTP, HMAC-SHA-1) and one-time recovery codes.

use chrono::{DateTime, Utc};
use data_encoding::BASE32_NOPAD;
use hmac::{Hmac, KeyInit, Mac};
use payymo_ports::crypto::{
    GeneratedRecoveryCode, RecoveryCodeError, RecoveryCodeHash, RecoveryCodes, Totp, TotpError,
    TotpSecret, TotpStep,
};
use secrecy::{ExposeSecret, SecretString};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::bytes::{constant_time_eq, hex};
use crate::random;

/// Seconds per step.
const PERIOD: u64 = 30;
/// Digits per code.
const DIGITS: u32 = 6;
/// Bytes of a new secret (160 bits, RFC 4226 section 4).
const SECRET_LEN: usize = 20;
/// The shortest secret accepted (128 bits, RFC 4226 section 4).
const MIN_SECRET_LEN: usize = 16;

/// HOTP (RFC 4226): the `digits`-digit code for `counter`.
fn hotp(key: &[u8], counter: u64, digits: u32) -> u32 {
    // HMAC accepts keys of any length, so this cannot fail.
    let Ok(mut mac) = <Hmac<Sha1> as KeyInit>::new_from_slice(key) else {
        return u32::MAX;
    };
    mac.update(&counter.to_be_bytes());
    let digest = mac.finalize().into_bytes();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = u32::from_be_bytes([
        digest[offset] & 0x7f,
        digest[offset + 1],
        digest[offset + 2],
        digest[offset + 3],
    ]);
    binary % 10u32.pow(digits)
}

fn format_code(code: u32, digits: u32) -> String {
    format!("{code:0width$}", width = digits as usize)
}

fn decode_secret(secret: &TotpSecret) -> Result<Zeroizing<Vec<u8>>, TotpError> {
    let normalised: Zeroizing<String> = Zeroizing::new(
        secret
            .base32()
            .expose_secret()
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-' && *c != '=')
            .map(|c| c.to_ascii_uppercase())
            .collect(),
    );
    let key = BASE32_NOPAD
        .decode(normalised.as_bytes())
        .map(Zeroizing::new)
        .map_err(|_| TotpError::MalformedSecret)?;
    if key.len() < MIN_SECRET_LEN {
        return Err(TotpError::MalformedSecret);
    }
    Ok(key)
}

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
            out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
        }
    }
    out
}

/// [`Totp`] as authenticator apps implement it: SHA-1, 6 digits, 30-second steps, and one step
/// of tolerance either side for clock drift.
#[derive(Debug, Clone, Copy, Default)]
pub struct TotpAuthenticator;

impl TotpAuthenticator {
    /// A TOTP authenticator.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }

    /// The step `now` falls in (`None` before 1970).
    fn step(now: DateTime<Utc>) -> Option<u64> {
        u64::try_from(now.timestamp()).ok().map(|t| t / PERIOD)
    }

    /// The current code, e.g. for tests and for an enrolment screen's self-check.
    ///
    /// # Errors
    /// [`TotpError::MalformedSecret`].
    pub fn code_at(secret: &TotpSecret, now: DateTime<Utc>) -> Result<String, TotpError> {
        let key = decode_secret(secret)?;
        let step = Self::step(now).ok_or(TotpError::InvalidCode)?;
        Ok(format_code(hotp(&key, step, DIGITS), DIGITS))
    }
}

impl Totp for TotpAuthenticator {
    fn generate_secret(&self) -> Result<TotpSecret, TotpError> {
        let key = Zeroizing::new(random::bytes::<SECRET_LEN>().map_err(|_| TotpError::Randomness)?);
        Ok(TotpSecret::from_base32(SecretString::from(
            BASE32_NOPAD.encode(key.as_ref()),
        )))
    }

    fn provisioning_uri(
        &self,
        secret: &TotpSecret,
        issuer: &str,
        account: &str,
    ) -> Result<SecretString, TotpError> {
        let bad = |s: &str| s.trim().is_empty() || s.contains(':');
        if bad(issuer) || bad(account) {
            return Err(TotpError::InvalidLabel);
        }
        let key = decode_secret(secret)?;
        let canonical = Zeroizing::new(BASE32_NOPAD.encode(&key));
        let issuer = percent_encode(issuer);
        Ok(SecretString::from(format!(
            "otpauth://totp/{issuer}:{account}?secret={secret}&issuer={issuer}&algorithm=SHA1&digits={DIGITS}&period={PERIOD}",
            account = percent_encode(account),
            secret = canonical.as_str(),
        )))
    }

    fn verify(
        &self,
        secret: &TotpSecret,
        code: &str,
        now: DateTime<Utc>,
        last_used_step: Option<TotpStep>,
    ) -> Result<TotpStep, TotpError> {
        let key = decode_secret(secret)?;
        let presented: String = code.chars().filter(|c| !c.is_whitespace()).collect();
        let well_formed =
            presented.len() == DIGITS as usize && presented.bytes().all(|b| b.is_ascii_digit());
        let current = Self::step(now).ok_or(TotpError::InvalidCode)?;
        // Compute and compare all three candidates whatever happens, so the time taken does not
        // say which one matched.
        let mut matched: Option<u64> = None;
        for step in [
            current.saturating_sub(1),
            current,
            current.saturating_add(1),
        ] {
            let expected = format_code(hotp(&key, step, DIGITS), DIGITS);
            if constant_time_eq(expected.as_bytes(), presented.as_bytes()) {
                matched = Some(matched.map_or(step, |m| m.max(step)));
            }
        }
        match matched {
            Some(step) if well_formed => match last_used_step {
                Some(TotpStep(last)) if step <= last => Err(TotpError::Replayed),
                _ => Ok(TotpStep(step)),
            },
            _ => Err(TotpError::InvalidCode),
        }
    }
}

/// Crockford's base32 alphabet: no `I`, `L`, `O` or `U`, so codes survive being read aloud.
const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Characters per recovery code (16 × 5 bits = 80 bits).
const RECOVERY_CODE_CHARS: usize = 16;

fn normalise_recovery_code(code: &str) -> Zeroizing<String> {
    Zeroizing::new(
        code.chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            })
            .collect(),
    )
}

fn recovery_code_hash(normalised: &str) -> RecoveryCodeHash {
    RecoveryCodeHash::from_stored(hex(&Sha256::digest(normalised.as_bytes())))
}

/// [`RecoveryCodes`]: 16 Crockford-base32 characters (80 bits) shown as `XXXX-XXXX-XXXX-XXXX`,
/// stored as SHA-256 of the normalised code.
#[derive(Debug, Clone, Copy, Default)]
pub struct RecoveryCodeGenerator;

impl RecoveryCodeGenerator {
    /// A recovery code generator.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }

    fn one() -> Result<GeneratedRecoveryCode, RecoveryCodeError> {
        let bytes =
            Zeroizing::new(random::bytes::<10>().map_err(|_| RecoveryCodeError::Randomness)?);
        // 80 bits -> sixteen 5-bit symbols.
        let mut bits = Zeroizing::new(0u128);
        for b in bytes.iter() {
            *bits = (*bits << 8) | u128::from(*b);
        }
        let mut plain = Zeroizing::new(String::with_capacity(RECOVERY_CODE_CHARS));
        for i in (0..RECOVERY_CODE_CHARS).rev() {
            let index = usize::try_from((*bits >> (i * 5)) & 0x1f).unwrap_or(0);
            plain.push(char::from(CROCKFORD[index]));
        }
        let mut shown = String::with_capacity(RECOVERY_CODE_CHARS + 3);
        for (i, c) in plain.chars().enumerate() {
            if i > 0 && i % 4 == 0 {
                shown.push('-');
            }
            shown.push(c);
        }
        Ok(GeneratedRecoveryCode {
            hash: recovery_code_hash(&plain),
            code: SecretString::from(shown),
        })
    }
}

impl RecoveryCodes for RecoveryCodeGenerator {
    fn generate(&self, count: usize) -> Result<Vec<GeneratedRecoveryCode>, RecoveryCodeError> {
        (0..count).map(|_| Self::one()).collect()
    }

    fn find(&self, presented: &str, stored: &[RecoveryCodeHash]) -> Option<usize> {
        let candidate = recovery_code_hash(&normalise_recovery_code(presented));
        // Compare against every stored hash, without stopping early.
        let mut found = None;
        for (index, hash) in stored.iter().enumerate() {
            if constant_time_eq(candidate.as_str().as_bytes(), hash.as_str().as_bytes())
                && found.is_none()
            {
                found = Some(index);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(seconds, 0).unwrap()
    }

    /// The RFC 6238 SHA-1 test secret, "12345678901234567890".
    fn rfc_secret() -> TotpSecret {
        TotpSecret::from_base32(SecretString::from(
            BASE32_NOPAD.encode(b"12345678901234567890"),
        ))
    }

    #[test]
    fn hotp_matches_the_rfc_4226_test_vectors() {
        let expected = [
            755_224, 287_082, 359_152, 969_429, 338_314, 254_676, 287_922, 162_583, 399_871,
            520_489,
        ];
        for (counter, code) in expected.into_iter().enumerate() {
            assert_eq!(hotp(b"12345678901234567890", counter as u64, 6), code);
        }
    }

    #[test]
    fn totp_matches_the_rfc_6238_sha1_test_vectors() {
        // RFC 6238 appendix B, SHA-1 column (8 digits).
        let vectors = [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ];
        for (time, code) in vectors {
            let step = u64::try_from(time).unwrap() / PERIOD;
            assert_eq!(
                format_code(hotp(b"12345678901234567890", step, 8), 8),
                code,
                "t={time}"
            );
            // And the 6-digit code we use is its last six digits.
            assert_eq!(
                TotpAuthenticator::code_at(&rfc_secret(), at(time)).unwrap(),
                code[2..],
                "t={time}"
            );
        }
    }

    #[test]
    fn a_code_is_accepted_one_step_either_side_and_no_further() {
        let totp = TotpAuthenticator::new();
        let secret = rfc_secret();
        let t = 1_234_567_890;
        let code = TotpAuthenticator::code_at(&secret, at(t)).unwrap();
        let step = u64::try_from(t).unwrap() / PERIOD;
        for delta in [-30, 0, 30] {
            assert_eq!(
                totp.verify(&secret, &code, at(t + delta), None),
                Ok(TotpStep(step)),
                "delta {delta}"
            );
        }
        for delta in [-60, 60, 3600] {
            assert_eq!(
                totp.verify(&secret, &code, at(t + delta), None),
                Err(TotpError::InvalidCode),
                "delta {delta}"
            );
        }
    }

    #[test]
    fn a_used_code_cannot_be_replayed() {
        let totp = TotpAuthenticator::new();
        let secret = rfc_secret();
        let t = 1_234_567_890;
        let code = TotpAuthenticator::code_at(&secret, at(t)).unwrap();
        let step = totp.verify(&secret, &code, at(t), None).unwrap();
        assert_eq!(
            totp.verify(&secret, &code, at(t + 10), Some(step)),
            Err(TotpError::Replayed)
        );
        // The next window's code is fine.
        let next = TotpAuthenticator::code_at(&secret, at(t + 30)).unwrap();
        assert_eq!(
            totp.verify(&secret, &next, at(t + 30), Some(step)),
            Ok(TotpStep(step.0 + 1))
        );
        // A code from before the last used step is refused as a replay too.
        let previous = TotpAuthenticator::code_at(&secret, at(t - 30)).unwrap();
        assert_eq!(
            totp.verify(&secret, &previous, at(t), Some(step)),
            Err(TotpError::Replayed)
        );
    }

    #[test]
    fn wrong_or_malformed_codes_are_invalid() {
        let totp = TotpAuthenticator::new();
        let secret = rfc_secret();
        let t = 1_234_567_890;
        let code = TotpAuthenticator::code_at(&secret, at(t)).unwrap();
        let wrong = format!("{:06}", (code.parse::<u32>().unwrap() + 1) % 1_000_000);
        for presented in [wrong.as_str(), "", "12345", "1234567", "abcdef", "00000a"] {
            assert_eq!(
                totp.verify(&secret, presented, at(t), None),
                Err(TotpError::InvalidCode),
                "{presented}"
            );
        }
        // Spaces, as some apps show "123 456", are fine.
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(totp.verify(&secret, &spaced, at(t), None).is_ok());
    }

    #[test]
    fn a_generated_secret_is_160_bits_of_base32_and_works() {
        let totp = TotpAuthenticator::new();
        let secret = totp.generate_secret().unwrap();
        let text = secret.base32().expose_secret().to_owned();
        assert_eq!(text.len(), 32);
        assert_eq!(BASE32_NOPAD.decode(text.as_bytes()).unwrap().len(), 20);
        assert_ne!(
            text,
            totp.generate_secret().unwrap().base32().expose_secret()
        );
        let now = at(1_700_000_000);
        let code = TotpAuthenticator::code_at(&secret, now).unwrap();
        assert!(totp.verify(&secret, &code, now, None).is_ok());
    }

    #[test]
    fn a_short_or_invalid_secret_is_malformed() {
        let totp = TotpAuthenticator::new();
        for text in ["", "not base32!", "MFRGG"] {
            let secret = TotpSecret::from_base32(SecretString::from(text.to_owned()));
            assert_eq!(
                totp.verify(&secret, "123456", at(0), None),
                Err(TotpError::MalformedSecret),
                "{text}"
            );
        }
    }

    #[test]
    fn the_provisioning_uri_follows_the_key_uri_format() {
        let totp = TotpAuthenticator::new();
        let uri = totp
            .provisioning_uri(&rfc_secret(), "Payymo", "ana@example.com")
            .unwrap();
        assert_eq!(
            uri.expose_secret(),
            "otpauth://totp/Payymo:ana%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=Payymo&algorithm=SHA1&digits=6&period=30"
        );
        let uri = totp
            .provisioning_uri(&rfc_secret(), "Payymo Staging", "a b")
            .unwrap();
        assert!(
            uri.expose_secret()
                .starts_with("otpauth://totp/Payymo%20Staging:a%20b?")
        );
        assert_eq!(
            totp.provisioning_uri(&rfc_secret(), "Pay:ymo", "a")
                .unwrap_err(),
            TotpError::InvalidLabel
        );
        assert_eq!(
            totp.provisioning_uri(&rfc_secret(), "Payymo", "")
                .unwrap_err(),
            TotpError::InvalidLabel
        );
    }

    #[test]
    fn recovery_codes_are_distinct_readable_and_found_once_stored() {
        let generator = RecoveryCodeGenerator::new();
        let codes = generator.generate(10).unwrap();
        assert_eq!(codes.len(), 10);
        let shown: Vec<String> = codes
            .iter()
            .map(|c| c.code.expose_secret().to_owned())
            .collect();
        for code in &shown {
            assert_eq!(code.len(), 19, "{code}");
            assert_eq!(code.matches('-').count(), 3, "{code}");
            assert!(
                code.bytes().all(|b| b == b'-' || CROCKFORD.contains(&b)),
                "{code}"
            );
        }
        let unique: std::collections::HashSet<_> = shown.iter().collect();
        assert_eq!(unique.len(), 10);

        let stored: Vec<RecoveryCodeHash> = codes.iter().map(|c| c.hash.clone()).collect();
        assert_eq!(generator.find(&shown[3], &stored), Some(3));
        // Typed sloppily: lower case, no dashes, spaces.
        let sloppy = shown[7].to_lowercase().replace('-', " ");
        assert_eq!(generator.find(&sloppy, &stored), Some(7));
        // Once the caller removes a used code it no longer matches.
        let mut remaining = stored.clone();
        remaining.remove(3);
        assert_eq!(generator.find(&shown[3], &remaining), None);
        assert_eq!(generator.find("0000-0000-0000-0000", &stored), None);
    }

    #[test]
    fn look_alike_characters_are_forgiven() {
        let generator = RecoveryCodeGenerator::new();
        let stored = [recovery_code_hash("0123456789ABCDEF")];
        assert_eq!(generator.find("o123-4567-89ab-cdef", &stored), Some(0));
        assert_eq!(generator.find("OI23 4567 89AB CDEF", &stored), Some(0));
    }

    #[test]
    fn the_stored_hash_is_not_the_code() {
        let code = &RecoveryCodeGenerator::new().generate(1).unwrap()[0];
        let plain = code.code.expose_secret().replace('-', "");
        assert_eq!(code.hash.as_str().len(), 64);
        assert!(!code.hash.as_str().to_uppercase().contains(&plain));
    }

    #[test]
    fn debug_of_totp_secrets_and_recovery_codes_hides_them() {
        let secret = TotpAuthenticator::new().generate_secret().unwrap();
        let text = secret.base32().expose_secret().to_owned();
        assert!(!format!("{secret:?}").contains(&text));
        let uri = TotpAuthenticator::new()
            .provisioning_uri(&secret, "Payymo", "ana@example.com")
            .unwrap();
        assert!(!format!("{uri:?}").contains(&text));
        let code = &RecoveryCodeGenerator::new().generate(1).unwrap()[0];
        assert!(!format!("{code:?}").contains(code.code.expose_secret()));
    }
}
