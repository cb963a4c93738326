//! The authoritative DNS server as real resolvers' debugging tools see it: BIND's `dig` and Knot's
//! `kdig`, over UDP and TCP, against a `DnsServer` on 127.0.0.1 with an ephemeral port.
//!
//! Needs the `dig` and `kdig` binaries (Debian `dnsutils` and `knot-dnsutils`); CI installs them and
//! the tests fail, naming the packages, when they are missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use tokio::runtime::Runtime;
use tokio::sync::watch;
use umbox_base::config::{Dns, Site};
use umbox_dns::{DnsServer, ZoneSet};

/// A running server plus the channel that publishes its zones.
struct Harness {
    runtime: Runtime,
    server: DnsServer,
    port: u16,
    zones: watch::Sender<Arc<ZoneSet>>,
}

impl Harness {
    /// A server without response rate limiting: the functional tests send bursts of queries
    /// from one address, which is exactly what the limit is there to stop.
    fn start(site: &Site) -> Harness {
        let unlimited = Dns {
            responses_per_second: 0,
            ..Dns::default()
        };
        Harness::start_with(site, unlimited)
    }

    fn start_with(site: &Site, settings: Dns) -> Harness {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (zones, receiver) = watch::channel(Arc::new(ZoneSet::build(site, 1)));
        let (server, port) = runtime.block_on(async {
            let (udp, tcp) = bind_same_port().await;
            let port = udp.local_addr().unwrap().port();
            (
                DnsServer::start(udp, tcp, receiver, settings).unwrap(),
                port,
            )
        });
        Harness {
            runtime,
            server,
            port,
            zones,
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.port)
    }

    fn stop(self) {
        self.runtime.block_on(self.server.shutdown()).unwrap();
    }
}

/// UDP and TCP on one ephemeral port, as `dig -p` uses one port for both. The UDP port the kernel
/// picks may be taken for TCP, so a few ports are tried.
async fn bind_same_port() -> (tokio::net::UdpSocket, tokio::net::TcpListener) {
    for _ in 0..20 {
        let udp = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = udp.local_addr().unwrap();
        if let Ok(tcp) = tokio::net::TcpListener::bind(addr).await {
            return (udp, tcp);
        }
    }
    panic!("no ephemeral port was free for both UDP and TCP");
}

fn site(domains: &[&str]) -> Site {
    Site {
        domains: domains.iter().map(|d| d.to_string()).collect(),
        public_host: "mail.example.test".to_owned(),
        https_port: 8443,
        sip_port: 5060,
        sips_port: 5061,
        addresses: vec![
            IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(Ipv6Addr::LOCALHOST),
        ],
    }
}

#[derive(Debug, Clone, Copy)]
enum Tool {
    Dig,
    Kdig,
}

#[derive(Debug, Clone, Copy)]
enum Transport {
    Udp,
    Tcp,
}

const TOOLS: [Tool; 2] = [Tool::Dig, Tool::Kdig];
const TRANSPORTS: [Transport; 2] = [Transport::Udp, Transport::Tcp];

/// One resource record line: owner, TTL, class, type, rdata.
#[derive(Debug, Clone, PartialEq)]
struct Rr {
    name: String,
    ttl: u32,
    class: String,
    rtype: String,
    data: String,
}

/// What `dig`/`kdig` printed, parsed: header status and flags, and the three record sections.
#[derive(Debug, Default)]
struct Reply {
    status: String,
    flags: Vec<String>,
    answer: Vec<Rr>,
    authority: Vec<Rr>,
    additional: Vec<Rr>,
    raw: String,
}

impl Reply {
    fn has_flag(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    /// The answer section as `(name, type, rdata)`.
    fn answers(&self) -> Vec<(&str, &str, &str)> {
        self.answer
            .iter()
            .map(|rr| (rr.name.as_str(), rr.rtype.as_str(), rr.data.as_str()))
            .collect()
    }
}

impl Tool {
    fn program(self) -> &'static str {
        match self {
            Tool::Dig => "dig",
            Tool::Kdig => "kdig",
        }
    }

    /// Runs one query and parses the output. Both tools wait at most 2 s for one try.
    fn query(self, transport: Transport, server: SocketAddr, name: &str, rtype: &str) -> Reply {
        let mut command = Command::new(self.program());
        command
            .arg(format!("@{}", server.ip()))
            .arg("-p")
            .arg(server.port().to_string());
        command.arg("+norecurse");
        match self {
            Tool::Dig => command.args(["+time=2", "+tries=1"]),
            Tool::Kdig => command.args(["+timeout=2", "+retry=0"]),
        };
        if let Transport::Tcp = transport {
            command.arg("+tcp");
        }
        command.args([name, rtype]);
        let output = command
            .output()
            .unwrap_or_else(|error| missing_tool(self.program(), &error));
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{self:?} {transport:?} {name} {rtype} failed:\n{text}"
        );
        parse(&text)
    }
}

fn missing_tool(program: &str, error: &std::io::Error) -> ! {
    panic!(
        "cannot run `{program}` ({error}): install the Debian packages dnsutils (dig) and knot-dnsutils (kdig)"
    )
}

/// Parses the presentation output shared by dig and kdig: `status:` in the header line, the flags
/// line (`;; flags:` in dig, `;; Flags:` in kdig), and `;; ANSWER SECTION:`-style blocks of records.
fn parse(text: &str) -> Reply {
    let mut reply = Reply {
        raw: text.to_owned(),
        ..Reply::default()
    };
    let mut section: Option<&str> = None;
    for line in text.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            reply.status = rest
                .split([',', ';'])
                .next()
                .unwrap_or_default()
                .trim()
                .to_owned();
        }
        if let Some(rest) = line
            .strip_prefix(";; flags:")
            .or_else(|| line.strip_prefix(";; Flags:"))
        {
            let flags = rest.split(';').next().unwrap_or_default();
            reply.flags = flags.split_whitespace().map(str::to_owned).collect();
        }
        if let Some(title) = line
            .strip_prefix(";; ")
            .and_then(|l| l.strip_suffix(" SECTION:"))
        {
            section = Some(match title {
                "ANSWER" | "AUTHORITY" | "ADDITIONAL" => title,
                _ => "",
            });
            continue;
        }
        if line.trim().is_empty() || line.starts_with(';') {
            if line.trim().is_empty() {
                section = None;
            }
            continue;
        }
        let target = match section {
            Some("ANSWER") => &mut reply.answer,
            Some("AUTHORITY") => &mut reply.authority,
            Some("ADDITIONAL") => &mut reply.additional,
            _ => continue,
        };
        let mut fields = line.split_whitespace();
        let rr = Rr {
            name: fields.next().unwrap().to_owned(),
            ttl: fields.next().unwrap().parse().unwrap(),
            class: fields.next().unwrap().to_owned(),
            rtype: fields.next().unwrap().to_owned(),
            data: fields.collect::<Vec<_>>().join(" "),
        };
        target.push(rr);
    }
    reply
}

/// A positive authoritative answer whose answer section is exactly `expected`.
fn assert_answer(reply: &Reply, expected: &[(&str, &str, &str)]) {
    assert_eq!(reply.status, "NOERROR", "{}", reply.raw);
    assert!(reply.has_flag("aa"), "aa missing:\n{}", reply.raw);
    let mut got = reply.answers();
    got.sort();
    let mut expected = expected.to_vec();
    expected.sort();
    assert_eq!(got, expected, "{}", reply.raw);
    assert!(
        reply
            .answer
            .iter()
            .all(|rr| rr.ttl == 300 && rr.class == "IN"),
        "{}",
        reply.raw
    );
}

/// An authoritative negative answer: `status`, no answers, the zone's SOA in the authority section.
fn assert_negative(reply: &Reply, status: &str, apex: &str) {
    assert_eq!(reply.status, status, "{}", reply.raw);
    assert!(reply.has_flag("aa"), "aa missing:\n{}", reply.raw);
    assert!(reply.answer.is_empty(), "{}", reply.raw);
    let [soa] = reply.authority.as_slice() else {
        panic!("one SOA expected:\n{}", reply.raw)
    };
    assert_eq!(
        (soa.name.as_str(), soa.rtype.as_str()),
        (apex, "SOA"),
        "{}",
        reply.raw
    );
    assert!(
        soa.data.starts_with("mail.example.test. hostmaster."),
        "{}",
        reply.raw
    );
}

#[test]
fn dig_and_kdig_over_udp_and_tcp() {
    let harness = Harness::start(&site(&["example.test", "other.test"]));
    let server = harness.addr();
    for tool in TOOLS {
        for transport in TRANSPORTS {
            let ask = |name: &str, rtype: &str| tool.query(transport, server, name, rtype);

            assert_answer(
                &ask("example.test", "A"),
                &[("example.test.", "A", "127.0.0.1")],
            );
            assert_answer(
                &ask("autodiscover.example.test", "AAAA"),
                &[("autodiscover.example.test.", "AAAA", "::1")],
            );
            assert_answer(
                &ask("mail.example.test", "A"),
                &[("mail.example.test.", "A", "127.0.0.1")],
            );

            let srv = ask("_autodiscover._tcp.example.test", "SRV");
            assert_answer(
                &srv,
                &[(
                    "_autodiscover._tcp.example.test.",
                    "SRV",
                    "0 0 8443 mail.example.test.",
                )],
            );
            let glue: Vec<_> = srv
                .additional
                .iter()
                .map(|rr| (rr.name.as_str(), rr.data.as_str()))
                .collect();
            assert!(
                glue.contains(&("mail.example.test.", "127.0.0.1")),
                "{}",
                srv.raw
            );
            assert!(glue.contains(&("mail.example.test.", "::1")), "{}", srv.raw);
            assert_answer(
                &ask("_sip._udp.other.test", "SRV"),
                &[(
                    "_sip._udp.other.test.",
                    "SRV",
                    "0 0 5060 mail.example.test.",
                )],
            );
            assert_answer(
                &ask("_sips._tcp.example.test", "SRV"),
                &[(
                    "_sips._tcp.example.test.",
                    "SRV",
                    "0 0 5061 mail.example.test.",
                )],
            );

            assert_answer(
                &ask("example.test", "SOA"),
                &[(
                    "example.test.",
                    "SOA",
                    "mail.example.test. hostmaster.example.test. 1 3600 900 604800 300",
                )],
            );
            assert_answer(
                &ask("other.test", "NS"),
                &[("other.test.", "NS", "mail.example.test.")],
            );

            assert_negative(&ask("nope.example.test", "A"), "NXDOMAIN", "example.test.");
            assert_negative(&ask("nope.other.test", "SRV"), "NXDOMAIN", "other.test.");
            assert_negative(&ask("example.test", "MX"), "NOERROR", "example.test.");
            assert_negative(
                &ask("AutoDiscover.Example.TEST", "TXT"),
                "NOERROR",
                "example.test.",
            );

            let refused = ask("example.com", "A");
            assert_eq!(refused.status, "REFUSED", "{}", refused.raw);
            assert!(!refused.has_flag("aa"), "{}", refused.raw);
            assert!(
                refused.answer.is_empty() && refused.authority.is_empty(),
                "{}",
                refused.raw
            );
        }
    }
    harness.stop();
}

#[test]
fn published_zone_set_is_served_without_restart() {
    let harness = Harness::start(&site(&["example.test", "other.test"]));
    let server = harness.addr();
    let refused = Tool::Dig.query(Transport::Udp, server, "third.test", "SOA");
    assert_eq!(refused.status, "REFUSED", "{}", refused.raw);

    harness
        .zones
        .send(Arc::new(ZoneSet::build(
            &site(&["example.test", "other.test", "third.test"]),
            2,
        )))
        .unwrap();

    for tool in TOOLS {
        for transport in TRANSPORTS {
            assert_answer(
                &tool.query(transport, server, "third.test", "SOA"),
                &[(
                    "third.test.",
                    "SOA",
                    "mail.example.test. hostmaster.third.test. 2 3600 900 604800 300",
                )],
            );
            assert_answer(
                &tool.query(transport, server, "_autodiscover._tcp.third.test", "SRV"),
                &[(
                    "_autodiscover._tcp.third.test.",
                    "SRV",
                    "0 0 8443 mail.example.test.",
                )],
            );
        }
    }
    harness.stop();
}

/// A DNS header (RFC 1035 §4.1.1): id, flags word, then QDCOUNT/ANCOUNT/NSCOUNT/ARCOUNT.
fn header(id: u16, flags: u16, qdcount: u16) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [id, flags, qdcount, 0, 0, 0] {
        bytes.extend_from_slice(&word.to_be_bytes());
    }
    bytes
}

/// Sends `packet` and returns the reply's id, flags word and counts.
fn exchange(socket: &std::net::UdpSocket, packet: &[u8]) -> (u16, u16, [u16; 4]) {
    socket.send(packet).unwrap();
    let mut buf = [0u8; 512];
    let len = socket
        .recv(&mut buf)
        .expect("a reply within the read timeout");
    assert!(len >= 12, "short reply {:?}", &buf[..len]);
    let word = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
    (word(0), word(2), [word(4), word(6), word(8), word(10)])
}

const QR: u16 = 0x8000;
const AA: u16 = 0x0400;

#[test]
fn bad_packets_are_answered_or_dropped_and_the_server_keeps_serving() {
    let harness = Harness::start(&site(&["example.test", "other.test"]));
    let server = harness.addr();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(server).unwrap();
    // Bounds the wait for a reply that never comes if the server is broken; not a timing assertion.
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();

    // Too short to hold a header: nothing to answer, dropped.
    socket.send(b"\x13\x37junk").unwrap();

    // A whole header announcing a question that is not there: FORMERR with the id echoed.
    let (id, flags, _) = exchange(&socket, &header(0xBEEF, 0x0100, 1));
    assert_eq!(id, 0xBEEF);
    assert_eq!(flags & QR, QR, "a response");
    assert_eq!(flags & 0x000F, 1, "FORMERR");

    // A header followed by garbage where the question should be.
    let mut garbage = header(0xCAFE, 0x0000, 1);
    garbage.extend_from_slice(&[0xff; 40]);
    let (id, flags, _) = exchange(&socket, &garbage);
    assert_eq!((id, flags & 0x000F), (0xCAFE, 1), "FORMERR");

    // A well-formed NOTIFY (opcode 4) for our zone: not implemented, not authoritative.
    let mut notify = header(0x0F0F, 4 << 11, 1);
    for label in ["example", "test"] {
        notify.push(label.len() as u8);
        notify.extend_from_slice(label.as_bytes());
    }
    notify.extend_from_slice(&[0, 0, 6, 0, 1]); // root, QTYPE SOA, QCLASS IN
    let (id, flags, _) = exchange(&socket, &notify);
    assert_eq!((id, flags & 0x000F, flags & AA), (0x0F0F, 4, 0), "NOTIMP");
    assert_eq!((flags >> 11) & 0xF, 4, "opcode echoed");

    // Still serving.
    assert_answer(
        &Tool::Dig.query(Transport::Udp, server, "example.test", "A"),
        &[("example.test.", "A", "127.0.0.1")],
    );
    assert_answer(
        &Tool::Kdig.query(Transport::Tcp, server, "example.test", "AAAA"),
        &[("example.test.", "AAAA", "::1")],
    );
    harness.stop();
}

/// A standard query for `example.test SOA` with id `id`.
fn soa_query(id: u16) -> Vec<u8> {
    let mut query = header(id, 0x0000, 1);
    for label in ["example", "test"] {
        query.push(label.len() as u8);
        query.extend_from_slice(label.as_bytes());
    }
    query.extend_from_slice(&[0, 0, 6, 0, 1]);
    query
}

const TC: u16 = 0x0200;

#[test]
fn a_udp_flood_is_rate_limited_with_slip_while_tcp_and_dig_still_get_answers() {
    let settings = Dns {
        responses_per_second: 3,
        slip: 1,
    };
    let harness = Harness::start_with(&site(&["example.test"]), settings);
    let server = harness.addr();
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    socket.connect(server).unwrap();
    // Bounds the wait for a reply that never comes if the server is broken; not a timing assertion.
    socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    // With slip 1 every limited response is sent truncated, so each query gets exactly one reply.
    let replies: Vec<_> = (0..20)
        .map(|id| exchange(&socket, &soa_query(id)))
        .collect();
    for (id, flags, counts) in &replies[..3] {
        assert_eq!(flags & TC, 0, "query {id} is within the burst");
        assert_eq!(counts[1], 1, "query {id} is answered");
    }
    let truncated: Vec<_> = replies
        .iter()
        .filter(|(_, flags, _)| flags & TC == TC)
        .collect();
    assert!(!truncated.is_empty(), "{replies:?}");
    for (id, flags, counts) in truncated {
        assert_eq!(flags & QR, QR, "{id}");
        assert_eq!(
            counts[1..],
            [0, 0, 0],
            "a truncated reply carries no records"
        );
    }
    // A real resolver takes TC as a cue to ask over TCP, which is never limited.
    for tool in TOOLS {
        let reply = tool.query(Transport::Tcp, server, "example.test", "SOA");
        assert_eq!(reply.status, "NOERROR");
        assert_eq!(reply.answer.len(), 1, "{}", reply.raw);
    }
    harness.stop();
}

/// Sends `message` framed for TCP (RFC 1035 §4.2.2).
fn send_framed(stream: &mut std::net::TcpStream, message: &[u8]) {
    use std::io::Write;
    let length = u16::try_from(message.len()).unwrap().to_be_bytes();
    stream.write_all(&length).unwrap();
    stream.write_all(message).unwrap();
}

/// Reads one framed reply: its id, flags word and counts; `None` when the server closed.
fn read_framed(stream: &mut std::net::TcpStream) -> Option<(u16, u16, [u16; 4])> {
    use std::io::Read;
    let mut length = [0u8; 2];
    stream.read_exact(&mut length).ok()?;
    let mut reply = vec![0u8; usize::from(u16::from_be_bytes(length))];
    stream.read_exact(&mut reply).unwrap();
    let word = |i: usize| u16::from_be_bytes([reply[i], reply[i + 1]]);
    Some((word(0), word(2), [word(4), word(6), word(8), word(10)]))
}

#[test]
fn tcp_answers_pipelined_queries_in_order_and_bad_messages_with_formerr() {
    let harness = Harness::start(&site(&["example.test"]));
    let mut stream = std::net::TcpStream::connect(harness.addr()).unwrap();
    // Bounds the wait for a reply that never comes if the server is broken; not a timing assertion.
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();

    // Three messages in one write burst: two queries around one whose question is garbage.
    let mut garbage = header(0xCAFE, 0x0000, 1);
    garbage.extend_from_slice(&[0xff; 40]);
    for message in [soa_query(1), garbage, soa_query(2)] {
        send_framed(&mut stream, &message);
    }
    let first = read_framed(&mut stream).unwrap();
    assert_eq!((first.0, first.1 & QR, first.2[1]), (1, QR, 1), "answered");
    let bad = read_framed(&mut stream).unwrap();
    assert_eq!((bad.0, bad.1 & 0x000F), (0xCAFE, 1), "FORMERR");
    let second = read_framed(&mut stream).unwrap();
    assert_eq!((second.0, second.2[1]), (2, 1), "answered in order");

    // A message too short for a header: nothing to answer, so the connection is closed.
    send_framed(&mut stream, b"\x13\x37junk");
    assert_eq!(read_framed(&mut stream), None);

    // The listener goes on serving.
    assert_answer(
        &Tool::Kdig.query(Transport::Tcp, harness.addr(), "example.test", "A"),
        &[("example.test.", "A", "127.0.0.1")],
    );
    harness.stop();
}
