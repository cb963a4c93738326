//! HTTP Basic authentication (RFC 7617) against the directory, only ever over TLS.
//!
//! argon2 is deliberately slow, so a verified credential is remembered by its SHA-256 digest (never
//! in clear) together with the password hash it was checked against; a password change in the
//! directory therefore invalidates the entry at once. Verification runs on the blocking pool.
//! Never decides what an authenticated user may do: the surfaces do.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine;

use umbox_base::directory::{Directory, User};

/// Most remembered credentials; the cache is cleared when full rather than grown.
const CACHE_LIMIT: usize = 10_000;

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header, or another scheme than Basic.
    #[error("no basic credentials")]
    Missing,
    /// The header is not `Basic base64(user:password)`.
    #[error("malformed basic credentials")]
    Malformed,
    /// Unknown user or wrong password (deliberately one case).
    #[error("bad user name or password")]
    Rejected,
}

type Digest = [u8; 32];

/// Checks Basic credentials and remembers successes.
#[derive(Debug, Default)]
pub struct Authenticator {
    verified: Mutex<HashMap<Digest, Verified>>,
}

#[derive(Debug, Clone)]
struct Verified {
    address: String,
    password_hash: String,
}

impl Authenticator {
    /// Authenticates an `Authorization` header value against `directory`.
    pub async fn authenticate(
        &self,
        header: Option<&[u8]>,
        directory: &Arc<Directory>,
    ) -> Result<User, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let (user_name, password) = parse_basic(header)?;
        let digest = digest(header);
        let user = directory
            .user_by_address(normalize_user_name(&user_name))
            .ok_or(AuthError::Rejected)?;
        if self.remembered(&digest, user) {
            return Ok(user.clone());
        }
        let candidate = user.clone();
        let ok = tokio::task::spawn_blocking(move || {
            candidate.verify_password(&password).then_some(candidate)
        })
        .await
        .ok()
        .flatten();
        let user = ok.ok_or(AuthError::Rejected)?;
        self.remember(digest, &user);
        Ok(user)
    }

    fn remembered(&self, digest: &Digest, user: &User) -> bool {
        let Ok(map) = self.verified.lock() else {
            return false;
        };
        map.get(digest)
            .is_some_and(|v| v.address == user.address && v.password_hash == user.password_hash)
    }

    fn remember(&self, digest: Digest, user: &User) {
        if let Ok(mut map) = self.verified.lock() {
            if map.len() >= CACHE_LIMIT {
                map.clear();
            }
            map.insert(
                digest,
                Verified {
                    address: user.address.clone(),
                    password_hash: user.password_hash.clone(),
                },
            );
        }
    }
}

/// Splits `Basic <base64(user:password)>` (scheme name case-insensitive, RFC 7235 §2.1).
fn parse_basic(header: &[u8]) -> Result<(String, String), AuthError> {
    let text = std::str::from_utf8(header).map_err(|_| AuthError::Malformed)?;
    let (scheme, token) = text.trim().split_once(' ').ok_or(AuthError::Missing)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(AuthError::Missing);
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(token.trim())
        .map_err(|_| AuthError::Malformed)?;
    let decoded = String::from_utf8(decoded).map_err(|_| AuthError::Malformed)?;
    let (user, password) = decoded.split_once(':').ok_or(AuthError::Malformed)?;
    Ok((user.to_owned(), password.to_owned()))
}

/// Accepts `user@domain` and the down-level `DOMAIN\user@domain` some clients send.
fn normalize_user_name(name: &str) -> &str {
    name.rsplit_once('\\').map_or(name, |(_, user)| user)
}

fn digest(header: &[u8]) -> Digest {
    let d = ring::digest::digest(&ring::digest::SHA256, header);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> Vec<u8> {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}").into_bytes()
    }

    #[tokio::test]
    async fn accepts_right_password_and_remembers_it() {
        let directory = Arc::new(Directory::demo().unwrap());
        let auth = Authenticator::default();
        let header = basic("alice@example.test", "demo-alice");
        assert_eq!(
            auth.authenticate(Some(&header), &directory)
                .await
                .unwrap()
                .address,
            "alice@example.test"
        );
        assert_eq!(auth.verified.lock().unwrap().len(), 1);
        assert_eq!(
            auth.authenticate(Some(&header), &directory)
                .await
                .unwrap()
                .address,
            "alice@example.test"
        );
    }

    #[tokio::test]
    async fn a_changed_password_hash_forgets_the_remembered_credential() {
        let mut directory = Directory::demo().unwrap();
        let auth = Authenticator::default();
        let header = basic("alice@example.test", "demo-alice");
        auth.authenticate(Some(&header), &Arc::new(directory.clone()))
            .await
            .unwrap();
        directory.users[0].password_hash =
            umbox_base::directory::hash_password("new-secret").unwrap();
        let err = auth
            .authenticate(Some(&header), &Arc::new(directory))
            .await
            .unwrap_err();
        assert_eq!(err, AuthError::Rejected);
    }

    #[tokio::test]
    async fn rejects_bad_input() {
        let directory = Arc::new(Directory::demo().unwrap());
        let auth = Authenticator::default();
        let cases: [(&[u8], AuthError); 5] = [
            (b"Bearer abc", AuthError::Missing),
            (b"Basic !!!", AuthError::Malformed),
            (b"Basic Zm9v", AuthError::Malformed),
            (&basic("alice@example.test", "wrong"), AuthError::Rejected),
            (
                &basic("nobody@example.test", "demo-alice"),
                AuthError::Rejected,
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(
                auth.authenticate(Some(header), &directory)
                    .await
                    .unwrap_err(),
                expected
            );
        }
        assert_eq!(
            auth.authenticate(None, &directory).await.unwrap_err(),
            AuthError::Missing
        );
    }
}
