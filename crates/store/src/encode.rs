//! The store's compact binary encoding: varint primitives, property bags and the record framing.
//!
//! Every stored value is `FORMAT_VERSION` followed by its body; integers are LEB128 varints (signed
//! ones zig-zagged), strings and byte strings are length-prefixed. Decoding is bounds-checked: a
//! declared length or count is compared with the bytes that remain before anything is allocated, and
//! corrupt input gives a [`DecodeError`], never a panic. This module never touches redb.

use super::props::{FileTime, Guid, PropTag, PropType, PropValue, PropertyBag};

/// The format version written as the first byte of every record.
pub(crate) const FORMAT_VERSION: u8 = 1;

/// Why bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// The input ended inside a value.
    #[error("truncated at byte {0}")]
    Truncated(usize),
    /// The record was written by an unknown format version.
    #[error("unknown format version {0}")]
    Version(u8),
    /// A varint is longer than its type allows.
    #[error("overlong integer at byte {0}")]
    Overlong(usize),
    /// A value is out of range for its field (bad tag byte, bad boolean, unsorted tags, …).
    #[error("invalid {what} at byte {at}")]
    Invalid {
        /// The field.
        what: &'static str,
        /// The byte offset.
        at: usize,
    },
    /// Bytes remain after the record.
    #[error("{0} trailing bytes")]
    Trailing(usize),
}

/// Appends encoded values to a buffer.
#[derive(Debug, Default)]
pub(crate) struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A writer whose first byte is the format version.
    pub(crate) fn record() -> Writer {
        Writer {
            buf: vec![FORMAT_VERSION],
        }
    }

    /// The encoded bytes.
    pub(crate) fn finish(self) -> Vec<u8> {
        self.buf
    }

    pub(crate) fn u8(&mut self, value: u8) {
        self.buf.push(value);
    }

    pub(crate) fn u64(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.buf.push((value & 0x7F) as u8 | 0x80);
            value >>= 7;
        }
        self.buf.push((value & 0x7F) as u8);
    }

    pub(crate) fn i64(&mut self, value: i64) {
        self.u64(((value << 1) ^ (value >> 63)) as u64);
    }

    pub(crate) fn bool(&mut self, value: bool) {
        self.u8(u8::from(value));
    }

    pub(crate) fn len(&mut self, len: usize) {
        self.u64(len as u64);
    }

    pub(crate) fn bytes(&mut self, bytes: &[u8]) {
        self.len(bytes.len());
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn str(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    pub(crate) fn u128(&mut self, value: u128) {
        self.buf.extend_from_slice(&value.to_le_bytes());
    }

    pub(crate) fn bag(&mut self, bag: &PropertyBag) {
        self.len(bag.len());
        for (tag, value) in bag.iter() {
            self.buf.extend_from_slice(&tag.raw().to_le_bytes());
            self.value(value);
        }
    }

    fn value(&mut self, value: &PropValue) {
        match value {
            PropValue::Int32(v) => self.i64(i64::from(*v)),
            PropValue::Double(v) => self.buf.extend_from_slice(&v.to_le_bytes()),
            PropValue::Boolean(v) => self.bool(*v),
            PropValue::Int64(v) => self.i64(*v),
            PropValue::Unicode(v) => self.str(v),
            PropValue::SystemTime(v) => self.i64(v.0),
            PropValue::Guid(v) => self.u128(v.0),
            PropValue::Binary(v) => self.bytes(v),
            PropValue::MultiInt32(values) => {
                self.len(values.len());
                values.iter().for_each(|v| self.i64(i64::from(*v)));
            }
            PropValue::MultiInt64(values) => {
                self.len(values.len());
                values.iter().for_each(|v| self.i64(*v));
            }
            PropValue::MultiUnicode(values) => {
                self.len(values.len());
                values.iter().for_each(|v| self.str(v));
            }
            PropValue::MultiBinary(values) => {
                self.len(values.len());
                values.iter().for_each(|v| self.bytes(v));
            }
        }
    }
}

/// Reads encoded values from a byte slice, checking every bound.
#[derive(Debug)]
pub(crate) struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    /// A reader over a record; checks and skips the format version byte.
    pub(crate) fn record(bytes: &'a [u8]) -> Result<Reader<'a>, DecodeError> {
        let mut reader = Reader { bytes, at: 0 };
        match reader.u8()? {
            FORMAT_VERSION => Ok(reader),
            other => Err(DecodeError::Version(other)),
        }
    }

    /// Fails unless every byte was consumed.
    pub(crate) fn end(self) -> Result<(), DecodeError> {
        match self.bytes.len().saturating_sub(self.at) {
            0 => Ok(()),
            left => Err(DecodeError::Trailing(left)),
        }
    }

    pub(crate) fn invalid(&self, what: &'static str) -> DecodeError {
        DecodeError::Invalid { what, at: self.at }
    }

    fn take(&mut self, count: usize) -> Result<&'a [u8], DecodeError> {
        let end = self
            .at
            .checked_add(count)
            .ok_or(DecodeError::Truncated(self.at))?;
        let slice = self
            .bytes
            .get(self.at..end)
            .ok_or(DecodeError::Truncated(self.at))?;
        self.at = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        let [byte] = self.array::<1>()?;
        Ok(byte)
    }

    pub(crate) fn u64(&mut self) -> Result<u64, DecodeError> {
        let start = self.at;
        let mut value: u64 = 0;
        for shift in (0..64).step_by(7) {
            let byte = self.u8()?;
            let bits = u64::from(byte & 0x7F);
            // The tenth byte may only carry the top bit of a u64.
            if shift == 63 && bits > 1 {
                return Err(DecodeError::Overlong(start));
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::Overlong(start))
    }

    pub(crate) fn i64(&mut self) -> Result<i64, DecodeError> {
        let raw = self.u64()?;
        Ok((raw >> 1) as i64 ^ -((raw & 1) as i64))
    }

    pub(crate) fn i32(&mut self) -> Result<i32, DecodeError> {
        let at = self.at;
        i32::try_from(self.i64()?).map_err(|_| DecodeError::Invalid { what: "int32", at })
    }

    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        let at = self.at;
        u16::try_from(self.u64()?).map_err(|_| DecodeError::Invalid { what: "u16", at })
    }

    pub(crate) fn bool(&mut self) -> Result<bool, DecodeError> {
        match self.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(DecodeError::Invalid {
                what: "boolean",
                at: self.at.saturating_sub(1),
            }),
        }
    }

    /// A count of elements that each take at least one byte; refused if more than the bytes left,
    /// so a corrupt count can never trigger a large allocation.
    pub(crate) fn count(&mut self) -> Result<usize, DecodeError> {
        let at = self.at;
        let count = usize::try_from(self.u64()?).map_err(|_| DecodeError::Truncated(at))?;
        if count > self.bytes.len().saturating_sub(self.at) {
            return Err(DecodeError::Truncated(at));
        }
        Ok(count)
    }

    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let count = self.count()?;
        self.take(count)
    }

    pub(crate) fn string(&mut self) -> Result<String, DecodeError> {
        let at = self.at;
        let bytes = self.bytes()?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Invalid { what: "utf-8", at })
    }

    pub(crate) fn u128(&mut self) -> Result<u128, DecodeError> {
        Ok(u128::from_le_bytes(self.array::<16>()?))
    }

    /// A list of `count()` elements read by `element`.
    pub(crate) fn list<T>(
        &mut self,
        mut element: impl FnMut(&mut Reader<'a>) -> Result<T, DecodeError>,
    ) -> Result<Vec<T>, DecodeError> {
        let count = self.count()?;
        let mut out = Vec::with_capacity(count);
        for _ in 0..count {
            out.push(element(self)?);
        }
        Ok(out)
    }

    pub(crate) fn bag(&mut self) -> Result<PropertyBag, DecodeError> {
        let count = self.count()?;
        let mut bag = PropertyBag::new();
        let mut previous: Option<PropTag> = None;
        for _ in 0..count {
            let at = self.at;
            let tag = PropTag::from_raw(u32::from_le_bytes(self.array::<4>()?)).ok_or(
                DecodeError::Invalid {
                    what: "property type",
                    at,
                },
            )?;
            // Tags are written in ascending order with one value per id; anything else is damage.
            if previous.is_some_and(|p| p.id() >= tag.id()) {
                return Err(DecodeError::Invalid {
                    what: "property order",
                    at,
                });
            }
            previous = Some(tag);
            let value = self.value(tag.prop_type())?;
            bag.set(tag, value).map_err(|_| DecodeError::Invalid {
                what: "property",
                at,
            })?;
        }
        Ok(bag)
    }

    fn value(&mut self, prop_type: PropType) -> Result<PropValue, DecodeError> {
        Ok(match prop_type {
            PropType::Int32 => PropValue::Int32(self.i32()?),
            PropType::Double => PropValue::Double(f64::from_le_bytes(self.array::<8>()?)),
            PropType::Boolean => PropValue::Boolean(self.bool()?),
            PropType::Int64 => PropValue::Int64(self.i64()?),
            PropType::Unicode => PropValue::Unicode(self.string()?),
            PropType::SystemTime => PropValue::SystemTime(FileTime(self.i64()?)),
            PropType::Guid => PropValue::Guid(Guid(self.u128()?)),
            PropType::Binary => PropValue::Binary(self.bytes()?.to_vec()),
            PropType::MultiInt32 => PropValue::MultiInt32(self.list(Reader::i32)?),
            PropType::MultiInt64 => PropValue::MultiInt64(self.list(Reader::i64)?),
            PropType::MultiUnicode => PropValue::MultiUnicode(self.list(Reader::string)?),
            PropType::MultiBinary => {
                PropValue::MultiBinary(self.list(|r| r.bytes().map(<[u8]>::to_vec))?)
            }
        })
    }
}

/// A property bag as a standalone record (version byte, then the bag); its length is what
/// PidTagMessageSize counts for an item's properties.
pub(crate) fn encode_bag(bag: &PropertyBag) -> Vec<u8> {
    let mut writer = Writer::record();
    writer.bag(bag);
    writer.finish()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Decodes what [`encode_bag`] wrote (stored bags are decoded inside their records).
    fn decode_bag(bytes: &[u8]) -> Result<PropertyBag, DecodeError> {
        let mut reader = Reader::record(bytes)?;
        let bag = reader.bag()?;
        reader.end()?;
        Ok(bag)
    }
    use crate::props::{tags, PropTag, PropType};

    /// A small deterministic PRNG (xorshift64*) so fuzz loops are reproducible without a crate.
    pub(crate) struct Rng(u64);

    impl Rng {
        pub(crate) fn new(seed: u64) -> Rng {
            Rng(seed.max(1))
        }

        pub(crate) fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        pub(crate) fn below(&mut self, bound: u64) -> u64 {
            self.next() % bound.max(1)
        }

        pub(crate) fn bytes(&mut self, len: usize) -> Vec<u8> {
            (0..len).map(|_| self.next() as u8).collect()
        }
    }

    fn sample_bag() -> PropertyBag {
        let mut bag = PropertyBag::new();
        let values = [
            (
                tags::MESSAGE_CLASS,
                PropValue::Unicode("IPM.Note.Microsoft.Voicemail.UM.CA".into()),
            ),
            (
                tags::SUBJECT,
                PropValue::Unicode("Voice mail from +1 425 555 0100 — ünïcödé".into()),
            ),
            (tags::MESSAGE_FLAGS, PropValue::Int32(-7)),
            (tags::VOICE_MESSAGE_DURATION, PropValue::Int32(i32::MAX)),
            (tags::HAS_ATTACHMENTS, PropValue::Boolean(true)),
            (
                tags::MESSAGE_DELIVERY_TIME,
                PropValue::SystemTime(FileTime(i64::MIN)),
            ),
            (tags::HTML, PropValue::Binary(vec![0, 1, 2, 255])),
            (
                PropTag::new(0x0100, PropType::Int64),
                PropValue::Int64(i64::MIN),
            ),
            (
                PropTag::new(0x0101, PropType::Double),
                PropValue::Double(-1.5e300),
            ),
            (
                PropTag::new(0x0102, PropType::Guid),
                PropValue::Guid(Guid(u128::MAX)),
            ),
            (
                PropTag::new(0x0103, PropType::MultiInt32),
                PropValue::MultiInt32(vec![1, -1, 0]),
            ),
            (
                PropTag::new(0x0104, PropType::MultiInt64),
                PropValue::MultiInt64(vec![i64::MAX]),
            ),
            (
                PropTag::new(0x0105, PropType::MultiUnicode),
                PropValue::MultiUnicode(vec!["a".into(), String::new(), "ç".into()]),
            ),
            (
                PropTag::new(0x0106, PropType::MultiBinary),
                PropValue::MultiBinary(vec![vec![], vec![9; 300]]),
            ),
            (
                PropTag::new(0x8000, PropType::Binary),
                PropValue::Binary(vec![]),
            ),
        ];
        for (tag, value) in values {
            bag.set(tag, value).unwrap();
        }
        bag
    }

    #[test]
    fn bag_round_trips() {
        let bag = sample_bag();
        let bytes = encode_bag(&bag);
        assert_eq!(bytes.first(), Some(&FORMAT_VERSION));
        assert_eq!(decode_bag(&bytes).unwrap(), bag);
        assert_eq!(
            decode_bag(&encode_bag(&PropertyBag::new())).unwrap(),
            PropertyBag::new()
        );
    }

    #[test]
    fn varints_round_trip_at_the_edges() {
        let unsigned = [
            0u64,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX),
            u64::MAX,
        ];
        let signed = [0i64, -1, 1, i64::MIN, i64::MAX, -64, 64];
        let mut writer = Writer::record();
        unsigned.iter().for_each(|v| writer.u64(*v));
        signed.iter().for_each(|v| writer.i64(*v));
        let bytes = writer.finish();
        let mut reader = Reader::record(&bytes).unwrap();
        for v in unsigned {
            assert_eq!(reader.u64().unwrap(), v);
        }
        for v in signed {
            assert_eq!(reader.i64().unwrap(), v);
        }
        reader.end().unwrap();
    }

    #[test]
    fn corrupt_inputs_are_errors() {
        let bytes = encode_bag(&sample_bag());
        assert_eq!(decode_bag(&[]), Err(DecodeError::Truncated(0)));
        assert_eq!(decode_bag(&[2, 0]), Err(DecodeError::Version(2)));
        let mut trailing = bytes.clone();
        trailing.push(0);
        assert_eq!(decode_bag(&trailing), Err(DecodeError::Trailing(1)));
        // Eleven continuation bytes: longer than any u64.
        let overlong = [
            FORMAT_VERSION,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0xFF,
            0x7F,
        ];
        assert_eq!(decode_bag(&overlong), Err(DecodeError::Overlong(1)));
        // A count of 2^40 elements with nothing behind it must not allocate.
        let huge_count = [FORMAT_VERSION, 0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
        assert_eq!(decode_bag(&huge_count), Err(DecodeError::Truncated(1)));
        // One property with an unknown type code (0x001E, String8).
        let bad_type = [FORMAT_VERSION, 1, 0x1E, 0x00, 0x37, 0x00, 0];
        assert!(matches!(
            decode_bag(&bad_type),
            Err(DecodeError::Invalid { .. })
        ));
        // The same id twice.
        let mut twice = Writer::record();
        twice.len(2);
        for _ in 0..2 {
            twice
                .buf
                .extend_from_slice(&tags::IMPORTANCE.raw().to_le_bytes());
            twice.i64(1);
        }
        assert!(matches!(
            decode_bag(&twice.finish()),
            Err(DecodeError::Invalid { .. })
        ));
        for cut in 0..bytes.len() {
            assert!(
                decode_bag(&bytes[..cut]).is_err(),
                "prefix of {cut} bytes decoded"
            );
        }
    }

    #[test]
    fn fuzz_random_and_mutated_inputs_never_panic() {
        let valid = encode_bag(&sample_bag());
        let mut rng = Rng::new(0x005E_ED0F);
        for round in 0..4_000u64 {
            let input = match round % 3 {
                0 => {
                    let len = rng.below(64) as usize;
                    let mut bytes = rng.bytes(len);
                    if let Some(first) = bytes.first_mut() {
                        *first = FORMAT_VERSION;
                    }
                    bytes
                }
                1 => {
                    let mut bytes = valid.clone();
                    for _ in 0..=rng.below(4) {
                        let at = rng.below(bytes.len() as u64) as usize;
                        bytes[at] ^= 1 << rng.below(8);
                    }
                    bytes
                }
                _ => {
                    let cut = rng.below(valid.len() as u64) as usize;
                    let mut bytes = valid[..cut].to_vec();
                    let tail = rng.below(8) as usize;
                    bytes.extend(rng.bytes(tail));
                    bytes
                }
            };
            // Either outcome is fine; what matters is no panic, and a success re-encodes canonically
            // (compared as bytes, since a flipped bit may have made a NaN).
            if let Ok(bag) = decode_bag(&input) {
                let again = encode_bag(&bag);
                assert_eq!(encode_bag(&decode_bag(&again).unwrap()), again);
            }
        }
    }
}
