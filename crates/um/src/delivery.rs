//! Voicemail delivery (Exchange's Hub Transport step): a finished recording becomes one voice
//! message in the called user's Inbox, shaped as MS-OXOUM describes, written with one
//! `MailStore::apply` so the message and its audio appear together or not at all.
//!
//! This module composes the message; it never records audio and never speaks SIP. The missed-call
//! notification of a call too short to keep comes in through [`MissedCall`], its one hook.

use std::time::{Duration, SystemTime};

use crate::caller_id::{Caller, ANONYMOUS_CALLER};
use crate::numbers::display_number;
use umbox_base::directory::User;
use umbox_store::oxum;
use umbox_store::props::{
    property_sets, tags, FileTime, NamedProperty, PropKey, PropName, PropType, PropValue,
};
use umbox_store::{
    self as store, Change, ChangeSet, DistinguishedFolder, MailStore, MailboxId, NewAttachment,
};
use umbox_xml::{Namespace, Writer};

/// The item class of a message left by a caller (MS-OXOUM 2.2.1: call answering).
pub const VOICEMAIL_CLASS: &str = oxum::VOICE_MESSAGE.message_class;
/// The item class of a missed-call notification.
pub const MISSED_CALL_CLASS: &str = oxum::MISSED_CALL.message_class;
/// The attachment's name; one audio file per message, so it is unique in the message.
pub const AUDIO_FILE_NAME: &str = "audio.wav";

/// A recording ready to deliver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceMessage {
    /// Who called.
    pub caller: Caller,
    /// How long the recording is.
    pub duration: Duration,
    /// The SIP Call-ID of the call that left it.
    pub call_id: String,
    /// The recording as a WAV file (G.711 exactly as received).
    pub wav: Vec<u8>,
    /// When the call ended.
    pub received: SystemTime,
    /// The recording was cut off (the server stopped or crashed during the call): the message
    /// holds what was saved before, says so in its body and carries [`PARTIAL_RECORDING`].
    pub partial: bool,
}

/// The named property (PS_PUBLIC_STRINGS, Boolean) set on a voice message whose recording was
/// cut off; EWS clients read it as
/// `<t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="umbox-partial-recording" PropertyType="Boolean"/>`.
pub const PARTIAL_RECORDING: &str = "umbox-partial-recording";

/// The sentence a cut-off message's body adds.
const PARTIAL_NOTE: &str =
    "The recording was cut off when the voice mail server stopped; this is the part saved before.";

/// A call that reached the mailbox but left nothing worth keeping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MissedCall {
    /// Who called.
    pub caller: Caller,
    /// The SIP Call-ID.
    pub call_id: String,
    /// When the call ended.
    pub received: SystemTime,
}

/// Writes `message` into `recipient`'s Inbox: one transaction, fsynced before this returns.
pub fn deliver(
    store: &dyn MailStore,
    recipient: &User,
    message: VoiceMessage,
    now: SystemTime,
) -> Result<ChangeSet, store::Error> {
    let mailbox = MailboxId::new(&recipient.address);
    let inbox = store.distinguished_folder(&mailbox, DistinguishedFolder::Inbox)?;
    let seconds = message.duration.as_secs();
    let who = caller_label(&message.caller);
    let subject = format!(
        "Voice Mail from {who} ({seconds} second{})",
        if seconds == 1 { "" } else { "s" }
    );
    let mut props = common_props(
        VOICEMAIL_CLASS,
        &subject,
        &message.caller,
        &message.call_id,
        message.received,
    );
    let seconds_i32 = i32::try_from(seconds).unwrap_or(i32::MAX);
    props.push((
        tags::VOICE_MESSAGE_DURATION.into(),
        PropValue::Int32(seconds_i32),
    ));
    props.push((
        tags::VOICE_MESSAGE_ATTACHMENT_ORDER.into(),
        PropValue::Unicode(AUDIO_FILE_NAME.to_owned()),
    ));
    props.push((
        header(oxum::VOICE_MESSAGE_DURATION),
        PropValue::Unicode(seconds.to_string()),
    ));
    props.push((
        header(oxum::ATTACHMENT_ORDER),
        PropValue::Unicode(AUDIO_FILE_NAME.to_owned()),
    ));
    let mut text = format!("You received a voice mail from {who}. Duration: {seconds} seconds. The message is attached.");
    if message.partial {
        text.push(' ');
        text.push_str(PARTIAL_NOTE);
        props.push((
            PropKey::Named(
                NamedProperty::new(
                    property_sets::PUBLIC_STRINGS,
                    PropName::Name(PARTIAL_RECORDING.to_owned()),
                ),
                PropType::Boolean,
            ),
            PropValue::Boolean(true),
        ));
    }
    props.push((tags::BODY.into(), PropValue::Unicode(text)));
    props.push((
        tags::HTML.into(),
        PropValue::Binary(html_body(&message.caller, Some((seconds, message.partial)))),
    ));
    let attachment = NewAttachment {
        props: vec![
            (
                tags::ATTACH_LONG_FILENAME.into(),
                PropValue::Unicode(AUDIO_FILE_NAME.to_owned()),
            ),
            (
                tags::ATTACH_MIME_TAG.into(),
                PropValue::Unicode("audio/wav".to_owned()),
            ),
        ],
        // The recording moves into the store: no second copy of the audio per call.
        content: message.wav,
    };
    store.apply(
        &mailbox,
        Change::CreateItem {
            folder: inbox,
            props,
            attachments: vec![attachment],
        },
        now,
    )
}

/// Writes a missed-call notification into `recipient`'s Inbox.
pub fn notify_missed_call(
    store: &dyn MailStore,
    recipient: &User,
    call: &MissedCall,
    now: SystemTime,
) -> Result<ChangeSet, store::Error> {
    let mailbox = MailboxId::new(&recipient.address);
    let inbox = store.distinguished_folder(&mailbox, DistinguishedFolder::Inbox)?;
    let who = caller_label(&call.caller);
    let subject = format!("Missed call from {who}");
    let mut props = common_props(
        MISSED_CALL_CLASS,
        &subject,
        &call.caller,
        &call.call_id,
        call.received,
    );
    props.push((
        tags::BODY.into(),
        PropValue::Unicode(format!("You missed a call from {who}.")),
    ));
    props.push((
        tags::HTML.into(),
        PropValue::Binary(html_body(&call.caller, None)),
    ));
    store.apply(
        &mailbox,
        Change::CreateItem {
            folder: inbox,
            props,
            attachments: Vec::new(),
        },
        now,
    )
}

/// "Alice Anders (+1 425 555 0101)", "+1 425 555 0100", "carol@example.net" or "Anonymous
/// caller".
fn caller_label(caller: &Caller) -> String {
    match (&caller.name, &caller.number) {
        (Some(name), Some(number)) => format!("{name} ({})", display_number(number)),
        _ => caller.label(),
    }
}

/// The Internet-header named property (PS_INTERNET_HEADERS) mirroring `header`, as Exchange
/// stores X- headers.
fn header(header: oxum::UmHeader) -> PropKey {
    PropKey::Named(
        NamedProperty::new(
            property_sets::INTERNET_HEADERS,
            PropName::Name(header.name.to_ascii_lowercase()),
        ),
        PropType::Unicode,
    )
}

/// What every UM message carries: class, subject, times, unread flag, sender and caller props.
fn common_props(
    class: &str,
    subject: &str,
    caller: &Caller,
    call_id: &str,
    received: SystemTime,
) -> Vec<(PropKey, PropValue)> {
    let time = PropValue::SystemTime(FileTime::from_system_time(received));
    let sender_name = caller.label();
    let sender_address = caller.address.clone().unwrap_or_default();
    let mut props: Vec<(PropKey, PropValue)> = vec![
        (
            tags::MESSAGE_CLASS.into(),
            PropValue::Unicode(class.to_owned()),
        ),
        (tags::SUBJECT.into(), PropValue::Unicode(subject.to_owned())),
        (tags::MESSAGE_FLAGS.into(), PropValue::Int32(0)),
        (tags::IMPORTANCE.into(), PropValue::Int32(1)),
        (tags::MESSAGE_DELIVERY_TIME.into(), time.clone()),
        (tags::CLIENT_SUBMIT_TIME.into(), time),
        (
            tags::SENDER_NAME.into(),
            PropValue::Unicode(sender_name.clone()),
        ),
        (
            tags::SENT_REPRESENTING_NAME.into(),
            PropValue::Unicode(sender_name),
        ),
        (tags::CALL_ID.into(), PropValue::Unicode(call_id.to_owned())),
        (
            header(oxum::CALL_ID),
            PropValue::Unicode(call_id.to_owned()),
        ),
    ];
    if !sender_address.is_empty() {
        props.push((
            tags::SENDER_EMAIL_ADDRESS.into(),
            PropValue::Unicode(sender_address.clone()),
        ));
        props.push((
            tags::SENT_REPRESENTING_EMAIL_ADDRESS.into(),
            PropValue::Unicode(sender_address),
        ));
    }
    if let Some(number) = &caller.number {
        props.push((
            tags::SENDER_TELEPHONE_NUMBER.into(),
            PropValue::Unicode(number.clone()),
        ));
        props.push((
            header(oxum::CALLING_TELEPHONE_NUMBER),
            PropValue::Unicode(number.clone()),
        ));
    }
    if let Some(name) = &caller.name {
        props.push((
            tags::VOICE_MESSAGE_SENDER_NAME.into(),
            PropValue::Unicode(name.clone()),
        ));
        props.push((
            header(oxum::VOICE_MESSAGE_SENDER_NAME),
            PropValue::Unicode(name.clone()),
        ));
    }
    props
}

const XHTML: Namespace = Namespace::new("", "http://www.w3.org/1999/xhtml");

/// The XHTML body: who called, with click-to-dial links (`tel:` for the number, `sip:` for a
/// directory user), and for a voice message its duration and whether it was cut off.
fn html_body(caller: &Caller, message: Option<(u64, bool)>) -> Vec<u8> {
    let mut out = Vec::new();
    let mut w = Writer::without_declaration(&mut out);
    w.start(XHTML, "html")
        .declare(XHTML)
        .start(XHTML, "body")
        .start(XHTML, "p");
    w.text(if message.is_some() {
        "Voice mail from "
    } else {
        "Missed call from "
    });
    if let Some(name) = &caller.name {
        w.start(XHTML, "b").text(name).end();
    }
    if let Some(number) = &caller.number {
        if caller.name.is_some() {
            w.text(" ");
        }
        let digits: String = number
            .chars()
            .filter(|c| c.is_ascii_digit() || *c == '+')
            .collect();
        w.start(XHTML, "a")
            .attribute("href", &format!("tel:{digits}"))
            .text(&display_number(number))
            .end();
    }
    if let Some(uri) = &caller.sip_uri {
        let named = caller.name.is_some() || caller.number.is_some();
        if named {
            w.text(" (");
        }
        w.start(XHTML, "a")
            .attribute("href", uri)
            .text(uri.trim_start_matches("sip:"))
            .end();
        if named {
            w.text(")");
        }
    }
    if caller == &Caller::default() {
        w.text(ANONYMOUS_CALLER);
    }
    w.text(".");
    w.end();
    if let Some((seconds, partial)) = message {
        w.leaf(
            XHTML,
            "p",
            &format!("Duration: {seconds} seconds. The recording is attached."),
        );
        if partial {
            w.leaf(XHTML, "p", PARTIAL_NOTE);
        }
    }
    w.end().end();
    if let Err(error) = w.finish() {
        tracing::error!(%error, "voice message body incomplete");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller_id::Presented;
    use std::time::UNIX_EPOCH;
    use umbox_base::directory::Directory;
    use umbox_store::RedbStore;

    fn store() -> (RedbStore, umbox_testkit::TempDir) {
        let dir = umbox_testkit::temp_dir("delivery");
        let store = RedbStore::open(dir.path(), store::Options::default()).unwrap();
        (store, dir)
    }

    #[test]
    fn a_voice_message_lands_whole_and_unread_in_the_inbox_and_voicemail_folder() {
        let (store, dir) = store();
        let directory = Directory::demo().unwrap();
        let alice = &directory.users[0];
        let now = UNIX_EPOCH + Duration::from_secs(1_795_392_000);
        let mailbox = MailboxId::new(&alice.address);
        store.ensure_mailbox(&mailbox, now).unwrap();
        let caller = crate::caller_id::resolve(
            &directory,
            "default",
            &Presented::Number("+14255550102".into()),
            Default::default(),
        );
        let message = VoiceMessage {
            caller,
            duration: Duration::from_secs(12),
            call_id: "abc@pbx".into(),
            wav: b"RIFF....WAVE".to_vec(),
            received: now,
            partial: false,
        };
        let committed = deliver(&store, alice, message, now).unwrap();
        assert!(!committed.events.is_empty());

        let voicemail = store
            .distinguished_folder(&mailbox, DistinguishedFolder::Voicemail)
            .unwrap();
        let folder = store.folder(&mailbox, voicemail).unwrap();
        assert_eq!((folder.total_count, folder.unread_count), (1, 1));
        let items = store.items(&mailbox, voicemail).unwrap();
        let item = &items[0];
        assert_eq!(
            item.props.unicode(tags::SUBJECT),
            Some("Voice Mail from Bob Berg (+1 425 555 0102) (12 seconds)")
        );
        assert_eq!(
            item.props.unicode(tags::MESSAGE_CLASS),
            Some(VOICEMAIL_CLASS)
        );
        assert_eq!(item.props.int32(tags::VOICE_MESSAGE_DURATION), Some(12));
        assert_eq!(
            item.props.unicode(tags::SENDER_EMAIL_ADDRESS),
            Some("bob@example.test")
        );
        let html = match item.props.get(tags::HTML) {
            Some(PropValue::Binary(b)) => String::from_utf8(b.clone()).unwrap(),
            other => panic!("{other:?}"),
        };
        assert!(
            html.contains("href=\"tel:+14255550102\"")
                && html.contains("href=\"sip:bob@example.test\""),
            "{html}"
        );
        let attachment = store.attachment(&mailbox, item.attachments[0].id).unwrap();
        assert_eq!(attachment.content, b"RIFF....WAVE");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_sip_caller_gets_a_sip_link_and_an_anonymous_one_no_link() {
        let body = |caller: &Caller| String::from_utf8(html_body(caller, None)).unwrap();
        let carol = Caller {
            sip_uri: Some("sip:carol@example.net".into()),
            ..Caller::default()
        };
        assert!(
            body(&carol).contains(
                "Missed call from <a href=\"sip:carol@example.net\">carol@example.net</a>."
            ),
            "{}",
            body(&carol)
        );
        let anonymous = body(&Caller::default());
        assert!(
            anonymous.contains("Missed call from Anonymous caller.") && !anonymous.contains("href"),
            "{anonymous}"
        );
    }

    #[test]
    fn an_unknown_caller_and_a_missed_call_read_naturally() {
        let (store, dir) = store();
        let directory = Directory::demo().unwrap();
        let bob = &directory.users[1];
        let now = UNIX_EPOCH + Duration::from_secs(1_795_392_000);
        let mailbox = MailboxId::new(&bob.address);
        store.ensure_mailbox(&mailbox, now).unwrap();
        let caller = Caller {
            number: Some("+14255550100".into()),
            ..Caller::default()
        };
        deliver(
            &store,
            bob,
            VoiceMessage {
                caller: caller.clone(),
                duration: Duration::from_secs(1),
                call_id: "x".into(),
                wav: vec![1],
                received: now,
                partial: true,
            },
            now,
        )
        .unwrap();
        notify_missed_call(
            &store,
            bob,
            &MissedCall {
                caller: Caller::default(),
                call_id: "y".into(),
                received: now,
            },
            now,
        )
        .unwrap();
        let inbox = store
            .distinguished_folder(&mailbox, DistinguishedFolder::Inbox)
            .unwrap();
        let subjects: Vec<_> = store
            .items(&mailbox, inbox)
            .unwrap()
            .iter()
            .map(|i| {
                i.props
                    .unicode(tags::SUBJECT)
                    .unwrap_or_default()
                    .to_owned()
            })
            .collect();
        assert_eq!(
            subjects,
            [
                "Voice Mail from +1 425 555 0100 (1 second)",
                "Missed call from Anonymous caller"
            ]
        );
        // The voice message was delivered as cut off: its body says so, the notification's not.
        let bodies: Vec<_> = store
            .items(&mailbox, inbox)
            .unwrap()
            .iter()
            .map(|i| i.props.unicode(tags::BODY).unwrap_or_default().to_owned())
            .collect();
        assert!(bodies[0].ends_with(PARTIAL_NOTE), "{}", bodies[0]);
        assert!(!bodies[1].contains(PARTIAL_NOTE));
        let voicemail = store
            .distinguished_folder(&mailbox, DistinguishedFolder::Voicemail)
            .unwrap();
        assert_eq!(store.folder(&mailbox, voicemail).unwrap().total_count, 1);
        std::fs::remove_dir_all(dir).unwrap();
    }
}
