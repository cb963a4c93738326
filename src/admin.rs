//! The admin command line for the directory: `umbox user|dialplan|policy|gateway …` and `umbox import`.
//!
//! Every command is a read-modify-write of the directory file under its lock
//! ([`umbox_base::directory::DirectoryFile::update`]), so a bad value names its field and changes nothing,
//! and a running server picks the change up without a restart. A user's photo (`--photo`) is
//! checked before the directory changes and stored beside it in `<data>/photos/`. Commands return
//! the text to show; this module never prints. Only `user greeting` opens the mailbox store (redb
//! locks it, so it is refused with a clear error while a server runs: greetings are then changed
//! over EWS); every other command leaves the store to the server, which creates mailboxes.

use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};

use umbox_base::clock::{Clock, SystemClock};
use umbox_base::config::FieldError;
use umbox_base::directory::{
    check_pin, hash_password, random_pin, DialPlan, Directory, DirectoryFile, Error, Extension,
    Gateway, Pin, Right, SipCredential, UmPolicy, User,
};
use umbox_ews::photo::{PhotoError, PhotoStore};
use umbox_sip::wire::digest::Algorithm;
use umbox_store::{self as store, MailStore, MailboxId, RedbStore};
use umbox_um::greetings::{self, GreetingKind};

/// Directory administration commands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Manage users.
    #[command(subcommand)]
    User(Box<UserCommand>),
    /// Manage dial plans.
    #[command(subcommand, name = "dialplan")]
    DialPlan(DialPlanCommand),
    /// Manage UM mailbox policies.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Manage IP gateways allowed to send calls.
    #[command(subcommand)]
    Gateway(GatewayCommand),
    /// Merge users, dial plans, policies and gateways from a TOML file (same schema as the
    /// directory file; users may carry a clear-text `password`, which is hashed).
    Import {
        /// The file to import.
        file: PathBuf,
    },
}

/// `umbox user …`
#[derive(Debug, Clone, Subcommand)]
pub enum UserCommand {
    /// Add a user (and, once the server sees it, a mailbox).
    Add {
        /// Primary SMTP address.
        address: String,
        /// Fields of the user.
        #[command(flatten)]
        fields: UserFields,
    },
    /// Change fields of a user; options not given are kept.
    Set {
        /// Primary or proxy address of the user.
        address: String,
        /// Fields to change.
        #[command(flatten)]
        fields: UserFields,
    },
    /// List users.
    List,
    /// Show one user.
    Show {
        /// Primary or proxy address.
        address: String,
    },
    /// Remove a user from the directory (the mailbox data is kept in the store).
    Remove {
        /// Primary or proxy address.
        address: String,
    },
    /// Give a user a new random telephone-access PIN (printed) and unlock it.
    ResetPin {
        /// Primary or proxy address.
        address: String,
    },
    /// Set, get or clear a greeting kept in the user's mailbox (WAV: 8 kHz mono, 16-bit PCM,
    /// µ-law or A-law). Opens the mailbox store, so the server must be stopped.
    Greeting {
        /// Primary or proxy address.
        address: String,
        /// What to do.
        action: GreetingAction,
        /// Which greeting.
        #[arg(long, value_enum)]
        kind: GreetingKindArg,
        /// The WAV file to store (set) or to write the greeting to (get).
        #[arg(long)]
        file: Option<PathBuf>,
    },
    /// Set the user's working hours, which free/busy shows (the `WorkHours` object Outlook keeps
    /// in the Calendar folder). Opens the mailbox store, so the server must be stopped.
    WorkingHours {
        /// Primary or proxy address.
        address: String,
        /// Working days: a range (`Monday-Friday`) or names separated by commas.
        #[arg(long, default_value = "Monday-Friday")]
        days: String,
        /// Start of the working day, HH:MM.
        #[arg(long)]
        start: String,
        /// End of the working day, HH:MM.
        #[arg(long)]
        end: String,
        /// Windows time zone id of the hours (`umbox` knows those GetServerTimeZones lists).
        #[arg(long = "time-zone")]
        time_zone: String,
    },
}

/// A setting turned on or off (`--missed-call-notifications off`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Switch {
    /// On.
    On,
    /// Off.
    Off,
}

impl From<Switch> for bool {
    fn from(switch: Switch) -> bool {
        switch == Switch::On
    }
}

/// What `user greeting` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GreetingAction {
    /// Store --file as the greeting.
    Set,
    /// Write the greeting to --file.
    Get,
    /// Remove the greeting.
    Clear,
}

/// `--kind` of `user greeting`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GreetingKindArg {
    /// Played when the user does not answer.
    Unavailable,
    /// Played instead while the user's automatic replies (OOF) are on.
    Away,
    /// The user's recorded name.
    Name,
}

impl From<GreetingKindArg> for GreetingKind {
    fn from(kind: GreetingKindArg) -> GreetingKind {
        match kind {
            GreetingKindArg::Unavailable => GreetingKind::Unavailable,
            GreetingKindArg::Away => GreetingKind::Away,
            GreetingKindArg::Name => GreetingKind::Name,
        }
    }
}

/// Options shared by `user add` and `user set`.
#[derive(Debug, Clone, Default, Args)]
pub struct UserFields {
    /// Display name.
    #[arg(long = "name")]
    pub display_name: Option<String>,
    /// Password (hashed with argon2id before it is stored).
    #[arg(long)]
    pub password: Option<String>,
    /// Extension number in the dial plan given by --dial-plan.
    #[arg(long)]
    pub extension: Option<String>,
    /// Dial plan of --extension; defaults to the only dial plan when there is one.
    #[arg(long = "dial-plan")]
    pub dial_plan: Option<String>,
    /// SIP URI, e.g. sip:alice@example.test.
    #[arg(long = "sip-uri")]
    pub sip_uri: Option<String>,
    /// Lync line URI, e.g. tel:+14255550101;ext=1001.
    #[arg(long = "line-uri")]
    pub line_uri: Option<String>,
    /// Calling line ID (repeatable; replaces the list).
    #[arg(long = "calling-line-id")]
    pub calling_line_ids: Vec<String>,
    /// Other phone number (repeatable; replaces the list).
    #[arg(long = "phone")]
    pub phone_numbers: Vec<String>,
    /// Proxy SMTP address (repeatable; replaces the list).
    #[arg(long = "proxy-address")]
    pub proxy_addresses: Vec<String>,
    /// UM mailbox policy.
    #[arg(long)]
    pub policy: Option<String>,
    /// Grant (true) or revoke (false) the impersonation right.
    #[arg(long)]
    pub impersonation: Option<bool>,
    /// Photo shown by clients (JPEG or PNG, at most 1 MiB).
    #[arg(long)]
    pub photo: Option<PathBuf>,
    /// Telephone-access PIN (digits; checked against the user's UM mailbox policy, stored
    /// hashed, unlocks the PIN).
    #[arg(long)]
    pub pin: Option<String>,
    /// Missed-call notifications for this mailbox (Exchange's MissedCallNotificationEnabled;
    /// the user's policy must allow them too).
    #[arg(long = "missed-call-notifications")]
    pub missed_call_notifications: Option<Switch>,
    /// SIP digest password of the user's phone, for message-waiting subscriptions; only its
    /// HA1 hashes (MD5 and SHA-256) are stored.
    #[arg(long = "sip-password")]
    pub sip_password: Option<String>,
    /// Digest username of --sip-password (default: the local part of the address).
    #[arg(long = "sip-username")]
    pub sip_username: Option<String>,
    /// Digest realm of --sip-password (default: the address's domain).
    #[arg(long = "sip-realm")]
    pub sip_realm: Option<String>,
}

/// `umbox dialplan …`
#[derive(Debug, Clone, Subcommand)]
pub enum DialPlanCommand {
    /// Add a dial plan.
    Add {
        /// Name.
        name: String,
        /// Digits in an extension.
        #[arg(long = "extension-length")]
        extension_length: u8,
        /// Voicemail pilot number (repeatable).
        #[arg(long = "pilot")]
        pilot_numbers: Vec<String>,
        /// Country code, e.g. 1.
        #[arg(long = "country-code")]
        country_code: Option<String>,
    },
    /// Change a dial plan: only the options given.
    Set {
        /// Name.
        name: String,
        /// Digits in an extension.
        #[arg(long = "extension-length")]
        extension_length: Option<u8>,
        /// Voicemail pilot number (repeatable; replaces the list).
        #[arg(long = "pilot")]
        pilot_numbers: Vec<String>,
        /// Country code, e.g. 1.
        #[arg(long = "country-code")]
        country_code: Option<String>,
    },
    /// List dial plans.
    List,
    /// Show one dial plan.
    Show {
        /// Name.
        name: String,
    },
    /// Remove a dial plan (refused while users, policies or gateways use it).
    Remove {
        /// Name.
        name: String,
    },
}

/// `umbox policy …`
#[derive(Debug, Clone, Subcommand)]
pub enum PolicyCommand {
    /// Add a UM mailbox policy.
    Add {
        /// Name.
        name: String,
        /// Dial plan it belongs to.
        #[arg(long = "dial-plan")]
        dial_plan: String,
        /// Longest message, in seconds.
        #[arg(long = "max-message-seconds", default_value_t = 300)]
        max_message_seconds: u32,
        /// Shortest recording kept, in seconds.
        #[arg(long = "min-message-seconds", default_value_t = 1)]
        min_message_seconds: u32,
        /// Turn missed-call notifications off.
        #[arg(long = "no-missed-call-notifications")]
        no_missed_call_notifications: bool,
        /// Fewest digits of a telephone-access PIN.
        #[arg(long = "min-pin-length", default_value_t = umbox_base::directory::DEFAULT_MIN_PIN_LENGTH)]
        min_pin_length: u8,
        /// Consecutive calls with a wrong PIN that lock it.
        #[arg(long = "pin-lockout-calls", default_value_t = umbox_base::directory::DEFAULT_PIN_LOCKOUT_CALLS)]
        pin_lockout_calls: u32,
    },
    /// Change a policy: only the options given.
    Set {
        /// Name.
        name: String,
        /// Longest message, in seconds.
        #[arg(long = "max-message-seconds")]
        max_message_seconds: Option<u32>,
        /// Shortest recording kept, in seconds.
        #[arg(long = "min-message-seconds")]
        min_message_seconds: Option<u32>,
        /// Missed-call notifications (Exchange's AllowMissedCallNotifications).
        #[arg(long = "missed-call-notifications")]
        missed_call_notifications: Option<Switch>,
        /// Fewest digits of a telephone-access PIN.
        #[arg(long = "min-pin-length")]
        min_pin_length: Option<u8>,
        /// Consecutive calls with a wrong PIN that lock it.
        #[arg(long = "pin-lockout-calls")]
        pin_lockout_calls: Option<u32>,
        /// Repeated digits and runs (`111111`, `123456`) as PINs (Exchange's AllowCommonPatterns).
        #[arg(long = "common-pins")]
        common_pins: Option<Switch>,
    },
    /// List policies.
    List,
    /// Show one policy.
    Show {
        /// Name.
        name: String,
    },
    /// Remove a policy (refused while users use it).
    Remove {
        /// Name.
        name: String,
    },
}

/// `umbox gateway …`
#[derive(Debug, Clone, Subcommand)]
pub enum GatewayCommand {
    /// Allow an IP gateway or PBX to send calls.
    Add {
        /// Name.
        name: String,
        /// Source IP address.
        #[arg(long)]
        address: IpAddr,
        /// Dial plan it serves.
        #[arg(long = "dial-plan")]
        dial_plan: String,
        /// Forbid outbound calls (Play on Phone) through it.
        #[arg(long = "no-outcalls")]
        no_outcalls: bool,
    },
    /// Change a gateway; options not given are kept.
    Set {
        /// Name or source IP address of the gateway.
        gateway: String,
        /// Send it unsolicited message-waiting NOTIFYs for every mailbox of its dial plan.
        #[arg(long)]
        mwi: Option<bool>,
        /// The port its unsolicited NOTIFYs go to (UDP).
        #[arg(long = "sip-port")]
        sip_port: Option<u16>,
    },
    /// List gateways.
    List,
    /// Remove a gateway.
    Remove {
        /// Name.
        name: String,
    },
}

/// Why an admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The directory refused the change or could not be read.
    #[error(transparent)]
    Directory(#[from] Error),
    /// The mailbox store is held by a running server.
    #[error("the mailbox store {} is in use by a running server: stop the server first, or change greetings over EWS (UpdateUserConfiguration) while it runs", .0.display())]
    StoreInUse(PathBuf),
    /// The mailbox store failed.
    #[error("mailbox store: {0}")]
    Store(store::Error),
}

impl From<store::Error> for AdminError {
    fn from(error: store::Error) -> AdminError {
        match error {
            store::Error::InUse(path) => AdminError::StoreInUse(path),
            other => AdminError::Store(other),
        }
    }
}

/// Runs `command` against the directory of `data_dir` and returns what to show the operator.
/// A dry run checks everything a change would (arguments, then the directory's validation)
/// and saves nothing: no directory change, greeting or photo.
pub fn run(data_dir: &Path, command: Command, dry_run: bool) -> Result<String, AdminError> {
    let mut file = DirectoryFile::in_data_dir(data_dir);
    if dry_run {
        file = file.dry_run();
    }
    let out = match command {
        Command::User(c) => user(data_dir, &file, *c)?,
        Command::DialPlan(c) => dial_plan(&file, c)?,
        Command::Policy(c) => policy(&file, c)?,
        Command::Gateway(c) => gateway(&file, c)?,
        Command::Import { file: source } => import(&file, &source)?,
    };
    Ok(if dry_run {
        format!("{}\n(dry run: nothing was saved)", out.trim_end())
    } else {
        out
    })
}

/// What `user greeting` will do, once its arguments are checked.
enum GreetingPlan {
    /// Store this (checked) WAV file.
    Set(Vec<u8>),
    /// Write the greeting to this file.
    Get(PathBuf),
    /// Remove the greeting.
    Clear,
}

/// `user greeting`: the user comes from the directory; the store is opened only after every
/// argument is checked (so a bad one changes nothing and needs no stopped server), and the user's
/// mailbox is created if the server never did.
fn greeting(
    data_dir: &Path,
    directory: &DirectoryFile,
    address: &str,
    action: GreetingAction,
    kind: GreetingKind,
    wav: Option<PathBuf>,
) -> Result<String, AdminError> {
    let user = directory
        .load()?
        .user_by_address(address)
        .cloned()
        .ok_or_else(|| not_found("user", address))?;
    let plan = match (action, wav) {
        (GreetingAction::Set, Some(path)) => {
            let bytes = std::fs::read(&path).map_err(|source| Error::Io { path, source })?;
            greetings::check(&bytes).map_err(|e| invalid("--file", e.to_string()))?;
            GreetingPlan::Set(bytes)
        }
        (GreetingAction::Get, Some(path)) => GreetingPlan::Get(path),
        (GreetingAction::Set | GreetingAction::Get, None) => {
            return Err(invalid("--file", "is required to set or get a greeting").into())
        }
        (GreetingAction::Clear, Some(_)) => {
            return Err(invalid("--file", "is not used to clear a greeting").into())
        }
        (GreetingAction::Clear, None) => GreetingPlan::Clear,
    };
    if directory.is_dry_run() {
        return Ok(format!(
            "the greeting command for {} is valid",
            user.address
        ));
    }
    let store = RedbStore::open(data_dir, store::Options::default())?;
    let mailbox = MailboxId::new(&user.address);
    let now = SystemClock.now();
    store.ensure_mailbox(&mailbox, now)?;
    let failed = |error: greetings::Error| match error {
        greetings::Error::Store(error) => AdminError::from(error),
        refused => invalid("--file", refused.to_string()).into(),
    };
    let (kind_name, address) = (kind.as_str(), &user.address);
    Ok(match plan {
        GreetingPlan::Set(bytes) => {
            let size = bytes.len();
            greetings::write(&store, &mailbox, kind, bytes, now).map_err(failed)?;
            format!("stored the {kind_name} greeting of {address} ({size} bytes)")
        }
        GreetingPlan::Get(path) => {
            let bytes = greetings::read(&store, &mailbox, kind)
                .map_err(failed)?
                .ok_or_else(|| not_found("greeting", kind_name))?;
            std::fs::write(&path, &bytes).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let size = bytes.len();
            format!(
                "wrote the {kind_name} greeting of {address} to {} ({size} bytes)",
                path.display()
            )
        }
        GreetingPlan::Clear => {
            if greetings::clear(&store, &mailbox, kind, now).map_err(failed)? {
                format!("cleared the {kind_name} greeting of {address}")
            } else {
                format!("{address} has no {kind_name} greeting")
            }
        }
    })
}

fn not_found(kind: &'static str, name: &str) -> Error {
    Error::NotFound {
        kind,
        name: name.to_owned(),
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> Error {
    Error::Invalid(vec![FieldError::new(field, reason)])
}

/// Reads and checks a `--photo` file, so a bad one changes nothing.
fn read_photo(path: &Path) -> Result<Vec<u8>, Error> {
    let bytes = std::fs::read(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    PhotoStore::check(&bytes).map_err(|e| invalid("--photo", e.to_string()))?;
    Ok(bytes)
}

/// Stores a checked photo for the user whose primary address is `address`.
fn store_photo(
    file: &DirectoryFile,
    photos: &PhotoStore,
    address: &str,
    photo: Option<Vec<u8>>,
) -> Result<(), Error> {
    let Some(bytes) = photo else { return Ok(()) };
    if file.is_dry_run() {
        return Ok(());
    }
    photos.set(address, &bytes).map_err(|e| match e {
        PhotoError::Io { path, source } => Error::Io { path, source },
        other => invalid("--photo", other.to_string()),
    })
}

fn user(data_dir: &Path, file: &DirectoryFile, command: UserCommand) -> Result<String, AdminError> {
    let photos = &PhotoStore::in_data_dir(data_dir);
    match command {
        UserCommand::Greeting {
            address,
            action,
            kind,
            file: wav,
        } => greeting(data_dir, file, &address, action, kind.into(), wav),
        UserCommand::WorkingHours {
            address,
            days,
            start,
            end,
            time_zone,
        } => {
            let user = file
                .load()?
                .user_by_address(&address)
                .cloned()
                .ok_or_else(|| not_found("user", &address))?;
            let now = SystemClock.now();
            let document = umbox_ews::work_hours_document(&days, &start, &end, &time_zone, now)
                .map_err(|e| invalid(e.option, e.reason))?;
            let done = format!(
                "working hours of {}: {days}, {start}-{end} ({time_zone})",
                user.address
            );
            if file.is_dry_run() {
                return Ok(done);
            }
            let store = RedbStore::open(data_dir, store::Options::default())?;
            let mailbox = MailboxId::new(&user.address);
            store.ensure_mailbox(&mailbox, now)?;
            umbox_ews::save_work_hours(&store, &mailbox, document, now)?;
            Ok(done)
        }
        UserCommand::Add { address, fields } => {
            let photo = fields.photo.as_deref().map(read_photo).transpose()?;
            let message = file.update(|d| {
                if d.user_by_address(&address).is_some() {
                    return Err(invalid("address", format!("{address:?} already exists")));
                }
                let Some(display_name) = fields.display_name.clone() else {
                    return Err(invalid("--name", "is required for a new user"));
                };
                if fields.password.is_none() {
                    return Err(invalid("--password", "is required for a new user"));
                }
                let mut user = User {
                    address: address.clone(),
                    proxy_addresses: Vec::new(),
                    display_name,
                    sip_uri: None,
                    extensions: Vec::new(),
                    line_uri: None,
                    calling_line_ids: Vec::new(),
                    phone_numbers: Vec::new(),
                    password_hash: String::new(),
                    password: None,
                    um_policy: None,
                    rights: Vec::new(),
                    pin: None,
                    sip_credential: None,
                    missed_call_notifications: true,
                };
                apply_user_fields(d, &mut user, fields)?;
                d.users.push(user);
                Ok(format!("added user {address}"))
            })?;
            store_photo(file, photos, &address, photo)?;
            Ok(message)
        }
        UserCommand::Set { address, fields } => {
            let photo = fields.photo.as_deref().map(read_photo).transpose()?;
            let (message, primary) = file.update(|d| {
                let index = d
                    .users
                    .iter()
                    .position(|u| u.has_address(&address))
                    .ok_or_else(|| not_found("user", &address))?;
                let mut user = d
                    .users
                    .get(index)
                    .cloned()
                    .ok_or_else(|| not_found("user", &address))?;
                apply_user_fields(d, &mut user, fields)?;
                let primary = user.address.clone();
                if let Some(slot) = d.users.get_mut(index) {
                    *slot = user;
                }
                Ok((format!("updated user {address}"), primary))
            })?;
            store_photo(file, photos, &primary, photo)?;
            Ok(message)
        }
        UserCommand::List => {
            let d = file.load()?;
            let mut out = String::new();
            for u in &d.users {
                let extensions: Vec<String> = u
                    .extensions
                    .iter()
                    .map(|e| format!("{}:{}", e.dial_plan, e.number))
                    .collect();
                let _ = writeln!(
                    out,
                    "{}\t{}\t{}",
                    u.address,
                    u.display_name,
                    extensions.join(",")
                );
            }
            Ok(out)
        }
        UserCommand::Show { address } => {
            let d = file.load()?;
            let mut user = d
                .user_by_address(&address)
                .cloned()
                .ok_or_else(|| not_found("user", &address))?;
            user.password_hash = "(set)".to_owned();
            if let Some(pin) = &mut user.pin {
                pin.hash = "(set)".to_owned();
            }
            if let Some(credential) = &mut user.sip_credential {
                credential.ha1_md5 = "(set)".to_owned();
                credential.ha1_sha256 = "(set)".to_owned();
            }
            Ok(to_toml(&user)?)
        }
        UserCommand::ResetPin { address } => Ok(file.update(|d| {
            let user = d
                .users
                .iter()
                .find(|u| u.has_address(&address))
                .ok_or_else(|| not_found("user", &address))?;
            let policy = pin_policy(d, user);
            let digits = random_pin(&policy)?;
            let pin = Pin::new(&digits)?;
            if let Some(user) = d.users.iter_mut().find(|u| u.has_address(&address)) {
                user.pin = Some(pin);
            }
            Ok(format!("new PIN for {address}: {digits}"))
        })?),
        UserCommand::Remove { address } => Ok(file.update(|d| {
            let before = d.users.len();
            d.users.retain(|u| !u.has_address(&address));
            if d.users.len() == before {
                return Err(not_found("user", &address));
            }
            Ok(format!("removed user {address}"))
        })?),
    }
}

fn apply_user_fields(d: &Directory, user: &mut User, fields: UserFields) -> Result<(), Error> {
    if let Some(name) = fields.display_name {
        user.display_name = name;
    }
    if let Some(password) = fields.password {
        user.password_hash =
            hash_password(&password).map_err(|_| invalid("--password", "must not be empty"))?;
    }
    if let Some(number) = fields.extension {
        let plan = match fields.dial_plan {
            Some(plan) => plan,
            None => match d.dial_plans.as_slice() {
                [only] => only.name.clone(),
                _ => {
                    return Err(invalid(
                        "--dial-plan",
                        "required when there is not exactly one dial plan",
                    ))
                }
            },
        };
        user.extensions.retain(|e| e.dial_plan != plan);
        user.extensions.push(Extension {
            dial_plan: plan,
            number,
        });
    } else if fields.dial_plan.is_some() {
        return Err(invalid("--dial-plan", "only goes with --extension"));
    }
    if fields.sip_uri.is_some() {
        user.sip_uri = fields.sip_uri;
    }
    if let Some(switch) = fields.missed_call_notifications {
        user.missed_call_notifications = switch.into();
    }
    if fields.line_uri.is_some() {
        user.line_uri = fields.line_uri;
    }
    if !fields.calling_line_ids.is_empty() {
        user.calling_line_ids = fields.calling_line_ids;
    }
    if !fields.phone_numbers.is_empty() {
        user.phone_numbers = fields.phone_numbers;
    }
    if !fields.proxy_addresses.is_empty() {
        user.proxy_addresses = fields.proxy_addresses;
    }
    if fields.policy.is_some() {
        user.um_policy = fields.policy;
    }
    match fields.impersonation {
        Some(true) if !user.has_right(Right::Impersonation) => {
            user.rights.push(Right::Impersonation)
        }
        Some(false) => user.rights.retain(|r| *r != Right::Impersonation),
        _ => {}
    }
    if let Some(digits) = fields.pin {
        // Checked after --policy, so a PIN given with a new policy meets that policy.
        check_pin(&digits, &pin_policy(d, user)).map_err(|reason| invalid("--pin", reason))?;
        user.pin = Some(Pin::new(&digits)?);
    }
    set_sip_credential(
        user,
        fields.sip_password,
        fields.sip_username,
        fields.sip_realm,
    )
}

/// `--sip-password` (with `--sip-username`, `--sip-realm`): stores the digest HA1s, never the
/// password. Username or realm alone re-keys nothing (the hashes depend on them), so they need
/// the password.
fn set_sip_credential(
    user: &mut User,
    password: Option<String>,
    username: Option<String>,
    realm: Option<String>,
) -> Result<(), Error> {
    let Some(password) = password else {
        if username.is_some() {
            return Err(invalid("--sip-username", "only goes with --sip-password"));
        }
        if realm.is_some() {
            return Err(invalid("--sip-realm", "only goes with --sip-password"));
        }
        return Ok(());
    };
    if password.is_empty() {
        return Err(invalid("--sip-password", "must not be empty"));
    }
    let local = user.address.split('@').next().unwrap_or_default();
    let username = username.unwrap_or_else(|| local.to_owned());
    let realm = realm.unwrap_or_else(|| user.domain().to_owned());
    user.sip_credential = Some(Box::new(SipCredential {
        ha1_md5: Algorithm::Md5.ha1(&username, &realm, &password),
        ha1_sha256: Algorithm::Sha256.ha1(&username, &realm, &password),
        username,
        realm,
    }));
    Ok(())
}

/// The policy a user's PIN must meet: the user's UM mailbox policy, or the defaults.
fn pin_policy(d: &Directory, user: &User) -> UmPolicy {
    d.policy_of(user)
        .cloned()
        .unwrap_or_else(|| UmPolicy::new("default", ""))
}

fn dial_plan(file: &DirectoryFile, command: DialPlanCommand) -> Result<String, Error> {
    match command {
        DialPlanCommand::Add {
            name,
            extension_length,
            pilot_numbers,
            country_code,
        } => file.update(|d| {
            if d.dial_plan(&name).is_some() {
                return Err(invalid(
                    "name",
                    format!("dial plan {name:?} already exists"),
                ));
            }
            d.dial_plans.push(DialPlan {
                name: name.clone(),
                extension_length,
                pilot_numbers,
                country_code,
            });
            Ok(format!("added dial plan {name}"))
        }),
        DialPlanCommand::Set {
            name,
            extension_length,
            pilot_numbers,
            country_code,
        } => file.update(|d| {
            let plan = d
                .dial_plans
                .iter_mut()
                .find(|p| p.name == name)
                .ok_or_else(|| not_found("dial plan", &name))?;
            if let Some(length) = extension_length {
                plan.extension_length = length;
            }
            if !pilot_numbers.is_empty() {
                plan.pilot_numbers = pilot_numbers;
            }
            if country_code.is_some() {
                plan.country_code = country_code;
            }
            Ok(format!("updated dial plan {name}"))
        }),
        DialPlanCommand::List => {
            let d = file.load()?;
            let mut out = String::new();
            for p in &d.dial_plans {
                let _ = writeln!(
                    out,
                    "{}\t{} digits\tpilot {}",
                    p.name,
                    p.extension_length,
                    p.pilot_numbers.join(",")
                );
            }
            Ok(out)
        }
        DialPlanCommand::Show { name } => {
            let d = file.load()?;
            to_toml(
                d.dial_plan(&name)
                    .ok_or_else(|| not_found("dial plan", &name))?,
            )
        }
        DialPlanCommand::Remove { name } => file.update(|d| {
            let before = d.dial_plans.len();
            d.dial_plans.retain(|p| p.name != name);
            if d.dial_plans.len() == before {
                return Err(not_found("dial plan", &name));
            }
            Ok(format!("removed dial plan {name}"))
        }),
    }
}

fn policy(file: &DirectoryFile, command: PolicyCommand) -> Result<String, Error> {
    match command {
        PolicyCommand::Add {
            name,
            dial_plan,
            max_message_seconds,
            min_message_seconds,
            no_missed_call_notifications,
            min_pin_length,
            pin_lockout_calls,
        } => file.update(|d| {
            if d.policies.iter().any(|p| p.name == name) {
                return Err(invalid("name", format!("policy {name:?} already exists")));
            }
            d.policies.push(UmPolicy {
                allow_missed_call_notifications: !no_missed_call_notifications,
                max_message_seconds,
                min_message_seconds,
                min_pin_length,
                pin_lockout_calls,
                ..UmPolicy::new(&name, &dial_plan)
            });
            Ok(format!("added policy {name}"))
        }),
        PolicyCommand::List => {
            let d = file.load()?;
            let mut out = String::new();
            for p in &d.policies {
                let _ = writeln!(
                    out,
                    "{}\tdial plan {}\tmax {} s",
                    p.name, p.dial_plan, p.max_message_seconds
                );
            }
            Ok(out)
        }
        PolicyCommand::Set {
            name,
            max_message_seconds,
            min_message_seconds,
            missed_call_notifications,
            min_pin_length,
            pin_lockout_calls,
            common_pins,
        } => file.update(|d| {
            let policy = d
                .policies
                .iter_mut()
                .find(|p| p.name == name)
                .ok_or_else(|| not_found("policy", &name))?;
            if let Some(seconds) = max_message_seconds {
                policy.max_message_seconds = seconds;
            }
            if let Some(seconds) = min_message_seconds {
                policy.min_message_seconds = seconds;
            }
            if let Some(switch) = missed_call_notifications {
                policy.allow_missed_call_notifications = switch.into();
            }
            if let Some(length) = min_pin_length {
                policy.min_pin_length = length;
            }
            if let Some(calls) = pin_lockout_calls {
                policy.pin_lockout_calls = calls;
            }
            if let Some(switch) = common_pins {
                policy.allow_common_pins = switch.into();
            }
            Ok(format!("updated policy {name}"))
        }),
        PolicyCommand::Show { name } => {
            let d = file.load()?;
            to_toml(
                d.policies
                    .iter()
                    .find(|p| p.name == name)
                    .ok_or_else(|| not_found("policy", &name))?,
            )
        }
        PolicyCommand::Remove { name } => file.update(|d| {
            let before = d.policies.len();
            d.policies.retain(|p| p.name != name);
            if d.policies.len() == before {
                return Err(not_found("policy", &name));
            }
            Ok(format!("removed policy {name}"))
        }),
    }
}

fn gateway(file: &DirectoryFile, command: GatewayCommand) -> Result<String, Error> {
    match command {
        GatewayCommand::Add {
            name,
            address,
            dial_plan,
            no_outcalls,
        } => file.update(|d| {
            if d.gateways.iter().any(|g| g.name == name) {
                return Err(invalid("name", format!("gateway {name:?} already exists")));
            }
            d.gateways.push(Gateway {
                name: name.clone(),
                address,
                dial_plan,
                outcalls_allowed: !no_outcalls,
                mwi: false,
                sip_port: 5060,
            });
            Ok(format!("added gateway {name}"))
        }),
        GatewayCommand::Set {
            gateway,
            mwi,
            sip_port,
        } => file.update(|d| {
            let address: Option<IpAddr> = gateway.parse().ok();
            let entry = d
                .gateways
                .iter_mut()
                .find(|g| g.name == gateway || Some(g.address) == address)
                .ok_or_else(|| not_found("gateway", &gateway))?;
            if sip_port == Some(0) {
                return Err(invalid("--sip-port", "must be 1 to 65535"));
            }
            if let Some(mwi) = mwi {
                entry.mwi = mwi;
            }
            if let Some(port) = sip_port {
                entry.sip_port = port;
            }
            Ok(format!("updated gateway {}", entry.name))
        }),
        GatewayCommand::List => {
            let d = file.load()?;
            let mut out = String::new();
            for g in &d.gateways {
                let mwi = if g.mwi {
                    format!("\tmwi to port {}", g.sip_port)
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "{}\t{}\tdial plan {}{mwi}",
                    g.name, g.address, g.dial_plan
                );
            }
            Ok(out)
        }
        GatewayCommand::Remove { name } => file.update(|d| {
            let before = d.gateways.len();
            d.gateways.retain(|g| g.name != name);
            if d.gateways.len() == before {
                return Err(not_found("gateway", &name));
            }
            Ok(format!("removed gateway {name}"))
        }),
    }
}

/// Merges `source` into the directory: entries with the same address or name are replaced,
/// others added; the result is checked as a whole.
fn import(file: &DirectoryFile, source: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(source).map_err(|e| Error::Io {
        path: source.to_owned(),
        source: e,
    })?;
    let mut incoming = Directory::parse(&text, source)?;
    for (i, user) in incoming.users.iter().enumerate() {
        if user.password.is_none() && user.password_hash.is_empty() {
            return Err(invalid(
                &format!("users[{i}].password"),
                "a password or password_hash is required",
            ));
        }
    }
    incoming.hash_passwords()?;
    let counts = (
        incoming.users.len(),
        incoming.dial_plans.len(),
        incoming.policies.len(),
        incoming.gateways.len(),
    );
    file.update(move |d| {
        merge_by(&mut d.dial_plans, incoming.dial_plans, |a, b| {
            a.name == b.name
        });
        merge_by(&mut d.policies, incoming.policies, |a, b| a.name == b.name);
        merge_by(&mut d.gateways, incoming.gateways, |a, b| a.name == b.name);
        merge_by(&mut d.users, incoming.users, |a, b| {
            a.address.eq_ignore_ascii_case(&b.address)
        });
        Ok(())
    })?;
    Ok(format!(
        "imported {} users, {} dial plans, {} policies, {} gateways",
        counts.0, counts.1, counts.2, counts.3
    ))
}

fn merge_by<T>(existing: &mut Vec<T>, incoming: Vec<T>, same: impl Fn(&T, &T) -> bool) {
    for item in incoming {
        match existing.iter_mut().find(|e| same(e, &item)) {
            Some(slot) => *slot = item,
            None => existing.push(item),
        }
    }
}

fn to_toml<T: serde::Serialize>(value: &T) -> Result<String, Error> {
    toml::to_string_pretty(value).map_err(|e| Error::Syntax {
        path: PathBuf::from("-"),
        message: e.to_string(),
    })
}
