//! The EWS error type and its one mapping to a ResponseCode (STYLE §2 rule 6).

use crate::codes::ResponseCode;
use crate::ids::IdError;
use umbox_notify as notify;
use umbox_store::{self as store, Missing};

/// Why one response message (or a whole request, see [`Fault`]) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A protocol-level refusal with its code and a human message.
    #[error("{message}")]
    Code {
        /// The code clients act on.
        code: ResponseCode,
        /// Shown as MessageText.
        message: String,
    },
    /// The store refused or failed.
    #[error("{0}")]
    Store(#[from] store::Error),
    /// An id did not open.
    #[error("{0}")]
    Id(#[from] IdError),
    /// A notification call failed (never holds `notify::Error::Store`: see the `From`).
    #[error("{0}")]
    Notify(notify::Error),
}

impl From<notify::Error> for Error {
    fn from(error: notify::Error) -> Error {
        match error {
            notify::Error::Store(error) => Error::Store(error),
            other => Error::Notify(other),
        }
    }
}

/// The response code of a notification failure (part of [`Error::response_code`]).
pub(crate) fn notify_code(error: &notify::Error) -> ResponseCode {
    match error {
        notify::Error::MalformedId | notify::Error::PushUnsubscribe(_) => {
            ResponseCode::ErrorInvalidSubscription
        }
        notify::Error::NotFound(_) => ResponseCode::ErrorSubscriptionNotFound,
        notify::Error::AccessDenied(_) => ResponseCode::ErrorSubscriptionAccessDenied,
        notify::Error::Expired(_) => ResponseCode::ErrorExpiredSubscription,
        notify::Error::WrongKind {
            expected: notify::Kind::Pull,
            ..
        } => ResponseCode::ErrorInvalidPullSubscriptionId,
        notify::Error::WrongKind { .. } => ResponseCode::ErrorInvalidSubscription,
        notify::Error::MalformedWatermark => ResponseCode::ErrorInvalidWatermark,
        notify::Error::TooManySubscriptions { .. } => ResponseCode::ErrorExceededSubscriptionCount,
        notify::Error::TooManyConnections { .. } => ResponseCode::ErrorExceededConnectionCount,
        notify::Error::TooManyOnConnection { .. } => ResponseCode::ErrorInvalidRequest,
        notify::Error::PushUrl(_) => ResponseCode::ErrorInvalidPushSubscriptionUrl,
        notify::Error::MissedEvents(_) => ResponseCode::ErrorMissedNotificationEvents,
        notify::Error::Store(store::Error::InvalidWatermark { .. }) => {
            ResponseCode::ErrorInvalidWatermark
        }
        _ => ResponseCode::ErrorInternalServerError,
    }
}

impl Error {
    /// A refusal with `code`.
    pub fn new(code: ResponseCode, message: impl Into<String>) -> Error {
        Error::Code {
            code,
            message: message.into(),
        }
    }

    /// A store answer of the wrong kind for the change made (a state the store's contract rules
    /// out): logged, and an internal error for that entry alone.
    pub fn unexpected_outcome(outcome: &store::Outcome) -> Error {
        tracing::error!(
            ?outcome,
            "the store answered a change with an unexpected outcome"
        );
        Error::new(
            ResponseCode::ErrorInternalServerError,
            "unexpected store answer",
        )
    }

    /// The same answer again (code and message), for each entry that one shared failure applies
    /// to, such as a parent id every attachment of a request names.
    pub fn again(&self) -> Error {
        Error::new(self.response_code(), self.to_string())
    }

    /// The one mapping from errors to response codes.
    pub fn response_code(&self) -> ResponseCode {
        match self {
            Error::Code { code, .. } => *code,
            Error::Id(IdError::Empty) => ResponseCode::ErrorInvalidIdEmpty,
            Error::Id(IdError::Malformed) => ResponseCode::ErrorInvalidIdMalformed,
            Error::Notify(error) => notify_code(error),
            Error::Store(error) => match error {
                store::Error::NotFound(Missing::Mailbox(_)) => {
                    ResponseCode::ErrorNonExistentMailbox
                }
                store::Error::NotFound(Missing::Folder(_) | Missing::DistinguishedFolder(_)) => {
                    ResponseCode::ErrorFolderNotFound
                }
                store::Error::NotFound(Missing::Item(_) | Missing::Attachment(_)) => {
                    ResponseCode::ErrorItemNotFound
                }
                store::Error::Conflict { .. } => ResponseCode::ErrorIrresolvableConflict,
                store::Error::InvalidParent { .. } => ResponseCode::ErrorMoveCopyFailed,
                store::Error::NotAllowed { .. } => ResponseCode::ErrorInvalidOperation,
                store::Error::FolderExists { .. } => ResponseCode::ErrorFolderExists,
                // Exchange's answer to CreateUserConfiguration of a name the folder has.
                store::Error::ConfigurationExists { .. } => ResponseCode::ErrorItemSave,
                store::Error::InvalidProperty { .. } => ResponseCode::ErrorInvalidPropertySet,
                store::Error::TooLarge { .. } => ResponseCode::ErrorAttachmentSizeLimitExceeded,
                store::Error::InvalidWatermark { .. } => ResponseCode::ErrorInvalidWatermark,
                store::Error::Corrupt(_) => ResponseCode::ErrorCorruptData,
                _ => ResponseCode::ErrorInternalServerError,
            },
        }
    }
}

/// A failure of the whole request, answered with a SOAP fault (HTTP 500) instead of response
/// messages: schema violations, version, access, throttling.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code:?}: {message}")]
pub struct Fault {
    /// `e:ResponseCode` in the fault detail.
    pub code: ResponseCode,
    /// faultstring and `e:Message`.
    pub message: String,
    /// For ErrorServerBusy: how long the client should wait.
    pub back_off_milliseconds: Option<u32>,
}

impl Fault {
    /// A fault with `code`.
    pub fn new(code: ResponseCode, message: impl Into<String>) -> Fault {
        Fault {
            code,
            message: message.into(),
            back_off_milliseconds: None,
        }
    }

    /// ErrorSchemaValidation naming what is wrong.
    pub fn schema(message: impl Into<String>) -> Fault {
        Fault::new(ResponseCode::ErrorSchemaValidation, message)
    }
}
