//! EWS operations: one module per group. Every operation takes the same three steps
//! ([`EwsOperation`]): **parse** the operation element into a typed request, **run** it on typed
//! values (store reads and writes, no XML), **write** the typed response. [`Operation`] and
//! [`Response`] are the closed lists of them, made by [`operations!`]; `Operation::parse` is the
//! only place operation names are matched. GetStreamingEvents has the same parse and run steps
//! but answers with a stream of envelopes, so it goes through [`open_stream`] instead.

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
mod user_config;
pub(crate) mod work_hours;

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
        pub(crate) enum Operation {
            $(
                #[doc = concat!("`m:", $element, "`.")]
                $variant($type),
            )+
        }

        /// What each operation answered, ready to be written.
        pub(crate) enum Response {
            $(
                #[doc = concat!("The answer to `m:", $element, "`.")]
                $variant(<$type as EwsOperation>::Response),
            )+
        }

        impl Operation {
            /// `name` as a `'static` string when it is an operation in the list.
            fn static_name(name: &str) -> Option<&'static str> {
                match name {
                    $($element => Some($element),)+
                    _ => None,
                }
            }

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
    "GetFolder" => GetFolder(folders::GetFolder),
    "FindFolder" => FindFolder(folders::FindFolder),
    "CreateFolder" => CreateFolder(folders::CreateFolder),
    "UpdateFolder" => UpdateFolder(folders::UpdateFolder),
    "DeleteFolder" => DeleteFolder(folders::DeleteFolder),
    "EmptyFolder" => EmptyFolder(folders::EmptyFolder),
    "MoveFolder" => MoveFolder(folders::MoveFolder),
    "CopyFolder" => CopyFolder(folders::CopyFolder),
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
    "FindItem" => FindItem(find_item::FindItem),
    "SyncFolderItems" => SyncFolderItems(sync::SyncFolderItems),
    "SyncFolderHierarchy" => SyncFolderHierarchy(sync::SyncFolderHierarchy),
    "ResolveNames" => ResolveNames(people::ResolveNames),
    "GetUserOofSettingsRequest" => GetUserOofSettings(oof::GetUserOofSettings),
    "SetUserOofSettingsRequest" => SetUserOofSettings(oof::SetUserOofSettings),
    "GetUserAvailabilityRequest" => GetUserAvailability(availability::GetUserAvailability),
    "ConvertId" => ConvertId(convert_id::ConvertId),
    "GetServerTimeZones" => GetServerTimeZones(time_zones::GetServerTimeZones),
    "Subscribe" => Subscribe(subscriptions::Subscribe),
    "Unsubscribe" => Unsubscribe(subscriptions::Unsubscribe),
    "GetEvents" => GetEvents(subscriptions::GetEvents),
    "GetUserConfiguration" => GetUserConfiguration(user_config::GetUserConfiguration),
    "CreateUserConfiguration" => CreateUserConfiguration(user_config::CreateUserConfiguration),
    "UpdateUserConfiguration" => UpdateUserConfiguration(user_config::UpdateUserConfiguration),
    "DeleteUserConfiguration" => DeleteUserConfiguration(user_config::DeleteUserConfiguration),
}

/// Runs the operation `op` and writes its response element: parse, run, write.
pub(crate) fn dispatch(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    let operation = Operation::parse(request, op).unwrap_or_else(|| {
        Err(Fault::new(
            ResponseCode::ErrorInvalidRequest,
            format!(
                "the operation {} is not supported by this server",
                op.name()
            ),
        ))
    })?;
    let response = operation.run(request)?;
    response.write(request, w);
    Ok(())
}

/// The element name of an operation this server serves, as a `'static` string; `None` for any
/// other name.
pub(crate) fn served_name(name: &str) -> Option<&'static str> {
    Operation::static_name(name).or(match name {
        "GetStreamingEvents" => Some("GetStreamingEvents"),
        _ => None,
    })
}

/// The operations answered with a stream of envelopes instead of one document; `None` for every
/// other operation, which [`dispatch`] then runs.
pub(crate) fn open_stream(request: &Request<'_>, op: &Element) -> Option<Result<Reply, Fault>> {
    match op.name() {
        "GetStreamingEvents" => Some(subscriptions::get_streaming_events(request, op)),
        _ => None,
    }
}
