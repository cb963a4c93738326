//! A voicemail call's media from answer to goodbye: greeting, beep, recording, closing prompt; the
//! direct-call variant that first asks for an extension by DTMF; and the [`Conversation`] of a
//! subscriber-access call, whose owner decides every step (play with barge-in, read keys and
//! digits, record, leave a message).
//!
//! This is the API the SIP side drives: [`negotiate`] answers the INVITE's offer and leases ports,
//! [`start_call`] / [`start_direct_call`] / [`start_conversation`] spawn the call's task and
//! return a [`SessionHandle`] (hang-up, re-offers, progress) and the task's `JoinHandle`. It sequences [`Phase`]s on a
//! [`Leg`]; it never sees SIP, never decides which mailbox a call is for (the caller's plan or
//! lookup does), and never touches the store. Time is tokio time, so tests can pause it.

use std::collections::VecDeque;
use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{debug, Instrument};

use super::dtmf::{Collected, DigitCollector, Event, Extension};
use super::g711::Law;
use super::jitter::JitterBuffer;
use super::leg::{Control, Leg, MediaStats, Phase, Stop};
use super::negotiate::{self, Answerer, LocalMedia, MediaParams};
use super::playout::Playlist;
use super::ports::{PortLease, PortPool};
use super::prompts::{Prompt, Prompts};
use super::recorder::{EndReason, Recorder, Recording};
use super::rtp::{RtpHeader, StreamIds};
use super::sdp::{SdpError, SessionDescription};
use super::spool::Tape;
use super::wav::{self, WavError};
use super::Error;

/// An answered offer with its ports leased; consumed by [`start_call`] or [`start_direct_call`].
/// Dropping it (a call that never gets to media) returns the ports.
#[derive(Debug)]
pub struct Negotiated {
    answerer: Answerer,
    params: MediaParams,
    lease: PortLease,
}

impl Negotiated {
    /// What the offer/answer settled.
    pub fn params(&self) -> &MediaParams {
        &self.params
    }

    /// Our address, ports and SDP session id.
    pub fn local(&self) -> LocalMedia {
        self.answerer.local()
    }
}

/// Answers an INVITE's SDP offer: checks it, leases an RTP/RTCP pair from `pool`, and returns the
/// answer advertising `advertised_ip`. An offer that cannot be used fails with [`Error::Sdp`]
/// before any port is taken (the SIP side answers 488); an exhausted pool fails with
/// [`Error::Ports`] (503).
pub fn negotiate(
    offer: &[u8],
    advertised_ip: IpAddr,
    pool: &PortPool,
) -> Result<(Negotiated, Vec<u8>), Error> {
    let offer = SessionDescription::parse(offer)?;
    negotiate::check_offer(&offer, advertised_ip)?;
    let lease = pool.lease()?;
    let local = LocalMedia {
        address: advertised_ip,
        rtp_port: lease.reservation.rtp_port(),
        rtcp_port: lease.reservation.rtcp_port(),
        session_id: lease.reservation.serial(),
    };
    let mut answerer = Answerer::new(local);
    let (params, answer) = answerer.answer_parsed(&offer)?;
    Ok((
        Negotiated {
            answerer,
            params,
            lease,
        },
        answer,
    ))
}

/// What the caller hears before the beep.
#[derive(Debug, Clone)]
pub enum Greeting {
    /// The system greeting naming the extension: "Please leave a message for extension 1 0 0 1
    /// after the tone."
    System(Extension),
    /// The system greeting after the owner's recorded name: "You have reached <name>. Please leave
    /// a message for extension 1 0 0 1 after the tone."
    Named {
        /// The extension the system greeting names.
        extension: Extension,
        /// The law of `name`.
        law: Law,
        /// The recorded name, G.711 codes at 8000 Hz.
        name: Arc<[u8]>,
    },
    /// The mailbox owner's recorded greeting.
    Custom {
        /// The law of `codes`.
        law: Law,
        /// G.711 codes at 8000 Hz.
        codes: Arc<[u8]>,
    },
}

impl Greeting {
    /// A custom greeting from a WAV file (8 kHz mono PCM 16-bit or G.711), converted once into
    /// `law` (use the call's, [`MediaParams::law`]).
    pub fn from_wav(file: &[u8], law: Law) -> Result<Greeting, WavError> {
        let audio = wav::read(file)?;
        Ok(Greeting::Custom {
            law,
            codes: audio.to_g711(law).into(),
        })
    }
}

/// How a voicemail call goes.
#[derive(Debug)]
pub struct CallPlan {
    /// What plays before the beep.
    pub greeting: Greeting,
    /// The longest message; the caller then hears "The maximum message length has been reached".
    /// At most [`MAX_RECORDING`](super::recorder::MAX_RECORDING).
    pub max_message: Duration,
    /// Silence (or no media at all) for this long ends the recording.
    pub silence_timeout: Duration,
    /// Audio quieter than this RMS level, in dBFS, counts as silence.
    pub silence_threshold_dbfs: f32,
    /// Where the message goes as it is recorded (its law then wins over the call's); without
    /// one it is kept in memory. A call that ends before the beep closes it empty.
    pub tape: Option<Tape>,
}

impl CallPlan {
    /// A plan with umbox's defaults: 5 minutes at most, 5 s of silence below −40 dBFS ends it.
    pub fn new(greeting: Greeting) -> CallPlan {
        CallPlan {
            greeting,
            max_message: Duration::from_secs(300),
            silence_timeout: Duration::from_secs(5),
            silence_threshold_dbfs: -40.0,
            tape: None,
        }
    }
}

/// What every call shares and what is drawn per call.
#[derive(Debug, Clone)]
pub struct SessionContext {
    /// The system prompts.
    pub prompts: Arc<Prompts>,
    /// Our stream's SSRC and initial numbers ([`StreamIds::random`] in the server).
    pub ids: StreamIds,
}

/// Where a call is; published on [`SessionHandle::phase`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallPhase {
    /// A subscriber-access conversation (menus, messages).
    Conversation,
    /// Asking for, collecting or looking up an extension (direct calls).
    CollectingExtension,
    /// Playing the greeting and the beep.
    Greeting,
    /// Recording.
    Recording,
    /// Playing the closing prompt.
    Closing,
    /// Done; the task's result is ready.
    Ended,
}

/// The SIP side's hold on a running call.
#[derive(Debug)]
pub struct SessionHandle {
    answerer: Answerer,
    control: watch::Sender<Control>,
    phase: watch::Receiver<CallPhase>,
}

impl SessionHandle {
    /// Ends the call (BYE received or sent). Dropping the handle does the same.
    pub fn hangup(&self) {
        self.control.send_modify(|control| control.hangup = true);
    }

    /// Answers a re-INVITE's offer on the same ports (hold, unhold, a new peer address). On error
    /// the call carries on unchanged and the SIP side answers 488.
    pub fn reoffer(&mut self, offer: &[u8]) -> Result<Vec<u8>, SdpError> {
        let (params, answer) = self.answerer.answer(offer)?;
        self.control.send_modify(|control| control.params = params);
        Ok(answer)
    }

    /// The call's progress.
    pub fn phase(&self) -> watch::Receiver<CallPhase> {
        self.phase.clone()
    }

    /// The current offer/answer result.
    pub fn params(&self) -> MediaParams {
        self.control.borrow().params
    }
}

/// A started call: the handle to control it and its task, which ends with the call's result.
pub type Started<T> = (SessionHandle, JoinHandle<T>);

/// Everything a call's task owns.
struct Call {
    leg: Leg,
    prompts: Arc<Prompts>,
    phase: watch::Sender<CallPhase>,
}

fn setup(
    negotiated: Negotiated,
    context: SessionContext,
    first_phase: CallPhase,
) -> Result<(SessionHandle, Call), Error> {
    let Negotiated {
        answerer,
        params,
        lease,
    } = negotiated;
    let (control_tx, control_rx) = watch::channel(Control {
        params,
        hangup: false,
    });
    let (phase_tx, phase_rx) = watch::channel(first_phase);
    let leg = Leg::new(lease, control_rx, context.ids, Instant::now()).map_err(Error::Socket)?;
    Ok((
        SessionHandle {
            answerer,
            control: control_tx,
            phase: phase_rx,
        },
        Call {
            leg,
            prompts: context.prompts,
            phase: phase_tx,
        },
    ))
}

/// Starts a voicemail call: greeting, beep, recording, closing prompt. The task's result is the
/// recording (empty if the caller hung up before the beep). Must be called inside a tokio runtime;
/// the task runs in the caller's tracing span.
pub fn start_call(
    negotiated: Negotiated,
    context: SessionContext,
    plan: CallPlan,
) -> Result<Started<Recording>, Error> {
    let (handle, mut call) = setup(negotiated, context, CallPhase::Greeting)?;
    let task = async move {
        let recording = call.voicemail(plan).await;
        call.finish(&recording.stats);
        recording
    };
    Ok((handle, tokio::spawn(task.in_current_span())))
}

/// Finds the mailbox behind an extension typed on a direct call.
pub trait MailboxLookup: Send + Sync + 'static {
    /// Whatever identifies the mailbox to the caller of [`start_direct_call`].
    type Mailbox: Send + 'static;

    /// The mailbox and call plan for `extension`, or `None` if there is no such mailbox.
    fn lookup(
        &self,
        extension: &Extension,
    ) -> impl Future<Output = Option<(Self::Mailbox, CallPlan)>> + Send;
}

/// How a direct call's extension entry is run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectPlan {
    /// How many entries the caller gets.
    pub attempts: u32,
    /// Time allowed for the first digit after the prompt.
    pub first_digit_timeout: Duration,
    /// Time allowed between digits.
    pub inter_digit_timeout: Duration,
}

impl Default for DirectPlan {
    fn default() -> DirectPlan {
        DirectPlan {
            attempts: 3,
            first_digit_timeout: Duration::from_secs(5),
            inter_digit_timeout: Duration::from_secs(3),
        }
    }
}

/// Why a direct call left no message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbandonReason {
    /// The caller hung up before a mailbox was found.
    Hangup,
    /// No extension was typed in any attempt.
    NoInput,
    /// The last extension typed has no mailbox.
    NoMailbox,
    /// The media socket failed.
    MediaError,
}

/// The result of a direct call.
#[derive(Debug)]
pub enum DirectOutcome<M> {
    /// A mailbox was found and the voicemail flow ran (its recording may be empty).
    Message {
        /// The mailbox the lookup returned.
        mailbox: M,
        /// The extension typed.
        extension: Extension,
        /// The recording.
        recording: Recording,
    },
    /// No mailbox was reached.
    Abandoned {
        /// Why.
        reason: AbandonReason,
        /// Counters of the call's media.
        stats: MediaStats,
    },
}

/// Starts a direct call to the voicemail number: ask for an extension ("… followed by the pound
/// key"), look it up with `lookup`, then run the voicemail flow with the plan it returns. A missing
/// mailbox is announced and the caller may try again, up to `plan.attempts` times.
pub fn start_direct_call<L: MailboxLookup>(
    negotiated: Negotiated,
    context: SessionContext,
    plan: DirectPlan,
    lookup: L,
) -> Result<Started<DirectOutcome<L::Mailbox>>, Error> {
    let (handle, mut call) = setup(negotiated, context, CallPhase::CollectingExtension)?;
    let task = async move {
        let outcome = call.direct(plan, &lookup).await;
        match &outcome {
            DirectOutcome::Message { recording, .. } => call.finish(&recording.stats),
            DirectOutcome::Abandoned { stats, .. } => call.finish(stats),
        }
        outcome
    };
    Ok((handle, tokio::spawn(task.in_current_span())))
}

/// Keys kept while nothing listens (a lookup, a store change): a caller typing ahead through a
/// menu he knows is served, and a flood of keys costs no more than this many.
pub const TYPEAHEAD: usize = 16;

/// How a digit entry on a [`Conversation`] ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// Digits ended by `#`, or by the inter-digit timeout once some were typed.
    Digits(String),
    /// `*` before any digit (the menus' "something else").
    Star,
    /// `#` before any digit.
    Pound,
    /// Nothing typed before the first-digit timeout.
    NoInput,
    /// More digits than an entry holds ([`MAX_EXTENSION_DIGITS`](super::dtmf::MAX_EXTENSION_DIGITS)).
    TooLong,
}

/// Timeouts of a conversation's prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Time allowed for a key or the first digit after a prompt ends.
    pub first_key: Duration,
    /// Time allowed between digits.
    pub inter_digit: Duration,
}

impl Default for Timeouts {
    /// As [`DirectPlan`]'s: 5 s for the first key, 3 s between digits.
    fn default() -> Timeouts {
        let direct = DirectPlan::default();
        Timeouts {
            first_key: direct.first_digit_timeout,
            inter_digit: direct.inter_digit_timeout,
        }
    }
}

/// A call driven step by step by its owner. Every prompt can be cut short by a key (barge-in);
/// keys pressed while nothing listens wait in a queue of [`TYPEAHEAD`] and answer the next
/// question. Each step fails with [`Stop`] once the call is hung up.
pub struct Conversation {
    call: Call,
    typeahead: VecDeque<Event>,
}

impl std::fmt::Debug for Conversation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conversation")
            .field("typeahead", &self.typeahead)
            .finish_non_exhaustive()
    }
}

/// Starts a conversation: `run` gets the call's [`Conversation`] and its result is the task's.
/// Must be called inside a tokio runtime; the task runs in the caller's tracing span.
pub fn start_conversation<T, F, Fut>(
    negotiated: Negotiated,
    context: SessionContext,
    run: F,
) -> Result<Started<T>, Error>
where
    F: FnOnce(Conversation) -> Fut,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (handle, call) = setup(negotiated, context, CallPhase::Conversation)?;
    let conversation = Conversation {
        call,
        typeahead: VecDeque::with_capacity(TYPEAHEAD),
    };
    Ok((handle, tokio::spawn(run(conversation).in_current_span())))
}

impl Conversation {
    /// The call's G.711 law (what recordings are in).
    pub fn law(&self) -> Law {
        self.call.leg.params().law
    }

    /// The system prompts.
    pub fn prompts(&self) -> &Arc<Prompts> {
        &self.call.prompts
    }

    /// Counters of the call's media so far.
    pub fn stats(&self) -> MediaStats {
        self.call.leg.stats()
    }

    /// Plays `playlist`; a key ends it and is returned. A key already typed ahead is returned at
    /// once, without playing.
    pub async fn play(&mut self, playlist: Playlist) -> Result<Option<Event>, Stop> {
        if let Some(key) = self.typeahead.pop_front() {
            return Ok(Some(key));
        }
        self.call.play(playlist, true).await
    }

    /// Plays `playlist`, then waits up to `timeout` for a key.
    pub async fn ask_key(
        &mut self,
        playlist: Playlist,
        timeout: Duration,
    ) -> Result<Option<Event>, Stop> {
        if let Some(key) = self.play(playlist).await? {
            return Ok(Some(key));
        }
        let mut wait = WaitKey {
            deadline: super::instant_after(Instant::now(), timeout),
        };
        self.call.leg.run(&mut wait).await
    }

    /// Plays `playlist`, then collects digits until `#`: `*` or `#` as the first key ends the
    /// entry at once, `*` after digits starts it over.
    pub async fn ask_digits(
        &mut self,
        playlist: Playlist,
        timeouts: Timeouts,
    ) -> Result<Entry, Stop> {
        let early = self.play(playlist).await?;
        let now = Instant::now();
        let mut collect = CollectEntry {
            collector: DigitCollector::new(now, timeouts.first_key, timeouts.inter_digit),
            typed: false,
        };
        let queued = early
            .into_iter()
            .chain(self.typeahead.drain(..))
            .collect::<Vec<_>>();
        for key in queued {
            if let Some(done) = collect.on_key(key, now) {
                return Ok(done);
            }
        }
        self.call.leg.run(&mut collect).await
    }

    /// Waits for `side` (a lookup, a store change) while the stream goes on; keys pressed
    /// meanwhile are typed ahead.
    pub async fn wait_for<F: Future>(&mut self, side: F) -> Result<F::Output, Stop> {
        let mut buffer = TypeAhead {
            keys: &mut self.typeahead,
        };
        match self.call.leg.wait_for(&mut buffer, side).await? {
            Ok(output) => Ok(output),
            Err(never) => match never {},
        }
    }

    /// Records after the beep until `#`, silence or `max_length`; a key typed ahead is dropped
    /// (the caller pressed it before the beep).
    pub async fn record(
        &mut self,
        max_length: Duration,
        silence_timeout: Duration,
        silence_threshold_dbfs: f32,
    ) -> Result<Recording, Stop> {
        self.typeahead.clear();
        let law = self.law();
        self.call.play(Playlist::beep(), false).await?;
        let now = Instant::now();
        let mut record = Record {
            recorder: Recorder::new(law, max_length, silence_threshold_dbfs),
            jitter: JitterBuffer::new(),
            max_end: super::instant_after(now, max_length),
            silence_timeout,
            last_audio: now,
        };
        let ended = self.call.leg.run(&mut record).await?;
        let Record {
            mut recorder,
            mut jitter,
            ..
        } = record;
        jitter.flush(&mut recorder);
        let mut stats = self.call.leg.stats();
        stats.jitter = jitter.stats();
        Ok(recorder.finish(ended, stats))
    }

    /// Hands the call over to the direct-call flow ([`start_direct_call`]'s): extension entry,
    /// greeting, message.
    pub async fn leave_message<L: MailboxLookup>(
        mut self,
        plan: DirectPlan,
        lookup: &L,
    ) -> DirectOutcome<L::Mailbox> {
        self.typeahead.clear();
        let outcome = self.call.direct(plan, lookup).await;
        match &outcome {
            DirectOutcome::Message { recording, .. } => self.call.finish(&recording.stats),
            DirectOutcome::Abandoned { stats, .. } => self.call.finish(stats),
        }
        outcome
    }

    /// Plays `playlist` to its end (keys do not cut it short) and ends the media; returns its
    /// counters. The SIP side then hangs up.
    pub async fn close(mut self, playlist: Playlist) -> MediaStats {
        self.call.set_phase(CallPhase::Closing);
        // Nothing more can happen on this call; a hang-up during the goodbye is fine.
        let _ = self.call.play(playlist, false).await;
        let stats = self.call.leg.stats();
        self.call.finish(&stats);
        stats
    }
}

impl Call {
    fn set_phase(&self, phase: CallPhase) {
        self.phase.send_replace(phase);
    }

    fn finish(&self, stats: &MediaStats) {
        debug!(
            sent = stats.sent,
            received = stats.received,
            foreign = stats.foreign,
            lost = stats.jitter.lost,
            late = stats.jitter.late,
            "call media ended"
        );
        self.set_phase(CallPhase::Ended);
    }

    /// Plays `playlist` to its end; a key press ends it early when `barge_in` is set.
    async fn play(&mut self, playlist: Playlist, barge_in: bool) -> Result<Option<Event>, Stop> {
        let mut phase = Play { playlist, barge_in };
        self.leg.run(&mut phase).await
    }

    async fn play_prompt(&mut self, prompt: Prompt) -> Result<Option<Event>, Stop> {
        let playlist = Playlist::prompt(&self.prompts, prompt);
        self.play(playlist, false).await
    }

    /// Greeting, beep, recording, closing prompt.
    async fn voicemail(&mut self, plan: CallPlan) -> Recording {
        let law = plan.tape.as_ref().map_or(self.leg.params().law, Tape::law);
        self.set_phase(CallPhase::Greeting);
        let playlist = match &plan.greeting {
            Greeting::System(extension) => Playlist::system_greeting(&self.prompts, extension),
            Greeting::Named {
                extension,
                law,
                name,
            } => Playlist::named_greeting(&self.prompts, extension, *law, Arc::clone(name)),
            Greeting::Custom { law, codes } => Playlist::custom_greeting(*law, Arc::clone(codes)),
        };
        let recorder = match plan.tape {
            Some(tape) => Recorder::spooled(tape, plan.max_message, plan.silence_threshold_dbfs),
            None => Recorder::new(law, plan.max_message, plan.silence_threshold_dbfs),
        };
        if let Err(stop) = self.play(playlist, false).await {
            return recorder.finish(end_reason(stop), self.leg.stats());
        }

        self.set_phase(CallPhase::Recording);
        let now = Instant::now();
        let mut record = Record {
            recorder,
            jitter: JitterBuffer::new(),
            max_end: super::instant_after(now, plan.max_message),
            silence_timeout: plan.silence_timeout,
            last_audio: now,
        };
        let ended = match self.leg.run(&mut record).await {
            Ok(reason) => reason,
            Err(stop) => end_reason(stop),
        };
        let Record {
            mut recorder,
            mut jitter,
            ..
        } = record;
        jitter.flush(&mut recorder);

        let closing = match ended {
            EndReason::Pound | EndReason::Silence => Some(Prompt::Goodbye),
            EndReason::MaxLength => Some(Prompt::MaximumLength),
            EndReason::Hangup | EndReason::MediaError => None,
        };
        if let Some(prompt) = closing {
            self.set_phase(CallPhase::Closing);
            // The message is complete; a hang-up during the goodbye changes nothing.
            let _ = self.play_prompt(prompt).await;
        }
        let mut stats = self.leg.stats();
        stats.jitter = jitter.stats();
        recorder.finish(ended, stats)
    }

    /// Extension entry, lookup, then the voicemail flow.
    async fn direct<L: MailboxLookup>(
        &mut self,
        plan: DirectPlan,
        lookup: &L,
    ) -> DirectOutcome<L::Mailbox> {
        let mut failure = AbandonReason::NoInput;
        for _ in 0..plan.attempts {
            self.set_phase(CallPhase::CollectingExtension);
            let collected = match self.collect_extension(plan).await {
                Ok(collected) => collected,
                Err(stop) => return self.abandon(abandon_reason(stop)),
            };
            let extension = match collected {
                Collected::Extension(extension) => extension,
                Collected::Nothing => continue,
                Collected::TooLong => {
                    failure = AbandonReason::NoMailbox;
                    if let Err(stop) = self.play_prompt(Prompt::NoMailbox).await {
                        return self.abandon(abandon_reason(stop));
                    }
                    continue;
                }
            };
            let found = match self
                .leg
                .wait_for(&mut Quiet, lookup.lookup(&extension))
                .await
            {
                Ok(Ok(found)) => found,
                Ok(Err(never)) => match never {},
                Err(stop) => return self.abandon(abandon_reason(stop)),
            };
            match found {
                Some((mailbox, call_plan)) => {
                    let recording = self.voicemail(call_plan).await;
                    return DirectOutcome::Message {
                        mailbox,
                        extension,
                        recording,
                    };
                }
                None => {
                    failure = AbandonReason::NoMailbox;
                    if let Err(stop) = self.play_prompt(Prompt::NoMailbox).await {
                        return self.abandon(abandon_reason(stop));
                    }
                }
            }
        }
        self.set_phase(CallPhase::Closing);
        // Nothing more can happen on this call; a hang-up during the goodbye is fine.
        let _ = self.play_prompt(Prompt::Goodbye).await;
        self.abandon(failure)
    }

    /// The prompt (keys cut it short), then digits until `#` or a timeout.
    async fn collect_extension(&mut self, plan: DirectPlan) -> Result<Collected, Stop> {
        let playlist = Playlist::prompt(&self.prompts, Prompt::EnterExtension);
        let early_key = self.play(playlist, true).await?;
        let now = Instant::now();
        let mut collect = Collect {
            collector: DigitCollector::new(now, plan.first_digit_timeout, plan.inter_digit_timeout),
        };
        if let Some(key) = early_key {
            if let Some(done) = collect.collector.on_event(key, now) {
                return Ok(done);
            }
        }
        self.leg.run(&mut collect).await
    }

    fn abandon<M>(&self, reason: AbandonReason) -> DirectOutcome<M> {
        DirectOutcome::Abandoned {
            reason,
            stats: self.leg.stats(),
        }
    }
}

fn end_reason(stop: Stop) -> EndReason {
    match stop {
        Stop::Hangup => EndReason::Hangup,
        Stop::MediaError => EndReason::MediaError,
    }
}

fn abandon_reason(stop: Stop) -> AbandonReason {
    match stop {
        Stop::Hangup => AbandonReason::Hangup,
        Stop::MediaError => AbandonReason::MediaError,
    }
}

/// Plays a playlist; ends when it is done (with `None`) or, with barge-in, on a key.
struct Play {
    playlist: Playlist,
    barge_in: bool,
}

impl Phase for Play {
    type Output = Option<Event>;

    fn next_audio(&mut self, law: Law, out: &mut [u8]) -> usize {
        self.playlist.fill(law, out)
    }

    fn after_slot(&mut self) -> Option<Self::Output> {
        self.playlist.is_done().then_some(None)
    }

    fn on_audio(&mut self, _: &RtpHeader, _: &[u8], _: Instant) -> Option<Self::Output> {
        None
    }

    fn on_other(&mut self, _: &RtpHeader) {}

    fn on_key(&mut self, event: Event, _: Instant) -> Option<Self::Output> {
        self.barge_in.then_some(Some(event))
    }

    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn on_deadline(&mut self, _: Instant) -> Option<Self::Output> {
        None
    }
}

/// Records until `#`, silence, the maximum length, or a hang-up.
struct Record {
    recorder: Recorder,
    jitter: JitterBuffer,
    max_end: Instant,
    silence_timeout: Duration,
    last_audio: Instant,
}

impl Phase for Record {
    type Output = EndReason;

    fn next_audio(&mut self, _: Law, _: &mut [u8]) -> usize {
        // Silence keeps the stream (and NAT bindings) alive while the caller speaks.
        0
    }

    fn on_audio(&mut self, header: &RtpHeader, payload: &[u8], now: Instant) -> Option<EndReason> {
        self.last_audio = now;
        self.jitter.push_audio(
            header.ssrc,
            header.sequence,
            header.timestamp,
            payload,
            &mut self.recorder,
        );
        if self.recorder.is_full() {
            Some(EndReason::MaxLength)
        } else if self.recorder.quiet_for() >= self.silence_timeout {
            Some(EndReason::Silence)
        } else {
            None
        }
    }

    fn on_other(&mut self, header: &RtpHeader) {
        self.jitter
            .push_skip(header.ssrc, header.sequence, &mut self.recorder);
    }

    fn on_key(&mut self, event: Event, _: Instant) -> Option<EndReason> {
        (event == Event::Pound).then_some(EndReason::Pound)
    }

    fn deadline(&self) -> Option<Instant> {
        Some(
            self.max_end
                .min(super::instant_after(self.last_audio, self.silence_timeout)),
        )
    }

    fn on_deadline(&mut self, now: Instant) -> Option<EndReason> {
        if now >= self.max_end {
            Some(EndReason::MaxLength)
        } else if now >= super::instant_after(self.last_audio, self.silence_timeout) {
            // No media at all for the timeout counts as silence too.
            Some(EndReason::Silence)
        } else {
            None
        }
    }
}

/// Collects digits.
struct Collect {
    collector: DigitCollector,
}

impl Phase for Collect {
    type Output = Collected;

    fn next_audio(&mut self, _: Law, _: &mut [u8]) -> usize {
        0
    }

    fn on_audio(&mut self, _: &RtpHeader, _: &[u8], _: Instant) -> Option<Collected> {
        None
    }

    fn on_other(&mut self, _: &RtpHeader) {}

    fn on_key(&mut self, event: Event, now: Instant) -> Option<Collected> {
        self.collector.on_event(event, now)
    }

    fn deadline(&self) -> Option<Instant> {
        Some(self.collector.deadline())
    }

    fn on_deadline(&mut self, now: Instant) -> Option<Collected> {
        self.collector.on_timeout(now)
    }
}

/// Waits for one key until a deadline.
struct WaitKey {
    deadline: Instant,
}

impl Phase for WaitKey {
    type Output = Option<Event>;

    fn next_audio(&mut self, _: Law, _: &mut [u8]) -> usize {
        0
    }

    fn on_audio(&mut self, _: &RtpHeader, _: &[u8], _: Instant) -> Option<Self::Output> {
        None
    }

    fn on_other(&mut self, _: &RtpHeader) {}

    fn on_key(&mut self, event: Event, _: Instant) -> Option<Self::Output> {
        Some(Some(event))
    }

    fn deadline(&self) -> Option<Instant> {
        Some(self.deadline)
    }

    fn on_deadline(&mut self, now: Instant) -> Option<Self::Output> {
        (now >= self.deadline).then_some(None)
    }
}

/// Collects a digit entry, where `*` or `#` before any digit is an answer of its own.
struct CollectEntry {
    collector: DigitCollector,
    typed: bool,
}

impl CollectEntry {
    fn entry(collected: Collected) -> Entry {
        match collected {
            Collected::Extension(digits) => Entry::Digits(digits.as_str().to_owned()),
            Collected::Nothing => Entry::NoInput,
            Collected::TooLong => Entry::TooLong,
        }
    }
}

impl Phase for CollectEntry {
    type Output = Entry;

    fn next_audio(&mut self, _: Law, _: &mut [u8]) -> usize {
        0
    }

    fn on_audio(&mut self, _: &RtpHeader, _: &[u8], _: Instant) -> Option<Entry> {
        None
    }

    fn on_other(&mut self, _: &RtpHeader) {}

    fn on_key(&mut self, event: Event, now: Instant) -> Option<Entry> {
        match event {
            Event::Star if !self.typed => Some(Entry::Star),
            Event::Pound if !self.typed => Some(Entry::Pound),
            Event::Digit(_) => {
                self.typed = true;
                self.collector.on_event(event, now).map(Self::entry)
            }
            Event::Star => {
                self.typed = false;
                self.collector.on_event(event, now).map(Self::entry)
            }
            _ => self.collector.on_event(event, now).map(Self::entry),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        Some(self.collector.deadline())
    }

    fn on_deadline(&mut self, now: Instant) -> Option<Entry> {
        self.collector.on_timeout(now).map(Self::entry)
    }
}

/// Sends silence and keeps the keys pressed meanwhile, up to [`TYPEAHEAD`].
struct TypeAhead<'a> {
    keys: &'a mut VecDeque<Event>,
}

impl Phase for TypeAhead<'_> {
    type Output = std::convert::Infallible;

    fn next_audio(&mut self, _: Law, _: &mut [u8]) -> usize {
        0
    }

    fn on_audio(&mut self, _: &RtpHeader, _: &[u8], _: Instant) -> Option<Self::Output> {
        None
    }

    fn on_other(&mut self, _: &RtpHeader) {}

    fn on_key(&mut self, event: Event, _: Instant) -> Option<Self::Output> {
        if self.keys.len() < TYPEAHEAD {
            self.keys.push_back(event);
        }
        None
    }

    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn on_deadline(&mut self, _: Instant) -> Option<Self::Output> {
        None
    }
}

/// Sends silence and ignores input (while waiting for a lookup).
struct Quiet;

impl Phase for Quiet {
    type Output = std::convert::Infallible;

    fn next_audio(&mut self, _: Law, _: &mut [u8]) -> usize {
        0
    }

    fn on_audio(&mut self, _: &RtpHeader, _: &[u8], _: Instant) -> Option<Self::Output> {
        None
    }

    fn on_other(&mut self, _: &RtpHeader) {}

    fn on_key(&mut self, _: Event, _: Instant) -> Option<Self::Output> {
        None
    }

    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn on_deadline(&mut self, _: Instant) -> Option<Self::Output> {
        None
    }
}
