//! Entry point for the `store_records` fuzz target (compiled only under cargo-fuzz's `--cfg
//! fuzzing`): the record decoders read whatever a damaged or hostile database file holds, so they
//! must refuse bad bytes with a `DecodeError`, and anything they accept must be written back in a
//! canonical form that reads to the same record.

use std::time::SystemTime;

use crate::encode::DecodeError;
use crate::records::{
    decode_logged, decode_named, encode_logged, encode_named, AttachmentRecord, FolderRecord,
    ItemRecord, MailboxMeta,
};

/// Decodes `bytes` as the record kind its first byte selects; a record that decodes is encoded,
/// decoded and encoded again, and both encodings must be equal (values are not compared directly
/// because a stored NaN double is never equal to itself).
pub fn records(bytes: &[u8]) {
    let Some((&kind, record)) = bytes.split_first() else {
        return;
    };
    match kind % 6 {
        0 => round_trip(record, MailboxMeta::decode, |r| r.encode()),
        1 => round_trip(record, FolderRecord::decode, |r| r.encode()),
        2 => round_trip(record, ItemRecord::decode, |r| r.encode()),
        3 => round_trip(record, AttachmentRecord::decode, |r| r.encode()),
        4 => round_trip(record, decode_named, encode_named),
        _ => round_trip(
            record,
            |bytes| -> Result<_, DecodeError> {
                let (time, event) = decode_logged(bytes)?;
                Ok((
                    time.to_system_time().unwrap_or(SystemTime::UNIX_EPOCH),
                    event,
                ))
            },
            |(time, event)| encode_logged(*time, event),
        ),
    }
}

fn round_trip<R, E>(
    bytes: &[u8],
    decode: impl Fn(&[u8]) -> Result<R, E>,
    encode: impl Fn(&R) -> Vec<u8>,
) {
    let Ok(record) = decode(bytes) else { return };
    let canonical = encode(&record);
    let again = decode(&canonical)
        .unwrap_or_else(|_| panic!("a record we wrote does not read back: {canonical:?}"));
    assert_eq!(
        encode(&again),
        canonical,
        "the canonical encoding is not stable"
    );
}
