//! The recording spool across a crash and a failed delivery: a sipp call whose server is killed
//! with SIGKILL mid-message is in the mailbox after the restart, flagged partial (property and
//! body) and holding exactly the audio spooled before the kill; a delivery the directory refuses
//! (the user removed during the call) keeps its spool file and is retried until the user is back.
//! (SIGTERM during a call: `voicemail_calls::sigterm_refuses_new_calls_and_still_delivers_the_call_in_progress`.)

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use umbox_media::spool;
use umbox_media::wav;

use crate::harness::Server;
use crate::metrics::{sample, scrape};
use crate::voicemail_calls::{
    assert_is_the_message, data_with_short_greetings, ews, extended, extended_by, id_of, messages,
    text, voice_message_over_ews, ALICE, ALICE_DEPOSIT, MESSAGE,
};
use umbox_testkit::sipp;

/// The spool files in `data`.
fn spool_files(data: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(data.join("spool")) {
        Ok(entries) => entries.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// Waits (at most 30 s) until `data`'s one spool file holds at least `samples` of audio, and
/// returns how many it holds: that much was written before the caller's next step.
fn wait_for_spooled(data: &Path, samples: usize) -> usize {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let held = match spool_files(data).as_slice() {
            [file] => spool::read(file).map_or(0, |spooled| spooled.samples),
            _ => 0,
        };
        if held >= samples {
            return held;
        }
        assert!(
            Instant::now() < deadline,
            "the spool holds {held} samples after 30 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The body and the partial-recording property of a voice message, over GetItem.
fn body_and_partial_flag(server: &Server, item_id: &str) -> (String, Option<String>) {
    let reply = ews(
        server,
        ALICE,
        &format!(
            r#"<m:GetItem>
  <m:ItemShape>
    <t:BaseShape>IdOnly</t:BaseShape>
    <t:BodyType>Text</t:BodyType>
    <t:AdditionalProperties>
      <t:FieldURI FieldURI="item:Body"/>
      <t:ExtendedFieldURI DistinguishedPropertySetId="PublicStrings" PropertyName="umbox-partial-recording" PropertyType="Boolean"/>
    </t:AdditionalProperties>
  </m:ItemShape>
  <m:ItemIds><t:ItemId Id="{item_id}"/></m:ItemIds>
</m:GetItem>"#
        ),
    );
    let partial = extended_by(&reply, "PropertyName", "umbox-partial-recording");
    (text(&reply, "Body"), partial)
}

#[test]
fn a_call_killed_mid_message_is_delivered_partial_after_the_restart() {
    let server = Server::demo_in(data_with_short_greetings(&[ALICE.0]));
    let _turn = sipp::media_turn();
    let keys = ALICE_DEPOSIT;
    let call = sipp::spawn("voicemail_bye.xml", server.sip_router, 1, 40, &keys);
    // Two seconds of the 5.26 s message handed to the spool writer: it is in the file (the page
    // cache outlives the process), so the restart must deliver at least that much.
    let spooled = wait_for_spooled(&server.data, 16_000);
    let data = server.stop();
    call.kill();
    assert_eq!(spool_files(&data).len(), 1, "the killed call's file stays");
    // A call killed between creating its file and writing the envelope leaves an empty file:
    // nothing to deliver, so the restart removes it.
    let unstarted = data.join("spool").join("00000000000000aa.spool");
    std::fs::write(&unstarted, b"").unwrap();

    let server = Server::demo_in(data);
    server.wait_for_log("spooled call delivered");
    assert!(
        spool_files(&server.data).is_empty(),
        "delivered, then removed; the empty file removed"
    );
    let found = messages(&server, ALICE, "voicemail");
    assert_eq!(found.len(), 1, "one voice message");
    let item_id = id_of(&found[0], "ItemId");
    let (duration, file) = voice_message_over_ews(&server, ALICE, &item_id);
    let audio = wav::read(&file).unwrap().data.to_vec();
    assert!(
        audio.len() >= spooled && audio.len() < MESSAGE.len(),
        "{} samples recovered, {spooled} spooled before the kill",
        audio.len()
    );
    assert!(
        audio == MESSAGE[..audio.len()],
        "the recovered audio is not the start of the message, sample for sample"
    );
    assert_eq!(duration, (audio.len() / 8000).to_string());
    assert_eq!(
        extended(&found[0], "0x6802").as_deref(),
        Some("+14255550102")
    );
    let (body, partial) = body_and_partial_flag(&server, &item_id);
    assert_eq!(partial.as_deref(), Some("true"));
    assert!(body.contains("The recording was cut off"), "{body}");
    let samples = scrape(&server);
    assert_eq!(sample(&samples, "umbox_spool_files", ""), Some(0.0));
}

#[test]
fn a_refused_delivery_keeps_its_spool_file_and_is_retried_until_it_succeeds() {
    let server = Server::demo_in_logging(
        data_with_short_greetings(&[ALICE.0]),
        "info,umbox_um::voicemail=debug",
    );
    {
        let _turn = sipp::media_turn();
        let keys = ALICE_DEPOSIT;
        let call = sipp::spawn("voicemail_bye.xml", server.sip_router, 1, 40, &keys);
        server.wait_for_log("media started");
        // Alice leaves the directory while the caller speaks: her message has nowhere to go.
        let (ok, _, err) = server.admin(&["user", "remove", ALICE.0]);
        assert!(ok, "{err}");
        server.wait_for_log("reloaded directory and configuration");
        call.wait().assert_ok();
    }
    let failed = server.wait_for_log("call ended; delivery failed");
    assert!(failed.contains("no user alice@example.test"), "{failed}");
    server.wait_for_log("spooled call not delivered");
    assert_eq!(
        spool_files(&server.data).len(),
        1,
        "the message waits in the spool"
    );
    let samples = scrape(&server);
    assert_eq!(sample(&samples, "umbox_spool_files", ""), Some(1.0));
    assert!(sample(&samples, "umbox_spool_delivery_retries_total", "").unwrap() >= 1.0);

    let (ok, _, err) = server.admin(&[
        "user",
        "add",
        ALICE.0,
        "--name",
        "Alice Anders",
        "--password",
        ALICE.1,
        "--extension",
        "1001",
        "--policy",
        "default",
    ]);
    assert!(ok, "{err}");
    server.wait_for_log("spooled call delivered");
    assert!(spool_files(&server.data).is_empty());
    let found = messages(&server, ALICE, "voicemail");
    assert_eq!(found.len(), 1);
    let (_, file) = voice_message_over_ews(&server, ALICE, &id_of(&found[0], "ItemId"));
    assert_is_the_message(&file, "GetAttachment after the retry");
    let (_, partial) = body_and_partial_flag(&server, &id_of(&found[0], "ItemId"));
    assert_eq!(partial, None, "a whole message is not flagged");
    assert_eq!(sample(&scrape(&server), "umbox_spool_files", ""), Some(0.0));
}
