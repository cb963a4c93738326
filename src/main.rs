//! The `umbox` command: parses the command line, installs logging, and calls the library.
//! Errors become an exit code here and only here.

// The command line speaks to its user here and only here.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Parser, Subcommand};

use umbox_base::config::Overrides;

#[derive(Debug, Parser)]
#[command(
    name = "umbox",
    version,
    about = "Autodiscover, EWS and unified messaging voicemail server"
)]
struct Cli {
    /// Data directory (overrides `data_dir` of the config file; default ./umbox-data).
    #[arg(long = "data", global = true)]
    data: Option<PathBuf>,
    /// Configuration file (TOML; see docs/umbox.example.toml).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Administration commands: check the change and say what it would do, saving nothing.
    #[arg(long = "dry-run", global = true)]
    dry_run: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    #[command(flatten)]
    Admin(Box<umbox::admin::Command>),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Try the product: serve example.test with demo users alice and bob (not for production).
    #[arg(long)]
    demo: bool,
    /// Address every listener binds (default 127.0.0.1).
    #[arg(long)]
    bind: Option<String>,
    /// HTTPS port (0 picks a free one).
    #[arg(long = "https-port")]
    https_port: Option<u16>,
    /// Plain HTTP redirect port.
    #[arg(long = "http-port")]
    http_port: Option<u16>,
    /// DNS port (UDP and TCP).
    #[arg(long = "dns-port")]
    dns_port: Option<u16>,
    /// SIP call router port (UDP and TCP).
    #[arg(long = "sip-router-port")]
    sip_router_port: Option<u16>,
    /// SIP media server port (UDP and TCP).
    #[arg(long = "sip-media-port")]
    sip_media_port: Option<u16>,
    /// RTP/RTCP port range MIN-MAX (0-0: the system picks each port).
    #[arg(long = "rtp-ports", value_parser = parse_port_range)]
    rtp_ports: Option<(u16, u16)>,
    /// Health and metrics port (HTTP on 127.0.0.1 unless listen.admin_address says otherwise).
    #[arg(long = "admin-port")]
    admin_port: Option<u16>,
}

/// `MIN-MAX`, both ports.
fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let (min, max) = text
        .split_once('-')
        .ok_or_else(|| format!("{text:?} is not MIN-MAX"))?;
    let port = |p: &str| {
        p.trim()
            .parse::<u16>()
            .map_err(|_| format!("{p:?} is not a port"))
    };
    Ok((port(min)?, port(max)?))
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM (`systemctl stop`, `docker stop`), either of which stops
/// the server in order rather than killing it.
async fn stop_signal() -> std::io::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result,
        _ = terminate.recv() => Ok(()),
    }
}

fn main() -> ExitCode {
    umbox::heap::limit_arenas();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("umbox: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Admin(command) => {
            let overrides = Overrides {
                data_dir: cli.data,
                ..Overrides::default()
            };
            let data_dir = overrides
                .raw(cli.config.as_deref())?
                .data_dir
                .unwrap_or_else(|| PathBuf::from("umbox-data"));
            let text = umbox::admin::run(&data_dir, *command, cli.dry_run)?;
            print!("{text}");
            if !text.is_empty() && !text.ends_with('\n') {
                println!();
            }
            Ok(())
        }
        Command::Serve(args) => serve(cli.config, cli.data, args),
    }
}

fn serve(
    config_file: Option<PathBuf>,
    data: Option<PathBuf>,
    args: ServeArgs,
) -> anyhow::Result<()> {
    let overrides = Overrides {
        data_dir: data,
        demo: args.demo,
        bind: args.bind,
        https_port: args.https_port,
        http_port: args.http_port,
        dns_port: args.dns_port,
        sip_router_port: args.sip_router_port,
        sip_media_port: args.sip_media_port,
        rtp_ports: args.rtp_ports,
        admin_port: args.admin_port,
    };
    let raw = overrides.raw(config_file.as_deref())?;
    if raw.domains.is_empty() {
        anyhow::bail!(
            "domains: no served domain; pass --config FILE (see docs/umbox.example.toml) or --demo"
        );
    }
    let config = raw.validate()?;

    let filter = tracing_subscriber::EnvFilter::try_from_env("UMBOX_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_new(&config.log_level))?;
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let options = umbox::server::Options { config, config_file, overrides };
        let running = umbox::server::start(options, Arc::new(umbox_base::clock::SystemClock)).await?;
        let b = running.bound;
        let base = running.site.https_base();
        println!("umbox serving {}", running.site.domains.join(", "));
        println!("  Autodiscover  https://{}/autodiscover/autodiscover.xml (and .svc); advertised as {base}", b.https);
        println!("  EWS           {base}/EWS/Exchange.asmx");
        println!("  HTTP redirect http://{}/autodiscover/autodiscover.xml", b.http);
        println!("  DNS           {} (UDP and TCP), e.g. dig @{} -p {} _autodiscover._tcp.{} SRV", b.dns, b.dns.ip(), b.dns.port(), running.site.domains.first().map(String::as_str).unwrap_or(""));
        println!("  SIP router    {} (UDP and TCP): INVITEs to the voicemail pilot", b.sip_router);
        println!("  SIP media     {} (UDP and TCP): the voicemail media server", b.sip_media);
        println!("  Admin         http://{}/healthz and /metrics (Prometheus)", b.admin);
        if args.demo {
            println!("  Demo pilot    1999 (dial plan default, gateway 127.0.0.1)");
            println!("  Demo users    alice@example.test / demo-alice (ext 1001), bob@example.test / demo-bob (ext 1002)");
            println!("  Demo mode is for trying umbox, not for production: the passwords are public.");
        }
        // The test harness and scripts wait for this exact line.
        println!(
            "umbox ready https={} http={} dns={} sip={} media={} admin={}",
            b.https, b.http, b.dns, b.sip_router, b.sip_media, b.admin
        );
        umbox::systemd::notify("READY=1\nSTATUS=serving");
        stop_signal().await?;
        umbox::systemd::notify("STOPPING=1\nSTATUS=stopping");
        running.drain(None).await;
        Ok(())
    })
}
