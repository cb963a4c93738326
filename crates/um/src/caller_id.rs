//! Caller-ID name resolution: who is calling, from the calling number, in the order Exchange UM
//! uses (the UM extension in the call's dial plan, extensions in other dial plans, CallingLineIDs,
//! the Lync line URI, other directory phone numbers, the called user's personal contacts, and
//! finally the number itself).
//!
//! Pure: the directory and the contacts are passed in; this module never reads the store.

use umbox_base::directory::{Directory, User};
use umbox_store::props::{tags, PropTag, PropType};
use umbox_store::Item;

/// MAPI phone-number properties of a contact (MS-OXOCNTC 2.2.1.4) that identify a caller.
pub const CONTACT_PHONE_TAGS: [PropTag; 5] = [
    PropTag::new(0x3A08, PropType::Unicode), // PidTagBusinessTelephoneNumber
    PropTag::new(0x3A09, PropType::Unicode), // PidTagHomeTelephoneNumber
    PropTag::new(0x3A1C, PropType::Unicode), // PidTagMobileTelephoneNumber
    PropTag::new(0x3A1A, PropType::Unicode), // PidTagPrimaryTelephoneNumber
    PropTag::new(0x3A1B, PropType::Unicode), // PidTagBusiness2TelephoneNumber
];

/// Who called, as far as umbox could tell.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Caller {
    /// The number as presented (E.164 or an extension); `None` for anonymous calls.
    pub number: Option<String>,
    /// The resolved name.
    pub name: Option<String>,
    /// The caller's SMTP address when the caller is a directory user.
    pub address: Option<String>,
    /// The caller's SIP URI when known.
    pub sip_uri: Option<String>,
}

/// Resolves `number` (as presented on a call through `dial_plan`) to a caller.
pub fn resolve<'a>(
    directory: &Directory,
    dial_plan: &str,
    number: Option<&str>,
    contacts: impl IntoIterator<Item = &'a Item>,
) -> Caller {
    let Some(number) = number.filter(|n| !n.is_empty()) else {
        return Caller::default();
    };
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
    let contact = contacts.into_iter().find(|item| {
        CONTACT_PHONE_TAGS
            .iter()
            .any(|tag| item.props.unicode(*tag).is_some_and(same))
    });
    Caller {
        number: Some(number.to_owned()),
        name: contact.and_then(|c| {
            c.props
                .unicode(tags::DISPLAY_NAME)
                .or_else(|| c.props.unicode(tags::SUBJECT))
                .map(str::to_owned)
        }),
        address: None,
        sip_uri: None,
    }
}

/// The number part of `tel:+14255550101;ext=1001`.
fn line_uri_number(uri: &str) -> Option<&str> {
    uri.strip_prefix("tel:")
        .map(|rest| rest.split(';').next().unwrap_or(rest))
}

/// Two numbers are the same when their digits are, or when one is the other with the dial plan's
/// country code in front (`+1 425 555 0101` and `4255550101` in a plan with country code 1).
fn same_number(a: &str, b: &str, country: &str) -> bool {
    let a = digits(a);
    let b = digits(b);
    if a.is_empty() || b.is_empty() {
        return false;
    }
    a == b
        || (!country.is_empty()
            && (a.strip_prefix(country) == Some(b.as_str())
                || b.strip_prefix(country) == Some(a.as_str())))
}

fn digits(n: &str) -> String {
    n.chars().filter(char::is_ascii_digit).collect()
}

/// A number as people read it: `+1 425 555 0100` for North American numbers, otherwise as given.
pub fn display_number(number: &str) -> String {
    let d = digits(number);
    match (
        number.starts_with('+') || d.len() == 11,
        d.len(),
        d.get(..1),
    ) {
        (true, 11, Some("1")) => format!(
            "+1 {} {} {}",
            d.get(1..4).unwrap_or_default(),
            d.get(4..7).unwrap_or_default(),
            d.get(7..).unwrap_or_default()
        ),
        _ => number.to_owned(),
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
        let name = |plan: &str, number: &str| resolve(&d, plan, Some(number), []).name;
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
        assert_eq!(resolve(&d, "default", None, []), Caller::default());
        let alice = resolve(&d, "default", Some("1001"), []);
        assert_eq!(alice.address.as_deref(), Some("alice@example.test"));
        assert_eq!(alice.sip_uri.as_deref(), Some("sip:alice@example.test"));
    }

    #[test]
    fn numbers_display_like_people_write_them() {
        assert_eq!(display_number("+14255550100"), "+1 425 555 0100");
        assert_eq!(display_number("14255550100"), "+1 425 555 0100");
        assert_eq!(display_number("1001"), "1001");
        assert_eq!(display_number("+442071234567"), "+442071234567");
    }
}
