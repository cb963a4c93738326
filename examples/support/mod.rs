//! What the reliability drivers (`examples/soak.rs`, `examples/crash_trials.rs`) share: starting the release binary in demo
//! mode on ephemeral loopback ports, stopping it, a short greeting so a deposit's audio is
//! recorded soon after the answer, EWS requests through curl, and reading `/metrics`.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use umbox_media::g711::Law;
use umbox_media::wav;
use umbox_store::{DistinguishedFolder, MailStore, MailboxId, RedbStore};
use umbox_testkit::sipp;

/// The release binary the drivers run: `$UMBOX_BIN` where set (a copy, so a long run is not
/// disturbed by the next build), else `target/release/umbox`; an error naming the build command
/// when it is missing.
pub fn release_binary() -> Result<PathBuf, String> {
    let binary = std::env::var_os("UMBOX_BIN").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/umbox"),
        PathBuf::from,
    );
    if binary.exists() {
        Ok(binary)
    } else {
        Err(format!(
            "{} is missing: cargo build --release",
            binary.display()
        ))
    }
}

/// A running `umbox serve --demo`.
pub struct Server {
    pub child: Child,
    /// The EWS endpoint's URL.
    pub ews: String,
    /// The call router's SIP address.
    pub sip: String,
    /// The admin listener's Prometheus endpoint.
    pub metrics: String,
}

impl Server {
    /// Starts the binary on `data` with every listener on an ephemeral loopback port, logging at
    /// `log` (an `UMBOX_LOG` filter) to `stderr`, and waits for its ready line.
    pub fn start(binary: &Path, data: &Path, log: &str, stderr: Stdio) -> Result<Server, String> {
        let mut child = Command::new(binary)
            .args(["serve", "--demo", "--data"])
            .arg(data)
            .args([
                "--bind",
                "127.0.0.1",
                "--https-port",
                "0",
                "--http-port",
                "0",
            ])
            .args([
                "--dns-port",
                "0",
                "--sip-router-port",
                "0",
                "--sip-media-port",
                "0",
            ])
            .args(["--rtp-ports", "0-0", "--admin-port", "0"])
            .env("UMBOX_LOG", log)
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .map_err(|e| e.to_string())?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let ready = loop {
            match lines.next() {
                Some(Ok(line)) if line.starts_with("umbox ready ") => break line,
                Some(Ok(_)) => continue,
                _ => return Err("umbox exited before it was ready".into()),
            }
        };
        std::thread::spawn(move || for _ in lines {});
        let field = |name: &str| {
            ready
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(name))
                .map(str::to_owned)
                .ok_or(format!("no {name} address in {ready:?}"))
        };
        Ok(Server {
            ews: format!("https://{}/EWS/Exchange.asmx", field("https=")?),
            sip: field("sip=")?,
            metrics: format!("http://{}/metrics", field("admin=")?),
            child,
        })
    }

    /// Stops the server gracefully (SIGINT, as an operator's Ctrl-C) and waits for it; its exit
    /// code.
    pub fn stop(&mut self) -> Result<i32, String> {
        let pid = self.child.id().to_string();
        let sent = Command::new("sh")
            .args(["-c", "kill -INT \"$1\"", "sh", &pid])
            .status()
            .map_err(|e| e.to_string())?;
        if !sent.success() {
            return Err(format!("kill -INT {pid} failed"));
        }
        let status = self.child.wait().map_err(|e| e.to_string())?;
        Ok(status.code().unwrap_or(-1))
    }
}

/// A SOAP envelope around an EWS request body.
pub fn soap(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Header><t:RequestServerVersion Version="Exchange2013"/></s:Header><s:Body>{body}</s:Body></s:Envelope>"#
    )
}

/// One EWS request as `user` (address, password), given up after `max_seconds`; the body of a
/// 200 answer.
pub fn ews(url: &str, user: (&str, &str), body: &str, max_seconds: u32) -> Option<String> {
    let output = Command::new("curl")
        .args(["-sk", "--max-time", &max_seconds.to_string()])
        .args(["-u", &format!("{}:{}", user.0, user.1)])
        .args([
            "-H",
            "Content-Type: text/xml; charset=utf-8",
            "-w",
            "\n%{http_code}",
        ])
        .args(["--data-binary", &soap(body), url])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n')?;
    (status == "200").then(|| body.to_owned())
}

/// The value of the unlabelled metric `name` in a scrape of `metrics_url`.
pub fn metric(metrics_url: &str, name: &str) -> Option<f64> {
    let output = Command::new("curl")
        .args(["-s", "--max-time", "5", metrics_url])
        .output()
        .ok()?;
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| {
            line.strip_prefix(name)?
                .strip_prefix(' ')?
                .trim()
                .parse()
                .ok()
        })
}

/// The text after `prefix` up to the next quote.
pub fn attribute(text: &str, prefix: &str) -> Option<String> {
    let start = text.find(prefix)? + prefix.len();
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_owned())
}

/// The text between the first `open` and the `close` after it.
pub fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(text[start..end].to_owned())
}

/// Creates `data` with a 0.3 s greeting of `user`'s own, so the audio sipp sends 2.5 s after
/// the answer falls after the beep.
pub fn with_short_greeting(data: &Path, user: &str) -> Result<(), String> {
    let greetings = data.join("greetings");
    std::fs::create_dir_all(&greetings).map_err(|e| e.to_string())?;
    // A 400 Hz square wave at 8 kHz.
    let tone: Vec<u8> = (0..2400)
        .map(|i| Law::Mu.encode_sample(if i % 20 < 10 { 6000 } else { -6000 }))
        .collect();
    let file = wav::write_g711(Law::Mu, &tone).map_err(|e| e.to_string())?;
    std::fs::write(greetings.join(format!("{user}.wav")), file).map_err(|e| e.to_string())
}

/// sipp (`voicemail_bye.xml`) depositing `calls` voice messages for alice (extension 1001) from
/// +14255550102 through the router at `router`: `rate` new calls a second, at most `limit` at
/// once, its RTP on `media_port`, each call failed after `timeout_seconds`; `extra` more options.
pub fn deposits(
    router: &str,
    (calls, rate, limit): (u32, u32, u32),
    media_port: &str,
    timeout_seconds: u32,
    extra: &[&str],
) -> Result<sipp::Background, String> {
    let router = router
        .parse()
        .map_err(|e| format!("sip address {router}: {e}"))?;
    let (rate, limit) = (rate.to_string(), limit.to_string());
    let mut options = vec![
        "-r",
        &rate,
        "-l",
        &limit,
        "-key",
        "mailbox",
        "1001",
        "-key",
        "caller",
        "+14255550102",
        "-mp",
        media_port,
        // sipp ends the whole run when its own timers fire late too often (120 times over
        // 500 ms): on a machine shared with builds that is sipp's lateness, not the server's,
        // and must not stop the load.
        "-watchdog_minor_maxtriggers",
        "1000000",
        "-watchdog_major_maxtriggers",
        "1000000",
    ];
    options.extend_from_slice(extra);
    Ok(sipp::spawn(
        "voicemail_bye.xml",
        router,
        calls,
        timeout_seconds,
        &options,
    ))
}

/// The audio (G.711 codes) of every voice message in the voicemail folder of `address`, read
/// from a stopped server's store; an error for an attachment that is not a WAV file.
pub fn voice_messages(store: &RedbStore, address: &str) -> Result<Vec<Vec<u8>>, String> {
    let mailbox = MailboxId::new(address);
    let folder = store
        .distinguished_folder(&mailbox, DistinguishedFolder::Voicemail)
        .map_err(|e| e.to_string())?;
    let mut messages = Vec::new();
    for item in store.items(&mailbox, folder).map_err(|e| e.to_string())? {
        let Some(info) = item.attachments.first() else {
            continue;
        };
        let content = store
            .attachment(&mailbox, info.id)
            .map_err(|e| e.to_string())?
            .content;
        let audio = wav::read(&content)
            .map_err(|error| format!("{address}: attachment is no WAV: {error}"))?;
        messages.push(audio.data.to_vec());
    }
    Ok(messages)
}
