//! Opaque EWS ids and change keys: what a store id becomes on the wire, and back.
//!
//! An id carries its kind, the mailbox and the store's number, sealed with a truncated
//! HMAC-SHA256 under a per-installation key kept in the data directory. So ids are stable across
//! restarts, a client cannot forge an id into another mailbox or turn a folder id into an item id,
//! and any tampering is answered with ErrorInvalidIdMalformed. Never touches the store.

use std::path::Path;

use base64::Engine;
use ring::hmac;

use umbox_store::{AttachmentId, ChangeKey, FolderId, ItemId, MailboxId};

/// Layout version of the sealed bytes.
const FORMAT: u8 = 1;
/// Bytes of MAC kept; 96 bits make guessing hopeless for an online attacker.
const MAC_LEN: usize = 12;
/// Longest mailbox address an id can carry (RFC 5321 path limit).
const MAX_ADDRESS: usize = 254;
/// Longest sealed state accepted, in base64 characters; well above what a request body may carry.
const MAX_STATE: usize = 4 << 20;

/// What an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Kind {
    Folder = 1,
    Item = 2,
    Attachment = 3,
    FolderChangeKey = 4,
    ItemChangeKey = 5,
    SyncState = 6,
}

/// Why an id was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The attribute was empty.
    #[error("empty id")]
    Empty,
    /// Not base64, wrong length, wrong kind, or the seal does not match.
    #[error("malformed id")]
    Malformed,
}

/// Errors loading or creating the key.
#[derive(Debug, thiserror::Error)]
#[error("id key {path}: {source}")]
pub struct KeyError {
    path: std::path::PathBuf,
    source: std::io::Error,
}

/// Seals and opens ids with the installation's key.
#[derive(Clone)]
pub struct IdCodec {
    key: hmac::Key,
}

impl std::fmt::Debug for IdCodec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdCodec(..)")
    }
}

impl IdCodec {
    /// A codec over raw key bytes (tests, fixtures).
    pub fn from_key(key: &[u8]) -> IdCodec {
        IdCodec {
            key: hmac::Key::new(hmac::HMAC_SHA256, key),
        }
    }

    /// Loads `<data_dir>/ids.key`, creating a random one on first start.
    pub fn load_or_create(data_dir: &Path) -> Result<IdCodec, KeyError> {
        let path = data_dir.join("ids.key");
        let error = |source| KeyError {
            path: path.clone(),
            source,
        };
        match std::fs::read(&path) {
            Ok(key) if key.len() == 32 => return Ok(IdCodec::from_key(&key)),
            Ok(_) => {
                return Err(error(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    "not 32 bytes",
                )));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(error(e)),
        }
        let mut key = [0u8; 32];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut key)
            .map_err(|_| error(std::io::Error::other("no system randomness")))?;
        umbox_base::fsio::write_atomic(&path, &key, 0o600).map_err(error)?;
        Ok(IdCodec::from_key(&key))
    }

    /// The wire id of a folder.
    pub fn folder(&self, mailbox: &MailboxId, folder: FolderId) -> String {
        self.seal(Kind::Folder, mailbox, folder.0, None)
    }

    /// The wire id of an item.
    pub fn item(&self, mailbox: &MailboxId, item: ItemId) -> String {
        self.seal(Kind::Item, mailbox, item.0, None)
    }

    /// The wire id of an attachment.
    pub fn attachment(&self, mailbox: &MailboxId, attachment: AttachmentId) -> String {
        self.seal(Kind::Attachment, mailbox, attachment.0, None)
    }

    /// The change key of a folder version.
    pub fn folder_change_key(
        &self,
        mailbox: &MailboxId,
        folder: FolderId,
        key: ChangeKey,
    ) -> String {
        self.seal(Kind::FolderChangeKey, mailbox, folder.0, Some(key.0))
    }

    /// The change key of an item version.
    pub fn item_change_key(&self, mailbox: &MailboxId, item: ItemId, key: ChangeKey) -> String {
        self.seal(Kind::ItemChangeKey, mailbox, item.0, Some(key.0))
    }

    /// Opens a folder id.
    pub fn open_folder(&self, id: &str) -> Result<(MailboxId, FolderId), IdError> {
        self.open(Kind::Folder, id)
            .map(|(m, n, _)| (m, FolderId(n)))
    }

    /// Opens an item id.
    pub fn open_item(&self, id: &str) -> Result<(MailboxId, ItemId), IdError> {
        self.open(Kind::Item, id).map(|(m, n, _)| (m, ItemId(n)))
    }

    /// Opens an attachment id.
    pub fn open_attachment(&self, id: &str) -> Result<(MailboxId, AttachmentId), IdError> {
        self.open(Kind::Attachment, id)
            .map(|(m, n, _)| (m, AttachmentId(n)))
    }

    /// Opens an item change key and checks it belongs to `item`.
    pub fn open_item_change_key(&self, item: ItemId, key: &str) -> Result<ChangeKey, IdError> {
        match self.open(Kind::ItemChangeKey, key)? {
            (_, n, Some(version)) if n == item.0 => Ok(ChangeKey(version)),
            _ => Err(IdError::Malformed),
        }
    }

    /// Seals an opaque state (a SyncState) for `mailbox`: the client can hold it and send it back,
    /// but cannot read it apart from base64, change it, or use it with another mailbox.
    pub fn seal_state(&self, mailbox: &MailboxId, state: &[u8]) -> String {
        let address = mailbox.as_str().as_bytes();
        let address = address.get(..MAX_ADDRESS).unwrap_or(address);
        let mut bytes = Vec::with_capacity(3 + address.len() + state.len() + MAC_LEN);
        bytes.push(FORMAT);
        bytes.push(Kind::SyncState as u8);
        bytes.push(address.len() as u8);
        bytes.extend_from_slice(address);
        bytes.extend_from_slice(state);
        let tag = hmac::sign(&self.key, &bytes);
        bytes.extend_from_slice(tag.as_ref().get(..MAC_LEN).unwrap_or_default());
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    /// Opens a state sealed by [`IdCodec::seal_state`] for `mailbox`.
    pub fn open_state(&self, mailbox: &MailboxId, sealed: &str) -> Result<Vec<u8>, IdError> {
        let body = self.verified(sealed, MAX_STATE)?;
        let mut reader = Reader(&body);
        if reader.byte()? != FORMAT || reader.byte()? != Kind::SyncState as u8 {
            return Err(IdError::Malformed);
        }
        let len = usize::from(reader.byte()?);
        if reader.take(len)? != mailbox.as_str().as_bytes() {
            return Err(IdError::Malformed);
        }
        Ok(reader.0.to_vec())
    }

    fn seal(&self, kind: Kind, mailbox: &MailboxId, number: u64, version: Option<u64>) -> String {
        let address = mailbox.as_str().as_bytes();
        let address = address.get(..MAX_ADDRESS).unwrap_or(address);
        let mut bytes = Vec::with_capacity(3 + address.len() + 16 + MAC_LEN);
        bytes.push(FORMAT);
        bytes.push(kind as u8);
        bytes.extend_from_slice(&number.to_be_bytes());
        if let Some(version) = version {
            bytes.extend_from_slice(&version.to_be_bytes());
        }
        bytes.push(address.len() as u8);
        bytes.extend_from_slice(address);
        let tag = hmac::sign(&self.key, &bytes);
        bytes.extend_from_slice(tag.as_ref().get(..MAC_LEN).unwrap_or_default());
        base64::engine::general_purpose::STANDARD.encode(bytes)
    }

    fn open(&self, kind: Kind, id: &str) -> Result<(MailboxId, u64, Option<u64>), IdError> {
        let body = self.verified(id, 512)?;
        let mut reader = Reader(&body);
        if reader.byte()? != FORMAT || reader.byte()? != kind as u8 {
            return Err(IdError::Malformed);
        }
        let number = reader.u64()?;
        let version = match kind {
            Kind::FolderChangeKey | Kind::ItemChangeKey => Some(reader.u64()?),
            _ => None,
        };
        let len = usize::from(reader.byte()?);
        let address = std::str::from_utf8(reader.take(len)?).map_err(|_| IdError::Malformed)?;
        if !reader.0.is_empty() {
            return Err(IdError::Malformed);
        }
        Ok((MailboxId::new(address), number, version))
    }

    /// The sealed bytes of `text` (at most `max_len` base64 characters) once their MAC checks.
    fn verified(&self, text: &str, max_len: usize) -> Result<Vec<u8>, IdError> {
        if text.is_empty() {
            return Err(IdError::Empty);
        }
        if text.len() > max_len {
            return Err(IdError::Malformed);
        }
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(text)
            .map_err(|_| IdError::Malformed)?;
        let split = bytes.len().checked_sub(MAC_LEN).ok_or(IdError::Malformed)?;
        let (body, mac) = bytes.split_at(split);
        let expected = hmac::sign(&self.key, body);
        let expected = expected.as_ref().get(..MAC_LEN).unwrap_or_default();
        // Compare without an early exit so timing tells nothing about the tag.
        let difference = expected
            .iter()
            .zip(mac)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if difference != 0 || expected.len() != mac.len() {
            return Err(IdError::Malformed);
        }
        bytes.truncate(split);
        Ok(bytes)
    }
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], IdError> {
        if self.0.len() < n {
            return Err(IdError::Malformed);
        }
        let (head, tail) = self.0.split_at(n);
        self.0 = tail;
        Ok(head)
    }

    fn byte(&mut self) -> Result<u8, IdError> {
        self.take(1).map(|b| b.first().copied().unwrap_or_default())
    }

    fn u64(&mut self) -> Result<u64, IdError> {
        let mut out = [0u8; 8];
        out.copy_from_slice(self.take(8)?);
        Ok(u64::from_be_bytes(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_keep_their_kind() {
        let codec = IdCodec::from_key(b"test key");
        let alice = MailboxId::new("alice@example.test");
        let id = codec.folder(&alice, FolderId(7));
        assert_eq!(codec.open_folder(&id), Ok((alice.clone(), FolderId(7))));
        assert_eq!(codec.open_item(&id), Err(IdError::Malformed));
        let item = codec.item(&alice, ItemId(9));
        assert_eq!(codec.open_item(&item), Ok((alice.clone(), ItemId(9))));
        let ck = codec.item_change_key(&alice, ItemId(9), ChangeKey(3));
        assert_eq!(codec.open_item_change_key(ItemId(9), &ck), Ok(ChangeKey(3)));
        assert_eq!(
            codec.open_item_change_key(ItemId(10), &ck),
            Err(IdError::Malformed)
        );
    }

    #[test]
    fn tampered_foreign_and_garbage_ids_are_malformed() {
        let codec = IdCodec::from_key(b"test key");
        let other = IdCodec::from_key(b"other key");
        let alice = MailboxId::new("alice@example.test");
        let id = codec.item(&alice, ItemId(1));
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&id)
            .unwrap();
        bytes[3] ^= 1;
        let tampered = base64::engine::general_purpose::STANDARD.encode(bytes);
        for bad in [
            tampered.as_str(),
            "!!!",
            "AAAA",
            &other.item(&alice, ItemId(1)),
        ] {
            assert_eq!(codec.open_item(bad), Err(IdError::Malformed), "{bad}");
        }
        assert_eq!(codec.open_item(""), Err(IdError::Empty));
    }

    #[test]
    fn states_are_bound_to_their_mailbox_and_tamper_evident() {
        let codec = IdCodec::from_key(b"test key");
        let alice = MailboxId::new("alice@example.test");
        let bob = MailboxId::new("bob@example.test");
        let sealed = codec.seal_state(&alice, b"some state");
        assert_eq!(
            codec.open_state(&alice, &sealed),
            Ok(b"some state".to_vec())
        );
        assert_eq!(codec.open_state(&bob, &sealed), Err(IdError::Malformed));
        let mut bytes = base64::engine::general_purpose::STANDARD
            .decode(&sealed)
            .unwrap();
        let last_state_byte = bytes.len() - MAC_LEN - 1;
        bytes[last_state_byte] ^= 1;
        let tampered = base64::engine::general_purpose::STANDARD.encode(bytes);
        assert_eq!(codec.open_state(&alice, &tampered), Err(IdError::Malformed));
        let id = codec.folder(&alice, FolderId(1));
        assert_eq!(
            codec.open_state(&alice, &id),
            Err(IdError::Malformed),
            "a folder id is no state"
        );
        assert_eq!(
            codec.open_folder(&sealed),
            Err(IdError::Malformed),
            "a state is no folder id"
        );
        assert_eq!(codec.open_state(&alice, ""), Err(IdError::Empty));
    }
}
