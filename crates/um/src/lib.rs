//! Unified messaging: the business rules of the call pipeline, between SIP signalling and the
//! mailbox store, once `sip` has turned a call into typed values: where a call to a voicemail
//! pilot goes (`um::router`), who is calling (`um::caller_id`), and turning a finished call into
//! a voice message or a missed-call notification (`um::delivery`, from the recording spool through
//! `um::spool`, which also delivers what a crash left), the users' greetings kept in
//! their mailboxes (`um::greetings`); `um::voicemail` runs the media server's calls from answer to
//! delivery, `um::access` the touch-tone menus of callers who log in to their own mailbox, and
//! `um::mwi` lights message-waiting lamps (RFC 3842).
//! Never sees bytes, sockets or raw SIP headers.

pub mod access;
pub mod caller_id;
pub mod delivery;
pub mod greetings;
pub mod metrics;
pub mod mwi;
pub mod numbers;
pub mod router;
pub mod spool;
pub mod voicemail;
