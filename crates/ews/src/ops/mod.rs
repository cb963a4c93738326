//! EWS operations: one module per group, each reading its typed request from the operation
//! element and writing its response messages. [`dispatch`] is the only place operation names are
//! matched.

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

/// Runs the operation `op` and writes its response element.
pub(crate) fn dispatch(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
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
        "GetItem" => items::get_item(request, op, w),
        "CreateItem" => items::create_item(request, op, w),
        "UpdateItem" => items::update_item(request, op, w),
        "DeleteItem" => items::delete_item(request, op, w),
        "MoveItem" => items::move_item(request, op, w),
        "CopyItem" => items::copy_item(request, op, w),
        "SendItem" => items::send_item(request, op, w),
        "MarkAllItemsAsRead" => items::mark_all_items_as_read(request, op, w),
        "GetAttachment" => attachments::get_attachment(request, op, w),
        "CreateAttachment" => attachments::create_attachment(request, op, w),
        "DeleteAttachment" => attachments::delete_attachment(request, op, w),
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
