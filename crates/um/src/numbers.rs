//! Telephone numbers as umbox compares and shows them: the same number written with or without
//! the dial plan's country code and separators, the number of a Lync line URI, and the display
//! form. Pure; used by caller-ID resolution and by the router for forwarded calls.

/// The number part of `tel:+14255550101;ext=1001`.
pub fn line_uri_number(uri: &str) -> Option<&str> {
    uri.strip_prefix("tel:")
        .map(|rest| rest.split(';').next().unwrap_or(rest))
}

/// Two numbers are the same when their digits are, or when one is the other with the dial plan's
/// country code in front (`+1 425 555 0101` and `4255550101` in a plan with country code 1).
pub fn same_number(a: &str, b: &str, country: &str) -> bool {
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

/// The digits of a number, separators and `+` dropped.
pub fn digits(n: &str) -> String {
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

    #[test]
    fn numbers_display_like_people_write_them() {
        assert_eq!(display_number("+14255550100"), "+1 425 555 0100");
        assert_eq!(display_number("14255550100"), "+1 425 555 0100");
        assert_eq!(display_number("1001"), "1001");
        assert_eq!(display_number("+442071234567"), "+442071234567");
    }

    #[test]
    fn numbers_are_the_same_with_or_without_the_country_code_and_separators() {
        assert!(same_number("+1 (425) 555-0101", "4255550101", "1"));
        assert!(same_number("14255550101", "+14255550101", ""));
        assert!(!same_number("4255550101", "14255550101", ""));
        assert!(!same_number("+442071234567", "02071234567", "44"));
        assert!(!same_number("", "", "1"));
        assert_eq!(
            line_uri_number("tel:+14255550101;ext=1001"),
            Some("+14255550101")
        );
        assert_eq!(line_uri_number("sip:alice@example.test"), None);
    }
}
