//! Input rules for account names, character names and passwords.
//!
//! A name is 3 to 24 characters, each a Unicode letter or digit (`char::is_alphanumeric`), `_` or
//! `-`. That refuses whitespace, control and format characters (zero-width joiners, direction
//! overrides), punctuation and quotes: a name that looks like SQL (`x'; drop table accounts;--`) is
//! refused by the rule, and statements are parameterised anyway, so one that passes the rule
//! (`drop-table`) is stored as typed. Combining marks are not letters, so a decomposed `é` (e +
//! U+0301) is refused while the precomposed one is accepted: one spelling per visible name.

/// Names shorter than this are too easy to squat and to confuse.
pub const NAME_CHARS_MIN: usize = 3;
/// Long enough for real names, short enough for nameplates and chat lines.
pub const NAME_CHARS_MAX: usize = 24;
/// NIST SP 800-63B's minimum for user-chosen passwords.
pub const PASSWORD_CHARS_MIN: usize = 8;
/// Bounds the bytes hashed per request; long passphrases still fit.
pub const PASSWORD_BYTES_MAX: usize = 256;

/// Why a name was refused; the message goes to the client as is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameError {
    TooShort,
    TooLong,
    BadCharacter,
}

impl NameError {
    pub fn message(self) -> &'static str {
        match self {
            NameError::TooShort => "name must be at least 3 characters",
            NameError::TooLong => "name must be at most 24 characters",
            NameError::BadCharacter => "name may contain only letters, digits, '_' and '-'",
        }
    }
}

pub fn check_name(name: &str) -> Result<(), NameError> {
    // Count characters only up to one past the limit: a megabyte name costs no more than a long one.
    let chars = name.chars().take(NAME_CHARS_MAX + 1).count();
    if chars < NAME_CHARS_MIN {
        return Err(NameError::TooShort);
    }
    if chars > NAME_CHARS_MAX {
        return Err(NameError::TooLong);
    }
    if !name.chars().all(|c| c.is_alphanumeric() || c == '_' || c == '-') {
        return Err(NameError::BadCharacter);
    }
    Ok(())
}

/// Why a password was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordError {
    TooShort,
    TooLong,
}

impl PasswordError {
    pub fn message(self) -> &'static str {
        match self {
            PasswordError::TooShort => "password must be at least 8 characters",
            PasswordError::TooLong => "password must be at most 256 bytes",
        }
    }
}

pub fn check_password(password: &str) -> Result<(), PasswordError> {
    if password.len() > PASSWORD_BYTES_MAX {
        return Err(PasswordError::TooLong);
    }
    if password.chars().count() < PASSWORD_CHARS_MIN {
        return Err(PasswordError::TooShort);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_rule() {
        assert_eq!(check_name("bob"), Ok(()));
        assert_eq!(check_name("Zoë_the-2nd"), Ok(()));
        assert_eq!(check_name("東京の勇者"), Ok(()));
        assert_eq!(check_name("drop-table"), Ok(()));
        assert_eq!(check_name("ab"), Err(NameError::TooShort));
        assert_eq!(check_name(""), Err(NameError::TooShort));
        assert_eq!(check_name(&"a".repeat(25)), Err(NameError::TooLong));
        assert_eq!(check_name(&"é".repeat(24)), Ok(()));
        assert_eq!(check_name("x'; drop table accounts;--"), Err(NameError::TooLong));
        assert_eq!(check_name("x';--"), Err(NameError::BadCharacter));
        assert_eq!(check_name("bob smith"), Err(NameError::BadCharacter));
        assert_eq!(check_name("bo\u{200d}b"), Err(NameError::BadCharacter));
        assert_eq!(check_name("bo\u{202e}b"), Err(NameError::BadCharacter));
        assert_eq!(check_name("e\u{301}ric"), Err(NameError::BadCharacter));
        assert_eq!(check_name("bob\0"), Err(NameError::BadCharacter));
    }

    #[test]
    fn passwords_follow_the_rule() {
        assert_eq!(check_password("correct horse"), Ok(()));
        assert_eq!(check_password(""), Err(PasswordError::TooShort));
        assert_eq!(check_password("1234567"), Err(PasswordError::TooShort));
        // Eight characters, more bytes: counted in characters.
        assert_eq!(check_password("ééééééé"), Err(PasswordError::TooShort));
        assert_eq!(check_password(&"x".repeat(256)), Ok(()));
        assert_eq!(check_password(&"x".repeat(257)), Err(PasswordError::TooLong));
    }
}
