//! Notification operations (MS-OXWSNTIF): Subscribe (pull, push, streaming), Unsubscribe,
//! GetEvents and GetStreamingEvents, and the SOAP that carries notifications outside a normal
//! response: the streamed envelopes and the push SendNotification document with its reply.
//!
//! Requests are checked here (ids, ranges, versions) and handed to `notify::Hub` typed; this file
//! holds no subscription state. Streamed envelopes put the SOAP namespace as the default
//! namespace (`<Envelope xmlns="…">`) and carry no XML declaration, because some clients
//! (evolution-ews, ews-javascript-api) find each document by searching for `<Envelope` and
//! `</Envelope>`.

use std::time::Duration;

use super::EwsOperation;
use crate::codes::ResponseCode;
use crate::error::{notify_code, Error, Fault};
use crate::fields::parse_bool;
use crate::ids::IdCodec;
use crate::soap::{self, M, T};
use crate::{child, response_message, time, Reply, Request};
use umbox_base::version::ExchangeVersion;
use umbox_notify::push::PushReply;
use umbox_notify::{
    self as notify, Connection, Content, EventType, EventTypes, Filter, Folders, Frame, NewKind,
    NewSubscription, Notification, Opened, SubscriptionId,
};
use umbox_store::{Event, LoggedEvent, MailboxId, Seq};
use umbox_xml::{self as xml, ns, Element, Namespace, Writer};

/// The SOAP envelope namespace as the default namespace, for streamed envelopes.
const SOAP_DEFAULT: Namespace = Namespace::new("", ns::SOAP_ENVELOPE);
/// The version push deliveries announce in ServerVersionInfo (push exists since Exchange 2007;
/// its clients read only the notification).
const PUSH_VERSION: ExchangeVersion = ExchangeVersion::Exchange2010Sp1;

/// The caller, as subscriptions record their owner.
fn caller(request: &Request<'_>) -> MailboxId {
    MailboxId::new(&request.ctx.caller.address)
}

/// A whole number of minutes in `range`, from a child element; a schema fault otherwise (the
/// XSD restricts these values).
fn minutes(
    parent: &Element,
    name: &str,
    range: std::ops::RangeInclusive<u64>,
) -> Result<Duration, Fault> {
    let element = child(parent, name)
        .ok_or_else(|| Fault::schema(format!("{} needs {name}", parent.name())))?;
    let text = element.trimmed_text();
    match text.parse::<u64>() {
        Ok(value) if range.contains(&value) => Ok(Duration::from_secs(value * 60)),
        _ => Err(Fault::schema(format!(
            "{name} {text:?} must be a whole number of minutes from {} to {}",
            range.start(),
            range.end()
        ))),
    }
}

/// The `m:SubscriptionId` of Unsubscribe and GetEvents: missing is a schema fault, an id umbox
/// did not issue is that entry's error.
fn subscription_id(op: &Element) -> Result<Result<SubscriptionId, Error>, Fault> {
    let text = child(op, "SubscriptionId")
        .map(Element::trimmed_text)
        .ok_or_else(|| Fault::schema(format!("{} needs SubscriptionId", op.name())))?;
    Ok(SubscriptionId::parse(text).map_err(Error::from))
}

/// A watermark umbox issued, or ErrorInvalidWatermark.
fn watermark(text: &str) -> Result<Seq, Error> {
    notify::parse_watermark(text).map_err(Error::from)
}

/// Subscribe: a new pull, push or streaming subscription on the request's mailbox.
#[derive(Debug)]
pub(crate) struct Subscribe {
    /// The kind of subscription and its parameters, checked against the schema.
    pub(crate) kind: NewKind,
    /// The event types reported (never empty).
    pub(crate) types: EventTypes,
    /// The folders watched, or why the request does not name them properly.
    pub(crate) folders: Result<Folders, Error>,
    /// Where a pull or push subscription starts (`None`: at the log's end), or why the given
    /// watermark is refused.
    pub(crate) watermark: Result<Option<Seq>, Error>,
}

/// A subscription as Subscribe answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SubscriptionStart {
    /// The new id.
    pub(crate) id: SubscriptionId,
    /// The watermark a pull or push subscription starts after; `None` for a streaming one, which
    /// a client never resumes by watermark.
    pub(crate) watermark: Option<Seq>,
}

/// The subscription made, or why not.
pub(crate) struct SubscribeResponse {
    started: Result<SubscriptionStart, Error>,
}

impl Subscribe {
    /// Hands the checked subscription to the hub.
    fn start(self, request: &Request<'_>) -> Result<SubscriptionStart, Error> {
        let streaming = self.kind == NewKind::Streaming;
        // Folders are checked before the watermark, so a request wrong in both reports its
        // folders.
        let folders = self.folders?;
        let watermark = self.watermark?;
        let new = NewSubscription {
            caller: caller(request),
            mailbox: request.mailbox.clone(),
            filter: Filter {
                folders,
                types: self.types,
            },
            watermark,
            kind: self.kind,
        };
        let subscribed = request.ctx.notify.subscribe(new, request.ctx.now)?;
        Ok(SubscriptionStart {
            id: subscribed.id,
            watermark: (!streaming).then_some(subscribed.watermark),
        })
    }
}

/// The folders a subscription names: all of them (`SubscribeToAllFolders`) or those in
/// `FolderIds`, exactly one of the two.
fn watched_folders(
    request: &Request<'_>,
    all_folders: bool,
    folder_ids: &[&Element],
) -> Result<Folders, Error> {
    match (all_folders, folder_ids.is_empty()) {
        (true, true) => Ok(Folders::All),
        (false, false) => Ok(Folders::Only(
            folder_ids
                .iter()
                .map(|id| request.folder_id(id))
                .collect::<Result<_, _>>()?,
        )),
        (true, false) => Err(Error::new(
            ResponseCode::ErrorInvalidRequest,
            "FolderIds and SubscribeToAllFolders exclude each other",
        )),
        (false, true) => Err(Error::new(
            ResponseCode::ErrorInvalidRequest,
            "name FolderIds or set SubscribeToAllFolders",
        )),
    }
}

impl EwsOperation for Subscribe {
    type Response = SubscribeResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let mut kinds = op.children().filter(|c| {
            c.namespace() == ns::EWS_MESSAGES
                && matches!(
                    c.name(),
                    "PullSubscriptionRequest"
                        | "PushSubscriptionRequest"
                        | "StreamingSubscriptionRequest"
                )
        });
        let (Some(body), None) = (kinds.next(), kinds.next()) else {
            return Err(Fault::schema(
                "Subscribe needs exactly one of PullSubscriptionRequest, PushSubscriptionRequest, StreamingSubscriptionRequest",
            ));
        };
        let kind = match body.name() {
            "PullSubscriptionRequest" => NewKind::Pull {
                timeout: minutes(body, "Timeout", 1..=1440)?,
            },
            "PushSubscriptionRequest" => NewKind::Push {
                status_frequency: minutes(body, "StatusFrequency", 1..=1440)?,
                url: child(body, "URL")
                    .map(|u| u.trimmed_text().to_owned())
                    .ok_or_else(|| Fault::schema("PushSubscriptionRequest needs URL"))?,
            },
            _ => {
                if request.version < ExchangeVersion::Exchange2010Sp1 {
                    return Err(Fault::schema(format!(
                        "StreamingSubscriptionRequest needs Exchange2010_SP1 or later, not {}",
                        request.version.as_str()
                    )));
                }
                NewKind::Streaming
            }
        };
        let event_types = child(body, "EventTypes")
            .ok_or_else(|| Fault::schema("the subscription needs EventTypes"))?;
        let types = event_types
            .children()
            .map(|t| {
                EventType::parse(t.trimmed_text()).ok_or_else(|| {
                    Fault::schema(format!("unknown EventType {:?}", t.trimmed_text()))
                })
            })
            .collect::<Result<EventTypes, Fault>>()?;
        if types.is_empty() {
            return Err(Fault::schema("EventTypes is empty"));
        }
        let all_folders = body
            .attribute("", "SubscribeToAllFolders")
            .map(parse_bool)
            .transpose()?
            .unwrap_or(false);
        let folder_ids: Vec<&Element> = child(body, "FolderIds")
            .map(|f| f.children().collect())
            .unwrap_or_default();
        let watermark = match child(body, "Watermark").map(Element::trimmed_text) {
            Some(_) if kind == NewKind::Streaming => Err(Error::new(
                ResponseCode::ErrorInvalidRequest,
                "streaming subscriptions take no Watermark",
            )),
            Some(text) => watermark(text).map(Some),
            None => Ok(None),
        };
        Ok(Subscribe {
            folders: watched_folders(request, all_folders, &folder_ids),
            kind,
            types,
            watermark,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<SubscribeResponse, Fault> {
        Ok(SubscribeResponse {
            started: self.start(request),
        })
    }

    fn write(response: &SubscribeResponse, _: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "SubscribeResponse").start(M, "ResponseMessages");
        let payload = response.started.as_ref().map(|started| {
            move |w: &mut Writer<'_>| {
                w.leaf(M, "SubscriptionId", &started.id.to_string());
                if let Some(seq) = started.watermark {
                    w.leaf(M, "Watermark", &notify::watermark(seq));
                }
            }
        });
        response_message(w, "SubscribeResponseMessage", payload);
        w.end().end();
    }
}

/// Unsubscribe: ends a pull or streaming subscription of the caller.
#[derive(Debug)]
pub(crate) struct Unsubscribe {
    /// The subscription, or why its id is not one.
    pub(crate) id: Result<SubscriptionId, Error>,
}

/// Whether the subscription ended.
pub(crate) struct UnsubscribeResponse {
    ended: Result<(), Error>,
}

impl EwsOperation for Unsubscribe {
    type Response = UnsubscribeResponse;

    fn parse(_: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        Ok(Unsubscribe {
            id: subscription_id(op)?,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<UnsubscribeResponse, Fault> {
        let ended = self.id.and_then(|id| {
            request
                .ctx
                .notify
                .unsubscribe(&caller(request), id)
                .map_err(Error::from)
        });
        Ok(UnsubscribeResponse { ended })
    }

    fn write(response: &UnsubscribeResponse, _: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "UnsubscribeResponse")
            .start(M, "ResponseMessages");
        let payload = response.ended.as_ref().map(|&()| |_: &mut Writer<'_>| {});
        response_message(w, "UnsubscribeResponseMessage", payload);
        w.end().end();
    }
}

/// GetEvents: the pull subscription's events after a watermark (at most 50), or a StatusEvent.
#[derive(Debug)]
pub(crate) struct GetEvents {
    /// The subscription, or why its id is not one.
    pub(crate) id: Result<SubscriptionId, Error>,
    /// The watermark the events follow, or why it is not one.
    pub(crate) after: Result<Seq, Error>,
}

/// The notification read, or why not.
pub(crate) struct GetEventsResponse {
    notification: Result<Notification, Error>,
}

impl EwsOperation for GetEvents {
    type Response = GetEventsResponse;

    fn parse(_: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let id = subscription_id(op)?;
        let after = child(op, "Watermark")
            .map(Element::trimmed_text)
            .ok_or_else(|| Fault::schema("GetEvents needs Watermark"))?;
        Ok(GetEvents {
            id,
            after: watermark(after),
        })
    }

    fn run(self, request: &Request<'_>) -> Result<GetEventsResponse, Fault> {
        // The id is checked before the watermark, so a request wrong in both reports its id.
        let notification = self.id.and_then(|id| {
            let after = self.after?;
            request
                .ctx
                .notify
                .get_events(&caller(request), id, after, request.ctx.now)
                .map_err(Error::from)
        });
        Ok(GetEventsResponse { notification })
    }

    fn write(response: &GetEventsResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "GetEventsResponse").start(M, "ResponseMessages");
        let payload = response.notification.as_ref().map(|notification| {
            let ids = request.ctx.ids;
            move |w: &mut Writer<'_>| write_notification(w, ids, notification)
        });
        response_message(w, "GetEventsResponseMessage", payload);
        w.end().end();
    }
}

/// GetStreamingEvents: a connection carrying the caller's streaming subscriptions until
/// `timeout`.
///
/// It takes the parse and run steps of an [`EwsOperation`] but is not one, and is not in the
/// `operations!` list: its answer is not one response element inside the usual envelope but
/// envelopes of its own, the first at once and the rest as the connection produces them, so
/// `crate::handle` asks `ops::open_stream` for it before dispatching, and
/// [`StreamOpened::into_reply`] takes the place of `write`.
#[derive(Debug)]
pub(crate) struct GetStreamingEvents {
    /// The subscription ids as sent (never empty); the hub reports the ones it refuses by their
    /// text, in request order.
    pub(crate) ids: Vec<String>,
    /// How long the connection stays open.
    pub(crate) timeout: Duration,
}

/// What GetStreamingEvents opened: a connection (when some id could be streamed) and the ids
/// refused, or why no connection could open at all.
pub(crate) struct StreamOpened {
    opened: Result<Opened, Error>,
}

impl GetStreamingEvents {
    /// Reads the typed request; only a request that breaks the schema fails.
    pub(crate) fn parse(op: &Element) -> Result<Self, Fault> {
        let ids: Vec<String> = child(op, "SubscriptionIds")
            .ok_or_else(|| Fault::schema("GetStreamingEvents needs SubscriptionIds"))?
            .children()
            .map(|id| id.trimmed_text().to_owned())
            .collect();
        if ids.is_empty() {
            return Err(Fault::schema("SubscriptionIds is empty"));
        }
        let timeout = minutes(op, "ConnectionTimeout", 1..=30)?;
        Ok(GetStreamingEvents { ids, timeout })
    }

    /// Opens the connection.
    pub(crate) fn run(self, request: &Request<'_>) -> StreamOpened {
        let opened = request
            .ctx
            .notify
            .connect(&caller(request), &self.ids, self.timeout)
            .map_err(Error::from);
        StreamOpened { opened }
    }
}

impl StreamOpened {
    /// The reply: refused ids are reported in the first envelope (ErrorSubscriptionIds); when
    /// none can be streamed, that envelope is the whole answer.
    pub(crate) fn into_reply(self, request: &Request<'_>) -> Reply {
        let mut stream = EventStream {
            connection: None,
            ids: request.ctx.ids.clone(),
            version: request.version,
        };
        let first = match &self.opened {
            Err(error) => stream
                .envelope(|w| response_message(w, MESSAGE, Err::<fn(&mut Writer<'_>), _>(error))),
            Ok(opened) => match opened.rejected.first() {
                None => Vec::new(),
                Some((_, error)) => {
                    let code = notify_code(error);
                    let rejected: Vec<&str> =
                        opened.rejected.iter().map(|(id, _)| id.as_str()).collect();
                    let message = format!(
                        "{} subscription id(s) cannot be streamed: {error}",
                        rejected.len()
                    );
                    stream.envelope(|w| error_with_ids(w, code, &message, &rejected))
                }
            },
        };
        stream.connection = self.opened.ok().and_then(|opened| opened.connection);
        let stream = stream.connection.is_some().then_some(stream);
        Reply {
            status: 200,
            body: first,
            stream,
            operation: None,
            fault: None,
        }
    }
}

/// GetStreamingEvents from the operation element to the reply: what `ops::open_stream` answers
/// with.
pub(crate) fn get_streaming_events(request: &Request<'_>, op: &Element) -> Result<Reply, Fault> {
    Ok(GetStreamingEvents::parse(op)?
        .run(request)
        .into_reply(request))
}

/// The response message name of every streamed envelope.
const MESSAGE: &str = "GetStreamingEventsResponseMessage";

/// An Error response message naming subscriptions in ErrorSubscriptionIds.
fn error_with_ids(w: &mut Writer<'_>, code: ResponseCode, message: &str, ids: &[&str]) {
    w.start(M, MESSAGE)
        .attribute("ResponseClass", code.response_class());
    w.leaf(M, "MessageText", message);
    w.leaf(M, "ResponseCode", code.as_str());
    w.leaf(M, "DescriptiveLinkKey", "0");
    w.start(M, "ErrorSubscriptionIds");
    for id in ids {
        w.leaf(M, "SubscriptionId", id);
    }
    w.end().end();
}

/// The envelopes of one streaming response after the first, produced as the HTTP layer asks for
/// them. Dropping it ends the connection.
#[derive(Debug)]
pub struct EventStream {
    connection: Option<Connection>,
    ids: IdCodec,
    version: ExchangeVersion,
}

impl EventStream {
    /// The next envelope; `None` once the stream has ended (after ConnectionStatus Closed).
    pub async fn next_chunk(&mut self) -> Option<Vec<u8>> {
        let frame = self.connection.as_mut()?.next().await?;
        let ids = self.ids.clone();
        Some(self.envelope(|w| match &frame {
            Frame::Notifications(notifications) => {
                w.start(M, MESSAGE).attribute("ResponseClass", "Success");
                w.leaf(M, "ResponseCode", ResponseCode::NoError.as_str());
                w.start(M, "Notifications");
                for notification in notifications {
                    write_notification(w, &ids, notification);
                }
                w.end();
                w.leaf(M, "ConnectionStatus", "OK");
                w.end();
            }
            Frame::Missed(missed) => {
                let texts: Vec<String> = missed.iter().map(ToString::to_string).collect();
                let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
                let message = "the subscription fell too far behind the event log and was ended";
                error_with_ids(
                    w,
                    ResponseCode::ErrorMissedNotificationEvents,
                    message,
                    &texts,
                );
            }
            Frame::Heartbeat | Frame::Closed => {
                w.start(M, MESSAGE).attribute("ResponseClass", "Success");
                w.leaf(M, "ResponseCode", ResponseCode::NoError.as_str());
                w.leaf(
                    M,
                    "ConnectionStatus",
                    if frame == Frame::Heartbeat {
                        "OK"
                    } else {
                        "Closed"
                    },
                );
                w.end();
            }
        }))
    }

    /// One complete streamed envelope around `body` (one response message), without an XML
    /// declaration.
    fn envelope(&self, body: impl FnOnce(&mut Writer<'_>)) -> Vec<u8> {
        let mut out = Vec::with_capacity(1024);
        let mut w = Writer::without_declaration(&mut out);
        w.start(SOAP_DEFAULT, "Envelope")
            .declare(SOAP_DEFAULT)
            .declare(M)
            .declare(T);
        w.start(SOAP_DEFAULT, "Header");
        soap::server_version_info(&mut w, self.version);
        w.end();
        w.start(SOAP_DEFAULT, "Body")
            .start(M, "GetStreamingEventsResponse")
            .start(M, "ResponseMessages");
        body(&mut w);
        w.end().end().end().end();
        if let Err(error) = w.finish() {
            tracing::error!(%error, "streamed envelope incomplete");
        }
        out
    }
}

/// Writes `m:Notification` (MS-OXWSNTIF NotificationType) in schema order.
fn write_notification(w: &mut Writer<'_>, ids: &IdCodec, notification: &Notification) {
    let mailbox = &notification.mailbox;
    w.start(M, "Notification");
    w.leaf(T, "SubscriptionId", &notification.subscription.to_string());
    w.leaf(
        T,
        "PreviousWatermark",
        &notify::watermark(notification.previous),
    );
    w.leaf(
        T,
        "MoreEvents",
        if notification.more { "true" } else { "false" },
    );
    match &notification.content {
        Content::Status(seq) => {
            w.start(T, "StatusEvent")
                .leaf(T, "Watermark", &notify::watermark(*seq))
                .end();
        }
        Content::Events(events) => {
            for (event_type, logged) in events {
                write_event(w, ids, mailbox, *event_type, logged);
            }
        }
    }
    w.end();
}

/// One event: Watermark, TimeStamp, FolderId or ItemId, ParentFolderId, then OldFolderId or
/// OldItemId and OldParentFolderId (moved, copied) or UnreadCount (a folder's ModifiedEvent).
fn write_event(
    w: &mut Writer<'_>,
    ids: &IdCodec,
    mailbox: &MailboxId,
    event_type: EventType,
    logged: &LoggedEvent,
) {
    let folder_id = |w: &mut Writer<'_>, name: &'static str, folder, change_key| {
        w.start(T, name)
            .attribute("Id", &ids.folder(mailbox, folder));
        if let Some(key) = change_key {
            w.attribute("ChangeKey", &ids.folder_change_key(mailbox, folder, key));
        }
        w.end();
    };
    let item_id = |w: &mut Writer<'_>, name: &'static str, item, change_key| {
        w.start(T, name).attribute("Id", &ids.item(mailbox, item));
        if let Some(key) = change_key {
            w.attribute("ChangeKey", &ids.item_change_key(mailbox, item, key));
        }
        w.end();
    };
    w.start(T, event_type.as_str());
    w.leaf(T, "Watermark", &notify::watermark(logged.seq));
    w.leaf(T, "TimeStamp", &time::format(logged.time));
    match &logged.event {
        Event::FolderCreated {
            folder,
            change_key,
            parent,
        } => {
            folder_id(w, "FolderId", *folder, Some(*change_key));
            if let Some(parent) = parent {
                folder_id(w, "ParentFolderId", *parent, None);
            }
        }
        Event::FolderModified {
            folder,
            change_key,
            parent,
            unread_count,
            ..
        } => {
            folder_id(w, "FolderId", *folder, Some(*change_key));
            if let Some(parent) = parent {
                folder_id(w, "ParentFolderId", *parent, None);
            }
            w.leaf(T, "UnreadCount", &unread_count.to_string());
        }
        Event::FolderDeleted { folder, parent } => {
            folder_id(w, "FolderId", *folder, None);
            folder_id(w, "ParentFolderId", *parent, None);
        }
        Event::FolderMoved {
            folder,
            change_key,
            parent,
            old_parent,
        } => {
            // A moved folder keeps its id, so OldFolderId names it again.
            folder_id(w, "FolderId", *folder, Some(*change_key));
            folder_id(w, "ParentFolderId", *parent, None);
            folder_id(w, "OldFolderId", *folder, None);
            folder_id(w, "OldParentFolderId", *old_parent, None);
        }
        Event::FolderCopied {
            folder,
            change_key,
            parent,
            old_folder,
            old_parent,
        } => {
            folder_id(w, "FolderId", *folder, Some(*change_key));
            folder_id(w, "ParentFolderId", *parent, None);
            folder_id(w, "OldFolderId", *old_folder, None);
            folder_id(w, "OldParentFolderId", *old_parent, None);
        }
        Event::ItemCreated {
            item,
            change_key,
            parent,
            ..
        }
        | Event::ItemModified {
            item,
            change_key,
            parent,
            ..
        }
        | Event::NewMail {
            item,
            change_key,
            parent,
        } => {
            item_id(w, "ItemId", *item, Some(*change_key));
            folder_id(w, "ParentFolderId", *parent, None);
        }
        Event::ItemDeleted { item, parent, .. } => {
            item_id(w, "ItemId", *item, None);
            folder_id(w, "ParentFolderId", *parent, None);
        }
        Event::ItemMoved {
            item,
            change_key,
            parent,
            old_item,
            old_parent,
            ..
        }
        | Event::ItemCopied {
            item,
            change_key,
            parent,
            old_item,
            old_parent,
            ..
        } => {
            item_id(w, "ItemId", *item, Some(*change_key));
            folder_id(w, "ParentFolderId", *parent, None);
            item_id(w, "OldItemId", *old_item, None);
            folder_id(w, "OldParentFolderId", *old_parent, None);
        }
    }
    w.end();
}

/// The SendNotification document a push delivery POSTs (MS-OXWSNTIF §3.2.4.1).
pub fn push_document(ids: &IdCodec, notification: &Notification) -> Vec<u8> {
    let mut out = Vec::with_capacity(2048);
    let mut w = Writer::new(&mut out);
    soap::begin_response(&mut w, PUSH_VERSION);
    w.start(M, "SendNotification").start(M, "ResponseMessages");
    w.start(M, "SendNotificationResponseMessage")
        .attribute("ResponseClass", "Success");
    w.leaf(M, "ResponseCode", ResponseCode::NoError.as_str());
    write_notification(&mut w, ids, notification);
    w.end().end().end();
    soap::end_response(&mut w);
    if let Err(error) = w.finish() {
        tracing::error!(%error, "push document incomplete");
    }
    out
}

/// Reads a push client's answer: `SendNotificationResult/SubscriptionStatus` OK or Unsubscribe.
pub fn read_push_reply(body: &[u8]) -> Result<PushReply, String> {
    let envelope = soap::read_request(body).map_err(|fault| fault.message)?;
    if envelope.operation.name() != "SendNotificationResult" {
        return Err(format!(
            "{} is not a SendNotificationResult",
            envelope.operation.name()
        ));
    }
    match child(&envelope.operation, "SubscriptionStatus").map(xml::Element::trimmed_text) {
        Some("OK") => Ok(PushReply::Ok),
        Some("Unsubscribe") => Ok(PushReply::Unsubscribe),
        other => Err(format!(
            "SubscriptionStatus {other:?} is neither OK nor Unsubscribe"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handle;
    use crate::ops::testkit::{describe, envelope, Kit};
    use umbox_store::props::{tags, PropKey, PropValue};
    use umbox_store::{DistinguishedFolder, ItemId, MailStore};

    const ALICE: &str = "alice@example.test";
    const VOICE: &str = "IPM.Note.Microsoft.Voicemail.UM.CA";

    /// Delivers a message of `class` to alice's inbox, unread.
    fn deliver(kit: &Kit, class: &str) -> ItemId {
        let class = (
            PropKey::from(tags::MESSAGE_CLASS),
            PropValue::Unicode(class.into()),
        );
        kit.create_item(ALICE, DistinguishedFolder::Inbox, vec![class], &[])
    }

    /// `handle`'s whole reply to `operation` from alice at Exchange2013, stream included
    /// (`Kit::call_as` keeps only the document).
    fn reply(kit: &Kit, operation: &str) -> Reply {
        let body = envelope("Exchange2013", "", operation);
        handle(body.as_bytes(), kit.context(ALICE))
    }

    /// The event types the typed tests subscribe to.
    fn new_mail() -> EventTypes {
        [EventType::NewMail].into_iter().collect()
    }

    /// A pull subscription with a ten-minute timeout on `folders`, starting at `watermark`.
    fn pull_request(
        folders: Result<Folders, Error>,
        watermark: Result<Option<Seq>, Error>,
    ) -> Subscribe {
        Subscribe {
            kind: NewKind::Pull {
                timeout: Duration::from_secs(600),
            },
            types: new_mail(),
            folders,
            watermark,
        }
    }

    /// Subscribe, GetEvents and Unsubscribe on typed values: a refused folder or watermark is the
    /// answer and subscribes nothing; the subscription made reports what arrives and then ends.
    #[test]
    fn pull_subscriptions_run_on_typed_values() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let inbox = kit.folder(ALICE, DistinguishedFolder::Inbox);
        let started = pull_request(Ok(Folders::Only(vec![inbox])), Ok(None))
            .run(&request)
            .unwrap()
            .started
            .unwrap();
        let start = started.watermark.unwrap();
        let no_folder = Error::new(ResponseCode::ErrorFolderNotFound, "no such folder");
        let refused = pull_request(Err(no_folder), watermark("bogus").map(Some))
            .run(&request)
            .unwrap()
            .started
            .unwrap_err();
        assert_eq!(refused.response_code(), ResponseCode::ErrorFolderNotFound);
        let refused = pull_request(Ok(Folders::All), watermark("bogus").map(Some))
            .run(&request)
            .unwrap()
            .started
            .unwrap_err();
        assert_eq!(refused.response_code(), ResponseCode::ErrorInvalidWatermark);
        assert_eq!(kit.hub().subscription_count(), 1);

        let item = deliver(&kit, "IPM.Note");
        let events = |after| {
            GetEvents {
                id: Ok(started.id),
                after,
            }
            .run(&request)
            .unwrap()
            .notification
        };
        let notification = events(Ok(start)).unwrap();
        assert_eq!(notification.previous, start);
        let Content::Events(got) = &notification.content else {
            panic!("expected events, got {:?}", notification.content);
        };
        let got: Vec<_> = got.iter().map(|(t, e)| (*t, e.event.clone())).collect();
        assert!(
            matches!(got.as_slice(), [(EventType::NewMail, Event::NewMail { item: new, .. })] if *new == item),
            "{got:?}"
        );
        let bad_watermark = events(watermark("bogus")).unwrap_err();
        assert_eq!(
            bad_watermark.response_code(),
            ResponseCode::ErrorInvalidWatermark
        );

        let ended = |id| Unsubscribe { id }.run(&request).unwrap().ended;
        assert!(ended(Ok(started.id)).is_ok());
        let again = ended(Ok(started.id)).unwrap_err();
        assert_eq!(
            again.response_code(),
            ResponseCode::ErrorSubscriptionNotFound
        );
        let malformed = ended(SubscriptionId::parse("%%").map_err(Error::from)).unwrap_err();
        assert_eq!(
            malformed.response_code(),
            ResponseCode::ErrorInvalidSubscription
        );
        let gone = events(Ok(start)).unwrap_err();
        assert_eq!(
            gone.response_code(),
            ResponseCode::ErrorSubscriptionNotFound
        );
    }

    /// GetStreamingEvents on typed values: the ids that can be streamed share one connection and
    /// each refused id is named with its error; a streaming subscription has no watermark.
    #[test]
    fn streaming_connections_carry_the_good_ids_and_name_the_others() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let streaming = Subscribe {
            kind: NewKind::Streaming,
            types: new_mail(),
            folders: Ok(Folders::All),
            watermark: Ok(None),
        }
        .run(&request)
        .unwrap()
        .started
        .unwrap();
        assert_eq!(streaming.watermark, None);
        let opened = GetStreamingEvents {
            ids: vec![streaming.id.to_string(), "%%".to_owned()],
            timeout: Duration::from_secs(60),
        }
        .run(&request)
        .opened
        .unwrap();
        let carried: Vec<_> = opened
            .connection
            .as_ref()
            .unwrap()
            .subscriptions()
            .collect();
        assert_eq!(carried, [streaming.id]);
        assert!(
            matches!(opened.rejected.as_slice(), [(id, notify::Error::MalformedId)] if id == "%%"),
            "{:?}",
            opened.rejected
        );
        let none = GetStreamingEvents {
            ids: vec!["AAAAAAAAAAAAAAAAAAAAAA==".to_owned()],
            timeout: Duration::from_secs(60),
        }
        .run(&request)
        .opened
        .unwrap();
        assert!(none.connection.is_none());
        assert!(matches!(
            none.rejected.as_slice(),
            [(_, notify::Error::NotFound(_))]
        ));
    }

    fn parse(bytes: &[u8]) -> Element {
        xml::parse(bytes, &xml::Limits::DEFAULT).unwrap()
    }

    /// The first descendant named `name` (depth first).
    fn find<'e>(e: &'e Element, name: &str) -> Option<&'e Element> {
        if e.name() == name {
            return Some(e);
        }
        e.children().find_map(|c| find(c, name))
    }

    fn text<'e>(e: &'e Element, name: &str) -> &'e str {
        find(e, name)
            .unwrap_or_else(|| panic!("no {name}"))
            .trimmed_text()
    }

    fn code(e: &Element) -> String {
        find(e, "ResponseCode")
            .map(|c| c.trimmed_text().to_owned())
            .unwrap_or_default()
    }

    /// The ResponseCode of a SOAP fault, as `Kit::call_as` returns it.
    fn fault_code((status, body): (u16, Element)) -> String {
        assert_eq!(status, 500, "{}", describe(&body));
        code(&body)
    }

    fn pull(folders: &str) -> String {
        format!(
            "<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds>{folders}</t:FolderIds><t:EventTypes><t:EventType>CreatedEvent</t:EventType><t:EventType>NewMailEvent</t:EventType><t:EventType>ModifiedEvent</t:EventType></t:EventTypes><t:Timeout>10</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"
        )
    }

    fn get_events(id: &str, watermark: &str) -> String {
        format!("<m:GetEvents><m:SubscriptionId>{id}</m:SubscriptionId><m:Watermark>{watermark}</m:Watermark></m:GetEvents>")
    }

    /// (element name, UnreadCount) of each event of a GetEvents response.
    fn events(response: &Element) -> Vec<(String, Option<String>)> {
        find(response, "Notification")
            .unwrap()
            .children()
            .filter(|c| c.name().ends_with("Event"))
            .map(|c| {
                (
                    c.name().to_owned(),
                    find(c, "UnreadCount").map(|u| u.trimmed_text().to_owned()),
                )
            })
            .collect()
    }

    #[test]
    fn pull_on_the_voicemail_folder_through_ews() {
        let kit = Kit::new();
        let subscribed = kit.call(&pull(r#"<t:DistinguishedFolderId Id="voicemail"/>"#));
        assert_eq!(code(&subscribed), "NoError");
        let id = text(&subscribed, "SubscriptionId").to_owned();
        let watermark = text(&subscribed, "Watermark").to_owned();
        let item = deliver(&kit, VOICE);
        let got = kit.call(&get_events(&id, &watermark));
        assert_eq!(code(&got), "NoError");
        assert_eq!(
            events(&got),
            vec![
                ("CreatedEvent".into(), None),
                ("NewMailEvent".into(), None),
                ("ModifiedEvent".into(), Some("1".into()))
            ]
        );
        assert_eq!(text(&got, "PreviousWatermark"), watermark);
        assert_eq!(text(&got, "MoreEvents"), "false");
        let created = find(&got, "CreatedEvent").unwrap();
        let item_id = find(created, "ItemId")
            .unwrap()
            .attribute("", "Id")
            .unwrap();
        assert_eq!(
            kit.ids.open_item(item_id).unwrap(),
            (MailboxId::new(ALICE), item)
        );
        let voicemail = kit.folder(ALICE, DistinguishedFolder::Voicemail);
        let modified = find(&got, "ModifiedEvent").unwrap();
        let folder_id = find(modified, "FolderId")
            .unwrap()
            .attribute("", "Id")
            .unwrap();
        assert_eq!(kit.ids.open_folder(folder_id).unwrap().1, voicemail);
        // Element order of MS-OXWSNTIF ModifiedEventType.
        let order: Vec<_> = modified.children().map(|c| c.name().to_owned()).collect();
        assert_eq!(
            order,
            [
                "Watermark",
                "TimeStamp",
                "FolderId",
                "ParentFolderId",
                "UnreadCount"
            ]
        );
        // Nothing more: a lone StatusEvent.
        let last = find(&got, "Notification")
            .unwrap()
            .children()
            .rfind(|c| c.name() == "ModifiedEvent")
            .unwrap();
        let idle = kit.call(&get_events(&id, text(last, "Watermark")));
        assert_eq!(events(&idle), vec![("StatusEvent".to_owned(), None)]);
        // Unsubscribe ends it.
        let gone = kit.call(&format!(
            "<m:Unsubscribe><m:SubscriptionId>{id}</m:SubscriptionId></m:Unsubscribe>"
        ));
        assert_eq!(code(&gone), "NoError");
        assert_eq!(
            code(&kit.call(&get_events(&id, &watermark))),
            "ErrorSubscriptionNotFound"
        );
    }

    #[test]
    fn bad_input_gets_the_right_codes() {
        let mut kit = Kit::new();
        let inbox = r#"<t:DistinguishedFolderId Id="inbox"/>"#;
        let subscribed = kit.call(&pull(inbox));
        let id = text(&subscribed, "SubscriptionId").to_owned();
        let watermark = text(&subscribed, "Watermark").to_owned();
        // Ids: malformed, unknown, someone else's; a watermark that is not one.
        assert_eq!(
            code(&kit.call(&get_events("%%%", &watermark))),
            "ErrorInvalidSubscription"
        );
        assert_eq!(
            code(&kit.call(&get_events("AAAAAAAAAAAAAAAAAAAAAA==", &watermark))),
            "ErrorSubscriptionNotFound"
        );
        let (_, bob) = kit.call_as(
            "bob@example.test",
            "Exchange2013",
            None,
            &get_events(&id, &watermark),
        );
        assert_eq!(code(&bob), "ErrorSubscriptionAccessDenied");
        assert_eq!(
            code(&kit.call(&get_events(&id, "bogus"))),
            "ErrorInvalidWatermark"
        );
        // Timeouts and event types outside the schema are faults.
        for timeout in ["0", "1441", "ten"] {
            let body = pull(inbox).replace(
                "<t:Timeout>10</t:Timeout>",
                &format!("<t:Timeout>{timeout}</t:Timeout>"),
            );
            assert_eq!(
                fault_code(kit.call_as(ALICE, "Exchange2013", None, &body)),
                "ErrorSchemaValidation"
            );
        }
        let body = pull(inbox).replace("NewMailEvent", "StatusEvent");
        assert_eq!(
            fault_code(kit.call_as(ALICE, "Exchange2013", None, &body)),
            "ErrorSchemaValidation"
        );
        // conversationhistory does not exist before Exchange2013.
        let history = pull(r#"<t:DistinguishedFolderId Id="conversationhistory"/>"#);
        let (_, old) = kit.call_as(ALICE, "Exchange2010_SP2", None, &history);
        assert_eq!(code(&old), "ErrorFolderNotFound");
        assert_eq!(code(&kit.call(&history)), "NoError");
        // Push URLs that are malformed or point inside.
        for url in [
            "http://127.0.0.1:8080/",
            "http://169.254.169.254/",
            "gopher://x/",
            "https://u:p@push.example.com/",
        ] {
            let body = format!(
                "<m:Subscribe><m:PushSubscriptionRequest SubscribeToAllFolders=\"true\"><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes><t:StatusFrequency>1</t:StatusFrequency><t:URL>{url}</t:URL></m:PushSubscriptionRequest></m:Subscribe>"
            );
            assert_eq!(
                code(&kit.call(&body)),
                "ErrorInvalidPushSubscriptionUrl",
                "{url}"
            );
        }
        // A push subscription ends only by its client's answer, not by Unsubscribe.
        let push = kit.call(
            "<m:Subscribe><m:PushSubscriptionRequest SubscribeToAllFolders=\"true\"><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes><t:StatusFrequency>1</t:StatusFrequency><t:URL>https://push.example.com/listener</t:URL></m:PushSubscriptionRequest></m:Subscribe>",
        );
        let push_id = text(&push, "SubscriptionId").to_owned();
        let unsubscribe = format!(
            "<m:Unsubscribe><m:SubscriptionId>{push_id}</m:SubscriptionId></m:Unsubscribe>"
        );
        assert_eq!(code(&kit.call(&unsubscribe)), "ErrorInvalidSubscription");
        // An idle pull subscription expires after its Timeout (10 minutes here).
        kit.now += Duration::from_secs(11 * 60);
        assert_eq!(
            code(&kit.call(&get_events(&id, &watermark))),
            "ErrorExpiredSubscription"
        );
        assert_eq!(
            code(&kit.call(&get_events(&id, &watermark))),
            "ErrorSubscriptionNotFound"
        );
        // Streaming needs Exchange2010_SP1.
        let streaming = "<m:Subscribe><m:StreamingSubscriptionRequest SubscribeToAllFolders=\"true\"><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>";
        assert_eq!(
            fault_code(kit.call_as(ALICE, "Exchange2010", None, streaming)),
            "ErrorSchemaValidation"
        );
        let stream_id = text(&kit.call(streaming), "SubscriptionId").to_owned();
        assert_eq!(
            code(&kit.call(&get_events(&stream_id, &watermark))),
            "ErrorInvalidPullSubscriptionId"
        );
    }

    fn get_streaming(ids: &[&str], minutes: &str) -> String {
        let ids: String = ids
            .iter()
            .map(|id| format!("<t:SubscriptionId>{id}</t:SubscriptionId>"))
            .collect();
        format!("<m:GetStreamingEvents><m:SubscriptionIds>{ids}</m:SubscriptionIds><m:ConnectionTimeout>{minutes}</m:ConnectionTimeout></m:GetStreamingEvents>")
    }

    /// A streamed chunk is one whole envelope with the SOAP namespace as the default one.
    fn chunk(bytes: &[u8]) -> Element {
        let text = std::str::from_utf8(bytes).unwrap();
        assert!(
            text.starts_with("<Envelope xmlns=\"http://schemas.xmlsoap.org/soap/envelope/\""),
            "{text}"
        );
        assert!(text.ends_with("</Envelope>"), "{text}");
        assert_eq!(text.matches("</Envelope>").count(), 1);
        let envelope = parse(bytes);
        assert!(envelope.is(ns::SOAP_ENVELOPE, "Envelope"));
        envelope
    }

    #[tokio::test(start_paused = true)]
    async fn streaming_through_ews() {
        let kit = Kit::new();
        let streaming = "<m:Subscribe><m:StreamingSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id=\"inbox\"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType></t:EventTypes></m:StreamingSubscriptionRequest></m:Subscribe>";
        let subscribed = kit.call(streaming);
        assert!(find(&subscribed, "Watermark").is_none());
        let id = text(&subscribed, "SubscriptionId").to_owned();
        // Out-of-range timeouts are faults; ids that cannot be streamed are named.
        for minutes in ["0", "31"] {
            let reply = kit.call_as(ALICE, "Exchange2013", None, &get_streaming(&[&id], minutes));
            assert_eq!(fault_code(reply), "ErrorSchemaValidation");
        }
        let refused = reply(&kit, &get_streaming(&["AAAAAAAAAAAAAAAAAAAAAA=="], "1"));
        assert!(refused.stream.is_none());
        let only = chunk(&refused.body);
        assert_eq!(code(&only), "ErrorSubscriptionNotFound");
        assert_eq!(
            text(
                find(&only, "ErrorSubscriptionIds").unwrap(),
                "SubscriptionId"
            ),
            "AAAAAAAAAAAAAAAAAAAAAA=="
        );

        let mut streamed = reply(&kit, &get_streaming(&[&id, "%%"], "1"));
        let first = chunk(&streamed.body);
        assert_eq!(code(&first), "ErrorInvalidSubscription");
        assert_eq!(
            text(
                find(&first, "ErrorSubscriptionIds").unwrap(),
                "SubscriptionId"
            ),
            "%%"
        );
        let stream = streamed.stream.as_mut().unwrap();
        let item = deliver(&kit, "IPM.Note");
        let envelope = chunk(&stream.next_chunk().await.unwrap());
        assert_eq!(text(&envelope, "ConnectionStatus"), "OK");
        let new_mail = find(&envelope, "NewMailEvent").unwrap();
        let item_id = find(new_mail, "ItemId")
            .unwrap()
            .attribute("", "Id")
            .unwrap();
        assert_eq!(kit.ids.open_item(item_id).unwrap().1, item);
        assert_eq!(text(&envelope, "SubscriptionId"), id);
        let heartbeat = chunk(&stream.next_chunk().await.unwrap());
        assert_eq!(text(&heartbeat, "ConnectionStatus"), "OK");
        assert!(find(&heartbeat, "Notifications").is_none());
        let closed = chunk(&stream.next_chunk().await.unwrap());
        assert_eq!(text(&closed, "ConnectionStatus"), "Closed");
        assert!(stream.next_chunk().await.is_none());
    }

    #[test]
    fn push_documents_and_replies() {
        let kit = Kit::new();
        let alice = MailboxId::new(ALICE);
        let start = kit.store().log_bounds(&alice).unwrap().latest;
        deliver(&kit, "IPM.Note");
        let entries = kit.store().changes_since(&alice, start, 10).unwrap();
        let sub = SubscriptionId::parse("AAAAAAAAAAAAAAAAAAAAAA==").unwrap();
        let notification = Notification {
            subscription: sub,
            mailbox: alice,
            previous: start,
            more: false,
            content: Content::Events(
                entries
                    .into_iter()
                    .map(|e| (EventType::of(&e.event), e))
                    .collect(),
            ),
        };
        let document = push_document(&kit.ids, &notification);
        let parsed = parse(&document);
        let message = find(&parsed, "SendNotificationResponseMessage").unwrap();
        assert_eq!(message.attribute("", "ResponseClass"), Some("Success"));
        assert_eq!(text(message, "SubscriptionId"), sub.to_string());
        assert!(find(message, "NewMailEvent").is_some());
        // What exchangelib's SendNotification.ok_payload() and unsubscribe_payload() produce.
        let answer = |status: &str| {
            format!(
                r#"<?xml version='1.0' encoding='utf-8'?><s:Envelope xmlns:m="http://schemas.microsoft.com/exchange/services/2006/messages" xmlns:s="http://schemas.xmlsoap.org/soap/envelope/" xmlns:t="http://schemas.microsoft.com/exchange/services/2006/types"><s:Body><m:SendNotificationResult><m:SubscriptionStatus>{status}</m:SubscriptionStatus></m:SendNotificationResult></s:Body></s:Envelope>"#
            )
        };
        assert_eq!(read_push_reply(answer("OK").as_bytes()), Ok(PushReply::Ok));
        assert_eq!(
            read_push_reply(answer("Unsubscribe").as_bytes()),
            Ok(PushReply::Unsubscribe)
        );
        assert!(read_push_reply(answer("Maybe").as_bytes()).is_err());
        assert!(read_push_reply(b"<html>oops</html>").is_err());
    }
}
