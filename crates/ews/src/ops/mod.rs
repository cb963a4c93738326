//! EWS operations: one module per group. Every operation takes the same three steps
//! ([`EwsOperation`]): **parse** the operation element into a typed request, **run** it on typed
//! values (store reads and writes, no XML), **write** the typed response. [`Operation`] and
//! [`Response`] are the closed lists of them, made by [`operations!`]; `Operation::parse` is the
//! only place operation names are matched.

mod attachments;
mod availability;
mod convert_id;
mod find_item;
#[cfg(test)]
mod find_sync_tests;
#[cfg(test)]
mod folder_move_tests;
mod folders;
pub(crate) mod items;
mod oof;
mod people;
pub(crate) mod subscriptions;
mod sync;
#[cfg(test)]
pub(crate) mod testkit;
mod time_zones;

use crate::codes::ResponseCode;
use crate::error::Fault;
use crate::{Reply, Request};
use umbox_xml::{Element, Writer};

/// One EWS operation in the three steps every operation takes.
pub(crate) trait EwsOperation: Sized {
    /// What `run` produces: plain values, never XML.
    type Response;

    /// Reads the typed request from the operation element. Only a request that breaks the schema
    /// fails here (a SOAP fault); a bad entry, such as an id that does not open, is kept as a value
    /// so that its own response message can say what was wrong.
    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault>;

    /// Does the work on typed values: reads and writes the store, never sees XML.
    fn run(self, request: &Request<'_>) -> Result<Self::Response, Fault>;

    /// Writes the response element.
    fn write(response: &Self::Response, request: &Request<'_>, w: &mut Writer<'_>);
}

/// Declares [`Operation`] and [`Response`] from the list of operation element names and the
/// [`EwsOperation`] types that serve them.
macro_rules! operations {
    ($($element:literal => $variant:ident($type:ty),)+) => {
        /// Every operation umbox serves, parsed.
        #[allow(clippy::enum_variant_names)] // TRANSITION: while only attachment operations are listed.
        pub(crate) enum Operation {
            $(
                #[doc = concat!("`m:", $element, "`.")]
                $variant($type),
            )+
        }

        /// What each operation answered, ready to be written.
        #[allow(clippy::enum_variant_names)] // TRANSITION: while only attachment operations are listed.
        pub(crate) enum Response {
            $(
                #[doc = concat!("The answer to `m:", $element, "`.")]
                $variant(<$type as EwsOperation>::Response),
            )+
        }

        impl Operation {
            /// The typed request in `op`; `None` for an operation not in the list.
            pub(crate) fn parse(request: &Request<'_>, op: &Element) -> Option<Result<Operation, Fault>> {
                Some(match op.name() {
                    $($element => <$type>::parse(request, op).map(Operation::$variant),)+
                    _ => return None,
                })
            }

            /// Runs the operation.
            pub(crate) fn run(self, request: &Request<'_>) -> Result<Response, Fault> {
                match self {
                    $(Operation::$variant(op) => op.run(request).map(Response::$variant),)+
                }
            }
        }

        impl Response {
            /// Writes the response element.
            pub(crate) fn write(&self, request: &Request<'_>, w: &mut Writer<'_>) {
                match self {
                    $(Response::$variant(response) => <$type>::write(response, request, w),)+
                }
            }
        }
    };
}

operations! {
    "GetAttachment" => GetAttachment(attachments::GetAttachment),
    "CreateAttachment" => CreateAttachment(attachments::CreateAttachment),
    "DeleteAttachment" => DeleteAttachment(attachments::DeleteAttachment),
    "GetItem" => GetItem(items::GetItem),
    "CreateItem" => CreateItem(items::CreateItem),
    "UpdateItem" => UpdateItem(items::UpdateItem),
    "DeleteItem" => DeleteItem(items::DeleteItem),
    "MoveItem" => MoveItem(items::MoveItem),
    "CopyItem" => CopyItem(items::CopyItem),
    "SendItem" => SendItem(items::SendItem),
    "MarkAllItemsAsRead" => MarkAllItemsAsRead(items::MarkAllItemsAsRead),
}

/// Runs the operation `op` and writes its response element.
pub(crate) fn dispatch(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    if let Some(operation) = Operation::parse(request, op) {
        let response = operation?.run(request)?;
        response.write(request, w);
        return Ok(());
    }
    legacy_dispatch(request, op, w)
}

/// The operations not yet written as an [`EwsOperation`].
fn legacy_dispatch(request: &Request<'_>, op: &Element, w: &mut Writer<'_>) -> Result<(), Fault> {
    match op.name() {
        "GetFolder" => folders::get_folder(request, op, w),
        "FindFolder" => folders::find_folder(request, op, w),
        "CreateFolder" => folders::create_folder(request, op, w),
        "UpdateFolder" => folders::update_folder(request, op, w),
        "DeleteFolder" => folders::delete_folder(request, op, w),
        "EmptyFolder" => folders::empty_folder(request, op, w),
        "MoveFolder" => folders::move_folder(request, op, w),
        "CopyFolder" => folders::copy_folder(request, op, w),
        "FindItem" => find_item::find_item(request, op, w),
        "SyncFolderItems" => sync::sync_folder_items(request, op, w),
        "SyncFolderHierarchy" => sync::sync_folder_hierarchy(request, op, w),
        "ResolveNames" => people::resolve_names(request, op, w),
        "GetUserOofSettingsRequest" => oof::get_user_oof_settings(request, op, w),
        "SetUserOofSettingsRequest" => oof::set_user_oof_settings(request, op, w),
        "GetUserAvailabilityRequest" => availability::get_user_availability(request, op, w),
        "ConvertId" => convert_id::convert_id(request, op, w),
        "GetServerTimeZones" => time_zones::get_server_time_zones(request, op, w),
        "Subscribe" => subscriptions::subscribe(request, op, w),
        "Unsubscribe" => subscriptions::unsubscribe(request, op, w),
        "GetEvents" => subscriptions::get_events(request, op, w),
        other => Err(Fault::new(
            ResponseCode::ErrorInvalidRequest,
            format!("the operation {other} is not supported by this server"),
        )),
    }
}

/// The operations answered with a stream of envelopes instead of one document; `None` for every
/// other operation, which [`dispatch`] then runs.
pub(crate) fn open_stream(request: &Request<'_>, op: &Element) -> Option<Result<Reply, Fault>> {
    match op.name() {
        "GetStreamingEvents" => Some(subscriptions::get_streaming_events(request, op)),
        _ => None,
    }
}
