//! Starts every listener from a [`Config`] and keeps their shared view of the directory and the
//! site following the directory and config files, so changes need no restart.
//!
//! This is wiring only: it binds sockets (HTTPS, HTTP, DNS, the SIP call router and media
//! server), loads files, publishes snapshots, hands the media server's calls to
//! `um::voicemail` and the call router's message-waiting subscriptions to `um::mwi`; each surface's behaviour lives in its own module. The library never prints:
//! [`Running`] reports the bound addresses and `main` shows them.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tracing::{info, warn};

use umbox_base::clock::Clock;
use umbox_base::config::{self, Config, Site};
use umbox_base::directory::{self, Directory, DirectoryFile};
use umbox_dns::{DnsServer, ZoneSet};
use umbox_ews::ids::IdCodec;
use umbox_http::{self as http, Snapshot};
use umbox_media::ports::{PortError, PortPool};
use umbox_media::prompts::{PromptError, Prompts};
use umbox_media::spool::Spool;
use umbox_notify::{self as notify, Hub};
use umbox_sip::subscribe::{EventService, SubscriptionLimits};
use umbox_sip::wire::grammar::Host;
use umbox_sip::{self as sip, Listener, Role};
use umbox_store::{self as store, MailStore, MailboxId, RedbStore};
use umbox_um::greetings;
use umbox_um::mwi::{self, MwiServer};
use umbox_um::router::{DirectoryRouter, GatewayAllowList, MediaServers};
use umbox_um::spool::Outbox;
use umbox_um::voicemail::{self, Services, Settings};

/// How often the directory and config files are checked for changes.
const RELOAD_INTERVAL: Duration = Duration::from_secs(1);

/// Dialog events queued for the call handler before the SIP listener waits for it.
const CALL_EVENT_QUEUE: usize = 1024;

/// Tries at finding a port free for both UDP and TCP when the configuration says port 0.
const EPHEMERAL_PORT_TRIES: usize = 20;

/// Errors that stop the server from starting.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The data directory cannot be created.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The IO error.
        source: std::io::Error,
    },
    /// A listener cannot bind.
    #[error("cannot listen for {what} on {address}: {source}")]
    Bind {
        /// Which listener.
        what: &'static str,
        /// The address.
        address: SocketAddr,
        /// The IO error.
        source: std::io::Error,
    },
    /// The directory file is unreadable or invalid.
    #[error("directory: {0}")]
    Directory(#[from] directory::Error),
    /// The certificate cannot be loaded or generated.
    #[error("tls: {0}")]
    Tls(#[from] http::tls::Error),
    /// The DNS server cannot start.
    #[error("dns: {0}")]
    Dns(#[from] umbox_dns::Error),
    /// The mailbox store cannot be opened or a mailbox created.
    #[error("mailbox store: {0}")]
    Store(#[from] store::Error),
    /// The legacy greeting files could not be moved into the mailboxes.
    #[error("greetings: {0}")]
    Greetings(#[from] greetings::Error),
    /// The EWS id key cannot be read or created.
    #[error("{0}")]
    IdKey(#[from] umbox_ews::ids::KeyError),
    /// The notification subscriptions cannot be loaded.
    #[error("notifications: {0}")]
    Notify(#[from] notify::Error),
    /// A SIP listener cannot start.
    #[error("sip: {0}")]
    Sip(#[from] sip::Error),
    /// The media listener came up without its dialog handle (a wiring bug).
    #[error("sip: the media listener has no dialog handle")]
    NoDialogs,
    /// The router listener came up without its subscription handle (a wiring bug).
    #[error("sip: the router listener has no subscription handle")]
    NoSubscriptions,
    /// The RTP port range is unusable.
    #[error("rtp ports: {0}")]
    Ports(#[from] PortError),
    /// The embedded prompts are broken.
    #[error("prompts: {0}")]
    Prompts(#[from] PromptError),
    /// The recording spool cannot be opened, or what it holds cannot be listed.
    #[error("recording spool: {0}")]
    Spool(#[from] umbox_um::spool::Error),
    /// A blocking start-up task failed.
    #[error("start-up task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// How to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// The validated configuration.
    pub config: Config,
    /// The file it came from, watched for changes to domains and public names.
    pub config_file: Option<PathBuf>,
    /// The command line's overrides, applied again to the file at every reload; `demo` also
    /// seeds the demo directory when the data directory has none yet.
    pub overrides: config::Overrides,
}

/// Where a running server listens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// HTTPS (Autodiscover, EWS).
    pub https: SocketAddr,
    /// Plain HTTP (Autodiscover redirect).
    pub http: SocketAddr,
    /// DNS, UDP and TCP.
    pub dns: SocketAddr,
    /// The SIP call router, UDP and TCP.
    pub sip_router: SocketAddr,
    /// The SIP media server, UDP and TCP.
    pub sip_media: SocketAddr,
    /// The operators' listener (health and metrics).
    pub admin: SocketAddr,
}

/// A started server; dropping it stops every listener.
pub struct Running {
    /// The bound addresses.
    pub bound: Bound,
    /// The site as first published.
    pub site: Site,
    store: Arc<dyn MailStore>,
    hub: Hub,
    tasks: JoinSet<()>,
    dns: DnsServer,
    router: Listener,
    media: Listener,
    health: watch::Sender<http::admin::Health>,
    /// Calls on the media server not yet delivered.
    calls: watch::Receiver<usize>,
    /// The directory as of the last reload: its policies bound how long a stop waits.
    directory: watch::Receiver<Arc<Directory>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Running")
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

impl Running {
    /// The mailbox store the server writes through (tests and benchmarks change mailboxes with
    /// it while clients watch, as delivery does).
    pub fn store(&self) -> Arc<dyn MailStore> {
        self.store.clone()
    }

    /// The notification hub.
    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    /// Stops in order (SIGTERM, SIGINT): new calls get 503 and health checks say `draining` at
    /// once, calls in progress go on to their delivery for up to `limit` (the longest message a
    /// policy allows, when `None`, plus a minute for greetings and delivery), then every listener
    /// stops. Returns how many calls were still in progress when the wait ended.
    pub async fn drain(mut self, limit: Option<Duration>) -> usize {
        self.health.send_replace(http::admin::Health::Draining);
        self.router.drain();
        self.media.drain();
        let longest = self
            .directory
            .borrow()
            .policies
            .iter()
            .map(|policy| policy.max_message_seconds)
            .max()
            .unwrap_or(0);
        let limit = limit.unwrap_or(Duration::from_secs(u64::from(longest) + 60));
        let in_progress = *self.calls.borrow();
        if in_progress > 0 {
            info!(
                calls = in_progress,
                limit_seconds = limit.as_secs(),
                "stopping: waiting for calls in progress"
            );
        }
        let settled = tokio::time::timeout(limit, self.calls.wait_for(|calls| *calls == 0))
            .await
            .is_ok_and(|waited| waited.is_ok());
        let left = if settled { 0 } else { *self.calls.borrow() };
        if left > 0 {
            warn!(calls = left, "stopping with calls still in progress");
        }
        self.shutdown().await;
        left
    }

    /// Stops every listener at once; health checks say `draining` from the start of it.
    pub async fn shutdown(mut self) {
        self.health.send_replace(http::admin::Health::Draining);
        self.router.shutdown().await;
        self.media.shutdown().await;
        self.tasks.shutdown().await;
        if let Err(error) = self.dns.shutdown().await {
            warn!(%error, "dns shutdown");
        }
    }
}

/// Binds every listener and starts serving: [`Builder`] with its defaults.
pub async fn start(options: Options, clock: Arc<dyn Clock>) -> Result<Running, Error> {
    Builder::new(options).clock(clock).start().await
}

/// The one way a server is wired, for `umbox serve`, the tests that run it in their own process
/// and the benchmarks: every listener, the store, the notification hub and the reloader.
pub struct Builder {
    options: Options,
    clock: Arc<dyn Clock>,
    directory: Option<Directory>,
    write_stall_timeout: Option<Duration>,
}

impl Builder {
    /// A server for `options` on the system clock.
    pub fn new(options: Options) -> Builder {
        Builder {
            options,
            clock: Arc::new(umbox_base::clock::SystemClock),
            directory: None,
            write_stall_timeout: None,
        }
    }

    /// Stamps every change with `clock`.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Builder {
        self.clock = clock;
        self
    }

    /// Writes `directory` to the data directory's directory file before starting (it is then
    /// served and reloaded as any other).
    pub fn directory(mut self, directory: Directory) -> Builder {
        self.directory = Some(directory);
        self
    }

    /// Drops HTTPS connections whose writes make no progress for `limit` (default
    /// `http::WRITE_STALL_TIMEOUT`).
    pub fn write_stall_timeout(mut self, limit: Duration) -> Builder {
        self.write_stall_timeout = Some(limit);
        self
    }

    /// Binds every listener and starts serving.
    pub async fn start(self) -> Result<Running, Error> {
        let Builder {
            options,
            clock,
            directory,
            write_stall_timeout,
        } = self;
        wire(options, clock, directory, write_stall_timeout).await
    }
}

async fn wire(
    options: Options,
    clock: Arc<dyn Clock>,
    given: Option<Directory>,
    write_stall_timeout: Option<Duration>,
) -> Result<Running, Error> {
    let config = options.config;
    create_data_dir(&config.data_dir)?;
    let directory_file = DirectoryFile::in_data_dir(&config.data_dir);
    let seed = match given {
        Some(directory) => Some(directory),
        None if options.overrides.demo && !directory_file.exists() => Some(Directory::demo()?),
        None => None,
    };
    if let Some(seed) = seed {
        directory_file.update(move |d| {
            *d = seed;
            Ok(())
        })?;
        info!(path = %directory_file.path().display(), "seeded the directory");
    }
    let directory = Arc::new(directory_file.load()?);
    let tls = http::tls::server_config(&config)?;
    let data_dir = config.data_dir.clone();
    let store =
        tokio::task::spawn_blocking(move || RedbStore::open(&data_dir, store::Options::default()))
            .await??;
    ensure_mailboxes(&store, &directory, clock.now()).await?;
    migrate_legacy_greetings(&store, &config.data_dir, clock.now()).await?;
    restrict_data_dir(&config.data_dir)?;

    let https = bind_tcp("https", config.listen.https).await?;
    let plain = bind_tcp("http", config.listen.http).await?;
    let (dns_udp, dns_tcp) = bind_udp_and_tcp("dns", config.listen.dns).await?;
    let dns_udp_addr = local_addr(&dns_udp.local_addr(), config.listen.dns);
    let (router_udp, router_tcp) = bind_udp_and_tcp("sip router", config.listen.sip_router).await?;
    let (media_udp, media_tcp) = bind_udp_and_tcp("sip media", config.listen.sip_media).await?;
    let admin = bind_tcp("admin", config.listen.admin).await?;
    let bound = Bound {
        https: local_addr(&https.local_addr(), config.listen.https),
        http: local_addr(&plain.local_addr(), config.listen.http),
        dns: dns_udp_addr,
        sip_router: local_addr(&router_udp.local_addr(), config.listen.sip_router),
        sip_media: local_addr(&media_udp.local_addr(), config.listen.sip_media),
        admin: local_addr(&admin.local_addr(), config.listen.admin),
    };
    let mut registry = prometheus_client::registry::Registry::default();
    crate::heap::register(&mut registry);
    store.attach_metrics(store::metrics::StoreMetrics::register(&mut registry));
    let call_metrics = umbox_um::metrics::CallMetrics::register(&mut registry);
    let (directory_tx, directory_rx) = watch::channel(directory.clone());

    // What the last run left in the recording spool is delivered before any call is taken.
    let spool_dir = config.data_dir.join("spool");
    let spool = tokio::task::spawn_blocking(move || Spool::start(&spool_dir))
        .await?
        .map_err(umbox_um::spool::Error::from)?;
    let (outbox, failed_deliveries) = Outbox::new(
        spool,
        Arc::new(store.clone()),
        directory_rx.clone(),
        clock.clone(),
        call_metrics.clone(),
    )?;
    let recovered = outbox.recover().await?;
    if recovered > 0 {
        info!(
            calls = recovered,
            "delivered the calls spooled by the last run"
        );
    }

    let site = config.site(bound.https.port(), bound.sip_router.port());
    let (snapshot_tx, snapshot_rx) = watch::channel(Arc::new(Snapshot {
        directory: directory.clone(),
        site: Arc::new(site.clone()),
    }));
    let first_serial = serial(clock.now(), 0);
    let (zones_tx, zones_rx) = watch::channel(Arc::new(zone_set(&site, first_serial)));

    let dns = DnsServer::start(dns_udp, dns_tcp, zones_rx, config.dns)?;
    let mut tasks = JoinSet::new();
    tasks.spawn(outbox.clone().retry(failed_deliveries));
    let running_directory = directory_rx.clone();
    let advertised = advertised_ip(&config);
    let mut sip_options = sip::Options::new(Arc::new(GatewayAllowList(directory_rx.clone())));
    // The media server's calls in progress, and the router's INVITEs not yet acknowledged, are
    // held to the same MaxCallsAllowed.
    sip_options.limits.max_calls = config.um.max_calls;
    sip_options.advertise = Some(Host::Ip(advertised));
    let (call_events, calls) = mpsc::channel(CALL_EVENT_QUEUE);
    let media = Listener::start(
        media_udp,
        media_tcp,
        Role::MediaServer {
            events: call_events,
        },
        sip_options.clone(),
    )?;
    let (subscription_events, mwi_events) = mpsc::unbounded_channel();
    let router = Listener::start(
        router_udp,
        router_tcp,
        Role::Router {
            router: Arc::new(DirectoryRouter::new(
                directory_rx.clone(),
                MediaServers::single(Host::Ip(advertised), bound.sip_media.port()),
            )),
            events: Some(EventService {
                server: Arc::new(MwiServer::new(directory_rx.clone(), clock.clone())),
                events: subscription_events,
                limits: SubscriptionLimits {
                    max_total: config.um.mwi_max_subscriptions,
                    offer_sha256: config.um.mwi_digest_sha256,
                    ..SubscriptionLimits::default()
                },
            }),
        },
        sip_options,
    )?;
    let mwi_services = mwi::Services {
        directory: directory_rx.clone(),
        store: Arc::new(store.clone()),
        subscriptions: router.subscriptions().ok_or(Error::NoSubscriptions)?,
    };
    tasks.spawn(mwi::serve(mwi_services, mwi_events));
    let dialogs = media.dialogs().ok_or(Error::NoDialogs)?;
    let rtp_ip = config.listen.sip_media.ip();
    let ports = if config.listen.rtp_ports == (0..=0) {
        PortPool::ephemeral(rtp_ip)
    } else {
        PortPool::new(rtp_ip, config.listen.rtp_ports.clone())?
    };
    let voicemail_services = Services {
        directory: directory_rx,
        store: Arc::new(store.clone()),
        ports,
        prompts: Arc::new(Prompts::embedded()?),
        media_ip: advertised,
        clock: clock.clone(),
        random: Arc::new(ring::rand::SystemRandom::new()),
        settings: Settings {
            silence_timeout: config.um.silence_timeout,
            keys: umbox_media::Timeouts {
                first_key: config.um.key_timeout,
                ..umbox_media::Timeouts::default()
            },
            ..Settings::default()
        },
        access: Arc::new(umbox_um::access::Resources::new(
            DirectoryFile::in_data_dir(&config.data_dir),
        )),
        metrics: call_metrics,
        outbox,
    };
    let (calls_in_progress, calls_rx) = watch::channel(0);
    tasks.spawn(voicemail::serve(
        voicemail_services,
        calls,
        dialogs,
        calls_in_progress,
    ));

    let data_dir = config.data_dir.clone();
    let ids = tokio::task::spawn_blocking(move || IdCodec::load_or_create(&data_dir)).await??;
    let shared_store: Arc<dyn MailStore> = Arc::new(store.clone());
    let hub = {
        let (store, settings, clock) = (
            shared_store.clone(),
            config.notifications.clone(),
            clock.clone(),
        );
        tokio::task::spawn_blocking(move || {
            Hub::open(
                store,
                settings,
                clock,
                Arc::new(notify::RandomIds::default()),
            )
        })
        .await??
    };
    hub.attach_metrics(notify::metrics::NotifyMetrics::register(&mut registry));
    let carrier =
        http::client::PushClient::new(&config.notifications).map_err(http::tls::Error::from)?;
    let push = umbox_ews::PushDelivery::new(ids.clone(), Arc::new(carrier));
    let mut services = http::Services::new(
        snapshot_rx.clone(),
        config.max_body_bytes,
        clock.clone(),
        shared_store.clone(),
        ids,
        umbox_ews::photo::PhotoStore::in_data_dir(&config.data_dir),
        hub.clone(),
    );
    if let Some(limit) = write_stall_timeout {
        services = services.with_write_stall_timeout(limit);
    }
    let services =
        Arc::new(services.with_metrics(http::metrics::HttpMetrics::register(&mut registry)));
    tasks.spawn(hub.clone().run(Arc::new(push)));
    tasks.spawn(http::serve_https(https, tls, services));
    tasks.spawn(http::serve_redirect(plain, snapshot_rx));
    let (health, health_rx) = watch::channel(http::admin::Health::Serving);
    tasks.spawn(http::admin::serve_admin(
        admin,
        Arc::new(registry),
        health_rx,
    ));
    let reloader = Reloader {
        config: config.clone(),
        config_file: options.config_file,
        overrides: options.overrides,
        directory_file,
        bound,
        clock,
        store,
        serial: first_serial,
        snapshot: snapshot_tx,
        zones: zones_tx,
        directory: directory_tx,
    };
    tasks.spawn(reloader.run());
    info!(
        https = %bound.https,
        http = %bound.http,
        dns = %bound.dns,
        sip = %bound.sip_router,
        media = %bound.sip_media,
        admin = %bound.admin,
        "listening"
    );
    Ok(Running {
        bound,
        site,
        store: shared_store,
        hub,
        tasks,
        dns,
        router,
        media,
        health,
        calls: calls_rx,
        directory: running_directory,
    })
}

/// Gives every user in the directory a mailbox with its distinguished folders (idempotent, so a
/// user added while the server runs gets one at the next reload).
async fn ensure_mailboxes(
    store: &RedbStore,
    directory: &Arc<Directory>,
    now: SystemTime,
) -> Result<(), Error> {
    let store = store.clone();
    let directory = directory.clone();
    tokio::task::spawn_blocking(move || {
        directory.users.iter().try_for_each(|user| {
            store
                .ensure_mailbox(&MailboxId::new(&user.address), now)
                .map(drop)
        })
    })
    .await??;
    Ok(())
}

/// Moves the greeting files older versions kept in `<data>/greetings/` into the mailboxes (after
/// `ensure_mailboxes`, so every user's mailbox exists: at start and after each reload); files
/// that cannot move are logged and stay.
async fn migrate_legacy_greetings(
    store: &RedbStore,
    data_dir: &Path,
    now: SystemTime,
) -> Result<(), Error> {
    let store = store.clone();
    let folder = greetings::legacy_folder(data_dir);
    tokio::task::spawn_blocking(move || greetings::migrate_legacy_files(&store, &folder, now))
        .await??;
    Ok(())
}

/// Builds the zones and reports names that cannot be served, which are left out.
fn zone_set(site: &Site, serial: u32) -> ZoneSet {
    let zones = ZoneSet::build(site, serial);
    for problem in zones.problems() {
        warn!(%problem, "dns name not served");
    }
    zones
}

fn create_data_dir(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|source| Error::DataDir {
            path: path.to_owned(),
            source,
        })
}

/// Owner-only modes on everything in the data directory, whatever created it and when (an
/// existing directory from before this rule, redb's file created with the umask).
fn restrict_data_dir(path: &Path) -> Result<(), Error> {
    let changed = umbox_base::fsio::owner_only(path).map_err(|source| Error::DataDir {
        path: path.to_owned(),
        source,
    })?;
    if changed > 0 {
        info!(changed, path = %path.display(), "made the data directory owner-only");
    }
    Ok(())
}

async fn bind_tcp(what: &'static str, address: SocketAddr) -> Result<TcpListener, Error> {
    TcpListener::bind(address)
        .await
        .map_err(|source| Error::Bind {
            what,
            address,
            source,
        })
}

/// Binds UDP, then TCP on the port UDP got, so one port number serves both as SIP gateways
/// (RFC 3261 §18) and DNS clients (RFC 7766) expect. With port 0 a port taken for TCP only (an
/// outgoing connection's ephemeral port) means trying another.
async fn bind_udp_and_tcp(
    what: &'static str,
    address: SocketAddr,
) -> Result<(UdpSocket, TcpListener), Error> {
    let tries = if address.port() == 0 {
        EPHEMERAL_PORT_TRIES
    } else {
        1
    };
    let mut last = None;
    for _ in 0..tries {
        let udp = UdpSocket::bind(address)
            .await
            .map_err(|source| Error::Bind {
                what,
                address,
                source,
            })?;
        let udp_addr = local_addr(&udp.local_addr(), address);
        match TcpListener::bind(udp_addr).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(source) => {
                last = Some(Error::Bind {
                    what,
                    address: udp_addr,
                    source,
                })
            }
        }
    }
    Err(last.unwrap_or(Error::Bind {
        what,
        address,
        source: std::io::ErrorKind::AddrInUse.into(),
    }))
}

/// The address written in SIP Contact/Via and SDP: the listen address, or the first published
/// address when the listeners bind a wildcard.
fn advertised_ip(config: &Config) -> IpAddr {
    let bound = config.listen.sip_media.ip();
    if !bound.is_unspecified() {
        return bound;
    }
    config
        .public_addresses
        .iter()
        .copied()
        .find(|ip| !ip.is_unspecified())
        .unwrap_or(bound)
}

fn local_addr(result: &std::io::Result<SocketAddr>, fallback: SocketAddr) -> SocketAddr {
    result.as_ref().copied().unwrap_or(fallback)
}

/// An SOA serial that moves forward on every publication: the time in seconds, or one more
/// than the last serial when the clock has not moved on (RFC 1982 arithmetic is not needed
/// before 2106).
fn serial(now: SystemTime, previous: u32) -> u32 {
    let seconds = now
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    u32::try_from(seconds)
        .unwrap_or(u32::MAX)
        .max(previous.saturating_add(1))
}

/// Watches the directory and config files and republishes what depends on them.
struct Reloader {
    config: Config,
    config_file: Option<PathBuf>,
    overrides: config::Overrides,
    directory_file: DirectoryFile,
    bound: Bound,
    clock: Arc<dyn Clock>,
    store: RedbStore,
    serial: u32,
    snapshot: watch::Sender<Arc<Snapshot>>,
    zones: watch::Sender<Arc<ZoneSet>>,
    /// The SIP listeners' and the call handler's view of the directory.
    directory: watch::Sender<Arc<Directory>>,
}

impl Reloader {
    async fn run(mut self) {
        let mut seen = (self.directory_file.modified(), self.config_modified());
        let mut ticks = tokio::time::interval(RELOAD_INTERVAL);
        // SIGHUP (`systemctl reload`) reloads at once, changed or not; without the handler the
        // files are still polled.
        let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|error| warn!(%error, "SIGHUP will not reload"))
            .ok();
        loop {
            let asked = tokio::select! {
                _ = ticks.tick() => false,
                Some(()) = async {
                    match hangups.as_mut() {
                        Some(hangups) => hangups.recv().await,
                        None => std::future::pending().await,
                    }
                } => true,
            };
            let current = (self.directory_file.modified(), self.config_modified());
            if current == seen && !asked {
                continue;
            }
            seen = current;
            let Some(snapshot) = self.reload().await else {
                continue;
            };
            if let Err(error) =
                ensure_mailboxes(&self.store, &snapshot.directory, self.clock.now()).await
            {
                warn!(%error, "mailboxes for new users not created");
            }
            // A user added since holds a mailbox now, so a greeting file left for them moves
            // before the call handler learns of them.
            if let Err(error) =
                migrate_legacy_greetings(&self.store, &self.config.data_dir, self.clock.now()).await
            {
                warn!(%error, "legacy greetings not moved");
            }
            self.serial = serial(self.clock.now(), self.serial);
            self.zones
                .send_replace(Arc::new(ZoneSet::build(&snapshot.site, self.serial)));
            self.directory.send_replace(snapshot.directory.clone());
            self.snapshot.send_replace(Arc::new(snapshot));
            info!(serial = self.serial, "reloaded directory and configuration");
        }
    }

    fn config_modified(&self) -> Option<SystemTime> {
        let path = self.config_file.as_ref()?;
        std::fs::metadata(path).and_then(|m| m.modified()).ok()
    }

    /// Loads both files; a broken file is reported and the previous state kept.
    async fn reload(&mut self) -> Option<Snapshot> {
        let file = self.directory_file.clone();
        let directory = match tokio::task::spawn_blocking(move || file.load()).await {
            Ok(Ok(directory)) => directory,
            Ok(Err(error)) => {
                warn!(%error, "directory not reloaded");
                return None;
            }
            Err(error) => {
                warn!(%error, "directory reload failed");
                return None;
            }
        };
        if let Some(path) = &self.config_file {
            match self.overrides.load(Some(path)) {
                Ok(new) => {
                    if new.listen != self.config.listen
                        || new.data_dir != self.config.data_dir
                        || new.tls != self.config.tls
                        || new.um != self.config.um
                    {
                        warn!(
                            "listener, data_dir, tls and um changes take effect at the next start"
                        );
                    }
                    self.config.domains = new.domains;
                    self.config.public_host = new.public_host;
                    self.config.public_https_port = new.public_https_port;
                    self.config.public_addresses = new.public_addresses;
                }
                Err(error) => warn!(%error, "configuration not reloaded"),
            }
        }
        let site = self
            .config
            .site(self.bound.https.port(), self.bound.sip_router.port());
        Some(Snapshot {
            directory: Arc::new(directory),
            site: Arc::new(site),
        })
    }
}
