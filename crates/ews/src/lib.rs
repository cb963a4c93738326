//! EWS (`/EWS/Exchange.asmx`, MS-OXWS*): SOAP requests in, SOAP responses out, over the mailbox
//! store.
//!
//! Layers: [`soap`] reads the envelope and writes envelopes and faults; [`fields`] parses property
//! paths and shapes; [`ids`] seals store ids into opaque EWS ids; `ops` holds one module per
//! group of operations, each turning a typed request into response messages; `render` writes
//! folders and items (and reads items from requests); `mime` writes and reads the Internet-message
//! form of items (MimeContent). [`handle`] is the single entry point. Everything here is synchronous and
//! blocking (the store is): the HTTP layer calls it on the blocking pool. The one exception is the
//! [`EventStream`] GetStreamingEvents answers with, which the HTTP layer polls for envelopes. This
//! module never sees sockets, never opens redb, and changes mailboxes only through
//! `MailStore::apply`.

pub mod codes;
pub mod error;
pub mod fields;
#[cfg(fuzzing)]
pub mod fuzzing;
pub mod ids;
mod mime;
pub(crate) mod ops;
pub mod photo;
mod render;
mod restriction;
pub mod soap;
pub mod time;
mod view;

use std::time::SystemTime;

use codes::ResponseCode;
use error::{Error, Fault};
use ids::IdCodec;
use soap::M;
use umbox_base::config::Site;
use umbox_base::directory::{Directory, Right, User};
use umbox_base::version::ExchangeVersion;
use umbox_notify::push::{BoxFuture, Carrier, Deliver, DeliveryError, PushReply};
use umbox_notify::{Hub, Notification};
use umbox_store::{DistinguishedFolder, FolderId, MailStore, MailboxId};
use umbox_xml::{ns, Element, Writer};

pub use ops::subscriptions::{push_document, read_push_reply, EventStream};
pub use ops::work_hours::{
    document as work_hours_document, save as save_work_hours, WorkHoursError,
};

/// The [`Deliver`] of push subscriptions: renders each notification as a SendNotification
/// document, has the carrier (the HTTP client) post it, and reads the client's answer.
pub struct PushDelivery {
    ids: IdCodec,
    carrier: std::sync::Arc<dyn Carrier>,
}

impl std::fmt::Debug for PushDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushDelivery").finish_non_exhaustive()
    }
}

impl PushDelivery {
    /// Deliveries sealing item and folder ids with `ids`, posted by `carrier`.
    pub fn new(ids: IdCodec, carrier: std::sync::Arc<dyn Carrier>) -> PushDelivery {
        PushDelivery { ids, carrier }
    }
}

impl Deliver for PushDelivery {
    fn deliver<'a>(
        &'a self,
        url: &'a str,
        notification: &'a Notification,
    ) -> BoxFuture<'a, Result<PushReply, DeliveryError>> {
        Box::pin(async move {
            let document = push_document(&self.ids, notification);
            let reply = self.carrier.post(url, CONTENT_TYPE, document).await?;
            read_push_reply(&reply).map_err(DeliveryError)
        })
    }
}

/// Limits applied to EWS requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest page FindItem/FindFolder return (Exchange's FindCountLimit).
    pub find_count: usize,
    /// Requests one user may have in progress at once (Exchange 2013's EWSMaxConcurrency);
    /// more are answered with ErrorServerBusy.
    pub concurrent_requests_per_user: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            find_count: 1000,
            concurrent_requests_per_user: 27,
        }
    }
}

/// How long a throttled client is told to wait.
pub const BUSY_BACK_OFF_MILLISECONDS: u32 = 1000;

/// The ErrorServerBusy fault (with BackOffMilliseconds) for a user over the concurrency limit.
pub fn server_busy() -> Reply {
    let fault = Fault {
        code: ResponseCode::ErrorServerBusy,
        message: "too many concurrent requests for this user; retry later".to_owned(),
        back_off_milliseconds: Some(BUSY_BACK_OFF_MILLISECONDS),
    };
    fault_reply(&fault, ExchangeVersion::DEFAULT)
}

/// Everything a request needs, borrowed from the server.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    /// The authenticated user.
    pub caller: &'a User,
    /// The directory.
    pub directory: &'a Directory,
    /// Public host and ports.
    pub site: &'a Site,
    /// The mailbox store.
    pub store: &'a dyn MailStore,
    /// Id sealing.
    pub ids: &'a IdCodec,
    /// The time of the request.
    pub now: SystemTime,
    /// Limits.
    pub limits: Limits,
    /// Notification subscriptions.
    pub notify: &'a Hub,
}

/// What the HTTP layer sends back.
#[derive(Debug)]
pub struct Reply {
    /// HTTP status: 200, or 500 for a SOAP fault.
    pub status: u16,
    /// The SOAP document; for a streaming operation, the first chunk (possibly empty).
    pub body: Vec<u8>,
    /// GetStreamingEvents: the envelopes that follow `body`, each sent as it is produced.
    pub stream: Option<EventStream>,
    /// The operation's element name when it is one this server serves (for metrics; the name of
    /// anything else a client sends never leaves this crate).
    pub operation: Option<&'static str>,
    /// The response code of the SOAP fault, when the answer is one.
    pub fault: Option<&'static str>,
}

/// The content type of every EWS reply.
pub const CONTENT_TYPE: &str = "text/xml; charset=utf-8";

/// One request, as seen by an operation: the context plus the mailbox it acts on.
pub(crate) struct Request<'a> {
    pub(crate) ctx: Context<'a>,
    /// The user whose mailbox the request acts on (the caller, or whom it impersonates).
    pub(crate) user: &'a User,
    pub(crate) mailbox: MailboxId,
    pub(crate) version: ExchangeVersion,
}

/// Handles one EWS request body.
pub fn handle(body: &[u8], ctx: Context<'_>) -> Reply {
    let envelope = match soap::read_request(body) {
        Ok(envelope) => envelope,
        Err(fault) => return fault_reply(&fault, ExchangeVersion::DEFAULT),
    };
    let operation = ops::served_name(envelope.operation.name());
    Reply {
        operation,
        ..handle_envelope(&envelope, ctx)
    }
}

fn handle_envelope(envelope: &soap::RequestEnvelope, ctx: Context<'_>) -> Reply {
    let version = envelope.version;
    let user = match &envelope.impersonation {
        None => ctx.caller,
        // exchangelib names the caller itself when configured with IMPERSONATION access; acting
        // as oneself needs no right.
        Some(target) if ctx.caller.has_address(&target.address) => ctx.caller,
        Some(target) => {
            if !ctx.caller.has_right(Right::Impersonation) {
                let fault = Fault::new(
                    ResponseCode::ErrorImpersonationDenied,
                    "the account does not have permission to impersonate",
                );
                return fault_reply(&fault, version);
            }
            match ctx.directory.user_by_address(&target.address) {
                Some(user) => user,
                None => {
                    let fault = Fault::new(
                        ResponseCode::ErrorNonExistentMailbox,
                        format!("no mailbox for {}", target.address),
                    );
                    return fault_reply(&fault, version);
                }
            }
        }
    };
    let request = Request {
        ctx,
        user,
        mailbox: MailboxId::new(&user.address),
        version,
    };
    if let Some(streaming) = ops::open_stream(&request, &envelope.operation) {
        return streaming.unwrap_or_else(|fault| fault_reply(&fault, version));
    }
    let mut out = Vec::with_capacity(4096);
    let mut w = Writer::new(&mut out);
    soap::begin_response(&mut w, version);
    if let Err(fault) = ops::dispatch(&request, &envelope.operation, &mut w) {
        return fault_reply(&fault, version);
    }
    soap::end_response(&mut w);
    if let Err(error) = w.finish() {
        tracing::error!(%error, operation = envelope.operation.name(), "response document incomplete");
        return fault_reply(
            &Fault::new(ResponseCode::ErrorInternalServerError, "internal error"),
            version,
        );
    }
    Reply {
        status: 200,
        body: out,
        stream: None,
        operation: None,
        fault: None,
    }
}

fn fault_reply(fault: &Fault, version: ExchangeVersion) -> Reply {
    tracing::debug!(code = fault.code.as_str(), message = %fault.message, "ews fault");
    Reply {
        status: 500,
        body: soap::fault_document(fault, version),
        stream: None,
        operation: None,
        fault: Some(fault.code.as_str()),
    }
}

impl Request<'_> {
    /// Resolves a `t:FolderId` or `t:DistinguishedFolderId` (MS-OXWSCORE BaseFolderIdType) to a
    /// folder of this request's mailbox. Another mailbox's folder is ErrorAccessDenied unless the
    /// caller impersonates it; a distinguished id not valid for the requested version is
    /// ErrorFolderNotFound.
    pub(crate) fn folder_id(&self, id: &Element) -> Result<FolderId, Error> {
        if id.is(ns::EWS_TYPES, "FolderId") {
            let (mailbox, folder) = self
                .ctx
                .ids
                .open_folder(id.attribute("", "Id").unwrap_or_default())?;
            if mailbox != self.mailbox {
                return Err(Error::new(
                    ResponseCode::ErrorAccessDenied,
                    "the folder belongs to another mailbox",
                ));
            }
            return Ok(folder);
        }
        if id.is(ns::EWS_TYPES, "DistinguishedFolderId") {
            let name = id.attribute("", "Id").unwrap_or_default();
            if let Some(address) = id
                .children()
                .find(|c| c.is(ns::EWS_TYPES, "Mailbox"))
                .and_then(|m| m.children().find(|c| c.is(ns::EWS_TYPES, "EmailAddress")))
                .map(Element::trimmed_text)
            {
                if !self.user.has_address(address) {
                    return Err(Error::new(
                        ResponseCode::ErrorAccessDenied,
                        "delegate access to another mailbox is not granted",
                    ));
                }
            }
            let folder = DistinguishedFolder::parse(name)
                .filter(|f| {
                    *f != DistinguishedFolder::ConversationHistory
                        || self.version >= ExchangeVersion::Exchange2013
                })
                .ok_or_else(|| {
                    Error::new(
                        ResponseCode::ErrorFolderNotFound,
                        format!(
                            "no distinguished folder {name:?} in {}",
                            self.version.as_str()
                        ),
                    )
                })?;
            return Ok(self.ctx.store.distinguished_folder(&self.mailbox, folder)?);
        }
        Err(Error::new(
            ResponseCode::ErrorInvalidRequest,
            format!("{} is not a folder id", id.name()),
        ))
    }
}

/// Writes one `m:…ResponseMessage`: ResponseClass, MessageText/ResponseCode/DescriptiveLinkKey,
/// and on success whatever `payload` writes.
pub(crate) fn response_message<E: std::borrow::Borrow<Error>>(
    w: &mut Writer<'_>,
    name: &'static str,
    result: Result<impl FnOnce(&mut Writer<'_>), E>,
) {
    match result {
        Ok(payload) => {
            w.start(M, name).attribute("ResponseClass", "Success");
            w.leaf(M, "ResponseCode", ResponseCode::NoError.as_str());
            payload(w);
            w.end();
        }
        Err(error) => {
            error_message_start(w, name, error.borrow());
            w.end();
        }
    }
}

/// Writes one `m:…ResponseMessage` for a code that still carries the payload (ResponseClass
/// Warning, e.g. ErrorNameResolutionMultipleResults followed by every candidate).
pub(crate) fn warning_message(
    w: &mut Writer<'_>,
    name: &'static str,
    warning: &Error,
    payload: impl FnOnce(&mut Writer<'_>),
) {
    error_message_start(w, name, warning);
    payload(w);
    w.end();
}

/// Opens a response message for `error` and writes MessageText, ResponseCode and
/// DescriptiveLinkKey; the caller closes it.
fn error_message_start(w: &mut Writer<'_>, name: &'static str, error: &Error) {
    let code = error.response_code();
    if code == ResponseCode::ErrorInternalServerError {
        tracing::error!(%error, "ews operation failed");
    }
    w.start(M, name)
        .attribute("ResponseClass", code.response_class());
    w.leaf(M, "MessageText", &error.to_string());
    w.leaf(M, "ResponseCode", code.as_str());
    w.leaf(M, "DescriptiveLinkKey", "0");
}

/// Children of `parent` named `{t}name` or `{m}name`.
pub(crate) fn child<'e>(parent: &'e Element, name: &str) -> Option<&'e Element> {
    parent.children().find(|c| {
        c.name() == name && (c.namespace() == ns::EWS_MESSAGES || c.namespace() == ns::EWS_TYPES)
    })
}

#[cfg(test)]
mod tests {
    use crate::ops::testkit::{describe, Kit};

    const GET_INBOX: &str = r#"<m:GetFolder><m:FolderShape><t:BaseShape>IdOnly</t:BaseShape></m:FolderShape><m:FolderIds><t:DistinguishedFolderId Id="inbox"/></m:FolderIds></m:GetFolder>"#;

    #[test]
    fn impersonation_needs_the_right_except_for_oneself() {
        let kit = Kit::new();
        // The kit gives alice the impersonation right; bob has none.
        let (status, body) = kit.call_as(
            "bob@example.test",
            "Exchange2016",
            Some("BOB@example.test"),
            GET_INBOX,
        );
        assert_eq!(status, 200, "{}", describe(&body));
        let (status, body) = kit.call_as(
            "bob@example.test",
            "Exchange2016",
            Some("alice@example.test"),
            GET_INBOX,
        );
        assert_eq!(status, 500);
        assert!(
            describe(&body).contains("ErrorImpersonationDenied"),
            "{}",
            describe(&body)
        );
        let (status, body) = kit.call_as(
            "alice@example.test",
            "Exchange2016",
            Some("bob@example.test"),
            GET_INBOX,
        );
        assert_eq!(status, 200, "{}", describe(&body));
        let (status, body) = kit.call_as(
            "alice@example.test",
            "Exchange2016",
            Some("nobody@example.test"),
            GET_INBOX,
        );
        assert_eq!(status, 500);
        assert!(
            describe(&body).contains("ErrorNonExistentMailbox"),
            "{}",
            describe(&body)
        );
    }
}
