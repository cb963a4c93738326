//! Starts the real `umbox` binary on ephemeral loopback ports with a fresh data directory, and
//! runs the real client programs (curl, dig, kdig, xmllint) against it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

/// A running server; killed and its data directory removed on drop.
pub struct Server {
    child: Child,
    pub https: SocketAddr,
    pub http: SocketAddr,
    pub dns: SocketAddr,
    /// The SIP call router (UDP and TCP).
    pub sip_router: SocketAddr,
    /// The SIP media server (UDP and TCP).
    pub sip_media: SocketAddr,
    /// Health and metrics (plain HTTP).
    pub admin: SocketAddr,
    pub data: PathBuf,
    log: Receiver<String>,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty directory under the system temp dir, kept after the test (a server's data
/// directory outlives the `Server` that used it across a restart); tests remove it when done.
pub fn temp_dir(tag: &str) -> PathBuf {
    umbox_testkit::temp_dir(&format!("it-{tag}")).keep()
}

pub fn umbox() -> Command {
    Command::new(env!("CARGO_BIN_EXE_umbox"))
}

impl Server {
    /// `umbox serve --demo` on ephemeral ports.
    pub fn demo() -> Server {
        let data = temp_dir("data");
        Server::spawn(data, None, &["--demo"])
    }

    /// `umbox serve --demo` on ephemeral ports over an existing data directory (e.g. a mailbox
    /// store a test filled through the store's API before the server opened it).
    pub fn demo_in(data: PathBuf) -> Server {
        Server::spawn(data, None, &["--demo"])
    }

    /// [`Server::demo_in`] logging with `filter` (`UMBOX_LOG`) instead of `info`.
    pub fn demo_in_logging(data: PathBuf, filter: &str) -> Server {
        let mut command = Server::command(&data, None, &["--demo"]);
        command.env("UMBOX_LOG", filter);
        Server::run(command, data)
    }

    /// `umbox serve --demo --config FILE` on ephemeral ports over an existing data directory.
    pub fn demo_with_config(data: PathBuf, config: PathBuf) -> Server {
        Server::spawn(data, Some(config), &["--demo"])
    }

    /// `umbox serve --config FILE` with ephemeral ports.
    pub fn with_config(data: PathBuf, config: PathBuf) -> Server {
        Server::spawn(data, Some(config), &[])
    }

    /// Stops the server and hands back its data directory, kept for a restart ([`Server::demo_in`]).
    pub fn stop(mut self) -> PathBuf {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::take(&mut self.data)
    }

    /// `umbox serve --demo` inside network namespace `netns` on the standard ports (443, 80, 53),
    /// where clients that insist on them (exchangelib's autodiscovery) can reach it.
    pub fn demo_in_netns(netns: &NetNs) -> Server {
        let data = temp_dir("data");
        let mut command = netns.command(env!("CARGO_BIN_EXE_umbox"));
        command.arg("serve").arg("--demo").arg("--data").arg(&data);
        command.args([
            "--bind",
            "127.0.0.1",
            "--https-port",
            "443",
            "--http-port",
            "80",
        ]);
        command.args(["--dns-port", "53"]);
        Server::run(command, data)
    }

    /// `umbox serve --demo` on ephemeral ports with `NOTIFY_SOCKET` set, as systemd starts a
    /// `Type=notify` service.
    pub fn demo_notifying(socket: &Path) -> Server {
        let data = temp_dir("data");
        let mut command = Server::command(&data, None, &["--demo"]);
        command.env("NOTIFY_SOCKET", socket);
        Server::run(command, data)
    }

    fn spawn(data: PathBuf, config: Option<PathBuf>, extra: &[&str]) -> Server {
        let command = Server::command(&data, config.as_deref(), extra);
        Server::run(command, data)
    }

    fn command(data: &Path, config: Option<&Path>, extra: &[&str]) -> Command {
        let mut command = umbox();
        command.arg("serve").arg("--data").arg(data);
        if let Some(config) = config {
            command.arg("--config").arg(config);
        }
        command.args([
            "--bind",
            "127.0.0.1",
            "--https-port",
            "0",
            "--http-port",
            "0",
        ]);
        command.args(["--dns-port", "0"]);
        // SIP on ephemeral ports too, and RTP sockets on whatever port the system picks.
        command.args(["--sip-router-port", "0", "--sip-media-port", "0"]);
        command
            .args(["--rtp-ports", "0-0", "--admin-port", "0"])
            .args(extra);
        command
    }

    fn run(mut command: Command, data: PathBuf) -> Server {
        if !command.get_envs().any(|(name, _)| name == "UMBOX_LOG") {
            command.env("UMBOX_LOG", "info");
        }
        command
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("umbox starts");
        let stderr = child.stderr.take().unwrap();
        let (log_tx, log) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("[umbox] {line}");
                if log_tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        // The server prints a fixed number of lines before `ready`; a dead server ends the stream.
        let ready = loop {
            match lines.next() {
                Some(Ok(line)) if line.starts_with("umbox ready ") => break line,
                Some(Ok(_)) => continue,
                _ => {
                    let status = child.wait().unwrap();
                    panic!("umbox exited before it was ready: {status}");
                }
            }
        };
        // Keep draining stdout so the server never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        let field = |name: &str| -> SocketAddr {
            ready
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                .unwrap()
                .parse()
                .unwrap()
        };
        Server {
            https: field("https"),
            http: field("http"),
            dns: field("dns"),
            sip_router: field("sip"),
            sip_media: field("media"),
            admin: field("admin"),
            child,
            data,
            log,
        }
    }

    /// Waits (at most 30 s) for a log line containing `needle`, e.g. the reload announcement.
    pub fn wait_for_log(&self, needle: &str) -> String {
        self.log_until(needle).pop().unwrap_or_default()
    }

    /// Every log line up to and including the first containing `needle` (waiting at most 30 s).
    pub fn log_until(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.log.recv_timeout(left) {
                Ok(line) => {
                    let found = line.contains(needle);
                    lines.push(line);
                    if found {
                        return lines;
                    }
                }
                Err(_) => panic!("no log line containing {needle:?} within 30 s"),
            }
        }
    }

    /// `https://127.0.0.1:PORT{path}`.
    pub fn https_url(&self, path: &str) -> String {
        format!("https://{}{path}", self.https)
    }

    /// Runs `umbox <args> --data <this server's data dir>` and returns (success, stdout, stderr).
    pub fn admin(&self, args: &[&str]) -> (bool, String, String) {
        admin(&self.data, args)
    }
}

impl Server {
    /// Stops the server the way Ctrl-C does (SIGINT) and waits for it, keeping the data directory
    /// so a test can open the store it left.
    pub fn interrupt(&mut self) {
        self.signal("INT");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "umbox exited with {status} after SIGINT");
    }

    /// Sends the server signal `name` (`HUP`, `TERM`…) with kill(1).
    pub fn signal(&self, name: &str) {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill")
            .args([&format!("-{name}"), &pid])
            .status()
            .unwrap();
        assert!(sent.success(), "kill -{name} {pid}");
    }

    /// Waits for the server to exit and returns its status.
    pub fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !self.data.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.data);
        }
    }
}

/// Runs an admin command against a data directory.
pub fn admin(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = umbox().args(args).arg("--data").arg(data).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs an admin command that must succeed; returns what it printed.
pub fn admin_ok(data: &Path, args: &[&str]) -> String {
    let (success, out, err) = admin(data, args);
    assert!(success, "{args:?}: {err}");
    out
}

/// What curl saw.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: String,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.trim()
                .eq_ignore_ascii_case(name)
                .then(|| v.trim().to_owned())
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Runs the real curl with `args` (the URL among them), insecure TLS for our self-signed certificate.
pub fn curl(args: &[&str]) -> Reply {
    let dir = temp_dir("curl");
    let headers = dir.join("headers");
    let body = dir.join("body");
    let out = Command::new("curl")
        .args(["-sS", "-k", "--max-time", "30", "-o"])
        .arg(&body)
        .arg("-D")
        .arg(&headers)
        .args(["-w", "%{http_code}"])
        .args(args)
        .output()
        .expect("curl is installed (apt-get install curl)");
    let status = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .unwrap_or(0);
    let reply = Reply {
        status,
        headers: std::fs::read_to_string(&headers).unwrap_or_default(),
        body: std::fs::read(&body).unwrap_or_default(),
    };
    let _ = std::fs::remove_dir_all(&dir);
    reply
}

/// Validates `xml` against `schemas/<schema>` with the real xmllint; panics with its message.
pub fn assert_valid(xml: &[u8], schema: &str) {
    let dir = temp_dir("xsd");
    let file = dir.join("doc.xml");
    std::fs::write(&file, xml).unwrap();
    let schema_path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(schema);
    let out = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema_path)
        .arg(&file)
        .output()
        .expect("xmllint is installed (apt-get install libxml2-utils)");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "{} does not validate against {schema}: {}\n{}",
        String::from_utf8_lossy(xml),
        String::from_utf8_lossy(&out.stderr),
        ""
    );
}

/// A network namespace of the test's own, with loopback up and a resolver that asks 127.0.0.1
/// (where a server started inside answers DNS); removed on drop. Needs root, as CI has.
pub struct NetNs {
    pub name: String,
}

impl NetNs {
    pub fn new() -> NetNs {
        let name = format!(
            "umbox-it-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let status = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .expect("ip (iproute2) is installed");
        assert!(
            status.success(),
            "ip netns add {name} failed: these tests need root (CI runs as root)"
        );
        let etc = Path::new("/etc/netns").join(&name);
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join("resolv.conf"), "nameserver 127.0.0.1\n").unwrap();
        let up = Command::new("ip")
            .args(["netns", "exec", &name, "ip", "link", "set", "lo", "up"])
            .status()
            .unwrap();
        assert!(up.success());
        NetNs { name }
    }

    /// A command that runs `program` inside the namespace.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new("ip");
        command.args(["netns", "exec", &self.name, program]);
        command
    }
}

impl Drop for NetNs {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
        let _ = std::fs::remove_dir_all(Path::new("/etc/netns").join(&self.name));
    }
}

/// The Python that has exchangelib: $UMBOX_PYTHON, else the venv scripts/test creates.
pub fn exchangelib_python() -> PathBuf {
    if let Some(python) = std::env::var_os("UMBOX_PYTHON") {
        return PathBuf::from(python);
    }
    let venv =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/exchangelib/.venv/bin/python");
    assert!(
        venv.exists(),
        "exchangelib is not installed: run scripts/test (it creates {})",
        venv.display()
    );
    venv
}

/// Runs `tests/interop/exchangelib/<script>` with exchangelib against `server`'s EWS endpoint as
/// alice (`UMBOX_EWS_URL`, `UMBOX_USER`, `UMBOX_PASSWORD`), with `env` added; its standard output,
/// once it has exited 0 (the test fails with both outputs otherwise).
pub fn run_exchangelib(
    server: &Server,
    script: &str,
    env: &[(&str, &dyn AsRef<std::ffi::OsStr>)],
) -> String {
    let python = exchangelib_python();
    let mut command = Command::new(&python);
    command
        .args(["-W", "ignore"])
        .arg(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/interop/exchangelib")
                .join(script),
        )
        .env("UMBOX_EWS_URL", server.https_url("/EWS/Exchange.asmx"))
        .env("UMBOX_USER", "alice@example.test")
        .env("UMBOX_PASSWORD", "demo-alice");
    for (name, value) in env {
        command.env(name, value);
    }
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python.display()));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{script} failed after:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}
