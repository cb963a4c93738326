//! The UM call pipeline end to end: the real `sipp` as the PBX
//! calls the real binary's call router and media server, and the voicemail is read back over EWS
//! while the server runs (FindItem on the `voicemail` folder, GetFolder's UnreadCount, GetItem
//! with the duration property, GetAttachment for the WAV whose data chunk must be the streamed
//! audio byte for byte) and again from the store the server leaves behind once it has stopped.
//! The deposit test also opens a streaming subscription on `voicemail` and `inbox` before the
//! call and reads GetStreamingEvents through `curl -N` until the NewMailEvent and the voicemail
//! folder's ModifiedEvent (UnreadCount 1) arrive.

use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;

use umbox_media::g711::Law;
use umbox_media::wav::{self, SampleFormat};
use umbox_store::{self as store, DistinguishedFolder, MailStore, MailboxId, RedbStore};
use umbox_xml::{self as xml, Element, Limits};

use crate::harness::{curl, temp_dir, Server};
use crate::metrics::{sample, scrape};
use umbox_testkit::sipp;

/// What sipp streams: `tests/interop/audio/message.ul`, 5.26 s of µ-law speech.
pub(crate) const MESSAGE: &[u8] = include_bytes!("../interop/audio/message.ul");

pub(crate) const ALICE: (&str, &str) = ("alice@example.test", "demo-alice");
pub(crate) const BOB: (&str, &str) = ("bob@example.test", "demo-bob");

const TYPES: &str = "http://schemas.microsoft.com/exchange/services/2006/types";
const MESSAGES: &str = "http://schemas.microsoft.com/exchange/services/2006/messages";

/// sipp keys for `voicemail_bye.xml`: a call forwarded from alice's extension 1001 by bob's
/// number.
pub(crate) const ALICE_DEPOSIT: [&str; 6] =
    ["-key", "mailbox", "1001", "-key", "caller", "+14255550102"];

/// A fresh data directory where `users` have a 0.3 s greeting of their own, so the caller's
/// audio (sent 2.5 s after the answer by the scenarios) starts after the beep.
pub(crate) fn data_with_short_greetings(users: &[&str]) -> std::path::PathBuf {
    let data = temp_dir("data");
    let greetings = data.join("greetings");
    std::fs::create_dir_all(&greetings).unwrap();
    // A 400 Hz square wave at 8 kHz.
    let tone: Vec<u8> = (0..2400)
        .map(|i| Law::Mu.encode_sample(if i % 20 < 10 { 6000 } else { -6000 }))
        .collect();
    let file = wav::write_g711(Law::Mu, &tone).unwrap();
    for user in users {
        std::fs::write(greetings.join(format!("{user}.wav")), &file).unwrap();
    }
    data
}

fn soap(body: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="{TYPES}">
  <s:Header><t:RequestServerVersion Version="Exchange2013"/></s:Header>
  <s:Body>{body}</s:Body>
</s:Envelope>"#
    )
}

/// `user`'s credentials as curl's `-u` takes them.
fn credentials(user: (&str, &str)) -> String {
    format!("{}:{}", user.0, user.1)
}

/// Posts an EWS request as `user` and returns the parsed reply.
pub(crate) fn ews(server: &Server, user: (&str, &str), body: &str) -> Element {
    let reply = curl(&[
        "-u",
        &credentials(user),
        "-H",
        "Content-Type: text/xml; charset=utf-8",
        "--data-binary",
        &soap(body),
        &server.https_url("/EWS/Exchange.asmx"),
    ]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    xml::parse(&reply.body, &Limits::DEFAULT).unwrap()
}

/// Every descendant of `element` named `t:<name>`, in document order.
pub(crate) fn all<'e>(element: &'e Element, name: &str, found: &mut Vec<&'e Element>) {
    all_in(TYPES, element, name, found);
}

/// Every descendant of `element` named `name` in `namespace`, in document order.
fn all_in<'e>(namespace: &str, element: &'e Element, name: &str, found: &mut Vec<&'e Element>) {
    for child in element.children() {
        if child.is(namespace, name) {
            found.push(child);
        }
        all_in(namespace, child, name, found);
    }
}

pub(crate) fn first<'e>(element: &'e Element, name: &str) -> Option<&'e Element> {
    let mut found = Vec::new();
    all(element, name, &mut found);
    found.first().copied()
}

pub(crate) fn text(element: &Element, name: &str) -> String {
    first(element, name)
        .map(|e| e.trimmed_text().to_owned())
        .unwrap_or_else(|| panic!("no t:{name} in the reply"))
}

/// The messages of a distinguished folder with their class and voice-mail properties.
pub(crate) fn messages(server: &Server, user: (&str, &str), folder: &str) -> Vec<Element> {
    let reply = ews(
        server,
        user,
        &format!(
            r#"<m:FindItem Traversal="Shallow">
  <m:ItemShape>
    <t:BaseShape>Default</t:BaseShape>
    <t:AdditionalProperties>
      <t:FieldURI FieldURI="item:ItemClass"/>
      <t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/>
      <t:ExtendedFieldURI PropertyTag="0x6802" PropertyType="String"/>
    </t:AdditionalProperties>
  </m:ItemShape>
  <m:ParentFolderIds><t:DistinguishedFolderId Id="{folder}"/></m:ParentFolderIds>
</m:FindItem>"#
        ),
    );
    let mut found = Vec::new();
    all(&reply, "Message", &mut found);
    found.into_iter().cloned().collect()
}

/// The value of the extended property with tag `tag` on an item element.
pub(crate) fn extended(item: &Element, tag: &str) -> Option<String> {
    extended_by(item, "PropertyTag", tag)
}

/// The value of the extended property whose ExtendedFieldURI has `attribute` = `value`, anywhere
/// in `element`.
pub(crate) fn extended_by(element: &Element, attribute: &str, value: &str) -> Option<String> {
    let mut properties = Vec::new();
    all(element, "ExtendedProperty", &mut properties);
    properties.into_iter().find_map(|property| {
        let uri = first(property, "ExtendedFieldURI")?;
        (uri.attribute("", attribute) == Some(value)).then(|| text(property, "Value"))
    })
}

/// (TotalCount, UnreadCount) of a distinguished folder.
pub(crate) fn counts(server: &Server, user: (&str, &str), folder: &str) -> (u32, u32) {
    let reply = ews(
        server,
        user,
        &format!(
            r#"<m:GetFolder>
  <m:FolderShape><t:BaseShape>Default</t:BaseShape></m:FolderShape>
  <m:FolderIds><t:DistinguishedFolderId Id="{folder}"/></m:FolderIds>
</m:GetFolder>"#
        ),
    );
    (
        text(&reply, "TotalCount").parse().unwrap(),
        text(&reply, "UnreadCount").parse().unwrap(),
    )
}

/// The WAV attachments of the voice messages in `address`'s voicemail folder, read from the
/// store of a stopped server.
pub(crate) fn stored_recordings(data: &Path, address: &str) -> Vec<Vec<u8>> {
    let store = RedbStore::open(data, store::Options::default()).unwrap();
    let mailbox = MailboxId::new(address);
    let folder = store
        .distinguished_folder(&mailbox, DistinguishedFolder::Voicemail)
        .unwrap();
    let mut recordings = Vec::new();
    for item in store.items(&mailbox, folder).unwrap() {
        for info in &item.attachments {
            recordings.push(store.attachment(&mailbox, info.id).unwrap().content);
        }
    }
    recordings
}

/// The text of the first `m:<name>` in `element` (ResponseCode, SubscriptionId).
fn message_text(element: &Element, name: &str) -> String {
    let mut found = Vec::new();
    all_in(MESSAGES, element, name, &mut found);
    found
        .first()
        .map(|e| e.trimmed_text().to_owned())
        .unwrap_or_else(|| panic!("no m:{name} in the reply"))
}

/// The `Id` attribute of the first `t:<name>` in `element`.
pub(crate) fn id_of(element: &Element, name: &str) -> String {
    first(element, name)
        .and_then(|e| e.attribute("", "Id"))
        .unwrap_or_else(|| panic!("no t:{name} Id in the reply"))
        .to_owned()
}

/// The id of a distinguished folder, as events name it.
fn folder_id(server: &Server, user: (&str, &str), folder: &str) -> String {
    let reply = ews(
        server,
        user,
        &format!(
            r#"<m:GetFolder>
  <m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape>
  <m:FolderIds><t:DistinguishedFolderId Id="{folder}"/></m:FolderIds>
</m:GetFolder>"#
        ),
    );
    id_of(&reply, "FolderId")
}

/// The voice message `item_id` read over EWS: GetItem with the duration (0x6801) and the
/// attachment list, then GetAttachment. Returns (duration text, WAV file bytes).
pub(crate) fn voice_message_over_ews(
    server: &Server,
    user: (&str, &str),
    item_id: &str,
) -> (String, Vec<u8>) {
    let item = ews(
        server,
        user,
        &format!(
            r#"<m:GetItem>
  <m:ItemShape>
    <t:BaseShape>IdOnly</t:BaseShape>
    <t:AdditionalProperties>
      <t:FieldURI FieldURI="item:Attachments"/>
      <t:ExtendedFieldURI PropertyTag="0x6801" PropertyType="Integer"/>
    </t:AdditionalProperties>
  </m:ItemShape>
  <m:ItemIds><t:ItemId Id="{item_id}"/></m:ItemIds>
</m:GetItem>"#
        ),
    );
    assert_eq!(message_text(&item, "ResponseCode"), "NoError");
    let duration = extended(&item, "0x6801").expect("the duration property");
    let mut attachments = Vec::new();
    all(&item, "FileAttachment", &mut attachments);
    assert_eq!(attachments.len(), 1, "one attachment");
    assert_eq!(text(attachments[0], "ContentType"), "audio/wav");
    let attachment_id = id_of(attachments[0], "AttachmentId");
    let reply = ews(
        server,
        user,
        &format!(
            r#"<m:GetAttachment><m:AttachmentIds><t:AttachmentId Id="{attachment_id}"/></m:AttachmentIds></m:GetAttachment>"#
        ),
    );
    assert_eq!(message_text(&reply, "ResponseCode"), "NoError");
    let content = base64::engine::general_purpose::STANDARD
        .decode(text(&reply, "Content"))
        .unwrap();
    (duration, content)
}

/// Asserts that `file` is a µ-law WAV whose data chunk is exactly [`MESSAGE`].
pub(crate) fn assert_is_the_message(file: &[u8], source: &str) {
    let audio = wav::read(file).unwrap();
    assert_eq!(audio.format, SampleFormat::G711(Law::Mu), "{source}");
    assert_eq!(
        audio.data.len(),
        MESSAGE.len(),
        "recorded length ({source})"
    );
    assert!(
        audio.data == MESSAGE,
        "the recording ({source}) differs from the streamed audio at byte {:?}",
        audio.data.iter().zip(MESSAGE).position(|(a, b)| a != b)
    );
}

/// A streaming subscription's open GetStreamingEvents connection, read by `curl -N`; the child
/// is killed on drop.
struct EventStream {
    curl: Child,
    bytes: mpsc::Receiver<Vec<u8>>,
    buffer: Vec<u8>,
}

/// One event of a streamed notification: its element name, FolderId (folder events), and
/// UnreadCount (a folder's ModifiedEvent).
#[derive(Debug)]
struct StreamedEvent {
    kind: String,
    folder: Option<String>,
    unread: Option<String>,
}

impl EventStream {
    /// Subscribes `user` (streaming) to NewMail, Created and Modified events on `voicemail`
    /// and `inbox`, and opens GetStreamingEvents with a one-minute ConnectionTimeout.
    fn open(server: &Server, user: (&str, &str)) -> EventStream {
        let subscribed = ews(
            server,
            user,
            r#"<m:Subscribe><m:StreamingSubscriptionRequest>
  <t:FolderIds><t:DistinguishedFolderId Id="voicemail"/><t:DistinguishedFolderId Id="inbox"/></t:FolderIds>
  <t:EventTypes><t:EventType>NewMailEvent</t:EventType><t:EventType>CreatedEvent</t:EventType><t:EventType>ModifiedEvent</t:EventType></t:EventTypes>
</m:StreamingSubscriptionRequest></m:Subscribe>"#,
        );
        let id = message_text(&subscribed, "SubscriptionId");
        let request = soap(&format!(
            "<m:GetStreamingEvents><m:SubscriptionIds><t:SubscriptionId>{id}</t:SubscriptionId></m:SubscriptionIds><m:ConnectionTimeout>1</m:ConnectionTimeout></m:GetStreamingEvents>"
        ));
        let mut curl = Command::new("curl")
            .args(["-sk", "--no-buffer", "-N", "--max-time", "90"])
            .args(["-u", &credentials(user)])
            .args(["-H", "Content-Type: text/xml; charset=utf-8"])
            .args(["--data-binary", &request])
            .arg(server.https_url("/EWS/Exchange.asmx"))
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("curl is installed");
        let mut stdout = curl.stdout.take().unwrap();
        let (tx, bytes) = mpsc::channel();
        std::thread::spawn(move || {
            let mut block = [0u8; 8192];
            while let Ok(n @ 1..) = stdout.read(&mut block) {
                if tx.send(block[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        EventStream {
            curl,
            bytes,
            buffer: Vec::new(),
        }
    }

    /// Reads whole envelopes until `done` holds for the events seen so far, for at most 30 s.
    fn until(&mut self, what: &str, done: impl Fn(&[StreamedEvent]) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut events = Vec::new();
        const END: &[u8] = b"</Envelope>";
        while !done(&events) {
            if let Some(at) = self.buffer.windows(END.len()).position(|w| w == END) {
                let envelope: Vec<u8> = self.buffer.drain(..at + END.len()).collect();
                let root = xml::parse(&envelope, &Limits::DEFAULT)
                    .unwrap_or_else(|e| panic!("{e:?}: {}", String::from_utf8_lossy(&envelope)));
                let mut notifications = Vec::new();
                all_in(MESSAGES, &root, "Notification", &mut notifications);
                // SubscriptionId, PreviousWatermark, MoreEvents, then the t:<Kind>Event elements.
                let children = notifications.iter().flat_map(|n| n.children());
                for event in children.filter(|e| e.name().ends_with("Event")) {
                    events.push(StreamedEvent {
                        kind: event.name().to_owned(),
                        folder: first(event, "FolderId")
                            .and_then(|f| f.attribute("", "Id"))
                            .map(str::to_owned),
                        unread: first(event, "UnreadCount").map(|u| u.trimmed_text().to_owned()),
                    });
                }
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match self.bytes.recv_timeout(left) {
                Ok(bytes) => self.buffer.extend_from_slice(&bytes),
                Err(_) => panic!(
                    "no {what} on the stream within 30 s; saw {events:?} and {}",
                    String::from_utf8_lossy(&self.buffer)
                ),
            }
        }
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        let _ = self.curl.kill();
        let _ = self.curl.wait();
    }
}

/// Checks the one voice message a deposit left: class, subject, duration, caller, unread, and
/// that its WAV holds exactly the audio sipp streamed, read over EWS and (after stopping the
/// server) from the store.
fn assert_one_voice_message(mut server: Server, user: (&str, &str), from: &str, number: &str) {
    // 42,080 samples at 8 kHz: 5.26 s, whole seconds in PidTagVoiceMessageDuration.
    let seconds = MESSAGE.len() / 8000;
    let found = messages(&server, user, "voicemail");
    assert_eq!(found.len(), 1, "one voice message");
    let message = &found[0];
    assert_eq!(
        text(message, "ItemClass"),
        "IPM.Note.Microsoft.Voicemail.UM.CA"
    );
    assert_eq!(
        text(message, "Subject"),
        format!("Voice Mail from {from} ({seconds} seconds)")
    );
    assert_eq!(extended(message, "0x6801"), Some(seconds.to_string()));
    assert_eq!(extended(message, "0x6802").as_deref(), Some(number));
    assert_eq!(text(message, "IsRead"), "false");
    assert_eq!(text(message, "HasAttachments"), "true");
    assert_eq!(counts(&server, user, "voicemail"), (1, 1));
    assert_eq!(counts(&server, user, "inbox"), (1, 1));
    let (duration, file) = voice_message_over_ews(&server, user, &id_of(message, "ItemId"));
    assert_eq!(duration, seconds.to_string());
    assert_is_the_message(&file, "GetAttachment");

    server.interrupt();
    let recordings = stored_recordings(&server.data, user.0);
    assert_eq!(recordings.len(), 1);
    assert_is_the_message(&recordings[0], "store");
}

#[test]
fn a_forwarded_call_ended_by_bye_becomes_a_sample_exact_voice_message() {
    let server = Server::demo_in(data_with_short_greetings(&[ALICE.0]));
    assert_eq!(counts(&server, ALICE, "voicemail"), (0, 0));
    let voicemail = folder_id(&server, ALICE, "voicemail");
    let mut stream = EventStream::open(&server, ALICE);
    {
        let _turn = sipp::media_turn();
        let keys = ALICE_DEPOSIT;
        sipp::run("voicemail_bye.xml", server.sip_router, 1, 40, &keys).assert_ok();
    }
    let summary = server.wait_for_log("call ended outcome=");
    assert!(
        summary.contains(r#"outcome="voice-message""#) && summary.contains(r#"ended="hangup""#),
        "{summary}"
    );
    // rtp_bleed.py's 50 packets from another port were counted and dropped.
    assert!(summary.contains("foreign=50"), "{summary}");
    assert!(
        summary.contains("mailbox=\"alice@example.test\""),
        "{summary}"
    );
    let voicemail_unread = |e: &StreamedEvent| {
        e.kind == "ModifiedEvent"
            && e.folder.as_deref() == Some(voicemail.as_str())
            && e.unread.as_deref() == Some("1")
    };
    stream.until("NewMailEvent and voicemail ModifiedEvent", |events| {
        events.iter().any(|e| e.kind == "NewMailEvent") && events.iter().any(voicemail_unread)
    });
    drop(stream);
    assert_one_voice_message(server, ALICE, "Bob Berg (+1 425 555 0102)", "+14255550102");
}

#[test]
fn pound_ends_the_recording_and_the_media_server_hangs_up() {
    let server = Server::demo_in(data_with_short_greetings(&[BOB.0]));
    {
        let _turn = sipp::media_turn();
        // Forwarded with bob's full number (his line URI's), as PBXs that forward E.164 do:
        // the router finds his extension 1002.
        let keys = [
            "-key",
            "mailbox",
            "+14255550102",
            "-key",
            "caller",
            "+14255550101",
        ];
        sipp::run("voicemail_pound.xml", server.sip_router, 1, 40, &keys).assert_ok();
    }
    let summary = server.wait_for_log("call ended outcome=");
    assert!(
        summary.contains(r#"outcome="voice-message""#) && summary.contains(r#"ended="pound""#),
        "{summary}"
    );
    // The operators see the call: one voice message, its packets, one delivery.
    let samples = scrape(&server);
    assert_eq!(
        sample(&samples, "umbox_calls_total", "outcome=voice_message"),
        Some(1.0),
        "{samples:?}"
    );
    assert!(sample(&samples, "umbox_rtp_packets_received_total", "").unwrap() > 0.0);
    assert_eq!(
        sample(&samples, "umbox_delivery_duration_seconds_count", ""),
        Some(1.0)
    );
    assert!(sample(&samples, "umbox_calls_in_progress", "").is_some());
    assert_one_voice_message(
        server,
        BOB,
        "Alice Anders (+1 425 555 0101)",
        "+14255550101",
    );
}

/// `voicemail_greeting_hangup.xml`'s caller keys: a gateway presenting +1 425 555 0199 in From.
const PRESENTED_NUMBER: &[&str] = &[
    "-key",
    "from",
    "<sip:+14255550199@gw.example.test>",
    "-key",
    "identity",
    "Subject: missed call",
];

/// `voicemail_greeting_hangup.xml` once against the media server: a caller who hangs up during
/// the greeting, presented as `keys` say.
fn hang_up_during_the_greeting(server: &Server, keys: &[&str]) {
    let _turn = sipp::media_turn();
    sipp::run(
        "voicemail_greeting_hangup.xml",
        server.sip_media,
        1,
        20,
        keys,
    )
    .assert_ok();
}

#[test]
fn a_caller_who_hangs_up_during_the_greeting_leaves_a_missed_call_notification() {
    // Bob has no greeting of his own: the system greeting lasts about five seconds.
    let server = Server::demo();
    hang_up_during_the_greeting(
        &server,
        &[&["-key", "mailbox", "1002"], PRESENTED_NUMBER].concat(),
    );
    let summary = server.wait_for_log("call ended outcome=");
    assert!(summary.contains(r#"outcome="missed-call""#), "{summary}");
    assert!(messages(&server, BOB, "voicemail").is_empty());
    let inbox = messages(&server, BOB, "inbox");
    assert_eq!(inbox.len(), 1);
    assert_eq!(
        text(&inbox[0], "ItemClass"),
        "IPM.Note.Microsoft.Missed.Voice"
    );
    assert_eq!(
        text(&inbox[0], "Subject"),
        "Missed call from +1 425 555 0199"
    );
    assert_eq!(
        extended(&inbox[0], "0x6802").as_deref(),
        Some("+14255550199")
    );
    assert_eq!(counts(&server, BOB, "voicemail"), (0, 0));
}

#[test]
fn sip_address_asserted_withheld_and_anonymous_callers_are_named_as_exchange_names_them() {
    // (From, one more INVITE header, the missed call's subject, its calling number 0x6802).
    let cases = [
        (
            "<sip:bob@example.test>",
            "Subject: a Lync user",
            "Missed call from Bob Berg",
            None,
        ),
        (
            "\"Dan\" <sip:dan@example.net>",
            "Subject: a SIP address nobody here has",
            "Missed call from dan@example.net",
            None,
        ),
        (
            "<sip:carol@example.net>",
            "Subject: a SIP address in bob's contacts",
            "Missed call from Carol Contact",
            None,
        ),
        (
            "\"Anonymous\" <sip:anonymous@anonymous.invalid>",
            "Subject: RFC 3323 anonymous",
            "Missed call from Anonymous caller",
            None,
        ),
        (
            "<sip:+14255550199@gw.example.test>",
            "Privacy: id",
            "Missed call from Anonymous caller",
            None,
        ),
        (
            "<sip:anonymous@anonymous.invalid>",
            "P-Asserted-Identity: <sip:+14255550101@gw.example.test;user=phone>",
            "Missed call from Alice Anders (+1 425 555 0101)",
            Some("+14255550101"),
        ),
        // Step 4 of the resolution order: a user known by the line URI alone.
        (
            "<sip:+14255550188@gw.example.test>",
            "Subject: a Lync line URI",
            "Missed call from Dave Desk (+1 425 555 0188)",
            Some("+14255550188"),
        ),
        // Step 6: one of bob's own contacts, the number written another way.
        (
            "<tel:+14255550177>",
            "Subject: a personal contact",
            "Missed call from Bob Mobile (+1 425 555 0177)",
            Some("+14255550177"),
        ),
    ];
    let server = Server::demo();
    let dave = [
        "user",
        "add",
        "dave@example.test",
        "--name",
        "Dave Desk",
        "--password",
        "pw-dave",
        "--line-uri",
        "tel:+14255550188;ext=1088",
    ];
    admin_ok(&server, &dave);
    ews(
        &server,
        BOB,
        r#"<m:CreateItem>
  <m:SavedItemFolderId><t:DistinguishedFolderId Id="contacts"/></m:SavedItemFolderId>
  <m:Items>
    <t:Contact>
      <t:DisplayName>Bob Mobile</t:DisplayName>
      <t:PhoneNumbers><t:Entry Key="MobilePhone">(425) 555-0177</t:Entry></t:PhoneNumbers>
    </t:Contact>
    <t:Contact>
      <t:DisplayName>Carol Contact</t:DisplayName>
      <t:EmailAddresses><t:Entry Key="EmailAddress1">Carol@Example.net</t:Entry></t:EmailAddresses>
    </t:Contact>
  </m:Items>
</m:CreateItem>"#,
    );
    for (from, identity, _, _) in cases {
        let keys = [
            "-key", "mailbox", "1002", "-key", "from", from, "-key", "identity", identity,
        ];
        hang_up_during_the_greeting(&server, &keys);
    }
    let mut inbox = Vec::new();
    for _ in 0..100 {
        inbox = messages(&server, BOB, "inbox");
        if inbox.len() == cases.len() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(inbox.len(), cases.len());
    for (from, _, subject, number) in cases {
        let item = inbox
            .iter()
            .find(|item| text(item, "Subject") == subject)
            .unwrap_or_else(|| {
                let subjects: Vec<String> = inbox.iter().map(|i| text(i, "Subject")).collect();
                panic!("no missed call {subject:?} for {from}: {subjects:?}")
            });
        assert_eq!(extended(item, "0x6802").as_deref(), number, "{from}");
    }
}

#[test]
fn a_call_that_never_sends_media_ends_by_the_silence_timeout() {
    let data = data_with_short_greetings(&[ALICE.0]);
    let config = data.join("umbox.toml");
    std::fs::write(
        &config,
        "domains = [\"example.test\"]\n[um]\nsilence_timeout_seconds = 1\n",
    )
    .unwrap();
    let server = Server::demo_with_config(data, config);
    {
        let _turn = sipp::media_turn();
        let keys = ["-key", "mailbox", "1001"];
        sipp::run("voicemail_no_media.xml", server.sip_media, 1, 20, &keys).assert_ok();
    }
    let summary = server.wait_for_log("call ended outcome=");
    assert!(
        summary.contains(r#"outcome="missed-call""#) && summary.contains(r#"ended="silence""#),
        "{summary}"
    );
    assert!(messages(&server, ALICE, "voicemail").is_empty());
}

#[test]
fn an_offer_without_audio_gets_488() {
    let server = Server::demo();
    let _turn = sipp::media_turn();
    let keys = ["-key", "mailbox", "1001"];
    sipp::run("voicemail_no_audio.xml", server.sip_media, 1, 20, &keys).assert_ok();
    let refused = server.wait_for_log("call refused");
    assert!(refused.contains("status=488"), "{refused}");
}

#[test]
fn a_flood_of_invites_from_a_stranger_gets_403_and_no_call() {
    // Sources other than the gateway (127.0.0.1) are hosts of this test's own network namespace.
    umbox_testkit::netns::isolate();
    let server = Server::demo();
    let _turn = sipp::media_turn();
    // 200 INVITEs at 200 a second from 127.0.0.2, which is no gateway. Within the per-source
    // budget (a burst of 40, then 20 a second) each gets 403; beyond it they are dropped, and
    // sipp's retransmissions are answered as the budget refills.
    let flood = sipp::run(
        "forbidden.xml",
        server.sip_media,
        200,
        15,
        &["-i", "127.0.0.2", "-r", "200"],
    );
    let forbidden = flood.received("SIP/2.0 403 Forbidden");
    assert!(forbidden >= 40, "{forbidden} 403s\n{}", flood.screen);
    assert_eq!(flood.received("SIP/2.0 200 OK"), 0);
    // The gateway is still served at once.
    let keys = ["-key", "mailbox", "1001"];
    sipp::run("voicemail_no_audio.xml", server.sip_media, 1, 20, &keys).assert_ok();
    assert!(messages(&server, ALICE, "inbox").is_empty());
}

#[test]
fn a_direct_call_to_the_pilot_asks_for_the_extension_and_records_for_it() {
    const CAROL: (&str, &str) = ("carol@example.test", "pw-carol");
    let server = Server::demo_in(data_with_short_greetings(&[CAROL.0]));
    // 1023: the digits of sipp's event captures must differ (see voicemail_direct.xml).
    let (ok, _, err) = server.admin(&[
        "user",
        "add",
        CAROL.0,
        "--name",
        "Carol Chen",
        "--password",
        CAROL.1,
        "--extension",
        "1023",
        "--policy",
        "default",
    ]);
    assert!(ok, "{err}");
    server.wait_for_log("reloaded directory and configuration");
    {
        let _turn = sipp::media_turn();
        let keys = ["-key", "caller", "+14255550102"];
        sipp::run("voicemail_direct.xml", server.sip_router, 1, 40, &keys).assert_ok();
    }
    let summary = server.wait_for_log("call ended outcome=");
    assert!(
        summary.contains(r#"outcome="voice-message""#)
            && summary.contains(r#"mailbox="carol@example.test""#),
        "{summary}"
    );
    assert_one_voice_message(server, CAROL, "Bob Berg (+1 425 555 0102)", "+14255550102");
}

/// Runs `umbox <args>` against the server's data directory.
fn admin_ok(server: &Server, args: &[&str]) {
    let (ok, _, err) = server.admin(args);
    assert!(ok, "{args:?}: {err}");
}

/// Adds the UM mailbox policy `policy` (`policy add NAME …`) and a user on it at `extension`,
/// and waits for the server to pick them up.
fn add_user_with_policy(server: &Server, address: &str, extension: &str, policy: &[&str]) {
    admin_ok(server, policy);
    let mut user = vec![
        "user",
        "add",
        address,
        "--name",
        "Test User",
        "--password",
        "pw",
    ];
    user.extend(["--extension", extension, "--policy", policy[2]]);
    admin_ok(server, &user);
    server.wait_for_log("reloaded directory and configuration");
}

#[test]
fn the_policy_maximum_cuts_the_message_and_the_media_server_hangs_up() {
    const DAVE: (&str, &str) = ("dave@example.test", "pw");
    let mut server = Server::demo_in(data_with_short_greetings(&[DAVE.0]));
    let policy = ["policy", "add", "short", "--dial-plan", "default"];
    let policy = [&policy[..], &["--max-message-seconds", "3"]].concat();
    add_user_with_policy(&server, DAVE.0, "1034", &policy);
    {
        let _turn = sipp::media_turn();
        let keys = ["-key", "mailbox", "1034"];
        sipp::run("voicemail_max_length.xml", server.sip_media, 1, 40, &keys).assert_ok();
    }
    let summary = server.wait_for_log("call ended outcome=");
    assert!(
        summary.contains(r#"outcome="voice-message""#) && summary.contains(r#"ended="max-length""#),
        "{summary}"
    );
    let found = messages(&server, DAVE, "voicemail");
    assert_eq!(found.len(), 1);
    let seconds: usize = extended(&found[0], "0x6801").unwrap().parse().unwrap();
    server.interrupt();
    // The maximum runs from the beep, the caller's silence included: the audio sipp started
    // 2.5 s after the answer is cut about 3 s after the beep, so the message holds the first
    // second or two of it, byte for byte.
    let recordings = stored_recordings(&server.data, DAVE.0);
    let recorded = wav::read(&recordings[0]).unwrap().data.to_vec();
    assert!(
        (8_000..=24_000).contains(&recorded.len()),
        "{} bytes",
        recorded.len()
    );
    assert!(
        recorded == MESSAGE[..recorded.len()],
        "not the start of the audio"
    );
    assert_eq!(seconds, recorded.len() / 8000);
}

#[test]
fn a_policy_or_a_mailbox_without_missed_call_notifications_gets_nothing_for_a_short_call() {
    const ERIN: (&str, &str) = ("erin@example.test", "pw");
    let server = Server::demo();
    let policy = ["policy", "add", "quiet", "--dial-plan", "default"];
    let policy = [&policy[..], &["--no-missed-call-notifications"]].concat();
    add_user_with_policy(&server, ERIN.0, "1045", &policy);
    // Bob's policy allows them; his own switch (MissedCallNotificationEnabled) is off.
    admin_ok(
        &server,
        &["user", "set", BOB.0, "--missed-call-notifications", "off"],
    );
    for (user, extension) in [(ERIN, "1045"), (BOB, "1002")] {
        hang_up_during_the_greeting(
            &server,
            &[&["-key", "mailbox", extension], PRESENTED_NUMBER].concat(),
        );
        let summary = server.wait_for_log("call ended outcome=");
        assert!(summary.contains(r#"outcome="nothing""#), "{summary}");
        assert!(messages(&server, user, "inbox").is_empty());
    }
}

#[test]
fn reinvites_hold_and_resume_the_call_over_udp_and_tcp() {
    let server = Server::demo();
    for transport in ["u1", "t1"] {
        let run = {
            let _turn = sipp::media_turn();
            sipp::run(
                "media_reinvite.xml",
                server.sip_media,
                1,
                20,
                &["-t", transport],
            )
        };
        run.assert_ok();
        // RFC 3264 §8.4: the answer to a sendonly (hold) offer is recvonly, and sendrecv again
        // when the caller resumes; the media server's SDP carries it in each 200.
        let answers: Vec<&str> = run
            .messages
            .lines()
            .map(str::trim)
            .filter(|line| ["a=sendrecv", "a=recvonly", "a=sendonly"].contains(line))
            .collect();
        assert_eq!(
            answers,
            [
                "a=sendrecv",
                "a=sendrecv",
                "a=sendonly",
                "a=recvonly",
                "a=sendrecv",
                "a=sendrecv"
            ],
            "offers and answers in order"
        );
        let summary = server.wait_for_log("call ended outcome=");
        assert!(summary.contains(r#"ended="hangup""#), "{summary}");
    }
}

#[test]
fn sigterm_refuses_new_calls_and_still_delivers_the_call_in_progress() {
    let mut server = Server::demo_in_logging(
        data_with_short_greetings(&[ALICE.0]),
        "info,umbox_um::voicemail=debug",
    );
    let _turn = sipp::media_turn();
    let keys = ALICE_DEPOSIT;
    let call = sipp::spawn("voicemail_bye.xml", server.sip_router, 1, 40, &keys);
    server.wait_for_log("media started");
    server.signal("TERM");
    server.wait_for_log("stopping: waiting for calls in progress");
    // The message streams for five seconds more: the server is draining, not gone.
    let health = curl(&[&format!("http://{}/healthz", server.admin)]);
    assert_eq!((health.status, health.text().as_str()), (503, "draining\n"));
    sipp::run("overload.xml", server.sip_router, 1, 20, &[]).assert_ok();
    call.wait().assert_ok();
    let status = server.wait();
    assert!(status.success(), "umbox exited with {status} after SIGTERM");
    let recordings = stored_recordings(&server.data, ALICE.0);
    assert_eq!(recordings.len(), 1, "the call in progress was delivered");
    assert_is_the_message(&recordings[0], "store");
    let spooled = std::fs::read_dir(server.data.join("spool"))
        .unwrap()
        .count();
    assert_eq!(spooled, 0, "the delivered call's spool file is gone");
}
