//! Unified messaging: the business rules of the call pipeline, between SIP signalling and the
//! mailbox store: who is calling (`um::caller_id`) and turning a finished call into a voice
//! message or a missed-call notification (`um::delivery`). Never sees bytes or raw SIP headers.

pub mod caller_id;
pub mod delivery;
