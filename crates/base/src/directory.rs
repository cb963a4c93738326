//! The directory (umbox's "Active Directory"): users, dial plans, UM mailbox policies and IP gateways.
//!
//! It is one TOML file in the data directory, written whole and atomically (temporary file, fsync,
//! rename, fsync of the folder), so the admin CLI and a running server can share it and a crash never
//! leaves half a file. The same schema is what `umbox import` reads, except that an import may carry
//! a clear-text `password` which is hashed (argon2id) before anything is stored.
//! This module never touches the mailbox store and never speaks a protocol.

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::Argon2;
use serde::{Deserialize, Serialize};

use crate::config::FieldError;

/// The file name of the directory inside the data directory.
pub const FILE_NAME: &str = "directory.toml";

/// Errors from loading, checking or saving the directory.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing the file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema.
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// The parser's message, naming the key.
        message: String,
    },
    /// Entries that parse but break a rule; each names its field.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// A named entry does not exist.
    #[error("{kind} {name:?} not found")]
    NotFound {
        /// "user", "dial plan", …
        kind: &'static str,
        /// The name asked for.
        name: String,
    },
    /// Password hashing failed.
    #[error("password hashing failed: {0}")]
    Hash(String),
}

/// An extension of a user in one dial plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Extension {
    /// Name of the dial plan.
    pub dial_plan: String,
    /// The digits.
    pub number: String,
}

/// Rights beyond one's own mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Right {
    /// May act for any mailbox (EWS ExchangeImpersonation, Autodiscover for any address).
    Impersonation,
}

/// A mail-enabled, UM-enabled user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Primary SMTP address.
    pub address: String,
    /// Further SMTP addresses that reach the same mailbox.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub proxy_addresses: Vec<String>,
    /// Display name.
    pub display_name: String,
    /// SIP URI (`sip:alice@example.test`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_uri: Option<String>,
    /// Extensions, one per dial plan.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Extension>,
    /// Lync line URI (`tel:+14255550101;ext=1001`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line_uri: Option<String>,
    /// Numbers that identify this user as a caller.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calling_line_ids: Vec<String>,
    /// Other directory phone numbers (mobile, home, …).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub phone_numbers: Vec<String>,
    /// PHC string of the argon2id password hash; empty in an import that gives `password`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub password_hash: String,
    /// Clear-text password, accepted only on import and never stored.
    #[serde(default, skip_serializing)]
    pub password: Option<String>,
    /// Name of the UM mailbox policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub um_policy: Option<String>,
    /// Extra rights.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rights: Vec<Right>,
    /// The telephone-access PIN, when one is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pin: Option<Pin>,
    /// SIP digest credentials for the user's phone (message-waiting subscriptions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip_credential: Option<Box<SipCredential>>,
    /// Whether missed-call notifications reach the mailbox (Exchange's mailbox switch
    /// MissedCallNotificationEnabled); the policy must allow them too.
    #[serde(default = "default_true", skip_serializing_if = "is_true")]
    pub missed_call_notifications: bool,
}

fn is_true(value: &bool) -> bool {
    *value
}

/// Most digits a PIN may have (what a caller can type in one entry).
pub const MAX_PIN_DIGITS: usize = 16;

/// A user's telephone-access PIN: its hash and the lock-out state the media server keeps.
///
/// The digits are hashed with argon2id like passwords: a PIN has few digits, so a fast hash of
/// a leaked directory file would give them all back in a moment; argon2 makes each guess cost.
/// The state is here, in the directory file, because the admin CLI (which never opens the
/// mailbox store) must be able to unlock it, and the server records failures through the same
/// locked read-modify-write ([`DirectoryFile::update`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// PHC string of the argon2id hash of the digits.
    pub hash: String,
    /// Consecutive calls that entered a wrong PIN and never logged in.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failed_calls: u32,
    /// Set when `failed_calls` reached the policy's lock-out threshold; a new PIN clears it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub locked: bool,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Pin {
    /// A fresh, unlocked PIN of `digits` (check them with [`check_pin`] first).
    pub fn new(digits: &str) -> Result<Pin, Error> {
        Ok(Pin {
            hash: hash_password(digits)?,
            failed_calls: 0,
            locked: false,
        })
    }

    /// Whether `digits` are this PIN (the lock is the caller's business).
    pub fn verify(&self, digits: &str) -> bool {
        password_matches(&self.hash, digits)
    }
}

/// Why `digits` cannot be a PIN under `policy`, if they cannot: only digits, at least the
/// policy's minimum length and at most [`MAX_PIN_DIGITS`], and, unless the policy allows common
/// PINs, neither one digit repeated (`111111`) nor a run up or down (`123456`, `987654`,
/// `890123`), the first guesses of anyone trying.
pub fn check_pin(digits: &str, policy: &UmPolicy) -> Result<(), String> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must be digits only".to_owned());
    }
    let minimum = usize::from(policy.min_pin_length);
    if digits.len() < minimum || digits.len() > MAX_PIN_DIGITS {
        return Err(format!(
            "must be {minimum} to {MAX_PIN_DIGITS} digits (policy {:?})",
            policy.name
        ));
    }
    if policy.allow_common_pins {
        return Ok(());
    }
    let values: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
    let steps = |step: u8| {
        values
            .windows(2)
            .all(|w| matches!(w, [a, b] if (a + step) % 10 == *b))
    };
    if steps(0) {
        return Err("must not be one digit repeated".to_owned());
    }
    if steps(1) || steps(9) {
        return Err("must not be a run of consecutive digits".to_owned());
    }
    Ok(())
}

/// A random PIN that [`check_pin`] accepts under `policy`, as long as its minimum.
pub fn random_pin(policy: &UmPolicy) -> Result<String, Error> {
    let length = usize::from(policy.min_pin_length).clamp(1, MAX_PIN_DIGITS);
    // Almost every draw passes (only 30 of 10^length are trivial); the bound only guards
    // against a broken random source.
    for _ in 0..100 {
        let mut bytes = [0u8; MAX_PIN_DIGITS];
        let drawn = bytes.get_mut(..length).unwrap_or_default();
        getrandom(drawn)?;
        // 250 is the largest multiple of 10 below 256: rejecting above it keeps digits uniform.
        if drawn.iter().any(|b| *b >= 250) {
            continue;
        }
        let pin: String = drawn.iter().map(|b| char::from(b'0' + b % 10)).collect();
        if check_pin(&pin, policy).is_ok() {
            return Ok(pin);
        }
    }
    Err(Error::Hash(
        "the random source gave no usable PIN".to_owned(),
    ))
}

/// A user's SIP digest credentials (RFC 7616 §3.4.2): HA1 = H(username:realm:password) for each
/// algorithm. Only the hashes are stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SipCredential {
    /// The digest username the phone authenticates with (compared exactly).
    pub username: String,
    /// The digest realm the hashes were made for.
    pub realm: String,
    /// HA1 with MD5, 32 lower-case hex digits.
    pub ha1_md5: String,
    /// HA1 with SHA-256, 64 lower-case hex digits.
    pub ha1_sha256: String,
}

impl User {
    /// The local part and domain of the primary address.
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(_, d)| d)
    }

    /// Whether `address` (any case) is the primary or a proxy address of this user.
    pub fn has_address(&self, address: &str) -> bool {
        self.address.eq_ignore_ascii_case(address)
            || self
                .proxy_addresses
                .iter()
                .any(|p| p.eq_ignore_ascii_case(address))
    }

    /// Whether the user holds `right`.
    pub fn has_right(&self, right: Right) -> bool {
        self.rights.contains(&right)
    }

    /// The Exchange-style legacy distinguished name, derived from the address.
    pub fn legacy_dn(&self) -> String {
        let local = self.address.split('@').next().unwrap_or_default();
        format!(
            "/o=umbox/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={local}"
        )
    }

    /// Checks `password` against the stored hash.
    pub fn verify_password(&self, password: &str) -> bool {
        password_matches(&self.password_hash, password)
    }
}

/// A UM dial plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DialPlan {
    /// Unique name.
    pub name: String,
    /// Number of digits in an extension.
    pub extension_length: u8,
    /// Voicemail pilot numbers (the hunt group the PBX forwards to).
    #[serde(default)]
    pub pilot_numbers: Vec<String>,
    /// Country code used to format caller numbers (`1` for +1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
}

/// A UM mailbox policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UmPolicy {
    /// Unique name.
    pub name: String,
    /// Dial plan the policy belongs to.
    pub dial_plan: String,
    /// Whether missed-call notifications are sent.
    #[serde(default = "default_true")]
    pub allow_missed_call_notifications: bool,
    /// Longest message a caller may leave, in seconds.
    #[serde(default = "default_max_message_seconds")]
    pub max_message_seconds: u32,
    /// Shortest recording that becomes a voice message, in seconds.
    #[serde(default = "default_min_message_seconds")]
    pub min_message_seconds: u32,
    /// Fewest digits a telephone-access PIN may have (Exchange's MinPINLength).
    #[serde(default = "default_min_pin_length")]
    pub min_pin_length: u8,
    /// Consecutive calls with a wrong PIN that lock it (Exchange counts attempts, 15 by
    /// default; with three tries a call, five calls come to the same).
    #[serde(default = "default_pin_lockout_calls")]
    pub pin_lockout_calls: u32,
    /// Whether repeated digits and runs (`111111`, `123456`) are accepted as PINs.
    #[serde(default)]
    pub allow_common_pins: bool,
}

fn default_true() -> bool {
    true
}
fn default_max_message_seconds() -> u32 {
    300
}
fn default_min_message_seconds() -> u32 {
    1
}
/// The shortest PIN a policy allows unless it says otherwise.
pub const DEFAULT_MIN_PIN_LENGTH: u8 = 6;
fn default_min_pin_length() -> u8 {
    DEFAULT_MIN_PIN_LENGTH
}
/// Failed calls that lock a PIN unless the policy says otherwise.
pub const DEFAULT_PIN_LOCKOUT_CALLS: u32 = 5;
fn default_pin_lockout_calls() -> u32 {
    DEFAULT_PIN_LOCKOUT_CALLS
}

impl UmPolicy {
    /// A policy for `dial_plan` with every other field at its default.
    pub fn new(name: &str, dial_plan: &str) -> UmPolicy {
        UmPolicy {
            name: name.to_owned(),
            dial_plan: dial_plan.to_owned(),
            allow_missed_call_notifications: true,
            max_message_seconds: default_max_message_seconds(),
            min_message_seconds: default_min_message_seconds(),
            min_pin_length: default_min_pin_length(),
            pin_lockout_calls: default_pin_lockout_calls(),
            allow_common_pins: false,
        }
    }
}

/// An IP gateway or PBX allowed to send calls.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gateway {
    /// Unique name.
    pub name: String,
    /// Source address calls come from.
    pub address: IpAddr,
    /// Dial plan the gateway serves.
    pub dial_plan: String,
    /// Whether outbound calls (Play on Phone) may go through it.
    #[serde(default = "default_true")]
    pub outcalls_allowed: bool,
    /// Whether it gets unsolicited message-waiting NOTIFYs (RFC 3842) for every mailbox of its
    /// dial plan, as Exchange UM sends them to PBXs.
    #[serde(default, skip_serializing_if = "is_false")]
    pub mwi: bool,
    /// The port its unsolicited NOTIFYs go to (UDP).
    #[serde(
        default = "default_sip_port",
        skip_serializing_if = "is_default_sip_port"
    )]
    pub sip_port: u16,
}

fn is_false(value: &bool) -> bool {
    !value
}

fn default_sip_port() -> u16 {
    5060
}

fn is_default_sip_port(port: &u16) -> bool {
    *port == default_sip_port()
}

/// The whole directory.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Directory {
    /// Users.
    #[serde(default)]
    pub users: Vec<User>,
    /// Dial plans.
    #[serde(default)]
    pub dial_plans: Vec<DialPlan>,
    /// UM mailbox policies.
    #[serde(default)]
    pub policies: Vec<UmPolicy>,
    /// IP gateways.
    #[serde(default)]
    pub gateways: Vec<Gateway>,
}

impl Directory {
    /// The user with this primary or proxy address (any case).
    pub fn user_by_address(&self, address: &str) -> Option<&User> {
        self.users.iter().find(|u| u.has_address(address))
    }

    /// The user holding `number` in `dial_plan`.
    pub fn user_by_extension(&self, dial_plan: &str, number: &str) -> Option<&User> {
        self.users.iter().find(|u| {
            u.extensions
                .iter()
                .any(|e| e.dial_plan == dial_plan && e.number == number)
        })
    }

    /// The UM mailbox policy of `user`, if it has one.
    pub fn policy_of(&self, user: &User) -> Option<&UmPolicy> {
        let name = user.um_policy.as_deref()?;
        self.policies.iter().find(|p| p.name == name)
    }

    /// The dial plan called `name`.
    pub fn dial_plan(&self, name: &str) -> Option<&DialPlan> {
        self.dial_plans.iter().find(|d| d.name == name)
    }

    /// The gateway with this source address.
    pub fn gateway_by_address(&self, address: IpAddr) -> Option<&Gateway> {
        self.gateways.iter().find(|g| g.address == address)
    }

    /// Replaces clear-text import passwords by hashes. Call before [`Directory::validate`].
    pub fn hash_passwords(&mut self) -> Result<(), Error> {
        for user in &mut self.users {
            if let Some(password) = user.password.take() {
                user.password_hash = hash_password(&password)?;
            }
        }
        Ok(())
    }

    /// Checks every rule and names each offending field.
    pub fn validate(&self) -> Result<(), Error> {
        let mut errors = Vec::new();
        let mut names = HashSet::new();
        for (i, plan) in self.dial_plans.iter().enumerate() {
            let at = format!("dial_plans[{i}]");
            check_name(&plan.name, &format!("{at}.name"), &mut errors);
            if !names.insert(plan.name.as_str()) {
                errors.push(FieldError::new(
                    format!("{at}.name"),
                    format!("{:?} is used twice", plan.name),
                ));
            }
            if !(1..=20).contains(&plan.extension_length) {
                errors.push(FieldError::new(
                    format!("{at}.extension_length"),
                    "must be between 1 and 20",
                ));
            }
            for (j, pilot) in plan.pilot_numbers.iter().enumerate() {
                if !is_phone_number(pilot) {
                    errors.push(FieldError::new(
                        format!("{at}.pilot_numbers[{j}]"),
                        format!("{pilot:?} is not a phone number"),
                    ));
                }
            }
            if let Some(cc) = &plan.country_code {
                if cc.is_empty() || cc.len() > 3 || !cc.bytes().all(|b| b.is_ascii_digit()) {
                    errors.push(FieldError::new(
                        format!("{at}.country_code"),
                        "must be 1 to 3 digits",
                    ));
                }
            }
        }

        let mut policy_names = HashSet::new();
        for (i, policy) in self.policies.iter().enumerate() {
            let at = format!("policies[{i}]");
            check_name(&policy.name, &format!("{at}.name"), &mut errors);
            if !policy_names.insert(policy.name.as_str()) {
                errors.push(FieldError::new(
                    format!("{at}.name"),
                    format!("{:?} is used twice", policy.name),
                ));
            }
            if self.dial_plan(&policy.dial_plan).is_none() {
                errors.push(FieldError::new(
                    format!("{at}.dial_plan"),
                    format!("no dial plan named {:?}", policy.dial_plan),
                ));
            }
            if policy.max_message_seconds == 0 || policy.max_message_seconds > 7200 {
                errors.push(FieldError::new(
                    format!("{at}.max_message_seconds"),
                    "must be between 1 and 7200",
                ));
            }
            if policy.min_message_seconds > policy.max_message_seconds {
                errors.push(FieldError::new(
                    format!("{at}.min_message_seconds"),
                    "must not exceed max_message_seconds",
                ));
            }
            if !(4..=MAX_PIN_DIGITS).contains(&usize::from(policy.min_pin_length)) {
                errors.push(FieldError::new(
                    format!("{at}.min_pin_length"),
                    format!("must be between 4 and {MAX_PIN_DIGITS}"),
                ));
            }
            if !(1..=1000).contains(&policy.pin_lockout_calls) {
                errors.push(FieldError::new(
                    format!("{at}.pin_lockout_calls"),
                    "must be between 1 and 1000",
                ));
            }
        }

        let mut gateway_names = HashSet::new();
        let mut gateway_addresses = HashSet::new();
        for (i, gateway) in self.gateways.iter().enumerate() {
            let at = format!("gateways[{i}]");
            check_name(&gateway.name, &format!("{at}.name"), &mut errors);
            if !gateway_names.insert(gateway.name.as_str()) {
                errors.push(FieldError::new(
                    format!("{at}.name"),
                    format!("{:?} is used twice", gateway.name),
                ));
            }
            if !gateway_addresses.insert(gateway.address) {
                errors.push(FieldError::new(
                    format!("{at}.address"),
                    format!("{} belongs to another gateway", gateway.address),
                ));
            }
            if self.dial_plan(&gateway.dial_plan).is_none() {
                errors.push(FieldError::new(
                    format!("{at}.dial_plan"),
                    format!("no dial plan named {:?}", gateway.dial_plan),
                ));
            }
        }

        let mut addresses = HashSet::new();
        let mut extensions = HashSet::new();
        for (i, user) in self.users.iter().enumerate() {
            let at = format!("users[{i}]");
            let all = std::iter::once((format!("{at}.address"), &user.address)).chain(
                user.proxy_addresses
                    .iter()
                    .enumerate()
                    .map(|(j, p)| (format!("{at}.proxy_addresses[{j}]"), p)),
            );
            for (field, address) in all {
                if let Err(reason) = check_address(address) {
                    errors.push(FieldError::new(field, reason));
                } else if !addresses.insert(address.to_ascii_lowercase()) {
                    errors.push(FieldError::new(
                        field,
                        format!("{address:?} belongs to another user"),
                    ));
                }
            }
            if user.display_name.trim().is_empty() || user.display_name.len() > 256 {
                errors.push(FieldError::new(
                    format!("{at}.display_name"),
                    "must be 1 to 256 characters",
                ));
            }
            if let Some(uri) = &user.sip_uri {
                let ok = uri
                    .strip_prefix("sip:")
                    .or_else(|| uri.strip_prefix("sips:"))
                    .is_some_and(|rest| check_address(rest).is_ok());
                if !ok {
                    errors.push(FieldError::new(
                        format!("{at}.sip_uri"),
                        format!("{uri:?} is not sip:user@host"),
                    ));
                }
            }
            if let Some(uri) = &user.line_uri {
                if !uri.starts_with("tel:") || uri.len() < 5 {
                    errors.push(FieldError::new(
                        format!("{at}.line_uri"),
                        format!("{uri:?} is not a tel: URI"),
                    ));
                }
            }
            for (j, ext) in user.extensions.iter().enumerate() {
                let field = format!("{at}.extensions[{j}]");
                match self.dial_plan(&ext.dial_plan) {
                    None => errors.push(FieldError::new(
                        format!("{field}.dial_plan"),
                        format!("no dial plan named {:?}", ext.dial_plan),
                    )),
                    Some(plan) => {
                        let digits = ext.number.bytes().all(|b| b.is_ascii_digit());
                        if !digits || ext.number.len() != usize::from(plan.extension_length) {
                            errors.push(FieldError::new(
                                format!("{field}.number"),
                                format!("{:?} is not {} digits", ext.number, plan.extension_length),
                            ));
                        } else if plan.pilot_numbers.contains(&ext.number) {
                            errors.push(FieldError::new(
                                format!("{field}.number"),
                                format!("{:?} is the dial plan's pilot number", ext.number),
                            ));
                        } else if !extensions.insert((ext.dial_plan.as_str(), ext.number.as_str()))
                        {
                            errors.push(FieldError::new(
                                format!("{field}.number"),
                                format!(
                                    "{:?} belongs to another user in {:?}",
                                    ext.number, ext.dial_plan
                                ),
                            ));
                        }
                    }
                }
            }
            for (j, n) in user.calling_line_ids.iter().enumerate() {
                if !is_phone_number(n) {
                    errors.push(FieldError::new(
                        format!("{at}.calling_line_ids[{j}]"),
                        format!("{n:?} is not a phone number"),
                    ));
                }
            }
            for (j, n) in user.phone_numbers.iter().enumerate() {
                if !is_phone_number(n) {
                    errors.push(FieldError::new(
                        format!("{at}.phone_numbers[{j}]"),
                        format!("{n:?} is not a phone number"),
                    ));
                }
            }
            if user.password.is_some() {
                errors.push(FieldError::new(
                    format!("{at}.password"),
                    "clear-text passwords are only read by import",
                ));
            } else if PasswordHash::new(&user.password_hash).is_err() {
                errors.push(FieldError::new(
                    format!("{at}.password_hash"),
                    "is not an argon2 PHC string",
                ));
            }
            if let Some(pin) = &user.pin {
                if PasswordHash::new(&pin.hash).is_err() {
                    errors.push(FieldError::new(
                        format!("{at}.pin.hash"),
                        "is not an argon2 PHC string",
                    ));
                }
            }
            if let Some(credential) = &user.sip_credential {
                let hex = |h: &str, len: usize| {
                    h.len() == len
                        && h.bytes()
                            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
                };
                for (field, value) in [
                    ("username", &credential.username),
                    ("realm", &credential.realm),
                ] {
                    if value.is_empty()
                        || value.contains(['"', '\\'])
                        || value.chars().any(char::is_control)
                    {
                        errors.push(FieldError::new(
                            format!("{at}.sip_credential.{field}"),
                            "must be non-empty, without quotes, backslashes or control characters",
                        ));
                    }
                }
                if !hex(&credential.ha1_md5, 32) {
                    errors.push(FieldError::new(
                        format!("{at}.sip_credential.ha1_md5"),
                        "must be 32 lower-case hex digits",
                    ));
                }
                if !hex(&credential.ha1_sha256, 64) {
                    errors.push(FieldError::new(
                        format!("{at}.sip_credential.ha1_sha256"),
                        "must be 64 lower-case hex digits",
                    ));
                }
            }
            if let Some(policy) = &user.um_policy {
                if !self.policies.iter().any(|p| &p.name == policy) {
                    errors.push(FieldError::new(
                        format!("{at}.um_policy"),
                        format!("no policy named {policy:?}"),
                    ));
                }
            }
        }

        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(errors))
        }
    }

    /// Parses directory TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Directory, Error> {
        toml::from_str(text).map_err(|e| Error::Syntax {
            path: origin.to_owned(),
            message: e.message().to_owned(),
        })
    }

    /// The demo directory: `example.test` with alice (1001) and bob (1002), dial plan with pilot 1999,
    /// and the loopback gateway.
    pub fn demo() -> Result<Directory, Error> {
        let domain = crate::config::DEMO_DOMAIN;
        let user = |local: &str, name: &str, ext: &str, phone: &str| -> Result<User, Error> {
            Ok(User {
                address: format!("{local}@{domain}"),
                proxy_addresses: Vec::new(),
                display_name: name.to_owned(),
                sip_uri: Some(format!("sip:{local}@{domain}")),
                extensions: vec![Extension {
                    dial_plan: "default".to_owned(),
                    number: ext.to_owned(),
                }],
                line_uri: Some(format!("tel:{phone};ext={ext}")),
                calling_line_ids: vec![phone.to_owned()],
                phone_numbers: Vec::new(),
                password_hash: hash_password(&format!("demo-{local}"))?,
                password: None,
                um_policy: Some("default".to_owned()),
                rights: Vec::new(),
                pin: None,
                sip_credential: None,
                missed_call_notifications: true,
            })
        };
        Ok(Directory {
            users: vec![
                user("alice", "Alice Anders", "1001", "+14255550101")?,
                user("bob", "Bob Berg", "1002", "+14255550102")?,
            ],
            dial_plans: vec![DialPlan {
                name: "default".to_owned(),
                extension_length: 4,
                pilot_numbers: vec!["1999".to_owned()],
                country_code: Some("1".to_owned()),
            }],
            policies: vec![UmPolicy::new("default", "default")],
            gateways: vec![Gateway {
                name: "loopback".to_owned(),
                address: IpAddr::from([127, 0, 0, 1]),
                dial_plan: "default".to_owned(),
                outcalls_allowed: true,
                mwi: false,
                sip_port: default_sip_port(),
            }],
        })
    }
}

/// Whether `password` matches the argon2 PHC string `hash`; a malformed hash matches nothing.
/// It costs the same whatever the outcome, which is what lets a caller spend the same work on an
/// unknown user (against a decoy hash) as on a known one.
pub fn password_matches(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|hash| {
            Argon2::default()
                .verify_password(password.as_bytes(), &hash)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Hashes a password with argon2id and a fresh salt.
pub fn hash_password(password: &str) -> Result<String, Error> {
    if password.is_empty() {
        return Err(Error::Invalid(vec![FieldError::new(
            "password",
            "must not be empty",
        )]));
    }
    let mut salt = [0u8; 16];
    getrandom(&mut salt)?;
    let hash: PasswordHash = Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map_err(|e| Error::Hash(e.to_string()))?;
    Ok(hash.to_string())
}

/// Fills `buf` from the operating system's random source.
fn getrandom(buf: &mut [u8]) -> Result<(), Error> {
    use std::io::Read;
    let path = Path::new("/dev/urandom");
    File::open(path)
        .and_then(|mut f| f.read_exact(buf))
        .map_err(|source| Error::Io {
            path: path.to_owned(),
            source,
        })
}

fn check_name(name: &str, field: &str, errors: &mut Vec<FieldError>) {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    if !ok {
        errors.push(FieldError::new(
            field,
            format!("{name:?} must be 1 to 64 of A-Z a-z 0-9 - _ ."),
        ));
    }
}

/// Checks an SMTP address of the plain `local@domain` form we serve (RFC 5321 §4.5.3.1 lengths).
pub fn check_address(address: &str) -> Result<(), String> {
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Err(format!("{address:?} is not an e-mail address (no @)"));
    };
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && local
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-/=?^_`{|}~.".contains(&b))
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..");
    if !local_ok {
        return Err(format!("{address:?} has an invalid local part"));
    }
    crate::config::normalize_host(domain)
        .map(|_| ())
        .map_err(|_| format!("{address:?} has an invalid domain"))
}

/// `+` then digits, or digits alone, 1 to 32 long.
fn is_phone_number(n: &str) -> bool {
    let digits = n.strip_prefix('+').unwrap_or(n);
    !digits.is_empty() && digits.len() <= 32 && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The directory file of a data directory, with a lock for read-modify-write by the admin CLI.
#[derive(Debug, Clone)]
pub struct DirectoryFile {
    path: PathBuf,
    /// Changes are checked and validated but never saved (`umbox --dry-run`).
    dry_run: bool,
}

impl DirectoryFile {
    /// The directory file inside `data_dir`.
    pub fn in_data_dir(data_dir: &Path) -> DirectoryFile {
        DirectoryFile {
            path: data_dir.join(FILE_NAME),
            dry_run: false,
        }
    }

    /// The same file, with [`DirectoryFile::update`] checking and validating changes without
    /// saving them.
    pub fn dry_run(self) -> DirectoryFile {
        DirectoryFile {
            dry_run: true,
            ..self
        }
    }

    /// Whether changes are only checked.
    pub fn is_dry_run(&self) -> bool {
        self.dry_run
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file exists yet.
    pub fn exists(&self) -> bool {
        self.path.exists()
    }

    /// Reads and checks the directory; a missing file is an empty directory.
    pub fn load(&self) -> Result<Directory, Error> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Directory::default()),
            Err(source) => {
                return Err(Error::Io {
                    path: self.path.clone(),
                    source,
                })
            }
        };
        let directory = Directory::parse(&text, &self.path)?;
        directory.validate()?;
        Ok(directory)
    }

    /// The file's modification time, to notice changes made by the CLI.
    pub fn modified(&self) -> Option<std::time::SystemTime> {
        std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok()
    }

    /// Loads, lets `change` edit, validates and saves, all under an exclusive lock. Nothing is
    /// written when `change` or validation fails, when `change` left the directory as it was
    /// (so a running server that records a PIN outcome which changes nothing does not make every
    /// reader reload), or in a dry run.
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut Directory) -> Result<T, Error>,
    ) -> Result<T, Error> {
        let _lock = self.lock()?;
        let before = self.load()?;
        let mut directory = before.clone();
        let out = change(&mut directory)?;
        if directory == before && self.exists() {
            return Ok(out);
        }
        directory.validate()?;
        if !self.dry_run {
            self.save(&directory)?;
        }
        Ok(out)
    }

    fn lock(&self) -> Result<File, Error> {
        let lock_path = self.path.with_extension("lock");
        if let Some(parent) = lock_path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| Error::Io {
                path: parent.to_owned(),
                source,
            })?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|source| Error::Io {
                path: lock_path.clone(),
                source,
            })?;
        file.lock().map_err(|source| Error::Io {
            path: lock_path,
            source,
        })?;
        Ok(file)
    }

    fn save(&self, directory: &Directory) -> Result<(), Error> {
        let text = toml::to_string_pretty(directory).map_err(|e| Error::Syntax {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let body = format!("{HEADER}{text}");
        // The file holds password hashes: owner-readable only.
        crate::fsio::write_atomic(&self.path, body.as_bytes(), 0o600).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }
}

const HEADER: &str =
    "# umbox directory; edit with `umbox user|dialplan|policy|gateway` or `umbox import`.\n";

#[cfg(test)]
mod tests {
    use super::*;

    /// Directory files written before the argon2 0.6 upgrade keep working: this PHC string was
    /// made by argon2 0.5 (Argon2id, m=19456, t=2, p=1) for the password "old-secret".
    #[test]
    fn hashes_from_argon2_0_5_still_verify() {
        let mut user = Directory::demo().unwrap().users.remove(0);
        user.password_hash = "$argon2id$v=19$m=19456,t=2,p=1$dW1ib3gtZml4ZWQtc2FsdA$WE6u8cPiIpXcn0lLd0XwRE1Tm2sYG6od918dC0N8KcU".to_owned();
        assert!(user.verify_password("old-secret"));
        assert!(!user.verify_password("old-secret "));
        let fresh = hash_password("old-secret").unwrap();
        assert!(
            fresh.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{fresh}"
        );
    }

    #[test]
    fn demo_directory_is_valid_and_passwords_verify() {
        let d = Directory::demo().unwrap();
        d.validate().unwrap();
        let alice = d.user_by_address("ALICE@example.test").unwrap();
        assert!(alice.verify_password("demo-alice"));
        assert!(!alice.verify_password("demo-bob"));
        assert_eq!(
            d.user_by_extension("default", "1002").unwrap().display_name,
            "Bob Berg"
        );
    }

    #[test]
    fn bad_entries_name_their_fields() {
        let mut d = Directory::demo().unwrap();
        d.users[1].address = "ALICE@example.test".into();
        d.users[0].extensions[0].number = "12".into();
        d.gateways[0].dial_plan = "nowhere".into();
        let text = d.validate().unwrap_err().to_string();
        for field in [
            "users[1].address",
            "users[0].extensions[0].number",
            "gateways[0].dial_plan",
        ] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
    }

    #[test]
    fn pins_follow_the_policy() {
        let mut policy = UmPolicy::new("p", "default");
        for good in [
            "240517",
            "1357924680",
            "112233",
            "123457",
            "0000000000000001",
        ] {
            assert_eq!(check_pin(good, &policy), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("12345", "6 to 16 digits"),
            ("24051a", "digits only"),
            ("", "6 to 16"),
            ("12345678901234567", "6 to 16"),
            ("777777", "one digit repeated"),
            ("123456", "run"),
            ("890123", "run"),
            ("654321", "run"),
            ("210987", "run"),
        ] {
            let error = check_pin(bad, &policy).unwrap_err();
            assert!(error.contains(why), "{bad}: {error}");
        }
        policy.allow_common_pins = true;
        policy.min_pin_length = 4;
        assert_eq!(check_pin("1234", &policy), Ok(()));
        policy.allow_common_pins = false;
        for _ in 0..20 {
            let pin = random_pin(&policy).unwrap();
            assert_eq!(pin.len(), 4);
            assert_eq!(check_pin(&pin, &policy), Ok(()));
        }
        let pin = Pin::new("240517").unwrap();
        assert!(pin.verify("240517"));
        assert!(!pin.verify("240518"));
        assert!(!pin.hash.contains("240517"));
    }

    #[test]
    fn policy_pin_settings_are_checked_and_default() {
        let text = "[[dial_plans]]\nname = \"d\"\nextension_length = 4\n\n[[policies]]\nname = \"p\"\ndial_plan = \"d\"\n";
        let d = Directory::parse(text, Path::new("t")).unwrap();
        assert_eq!(d.policies[0], UmPolicy::new("p", "d"));
        assert_eq!(d.policies[0].min_pin_length, 6);
        assert_eq!(d.policies[0].pin_lockout_calls, 5);
        let mut d = Directory::demo().unwrap();
        d.policies[0].min_pin_length = 3;
        d.policies[0].pin_lockout_calls = 0;
        d.users[0].pin = Some(Pin {
            hash: "240517".into(),
            failed_calls: 0,
            locked: false,
        });
        let text = d.validate().unwrap_err().to_string();
        for field in [
            "policies[0].min_pin_length",
            "policies[0].pin_lockout_calls",
            "users[0].pin.hash",
        ] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
    }

    #[test]
    fn update_is_all_or_nothing() {
        let scratch = tempfile::tempdir().unwrap();
        let file = DirectoryFile::in_data_dir(scratch.path());
        let demo = Directory::demo().unwrap();
        let saved = demo.clone();
        file.update(move |d| {
            *d = saved;
            Ok(())
        })
        .unwrap();
        let before = std::fs::read(file.path()).unwrap();
        let err = file.update(|d| {
            d.users[0].display_name.clear();
            Ok(())
        });
        assert!(err.is_err());
        assert_eq!(std::fs::read(file.path()).unwrap(), before);
        assert_eq!(file.load().unwrap(), demo);
    }
}
