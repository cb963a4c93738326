//! Server configuration: the TOML file a deployment writes ([`Raw`]), checked once into [`Config`].
//!
//! Nothing after start-up sees `Raw`. [`Raw::validate`] collects every problem, each named by its
//! dotted field path, so an operator fixes a bad file in one pass. Listener ports may be 0 (the
//! tests bind ephemeral ports); what clients are told lives in [`Site`], built after binding.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// One problem in a configuration or directory file, named by its dotted field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// Dotted path of the offending field, e.g. `listen.https_port`.
    pub field: String,
    /// Why the value was refused.
    pub reason: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Errors from reading a configuration file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// The file is not valid TOML for this schema (unknown key, wrong type).
    #[error("{path}: {message}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said, including the key.
        message: String,
    },
    /// Values that parse but are not acceptable.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
}

/// The configuration file as written, with every field optional.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Raw {
    /// Directory holding the mailbox store, the directory file and the generated certificate.
    #[serde(default)]
    pub data_dir: Option<PathBuf>,
    /// E-mail domains this server is authoritative for (DNS zones and Autodiscover).
    #[serde(default)]
    pub domains: Vec<String>,
    /// What clients are told: host name, HTTPS port and addresses.
    #[serde(default)]
    pub public: RawPublic,
    /// Where the listeners bind.
    #[serde(default)]
    pub listen: RawListen,
    /// Certificate and key in PEM; a self-signed pair is generated when absent.
    #[serde(default)]
    pub tls: RawTls,
    /// Logging.
    #[serde(default)]
    pub log: RawLog,
    /// Request limits.
    #[serde(default)]
    pub limits: RawLimits,
    /// EWS notification subscriptions.
    #[serde(default)]
    pub notifications: RawNotifications,
    /// The voicemail media server.
    #[serde(default)]
    pub um: RawUm,
    /// The authoritative DNS server.
    #[serde(default)]
    pub dns: RawDns,
}

/// `[public]`: what URLs, SRV and A records advertise.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPublic {
    /// Host name in EWS/UM URLs and SRV targets; default `mail.<first domain>`.
    #[serde(default)]
    pub host: Option<String>,
    /// HTTPS port in URLs and SRV records; default the bound HTTPS port (443 behind a balancer).
    #[serde(default)]
    pub https_port: Option<u16>,
    /// Addresses published as A/AAAA records; default the listen address.
    #[serde(default)]
    pub addresses: Vec<String>,
}

/// `[listen]`: bind address and ports (0 picks a free port).
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawListen {
    /// Address every listener binds; default 127.0.0.1.
    #[serde(default)]
    pub address: Option<String>,
    /// HTTPS (Autodiscover, EWS); default 8443.
    #[serde(default)]
    pub https_port: Option<u16>,
    /// Plain HTTP, only for the Autodiscover redirect step; default 8080.
    #[serde(default)]
    pub http_port: Option<u16>,
    /// Authoritative DNS over UDP and TCP; default 5300.
    #[serde(default)]
    pub dns_port: Option<u16>,
    /// SIP call router (UDP and TCP); default 5060.
    #[serde(default)]
    pub sip_router_port: Option<u16>,
    /// SIP media server (UDP and TCP); default 5062.
    #[serde(default)]
    pub sip_media_port: Option<u16>,
    /// First RTP port; default 40000. With `rtp_port_max` also 0, the system picks a free
    /// port for every RTP and RTCP socket (for tests, which may only bind port 0).
    #[serde(default)]
    pub rtp_port_min: Option<u16>,
    /// Last RTP port; default 40999.
    #[serde(default)]
    pub rtp_port_max: Option<u16>,
    /// The operators' listener (`/healthz`, `/metrics`; no authentication); default 9464.
    #[serde(default)]
    pub admin_port: Option<u16>,
    /// Its address, apart from `address` so that it stays off the network clients reach;
    /// default 127.0.0.1.
    #[serde(default)]
    pub admin_address: Option<String>,
}

/// `[tls]`: PEM files; both or neither.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTls {
    /// Certificate chain, leaf first.
    #[serde(default)]
    pub certificate: Option<PathBuf>,
    /// Private key (PKCS#8, PKCS#1 or SEC1).
    #[serde(default)]
    pub private_key: Option<PathBuf>,
}

/// `[log]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLog {
    /// A tracing filter such as `info` or `umbox=debug`; default `info`.
    #[serde(default)]
    pub level: Option<String>,
}

/// `[limits]`.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLimits {
    /// Largest HTTP request body accepted, in bytes; default 1 MiB.
    #[serde(default)]
    pub max_body_bytes: Option<usize>,
}

/// `[notifications]`: EWS pull, push and streaming subscriptions.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawNotifications {
    /// Let push subscriptions target loopback, link-local and private addresses (tests, labs);
    /// default false, as a push URL is a request the server makes on a client's behalf.
    #[serde(default)]
    pub allow_private_push_targets: Option<bool>,
    /// Accept any certificate from an HTTPS push target (tests with self-signed listeners only);
    /// default false: certificates are verified against the system's trust store.
    #[serde(default)]
    pub push_accept_invalid_certificates: Option<bool>,
    /// Seconds between `ConnectionStatus OK` heartbeats on a quiet streaming connection; default 45.
    #[serde(default)]
    pub heartbeat_seconds: Option<u64>,
    /// Days the change log, and so the oldest usable watermark, is kept; default 7.
    #[serde(default)]
    pub retention_days: Option<u64>,
    /// Subscriptions one user may hold; default 5000 (ErrorExceededSubscriptionCount beyond).
    #[serde(default)]
    pub max_subscriptions_per_user: Option<usize>,
    /// Push subscriptions among them; default 20. Every change in a mailbox is one outgoing
    /// request per push subscription, so this bounds what one user can make the server send.
    #[serde(default)]
    pub max_push_subscriptions_per_user: Option<usize>,
    /// Streaming connections one user may hold open; default 10 (ErrorExceededConnectionCount).
    #[serde(default)]
    pub max_connections_per_user: Option<usize>,
    /// Subscriptions one streaming connection may carry; default 200.
    #[serde(default)]
    pub max_subscriptions_per_connection: Option<usize>,
    /// Log entries a push or streaming subscription may be behind when it comes back (a new
    /// streaming connection, a restart) before it is ended with ErrorMissedNotificationEvents;
    /// default 10000.
    #[serde(default)]
    pub max_backlog_events: Option<u64>,
}

/// Checked `[notifications]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notifications {
    /// Push URLs may name loopback, link-local or private addresses.
    pub allow_private_push_targets: bool,
    /// HTTPS push targets' certificates are not verified.
    pub push_accept_invalid_certificates: bool,
    /// Heartbeat interval of streaming connections.
    pub heartbeat: Duration,
    /// How long logged events are kept.
    pub retention: Duration,
    /// Subscriptions per user.
    pub max_subscriptions_per_user: usize,
    /// Push subscriptions per user.
    pub max_push_subscriptions_per_user: usize,
    /// Open streaming connections per user.
    pub max_connections_per_user: usize,
    /// Subscriptions per streaming connection.
    pub max_subscriptions_per_connection: usize,
    /// How far behind the log a push or streaming subscription may come back.
    pub max_backlog_events: u64,
}

impl Default for Notifications {
    fn default() -> Notifications {
        Notifications {
            allow_private_push_targets: false,
            push_accept_invalid_certificates: false,
            heartbeat: Duration::from_secs(45),
            retention: Duration::from_secs(7 * 24 * 3600),
            max_subscriptions_per_user: 5000,
            max_push_subscriptions_per_user: 20,
            max_connections_per_user: 10,
            max_subscriptions_per_connection: 200,
            max_backlog_events: 10_000,
        }
    }
}

impl RawNotifications {
    /// Fills the defaults and range-checks every field, pushing problems onto `errors`.
    fn validate(&self, errors: &mut Vec<FieldError>) -> Notifications {
        let defaults = Notifications::default();
        let mut ranged =
            |field: &str, value: Option<u64>, default: u64, range: RangeInclusive<u64>| {
                let value = value.unwrap_or(default);
                if !range.contains(&value) {
                    errors.push(FieldError::new(
                        format!("notifications.{field}"),
                        format!("must be between {} and {}", range.start(), range.end()),
                    ));
                }
                value
            };
        let heartbeat = ranged(
            "heartbeat_seconds",
            self.heartbeat_seconds,
            defaults.heartbeat.as_secs(),
            1..=3600,
        );
        let retention_days = ranged(
            "retention_days",
            self.retention_days,
            defaults.retention.as_secs() / (24 * 3600),
            1..=365,
        );
        let wide = |value: usize| u64::try_from(value).unwrap_or(u64::MAX);
        let widen = |value: Option<usize>| value.map(wide);
        let narrow = |value: u64| usize::try_from(value).unwrap_or(usize::MAX);
        let subscriptions = ranged(
            "max_subscriptions_per_user",
            widen(self.max_subscriptions_per_user),
            wide(defaults.max_subscriptions_per_user),
            1..=1_000_000,
        );
        let push_subscriptions = ranged(
            "max_push_subscriptions_per_user",
            widen(self.max_push_subscriptions_per_user),
            wide(defaults.max_push_subscriptions_per_user),
            1..=1_000_000,
        );
        let connections = ranged(
            "max_connections_per_user",
            widen(self.max_connections_per_user),
            wide(defaults.max_connections_per_user),
            1..=10_000,
        );
        let per_connection = ranged(
            "max_subscriptions_per_connection",
            widen(self.max_subscriptions_per_connection),
            wide(defaults.max_subscriptions_per_connection),
            1..=10_000,
        );
        let backlog = ranged(
            "max_backlog_events",
            self.max_backlog_events,
            defaults.max_backlog_events,
            1..=10_000_000,
        );
        Notifications {
            allow_private_push_targets: self
                .allow_private_push_targets
                .unwrap_or(defaults.allow_private_push_targets),
            push_accept_invalid_certificates: self
                .push_accept_invalid_certificates
                .unwrap_or(defaults.push_accept_invalid_certificates),
            heartbeat: Duration::from_secs(heartbeat),
            retention: Duration::from_secs(retention_days.saturating_mul(24 * 3600)),
            max_subscriptions_per_user: narrow(subscriptions),
            max_push_subscriptions_per_user: narrow(push_subscriptions),
            max_connections_per_user: narrow(connections),
            max_subscriptions_per_connection: narrow(per_connection),
            max_backlog_events: backlog,
        }
    }
}

/// `[um]`: the voicemail media server.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawUm {
    /// Calls the media server holds at once before new ones get 503 with Retry-After (Exchange's
    /// MaxCallsAllowed); default 100.
    #[serde(default)]
    pub max_calls: Option<usize>,
    /// Seconds of silence (or of no media at all) that end a recording; default 5.
    #[serde(default)]
    pub silence_timeout_seconds: Option<u32>,
    /// Seconds a caller has to press a key after a menu prompt, or the first digit of an entry,
    /// before the prompt is repeated; default 5.
    #[serde(default)]
    pub key_timeout_seconds: Option<u32>,
    /// Message-waiting subscriptions the call router holds at once; default 50000.
    #[serde(default)]
    pub mwi_max_subscriptions: Option<usize>,
    /// Whether phones are challenged with SHA-256 before MD5 (RFC 8760); default true. Turn it
    /// off for phones that read only the first challenge and know only MD5.
    #[serde(default)]
    pub mwi_digest_sha256: Option<bool>,
}

/// Checked `[um]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Um {
    /// Concurrent calls of the media server.
    pub max_calls: usize,
    /// Silence that ends a recording.
    pub silence_timeout: std::time::Duration,
    /// Time for a key after a menu prompt.
    pub key_timeout: std::time::Duration,
    /// Message-waiting subscriptions held at once.
    pub mwi_max_subscriptions: usize,
    /// Whether SHA-256 digest challenges are offered (before MD5).
    pub mwi_digest_sha256: bool,
}

/// `[dns]`: the authoritative DNS server.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDns {
    /// UDP responses per second to one source network (an IPv4 /24, an IPv6 /56) before response
    /// rate limiting sets in, so the server cannot be used to amplify a spoofed flood; 0 turns it
    /// off; default 50.
    #[serde(default)]
    pub responses_per_second: Option<u32>,
    /// Of the responses over the limit, every `slip`-th is sent truncated (TC=1, no records), so a
    /// real resolver behind a flooded network retries over TCP; the others are dropped. 0 drops
    /// them all; default 2.
    #[serde(default)]
    pub slip: Option<u32>,
}

/// Checked `[dns]` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Dns {
    /// UDP responses per second per source network; 0 is unlimited.
    pub responses_per_second: u32,
    /// Every how many limited responses one goes out truncated; 0 never.
    pub slip: u32,
}

impl Default for Dns {
    fn default() -> Dns {
        Dns {
            responses_per_second: 50,
            slip: 2,
        }
    }
}

/// Checked TLS file names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// Certificate chain in PEM.
    pub certificate: PathBuf,
    /// Private key in PEM.
    pub private_key: PathBuf,
}

/// Checked listener addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listeners {
    /// HTTPS.
    pub https: SocketAddr,
    /// Plain HTTP (redirect only).
    pub http: SocketAddr,
    /// DNS, UDP and TCP.
    pub dns: SocketAddr,
    /// SIP call router.
    pub sip_router: SocketAddr,
    /// SIP media server.
    pub sip_media: SocketAddr,
    /// RTP/RTCP port range; `0..=0` lets the system pick each port.
    pub rtp_ports: RangeInclusive<u16>,
    /// The operators' listener (health and metrics).
    pub admin: SocketAddr,
}

/// A validated configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Data directory.
    pub data_dir: PathBuf,
    /// Served e-mail domains, lower case, without a trailing dot.
    pub domains: Vec<String>,
    /// Public host name.
    pub public_host: String,
    /// Public HTTPS port, when fixed by the operator.
    pub public_https_port: Option<u16>,
    /// Published addresses.
    pub public_addresses: Vec<IpAddr>,
    /// Listeners.
    pub listen: Listeners,
    /// Operator-supplied TLS files.
    pub tls: Option<TlsFiles>,
    /// Tracing filter.
    pub log_level: String,
    /// Largest HTTP body.
    pub max_body_bytes: usize,
    /// EWS notification settings.
    pub notifications: Notifications,
    /// The voicemail media server.
    pub um: Um,
    /// The authoritative DNS server.
    pub dns: Dns,
}

/// What clients are told about this server, fixed once the listeners are bound.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    /// Served domains.
    pub domains: Vec<String>,
    /// Public host name.
    pub public_host: String,
    /// HTTPS port advertised in URLs and SRV.
    pub https_port: u16,
    /// SIP router port advertised in SRV.
    pub sip_port: u16,
    /// SIP over TLS port advertised in `_sips._tcp` (router port + 1, as 5060/5061).
    pub sips_port: u16,
    /// Addresses for A/AAAA records.
    pub addresses: Vec<IpAddr>,
}

impl Site {
    /// `https://host[:port]` with the port left out when it is 443.
    pub fn https_base(&self) -> String {
        if self.https_port == 443 {
            format!("https://{}", self.public_host)
        } else {
            format!("https://{}:{}", self.public_host, self.https_port)
        }
    }

    /// Whether `domain` (any case) is one of ours.
    pub fn serves_domain(&self, domain: &str) -> bool {
        self.domains.iter().any(|d| d.eq_ignore_ascii_case(domain))
    }
}

impl Config {
    /// The site description once the HTTPS and SIP listeners have their real ports.
    pub fn site(&self, bound_https_port: u16, bound_sip_port: u16) -> Site {
        Site {
            domains: self.domains.clone(),
            public_host: self.public_host.clone(),
            https_port: self.public_https_port.unwrap_or(bound_https_port),
            sip_port: bound_sip_port,
            sips_port: bound_sip_port.saturating_add(1),
            addresses: self.public_addresses.clone(),
        }
    }
}

/// The domain the demo directory lives in.
pub const DEMO_DOMAIN: &str = "example.test";

/// What the command line says over the configuration file. Applied to the file's contents at
/// start and again at every reload, so a reload sees the configuration a restart with the same
/// command line would.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--data`.
    pub data_dir: Option<PathBuf>,
    /// `--demo`: serve [`DEMO_DOMAIN`] when the file names no domain.
    pub demo: bool,
    /// `--bind`.
    pub bind: Option<String>,
    /// `--https-port`.
    pub https_port: Option<u16>,
    /// `--http-port`.
    pub http_port: Option<u16>,
    /// `--dns-port`.
    pub dns_port: Option<u16>,
    /// `--sip-router-port`.
    pub sip_router_port: Option<u16>,
    /// `--sip-media-port`.
    pub sip_media_port: Option<u16>,
    /// `--rtp-ports MIN-MAX`.
    pub rtp_ports: Option<(u16, u16)>,
    /// `--admin-port`.
    pub admin_port: Option<u16>,
}

impl Overrides {
    /// `raw` with every override in place.
    pub fn apply(&self, mut raw: Raw) -> Raw {
        if let Some(data) = &self.data_dir {
            raw.data_dir = Some(data.clone());
        }
        if self.demo && raw.domains.is_empty() {
            raw.domains.push(DEMO_DOMAIN.to_owned());
        }
        let listen = &mut raw.listen;
        listen.address = self.bind.clone().or(listen.address.take());
        listen.https_port = self.https_port.or(listen.https_port);
        listen.http_port = self.http_port.or(listen.http_port);
        listen.dns_port = self.dns_port.or(listen.dns_port);
        listen.sip_router_port = self.sip_router_port.or(listen.sip_router_port);
        listen.sip_media_port = self.sip_media_port.or(listen.sip_media_port);
        listen.admin_port = self.admin_port.or(listen.admin_port);
        if let Some((min, max)) = self.rtp_ports {
            listen.rtp_port_min = Some(min);
            listen.rtp_port_max = Some(max);
        }
        raw
    }

    /// The configuration `file` (or the defaults, without one) under these overrides, unchecked.
    pub fn raw(&self, file: Option<&Path>) -> Result<Raw, Error> {
        let raw = match file {
            Some(path) => Raw::load(path)?,
            None => Raw::default(),
        };
        Ok(self.apply(raw))
    }

    /// The configuration `file` (or the defaults, without one) under these overrides, checked.
    pub fn load(&self, file: Option<&Path>) -> Result<Config, Error> {
        self.raw(file)?.validate()
    }
}

impl Raw {
    /// Reads and parses a TOML file (unknown keys are refused).
    pub fn load(path: &Path) -> Result<Raw, Error> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            path: path.to_owned(),
            source,
        })?;
        Raw::parse(&text, path)
    }

    /// Parses TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &Path) -> Result<Raw, Error> {
        toml::from_str(text).map_err(|e| Error::Syntax {
            path: origin.to_owned(),
            message: e.message().to_owned() + &span_hint(text, e.span()),
        })
    }

    /// Checks every field and fills the defaults.
    pub fn validate(self) -> Result<Config, Error> {
        let mut errors = Vec::new();
        let data_dir = self.data_dir.unwrap_or_else(|| PathBuf::from("umbox-data"));

        let mut domains = Vec::new();
        for (i, d) in self.domains.iter().enumerate() {
            match normalize_host(d) {
                Ok(n) => domains.push(n),
                Err(reason) => errors.push(FieldError::new(format!("domains[{i}]"), reason)),
            }
        }
        if self.domains.is_empty() {
            errors.push(FieldError::new(
                "domains",
                "at least one served domain is required",
            ));
        }

        let public_host = match &self.public.host {
            Some(h) => normalize_host(h).unwrap_or_else(|reason| {
                errors.push(FieldError::new("public.host", reason));
                String::new()
            }),
            None => domains
                .first()
                .map(|d| format!("mail.{d}"))
                .unwrap_or_default(),
        };
        if self.public.https_port == Some(0) {
            errors.push(FieldError::new(
                "public.https_port",
                "must be between 1 and 65535",
            ));
        }

        let address: IpAddr = match &self.listen.address {
            Some(a) => a.parse().unwrap_or_else(|_| {
                errors.push(FieldError::new(
                    "listen.address",
                    format!("{a:?} is not an IP address"),
                ));
                IpAddr::V4(Ipv4Addr::LOCALHOST)
            }),
            None => IpAddr::V4(Ipv4Addr::LOCALHOST),
        };
        let mut public_addresses = Vec::new();
        for (i, a) in self.public.addresses.iter().enumerate() {
            match a.parse::<IpAddr>() {
                Ok(ip) => public_addresses.push(ip),
                Err(_) => errors.push(FieldError::new(
                    format!("public.addresses[{i}]"),
                    format!("{a:?} is not an IP address"),
                )),
            }
        }
        if public_addresses.is_empty() {
            public_addresses.push(address);
        }

        let l = &self.listen;
        let at =
            |port: Option<u16>, default: u16| SocketAddr::new(address, port.unwrap_or(default));
        let rtp_min = l.rtp_port_min.unwrap_or(40000);
        let rtp_max = l.rtp_port_max.unwrap_or(40999);
        let system_picks = rtp_min == 0 && rtp_max == 0;
        if !system_picks && (rtp_min == 0 || rtp_min > rtp_max) {
            errors.push(FieldError::new(
                "listen.rtp_port_min",
                format!("range {rtp_min}..={rtp_max} is empty or starts at 0"),
            ));
        }
        let admin_ip = match l.admin_address.as_deref().map(str::parse::<IpAddr>) {
            None => IpAddr::from([127, 0, 0, 1]),
            Some(Ok(ip)) => ip,
            Some(Err(_)) => {
                errors.push(FieldError::new(
                    "listen.admin_address",
                    "must be an IP address",
                ));
                IpAddr::from([127, 0, 0, 1])
            }
        };
        let listen = Listeners {
            admin: SocketAddr::new(admin_ip, l.admin_port.unwrap_or(9464)),
            https: at(l.https_port, 8443),
            http: at(l.http_port, 8080),
            dns: at(l.dns_port, 5300),
            sip_router: at(l.sip_router_port, 5060),
            sip_media: at(l.sip_media_port, 5062),
            rtp_ports: rtp_min..=rtp_max,
        };

        let tls = match (self.tls.certificate, self.tls.private_key) {
            (Some(certificate), Some(private_key)) => Some(TlsFiles {
                certificate,
                private_key,
            }),
            (None, None) => None,
            (Some(_), None) => {
                errors.push(FieldError::new(
                    "tls.private_key",
                    "required when tls.certificate is set",
                ));
                None
            }
            (None, Some(_)) => {
                errors.push(FieldError::new(
                    "tls.certificate",
                    "required when tls.private_key is set",
                ));
                None
            }
        };

        // hickory-server logs two info lines per DNS query of its own; ours are enough.
        let log_level = self
            .log
            .level
            .unwrap_or_else(|| "info,hickory_server=warn".to_owned());
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            errors.push(FieldError::new(
                "log.level",
                format!("{log_level:?} is not a tracing filter"),
            ));
        }

        let max_body_bytes = self.limits.max_body_bytes.unwrap_or(1 << 20);
        if !(1024..=(256 << 20)).contains(&max_body_bytes) {
            errors.push(FieldError::new(
                "limits.max_body_bytes",
                "must be between 1024 and 268435456",
            ));
        }

        let notifications = self.notifications.validate(&mut errors);
        let max_calls = self.um.max_calls.unwrap_or(100);
        if !(1..=100_000).contains(&max_calls) {
            errors.push(FieldError::new(
                "um.max_calls",
                "must be between 1 and 100000",
            ));
        }
        let silence_seconds = self.um.silence_timeout_seconds.unwrap_or(5);
        if !(1..=3600).contains(&silence_seconds) {
            errors.push(FieldError::new(
                "um.silence_timeout_seconds",
                "must be between 1 and 3600",
            ));
        }
        let key_seconds = self.um.key_timeout_seconds.unwrap_or(5);
        if !(1..=60).contains(&key_seconds) {
            errors.push(FieldError::new(
                "um.key_timeout_seconds",
                "must be between 1 and 60",
            ));
        }
        let mwi_max_subscriptions = self.um.mwi_max_subscriptions.unwrap_or(50_000);
        if !(1..=1_000_000).contains(&mwi_max_subscriptions) {
            errors.push(FieldError::new(
                "um.mwi_max_subscriptions",
                "must be between 1 and 1000000",
            ));
        }
        let um = Um {
            max_calls,
            silence_timeout: std::time::Duration::from_secs(u64::from(silence_seconds)),
            key_timeout: std::time::Duration::from_secs(u64::from(key_seconds)),
            mwi_max_subscriptions,
            mwi_digest_sha256: self.um.mwi_digest_sha256.unwrap_or(true),
        };
        let dns_defaults = Dns::default();
        let dns = Dns {
            responses_per_second: self
                .dns
                .responses_per_second
                .unwrap_or(dns_defaults.responses_per_second),
            slip: self.dns.slip.unwrap_or(dns_defaults.slip),
        };
        if dns.responses_per_second > 1_000_000 {
            errors.push(FieldError::new(
                "dns.responses_per_second",
                "must be between 0 and 1000000",
            ));
        }
        if dns.slip > 10 {
            errors.push(FieldError::new("dns.slip", "must be between 0 and 10"));
        }

        if !errors.is_empty() {
            return Err(Error::Invalid(errors));
        }
        Ok(Config {
            data_dir,
            domains,
            public_host,
            public_https_port: self.public.https_port,
            public_addresses,
            listen,
            tls,
            log_level,
            max_body_bytes,
            notifications,
            um,
            dns,
        })
    }
}

/// Lower-cases a DNS host name and checks its labels (RFC 1035 §2.3.1, with RFC 1123 digits).
pub fn normalize_host(name: &str) -> Result<String, String> {
    let trimmed = name.trim_end_matches('.').to_ascii_lowercase();
    if trimmed.is_empty() || trimmed.len() > 253 {
        return Err(format!("{name:?} is not a host name (1 to 253 characters)"));
    }
    for label in trimmed.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-');
        if !ok {
            return Err(format!("{name:?} is not a host name (label {label:?})"));
        }
    }
    Ok(trimmed)
}

/// Line and column of a TOML error, for humans.
fn span_hint(text: &str, span: Option<std::ops::Range<usize>>) -> String {
    let Some(span) = span else {
        return String::new();
    };
    let before = text.get(..span.start).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    format!(" (line {line})")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(text: &str) -> Result<Config, Error> {
        Raw::parse(text, Path::new("test.toml"))?.validate()
    }

    #[test]
    fn defaults_follow_the_first_domain() {
        let c = check("domains = [\"Example.TEST.\"]").unwrap();
        assert_eq!(c.domains, vec!["example.test"]);
        assert_eq!(c.public_host, "mail.example.test");
        assert_eq!(c.listen.https.port(), 8443);
        assert_eq!(c.listen.dns.port(), 5300);
        assert_eq!(c.um.max_calls, 100);
        assert_eq!(c.um.silence_timeout.as_secs(), 5);
        assert_eq!(c.um.key_timeout.as_secs(), 5);
        let ephemeral =
            check("domains = [\"a.test\"]\n[listen]\nrtp_port_min = 0\nrtp_port_max = 0");
        assert_eq!(ephemeral.unwrap().listen.rtp_ports, 0..=0);
        assert_eq!(
            c.site(8443, 5060).https_base(),
            "https://mail.example.test:8443"
        );
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = check("domains = [\"a.test\"]\n[listen]\nhttps = 1").unwrap_err();
        assert!(err.to_string().contains("unknown field `https`"), "{err}");
    }

    #[test]
    fn every_bad_field_is_named() {
        let err = check(
            "domains = [\"bad_name\"]\n[listen]\naddress = \"nowhere\"\nrtp_port_min = 5\nrtp_port_max = 4\n[tls]\ncertificate = \"c.pem\"",
        )
        .unwrap_err();
        let text = err.to_string();
        for field in [
            "domains[0]",
            "listen.address",
            "listen.rtp_port_min",
            "tls.private_key",
        ] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
        let err = check("domains = [\"a.test\"]\n[um]\nmax_calls = 0\nsilence_timeout_seconds = 0\nkey_timeout_seconds = 0")
            .unwrap_err();
        let text = err.to_string();
        for field in [
            "um.max_calls",
            "um.silence_timeout_seconds",
            "um.key_timeout_seconds",
        ] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
        let err = check("domains = [\"a.test\"]\n[dns]\nresponses_per_second = 2000000\nslip = 11")
            .unwrap_err();
        let text = err.to_string();
        for field in ["dns.responses_per_second", "dns.slip"] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
        let c = check("domains = [\"a.test\"]\n[dns]\nresponses_per_second = 0").unwrap();
        assert_eq!(c.dns.responses_per_second, 0);
        assert_eq!(c.dns.slip, Dns::default().slip);
    }

    #[test]
    fn notification_settings_default_and_are_range_checked() {
        let c = check("domains = [\"a.test\"]").unwrap();
        assert_eq!(c.notifications, Notifications::default());
        let c = check("domains = [\"a.test\"]\n[notifications]\nheartbeat_seconds = 2\nallow_private_push_targets = true").unwrap();
        assert_eq!(c.notifications.heartbeat, Duration::from_secs(2));
        assert!(c.notifications.allow_private_push_targets);
        let err = check("domains = [\"a.test\"]\n[notifications]\nheartbeat_seconds = 0\nretention_days = 400\nmax_connections_per_user = 0").unwrap_err();
        let text = err.to_string();
        for field in [
            "notifications.heartbeat_seconds",
            "notifications.retention_days",
            "notifications.max_connections_per_user",
        ] {
            assert!(text.contains(field), "{field} missing from {text}");
        }
    }

    #[test]
    fn example_configs_in_docs_and_packaging_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        for file in ["docs/umbox.example.toml", "packaging/container.toml"] {
            let config = Raw::load(&root.join(file)).unwrap().validate().unwrap();
            assert!(!config.domains.is_empty(), "{file}");
        }
        let container = Raw::load(&root.join("packaging/container.toml"))
            .unwrap()
            .validate()
            .unwrap();
        assert!(
            container
                .public_addresses
                .iter()
                .all(|a| !a.is_unspecified()),
            "the zone must not publish 0.0.0.0"
        );
    }
}
