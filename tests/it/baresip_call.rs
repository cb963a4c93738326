//! baresip (Debian 1.0) as a second real gateway: it dials extension 1001 at the call router,
//! follows the 302 to the media server, plays a WAV file as the caller's voice (aufile source)
//! and hangs up when the file ends. Its configuration is `tests/interop/baresip/`, copied into a
//! folder of the test's own.

use std::path::Path;
use std::process::{Command, Stdio};

use umbox_media::g711::Law;
use umbox_media::wav;

use crate::harness::{temp_dir, Server};
use crate::voicemail_calls::{
    counts, data_with_short_greetings, extended, messages, stored_recordings, text, ALICE, MESSAGE,
};
use umbox_testkit::sipp;

/// Leading silence in baresip's file: it sends from the answer on, and the greeting (about
/// 1.1 s) must be over before the message starts.
const LEAD_IN_SAMPLES: usize = 16_000;

/// A 16-bit PCM WAV file (RIFF, format 1) of `samples` at 8 kHz mono.
fn pcm_wav(samples: &[i16]) -> Vec<u8> {
    let data_len = u32::try_from(samples.len() * 2).unwrap();
    let mut file = Vec::new();
    file.extend_from_slice(b"RIFF");
    file.extend_from_slice(&(36 + data_len).to_le_bytes());
    file.extend_from_slice(b"WAVEfmt ");
    file.extend_from_slice(&16u32.to_le_bytes());
    file.extend_from_slice(&1u16.to_le_bytes()); // PCM
    file.extend_from_slice(&1u16.to_le_bytes()); // mono
    file.extend_from_slice(&8000u32.to_le_bytes());
    file.extend_from_slice(&16000u32.to_le_bytes()); // bytes per second
    file.extend_from_slice(&2u16.to_le_bytes()); // block align
    file.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    file.extend_from_slice(b"data");
    file.extend_from_slice(&data_len.to_le_bytes());
    for sample in samples {
        file.extend_from_slice(&sample.to_le_bytes());
    }
    file
}

fn configure(dir: &Path, audio: &Path) {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/baresip");
    let config = std::fs::read_to_string(interop.join("config.in")).unwrap();
    let config = config.replace("@AUDIO@", audio.to_str().unwrap());
    std::fs::write(dir.join("config"), config).unwrap();
    std::fs::copy(interop.join("accounts"), dir.join("accounts")).unwrap();
}

#[test]
fn baresip_leaves_a_voice_message_through_the_router() {
    let mut server = Server::demo_in(data_with_short_greetings(&[ALICE.0]));
    let dir = temp_dir("baresip");
    // The message as linear samples: baresip encodes them back into µ-law itself.
    let mut samples = vec![0i16; LEAD_IN_SAMPLES];
    samples.extend(MESSAGE.iter().map(|code| Law::Mu.decode_sample(*code)));
    let audio = dir.join("message.wav");
    std::fs::write(&audio, pcm_wav(&samples)).unwrap();
    configure(&dir, &audio);

    let _turn = sipp::media_turn();
    let mut baresip = Command::new("baresip")
        .arg("-f")
        .arg(&dir)
        .args(["-e", &format!("/dial sip:1001@{}", server.sip_router)])
        // A bound on its life if the call never ends; the test stops it sooner.
        .args(["-t", "60"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("baresip runs (apt-get install baresip)");
    let summary = server.wait_for_log("call ended outcome=");
    let _ = baresip.kill();
    let _ = baresip.wait();
    assert!(
        summary.contains(r#"outcome="voice-message""#) && summary.contains("foreign=0"),
        "{summary}"
    );
    assert!(
        summary.contains("mailbox=\"alice@example.test\""),
        "{summary}"
    );

    let found = messages(&server, ALICE, "voicemail");
    assert_eq!(found.len(), 1);
    let subject = text(&found[0], "Subject");
    assert!(
        subject.starts_with("Voice Mail from Bob Berg (+1 425 555 0102) ("),
        "{subject}"
    );
    let seconds: u64 = extended(&found[0], "0x6801").unwrap().parse().unwrap();
    assert_eq!(counts(&server, ALICE, "voicemail"), (1, 1));

    server.interrupt();
    let recordings = stored_recordings(&server.data, ALICE.0);
    let recorded = wav::read(&recordings[0]).unwrap().data.to_vec();
    assert_eq!(seconds, u64::try_from(recorded.len() / 8000).unwrap());
    // What baresip sent after the beep: the end of its lead-in, the whole message (each code
    // as µ-law encodes its decoded value: only 0x7F, negative zero, changes) and the silence it
    // keeps sending between the file's end and its BYE. The message is placed by its first
    // code that is not silence.
    let expected: Vec<u8> = MESSAGE
        .iter()
        .map(|code| Law::Mu.encode_sample(Law::Mu.decode_sample(*code)))
        .collect();
    let silence = Law::Mu.silence();
    let first_sound = |codes: &[u8]| codes.iter().position(|code| *code != silence).unwrap();
    let start = first_sound(&recorded)
        .checked_sub(first_sound(&expected))
        .expect("the lead-in covers the greeting");
    let end = start + expected.len();
    assert!(end <= recorded.len(), "the message was cut short");
    let message = &recorded[start..end];
    assert!(
        message == expected.as_slice(),
        "the recording's message part differs at byte {:?}",
        message.iter().zip(&expected).position(|(a, b)| a != b)
    );
    assert!(recorded[..start].iter().all(|code| *code == silence));
    assert!(recorded[end..].iter().all(|code| *code == silence));
}
