//! Typed Diversion (RFC 5806) and History-Info (RFC 7044) entries: how a forwarded call says
//! whom it was meant for.
//!
//! Parses one list element at a time (the pre-pass has split the comma lists); deciding which
//! entry names the original called party is routing logic and lives in `um::router` (`umbox-um`).

use std::cmp::Ordering;
use std::fmt;

use super::grammar::{parse_decimal, percent_decode, NameAddr, SyntaxError, Uri};
use crate::types::StatusCode;

/// Why a call was diverted (RFC 5806 `diversion-reason`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DiversionReason {
    /// `unknown`.
    Unknown,
    /// `user-busy`.
    UserBusy,
    /// `no-answer`: ring-no-answer, the voicemail case.
    NoAnswer,
    /// `unavailable`.
    Unavailable,
    /// `unconditional`: forward-all.
    Unconditional,
    /// `time-of-day`.
    TimeOfDay,
    /// `do-not-disturb`.
    DoNotDisturb,
    /// `deflection`.
    Deflection,
    /// `follow-me`.
    FollowMe,
    /// `out-of-service`.
    OutOfService,
    /// `away`.
    Away,
    /// Any other token or quoted string, kept as written (unquoted).
    Other(String),
}

const REASONS: [(&str, DiversionReason); 11] = [
    ("unknown", DiversionReason::Unknown),
    ("user-busy", DiversionReason::UserBusy),
    ("no-answer", DiversionReason::NoAnswer),
    ("unavailable", DiversionReason::Unavailable),
    ("unconditional", DiversionReason::Unconditional),
    ("time-of-day", DiversionReason::TimeOfDay),
    ("do-not-disturb", DiversionReason::DoNotDisturb),
    ("deflection", DiversionReason::Deflection),
    ("follow-me", DiversionReason::FollowMe),
    ("out-of-service", DiversionReason::OutOfService),
    ("away", DiversionReason::Away),
];

impl DiversionReason {
    /// Reads a reason value (case-insensitive for the registered ones).
    pub fn parse(text: &str) -> DiversionReason {
        REASONS
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(text))
            .map_or_else(
                || DiversionReason::Other(text.to_owned()),
                |(_, r)| r.clone(),
            )
    }

    /// The reason as written on the wire.
    pub fn as_str(&self) -> &str {
        match self {
            DiversionReason::Other(text) => text,
            known => REASONS
                .iter()
                .find(|(_, r)| r == known)
                .map_or("", |(name, _)| name),
        }
    }
}

/// One Diversion entry: the party the call was diverted away from, and why (RFC 5806).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diversion {
    /// The diverting party (the number that did not answer, for voicemail).
    pub diverted_from: NameAddr,
    /// The `reason` parameter.
    pub reason: Option<DiversionReason>,
    /// The `counter` parameter: how many diversions this entry stands for.
    pub counter: Option<u8>,
}

impl Diversion {
    /// Reads one `name-addr *(;diversion-params)` element.
    pub fn parse(text: &str) -> Result<Diversion, SyntaxError> {
        let diverted_from = NameAddr::parse(text)?;
        let reason = diverted_from
            .params
            .text("reason")
            .map(|r| DiversionReason::parse(&r));
        let counter = match diverted_from.params.value("counter") {
            Some(counter) => Some(
                parse_decimal(counter, u64::from(u8::MAX))
                    .and_then(|n| u8::try_from(n).ok())
                    .ok_or(SyntaxError("bad Diversion counter"))?,
            ),
            None => None,
        };
        Ok(Diversion {
            diverted_from,
            reason,
            counter,
        })
    }
}

/// A History-Info index such as `1.1.2` (RFC 7044 `hi-index`).
///
/// Orders as the request tree was built: `1` < `1.1` < `1.1.1` < `1.2` < `2`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct HiIndex(Vec<u32>);

impl HiIndex {
    /// Reads `1*DIGIT *("." 1*DIGIT)`.
    pub fn parse(text: &str) -> Result<HiIndex, SyntaxError> {
        let parts = text
            .split('.')
            .map(|part| {
                parse_decimal(part, u64::from(u32::MAX))
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or(SyntaxError("bad History-Info index"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(HiIndex(parts))
    }

    /// The numbers of the index, outermost first.
    pub fn parts(&self) -> &[u32] {
        &self.0
    }
}

impl Ord for HiIndex {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

impl PartialOrd for HiIndex {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for HiIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            write!(f, "{part}")?;
        }
        Ok(())
    }
}

/// How an entry's target was derived from an earlier entry (RFC 7044 `hi-target-param`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retarget {
    /// `rc`: the Request-URI was changed to a contact of the same user.
    Contact(HiIndex),
    /// `mp`: the target user was changed (mapped), e.g. forwarded to voicemail.
    Mapped(HiIndex),
    /// `np`: the target did not change.
    Unchanged(HiIndex),
}

/// One History-Info entry (RFC 7044 `hi-entry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryInfo {
    /// `hi-targeted-to-uri`: where the request was sent at this step.
    pub target: NameAddr,
    /// Position in the request tree.
    pub index: Option<HiIndex>,
    /// How this target was derived.
    pub retarget: Option<Retarget>,
    /// The SIP cause carried in the URI's escaped Reason header (RFC 7044): the response
    /// that made the previous target give up, e.g. 480 or 486.
    pub cause: Option<StatusCode>,
}

impl HistoryInfo {
    /// Reads one `hi-entry`.
    pub fn parse(text: &str) -> Result<HistoryInfo, SyntaxError> {
        let target = NameAddr::parse(text)?;
        let index = target
            .params
            .value("index")
            .map(HiIndex::parse)
            .transpose()?;
        let tagged = |name: &str| target.params.value(name).map(HiIndex::parse).transpose();
        let retarget = if let Some(i) = tagged("rc")? {
            Some(Retarget::Contact(i))
        } else if let Some(i) = tagged("mp")? {
            Some(Retarget::Mapped(i))
        } else {
            tagged("np")?.map(Retarget::Unchanged)
        };
        let cause = match &target.uri {
            Uri::Sip(sip) => sip
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("Reason"))
                .and_then(|(_, value)| reason_cause(value)),
            Uri::Other { .. } => None,
        };
        Ok(HistoryInfo {
            target,
            index,
            retarget,
            cause,
        })
    }
}

/// `SIP;cause=302;text="…"` (escaped inside the URI) to its cause, when the protocol is SIP.
fn reason_cause(escaped: &str) -> Option<StatusCode> {
    let reason = percent_decode(escaped)?;
    let mut parts = reason.split(';');
    if !parts.next()?.trim().eq_ignore_ascii_case("SIP") {
        return None;
    }
    parts.find_map(|param| {
        let (name, value) = param.split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("cause") {
            return None;
        }
        let code = parse_decimal(value.trim(), 699).and_then(|n| u16::try_from(n).ok())?;
        (code >= 100).then(|| StatusCode::from(code))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diversion_entries() {
        let d = Diversion::parse(
            "\"Alice Anders\" <sip:1001@pbx.example.test;user=phone>;reason=no-answer;counter=1;privacy=off",
        )
        .unwrap();
        assert_eq!(
            d.diverted_from.display_name.as_deref(),
            Some("Alice Anders")
        );
        assert_eq!(
            d.diverted_from
                .uri
                .as_sip()
                .unwrap()
                .user_number()
                .as_deref(),
            Some("1001")
        );
        assert_eq!(d.reason, Some(DiversionReason::NoAnswer));
        assert_eq!(d.counter, Some(1));

        let quoted = Diversion::parse("<sip:+14255550101@gw>;reason=\"custom reason\"").unwrap();
        assert_eq!(
            quoted.reason,
            Some(DiversionReason::Other("custom reason".into()))
        );
        assert_eq!(quoted.reason.unwrap().as_str(), "custom reason");
        assert_eq!(
            DiversionReason::parse("USER-BUSY"),
            DiversionReason::UserBusy
        );
        assert!(Diversion::parse("<sip:1001@h>;counter=300").is_err());
        assert!(Diversion::parse("<sip:1001@h;reason=x").is_err());
    }

    #[test]
    fn history_info_entries() {
        let h = HistoryInfo::parse(
            "<sip:1999@pbx.example.test?Reason=SIP%3Bcause%3D480%3Btext%3D%22Timeout%22>;index=1.1;mp=1",
        )
        .unwrap();
        assert_eq!(h.index, Some(HiIndex::parse("1.1").unwrap()));
        assert_eq!(
            h.retarget,
            Some(Retarget::Mapped(HiIndex::parse("1").unwrap()))
        );
        assert_eq!(h.cause, Some(StatusCode::TemporarilyUnavailable));

        let first = HistoryInfo::parse("\"Bob\" <sip:1002@pbx>;index=1").unwrap();
        assert_eq!(first.target.display_name.as_deref(), Some("Bob"));
        assert_eq!(first.retarget, None);
        assert!(HistoryInfo::parse("<sip:a@b>;index=1..2").is_err());
        assert!(HistoryInfo::parse("<sip:a@b>;index=1;rc=x").is_err());
    }

    #[test]
    fn indexes_order_as_a_tree() {
        let mut list: Vec<HiIndex> = ["2", "1.1.1", "1", "1.2", "1.1"]
            .iter()
            .map(|t| HiIndex::parse(t).unwrap())
            .collect();
        list.sort();
        let text: Vec<String> = list.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["1", "1.1", "1.1.1", "1.2", "2"]);
    }
}
