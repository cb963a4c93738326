//! Caller-ID: who the call says is calling ([`Presented`]: a number, a SIP URI, or anonymous),
//! and who that is ([`resolve`]), for a number in the order Exchange UM uses (the UM extension in
//! the call's dial plan, extensions in other dial plans, CallingLineIDs, the Lync line URI, other
//! directory phone numbers, the called user's personal contacts, and finally the number itself),
//! for a SIP URI by the directory's SIP and proxy addresses.
//!
//! Pure: the call, the directory and the contacts are passed in; this module never reads the
//! store.

use std::fmt;

use umbox_base::directory::{Directory, User};

use crate::numbers::{display_number, line_uri_number, same_number};
use umbox_sip::dialog::IncomingCall;
use umbox_sip::wire::grammar::Uri;
use umbox_sip::wire::identity::Privacy;
use umbox_store::props::{tags, PropTag, PropType};
use umbox_store::Item;

/// The host RFC 3323 §4.1.1.3 reserves for anonymous From URIs.
const ANONYMOUS_HOST: &str = "anonymous.invalid";

/// Who a call says is calling, before the directory is asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    /// A telephone number (E.164 or an extension), as presented.
    Number(String),
    /// A SIP address with no number in it, as `sip:user@host` (a Lync user, a SIP phone).
    Uri(String),
    /// Withheld (Privacy `id`, `user` or `header`) or anonymous (`anonymous.invalid`, the user
    /// `anonymous`, no user part, no URI a number can be read from).
    Anonymous,
}

impl Presented {
    /// The caller of an offered call. The media server only takes calls from allow-listed
    /// gateways, so their P-Asserted-Identity (RFC 3325) is believed over From, its number
    /// before its SIP URI; a Privacy value withholding the identity makes the call anonymous
    /// whatever the headers name.
    pub fn of_call(call: &IncomingCall) -> Presented {
        if Privacy::withholds_identity(&call.privacy) {
            return Presented::Anonymous;
        }
        let asserted: Vec<Presented> = call
            .asserted_identity
            .iter()
            .map(|party| Presented::of_uri(&party.uri))
            .filter(|presented| *presented != Presented::Anonymous)
            .collect();
        let number = asserted
            .iter()
            .find(|presented| matches!(presented, Presented::Number(_)));
        number
            .or_else(|| asserted.first())
            .cloned()
            .unwrap_or_else(|| Presented::of_uri(&call.from.uri))
    }

    /// What one URI names: `tel:` numbers and SIP user parts that are telephone numbers are
    /// numbers, other SIP user parts addresses (whatever `user=phone` claims: a name is no
    /// number to call back).
    pub fn of_uri(uri: &Uri) -> Presented {
        match uri {
            Uri::Sip(sip) => {
                let host = sip.host.to_string().to_ascii_lowercase();
                let Some(user) = sip.user_number() else {
                    return Presented::Anonymous;
                };
                if host == ANONYMOUS_HOST || user.eq_ignore_ascii_case("anonymous") {
                    Presented::Anonymous
                } else if is_phone_number(&user) {
                    Presented::Number(user)
                } else {
                    Presented::Uri(format!("sip:{user}@{host}"))
                }
            }
            Uri::Other { scheme, rest } if scheme.eq_ignore_ascii_case("tel") => {
                match rest.split(';').next().filter(|n| is_phone_number(n)) {
                    Some(number) => Presented::Number(number.to_owned()),
                    None => Presented::Anonymous,
                }
            }
            Uri::Other { .. } => Presented::Anonymous,
        }
    }

    /// The number, for a caller presented by number.
    pub fn number(&self) -> Option<&str> {
        match self {
            Presented::Number(number) => Some(number),
            Presented::Uri(_) | Presented::Anonymous => None,
        }
    }
}

impl fmt::Display for Presented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Presented::Number(number) => f.write_str(number),
            Presented::Uri(uri) => f.write_str(uri),
            Presented::Anonymous => f.write_str("anonymous"),
        }
    }
}

/// A global (`+` and digits) or local (digits) telephone number, visual separators allowed
/// (RFC 3966 §5.1.1): what a gateway puts in a user part, unlike a name.
fn is_phone_number(text: &str) -> bool {
    let digits = text.strip_prefix('+').unwrap_or(text);
    digits.bytes().any(|b| b.is_ascii_digit())
        && digits
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'(' | b')'))
}

/// MAPI phone-number properties of a contact (MS-OXOCNTC 2.2.1.4) that identify a caller.
pub const CONTACT_PHONE_TAGS: [PropTag; 5] = [
    PropTag::new(0x3A08, PropType::Unicode), // PidTagBusinessTelephoneNumber
    PropTag::new(0x3A09, PropType::Unicode), // PidTagHomeTelephoneNumber
    PropTag::new(0x3A1C, PropType::Unicode), // PidTagMobileTelephoneNumber
    PropTag::new(0x3A1A, PropType::Unicode), // PidTagPrimaryTelephoneNumber
    PropTag::new(0x3A1B, PropType::Unicode), // PidTagBusiness2TelephoneNumber
];

/// Who called, as far as umbox could tell; all `None` for an anonymous caller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// The number as presented (E.164 or an extension); `None` for anonymous and SIP callers.
    pub number: Option<String>,
    /// The resolved name.
    pub name: Option<String>,
    /// The caller's SMTP address when the caller is a directory user.
    pub address: Option<String>,
    /// The caller's SIP URI when known.
    pub sip_uri: Option<String>,
}

impl Caller {
    /// How the caller is named to the called user: the resolved name, else the number as
    /// people write it, else the SIP address, else "Anonymous caller".
    pub fn label(&self) -> String {
        self.name
            .clone()
            .or_else(|| self.number.as_deref().map(display_number))
            .or_else(|| {
                self.sip_uri
                    .as_deref()
                    .map(|uri| uri.trim_start_matches("sip:").to_owned())
            })
            .unwrap_or_else(|| ANONYMOUS_CALLER.to_owned())
    }
}

/// What an anonymous or withheld caller is called.
pub const ANONYMOUS_CALLER: &str = "Anonymous caller";

/// The called user's personal contacts, as caller-ID resolution reads them.
#[derive(Debug, Clone, Copy, Default)]
pub struct Contacts<'a> {
    /// The items of the Contacts folder.
    pub items: &'a [Item],
    /// The mailbox's tags of the contacts' e-mail addresses (`store::props::contact`; named
    /// properties, so each mailbox has its own).
    pub email_tags: &'a [PropTag],
}

impl Contacts<'_> {
    /// The display name of the first contact `matches` accepts.
    fn name_of(&self, matches: impl Fn(&Item) -> bool) -> Option<String> {
        self.items.iter().find(|item| matches(item)).and_then(|c| {
            c.props
                .unicode(tags::DISPLAY_NAME)
                .or_else(|| c.props.unicode(tags::SUBJECT))
                .map(str::to_owned)
        })
    }
}

/// Resolves who `presented` is (as presented on a call through `dial_plan`).
pub fn resolve(
    directory: &Directory,
    dial_plan: &str,
    presented: &Presented,
    contacts: Contacts<'_>,
) -> Caller {
    match presented {
        Presented::Number(number) if !number.is_empty() => {
            resolve_number(directory, dial_plan, number, contacts)
        }
        Presented::Uri(uri) => resolve_uri(directory, uri, contacts),
        Presented::Number(_) | Presented::Anonymous => Caller::default(),
    }
}

/// A SIP caller: the directory user whose SIP URI or e-mail address it is, else the personal
/// contact with that e-mail address, else the address itself.
fn resolve_uri(directory: &Directory, uri: &str, contacts: Contacts<'_>) -> Caller {
    let address = uri.strip_prefix("sip:").unwrap_or(uri);
    let user = directory.users.iter().find(|user| {
        user.sip_uri
            .as_deref()
            .is_some_and(|own| own.eq_ignore_ascii_case(uri))
            || user.has_address(address)
    });
    match user {
        Some(user) => Caller {
            number: None,
            name: Some(user.display_name.clone()),
            address: Some(user.address.clone()),
            sip_uri: Some(user.sip_uri.clone().unwrap_or_else(|| uri.to_owned())),
        },
        None => Caller {
            name: contacts.name_of(|item| {
                contacts.email_tags.iter().any(|tag| {
                    item.props
                        .unicode(*tag)
                        .is_some_and(|email| email.eq_ignore_ascii_case(address))
                })
            }),
            sip_uri: Some(uri.to_owned()),
            ..Caller::default()
        },
    }
}

fn resolve_number(
    directory: &Directory,
    dial_plan: &str,
    number: &str,
    contacts: Contacts<'_>,
) -> Caller {
    let country = directory
        .dial_plan(dial_plan)
        .and_then(|p| p.country_code.as_deref())
        .unwrap_or("");
    let same = |candidate: &str| same_number(candidate, number, country);
    let by_user = |find: &dyn Fn(&User) -> bool| directory.users.iter().find(|u| find(u));
    let user = by_user(&|u| {
        u.extensions
            .iter()
            .any(|e| e.dial_plan == dial_plan && e.number == number)
    })
    .or_else(|| by_user(&|u| u.extensions.iter().any(|e| e.number == number)))
    .or_else(|| by_user(&|u| u.calling_line_ids.iter().any(|n| same(n))))
    .or_else(|| {
        by_user(&|u| {
            u.line_uri
                .as_deref()
                .and_then(line_uri_number)
                .is_some_and(same)
        })
    })
    .or_else(|| by_user(&|u| u.phone_numbers.iter().any(|n| same(n))));
    if let Some(user) = user {
        return Caller {
            number: Some(number.to_owned()),
            name: Some(user.display_name.clone()),
            address: Some(user.address.clone()),
            sip_uri: user.sip_uri.clone(),
        };
    }
    Caller {
        number: Some(number.to_owned()),
        name: contacts.name_of(|item| {
            CONTACT_PHONE_TAGS
                .iter()
                .any(|tag| item.props.unicode(*tag).is_some_and(same))
        }),
        address: None,
        sip_uri: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbox_base::directory::{DialPlan, Directory, Extension};

    fn directory() -> Directory {
        let mut d = Directory::demo().unwrap();
        d.dial_plans.push(DialPlan {
            name: "branch".into(),
            extension_length: 3,
            pilot_numbers: vec!["999".into()],
            country_code: Some("44".into()),
        });
        d.users[1].extensions.push(Extension {
            dial_plan: "branch".into(),
            number: "555".into(),
        });
        d.users[1].phone_numbers = vec!["+442071234567".into()];
        d
    }

    #[test]
    fn resolution_follows_the_exchange_order() {
        let d = directory();
        let name = |plan: &str, number: &str| {
            resolve(
                &d,
                plan,
                &Presented::Number(number.into()),
                Contacts::default(),
            )
            .name
        };
        assert_eq!(name("default", "1001").as_deref(), Some("Alice Anders")); // extension, same plan
        assert_eq!(name("default", "555").as_deref(), Some("Bob Berg")); // extension, other plan
        assert_eq!(
            name("default", "+14255550101").as_deref(),
            Some("Alice Anders")
        ); // calling line id
        assert_eq!(name("default", "4255550102").as_deref(), Some("Bob Berg")); // country code dropped
        assert_eq!(name("branch", "02071234567").as_deref(), None); // not the same number
        assert_eq!(name("branch", "442071234567").as_deref(), Some("Bob Berg")); // other phone
        assert_eq!(name("default", "+19995550000"), None);
        assert_eq!(
            resolve(&d, "default", &Presented::Anonymous, Contacts::default()),
            Caller::default()
        );
        let alice = resolve(
            &d,
            "default",
            &Presented::Number("1001".into()),
            Contacts::default(),
        );
        assert_eq!(alice.address.as_deref(), Some("alice@example.test"));
        assert_eq!(alice.sip_uri.as_deref(), Some("sip:alice@example.test"));
    }

    #[test]
    fn a_uri_names_a_number_an_address_or_nobody() {
        let cases = [
            (
                "sip:+14255550101@gw.example.test",
                Presented::Number("+14255550101".into()),
            ),
            ("sip:1001@pbx;user=phone", Presented::Number("1001".into())),
            (
                "sip:425-555-0101@pbx",
                Presented::Number("425-555-0101".into()),
            ),
            (
                "sip:lobby@pbx;user=phone",
                Presented::Uri("sip:lobby@pbx".into()),
            ),
            (
                "tel:+14255550101;phone-context=example.test",
                Presented::Number("+14255550101".into()),
            ),
            (
                "sip:Bob@Example.TEST:5060;transport=tcp",
                Presented::Uri("sip:Bob@example.test".into()),
            ),
            ("sip:anonymous@anonymous.invalid", Presented::Anonymous),
            ("sip:Anonymous@pbx.example.test", Presented::Anonymous),
            ("sip:+14255550101@anonymous.invalid", Presented::Anonymous),
            ("sip:pbx.example.test", Presented::Anonymous),
            ("tel:unknown", Presented::Anonymous),
            ("mailto:bob@example.test", Presented::Anonymous),
        ];
        for (uri, expected) in cases {
            assert_eq!(
                Presented::of_uri(&Uri::parse(uri).unwrap()),
                expected,
                "{uri}"
            );
        }
    }

    fn call(from: &str, asserted: &[&str], privacy: &str) -> IncomingCall {
        let party = |text: &str| umbox_sip::dialog::Party {
            display_name: None,
            uri: Uri::parse(text).unwrap(),
        };
        IncomingCall {
            call_id: umbox_sip::types::CallId::parse("c@pbx").unwrap(),
            from: party(from),
            to: party("sip:1999@pbx"),
            diversion: Vec::new(),
            history_info: Vec::new(),
            asserted_identity: asserted.iter().map(|uri| party(uri)).collect(),
            privacy: if privacy.is_empty() {
                Vec::new()
            } else {
                Privacy::parse_list(privacy).unwrap()
            },
            request_uri: Uri::parse("sip:1001@media").unwrap(),
            source: "127.0.0.1:5060".parse().unwrap(),
            sdp_offer: Default::default(),
        }
    }

    #[test]
    fn the_asserted_number_wins_over_from_unless_the_identity_is_withheld() {
        let number = |n: &str| Presented::Number(n.into());
        let from = "sip:+14255550199@gw";
        assert_eq!(
            Presented::of_call(&call(from, &[], "")),
            number("+14255550199")
        );
        let asserted = ["sip:carol@example.net", "tel:+14255550101"];
        assert_eq!(
            Presented::of_call(&call(from, &asserted, "")),
            number("+14255550101")
        );
        assert_eq!(
            Presented::of_call(&call(from, &asserted[..1], "none")),
            Presented::Uri("sip:carol@example.net".into())
        );
        let hidden = "sip:anonymous@anonymous.invalid";
        assert_eq!(
            Presented::of_call(&call(hidden, &asserted[1..], "")),
            number("+14255550101")
        );
        for privacy in ["id", "user", "header;critical"] {
            assert_eq!(
                Presented::of_call(&call(from, &asserted, privacy)),
                Presented::Anonymous,
                "{privacy}"
            );
        }
    }

    #[test]
    fn a_sip_caller_is_found_by_sip_uri_or_address() {
        let d = directory();
        let uri = |u: &str| {
            resolve(
                &d,
                "default",
                &Presented::Uri(u.into()),
                Contacts::default(),
            )
        };
        assert_eq!(
            uri("sip:BOB@example.test").name.as_deref(),
            Some("Bob Berg")
        );
        let alice = uri("sip:alice@example.test");
        assert_eq!(alice.address.as_deref(), Some("alice@example.test"));
        assert_eq!(alice.number, None);
        assert_eq!(alice.label(), "Alice Anders");
        let stranger = uri("sip:carol@example.net");
        assert_eq!(stranger.name, None);
        assert_eq!(stranger.sip_uri.as_deref(), Some("sip:carol@example.net"));
        assert_eq!(stranger.label(), "carol@example.net");
        let anonymous = resolve(&d, "default", &Presented::Anonymous, Contacts::default());
        assert_eq!(anonymous.label(), ANONYMOUS_CALLER);
    }
}
