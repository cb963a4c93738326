//! Subscriber access by touch tone, end to end: sipp places the call to the pilot number (its
//! SDP names the test's [`Phone`]), the phone hears the prompts and the messages and presses
//! keys as RFC 4733 events, and the server runs in-process so the test deposits messages and
//! checks the mailbox through the store itself: read flags, Deleted Items, the PIN's lock.

use std::sync::Arc;
use std::thread;
use std::time::{Duration, SystemTime};

use base64::Engine;
use umbox_base::clock::{Clock, SystemClock};
use umbox_base::directory::{Directory, DirectoryFile, Pin};
use umbox_media::g711::Law;
use umbox_media::playout::Playlist;
use umbox_media::prompts::{Prompt, Prompts};
use umbox_store::props::{tags, PropValue};
use umbox_store::{DistinguishedFolder, Item, MailStore, MailboxId};
use umbox_testkit::phone::Phone;
use umbox_testkit::sipp;
use umbox_um::caller_id::Caller;
use umbox_um::delivery::{self, VoiceMessage};
use umbox_xml::{self as xml, Limits};

use crate::harness::curl;
use crate::inproc::InProcess;
use crate::voicemail_calls::MESSAGE;

const ALICE: &str = "alice@example.test";
const ALICE_NUMBER: &str = "+14255550101";
const PIN: &str = "240517";
/// Long enough for anything the server says; the calls end themselves well before.
const LIMIT: Duration = Duration::from_secs(60);

/// The demo directory where alice has [`PIN`] and her policy locks after `lockout` failed
/// calls, served in-process with one-second key timeouts.
fn server(lockout: u32) -> InProcess {
    let mut directory = Directory::demo().unwrap();
    directory.users[0].pin = Some(Pin::new(PIN).unwrap());
    directory.policies[0].pin_lockout_calls = lockout;
    InProcess::with(directory, Duration::from_secs(60), |config| {
        config.um.key_timeout = Duration::from_secs(1);
    })
}

/// Places a subscriber-access call from `caller` and lets `script` drive the phone; returns
/// once the server has hung up and sipp answered its BYE.
fn call(server: &InProcess, caller: &str, script: impl FnOnce(&mut Phone)) {
    let mut phone = Phone::new();
    let calls = server.data.join(format!("calls-{}.csv", phone.port()));
    std::fs::write(&calls, format!("SEQUENTIAL\n{caller};{};\n", phone.port())).unwrap();
    let target = server.sip_media;
    let _turn = sipp::media_turn();
    let sipp = thread::spawn(move || {
        let calls = calls.to_str().unwrap();
        sipp::run("access.xml", target, 1, 120, &["-inf", calls])
    });
    script(&mut phone);
    sipp.join().unwrap().assert_ok();
}

/// Delivers a voice message to alice, from `number` when given.
fn deliver(
    server: &InProcess,
    call_id: &str,
    number: Option<&str>,
    audio: &[u8],
    received: SystemTime,
) {
    let directory = Directory::demo().unwrap();
    let message = VoiceMessage {
        caller: Caller {
            number: number.map(str::to_owned),
            ..Caller::default()
        },
        duration: Duration::from_millis(audio.len() as u64 / 8),
        call_id: call_id.into(),
        wav: umbox_media::wav::write_g711(umbox_media::g711::Law::Mu, audio).unwrap(),
        received,
        partial: false,
    };
    delivery::deliver(
        server.store.as_ref(),
        &directory.users[0],
        message,
        SystemClock.now(),
    )
    .unwrap();
}

fn items(store: &Arc<dyn MailStore>, folder: DistinguishedFolder) -> Vec<Item> {
    let mailbox = MailboxId::new(ALICE);
    let folder = store.distinguished_folder(&mailbox, folder).unwrap();
    store.items(&mailbox, folder).unwrap()
}

fn call_id(item: &Item) -> &str {
    item.props.unicode(tags::CALL_ID).unwrap()
}

fn is_read(item: &Item) -> bool {
    matches!(item.props.get(tags::MESSAGE_FLAGS), Some(PropValue::Int32(flags)) if flags & tags::MSGFLAG_READ != 0)
}

fn prompt(which: Prompt) -> Vec<u8> {
    Prompts::embedded().unwrap().clip(which).to_vec()
}

#[test]
fn a_subscriber_logs_in_by_caller_id_and_plays_deletes_and_marks_messages() {
    let server = server(5);
    // Three one-second messages, oldest first; each is a different stretch of speech. Only the
    // first has a calling number (said digit by digit in its envelope).
    let audio: Vec<&[u8]> = (0..3).map(|n| &MESSAGE[n * 8000..(n + 1) * 8000]).collect();
    let now = SystemClock.now();
    for (n, part) in audio.iter().enumerate() {
        let age = Duration::from_secs(600 - 60 * n as u64);
        let number = (n == 0).then_some("+14255550102");
        deliver(&server, &format!("m{n}"), number, part, now - age);
    }

    call(&server, ALICE_NUMBER, |phone| {
        // The PIN over the prompt, and `1` for voice mail while the server checks it.
        phone.press(&format!("{PIN}#1"));
        // Each message must arrive sample for sample, in order, before its key is pressed.
        let heard = phone.hear(audio[0], 0, LIMIT);
        phone.press("#");
        let heard = phone.hear(audio[1], heard, LIMIT);
        phone.press("7");
        let heard = phone.hear(&prompt(Prompt::Deleted), heard, LIMIT);
        let heard = phone.hear(audio[2], heard, LIMIT);
        phone.press("9");
        let heard = phone.hear(&prompt(Prompt::MarkedUnread), heard, LIMIT);
        // Then nothing: the main menu twice more, goodbye, BYE.
        phone.hear(&prompt(Prompt::Goodbye), heard, LIMIT);
    });

    let inbox = items(&server.store, DistinguishedFolder::Inbox);
    let state: Vec<(&str, bool)> = inbox.iter().map(|i| (call_id(i), is_read(i))).collect();
    assert_eq!(
        state,
        [("m0", true), ("m2", false)],
        "# marks read, 9 keeps unread"
    );
    let deleted = items(&server.store, DistinguishedFolder::DeletedItems);
    assert_eq!(deleted.iter().map(call_id).collect::<Vec<_>>(), ["m1"]);
    let mailbox = MailboxId::new(ALICE);
    assert!(server.store.verify(&mailbox).unwrap().problems.is_empty());
}

#[test]
fn wrong_pins_end_the_call_and_failed_calls_lock_the_pin() {
    let server = server(2);
    let file = DirectoryFile::in_data_dir(&server.data);
    let pin_state = || {
        let directory = file.load().unwrap();
        let pin = directory.users[0].pin.clone().unwrap();
        (pin.failed_calls, pin.locked)
    };
    let wrong = prompt(Prompt::WrongPin);

    // Three wrong PINs: "not correct" three times, goodbye, BYE; one failed call counted.
    call(&server, ALICE_NUMBER, |phone| {
        let mut heard = 0;
        for pin in ["111111", "123123", "999999"] {
            phone.press(&format!("{pin}#"));
            heard = phone.hear(&wrong, heard, LIMIT);
        }
        phone.hear(&prompt(Prompt::Goodbye), heard, LIMIT);
    });
    assert_eq!(pin_state(), (1, false));

    // The second failed call reaches the policy's threshold of 2: locked at once.
    call(&server, ALICE_NUMBER, |phone| {
        phone.press("111111#");
        phone.hear(&prompt(Prompt::PinLocked), 0, LIMIT);
    });
    assert_eq!(pin_state(), (2, true));

    // The right PIN no longer opens the mailbox.
    call(&server, ALICE_NUMBER, |phone| {
        phone.press(&format!("{PIN}#"));
        let heard = phone.hear(&prompt(Prompt::PinLocked), 0, LIMIT);
        phone.hear(&prompt(Prompt::Goodbye), heard, LIMIT);
        let menu = prompt(Prompt::MainMenu);
        let all = phone.heard();
        assert!(
            !all.windows(menu.len()).any(|w| w == menu),
            "logged in while locked"
        );
    });
    assert_eq!(pin_state(), (2, true));
}

/// The beep before a recording, as a µ-law call hears it.
fn beep() -> Vec<u8> {
    let mut playlist = Playlist::beep();
    let mut codes = vec![0u8; playlist.total_samples()];
    playlist.fill(Law::Mu, &mut codes);
    codes
}

/// The binary data of alice's user configuration `name` in her root folder, read over EWS
/// GetUserConfiguration.
fn user_configuration(server: &InProcess, name: &str) -> Vec<u8> {
    let body = format!(
        r#"<?xml version="1.0" encoding="utf-8"?>
<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <soap:Header><t:RequestServerVersion Version="Exchange2016"/></soap:Header>
  <soap:Body>
    <m:GetUserConfiguration>
      <m:UserConfigurationName Name="{name}"><t:DistinguishedFolderId Id="root"/></m:UserConfigurationName>
      <m:UserConfigurationProperties>BinaryData</m:UserConfigurationProperties>
    </m:GetUserConfiguration>
  </soap:Body>
</soap:Envelope>"#
    );
    let reply = curl(&[
        "-u",
        "alice@example.test:demo-alice",
        "-H",
        "Content-Type: text/xml; charset=utf-8",
        "--data-binary",
        &body,
        &server.ews_url(),
    ]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    let document = xml::parse(&reply.body, &Limits::DEFAULT).unwrap();
    let data = crate::voicemail_calls::text(&document, "BinaryData");
    base64::engine::general_purpose::STANDARD
        .decode(data)
        .unwrap()
}

#[test]
fn a_greeting_recorded_by_phone_is_played_back_kept_and_read_back_over_ews_and_the_pin_changed() {
    let server = server(5);
    let spoken = &MESSAGE[..16000];
    call(&server, ALICE_NUMBER, |phone| {
        // Log in, personal options, record the unavailable greeting.
        phone.press(&format!("{PIN}#"));
        let heard = phone.hear(&prompt(Prompt::MainMenu), 0, LIMIT);
        phone.press("6");
        let heard = phone.hear(&prompt(Prompt::PersonalOptions), heard, LIMIT);
        phone.press("1");
        let heard = phone.hear(&beep(), heard, LIMIT);
        phone.talk(spoken);
        phone.press("#");
        // Played back sample for sample, then kept.
        let heard = phone.hear(spoken, heard, LIMIT);
        phone.press("1");
        let heard = phone.hear(&prompt(Prompt::Saved), heard, LIMIT);
        // `4`: a new PIN; a trivial one is refused, the next one taken.
        phone.press("4");
        let heard = phone.hear(&prompt(Prompt::EnterNewPin), heard, LIMIT);
        phone.press("123456#");
        let heard = phone.hear(&prompt(Prompt::PinNotAllowed), heard, LIMIT);
        phone.press("86420975#");
        let heard = phone.hear(&prompt(Prompt::PinChanged), heard, LIMIT);
        phone.hear(&prompt(Prompt::Goodbye), heard, LIMIT);
    });
    let directory = DirectoryFile::in_data_dir(&server.data).load().unwrap();
    let pin = directory.users[0].pin.as_ref().unwrap();
    assert!(pin.verify("86420975") && !pin.verify(PIN));
    let stored = user_configuration(&server, "Um.CustomGreetings.External");
    assert_eq!(
        stored,
        umbox_media::wav::write_g711(Law::Mu, spoken).unwrap(),
        "the greeting is the recorded audio, byte for byte"
    );
}
