//! Golden tests: every case under `fixtures/<surface>/<ok|err>/<case>/` runs through its surface's
//! pure entry point, and the response is compared with the case's `expected.xml`.
//!
//! A case is a folder with `request.xml`, `expected.xml`, `notes.md` (the spec section or client
//! behaviour it pins down) and an optional `case.toml`. Cases run in sorted order; every failure is
//! collected and reported with the case's name. Both sides are re-indented before comparing, and
//! values that legitimately vary (the `Time` and `Id` of a POX `Error`) are masked. An `ok` case
//! must not be an error response; an `err` case must be one. `UPDATE_EXPECT=1` rewrites the
//! expected files from the actual responses.
//!
//! Every expected and every actual response is validated with the real `xmllint` against the
//! surface's schema in `schemas/`. Adding a surface (EWS) means adding a [`Surface`] and a
//! `#[test]` that calls [`check`]; the runner itself does not change.

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use quick_xml::events::{BytesStart, BytesText, Event};
use serde::Deserialize;
use umbox_autodiscover::{self as autodiscover, Reply, Request};
use umbox_base::config::Site;
use umbox_base::directory::{Directory, Right};
use umbox_store::props::{tags, FileTime, PropKey, PropValue};
use umbox_store::{
    Change, DistinguishedFolder, MailStore, MailboxId, Options, Outcome as Committed, RedbStore,
};
use umbox_xml::{self as xml, Element, Limits};

/// A protocol surface with golden fixtures.
struct Surface {
    /// Folder under `fixtures/`.
    name: &'static str,
    /// Runs one case.
    run: fn(&World, &Case) -> Result<Outcome, String>,
}

/// One fixture folder.
struct Case {
    /// `ok/<name>` or `err/<name>`, as reported.
    id: String,
    /// The folder's own name.
    name: String,
    dir: PathBuf,
    /// Whether the case lives under `err/`.
    expects_error: bool,
    request: Vec<u8>,
    settings: CaseToml,
}

/// `case.toml`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct CaseToml {
    /// `pox` or `soap`; by default the case name's prefix (`pox_…`, `soap_…`).
    endpoint: Option<String>,
    /// The authenticated caller's primary address; by default alice.
    caller: Option<String>,
}

/// What a surface made of a case.
struct Outcome {
    body: Vec<u8>,
    /// Schema file under `schemas/` the body must validate against.
    schema: &'static str,
    /// Whether the response reports a failure (fault, POX error, failed request).
    is_error: bool,
}

/// The fixed environment every case runs in.
struct World {
    site: Site,
    directory: Directory,
    now: SystemTime,
}

fn world() -> World {
    let mut directory = Directory::demo().unwrap();
    let alice = directory
        .users
        .iter_mut()
        .find(|u| u.address == "alice@example.test")
        .unwrap();
    alice
        .proxy_addresses
        .push("alice.anders@example.test".to_owned());
    let mut helpdesk = directory
        .users
        .iter()
        .find(|u| u.address == "bob@example.test")
        .unwrap()
        .clone();
    helpdesk.address = "helpdesk@example.test".to_owned();
    helpdesk.display_name = "Help Desk".to_owned();
    helpdesk.sip_uri = None;
    helpdesk.extensions.clear();
    helpdesk.line_uri = None;
    helpdesk.calling_line_ids.clear();
    helpdesk.rights = vec![Right::Impersonation];
    directory.users.push(helpdesk);
    directory.validate().unwrap();
    World {
        site: Site {
            domains: vec!["example.test".to_owned()],
            public_host: "mail.example.test".to_owned(),
            https_port: 8443,
            sip_port: 5060,
            sips_port: 5061,
            addresses: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        },
        directory,
        // 2026-01-01T13:14:15.1234567Z
        now: UNIX_EPOCH + Duration::new(1_767_273_255, 123_456_700),
    }
}

const AUTODISCOVER: Surface = Surface {
    name: "autodiscover",
    run: run_autodiscover,
};

#[test]
fn autodiscover() {
    check(&AUTODISCOVER);
}

fn run_autodiscover(world: &World, case: &Case) -> Result<Outcome, String> {
    let caller_address = case
        .settings
        .caller
        .as_deref()
        .unwrap_or("alice@example.test");
    let caller = world
        .directory
        .user_by_address(caller_address)
        .ok_or_else(|| format!("caller {caller_address} is not in the test directory"))?;
    let request = Request {
        body: &case.request,
        caller,
        directory: &world.directory,
        site: &world.site,
        now: world.now,
    };
    let endpoint = match &case.settings.endpoint {
        Some(endpoint) => endpoint.as_str(),
        None => case.name.split('_').next().unwrap_or_default(),
    };
    let (reply, schema): (Reply, _) = match endpoint {
        "pox" => (autodiscover::pox(&request), "autodiscover-pox.xsd"),
        "soap" => (autodiscover::soap(&request), "autodiscover-soap.xsd"),
        other => {
            return Err(format!(
                "unknown endpoint {other:?}; name the case pox_… or soap_… or set it in case.toml"
            ))
        }
    };
    if reply.content_type != autodiscover::CONTENT_TYPE {
        return Err(format!("content type {:?}", reply.content_type));
    }
    let root = xml::parse(&reply.body, &Limits::DEFAULT)
        .map_err(|e| format!("reply does not parse: {e}"))?;
    let is_error = if endpoint == "pox" {
        if reply.status != 200 {
            return Err(format!("POX answered HTTP {}", reply.status));
        }
        first_child(&root)
            .and_then(first_child)
            .is_some_and(|e| e.name() == "Error")
    } else {
        // Envelope, then Body (the last child, after any Header), then the message.
        let message = root.children().last().and_then(first_child);
        let is_fault = message.is_some_and(|m| m.is(xml::ns::SOAP_ENVELOPE, "Fault"));
        if is_fault != (reply.status == 500) {
            return Err(format!("HTTP {} with fault = {is_fault}", reply.status));
        }
        let response_code = message
            .and_then(first_child)
            .and_then(first_child)
            .filter(|code| code.name() == "ErrorCode")
            .map(Element::text);
        is_fault || response_code != Some("NoError")
    };
    Ok(Outcome {
        body: reply.body,
        schema,
        is_error,
    })
}

const EWS: Surface = Surface {
    name: "ews",
    run: run_ews,
};

#[test]
fn ews() {
    check(&EWS);
}

/// Runs an EWS case against a fresh store holding [`seed_ews`]'s mailbox, with ids sealed under a
/// fixed key, so ids, change keys and times in the responses are the same on every run.
fn run_ews(world: &World, case: &Case) -> Result<Outcome, String> {
    use umbox_ews as ews;
    let caller_address = case
        .settings
        .caller
        .as_deref()
        .unwrap_or("alice@example.test");
    let caller = world
        .directory
        .user_by_address(caller_address)
        .ok_or_else(|| format!("caller {caller_address} is not in the test directory"))?;
    let scratch = umbox_testkit::temp_dir(&format!("golden-ews-{}", case.name));
    let dir = scratch.path();
    let store = RedbStore::open(dir, Options::default()).map_err(|e| e.to_string())?;
    seed_ews(&store, world.now)?;
    let ids = ews::ids::IdCodec::from_key(b"umbox golden fixtures");
    let notify = umbox_notify::Hub::open(
        std::sync::Arc::new(store.clone()),
        umbox_base::config::Notifications::default(),
        std::sync::Arc::new(umbox_base::clock::FixedClock(world.now)),
        std::sync::Arc::new(umbox_notify::RandomIds::default()),
    )
    .map_err(|e| e.to_string())?;
    let ctx = ews::Context {
        caller,
        directory: &world.directory,
        site: &world.site,
        store: &store,
        ids: &ids,
        now: world.now,
        limits: ews::Limits::default(),
        notify: &notify,
    };
    // `setup.xml` runs first; the ids it returns replace `$ITEMn`, `$CKn` and `$ATTn` in the request.
    let mut request = case.request.clone();
    if let Ok(setup) = std::fs::read(case.dir.join("setup.xml")) {
        let reply = ews::handle(&setup, ctx);
        let body = String::from_utf8(reply.body).map_err(|e| e.to_string())?;
        if reply.status != 200 || body.contains("ResponseClass=\"Error\"") {
            return Err(format!("setup.xml failed: {body}"));
        }
        let mut text = String::from_utf8(request).map_err(|e| e.to_string())?;
        for (placeholder, value) in placeholders(&body)? {
            text = text.replace(&placeholder, &value);
        }
        request = text.into_bytes();
    }
    let reply = ews::handle(&request, ctx);
    drop(notify);
    drop(store);
    drop(scratch);
    let root = xml::parse(&reply.body, &Limits::DEFAULT)
        .map_err(|e| format!("reply does not parse: {e}"))?;
    let message = root.children().last().and_then(first_child);
    let is_fault = message.is_some_and(|m| m.is(xml::ns::SOAP_ENVELOPE, "Fault"));
    if is_fault != (reply.status == 500) {
        return Err(format!("HTTP {} with fault = {is_fault}", reply.status));
    }
    // Response messages sit two levels below the operation's response element.
    let failed_message = message
        .into_iter()
        .flat_map(Element::children)
        .flat_map(Element::children)
        .any(|m| m.attribute("", "ResponseClass") == Some("Error"));
    Ok(Outcome {
        body: reply.body,
        schema: "ews-messages.xsd",
        is_error: is_fault || failed_message,
    })
}

/// The ids of a setup response by placeholder: the n-th ItemId as `$ITEMn` (its change key as
/// `$CKn`) and the n-th AttachmentId as `$ATTn`, longest placeholder first so `$ITEM10` is never
/// read as `$ITEM1` followed by `0`.
fn placeholders(body: &str) -> Result<Vec<(String, String)>, String> {
    fn collect<'e>(element: &'e Element, name: &str, out: &mut Vec<&'e Element>) {
        for child in element.children() {
            if child.is(xml::ns::EWS_TYPES, name) {
                out.push(child);
            }
            collect(child, name, out);
        }
    }
    let root = xml::parse(body.as_bytes(), &Limits::DEFAULT).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut items = Vec::new();
    collect(&root, "ItemId", &mut items);
    for (n, id) in items.iter().enumerate() {
        out.push((
            format!("$ITEM{}", n + 1),
            id.attribute("", "Id").unwrap_or_default().to_owned(),
        ));
        out.push((
            format!("$CK{}", n + 1),
            id.attribute("", "ChangeKey").unwrap_or_default().to_owned(),
        ));
    }
    let mut attachments = Vec::new();
    collect(&root, "AttachmentId", &mut attachments);
    for (n, id) in attachments.iter().enumerate() {
        out.push((
            format!("$ATT{}", n + 1),
            id.attribute("", "Id").unwrap_or_default().to_owned(),
        ));
    }
    out.sort_by_key(|(k, _)| std::cmp::Reverse(k.len()));
    Ok(out)
}

/// The mailboxes every EWS case starts from: alice's inbox holds two voicemails (one unread), a
/// read note of high importance and an "Archive" subfolder with one unread note; Conversation
/// History holds one missed conversation. Every change is stamped with the world's time.
fn seed_ews(store: &RedbStore, now: SystemTime) -> Result<(), String> {
    let alice = MailboxId::new("alice@example.test");
    for user in ["alice@example.test", "bob@example.test"] {
        store
            .ensure_mailbox(&MailboxId::new(user), now)
            .map_err(|e| e.to_string())?;
    }
    let folder = |which| {
        store
            .distinguished_folder(&alice, which)
            .map_err(|e| e.to_string())
    };
    let apply = |change| {
        store
            .apply(&alice, change, now)
            .map(|set| set.outcome)
            .map_err(|e| e.to_string())
    };
    let text = |t: &str| PropValue::Unicode(t.to_owned());
    let message = |subject: &str, class: &str, read: bool, minutes_ago: u64| {
        let received = now - Duration::from_secs(minutes_ago * 60);
        vec![
            (PropKey::from(tags::SUBJECT), text(subject)),
            (tags::MESSAGE_CLASS.into(), text(class)),
            (
                tags::MESSAGE_FLAGS.into(),
                PropValue::Int32(if read { tags::MSGFLAG_READ } else { 0 }),
            ),
            (
                tags::MESSAGE_DELIVERY_TIME.into(),
                PropValue::SystemTime(FileTime::from_system_time(received)),
            ),
        ]
    };
    let create = |folder, props| {
        apply(Change::CreateItem {
            folder,
            props,
            attachments: Vec::new(),
        })
    };
    let inbox = folder(DistinguishedFolder::Inbox)?;
    let mut voicemail = message(
        "Voice Mail from +1 425 555 0102 (12 seconds)",
        "IPM.Note.Microsoft.Voicemail.UM.CA",
        false,
        30,
    );
    voicemail.push((tags::VOICE_MESSAGE_DURATION.into(), PropValue::Int32(12)));
    voicemail.push((tags::SENT_REPRESENTING_NAME.into(), text("+1 425 555 0102")));
    create(inbox, voicemail)?;
    let mut note = message("Lunch on Friday?", "IPM.Note", true, 120);
    note.push((tags::IMPORTANCE.into(), PropValue::Int32(2)));
    note.push((tags::SENT_REPRESENTING_NAME.into(), text("Bob Berg")));
    note.push((
        tags::SENT_REPRESENTING_EMAIL_ADDRESS.into(),
        text("bob@example.test"),
    ));
    create(inbox, note)?;
    let mut second = message(
        "Voice Mail from Bob Berg (40 seconds)",
        "IPM.Note.Microsoft.Voicemail.UM.CA",
        true,
        60,
    );
    second.push((tags::VOICE_MESSAGE_DURATION.into(), PropValue::Int32(40)));
    create(inbox, second)?;
    let archive = match apply(Change::CreateFolder {
        parent: inbox,
        props: vec![
            (tags::DISPLAY_NAME.into(), text("Archive")),
            (tags::CONTAINER_CLASS.into(), text("IPF.Note")),
        ],
    })? {
        Committed::Folder { folder, .. } => folder,
        other => return Err(format!("CreateFolder answered {other:?}")),
    };
    create(archive, message("Old newsletter", "IPM.Note", false, 600))?;
    create(
        folder(DistinguishedFolder::ConversationHistory)?,
        message(
            "Missed conversation with Bob Berg",
            "IPM.Note.Microsoft.Missed",
            false,
            10,
        ),
    )?;
    Ok(())
}

fn first_child(element: &Element) -> Option<&Element> {
    element.children().next()
}

/// Runs every case of `surface` and fails listing each failing case.
fn check(surface: &Surface) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let world = world();
    let update = std::env::var_os("UPDATE_EXPECT").is_some_and(|v| v == "1");
    let cases = cases(&root.join("fixtures").join(surface.name));
    assert!(
        !cases.is_empty(),
        "no cases under fixtures/{}",
        surface.name
    );
    let mut failures = Vec::new();
    for case in &cases {
        if let Err(reason) = check_case(surface, &world, case, root, update) {
            failures.push(format!("{}/{}: {reason}", surface.name, case.id));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn check_case(
    surface: &Surface,
    world: &World,
    case: &Case,
    root: &Path,
    update: bool,
) -> Result<(), String> {
    let outcome = (surface.run)(world, case)?;
    if outcome.is_error != case.expects_error {
        let kind = if outcome.is_error {
            "an error"
        } else {
            "a success"
        };
        return Err(format!(
            "answered with {kind}:\n{}",
            String::from_utf8_lossy(&outcome.body)
        ));
    }
    let actual = pretty(&outcome.body, false)?;
    let expected_path = case.dir.join("expected.xml");
    if update {
        std::fs::write(&expected_path, &actual)
            .map_err(|e| format!("cannot write expected.xml: {e}"))?;
    }
    let expected = std::fs::read(&expected_path).map_err(|e| {
        format!("cannot read expected.xml ({e}); run with UPDATE_EXPECT=1 to create it")
    })?;
    validate(
        &root.join("schemas").join(outcome.schema),
        &expected_path,
        &outcome.body,
    )?;
    if pretty(&expected, true)? != pretty(&outcome.body, true)? {
        return Err(format!(
            "response differs from expected.xml (UPDATE_EXPECT=1 rewrites it); actual:\n{actual}"
        ));
    }
    Ok(())
}

/// The cases under `ok/` and `err/`, sorted.
fn cases(surface_dir: &Path) -> Vec<Case> {
    let mut cases = Vec::new();
    for kind in ["err", "ok"] {
        let Ok(entries) = std::fs::read_dir(surface_dir.join(kind)) else {
            continue;
        };
        let mut dirs: Vec<PathBuf> = entries
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for dir in dirs {
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let request = std::fs::read(dir.join("request.xml"))
                .unwrap_or_else(|e| panic!("{kind}/{name}: cannot read request.xml: {e}"));
            assert!(
                dir.join("notes.md").is_file(),
                "{kind}/{name}: notes.md is missing"
            );
            let settings = match std::fs::read_to_string(dir.join("case.toml")) {
                Ok(text) => toml::from_str(&text)
                    .unwrap_or_else(|e| panic!("{kind}/{name}: case.toml: {e}")),
                Err(_) => CaseToml::default(),
            };
            cases.push(Case {
                id: format!("{kind}/{name}"),
                name,
                dir,
                expects_error: kind == "err",
                request,
                settings,
            });
        }
    }
    cases.sort_by(|a, b| a.id.cmp(&b.id));
    cases
}

/// Validates the expected file and the actual body (on stdin) with xmllint.
fn validate(schema: &Path, expected: &Path, actual: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut child = Command::new("xmllint")
        .args(["--noout", "--schema"])
        .arg(schema)
        .arg(expected)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| {
            format!("cannot run xmllint ({e}); install libxml2-utils to run the golden tests")
        })?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(actual)
        .map_err(|e| format!("xmllint stdin: {e}"))?;
    let output = child
        .wait_with_output()
        .map_err(|e| format!("xmllint: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "schema {} rejects a response (\"-\" is the actual one):\n{}",
            schema.display(),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Re-indents a document (two spaces, white-space-only text dropped) and, when `mask` is set,
/// replaces the `Time` and `Id` of POX `Error` elements with `*`.
fn pretty(document: &[u8], mask: bool) -> Result<String, String> {
    let mut reader = quick_xml::Reader::from_reader(document);
    let mut writer = quick_xml::Writer::new_with_indent(Vec::new(), b' ', 2);
    let mut text = String::new();
    loop {
        let event = reader
            .read_event()
            .map_err(|e| format!("not well-formed: {e}"))?;
        match event {
            Event::Text(t) => {
                text.push_str(&t);
                continue;
            }
            Event::GeneralRef(r) => {
                text.push('&');
                text.push_str(&r);
                text.push(';');
                continue;
            }
            _ => {}
        }
        if !text.trim().is_empty() {
            writer
                .write_event(Event::Text(BytesText::from_escaped(text.as_str())))
                .unwrap();
        }
        text.clear();
        let event = match event {
            Event::Start(start) if mask && start.local_name().as_ref() == "Error" => {
                Event::Start(masked(&start)?)
            }
            Event::Empty(start) if mask && start.local_name().as_ref() == "Error" => {
                Event::Empty(masked(&start)?)
            }
            Event::Eof => break,
            other => other,
        };
        writer.write_event(event).unwrap();
    }
    let mut out = String::from_utf8(writer.into_inner()).map_err(|e| e.to_string())?;
    out.push('\n');
    Ok(out)
}

/// `start` with its `Time` and `Id` attributes replaced by `*`.
fn masked(start: &BytesStart<'_>) -> Result<BytesStart<'static>, String> {
    let mut masked = start.to_owned();
    masked.clear_attributes();
    for attribute in start.attributes() {
        let attribute = attribute.map_err(|e| e.to_string())?;
        match attribute.key.as_ref() {
            "Time" | "Id" => masked.push_attribute((attribute.key.as_ref(), "*")),
            _ => masked.push_attribute(attribute),
        }
    }
    Ok(masked)
}
