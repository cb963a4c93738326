//! The per-folder item indexes: for each listed item (its own folder, and every search folder it
//! matches; associated items never) one row per [`ItemOrder`], and a second row per order while
//! the item is unread, so a page of a folder in any of these orders, all items or only the unread
//! ones, is a range scan over ids without decoding a single item.
//!
//! This module only computes the rows' sort keys and kinds; `store::redb_store` writes them in the
//! transaction of the change that moves them (`Tx::reindex`), builds them for data written before
//! they existed, and `MailStore::verify` recounts them. The keys order values exactly as EWS sorts
//! them: an absent value first, strings by their lower-cased characters, numbers and times by
//! value. Never decides which requests an index serves (`ews::ops::find_item` does).

use super::props::{tags, PropTag, PropValue, PropertyBag};
use super::ItemOrder;

/// PidTagImportance when an item does not say ("Normal", Exchange's default), as EWS reads it.
const NORMAL_IMPORTANCE: i32 = 1;

/// The version of the index rows' layout; a store whose recorded version differs rebuilds them.
pub(crate) const VERSION: u64 = 1;

impl ItemOrder {
    /// Every order an index is kept for.
    pub const ALL: [ItemOrder; 7] = [
        ItemOrder::Id,
        ItemOrder::Received,
        ItemOrder::Created,
        ItemOrder::Modified,
        ItemOrder::Subject,
        ItemOrder::Size,
        ItemOrder::Importance,
    ];

    /// The row kind of this order's index: every listed item, or only the unread ones.
    pub(crate) fn kind(self, unread_only: bool) -> u8 {
        let order = match self {
            ItemOrder::Id => 0,
            ItemOrder::Received => 1,
            ItemOrder::Created => 2,
            ItemOrder::Modified => 3,
            ItemOrder::Subject => 4,
            ItemOrder::Size => 5,
            ItemOrder::Importance => 6,
        };
        order * 2 + u8::from(unread_only)
    }

    /// The sort key of an item with `props` in this order; ties are broken by the item id, which
    /// is the row key's last part.
    pub(crate) fn key(self, props: &PropertyBag) -> Vec<u8> {
        match self {
            ItemOrder::Id => Vec::new(),
            ItemOrder::Received => time_key(props, tags::MESSAGE_DELIVERY_TIME),
            ItemOrder::Created => time_key(props, tags::CREATION_TIME),
            ItemOrder::Modified => time_key(props, tags::LAST_MODIFICATION_TIME),
            ItemOrder::Subject => match props.unicode(tags::SUBJECT) {
                // Characters compare by code point, and UTF-8 keeps that order byte for byte.
                Some(subject) => {
                    let mut key = Vec::with_capacity(subject.len() + 1);
                    key.push(1);
                    let mut buffer = [0u8; 4];
                    for c in subject.chars().flat_map(char::to_lowercase) {
                        key.extend_from_slice(c.encode_utf8(&mut buffer).as_bytes());
                    }
                    key
                }
                None => vec![0],
            },
            ItemOrder::Size => int_key(props.int32(tags::MESSAGE_SIZE).map(i64::from)),
            ItemOrder::Importance => int_key(Some(i64::from(
                props.int32(tags::IMPORTANCE).unwrap_or(NORMAL_IMPORTANCE),
            ))),
        }
    }
}

fn time_key(props: &PropertyBag, tag: PropTag) -> Vec<u8> {
    match props.get(tag) {
        Some(PropValue::SystemTime(time)) => int_key(Some(time.0)),
        _ => vec![0],
    }
}

/// `[0]` for an absent value, else `[1]` and the value with its sign bit flipped, big-endian, so
/// bytes compare as the numbers do.
fn int_key(value: Option<i64>) -> Vec<u8> {
    match value {
        Some(value) => {
            let mut key = Vec::with_capacity(9);
            key.push(1);
            key.extend_from_slice(&((value as u64) ^ (1 << 63)).to_be_bytes());
            key
        }
        None => vec![0],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::props::FileTime;

    fn bag(values: &[(PropTag, PropValue)]) -> PropertyBag {
        let mut bag = PropertyBag::new();
        for (tag, value) in values {
            bag.set(*tag, value.clone()).unwrap();
        }
        bag
    }

    #[test]
    fn keys_order_as_values_do() {
        let times = [i64::MIN, -5, 0, 7, i64::MAX];
        let keys: Vec<_> = times
            .iter()
            .map(|t| {
                let props = bag(&[(
                    tags::MESSAGE_DELIVERY_TIME,
                    PropValue::SystemTime(FileTime(*t)),
                )]);
                ItemOrder::Received.key(&props)
            })
            .collect();
        let absent = ItemOrder::Received.key(&PropertyBag::new());
        assert!(keys.windows(2).all(|pair| pair[0] < pair[1]));
        assert!(absent < keys[0], "an absent value sorts first");

        let subject = |text: &str| {
            ItemOrder::Subject.key(&bag(&[(tags::SUBJECT, PropValue::Unicode(text.into()))]))
        };
        assert_eq!(subject("Voice Mail"), subject("voice mail"));
        assert!(subject("ab") < subject("AbC"));
        assert!(subject("Zoë") > subject("zoe"));
        assert!(ItemOrder::Subject.key(&PropertyBag::new()) < subject(""));

        let importance = |value: Option<i32>| {
            let props = match value {
                Some(v) => bag(&[(tags::IMPORTANCE, PropValue::Int32(v))]),
                None => PropertyBag::new(),
            };
            ItemOrder::Importance.key(&props)
        };
        assert_eq!(importance(None), importance(Some(1)), "Normal unless said");
        assert!(importance(Some(0)) < importance(None));
        assert!(importance(Some(2)) > importance(None));
    }

    #[test]
    fn kinds_are_distinct() {
        let mut kinds: Vec<u8> = ItemOrder::ALL
            .iter()
            .flat_map(|order| [order.kind(false), order.kind(true)])
            .collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), ItemOrder::ALL.len() * 2);
    }
}
