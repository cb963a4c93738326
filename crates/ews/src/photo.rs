//! User photos: `GET /EWS/Exchange.asmx/s/GetUserPhoto?email=…&size=HR648x648` (Exchange 2013 and
//! later; Lync and Skype for Business show them), and where they are kept.
//!
//! A photo is one JPEG or PNG of at most 1 MiB in `<data>/photos/<primary address>.jpg|.png`, set
//! by `umbox user add|set --photo FILE`. umbox keeps a single size and serves it for every size
//! asked for; clients scale it. Any authenticated user may fetch anyone's photo, as in Exchange.
//! The HTTP layer hands over the raw query string and `If-None-Match`; this module answers with a
//! status, headers and body, and never sees a socket.

use std::path::{Path, PathBuf};

use umbox_base::directory::Directory;

/// The largest photo accepted.
pub const MAX_PHOTO_BYTES: usize = 1 << 20;

/// Errors storing or reading photos.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PhotoError {
    /// The bytes are neither a JPEG nor a PNG.
    #[error("not a JPEG or PNG image")]
    NotAnImage,
    /// The photo is over [`MAX_PHOTO_BYTES`].
    #[error("{size} bytes is over the limit of {MAX_PHOTO_BYTES}")]
    TooLarge {
        /// Its size.
        size: usize,
    },
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
}

/// The image formats accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageKind {
    /// JPEG (starts with an SOI marker).
    Jpeg,
    /// PNG (starts with the PNG signature).
    Png,
}

impl ImageKind {
    const ALL: [ImageKind; 2] = [ImageKind::Jpeg, ImageKind::Png];

    /// The kind of `bytes`, from their signature.
    pub fn sniff(bytes: &[u8]) -> Option<ImageKind> {
        ImageKind::ALL
            .into_iter()
            .find(|kind| bytes.starts_with(kind.signature()))
    }

    fn signature(self) -> &'static [u8] {
        match self {
            ImageKind::Jpeg => &[0xFF, 0xD8, 0xFF],
            ImageKind::Png => b"\x89PNG\r\n\x1a\n",
        }
    }

    /// The Content-Type it is served with.
    pub fn content_type(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "image/jpeg",
            ImageKind::Png => "image/png",
        }
    }

    fn extension(self) -> &'static str {
        match self {
            ImageKind::Jpeg => "jpg",
            ImageKind::Png => "png",
        }
    }
}

/// The sizes clients ask for (MS-OXWSCORE UserPhotoSizeType).
const SIZES: [&str; 9] = [
    "HR48x48",
    "HR64x64",
    "HR96x96",
    "HR120x120",
    "HR240x240",
    "HR360x360",
    "HR432x432",
    "HR504x504",
    "HR648x648",
];

/// A stored photo.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Photo {
    /// Its format.
    pub kind: ImageKind,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl Photo {
    /// A strong entity tag derived from the content, quoted as HTTP writes it.
    pub fn etag(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.bytes);
        let hex: String = digest
            .as_ref()
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("\"{hex}\"")
    }
}

/// The photos directory of a data directory.
#[derive(Debug, Clone)]
pub struct PhotoStore {
    dir: PathBuf,
}

impl PhotoStore {
    /// `<data_dir>/photos`.
    pub fn in_data_dir(data_dir: &Path) -> PhotoStore {
        PhotoStore {
            dir: data_dir.join("photos"),
        }
    }

    /// Checks that `bytes` may be a photo and returns its kind.
    pub fn check(bytes: &[u8]) -> Result<ImageKind, PhotoError> {
        if bytes.len() > MAX_PHOTO_BYTES {
            return Err(PhotoError::TooLarge { size: bytes.len() });
        }
        ImageKind::sniff(bytes).ok_or(PhotoError::NotAnImage)
    }

    /// Stores the photo of the user whose primary address is `address`, replacing any other.
    pub fn set(&self, address: &str, bytes: &[u8]) -> Result<(), PhotoError> {
        let kind = PhotoStore::check(bytes)?;
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| PhotoError::Io { path, source }
        };
        std::fs::create_dir_all(&self.dir).map_err(io(&self.dir))?;
        let path = self.path(address, kind);
        umbox_base::fsio::write_atomic(&path, bytes, 0o644).map_err(io(&path))?;
        for other in ImageKind::ALL.into_iter().filter(|k| *k != kind) {
            let stale = self.path(address, other);
            match std::fs::remove_file(&stale) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(io(&stale)(e)),
                _ => {}
            }
        }
        Ok(())
    }

    /// The photo of the user whose primary address is `address`, if one is stored.
    pub fn get(&self, address: &str) -> Result<Option<Photo>, PhotoError> {
        for kind in ImageKind::ALL {
            let path = self.path(address, kind);
            match std::fs::read(&path) {
                Ok(bytes) => return Ok(Some(Photo { kind, bytes })),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(source) => return Err(PhotoError::Io { path, source }),
            }
        }
        Ok(None)
    }

    /// The file name is the lower-cased address with every byte other than letters, digits and
    /// `@ . - _` written `%XX`: a local part may hold `/`, which must not reach the file system
    /// as a separator.
    fn path(&self, address: &str, kind: ImageKind) -> PathBuf {
        let mut name = String::with_capacity(address.len() + 4);
        for byte in address.to_ascii_lowercase().bytes() {
            if byte.is_ascii_alphanumeric() || b"@.-_".contains(&byte) {
                name.push(char::from(byte));
            } else {
                name.push_str(&format!("%{byte:02X}"));
            }
        }
        self.dir.join(format!("{name}.{}", kind.extension()))
    }
}

/// The answer to one GetUserPhoto request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhotoReply {
    /// 200, 304, 400, 404 or 500.
    pub status: u16,
    /// The photo's Content-Type, with a 200.
    pub content_type: Option<&'static str>,
    /// The ETag, with a 200 or 304.
    pub etag: Option<String>,
    /// The image, with a 200.
    pub body: Vec<u8>,
}

impl PhotoReply {
    fn status(status: u16) -> PhotoReply {
        PhotoReply {
            status,
            content_type: None,
            etag: None,
            body: Vec::new(),
        }
    }
}

/// Answers `GET …/s/GetUserPhoto?<query>`: 400 without `email` or with an unknown `size`, 404
/// when the address is not a user's or the user has no photo, 304 when `if_none_match` names the
/// current photo, else 200 with the image.
pub fn get_user_photo(
    photos: &PhotoStore,
    directory: &Directory,
    query: Option<&str>,
    if_none_match: Option<&str>,
) -> PhotoReply {
    let Some(params) = UserPhotoQuery::parse(query.unwrap_or_default()) else {
        return PhotoReply::status(400);
    };
    let Some(user) = directory.user_by_address(&params.email) else {
        return PhotoReply::status(404);
    };
    let photo = match photos.get(&user.address) {
        Ok(Some(photo)) => photo,
        Ok(None) => return PhotoReply::status(404),
        Err(error) => {
            tracing::error!(%error, "photo unreadable");
            return PhotoReply::status(500);
        }
    };
    let etag = photo.etag();
    if if_none_match.is_some_and(|header| etag_matches(header, &etag)) {
        return PhotoReply {
            status: 304,
            content_type: None,
            etag: Some(etag),
            body: Vec::new(),
        };
    }
    PhotoReply {
        status: 200,
        content_type: Some(photo.kind.content_type()),
        etag: Some(etag),
        body: photo.bytes,
    }
}

/// RFC 9110 §13.1.2: `*`, or a list of tags compared weakly (a `W/` prefix is ignored).
fn etag_matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// The two parameters of the query string that matter.
#[derive(Debug, Clone, PartialEq, Eq)]
struct UserPhotoQuery {
    email: String,
}

impl UserPhotoQuery {
    /// `None` when `email` is missing or `size` is not a UserPhotoSizeType. Other parameters
    /// (Exchange's own `sc` cache buster, for one) are not read.
    fn parse(query: &str) -> Option<UserPhotoQuery> {
        let mut email = None;
        for pair in query.split('&') {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            match percent_decode(key)?.as_str() {
                "email" if email.is_none() => email = Some(percent_decode(value)?),
                "size" if !SIZES.contains(&percent_decode(value)?.as_str()) => return None,
                _ => {}
            }
        }
        email
            .filter(|e| !e.is_empty())
            .map(|email| UserPhotoQuery { email })
    }
}

/// Decodes `%XX` escapes and `+` (a space in form encoding); `None` for a bad escape or bytes
/// that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let mut out = Vec::with_capacity(text.len());
    let mut bytes = text.bytes();
    while let Some(byte) = bytes.next() {
        match byte {
            b'%' => {
                let high = char::from(bytes.next()?).to_digit(16)?;
                let low = char::from(bytes.next()?).to_digit(16)?;
                out.push(u8::try_from(high * 16 + low).ok()?);
            }
            b'+' => out.push(b' '),
            other => out.push(other),
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const JPEG: &[u8] = &[
        0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10, b'J', b'F', b'I', b'F', 0, 0xFF, 0xD9,
    ];

    fn temp_dir(tag: &str) -> umbox_testkit::TempDir {
        umbox_testkit::temp_dir(&format!("photo-{tag}"))
    }

    #[test]
    fn photos_are_checked_stored_and_served() {
        let dir = temp_dir("serve");
        let photos = PhotoStore::in_data_dir(dir.path());
        let directory = Directory::demo().unwrap();
        assert!(matches!(
            PhotoStore::check(b"GIF89a"),
            Err(PhotoError::NotAnImage)
        ));
        assert!(matches!(
            PhotoStore::check(&vec![0xFF; MAX_PHOTO_BYTES + 1]),
            Err(PhotoError::TooLarge { .. })
        ));

        let query = Some("email=alice%40example.test&size=HR648x648");
        assert_eq!(get_user_photo(&photos, &directory, query, None).status, 404);
        photos.set("Alice@example.test", JPEG).unwrap();
        let reply = get_user_photo(&photos, &directory, query, None);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.content_type, Some("image/jpeg"));
        assert_eq!(reply.body, JPEG);
        let etag = reply.etag.unwrap();
        let again = get_user_photo(
            &photos,
            &directory,
            query,
            Some(&format!("\"x\", W/{etag}")),
        );
        assert_eq!((again.status, again.body.len()), (304, 0));
        assert_eq!(
            get_user_photo(&photos, &directory, query, Some("\"other\"")).status,
            200
        );

        let png = b"\x89PNG\r\n\x1a\n rest".to_vec();
        photos.set("alice@example.test", &png).unwrap();
        let reply = get_user_photo(&photos, &directory, Some("email=ALICE@example.test"), None);
        assert_eq!(
            (reply.status, reply.content_type, reply.body),
            (200, Some("image/png"), png)
        );
        assert!(!dir.path().join("photos/alice@example.test.jpg").exists());
        assert_eq!(
            photos.path("/etc/x@y", ImageKind::Png),
            dir.path().join("photos/%2Fetc%2Fx@y.png")
        );

        for (bad, status) in [
            (None, 400),
            (Some("size=HR48x48"), 400),
            (Some("email=alice%40example.test&size=HR1x1"), 400),
            (Some("email=alice%4"), 400),
            (Some("email=carol%40example.test"), 404),
            (Some("email=bob%40example.test&size=HR96x96"), 404),
        ] {
            assert_eq!(
                get_user_photo(&photos, &directory, bad, None).status,
                status,
                "{bad:?}"
            );
        }
    }
}
