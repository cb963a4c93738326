//! HTTP Basic authentication (RFC 7617) against the directory, only ever over TLS, and the
//! defences a password check needs on an open port.
//!
//! argon2 is deliberately slow and large (19 MiB a check), so:
//! - a verified credential is remembered, one entry per user, as the SHA-256 digest of the
//!   normalised name and password (never in clear) together with the password hash it was checked
//!   against: a password change in the directory invalidates it at once, and spelling the same
//!   credential differently (`DOMAIN\user`, extra spaces) neither misses nor grows the cache;
//! - at most [`Limits::concurrent_hashes`] checks run at once on the blocking pool, a short queue
//!   waits for them, and beyond it the request is told to come back (503);
//! - an unknown user costs the same check (against a decoy hash) as a known one, so the answer's
//!   timing does not tell which names exist;
//! - failures are counted per account name and per source network (`http::throttle`): an
//!   account over its threshold is locked out for a while (its checks are refused without
//!   hashing, whatever the password), a source over its own is answered 429.
//!
//! A remembered credential is accepted before any of these checks, so a user who logged in before
//! an attack keeps working through it. Never decides what an authenticated user may do: the
//! surfaces do.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use tokio::sync::Semaphore;

use crate::throttle::{Policy, Throttle};
use umbox_base::directory::{self, Directory, User};

/// Most remembered credentials (one per user); the cache is cleared when full rather than grown.
const CACHE_LIMIT: usize = 10_000;
/// Most account names and source networks whose failures are counted at once.
const THROTTLE_CAPACITY: usize = 10_000;

/// Why a request is not authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header, or another scheme than Basic.
    #[error("no basic credentials")]
    Missing,
    /// The header is not `Basic base64(user:password)`.
    #[error("malformed basic credentials")]
    Malformed,
    /// Unknown user, wrong password or a locked-out account (deliberately one case).
    #[error("bad user name or password")]
    Rejected,
    /// The source failed too often lately (429 Too Many Requests).
    #[error("too many failed logins from this source; retry in {retry_after:?}")]
    Throttled {
        /// When the source may try again.
        retry_after: Duration,
    },
    /// Too many password checks are waiting (503 Service Unavailable).
    #[error("too many password checks in progress")]
    Busy,
}

/// The bounds of password checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Password hashes computed at once.
    pub concurrent_hashes: usize,
    /// Requests waiting for a hash slot; more are answered 503.
    pub queued_hashes: usize,
    /// The account lockout policy (per account name, known or not).
    pub account: Policy,
    /// The same rule per source network, looser: one source may serve many users.
    pub source: Policy,
}

impl Default for Limits {
    /// One hash per core with 32 waiting; an account locks for 15 minutes after 10 failures
    /// within 15 minutes (the threshold and durations commonly recommended for directory
    /// lockout policies); a source network waits a minute after 30 failures within a minute.
    fn default() -> Limits {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Limits {
            concurrent_hashes: cores,
            queued_hashes: 32,
            account: Policy {
                threshold: 10,
                window: Duration::from_secs(15 * 60),
                lockout: Duration::from_secs(15 * 60),
            },
            source: Policy {
                threshold: 30,
                window: Duration::from_secs(60),
                lockout: Duration::from_secs(60),
            },
        }
    }
}

/// Counts of what the authenticator did, for operators and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AuthStats {
    /// Password hashes computed (successes and failures, decoys included).
    pub hashes: u64,
    /// Credentials refused (wrong, unknown, locked out or throttled).
    pub failures: u64,
}

type Digest = [u8; 32];

/// Checks Basic credentials, remembers successes and throttles failures.
#[derive(Debug)]
pub struct Authenticator {
    limits: Limits,
    /// Keyed by the lower-cased primary address.
    verified: Mutex<HashMap<String, Verified>>,
    hashing: Arc<Semaphore>,
    queued: AtomicUsize,
    accounts: Mutex<Throttle<String>>,
    sources: Mutex<Throttle<IpAddr>>,
    decoy: OnceLock<Option<String>>,
    hashes: AtomicU64,
    failures: AtomicU64,
}

impl Default for Authenticator {
    fn default() -> Authenticator {
        Authenticator::new(Limits::default())
    }
}

#[derive(Debug, Clone)]
struct Verified {
    credential: Digest,
    password_hash: String,
}

/// Decoded Basic credentials, the name normalised.
struct Credentials {
    /// Lower-cased, without a down-level `DOMAIN\` prefix.
    name: String,
    password: String,
}

impl Credentials {
    fn digest(&self) -> Digest {
        let mut context = ring::digest::Context::new(&ring::digest::SHA256);
        context.update(self.name.as_bytes());
        context.update(&[0]);
        context.update(self.password.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(context.finish().as_ref());
        out
    }
}

/// Releases a queue place when the check is done, however it ends.
struct Queued<'a>(&'a AtomicUsize);

impl Drop for Queued<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Authenticator {
    /// An authenticator with these bounds.
    pub fn new(limits: Limits) -> Authenticator {
        Authenticator {
            limits,
            verified: Mutex::default(),
            hashing: Arc::new(Semaphore::new(limits.concurrent_hashes.max(1))),
            queued: AtomicUsize::new(0),
            accounts: Mutex::new(Throttle::new(limits.account, THROTTLE_CAPACITY)),
            sources: Mutex::new(Throttle::new(limits.source, THROTTLE_CAPACITY)),
            decoy: OnceLock::new(),
            hashes: AtomicU64::new(0),
            failures: AtomicU64::new(0),
        }
    }

    /// What it has done so far.
    pub fn stats(&self) -> AuthStats {
        AuthStats {
            hashes: self.hashes.load(Ordering::Relaxed),
            failures: self.failures.load(Ordering::Relaxed),
        }
    }

    /// Authenticates an `Authorization` header value from `source` against `directory`.
    pub async fn authenticate(
        &self,
        header: Option<&[u8]>,
        source: IpAddr,
        directory: &Arc<Directory>,
    ) -> Result<User, AuthError> {
        let header = header.ok_or(AuthError::Missing)?;
        let credentials = parse_basic(header)?;
        let digest = credentials.digest();
        let user = directory.user_by_address(&credentials.name);
        if let Some(user) = user.filter(|user| self.remembered(&digest, user)) {
            return Ok(user.clone());
        }
        let result = self.check(credentials, source, user).await;
        match &result {
            Ok(user) => self.remember(digest, user),
            Err(_) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
            }
        }
        result
    }

    /// Everything after the cache: throttles, the hash slot, the hash, the counts.
    async fn check(
        &self,
        credentials: Credentials,
        source: IpAddr,
        user: Option<&User>,
    ) -> Result<User, AuthError> {
        let network = umbox_net::source_network(source);
        let now = Instant::now();
        if let Some(retry_after) = lock(&self.sources).and_then(|t| t.locked(&network, now)) {
            return Err(AuthError::Throttled { retry_after });
        }
        if lock(&self.accounts).is_some_and(|t| t.locked(&credentials.name, now).is_some()) {
            // Attempts on a locked account do not extend its lockout (the owner gets it back on
            // time whatever a guesser does), but they do count against the guesser's source.
            if let Some(mut sources) = lock(&self.sources) {
                sources.failed(network, now);
            }
            return Err(AuthError::Rejected);
        }
        let matched = self.verify(user, credentials.password).await?;
        match (matched, user) {
            (true, Some(user)) => {
                if let Some(mut accounts) = lock(&self.accounts) {
                    accounts.succeeded(&credentials.name);
                }
                Ok(user.clone())
            }
            _ => {
                self.count_failure(&credentials.name, network);
                Err(AuthError::Rejected)
            }
        }
    }

    /// Runs one argon2 check in a hash slot: against the user's hash, or the decoy for an
    /// unknown user (whose outcome is then ignored).
    async fn verify(&self, user: Option<&User>, password: String) -> Result<bool, AuthError> {
        let queued = self.queued.fetch_add(1, Ordering::AcqRel);
        let _place = Queued(&self.queued);
        if queued >= self.limits.concurrent_hashes + self.limits.queued_hashes {
            return Err(AuthError::Busy);
        }
        let _slot = self.hashing.acquire().await.map_err(|_| AuthError::Busy)?;
        let hash = match user {
            Some(user) => Some(user.password_hash.clone()),
            None => self.decoy_hash().await,
        };
        self.hashes.fetch_add(1, Ordering::Relaxed);
        let matched = tokio::task::spawn_blocking(move || {
            hash.is_some_and(|hash| directory::password_matches(&hash, &password))
        })
        .await
        .unwrap_or(false);
        Ok(matched && user.is_some())
    }

    /// A hash of a random password with the directory's parameters, made once.
    async fn decoy_hash(&self) -> Option<String> {
        if let Some(decoy) = self.decoy.get() {
            return decoy.clone();
        }
        let made = tokio::task::spawn_blocking(|| {
            let mut secret = [0u8; 16];
            ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut secret).ok()?;
            let secret = base64::engine::general_purpose::STANDARD.encode(secret);
            directory::hash_password(&secret).ok()
        })
        .await
        .ok()
        .flatten();
        self.decoy.get_or_init(|| made).clone()
    }

    fn count_failure(&self, name: &str, network: IpAddr) {
        let now = Instant::now();
        if let Some(mut accounts) = lock(&self.accounts) {
            accounts.failed(name.to_owned(), now);
        }
        if let Some(mut sources) = lock(&self.sources) {
            sources.failed(network, now);
        }
    }

    fn remembered(&self, digest: &Digest, user: &User) -> bool {
        let Ok(map) = self.verified.lock() else {
            return false;
        };
        map.get(&user.address.to_ascii_lowercase())
            .is_some_and(|v| v.credential == *digest && v.password_hash == user.password_hash)
    }

    fn remember(&self, credential: Digest, user: &User) {
        if let Ok(mut map) = self.verified.lock() {
            if map.len() >= CACHE_LIMIT {
                map.clear();
            }
            map.insert(
                user.address.to_ascii_lowercase(),
                Verified {
                    credential,
                    password_hash: user.password_hash.clone(),
                },
            );
        }
    }
}

/// The table behind `mutex`, or `None` when a panic poisoned it (the check then goes on without it).
fn lock<T>(mutex: &Mutex<T>) -> Option<std::sync::MutexGuard<'_, T>> {
    mutex.lock().ok()
}

/// Splits `Basic <base64(user:password)>` (scheme name case-insensitive, RFC 7235 §2.1) and
/// normalises the user name.
fn parse_basic(header: &[u8]) -> Result<Credentials, AuthError> {
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
    Ok(Credentials {
        name: normalize_user_name(user).to_ascii_lowercase(),
        password: password.to_owned(),
    })
}

/// Accepts `user@domain` and the down-level `DOMAIN\user@domain` some clients send.
fn normalize_user_name(name: &str) -> &str {
    name.rsplit_once('\\').map_or(name, |(_, user)| user)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const AWAY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 51, 100, 1));

    fn basic(user: &str, password: &str) -> Vec<u8> {
        let token = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        format!("Basic {token}").into_bytes()
    }

    fn demo() -> Arc<Directory> {
        Arc::new(Directory::demo().unwrap())
    }

    /// Small thresholds so a test reaches them in a few tries.
    fn strict() -> Limits {
        let policy = |threshold| Policy {
            threshold,
            window: Duration::from_secs(600),
            lockout: Duration::from_secs(600),
        };
        Limits {
            concurrent_hashes: 2,
            queued_hashes: 4,
            account: policy(3),
            source: policy(6),
        }
    }

    #[tokio::test]
    async fn accepts_right_password_and_remembers_it() {
        let directory = demo();
        let auth = Authenticator::default();
        let header = basic("alice@example.test", "demo-alice");
        let user = auth.authenticate(Some(&header), HOME, &directory).await;
        assert_eq!(user.unwrap().address, "alice@example.test");
        assert_eq!(auth.stats().hashes, 1);
        let again = auth.authenticate(Some(&header), HOME, &directory).await;
        assert_eq!(again.unwrap().address, "alice@example.test");
        assert_eq!(
            auth.stats().hashes,
            1,
            "the second request is served from the cache"
        );
    }

    #[tokio::test]
    async fn spellings_of_one_credential_share_one_cache_entry() {
        let directory = demo();
        let auth = Authenticator::default();
        for name in [
            "alice@example.test",
            "ALICE@example.test",
            "EXAMPLE\\alice@example.test",
        ] {
            let header = basic(name, "demo-alice");
            auth.authenticate(Some(&header), HOME, &directory)
                .await
                .unwrap();
        }
        let spaced = b" Basic   YWxpY2VAZXhhbXBsZS50ZXN0OmRlbW8tYWxpY2U= ".to_vec();
        auth.authenticate(Some(&spaced), HOME, &directory)
            .await
            .unwrap();
        assert_eq!(auth.verified.lock().unwrap().len(), 1);
        assert_eq!(auth.stats().hashes, 1);
    }

    #[tokio::test]
    async fn a_changed_password_hash_forgets_the_remembered_credential() {
        let mut directory = Directory::demo().unwrap();
        let auth = Authenticator::default();
        let header = basic("alice@example.test", "demo-alice");
        auth.authenticate(Some(&header), HOME, &Arc::new(directory.clone()))
            .await
            .unwrap();
        directory.users[0].password_hash = directory::hash_password("new-secret").unwrap();
        let err = auth
            .authenticate(Some(&header), HOME, &Arc::new(directory))
            .await
            .unwrap_err();
        assert_eq!(err, AuthError::Rejected);
    }

    #[tokio::test]
    async fn rejects_bad_input() {
        let directory = demo();
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
            let result = auth.authenticate(Some(header), HOME, &directory).await;
            assert_eq!(result.unwrap_err(), expected);
        }
        let result = auth.authenticate(None, HOME, &directory).await;
        assert_eq!(result.unwrap_err(), AuthError::Missing);
    }

    #[tokio::test]
    async fn an_unknown_user_costs_a_password_check_like_a_known_one() {
        let directory = demo();
        let auth = Authenticator::default();
        let header = basic("nobody@example.test", "demo-alice");
        let result = auth.authenticate(Some(&header), HOME, &directory).await;
        assert_eq!(result.unwrap_err(), AuthError::Rejected);
        assert_eq!(auth.stats().hashes, 1);
        assert!(auth.decoy.get().unwrap().is_some());
    }

    #[tokio::test]
    async fn failures_lock_the_account_but_not_a_session_verified_before() {
        let directory = demo();
        let auth = Authenticator::new(strict());
        let right = basic("alice@example.test", "demo-alice");
        let wrong = basic("alice@example.test", "guess");
        // bob logged in before the attack; the attacker works from another network.
        let bob = basic("bob@example.test", "demo-bob");
        auth.authenticate(Some(&bob), HOME, &directory)
            .await
            .unwrap();
        for _ in 0..3 {
            let result = auth.authenticate(Some(&wrong), AWAY, &directory).await;
            assert_eq!(result.unwrap_err(), AuthError::Rejected);
        }
        let hashes = auth.stats().hashes;
        let locked = auth.authenticate(Some(&right), HOME, &directory).await;
        assert_eq!(locked.unwrap_err(), AuthError::Rejected, "locked out");
        assert_eq!(
            auth.stats().hashes,
            hashes,
            "a locked account costs no hash"
        );
        let bob_again = auth.authenticate(Some(&bob), AWAY, &directory).await;
        assert_eq!(bob_again.unwrap().address, "bob@example.test");
    }

    #[tokio::test]
    async fn a_source_guessing_across_names_is_throttled_and_others_are_not() {
        let directory = demo();
        let auth = Authenticator::new(strict());
        for n in 0..6 {
            let header = basic(&format!("user{n}@example.test"), "guess");
            let result = auth.authenticate(Some(&header), AWAY, &directory).await;
            assert_eq!(result.unwrap_err(), AuthError::Rejected);
        }
        let right = basic("alice@example.test", "demo-alice");
        let throttled = auth.authenticate(Some(&right), AWAY, &directory).await;
        assert!(matches!(
            throttled.unwrap_err(),
            AuthError::Throttled { retry_after } if retry_after > Duration::ZERO
        ));
        let user = auth.authenticate(Some(&right), HOME, &directory).await;
        assert_eq!(user.unwrap().address, "alice@example.test");
    }

    #[tokio::test]
    async fn checks_beyond_the_slots_and_the_queue_are_refused_as_busy() {
        let directory = demo();
        let limits = Limits {
            concurrent_hashes: 1,
            queued_hashes: 0,
            ..strict()
        };
        let auth = Arc::new(Authenticator::new(limits));
        // Hold the only slot, so the next check queues; with no queue it is refused at once.
        let slot = auth.hashing.clone().acquire_owned().await.unwrap();
        let holder = {
            let auth = auth.clone();
            let directory = directory.clone();
            tokio::spawn(async move {
                let header = basic("alice@example.test", "demo-alice");
                auth.authenticate(Some(&header), HOME, &directory).await
            })
        };
        while auth.queued.load(Ordering::Acquire) == 0 {
            tokio::task::yield_now().await;
        }
        let header = basic("bob@example.test", "demo-bob");
        let busy = auth.authenticate(Some(&header), HOME, &directory).await;
        assert_eq!(busy.unwrap_err(), AuthError::Busy);
        drop(slot);
        assert_eq!(holder.await.unwrap().unwrap().address, "alice@example.test");
        assert_eq!(auth.queued.load(Ordering::Acquire), 0);
    }
}
