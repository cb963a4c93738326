//! SIP-specific event notification headers (RFC 6665): `Event` and `Subscription-State`, read
//! and written as typed values.
//!
//! Pure grammar over one header value; never holds subscription state (`sip::subscribe` does)
//! and never knows what an event package means.

use std::fmt;

use super::grammar::{parse_decimal, token_with_params, Params, SyntaxError};

/// An `Event` header (RFC 6665 §8.2.1): the package and the optional `id` that tells apart
/// several subscriptions in one dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The event type, e.g. `message-summary` (compared byte for byte, RFC 6665 §8.2.1).
    pub package: String,
    /// The `id` parameter.
    pub id: Option<String>,
}

impl Event {
    /// Reads an Event value.
    pub fn parse(text: &str) -> Result<Event, SyntaxError> {
        let (package, params) = token_with_params(text)?;
        Ok(Event {
            package,
            id: params.value("id").map(str::to_owned),
        })
    }
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.package)?;
        if let Some(id) = &self.id {
            write!(f, ";id={id}")?;
        }
        Ok(())
    }
}

/// Why a subscription ended (RFC 6665 §4.1.3), as `Subscription-State: terminated;reason=…`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// `timeout`: the subscription expired or was withdrawn with `Expires: 0`.
    Timeout,
    /// `noresource`: the resource no longer exists.
    NoResource,
    /// `deactivated`: the notifier ended it; the subscriber may subscribe again at once.
    Deactivated,
    /// Any other reason, kept as received.
    Other(String),
}

impl Reason {
    /// The value as on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            Reason::Timeout => "timeout",
            Reason::NoResource => "noresource",
            Reason::Deactivated => "deactivated",
            Reason::Other(other) => other,
        }
    }

    fn parse(text: &str) -> Reason {
        match text {
            "timeout" => Reason::Timeout,
            "noresource" => Reason::NoResource,
            "deactivated" => Reason::Deactivated,
            other => Reason::Other(other.to_owned()),
        }
    }
}

/// A `Subscription-State` header (RFC 6665 §8.2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubscriptionState {
    /// `active;expires=N`: the subscription runs for N more seconds.
    Active {
        /// Seconds left.
        expires: u32,
    },
    /// `terminated;reason=…`: the subscription is over.
    Terminated {
        /// Why.
        reason: Reason,
    },
}

impl SubscriptionState {
    /// Reads a Subscription-State value (`pending` reads as an error: umbox never sends it and
    /// reads these only in tests).
    pub fn parse(text: &str) -> Result<SubscriptionState, SyntaxError> {
        let (state, params): (String, Params) = token_with_params(text)?;
        match state.to_ascii_lowercase().as_str() {
            "active" => {
                let expires = params
                    .value("expires")
                    .and_then(|v| parse_decimal(v, u64::from(u32::MAX)))
                    .and_then(|v| u32::try_from(v).ok())
                    .ok_or(SyntaxError("active without a numeric expires"))?;
                Ok(SubscriptionState::Active { expires })
            }
            "terminated" => Ok(SubscriptionState::Terminated {
                reason: params
                    .value("reason")
                    .map_or(Reason::Other(String::new()), Reason::parse),
            }),
            _ => Err(SyntaxError("unknown subscription state")),
        }
    }
}

impl fmt::Display for SubscriptionState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SubscriptionState::Active { expires } => write!(f, "active;expires={expires}"),
            SubscriptionState::Terminated { reason } => {
                write!(f, "terminated;reason={}", reason.as_str())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_round_trip() {
        let event = Event::parse("message-summary ; id=7").unwrap();
        assert_eq!(event.package, "message-summary");
        assert_eq!(event.id.as_deref(), Some("7"));
        assert_eq!(event.to_string(), "message-summary;id=7");
        assert!(Event::parse("").is_err());
        assert!(Event::parse("presence junk").is_err());
    }

    #[test]
    fn subscription_states_round_trip() {
        for text in [
            "active;expires=3600",
            "terminated;reason=timeout",
            "terminated;reason=noresource",
            "terminated;reason=deactivated",
        ] {
            let state = SubscriptionState::parse(text).unwrap();
            assert_eq!(state.to_string(), text);
        }
        assert_eq!(
            SubscriptionState::parse("Active; expires=5").unwrap(),
            SubscriptionState::Active { expires: 5 }
        );
        assert!(SubscriptionState::parse("active").is_err());
        assert!(SubscriptionState::parse("pending").is_err());
    }
}
