//! EWS operations: one module per group, each reading its typed request from the operation
//! element and writing its response messages. [`dispatch`] is the only place operation names are
//! matched.

mod attachments;
mod folders;
pub(crate) mod items;

use crate::ews::codes::ResponseCode;
use crate::ews::error::Fault;
use crate::ews::Request;
use crate::xml::{Element, Writer};

/// Runs the operation `op` and writes its response element.
pub(crate) fn dispatch(request: &Request<'_>, op: &Element, w: &mut Writer<'_>) -> Result<(), Fault> {
    match op.name() {
        "GetFolder" => folders::get_folder(request, op, w),
        "FindFolder" => folders::find_folder(request, op, w),
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
        other => Err(Fault::new(
            ResponseCode::ErrorInvalidRequest,
            format!("the operation {other} is not supported by this server"),
        )),
    }
}
