//! A voicemail call's media end to end over real UDP on 127.0.0.1: the test is the caller's side,
//! building its RTP with rtp-rs, and drives a session through `umbox_media`'s public API.
//! Time is tokio's paused clock, so the 20 ms pacing and the prompts run without waiting.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::print_stderr
)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use rtp_rs::{RtpPacketBuilder, RtpReader, Seq};
use tokio::net::UdpSocket;
use tokio::time::timeout;
use umbox_media::dtmf::{Event, Extension, TelephoneEvent};
use umbox_media::g711::Law;
use umbox_media::playout::Playlist;
use umbox_media::ports::PortPool;
use umbox_media::prompts::Prompts;
use umbox_media::recorder::{EndReason, Recording};
use umbox_media::rtp::StreamIds;
use umbox_media::sdp::{SdpError, SessionDescription};
use umbox_media::{
    negotiate, start_call, start_direct_call, AbandonReason, CallPhase, CallPlan, DirectOutcome,
    DirectPlan, Greeting, MailboxLookup, SessionContext, SessionHandle,
};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Bounds every wait; with paused time a stuck test reaches it at once instead of hanging.
const LIMIT: Duration = Duration::from_secs(600);
const EVENT_PT: u8 = 101;
const IDS: StreamIds = StreamIds {
    ssrc: 0x5EED_0001,
    first_sequence: 65500,
    first_timestamp: 4_294_960_000,
};

fn offer(port: u16) -> Vec<u8> {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0 {EVENT_PT}\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:{EVENT_PT} telephone-event/8000\r\na=fmtp:{EVENT_PT} 0-15\r\na=sendrecv\r\n"
    )
    .into_bytes()
}

fn context() -> SessionContext {
    SessionContext {
        prompts: Arc::new(Prompts::embedded().unwrap()),
        ids: IDS,
    }
}

/// The caller's side of the call.
struct Caller {
    socket: UdpSocket,
    server: SocketAddr,
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
}

impl Caller {
    async fn bind() -> Caller {
        Caller {
            socket: UdpSocket::bind((LOCALHOST, 0)).await.unwrap(),
            server: SocketAddr::new(LOCALHOST, 0),
            ssrc: 0xCA11_E500,
            sequence: 1000,
            timestamp: 50_000,
        }
    }

    fn port(&self) -> u16 {
        self.socket.local_addr().unwrap().port()
    }

    /// Learns the server's RTP address from its answer.
    fn answered(&mut self, answer: &[u8]) {
        let answer = SessionDescription::parse(answer).unwrap();
        self.server = SocketAddr::new(LOCALHOST, answer.media[0].port);
    }

    async fn send_raw(
        &self,
        payload_type: u8,
        marker: bool,
        sequence: u16,
        timestamp: u32,
        payload: &[u8],
    ) {
        let packet = RtpPacketBuilder::new()
            .payload_type(payload_type)
            .marked(marker)
            .sequence(Seq::from(sequence))
            .timestamp(timestamp)
            .ssrc(self.ssrc)
            .payload(payload)
            .build()
            .unwrap();
        self.socket.send_to(&packet, self.server).await.unwrap();
    }

    /// Sends audio packets `order` (indexes into `audio`, 160 samples each) with their own sequence
    /// numbers and timestamps, then moves past them.
    async fn send_audio(&mut self, audio: &[Vec<u8>], order: &[usize]) {
        for &index in order {
            let sequence = self.sequence.wrapping_add(index as u16);
            let timestamp = self.timestamp.wrapping_add(160 * index as u32);
            self.send_raw(0, index == 0, sequence, timestamp, &audio[index])
                .await;
        }
        self.sequence = self.sequence.wrapping_add(audio.len() as u16);
        self.timestamp = self.timestamp.wrapping_add(160 * audio.len() as u32);
    }

    /// Presses a key the RFC 4733 way: three updates, then the end packet three times, all with
    /// the event's start timestamp.
    async fn press(&mut self, event: Event) {
        for (i, duration) in [160u16, 320, 480, 640, 640, 640].into_iter().enumerate() {
            let payload = TelephoneEvent {
                event,
                end: i >= 3,
                volume: 10,
                duration,
            }
            .to_bytes();
            self.send_raw(EVENT_PT, i == 0, self.sequence, self.timestamp, &payload)
                .await;
            self.sequence = self.sequence.wrapping_add(1);
        }
        self.timestamp = self.timestamp.wrapping_add(640);
    }

    /// Reads the next RTP packet from the server: (sequence, timestamp, ssrc, payload type, marker,
    /// payload).
    async fn receive(&self) -> (u16, u32, u32, u8, bool, Vec<u8>) {
        let mut buffer = [0u8; 2048];
        let (length, from) = timeout(LIMIT, self.socket.recv_from(&mut buffer))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(from, self.server, "media comes from the port in the answer");
        let packet = RtpReader::new(&buffer[..length]).unwrap();
        (
            packet.sequence_number().into(),
            packet.timestamp(),
            packet.ssrc(),
            packet.payload_type(),
            packet.mark(),
            packet.payload().to_vec(),
        )
    }
}

/// Distinct, non-silent 20 ms packets of µ-law.
fn speech(packets: usize) -> Vec<Vec<u8>> {
    (0..packets)
        .map(|p| (0..160).map(|i| ((p * 160 + i) * 37 % 251) as u8).collect())
        .collect()
}

async fn wait_for_phase(handle: &SessionHandle, phase: CallPhase) {
    let mut phases = handle.phase();
    timeout(LIMIT, phases.wait_for(|p| *p == phase))
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test(start_paused = true)]
async fn greeting_then_recording_until_pound() {
    let mut caller = Caller::bind().await;
    let pool = PortPool::ephemeral(LOCALHOST);
    let (negotiated, answer) = negotiate(&offer(caller.port()), LOCALHOST, &pool).unwrap();
    caller.answered(&answer);
    assert_eq!(negotiated.params().law, Law::Mu);

    // A 60 ms custom greeting; then the session adds a pause and the 0.5 s beep.
    let greeting: Arc<[u8]> = (0..480)
        .map(|i| (i % 200) as u8)
        .collect::<Vec<u8>>()
        .into();
    let mut expected_playout = Playlist::custom_greeting(Law::Mu, Arc::clone(&greeting));
    let packets = expected_playout.total_samples().div_ceil(160);
    let plan = CallPlan {
        max_message: Duration::from_secs(60),
        silence_timeout: Duration::from_secs(10),
        ..CallPlan::new(Greeting::Custom {
            law: Law::Mu,
            codes: greeting,
        })
    };
    let (handle, task) = start_call(negotiated, context(), plan).unwrap();

    // The greeting and beep arrive as one paced stream: consecutive sequence numbers (wrapping),
    // timestamps 160 apart (wrapping), our SSRC, PCMU, marker on the first packet only.
    for n in 0..packets {
        let (sequence, timestamp, ssrc, payload_type, marker, payload) = caller.receive().await;
        assert_eq!(sequence, IDS.first_sequence.wrapping_add(n as u16));
        assert_eq!(timestamp, IDS.first_timestamp.wrapping_add(160 * n as u32));
        assert_eq!((ssrc, payload_type, marker), (IDS.ssrc, 0, n == 0));
        let mut expected = [Law::Mu.silence(); 160];
        expected_playout.fill(Law::Mu, &mut expected);
        assert_eq!(payload, expected, "packet {n} of the greeting");
    }
    assert!(expected_playout.is_done());
    wait_for_phase(&handle, CallPhase::Recording).await;

    // A third party aims packets at the call's port: they must not reach the recording.
    let intruder = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    for i in 0..3u16 {
        let packet = RtpPacketBuilder::new()
            .payload_type(0)
            .sequence(Seq::from(1000 + i))
            .timestamp(50_000 + 160 * u32::from(i))
            .ssrc(caller.ssrc)
            .payload(&[0u8; 160])
            .build()
            .unwrap();
        intruder.send_to(&packet, caller.server).await.unwrap();
    }

    // One second of speech, with reordering and a duplicate, then #.
    let audio = speech(50);
    let mut order: Vec<usize> = vec![0, 1, 3, 2, 4, 5, 6, 7, 10, 8, 9];
    order.extend(11..=20);
    // 22 twice while 21 is still missing, then 21.
    order.extend([22, 22, 21]);
    order.extend(23..50);
    caller.send_audio(&audio, &order).await;
    caller.press(Event::Pound).await;

    let recording: Recording = timeout(LIMIT, task).await.unwrap().unwrap();
    assert_eq!(recording.ended, EndReason::Pound);
    assert_eq!(recording.law, Law::Mu);
    assert_eq!(
        recording.audio,
        audio.concat(),
        "the recording is the bytes sent, in order"
    );
    assert_eq!(recording.duration(), Duration::from_secs(1));
    let stats = recording.stats;
    assert_eq!(stats.foreign, 3);
    assert_eq!(stats.received, 51);
    assert_eq!(stats.events, 6);
    assert_eq!(stats.jitter.duplicates, 1);
    assert_eq!(stats.jitter.late, 0);
    assert_eq!(stats.jitter.lost, 0);
    assert_eq!(stats.jitter.concealed_samples, 0);
    assert!(stats.sent >= packets as u64);
    assert_eq!(*handle.phase().borrow(), CallPhase::Ended);

    // The recording makes a MS-OXOUM voice attachment.
    let wav = umbox_media::wav::write_g711(recording.law, &recording.audio).unwrap();
    assert_eq!(&wav[20..22], &[7, 0], "WAVE_FORMAT_MULAW");
    assert_eq!(&wav[wav.len() - 8000..], &recording.audio[..]);
}

#[tokio::test(start_paused = true)]
async fn hold_stops_our_stream_and_a_hangup_keeps_what_was_recorded() {
    let mut caller = Caller::bind().await;
    let pool = PortPool::ephemeral(LOCALHOST);
    let (negotiated, answer) = negotiate(&offer(caller.port()), LOCALHOST, &pool).unwrap();
    caller.answered(&answer);
    let greeting = Greeting::Custom {
        law: Law::Mu,
        codes: Arc::from(&[0x80u8; 160][..]),
    };
    let greeting_packets = Playlist::custom_greeting(Law::Mu, Arc::from(&[0x80u8; 160][..]))
        .total_samples()
        .div_ceil(160);
    let (mut handle, task) = start_call(negotiated, context(), CallPlan::new(greeting)).unwrap();
    wait_for_phase(&handle, CallPhase::Recording).await;

    // The caller puts the call on hold (a=sendonly): the answer keeps the port, says recvonly.
    let hold = String::from_utf8(offer(caller.port()))
        .unwrap()
        .replace("a=sendrecv", "a=sendonly");
    let held = SessionDescription::parse(&handle.reoffer(hold.as_bytes()).unwrap()).unwrap();
    assert_eq!(
        held.media[0].port,
        caller.server.port(),
        "a re-offer keeps the port"
    );
    assert_eq!(held.origin.session_version, 2);
    assert!(String::from_utf8(held.to_bytes())
        .unwrap()
        .contains("a=recvonly"));

    // Everything sent so far is the greeting; the caller keeps talking while holding.
    let mut last = (0, 0);
    for _ in 0..greeting_packets {
        let (sequence, timestamp, ..) = caller.receive().await;
        last = (sequence, timestamp);
    }
    let audio = speech(10);
    caller
        .send_audio(&audio, &(0..10).collect::<Vec<_>>())
        .await;
    // Let a second of (paused) time pass through the runtime: 50 send slots go by unsent.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut buffer = [0u8; 2048];
    assert!(
        caller.socket.try_recv_from(&mut buffer).is_err(),
        "nothing is sent while held"
    );

    // Unhold: the stream resumes with the next sequence number and timestamps that kept time.
    handle.reoffer(&offer(caller.port())).unwrap();
    let (sequence, timestamp, ..) = caller.receive().await;
    assert_eq!(sequence, last.0.wrapping_add(1));
    assert!(
        timestamp.wrapping_sub(last.1) >= 50 * 160,
        "timestamps advanced through the hold"
    );

    // The audio sent during the hold was recorded; the hang-up ends the recording.
    handle.hangup();
    let recording = timeout(LIMIT, task).await.unwrap().unwrap();
    assert_eq!(recording.ended, EndReason::Hangup);
    assert_eq!(recording.audio, audio.concat());
}

#[tokio::test]
async fn an_unusable_offer_is_refused_before_any_port_is_taken() {
    let pool = PortPool::new(LOCALHOST, 40000..=40009).unwrap();
    let g729 = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 18\r\n";
    let error = negotiate(g729, LOCALHOST, &pool).unwrap_err();
    assert!(
        matches!(error, umbox_media::Error::Sdp(SdpError::NoCodec)),
        "{error}"
    );
    let video = b"v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=video 4000 RTP/AVP 96\r\n";
    assert!(matches!(
        negotiate(video, LOCALHOST, &pool),
        Err(umbox_media::Error::Sdp(SdpError::NoAudio))
    ));
    assert_eq!(pool.in_use(), 0);
}

/// A directory with one mailbox at extension 1001.
struct Directory;

impl MailboxLookup for Directory {
    type Mailbox = &'static str;

    async fn lookup(&self, extension: &Extension) -> Option<(&'static str, CallPlan)> {
        // A slow directory: the stream must keep going meanwhile.
        tokio::time::sleep(Duration::from_millis(300)).await;
        (extension.as_str() == "1001")
            .then(|| ("alice", CallPlan::new(Greeting::System(extension.clone()))))
    }
}

fn digit_events(text: &str) -> Vec<Event> {
    text.chars()
        .map(|c| match c {
            '#' => Event::Pound,
            '*' => Event::Star,
            d => Event::from_u8(d.to_digit(10).unwrap() as u8),
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn direct_call_collects_an_extension_and_records_for_its_mailbox() {
    let mut caller = Caller::bind().await;
    let pool = PortPool::ephemeral(LOCALHOST);
    let (negotiated, answer) = negotiate(&offer(caller.port()), LOCALHOST, &pool).unwrap();
    caller.answered(&answer);
    let (handle, task) =
        start_direct_call(negotiated, context(), DirectPlan::default(), Directory).unwrap();
    assert_eq!(*handle.phase().borrow(), CallPhase::CollectingExtension);

    // Keys interrupt the prompt; "1001#" finds alice.
    for event in digit_events("1001#") {
        caller.press(event).await;
    }
    wait_for_phase(&handle, CallPhase::Recording).await;
    let audio = speech(25);
    caller
        .send_audio(&audio, &(0..25).collect::<Vec<_>>())
        .await;
    caller.press(Event::Pound).await;

    match timeout(LIMIT, task).await.unwrap().unwrap() {
        DirectOutcome::Message {
            mailbox,
            extension,
            recording,
        } => {
            assert_eq!(mailbox, "alice");
            assert_eq!(extension.as_str(), "1001");
            assert_eq!(recording.ended, EndReason::Pound);
            assert_eq!(recording.audio, audio.concat());
        }
        other => panic!("expected a message, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn direct_call_to_a_missing_mailbox_is_abandoned() {
    let mut caller = Caller::bind().await;
    let pool = PortPool::ephemeral(LOCALHOST);
    let (negotiated, answer) = negotiate(&offer(caller.port()), LOCALHOST, &pool).unwrap();
    caller.answered(&answer);
    let plan = DirectPlan {
        attempts: 2,
        ..DirectPlan::default()
    };
    let (_handle, task) = start_direct_call(negotiated, context(), plan, Directory).unwrap();
    // First attempt: a wrong extension. Second: nothing at all (the timeouts run out).
    for event in digit_events("999#") {
        caller.press(event).await;
    }
    match timeout(LIMIT, task).await.unwrap().unwrap() {
        DirectOutcome::Abandoned { reason, .. } => assert_eq!(reason, AbandonReason::NoMailbox),
        other => panic!("expected abandonment, got {other:?}"),
    }
}

/// Starts a call with a one-packet greeting and waits until it records.
async fn recording_call(
    plan: impl FnOnce(CallPlan) -> CallPlan,
) -> (Caller, SessionHandle, tokio::task::JoinHandle<Recording>) {
    let mut caller = Caller::bind().await;
    let pool = PortPool::ephemeral(LOCALHOST);
    let (negotiated, answer) = negotiate(&offer(caller.port()), LOCALHOST, &pool).unwrap();
    caller.answered(&answer);
    let greeting = Greeting::Custom {
        law: Law::Mu,
        codes: Arc::from(&[0x80u8; 160][..]),
    };
    let (handle, task) = start_call(negotiated, context(), plan(CallPlan::new(greeting))).unwrap();
    wait_for_phase(&handle, CallPhase::Recording).await;
    (caller, handle, task)
}

#[tokio::test(start_paused = true)]
async fn the_maximum_length_cuts_the_message_and_plays_the_prompt() {
    let (mut caller, handle, task) = recording_call(|plan| CallPlan {
        max_message: Duration::from_secs(1),
        ..plan
    })
    .await;
    let audio = speech(60);
    caller
        .send_audio(&audio, &(0..60).collect::<Vec<_>>())
        .await;
    wait_for_phase(&handle, CallPhase::Closing).await;
    let recording = timeout(LIMIT, task).await.unwrap().unwrap();
    assert_eq!(recording.ended, EndReason::MaxLength);
    assert_eq!(recording.audio, audio[..50].concat());
}

#[tokio::test(start_paused = true)]
async fn silence_ends_the_recording_and_is_kept() {
    let (mut caller, _handle, task) = recording_call(|plan| CallPlan {
        silence_timeout: Duration::from_secs(2),
        ..plan
    })
    .await;
    let mut audio = speech(10);
    audio.extend(std::iter::repeat_n(vec![0xFF; 160], 300));
    caller
        .send_audio(&audio, &(0..310).collect::<Vec<_>>())
        .await;
    let recording = timeout(LIMIT, task).await.unwrap().unwrap();
    assert_eq!(recording.ended, EndReason::Silence);
    // Two seconds of quiet frames after the speech; the rest was never recorded.
    assert_eq!(recording.audio, audio[..110].concat());
}

#[tokio::test(start_paused = true)]
async fn no_media_at_all_ends_the_recording_after_the_silence_timeout() {
    let (_caller, _handle, task) = recording_call(|plan| plan).await;
    let recording = timeout(LIMIT, task).await.unwrap().unwrap();
    assert_eq!(recording.ended, EndReason::Silence);
    assert!(recording.audio.is_empty());
}

/// What the conversation under test saw, step by step.
#[derive(Debug, PartialEq)]
enum Step {
    Entry(umbox_media::Entry),
    Key(Option<Event>),
    Recorded(Vec<u8>),
}

#[tokio::test(start_paused = true)]
async fn a_conversation_barges_in_types_ahead_times_out_and_records() {
    use tokio::sync::{mpsc, oneshot};
    use umbox_media::prompts::Prompt;
    use umbox_media::{start_conversation, Entry, Timeouts};

    let mut caller = Caller::bind().await;
    let pool = PortPool::ephemeral(LOCALHOST);
    let (negotiated, answer) = negotiate(&offer(caller.port()), LOCALHOST, &pool).unwrap();
    caller.answered(&answer);
    let prompts = Arc::new(Prompts::embedded().unwrap());
    let (notice, mut notices) = mpsc::unbounded_channel::<&'static str>();
    let (release, released) = oneshot::channel::<()>();
    let timeouts = Timeouts {
        first_key: Duration::from_secs(1),
        inter_digit: Duration::from_secs(1),
    };
    let (_handle, task) = start_conversation(negotiated, context(), move |mut call| async move {
        let prompt = |p| Playlist::prompt(&prompts, p);
        let mut steps = Vec::new();
        // `*` over the prompt is an answer of its own.
        steps.push(Step::Entry(
            call.ask_digits(prompt(Prompt::EnterPin), timeouts)
                .await
                .unwrap(),
        ));
        notice.send("waiting").unwrap();
        call.wait_for(released).await.unwrap().unwrap();
        // Keys pressed while waiting answer the next questions, without their prompts.
        steps.push(Step::Key(
            call.ask_key(prompt(Prompt::MainMenu), timeouts.first_key)
                .await
                .unwrap(),
        ));
        steps.push(Step::Entry(
            call.ask_digits(prompt(Prompt::EnterPin), timeouts)
                .await
                .unwrap(),
        ));
        // Nothing pressed: the question times out.
        steps.push(Step::Key(
            call.ask_key(prompt(Prompt::Saved), timeouts.first_key)
                .await
                .unwrap(),
        ));
        notice.send("recording").unwrap();
        let recording = call
            .record(Duration::from_secs(10), Duration::from_secs(5), -40.0)
            .await
            .unwrap();
        steps.push(Step::Recorded(recording.audio));
        call.close(Playlist::default()).await;
        steps
    })
    .unwrap();

    caller.receive().await;
    caller.press(Event::Star).await;
    assert_eq!(
        timeout(LIMIT, notices.recv()).await.unwrap(),
        Some("waiting")
    );
    for key in [
        Event::Digit(umbox_media::dtmf::Digit::new(1).unwrap()),
        Event::Digit(umbox_media::dtmf::Digit::new(2).unwrap()),
    ] {
        caller.press(key).await;
    }
    // Let the waiting call read them before it is released.
    for _ in 0..3 {
        caller.receive().await;
    }
    release.send(()).unwrap();
    caller
        .press(Event::Digit(umbox_media::dtmf::Digit::new(3).unwrap()))
        .await;
    caller.press(Event::Pound).await;
    assert_eq!(
        timeout(LIMIT, notices.recv()).await.unwrap(),
        Some("recording")
    );
    // Whatever came before, then the beep (25 packets); then speech and `#`.
    let mut beep = Playlist::beep();
    let beep: Vec<Vec<u8>> = (0..25)
        .map(|_| {
            let mut packet = vec![0u8; 160];
            beep.fill(Law::Mu, &mut packet);
            packet
        })
        .collect();
    let mut matched = 0;
    while matched < beep.len() {
        let payload = caller.receive().await.5;
        matched = if payload == beep[matched] {
            matched + 1
        } else {
            usize::from(payload == beep[0])
        };
    }
    let audio = speech(10);
    caller
        .send_audio(&audio, &(0..10).collect::<Vec<_>>())
        .await;
    caller.press(Event::Pound).await;

    let steps = timeout(LIMIT, task).await.unwrap().unwrap();
    assert_eq!(
        steps,
        [
            Step::Entry(Entry::Star),
            Step::Key(Some(Event::Digit(
                umbox_media::dtmf::Digit::new(1).unwrap()
            ))),
            Step::Entry(Entry::Digits("23".into())),
            Step::Key(None),
            Step::Recorded(audio.concat()),
        ]
    );
}
