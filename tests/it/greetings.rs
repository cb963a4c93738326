//! Greetings in the mailbox, end to end: `umbox user greeting` (refused while a server holds the
//! store, byte-exact set/get, WAV checks naming the problem), the start-up move of legacy
//! `<data>/greetings/*.wav` files, a greeting written over EWS by exchangelib that a caller (sipp)
//! then hears sample for sample, captured from RTP, and the recorded name and away greeting (OOF
//! set over EWS) heard the same way.

use umbox_media::g711::Law;
use umbox_media::wav;

use umbox_media::prompts::{Prompt, Prompts};

use crate::harness::{admin, curl, run_exchangelib, temp_dir, Server};
use umbox_testkit::{rtp, sipp, wav_file};

/// A µ-law greeting of `samples` codes that are not silence and never repeat in a short period,
/// so a captured stream either matches it exactly or visibly does not; each `voice` sounds
/// different from the others.
fn distinct_greeting(samples: usize, voice: u32) -> (Vec<u8>, Vec<u8>) {
    let pitch = 0.05 + 0.013 * f64::from(voice);
    let codes: Vec<u8> = (0..samples)
        .map(|i| {
            let t = i as f64;
            let sample = ((t * pitch).sin() * 9000.0 + (t * 0.011).cos() * 3000.0) as i16;
            Law::Mu.encode_sample(sample)
        })
        .collect();
    (wav::write_g711(Law::Mu, &codes).unwrap(), codes)
}

#[test]
fn the_greeting_command_round_trips_bytes_and_refuses_bad_files() {
    let server = Server::demo();
    let work = temp_dir("greeting-cli");
    let pcm: Vec<u8> = (0..4000u32)
        .flat_map(|i| ((i * 37) as i16).to_le_bytes())
        .collect();
    let good = work.join("good.wav");
    std::fs::write(&good, wav_file(1, 1, 8000, 16, &pcm)).unwrap();
    let good_path = good.to_str().unwrap();

    // The running server holds the store: the command says so and changes nothing.
    let (ok, _, err) = server.admin(&[
        "user",
        "greeting",
        "alice@example.test",
        "set",
        "--kind",
        "unavailable",
        "--file",
        good_path,
    ]);
    assert!(!ok);
    assert!(err.contains("in use by a running server"), "{err}");
    let data = server.stop();

    let run = |args: &[&str]| admin(&data, args);
    let (ok, out, err) = run(&[
        "user",
        "greeting",
        "alice@example.test",
        "set",
        "--kind",
        "unavailable",
        "--file",
        good_path,
    ]);
    assert!(ok, "{err}");
    assert!(out.contains("stored the unavailable greeting"), "{out}");
    let back = work.join("back.wav");
    let (ok, _, err) = run(&[
        "user",
        "greeting",
        "alice@example.test",
        "get",
        "--kind",
        "unavailable",
        "--file",
        back.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&back).unwrap(), std::fs::read(&good).unwrap());

    // Stereo at 16 kHz: refused with the reason, naming the field; nothing stored.
    let bad = work.join("stereo.wav");
    std::fs::write(&bad, wav_file(1, 2, 16000, 16, &[0; 64])).unwrap();
    let (ok, _, err) = run(&[
        "user",
        "greeting",
        "bob@example.test",
        "set",
        "--kind",
        "away",
        "--file",
        bad.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("--file")
            && err.contains("2 channels (mono is required), 16000 Hz (8000 Hz is required)"),
        "{err}"
    );
    let (ok, _, err) = run(&[
        "user",
        "greeting",
        "bob@example.test",
        "get",
        "--kind",
        "away",
        "--file",
        work.join("none.wav").to_str().unwrap(),
    ]);
    assert!(!ok && err.contains("greeting \"away\" not found"), "{err}");
    let (ok, _, err) = run(&[
        "user",
        "greeting",
        "alice@example.test",
        "set",
        "--kind",
        "name",
    ]);
    assert!(!ok && err.contains("--file"), "{err}");
    let (ok, _, err) = run(&[
        "user",
        "greeting",
        "nobody@example.test",
        "clear",
        "--kind",
        "name",
    ]);
    assert!(!ok && err.contains("nobody@example.test"), "{err}");

    let (ok, out, _) = run(&[
        "user",
        "greeting",
        "alice@example.test",
        "clear",
        "--kind",
        "unavailable",
    ]);
    assert!(ok && out.contains("cleared"), "{out}");
    let (ok, out, _) = run(&[
        "user",
        "greeting",
        "alice@example.test",
        "clear",
        "--kind",
        "unavailable",
    ]);
    assert!(ok && out.contains("has no unavailable greeting"), "{out}");
    std::fs::remove_dir_all(data).unwrap();
    std::fs::remove_dir_all(work).unwrap();
}

/// Files of older versions move into the mailboxes at start (the unusable one stays), and the
/// moved greeting is then the mailbox's.
#[test]
fn legacy_greeting_files_move_into_the_mailboxes_at_start() {
    let data = temp_dir("legacy-greetings");
    let folder = data.join("greetings");
    std::fs::create_dir_all(&folder).unwrap();
    let (alice, _) = distinct_greeting(1600, 0);
    std::fs::write(folder.join("alice@example.test.wav"), &alice).unwrap();
    std::fs::write(
        folder.join("bob@example.test.wav"),
        wav_file(1, 2, 8000, 16, &[0; 64]),
    )
    .unwrap();

    let server = Server::demo_in(data);
    let data = server.stop();
    assert!(!folder.join("alice@example.test.wav").exists());
    assert!(
        folder.join("bob@example.test.wav").exists(),
        "an unusable file stays"
    );

    // A second start changes nothing.
    let data = Server::demo_in(data).stop();
    let back = temp_dir("legacy-back").join("alice.wav");
    let (ok, _, err) = admin(
        &data,
        &[
            "user",
            "greeting",
            "alice@example.test",
            "get",
            "--kind",
            "unavailable",
            "--file",
            back.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");
    assert_eq!(std::fs::read(&back).unwrap(), alice);
    assert!(folder.join("bob@example.test.wav").exists());
    std::fs::remove_dir_all(data).unwrap();
    std::fs::remove_dir_all(back.parent().unwrap()).unwrap();
}

/// exchangelib writes alice's greeting as the user configuration object Exchange UM uses; a
/// call to her mailbox then plays exactly those samples, as RTP captured at the caller shows.
#[test]
fn a_greeting_written_over_ews_is_what_the_caller_hears() {
    let server = Server::demo();
    let work = temp_dir("greeting-ews");
    // One second of distinct audio; a different first version that the update replaces.
    let (greeting, codes) = distinct_greeting(8000, 1);
    let (first, _) = distinct_greeting(800, 2);
    std::fs::write(work.join("greeting.wav"), &greeting).unwrap();
    std::fs::write(work.join("first.wav"), &first).unwrap();
    let stdout = run_exchangelib(
        &server,
        "test_greeting.py",
        &[
            ("UMBOX_FIRST_GREETING", &work.join("first.wav")),
            ("UMBOX_GREETING", &work.join("greeting.wav")),
        ],
    );
    for step in [
        "ok create the greeting",
        "ok a second create is ErrorItemSave",
        "ok update and read back byte for byte",
        "ok an unknown name is ErrorItemNotFound",
        "ok listed among the root's associated items",
        "greeting written over EWS",
    ] {
        assert!(stdout.contains(step), "{step:?} missing from\n{stdout}");
    }

    // Alice (extension 1001) is called; the caller listens through the greeting and the beep.
    let capture = rtp::Capture::start();
    let port = capture.port().to_string();
    {
        let _turn = sipp::media_turn();
        let keys = [
            "-key",
            "mailbox",
            "1001",
            "-key",
            "capture_port",
            &port,
            "-d",
            "2500",
        ];
        sipp::run("voicemail_listen.xml", server.sip_media, 1, 20, &keys).assert_ok();
    }
    let packets = capture.finish();
    let heard = rtp::audio(&packets, 0);
    assert!(heard.len() >= codes.len(), "{} samples heard", heard.len());
    let decode =
        |codes: &[u8]| -> Vec<i16> { codes.iter().map(|&c| Law::Mu.decode_sample(c)).collect() };
    assert_eq!(
        decode(&heard[..codes.len()]),
        decode(&codes),
        "the first second heard is the greeting, sample for sample"
    );
    drop(server);
    std::fs::remove_dir_all(work).unwrap();
}

/// Calls `extension` on `server`'s media server, listens for `listen_ms` and returns the µ-law
/// codes heard, in order.
fn listen(server: &Server, extension: &str, listen_ms: u32) -> Vec<u8> {
    let capture = rtp::Capture::start();
    let port = capture.port().to_string();
    let listen = listen_ms.to_string();
    {
        let _turn = sipp::media_turn();
        let keys = [
            "-key",
            "mailbox",
            extension,
            "-key",
            "capture_port",
            &port,
            "-d",
            &listen,
        ];
        sipp::run("voicemail_listen.xml", server.sip_media, 1, 20, &keys).assert_ok();
    }
    rtp::audio(&capture.finish(), 0)
}

/// Where `needle` first occurs in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Without a personal greeting the caller hears "You have reached", the recorded name and the
/// system greeting; once alice's automatic replies are on (SetUserOofSettings over EWS), her away
/// greeting instead.
#[test]
fn callers_hear_the_recorded_name_or_the_away_greeting_while_oof_is_on() {
    let work = temp_dir("greeting-kinds");
    let (name, name_codes) = distinct_greeting(1200, 3);
    let (away, away_codes) = distinct_greeting(4000, 4);
    std::fs::write(work.join("name.wav"), &name).unwrap();
    std::fs::write(work.join("away.wav"), &away).unwrap();
    let data = Server::demo().stop();
    for (kind, file) in [("name", "name.wav"), ("away", "away.wav")] {
        let (ok, _, err) = admin(
            &data,
            &[
                "user",
                "greeting",
                "alice@example.test",
                "set",
                "--kind",
                kind,
                "--file",
                work.join(file).to_str().unwrap(),
            ],
        );
        assert!(ok, "{err}");
    }
    let server = Server::demo_in(data);

    let heard = listen(&server, "1001", 2500);
    let prompts = Prompts::embedded().unwrap();
    let introduction = prompts.clip(Prompt::YouHaveReached);
    assert!(
        heard.starts_with(&introduction),
        "the call opens with \"You have reached\""
    );
    let at = find(&heard, &name_codes).expect("the recorded name, sample for sample");
    assert!(
        at >= introduction.len(),
        "the name follows the introduction"
    );
    assert_eq!(
        find(&heard, &away_codes[..800]),
        None,
        "no away greeting while OOF is off"
    );

    let oof = r#"<?xml version="1.0" encoding="utf-8"?>
<s:Envelope xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types">
  <s:Header><t:RequestServerVersion Version="Exchange2013"/></s:Header>
  <s:Body><m:SetUserOofSettingsRequest><t:Mailbox><t:Address>alice@example.test</t:Address></t:Mailbox>
    <t:UserOofSettings><t:OofState>Enabled</t:OofState><t:ExternalAudience>All</t:ExternalAudience>
      <t:InternalReply><t:Message>Away</t:Message></t:InternalReply><t:ExternalReply><t:Message>Away</t:Message></t:ExternalReply>
    </t:UserOofSettings></m:SetUserOofSettingsRequest></s:Body>
</s:Envelope>"#;
    let reply = curl(&[
        "-u",
        "alice@example.test:demo-alice",
        "-H",
        "Content-Type: text/xml; charset=utf-8",
        "--data-binary",
        oof,
        &server.https_url("/EWS/Exchange.asmx"),
    ]);
    assert!(reply.text().contains("NoError"), "{}", reply.text());

    let heard = listen(&server, "1001", 1500);
    assert!(
        heard.starts_with(&away_codes),
        "the away greeting plays first, sample for sample"
    );
    drop(server);
    std::fs::remove_dir_all(work).unwrap();
}
