//! The voicemail media server's call handler (Exchange's Mailbox role: answer,
//! greet, record, deliver): takes the calls the SIP media listener offers as [`DialogEvent`]s, answers them with
//! `media` (greeting, beep, recording; a direct call to the pilot first asks for an extension),
//! and once a call is over hands its recording to `um::delivery`, exactly once.
//!
//! [`serve`] owns one task per call and nothing else; a call's task decides the answer (488 for
//! an unusable offer, 503 when no RTP ports are free, 404 for no mailbox), starts the session on
//! the ACK, relays re-offers and hang-ups, sends the BYE when the recording ends on our side
//! (`#`, silence, maximum length), and then writes the voice message or the missed-call
//! notification with one store change on the blocking pool: a voice message is recorded into the
//! recording spool as it arrives (`um::spool` gives each call with a mailbox a file, written before
//! the greeting plays, and delivers from it). The concurrent-call limit is the SIP
//! listener's (`sip::Limits::max_calls`, 503 with Retry-After). Never sees bytes or SIP headers
//! (the dialog layer hands it typed calls); never writes the store except through `um::delivery`.
//! What a caller hears first comes from the mailbox (`um::greetings::for_call`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use ring::rand::SecureRandom;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, field, info, info_span, warn, Instrument};

use crate::access::{self, Access, Outcome as AccessOutcome};
use crate::caller_id::Presented;
use crate::greetings::{self, CallerGreeting};
use crate::metrics::{CallMetrics, CallOutcome};
use crate::router::{self, number_of, Called};
use crate::spool::{self, Audio, Delivered, Envelope, Outbox};
use umbox_base::clock::Clock;
use umbox_base::directory::{Directory, Extension, UmPolicy, User};
use umbox_media::g711::Law;
use umbox_media::leg::MediaStats;
use umbox_media::ports::PortPool;
use umbox_media::prompts::Prompts;
use umbox_media::recorder::{EndReason as RecordingEnd, Recording};
use umbox_media::rtp::StreamIds;
use umbox_media::spool::Tape;
use umbox_media::{
    self as media, dtmf, AbandonReason, CallPlan, DirectOutcome, DirectPlan, Greeting,
    MailboxLookup, Negotiated, SessionContext, SessionHandle, Timeouts,
};
use umbox_sip::dialog::{DialogEvent, DialogHandle, EndReason, IncomingCall, InviteDecision};
use umbox_sip::types::{CallId, StatusCode};
use umbox_store::{MailStore, MailboxId};

/// Errors of a call after it was answered; logged on the call's span, never sent to the caller.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The media session could not start.
    #[error("media: {0}")]
    Media(#[from] media::Error),
    /// The session's task ended without a result (it panicked).
    #[error("media task: {0}")]
    Task(#[from] tokio::task::JoinError),
    /// The recording could not be written as a WAV file.
    #[error("wav: {0}")]
    Wav(#[from] media::wav::WavError),
    /// The voice message or notification could not be delivered (a spooled one is retried).
    #[error("delivery: {0}")]
    Delivery(#[from] spool::Error),
}

impl Error {
    /// The one mapping from a failed answer to the SIP status the caller gets: 488 for an offer
    /// we cannot use (RFC 3264 §6), 503 when the port pool is empty, 500 otherwise.
    fn status(&self) -> StatusCode {
        match self {
            Error::Media(media::Error::Sdp(_)) => StatusCode::NotAcceptableHere,
            Error::Media(media::Error::Ports(_)) => StatusCode::ServiceUnavailable,
            Error::Media(_) | Error::Task(_) | Error::Wav(_) | Error::Delivery(_) => {
                StatusCode::ServerInternalError
            }
        }
    }
}

/// How calls are run, beyond each user's UM mailbox policy.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Settings {
    /// Silence (or no media at all) for this long ends a recording.
    pub silence_timeout: Duration,
    /// Extension entry on direct calls to the pilot number.
    pub direct: DirectPlan,
    /// Key timeouts of the subscriber-access menus.
    pub keys: Timeouts,
}

impl Default for Settings {
    /// Five seconds of silence, as `media::CallPlan::new`; three tries at an extension; five
    /// seconds for a key.
    fn default() -> Settings {
        Settings {
            silence_timeout: Duration::from_secs(5),
            direct: DirectPlan::default(),
            keys: Timeouts::default(),
        }
    }
}

/// What the call handler works with; built once by `server`.
#[derive(Clone)]
pub struct Services {
    /// The directory as of the last reload.
    pub directory: watch::Receiver<Arc<Directory>>,
    /// The mailbox store (written only through `um::delivery`).
    pub store: Arc<dyn MailStore>,
    /// RTP/RTCP ports.
    pub ports: PortPool,
    /// The system prompts.
    pub prompts: Arc<Prompts>,
    /// The address written in our SDP answers.
    pub media_ip: IpAddr,
    /// When a message was received.
    pub clock: Arc<dyn Clock>,
    /// SSRCs and initial RTP numbers.
    pub random: Arc<dyn SecureRandom + Send + Sync>,
    /// Timeouts.
    pub settings: Settings,
    /// What subscriber-access calls share (PIN checks, the directory file).
    pub access: Arc<access::Resources>,
    /// Where calls are counted.
    pub metrics: CallMetrics,
    /// The recording spool messages are recorded into and delivered from.
    pub outbox: Outbox,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services")
            .field("media_ip", &self.media_ip)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What a call's task hears from the dialog layer after the INVITE.
#[derive(Debug)]
enum CallEvent {
    Acked,
    Reinvite {
        sdp: Bytes,
        reply: oneshot::Sender<InviteDecision>,
    },
    Ended(EndReason),
}

/// Runs the media server's calls until `events` closes; dropping the future abandons the calls
/// in progress (their ports return to the pool, nothing is delivered).
///
/// `in_progress` always holds the number of calls whose task has not finished, delivery
/// included: a stopping server waits for it to reach zero.
pub async fn serve(
    services: Services,
    mut events: mpsc::Receiver<DialogEvent>,
    dialogs: DialogHandle,
    in_progress: watch::Sender<usize>,
) {
    let services = Arc::new(services);
    let mut calls: HashMap<CallId, mpsc::UnboundedSender<CallEvent>> = HashMap::new();
    let mut tasks = JoinSet::new();
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(event) = event else { break };
                match event {
                    DialogEvent::Invite { call, reply } => {
                        let (sender, receiver) = mpsc::unbounded_channel();
                        // A second INVITE with a live Call-ID replaces the old task's channel,
                        // which then sees its dialog gone and hangs up.
                        calls.insert(call.call_id.clone(), sender);
                        let services = services.clone();
                        let dialogs = dialogs.clone();
                        tasks.spawn(run_call(services.clone(), *call, reply, receiver, dialogs));
                        in_progress.send_replace(tasks.len());
                        services.metrics.in_progress(tasks.len());
                    }
                    DialogEvent::Acked { call_id } => {
                        forward(&calls, &call_id, CallEvent::Acked);
                    }
                    DialogEvent::Reinvite { call_id, sdp, reply } => {
                        if let Some(CallEvent::Reinvite { reply, .. }) =
                            forward(&calls, &call_id, CallEvent::Reinvite { sdp, reply })
                        {
                            let refusal = StatusCode::CallOrTransactionDoesNotExist;
                            let _ = reply.send(InviteDecision::Reject(refusal));
                        }
                    }
                    DialogEvent::Ended { call_id, reason } => {
                        forward(&calls, &call_id, CallEvent::Ended(reason));
                    }
                }
            }
            Some(done) = tasks.join_next(), if !tasks.is_empty() => {
                if let Err(error) = done {
                    warn!(%error, "call task failed");
                }
                calls.retain(|_, sender| !sender.is_closed());
                in_progress.send_replace(tasks.len());
                services.metrics.in_progress(tasks.len());
            }
        }
    }
}

/// Hands `event` to its call; gives it back when the call is gone.
fn forward(
    calls: &HashMap<CallId, mpsc::UnboundedSender<CallEvent>>,
    call_id: &CallId,
    event: CallEvent,
) -> Option<CallEvent> {
    match calls.get(call_id) {
        Some(sender) => sender.send(event).err().map(|e| e.0),
        None => Some(event),
    }
}

/// The mailbox a call records for.
#[derive(Debug, Clone)]
struct Mailbox {
    user: User,
    policy: UmPolicy,
    extension: Extension,
}

impl Mailbox {
    /// The UM-enabled mailbox of `address`: a user with a UM mailbox policy.
    fn find(directory: &Directory, address: &str, extension: Extension) -> Option<Mailbox> {
        let user = directory.user_by_address(address)?;
        let policy = user
            .um_policy
            .as_deref()
            .and_then(|name| directory.policies.iter().find(|p| p.name == name))?;
        Some(Mailbox {
            user: user.clone(),
            policy: policy.clone(),
            extension,
        })
    }
}

/// Who the call is for, once checked against the directory.
enum Target {
    Mailbox(Box<Mailbox>),
    Direct,
}

/// An answered call waiting for its ACK.
enum Ready {
    Mailbox(Box<Mailbox>, CallPlan),
    Direct,
}

/// What a call's spool envelope is made of, known once the call is answered.
#[derive(Debug, Clone)]
struct CallFacts {
    dial_plan: String,
    caller: Presented,
    call_id: String,
    started: SystemTime,
}

impl CallFacts {
    fn envelope(&self, recipient: &str) -> Envelope {
        Envelope {
            recipient: recipient.to_owned(),
            dial_plan: self.dial_plan.clone(),
            caller: self.caller.clone(),
            call_id: self.call_id.clone(),
            started: self.started,
        }
    }
}

/// How a call ended, for delivery and the summary line.
struct Finished {
    mailbox: Option<Mailbox>,
    recording: Option<Recording>,
    stats: MediaStats,
    /// The peer sent BYE or CANCEL, or the dialog timed out: no BYE from us.
    dialog_over: bool,
    /// Why nothing was recorded on a direct call.
    abandoned: Option<AbandonReason>,
}

async fn run_call(
    services: Arc<Services>,
    call: IncomingCall,
    reply: oneshot::Sender<InviteDecision>,
    events: mpsc::UnboundedReceiver<CallEvent>,
    dialogs: DialogHandle,
) {
    let caller = Presented::of_call(&call);
    let span = info_span!(
        "call",
        call_id = %call.call_id,
        caller = %caller,
        called = field::Empty,
        mailbox = field::Empty,
    );
    if let Some(called) = number_of(&call.to.uri) {
        span.record("called", called.as_str());
    }
    handle_call(services, call, caller, reply, events, dialogs)
        .instrument(span)
        .await;
}

async fn handle_call(
    services: Arc<Services>,
    call: IncomingCall,
    caller: Presented,
    reply: oneshot::Sender<InviteDecision>,
    mut events: mpsc::UnboundedReceiver<CallEvent>,
    dialogs: DialogHandle,
) {
    let directory = services.directory.borrow().clone();
    let refuse = |reply: oneshot::Sender<InviteDecision>, status: StatusCode, why: &str| {
        info!(status = status.code(), reason = why, "call refused");
        let _ = reply.send(InviteDecision::Reject(status));
    };
    // The transport lets only gateways through; a gateway removed since is refused the same way.
    let Some(gateway) = directory.gateway_by_address(call.source.ip()).cloned() else {
        return refuse(reply, StatusCode::Forbidden, "not a gateway");
    };
    let called = match call.target() {
        Some(target) => {
            router::called_party(&directory, &gateway, &target).unwrap_or_else(|error| {
                warn!(%error, "cannot resolve the called party");
                None
            })
        }
        None => None,
    };
    let target = match &called {
        Some(Called::Mailbox { extension, address }) => {
            match Mailbox::find(&directory, address, extension.clone()) {
                Some(mailbox) => Target::Mailbox(Box::new(mailbox)),
                None => return refuse(reply, StatusCode::NotFound, "no UM mailbox"),
            }
        }
        Some(Called::Pilot { .. }) => Target::Direct,
        None => return refuse(reply, StatusCode::NotFound, "no such extension"),
    };
    if let Target::Mailbox(mailbox) = &target {
        tracing::Span::current().record("mailbox", mailbox.user.address.as_str());
    }
    let (negotiated, answer) =
        match media::negotiate(&call.sdp_offer, services.media_ip, &services.ports) {
            Ok(done) => done,
            Err(error) => {
                let error = Error::from(error);
                return refuse(reply, error.status(), &error.to_string());
            }
        };
    let law = negotiated.params().law;
    let facts = CallFacts {
        dial_plan: gateway.dial_plan.clone(),
        caller: caller.clone(),
        call_id: call.call_id.as_str().to_owned(),
        started: services.clock.now(),
    };
    let ready = match target {
        Target::Mailbox(mailbox) => {
            let plan = services.plan(&mailbox, law, &facts).await;
            Ready::Mailbox(mailbox, plan)
        }
        Target::Direct => Ready::Direct,
    };
    if reply
        .send(InviteDecision::Accept { sdp_answer: answer })
        .is_err()
    {
        // The dialog layer gave up on the call meanwhile (CANCEL or its answer timeout).
        return;
    }

    // Media starts on the ACK, so the caller hears the greeting from its first word.
    let acked = loop {
        match events.recv().await {
            Some(CallEvent::Acked) => break Ok(()),
            Some(CallEvent::Reinvite { reply, .. }) => {
                // The dialog layer refuses a re-INVITE before the ACK itself (RFC 3261 §14.2).
                let _ = reply.send(InviteDecision::Reject(StatusCode::RequestPending));
            }
            Some(CallEvent::Ended(reason)) => break Err(Some(reason)),
            None => break Err(None),
        }
    };
    let finished = match acked {
        Ok(()) => {
            debug!("acknowledged; media started");
            let session = Session {
                services: &services,
                events: &mut events,
            };
            match ready {
                Ready::Mailbox(mailbox, plan) => {
                    session.voicemail(negotiated, *mailbox, plan).await
                }
                Ready::Direct => {
                    let lookup = DirectLookup {
                        services: services.clone(),
                        directory: directory.clone(),
                        dial_plan: gateway.dial_plan.clone(),
                        law,
                        facts: facts.clone(),
                    };
                    let subscriber = access::subscriber_of(&directory, &gateway.dial_plan, &caller);
                    let access = Access {
                        resources: services.access.clone(),
                        store: services.store.clone(),
                        directory: directory.clone(),
                        dial_plan: gateway.dial_plan.clone(),
                        clock: services.clock.clone(),
                        timeouts: services.settings.keys,
                        silence_timeout: services.settings.silence_timeout,
                        direct: services.settings.direct,
                    };
                    session.access(negotiated, lookup, access, subscriber).await
                }
            }
        }
        Err(reason) => {
            // Cancelled or never acknowledged: the caller reached the mailbox and left nothing.
            if let Some(reason) = reason {
                debug!(?reason, "dialog over before the ACK");
            }
            drop(negotiated);
            let (mailbox, recording) = match ready {
                // The spool file, empty, is closed and delivered as any other (a missed call).
                Ready::Mailbox(mailbox, plan) => (Some(*mailbox), plan.tape.map(unanswered)),
                Ready::Direct => (None, None),
            };
            Ok(Finished {
                mailbox,
                recording,
                stats: MediaStats::default(),
                dialog_over: true,
                abandoned: None,
            })
        }
    };
    let mut finished = match finished {
        Ok(finished) => finished,
        Err(error) => {
            warn!(%error, "call failed");
            services.metrics.ended(CallOutcome::Failed);
            if let Err(error) = dialogs.hangup(&call.call_id).await {
                info!(%error, "hang-up after a failure");
            }
            return;
        }
    };

    let spooled = finished
        .recording
        .as_mut()
        .and_then(|recording| recording.spooled.take());
    let hangup = async {
        if finished.dialog_over {
            return;
        }
        // RFC 3261 §15.1.1: the recording ended on our side, so we end the dialog.
        if let Err(error) = dialogs.hangup(&call.call_id).await {
            info!(%error, "BYE not answered");
        }
    };
    let deliver = async {
        let started = std::time::Instant::now();
        let delivered = services
            .deliver(&finished, spooled, &facts, &directory)
            .await;
        (delivered, started.elapsed())
    };
    let ((), (delivered, delivery_took)) = tokio::join!(hangup, deliver);
    let stats = &finished.stats;
    services
        .metrics
        .media(stats.received, stats.jitter.lost, stats.foreign);
    services.metrics.ended(match &delivered {
        Ok(Delivered::VoiceMessage) => CallOutcome::VoiceMessage,
        Ok(Delivered::MissedCall) => CallOutcome::MissedCall,
        Ok(Delivered::Nothing) => CallOutcome::Nothing,
        Err(_) => CallOutcome::DeliveryFailed,
    });
    if matches!(
        delivered,
        Ok(Delivered::VoiceMessage | Delivered::MissedCall)
    ) {
        services.metrics.delivered(delivery_took);
    }
    let seconds = finished
        .recording
        .as_ref()
        .map_or(0, |recording| recording.duration().as_secs());
    let ended = finished.recording.as_ref().map(|r| end_reason(r.ended));
    match delivered {
        Ok(delivered) => info!(
            outcome = delivered.as_str(),
            seconds,
            ended = ended.unwrap_or("before-recording"),
            abandoned = ?finished.abandoned,
            received = finished.stats.received,
            foreign = finished.stats.foreign,
            lost = finished.stats.jitter.lost,
            "call ended"
        ),
        Err(error) => warn!(%error, seconds, "call ended; delivery failed"),
    }
}

/// The recording of a call whose mailbox was found but that ended before its media started:
/// nothing, its spool file closed.
fn unanswered(tape: Tape) -> Recording {
    Recording {
        law: tape.law(),
        audio: Vec::new(),
        spooled: Some(tape.close()),
        samples: 0,
        ended: RecordingEnd::Hangup,
        stats: MediaStats::default(),
    }
}

fn end_reason(reason: RecordingEnd) -> &'static str {
    match reason {
        RecordingEnd::Pound => "pound",
        RecordingEnd::Hangup => "hangup",
        RecordingEnd::Silence => "silence",
        RecordingEnd::MaxLength => "max-length",
        RecordingEnd::MediaError => "media-error",
    }
}

/// A running call's media and the events that steer it.
struct Session<'a> {
    services: &'a Services,
    events: &'a mut mpsc::UnboundedReceiver<CallEvent>,
}

impl Session<'_> {
    fn context(&self) -> Result<SessionContext, Error> {
        Ok(SessionContext {
            prompts: self.services.prompts.clone(),
            ids: StreamIds::random(self.services.random.as_ref())?,
        })
    }

    async fn voicemail(
        mut self,
        negotiated: Negotiated,
        mailbox: Mailbox,
        plan: CallPlan,
    ) -> Result<Finished, Error> {
        let (handle, task) = media::start_call(negotiated, self.context()?, plan)?;
        let (recording, dialog_over) = self.supervise(handle, task).await;
        let recording = recording?;
        Ok(Finished {
            mailbox: Some(mailbox),
            stats: recording.stats,
            recording: Some(recording),
            dialog_over,
            abandoned: None,
        })
    }

    /// A call to the pilot number: the subscriber-access menus, or the direct flow when the
    /// caller chooses to leave a message.
    async fn access(
        mut self,
        negotiated: Negotiated,
        lookup: DirectLookup,
        access: Access,
        subscriber: Option<access::menu::Subscriber>,
    ) -> Result<Finished, Error> {
        let (handle, task) =
            media::start_conversation(negotiated, self.context()?, move |conversation| {
                access::run(conversation, access, subscriber, lookup)
            })?;
        let (outcome, dialog_over) = self.supervise(handle, task).await;
        Ok(match outcome? {
            AccessOutcome::LeftMessage(outcome) => direct_finished(outcome, dialog_over),
            AccessOutcome::Ended { subscriber, stats } => {
                info!(logged_in = subscriber.is_some(), "subscriber access ended");
                Finished {
                    mailbox: None,
                    recording: None,
                    stats,
                    dialog_over,
                    abandoned: None,
                }
            }
        })
    }

    /// Relays re-offers and the end of the dialog to the session until its task ends; also
    /// reports whether the dialog is already over (so no BYE is due from us).
    async fn supervise<T>(
        &mut self,
        mut handle: SessionHandle,
        mut task: JoinHandle<T>,
    ) -> (Result<T, Error>, bool) {
        let mut dialog_over = false;
        let mut listening = true;
        loop {
            tokio::select! {
                result = &mut task => return (result.map_err(Error::from), dialog_over),
                event = self.events.recv(), if listening && !dialog_over => match event {
                    Some(CallEvent::Reinvite { sdp, reply }) => {
                        let decision = match handle.reoffer(&sdp) {
                            Ok(sdp_answer) => InviteDecision::Accept { sdp_answer },
                            Err(error) => {
                                info!(%error, "re-offer refused");
                                InviteDecision::Reject(StatusCode::NotAcceptableHere)
                            }
                        };
                        let _ = reply.send(decision);
                    }
                    Some(CallEvent::Acked) => {}
                    Some(CallEvent::Ended(_)) => {
                        handle.hangup();
                        dialog_over = true;
                    }
                    None => {
                        // The handler is shutting down: stop the media; the BYE follows.
                        handle.hangup();
                        listening = false;
                    }
                },
            }
        }
    }
}

/// What a direct flow left, for delivery.
fn direct_finished(outcome: DirectOutcome<Mailbox>, dialog_over: bool) -> Finished {
    match outcome {
        DirectOutcome::Message {
            mailbox, recording, ..
        } => {
            tracing::Span::current().record("mailbox", mailbox.user.address.as_str());
            Finished {
                mailbox: Some(mailbox),
                stats: recording.stats,
                recording: Some(recording),
                dialog_over,
                abandoned: None,
            }
        }
        DirectOutcome::Abandoned { reason, stats } => Finished {
            mailbox: None,
            recording: None,
            stats,
            dialog_over,
            abandoned: Some(reason),
        },
    }
}

/// Finds the mailbox behind an extension typed on a direct call, in the gateway's dial plan.
struct DirectLookup {
    services: Arc<Services>,
    directory: Arc<Directory>,
    dial_plan: String,
    law: Law,
    facts: CallFacts,
}

impl MailboxLookup for DirectLookup {
    type Mailbox = Mailbox;

    async fn lookup(&self, extension: &dtmf::Extension) -> Option<(Mailbox, CallPlan)> {
        let number = extension.as_str();
        let user = self.directory.user_by_extension(&self.dial_plan, number)?;
        let extension = Extension {
            dial_plan: self.dial_plan.clone(),
            number: number.to_owned(),
        };
        let mailbox = Mailbox::find(&self.directory, &user.address, extension)?;
        let plan = self.services.plan(&mailbox, self.law, &self.facts).await;
        Some((mailbox, plan))
    }
}

impl Services {
    /// The call plan of `mailbox`: its greeting, its policy's maximum length, our timeouts, and
    /// the spool file the message goes to (kept in memory if the spool cannot take it).
    async fn plan(&self, mailbox: &Mailbox, law: Law, facts: &CallFacts) -> CallPlan {
        let greeting = self.greeting(mailbox, law).await;
        let mut plan = CallPlan::new(greeting);
        plan.max_message = Duration::from_secs(u64::from(mailbox.policy.max_message_seconds));
        plan.silence_timeout = self.settings.silence_timeout;
        let envelope = facts.envelope(&mailbox.user.address);
        plan.tape = match self.outbox.tape(law, &envelope) {
            Ok(tape) => Some(tape),
            Err(error) => {
                warn!(%error, "recording kept in memory: the spool cannot take it");
                None
            }
        };
        plan
    }

    /// What the mailbox says callers hear (`greetings::for_call`: the away greeting while the
    /// user's automatic replies are on, the unavailable one, or the recorded name before the
    /// system greeting), read on the blocking pool; the system greeting naming the extension when
    /// the mailbox has none or cannot be read.
    async fn greeting(&self, mailbox: &Mailbox, law: Law) -> Greeting {
        let store = self.store.clone();
        let id = MailboxId::new(&mailbox.user.address);
        let now = self.clock.now();
        let chosen =
            tokio::task::spawn_blocking(move || greetings::for_call(store.as_ref(), &id, now))
                .await;
        let chosen = match chosen {
            Ok(Ok(chosen)) => chosen,
            Ok(Err(error)) => {
                warn!(%error, "greeting not read from the mailbox");
                CallerGreeting::System
            }
            Err(error) => {
                warn!(%error, "greeting lookup failed");
                CallerGreeting::System
            }
        };
        let extension = dtmf::Extension::parse(&mailbox.extension.number);
        match (chosen, extension) {
            // `for_call` checked the file, so it reads.
            (CallerGreeting::Personal(wav), extension) => match Greeting::from_wav(&wav, law) {
                Ok(greeting) => greeting,
                Err(error) => {
                    warn!(%error, "greeting not usable");
                    system_greeting(extension, law)
                }
            },
            (CallerGreeting::Name(wav), Some(extension)) => match media::wav::read(&wav) {
                Ok(audio) => Greeting::Named {
                    extension,
                    law,
                    name: audio.to_g711(law).into(),
                },
                Err(error) => {
                    warn!(%error, "recorded name not usable");
                    Greeting::System(extension)
                }
            },
            (CallerGreeting::Name(_) | CallerGreeting::System, extension) => {
                system_greeting(extension, law)
            }
        }
    }

    /// Writes what the call left: from its spool file when it has one (`um::spool`), else (no
    /// spool file, or no recording) from memory; a voice message when the recording is long
    /// enough for the policy, else a missed-call notification when the policy allows one. One
    /// store change, on the blocking pool, after the call is over.
    async fn deliver(
        &self,
        finished: &Finished,
        spooled: Option<media::spool::Closing>,
        facts: &CallFacts,
        directory: &Arc<Directory>,
    ) -> Result<Delivered, Error> {
        let Some(mailbox) = &finished.mailbox else {
            return Ok(Delivered::Nothing);
        };
        if let Some(closing) = spooled {
            return Ok(self.outbox.deliver(closing).await?);
        }
        let audio = match &finished.recording {
            Some(recording) if !recording.audio.is_empty() => Some(Audio {
                wav: media::wav::write_g711(recording.law, &recording.audio)?,
                duration: recording.duration(),
                partial: false,
            }),
            _ => None,
        };
        let store = self.store.clone();
        let directory = directory.clone();
        let envelope = facts.envelope(&mailbox.user.address);
        let now = self.clock.now();
        let delivered = tokio::task::spawn_blocking(move || {
            spool::settle(store.as_ref(), &directory, &envelope, audio, now)
        })
        .await??;
        Ok(delivered)
    }
}

/// The system greeting naming `extension`; for an extension the prompts cannot speak, the beep
/// alone.
fn system_greeting(extension: Option<dtmf::Extension>, law: Law) -> Greeting {
    match extension {
        Some(extension) => Greeting::System(extension),
        None => Greeting::Custom {
            law,
            codes: Arc::from(&[][..]),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_map_media_errors_to_sip_statuses() {
        let sdp = media::sdp::SessionDescription::parse(b"garbage").unwrap_err();
        assert_eq!(
            Error::Media(media::Error::Sdp(sdp)).status(),
            StatusCode::NotAcceptableHere
        );
        let ports = media::ports::PortError::Exhausted { start: 1, end: 2 };
        assert_eq!(
            Error::Media(media::Error::Ports(ports)).status(),
            StatusCode::ServiceUnavailable
        );
        assert_eq!(
            Error::Media(media::Error::Random).status(),
            StatusCode::ServerInternalError
        );
    }

    #[test]
    fn a_mailbox_needs_a_um_policy() {
        let mut directory = Directory::demo().unwrap();
        let extension = Extension {
            dial_plan: "default".into(),
            number: "1001".into(),
        };
        let mailbox = Mailbox::find(&directory, "alice@example.test", extension.clone()).unwrap();
        assert_eq!(mailbox.policy.name, "default");
        directory.users[0].um_policy = None;
        assert!(Mailbox::find(&directory, "alice@example.test", extension).is_none());
    }
}
