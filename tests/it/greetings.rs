//! Greetings in the mailbox, end to end: `umbox user greeting` (refused while a server holds the
//! store, byte-exact set/get, WAV checks naming the problem), the start-up move of legacy
//! `<data>/greetings/*.wav` files, and a greeting written over EWS by exchangelib that a caller
//! (sipp) then hears sample for sample, captured from RTP.

use std::path::Path;
use std::process::Command;

use umbox_media::g711::Law;
use umbox_media::wav;

use crate::harness::{admin, temp_dir, Server};
use umbox_testkit::{rtp, sipp};

/// A WAV header for 16-bit PCM (or another `tag`/`bits`) of `channels` at `rate`, with `data`.
fn wav_file(tag: u16, channels: u16, rate: u32, bits: u16, data: &[u8]) -> Vec<u8> {
    let block = channels * bits / 8;
    let mut out = Vec::new();
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(36 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&16u32.to_le_bytes());
    out.extend_from_slice(&tag.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    out.extend_from_slice(&block.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    out
}

/// A µ-law greeting of `samples` codes that are not silence and never repeat in a short period,
/// so a captured stream either matches it exactly or visibly does not.
pub(crate) fn distinct_greeting(samples: usize) -> (Vec<u8>, Vec<u8>) {
    let codes: Vec<u8> = (0..samples)
        .map(|i| {
            let sample =
                ((i as f64 * 0.07).sin() * 9000.0 + (i as f64 * 0.011).cos() * 3000.0) as i16;
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
    let (alice, _) = distinct_greeting(1600);
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
    let python = crate::harness::exchangelib_python();
    let server = Server::demo();
    let work = temp_dir("greeting-ews");
    // One second of distinct audio; a different first version that the update replaces.
    let (greeting, codes) = distinct_greeting(8000);
    let (first, _) = distinct_greeting(800);
    std::fs::write(work.join("greeting.wav"), &greeting).unwrap();
    std::fs::write(work.join("first.wav"), &first).unwrap();
    let script =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/exchangelib/test_greeting.py");
    let out = Command::new(python)
        .arg(script)
        .env("UMBOX_EWS_URL", server.https_url("/EWS/Exchange.asmx"))
        .env("UMBOX_USER", "alice@example.test")
        .env("UMBOX_PASSWORD", "demo-alice")
        .env("UMBOX_FIRST_GREETING", work.join("first.wav"))
        .env("UMBOX_GREETING", work.join("greeting.wav"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "test_greeting.py failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
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
