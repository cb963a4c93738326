//! Typed Privacy values (RFC 3323 §4.2): what a caller asked to withhold. P-Asserted-Identity
//! (RFC 3325 §9.1) needs no type of its own: each entry is a name-addr.
//!
//! Whether to believe an asserted identity, and what a withheld one looks like to the called
//! user, is caller-ID logic and lives in `um::caller_id` (`umbox-um`).

use std::fmt;

use super::grammar::SyntaxError;
use crate::types::is_token_byte;

/// One `priv-value` of a Privacy header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Privacy {
    /// `header`: hide headers that could identify the caller.
    Header,
    /// `session`: hide the media.
    Session,
    /// `user`: user-level privacy (the caller's own anonymisation).
    User,
    /// `none`: no privacy, even where the network would apply it.
    None,
    /// `critical`: the call must not go on without the privacy asked for.
    Critical,
    /// `id`: keep the asserted identity from the called party (RFC 3325 §9.3).
    Id,
    /// Any other token, lower-cased.
    Other(String),
}

impl Privacy {
    /// Reads one Privacy header value: `priv-value *(";" priv-value)`.
    pub fn parse_list(text: &str) -> Result<Vec<Privacy>, SyntaxError> {
        text.split(';')
            .map(str::trim)
            .map(|value| {
                if value.is_empty() || !value.bytes().all(is_token_byte) {
                    return Err(SyntaxError("not a privacy value"));
                }
                let lower = value.to_ascii_lowercase();
                Ok(match lower.as_str() {
                    "header" => Privacy::Header,
                    "session" => Privacy::Session,
                    "user" => Privacy::User,
                    "none" => Privacy::None,
                    "critical" => Privacy::Critical,
                    "id" => Privacy::Id,
                    _ => Privacy::Other(lower),
                })
            })
            .collect()
    }

    /// Whether these values withhold the caller's identity from the called user: `id`, `user`
    /// or `header` (RFC 3323 §4.2, RFC 3325 §9.3).
    pub fn withholds_identity(values: &[Privacy]) -> bool {
        values
            .iter()
            .any(|v| matches!(v, Privacy::Id | Privacy::User | Privacy::Header))
    }
}

impl fmt::Display for Privacy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Privacy::Header => "header",
            Privacy::Session => "session",
            Privacy::User => "user",
            Privacy::None => "none",
            Privacy::Critical => "critical",
            Privacy::Id => "id",
            Privacy::Other(token) => token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_read_apart_in_any_case_and_unknown_tokens_kept() {
        assert_eq!(
            Privacy::parse_list("id; Critical ;x-private").unwrap(),
            [
                Privacy::Id,
                Privacy::Critical,
                Privacy::Other("x-private".into())
            ]
        );
        assert_eq!(Privacy::parse_list("none").unwrap(), [Privacy::None]);
        for bad in ["", "id;", "i d", "id,user"] {
            assert!(Privacy::parse_list(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn id_user_and_header_withhold_the_identity_session_and_none_do_not() {
        let withholds =
            |text: &str| Privacy::withholds_identity(&Privacy::parse_list(text).unwrap());
        assert!(withholds("id"));
        assert!(withholds("user"));
        assert!(withholds("header;critical"));
        assert!(!withholds("session"));
        assert!(!withholds("none"));
    }
}
