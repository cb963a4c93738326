//! Voicemail media: SDP offer/answer, RTP on UDP, greetings and prompts, DTMF, and recording a
//! message as the G.711 bytes the caller's side sent.
//!
//! SIP hands this module SDP bytes and gets SDP bytes back; it never sees a SIP message, never picks
//! a mailbox and never touches the store. Layers: wire (`sdp`, `rtp`, `g711`, `wav`, the event
//! payload in `dtmf`), logic (`negotiate`, `jitter`, `dtmf`'s collector, `recorder`, `playout`,
//! `session`'s phases) and transport (`leg`, `ports`, and `spool`, which writes recordings to disk
//! as they arrive). Entry points for the SIP side:
//! [`negotiate`], [`start_call`], [`start_direct_call`], [`start_conversation`],
//! [`SessionHandle`].

pub mod dtmf;
pub mod g711;
pub mod jitter;
pub mod leg;
pub mod negotiate;
pub mod playout;
pub mod ports;
pub mod prompts;
pub mod recorder;
pub mod rtp;
pub mod sdp;
pub mod session;
pub mod spool;
pub mod wav;

pub use session::{
    negotiate, start_call, start_conversation, start_direct_call, AbandonReason, CallPhase,
    CallPlan, Conversation, DirectOutcome, DirectPlan, Entry, Greeting, MailboxLookup, Negotiated,
    SessionContext, SessionHandle, Started, Timeouts,
};

/// `start + wait`, capped at a year ahead, so that no configured duration can overflow an `Instant`.
pub(crate) fn instant_after(
    start: tokio::time::Instant,
    wait: std::time::Duration,
) -> tokio::time::Instant {
    const YEAR: std::time::Duration = std::time::Duration::from_secs(365 * 24 * 3600);
    start.checked_add(wait.min(YEAR)).unwrap_or(start)
}

/// Errors of setting up a call's media.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The offer cannot be used (the SIP side answers 488 Not Acceptable Here).
    #[error(transparent)]
    Sdp(#[from] sdp::SdpError),
    /// No RTP port pair is free (503 Service Unavailable).
    #[error(transparent)]
    Ports(#[from] ports::PortError),
    /// A socket could not be handed to the runtime.
    #[error("rtp socket: {0}")]
    Socket(std::io::Error),
    /// The system random source failed.
    #[error("random source failed")]
    Random,
}
