//! The DNS zone of the running binary follows its configuration file without a restart, as `dig` sees it.

use std::process::Command;

use crate::harness::{temp_dir, Server};

fn dig(server: &Server, args: &[&str]) -> String {
    let out = Command::new("dig")
        .arg(format!("@{}", server.dns.ip()))
        .args(["-p", &server.dns.port().to_string(), "+time=5", "+tries=1"])
        .args(args)
        .output()
        .expect("dig is installed (apt-get install dnsutils)");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn config(data: &std::path::Path, domains: &str, host: &str) -> String {
    format!(
        "data_dir = \"{}\"\ndomains = [{domains}]\n[public]\nhost = \"{host}\"\nhttps_port = 443\naddresses = [\"192.0.2.10\", \"2001:db8::10\"]\n",
        data.display()
    )
}

#[test]
fn zone_follows_config_changes_without_restart() {
    let data = temp_dir("dns-reload");
    let file = data.join("umbox.toml");
    std::fs::write(
        &file,
        config(&data, "\"example.test\"", "mail.example.test"),
    )
    .unwrap();
    let server = Server::with_config(data.join("data"), file.clone());

    let srv = dig(&server, &["_autodiscover._tcp.example.test", "SRV"]);
    assert!(
        srv.contains("status: NOERROR") && srv.contains("SRV\t0 0 443 mail.example.test."),
        "{srv}"
    );
    let aaaa = dig(&server, &["autodiscover.example.test", "AAAA", "+tcp"]);
    assert!(aaaa.contains("2001:db8::10"), "{aaaa}");
    let refused = dig(&server, &["corp.test", "SOA"]);
    assert!(refused.contains("status: REFUSED"), "{refused}");

    std::fs::write(
        &file,
        config(&data, "\"example.test\", \"corp.test\"", "ews.corp.test"),
    )
    .unwrap();
    server.wait_for_log("reloaded directory and configuration");

    let soa = dig(&server, &["corp.test", "SOA"]);
    assert!(
        soa.contains("status: NOERROR") && soa.contains("ews.corp.test. hostmaster.corp.test."),
        "{soa}"
    );
    let srv = dig(&server, &["_autodiscover._tcp.example.test", "SRV"]);
    assert!(srv.contains("SRV\t0 0 443 ews.corp.test."), "{srv}");
    let host = dig(&server, &["ews.corp.test", "A"]);
    assert!(host.contains("192.0.2.10"), "{host}");

    // A broken edit is reported and the last good zone keeps being served.
    std::fs::write(&file, "domains = [\"bad domain\"]\n").unwrap();
    server.wait_for_log("configuration not reloaded");
    assert!(dig(&server, &["corp.test", "SOA"]).contains("status: NOERROR"));
    let _ = std::fs::remove_dir_all(&data);
}

/// `serve --demo --config F --data D` with ports on the command line and no `domains` in F: a
/// reload applies the command line again, so it serves the demo domain under F's new public host
/// and warns about nothing (the flags did not "change" the listeners, and F is not "missing" a
/// domain).
#[test]
fn a_reload_keeps_the_command_line_overrides() {
    let data = temp_dir("reload-overrides");
    let file = data.join("umbox.toml");
    let public = |host: &str| format!("[public]\nhost = \"{host}\"\nhttps_port = 443\n");
    std::fs::write(&file, public("mail.example.test")).unwrap();
    let server = Server::demo_with_config(data.join("data"), file.clone());
    let srv = dig(&server, &["_autodiscover._tcp.example.test", "SRV"]);
    assert!(srv.contains("SRV\t0 0 443 mail.example.test."), "{srv}");

    std::fs::write(&file, public("ews.example.test")).unwrap();
    let lines = server.log_until("reloaded directory and configuration");
    let warnings: Vec<_> = lines
        .iter()
        .filter(|l| l.contains("not reloaded") || l.contains("next start"))
        .collect();
    assert!(warnings.is_empty(), "{warnings:?}");
    let srv = dig(&server, &["_autodiscover._tcp.example.test", "SRV"]);
    assert!(srv.contains("SRV\t0 0 443 ews.example.test."), "{srv}");
}
