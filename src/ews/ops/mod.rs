//! EWS operations: one module per group, each reading its typed request from the operation
//! element and writing its response messages. [`dispatch`] is the only place operation names are
//! matched.

mod folders;
pub(crate) mod subscriptions;

use crate::ews::codes::ResponseCode;
use crate::ews::error::Fault;
use crate::ews::{Reply, Request};
use crate::xml::{Element, Writer};

/// Runs the operation `op` and writes its response element.
pub(crate) fn dispatch(
    request: &Request<'_>,
    op: &Element,
    w: &mut Writer<'_>,
) -> Result<(), Fault> {
    match op.name() {
        "GetFolder" => folders::get_folder(request, op, w),
        "FindFolder" => folders::find_folder(request, op, w),
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
