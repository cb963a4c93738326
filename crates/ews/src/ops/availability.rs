//! Free/busy (MS-OXWSFB): GetUserAvailabilityRequest, answered from each mailbox's calendar
//! folder.
//!
//! Storage contract for calendar items (what CreateItem writes for a `t:CalendarItem`): class
//! `IPM.Appointment…`; start and end as PidLidAppointmentStartWhole / PidLidAppointmentEndWhole
//! (PSETID_Appointment 0x820D / 0x820E, SystemTime); free/busy as PidLidBusyStatus (0x8205, Int32:
//! 0 free, 1 tentative, 2 busy, 3 out of office, 4 working elsewhere; absent means busy, the
//! default of a new appointment); details from PidTagSubject, PidLidLocation (0x8208),
//! PidLidAppointmentStateFlags (0x8217, bit 1 = meeting), PidLidRecurring (0x8223),
//! PidLidReminderSet (PSETID_Common 0x8503) and PidTagSensitivity (2 = private). Each item is one
//! occurrence: recurrence patterns are not expanded.
//!
//! Any authenticated user may read anyone's free/busy times, as Exchange's default calendar
//! permission allows; subjects and locations (the Detailed views) only of the mailbox the request
//! acts for. Other requests for a detailed view get the matching free/busy view instead, as
//! Exchange answers a requester with "free/busy time only" rights. Times in the response are wall
//! clock in the requester's `TimeZone`. Working hours are each user's own (`ops::work_hours`: the
//! `WorkHours` configuration object of their Calendar folder, in the zone it names), else
//! 08:00–17:00, Monday to Friday, in the requester's zone.

use super::EwsOperation;
use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::{parse_bool, PSETID_APPOINTMENT};
use crate::ops::convert_id::{reformat, IdFormat};
use crate::ops::time_zones::{format_local, parse_in_zone, SerializableTimeZone};
use crate::ops::work_hours::WorkHours;
use crate::soap::{M, T};
use crate::{child, response_message, Request};
use umbox_base::directory::User;
use umbox_base::version::ExchangeVersion;
use umbox_store::props::{
    property_sets, tags, NamedProperty, PropName, PropTag, PropType, PropValue, PropertyBag,
};
use umbox_store::{DistinguishedFolder, Item, MailboxId};
use umbox_xml::{Element, Writer};

/// The most mailboxes one request may ask about (Exchange's limit).
const MAX_MAILBOXES: usize = 100;
/// The longest time window, in days (Exchange's default for free/busy).
const MAX_WINDOW_DAYS: i64 = 42;
/// The item class prefix of calendar items.
const APPOINTMENT_CLASS: &str = "IPM.Appointment";
/// PidTagSensitivity value of a private item.
const SENSITIVITY_PRIVATE: i32 = 2;
/// PidLidAppointmentStateFlags bit set on meetings (asfMeeting).
const STATE_MEETING: i32 = 0x1;
/// PidTagSensitivity.
const SENSITIVITY: PropTag = PropTag::new(0x0036, PropType::Int32);

/// The named properties read from calendar items, in this order.
#[derive(Debug, Clone, Copy)]
enum Lid {
    Start,
    End,
    BusyStatus,
    Location,
    StateFlags,
    Recurring,
    ReminderSet,
}

impl Lid {
    const ALL: [Lid; 7] = [
        Lid::Start,
        Lid::End,
        Lid::BusyStatus,
        Lid::Location,
        Lid::StateFlags,
        Lid::Recurring,
        Lid::ReminderSet,
    ];

    fn name(self) -> NamedProperty {
        let (set, id) = match self {
            Lid::Start => (PSETID_APPOINTMENT, 0x820D),
            Lid::End => (PSETID_APPOINTMENT, 0x820E),
            Lid::BusyStatus => (PSETID_APPOINTMENT, 0x8205),
            Lid::Location => (PSETID_APPOINTMENT, 0x8208),
            Lid::StateFlags => (PSETID_APPOINTMENT, 0x8217),
            Lid::Recurring => (PSETID_APPOINTMENT, 0x8223),
            Lid::ReminderSet => (property_sets::COMMON, 0x8503),
        };
        NamedProperty::new(set, PropName::Id(id))
    }

    fn prop_type(self) -> PropType {
        match self {
            Lid::Start | Lid::End => PropType::SystemTime,
            Lid::BusyStatus | Lid::StateFlags => PropType::Int32,
            Lid::Location => PropType::Unicode,
            Lid::Recurring | Lid::ReminderSet => PropType::Boolean,
        }
    }
}

/// A free/busy status (MS-OXWSCDATA LegacyFreeBusyType).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum BusyType {
    /// Available.
    Free,
    /// Working, away from the usual place (Exchange2013 and later).
    WorkingElsewhere,
    /// Tentatively booked.
    Tentative,
    /// Booked.
    Busy,
    /// Out of office.
    Oof,
    /// Nothing known.
    NoData,
}

impl BusyType {
    /// PidLidBusyStatus to a status; unknown values count as busy, the safe reading.
    fn from_busy_status(value: Option<i32>) -> BusyType {
        match value {
            Some(0) => BusyType::Free,
            Some(1) => BusyType::Tentative,
            Some(3) => BusyType::Oof,
            Some(4) => BusyType::WorkingElsewhere,
            _ => BusyType::Busy,
        }
    }

    /// What a client of `version` can be told: WorkingElsewhere exists from Exchange2013 on and
    /// reads as free before.
    fn for_version(self, version: ExchangeVersion) -> BusyType {
        if self == BusyType::WorkingElsewhere && version < ExchangeVersion::Exchange2013 {
            BusyType::Free
        } else {
            self
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            BusyType::Free => "Free",
            BusyType::WorkingElsewhere => "WorkingElsewhere",
            BusyType::Tentative => "Tentative",
            BusyType::Busy => "Busy",
            BusyType::Oof => "OOF",
            BusyType::NoData => "NoData",
        }
    }

    /// The MergedFreeBusy digit.
    fn digit(self) -> char {
        match self {
            BusyType::Free => '0',
            BusyType::Tentative => '1',
            BusyType::Busy => '2',
            BusyType::Oof => '3',
            BusyType::NoData => '4',
            BusyType::WorkingElsewhere => '5',
        }
    }
}

/// The views a client may request (MS-OXWSFB FreeBusyViewType, without None).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum View {
    /// MergedFreeBusy only.
    MergedOnly,
    /// The events with their times and status.
    FreeBusy,
    /// FreeBusy and MergedFreeBusy.
    FreeBusyMerged,
    /// The events with their subjects and locations.
    Detailed,
    /// Detailed and MergedFreeBusy.
    DetailedMerged,
}

impl View {
    /// Every view a client may request.
    const ALL: [View; 5] = [
        View::MergedOnly,
        View::FreeBusy,
        View::FreeBusyMerged,
        View::Detailed,
        View::DetailedMerged,
    ];

    /// The schema's name of the view.
    fn as_str(self) -> &'static str {
        match self {
            View::MergedOnly => "MergedOnly",
            View::FreeBusy => "FreeBusy",
            View::FreeBusyMerged => "FreeBusyMerged",
            View::Detailed => "Detailed",
            View::DetailedMerged => "DetailedMerged",
        }
    }

    /// Whether the view carries MergedFreeBusy.
    fn merged(self) -> bool {
        matches!(
            self,
            View::MergedOnly | View::FreeBusyMerged | View::DetailedMerged
        )
    }

    /// Whether the view lists the events.
    fn events(self) -> bool {
        self != View::MergedOnly
    }

    /// Whether the events carry their details.
    fn details(self) -> bool {
        matches!(self, View::Detailed | View::DetailedMerged)
    }

    /// The view without subjects and locations.
    fn without_details(self) -> View {
        match self {
            View::Detailed => View::FreeBusy,
            View::DetailedMerged => View::FreeBusyMerged,
            other => other,
        }
    }
}

/// What the request asks for, checked.
#[derive(Debug)]
pub(crate) struct Options {
    /// The requester's zone: times are read and written in it.
    pub(crate) zone: SerializableTimeZone,
    /// The window's start in UTC seconds, before `end`.
    pub(crate) start: i64,
    /// The window's end in UTC seconds.
    pub(crate) end: i64,
    /// The length of one MergedFreeBusy digit.
    pub(crate) interval_minutes: i64,
    /// The view asked for.
    pub(crate) view: View,
}

impl Options {
    /// Reads `t:TimeZone` and `t:FreeBusyViewOptions`.
    fn parse(op: &Element) -> Result<Options, Fault> {
        if child(op, "SuggestionsViewOptions").is_some() {
            return Err(Fault::new(
                ResponseCode::ErrorInvalidRequest,
                "meeting time suggestions are not offered; ask for FreeBusyViewOptions",
            ));
        }
        // Exchange 2007 made TimeZone required; later clients may send it in a header instead,
        // which umbox does not read, so a request without one is read in UTC.
        let zone = child(op, "TimeZone")
            .map(SerializableTimeZone::parse)
            .transpose()?
            .unwrap_or(SerializableTimeZone::UTC);
        let options = child(op, "FreeBusyViewOptions")
            .ok_or_else(|| Fault::schema("GetUserAvailabilityRequest needs FreeBusyViewOptions"))?;
        let window = child(options, "TimeWindow")
            .ok_or_else(|| Fault::schema("FreeBusyViewOptions needs TimeWindow"))?;
        let at = |name: &str| -> Result<i64, Fault> {
            let text = child(window, name)
                .map(Element::trimmed_text)
                .ok_or_else(|| Fault::schema(format!("TimeWindow needs {name}")))?;
            parse_in_zone(text, &zone).ok_or_else(|| {
                Fault::schema(format!("TimeWindow {name} {text:?} is not a dateTime"))
            })
        };
        let (start, end) = (at("StartTime")?, at("EndTime")?);
        if start >= end {
            return Err(Fault::new(
                ResponseCode::ErrorInvalidTimeInterval,
                "TimeWindow StartTime must be before EndTime",
            ));
        }
        if end - start > MAX_WINDOW_DAYS * 86_400 {
            return Err(Fault::new(
                ResponseCode::ErrorTimeIntervalTooBig,
                format!("the time window is longer than {MAX_WINDOW_DAYS} days"),
            ));
        }
        let interval_minutes = match child(options, "MergedFreeBusyIntervalInMinutes") {
            None => 30,
            Some(value) => value
                .trimmed_text()
                .parse::<i64>()
                .ok()
                .filter(|m| (5..=1440).contains(m))
                .ok_or_else(|| {
                    Fault::new(
                        ResponseCode::ErrorInvalidMergedFreeBusyInterval,
                        "MergedFreeBusyIntervalInMinutes must be 5 to 1440",
                    )
                })?,
        };
        // RequestedView may be left out; Exchange then answers the plain free/busy view.
        let view = match child(options, "RequestedView").map(Element::trimmed_text) {
            None => View::FreeBusy,
            Some(name) => View::ALL
                .into_iter()
                .find(|v| v.as_str() == name)
                .ok_or_else(|| {
                    Fault::new(
                        ResponseCode::ErrorInvalidFreeBusyViewType,
                        format!("RequestedView {name:?} cannot be requested"),
                    )
                })?,
        };
        Ok(Options {
            zone,
            start,
            end,
            interval_minutes,
            view,
        })
    }
}

/// One appointment as free/busy sees it.
#[derive(Debug)]
pub(crate) struct Event {
    /// Start in UTC seconds.
    start: i64,
    /// End in UTC seconds.
    end: i64,
    /// Its status, as the requester's version can be told.
    busy: BusyType,
    /// The calendar item, for the details.
    item: Item,
    /// PidLidLocation.
    location: Option<String>,
    /// Whether it is a meeting rather than an appointment.
    is_meeting: bool,
    /// PidLidRecurring.
    is_recurring: bool,
    /// PidLidReminderSet.
    is_reminder_set: bool,
}

/// GetUserAvailabilityRequest: one `m:FreeBusyResponse` per `t:MailboxData`, in request order.
#[derive(Debug)]
pub(crate) struct GetUserAvailability {
    /// The window, zone, interval and view asked for.
    pub(crate) options: Options,
    /// Each `t:MailboxData`'s `Email/Address`, in request order.
    pub(crate) addresses: Vec<String>,
}

/// The free/busy view of one mailbox.
#[derive(Debug)]
pub(crate) struct FreeBusy {
    /// The view answered: the one asked for, without details unless the calendar is the
    /// requester's own.
    view: View,
    /// MergedFreeBusy, when the view is merged: one digit per interval.
    merged: Option<String>,
    /// The events listed (CalendarEventArray), by start time: none for a merged-only view or a
    /// user without a mailbox yet.
    events: Vec<Event>,
    /// The user's working hours.
    work_hours: WorkHours,
}

/// For each mailbox asked about, in request order, its free/busy view or why not.
pub(crate) struct GetUserAvailabilityResponse {
    /// The requester's zone, which every time and the working hours are written in.
    zone: SerializableTimeZone,
    /// One per mailbox.
    free_busy: Vec<Result<FreeBusy, Error>>,
}

impl EwsOperation for GetUserAvailability {
    type Response = GetUserAvailabilityResponse;

    fn parse(_: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let options = Options::parse(op)?;
        let mailboxes = child(op, "MailboxDataArray")
            .ok_or_else(|| Fault::schema("GetUserAvailabilityRequest needs MailboxDataArray"))?;
        let addresses = mailboxes
            .children()
            .map(mailbox_address)
            .collect::<Result<Vec<_>, Fault>>()?;
        if addresses.is_empty() || addresses.len() > MAX_MAILBOXES {
            return Err(Fault::new(
                ResponseCode::ErrorInvalidRequest,
                format!("ask about 1 to {MAX_MAILBOXES} mailboxes"),
            ));
        }
        Ok(GetUserAvailability { options, addresses })
    }

    fn run(self, request: &Request<'_>) -> Result<GetUserAvailabilityResponse, Fault> {
        let options = &self.options;
        let free_busy = self
            .addresses
            .iter()
            .map(|address| {
                let user = request
                    .ctx
                    .directory
                    .user_by_address(address)
                    .ok_or_else(|| {
                        Error::new(
                            ResponseCode::ErrorMailRecipientNotFound,
                            format!("no mailbox has the address {address}"),
                        )
                    })?;
                let events = events(request, user, options)?;
                let view = if user.address.eq_ignore_ascii_case(&request.user.address) {
                    options.view
                } else {
                    options.view.without_details()
                };
                let mailbox = MailboxId::new(&user.address);
                Ok(FreeBusy {
                    view,
                    merged: view.merged().then(|| merged(options, events.as_deref())),
                    events: events.filter(|_| view.events()).unwrap_or_default(),
                    work_hours: WorkHours::of_mailbox(request.ctx.store, &mailbox)
                        .unwrap_or_else(WorkHours::standard),
                })
            })
            .collect();
        Ok(GetUserAvailabilityResponse {
            zone: self.options.zone,
            free_busy,
        })
    }

    fn write(response: &GetUserAvailabilityResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "GetUserAvailabilityResponse")
            .start(M, "FreeBusyResponseArray");
        for result in &response.free_busy {
            w.start(M, "FreeBusyResponse");
            match result {
                Ok(free_busy) => {
                    response_message(
                        w,
                        "ResponseMessage",
                        Ok::<_, Error>(|_: &mut Writer<'_>| {}),
                    );
                    write_view(w, request, &response.zone, free_busy);
                }
                Err(error) => {
                    response_message(w, "ResponseMessage", Err::<fn(&mut Writer<'_>), _>(error))
                }
            }
            w.end();
        }
        w.end().end();
    }
}

/// The address a `t:MailboxData` asks about, its other parts checked against the schema.
fn mailbox_address(data: &Element) -> Result<String, Fault> {
    if data.name() != "MailboxData" {
        return Err(Fault::schema(format!("{} is not MailboxData", data.name())));
    }
    if let Some(attendee) = child(data, "AttendeeType").map(Element::trimmed_text) {
        if !["Organizer", "Required", "Optional", "Room", "Resource"].contains(&attendee) {
            return Err(Fault::schema(format!(
                "AttendeeType {attendee:?} is not valid"
            )));
        }
    }
    child(data, "ExcludeConflicts")
        .map(|e| parse_bool(e.trimmed_text()))
        .transpose()?;
    child(data, "Email")
        .and_then(|e| child(e, "Address"))
        .map(Element::trimmed_text)
        .filter(|a| !a.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| Fault::schema("MailboxData needs Email/Address"))
}

/// The user's appointments overlapping the window, by start time; `None` when the user has no
/// mailbox yet (NoData).
fn events(
    request: &Request<'_>,
    user: &User,
    options: &Options,
) -> Result<Option<Vec<Event>>, Error> {
    let store = request.ctx.store;
    let mailbox = MailboxId::new(&user.address);
    let calendar = match store.distinguished_folder(&mailbox, DistinguishedFolder::Calendar) {
        Ok(folder) => folder,
        Err(umbox_store::Error::NotFound(umbox_store::Missing::Mailbox(_))) => return Ok(None),
        Err(error) => return Err(error.into()),
    };
    let names: Vec<NamedProperty> = Lid::ALL.iter().map(|lid| lid.name()).collect();
    let ids = store.named_property_ids(&mailbox, &names)?;
    let tag = |lid: Lid| {
        ids.get(lid as usize)
            .copied()
            .flatten()
            .map(|id| PropTag::new(id, lid.prop_type()))
    };
    let value = |props: &PropertyBag, lid: Lid| tag(lid).and_then(|t| props.get(t)).cloned();
    let mut events = Vec::new();
    for item in store.items(&mailbox, calendar)? {
        let props = &item.props;
        let class = props.unicode(tags::MESSAGE_CLASS).unwrap_or_default();
        if !(class == APPOINTMENT_CLASS
            || class
                .strip_prefix(APPOINTMENT_CLASS)
                .is_some_and(|rest| rest.starts_with('.')))
        {
            continue;
        }
        let when = |lid| match value(props, lid) {
            Some(PropValue::SystemTime(t)) => t.to_system_time().map(super::time_zones::seconds),
            _ => None,
        };
        let (Some(start), Some(end)) = (when(Lid::Start), when(Lid::End)) else {
            continue;
        };
        if end <= options.start || start >= options.end {
            continue;
        }
        let int = |lid| match value(props, lid) {
            Some(PropValue::Int32(v)) => Some(v),
            _ => None,
        };
        let flag = |lid| matches!(value(props, lid), Some(PropValue::Boolean(true)));
        let location = match value(props, Lid::Location) {
            Some(PropValue::Unicode(text)) => Some(text),
            _ => None,
        };
        events.push(Event {
            start,
            end,
            busy: BusyType::from_busy_status(int(Lid::BusyStatus)).for_version(request.version),
            is_meeting: int(Lid::StateFlags).is_some_and(|f| f & STATE_MEETING != 0),
            is_recurring: flag(Lid::Recurring),
            is_reminder_set: flag(Lid::ReminderSet),
            location,
            item,
        });
    }
    events.sort_by_key(|e| (e.start, e.end));
    Ok(Some(events))
}

/// `m:FreeBusyView` (MS-OXWSFB FreeBusyView), in schema order.
fn write_view(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    zone: &SerializableTimeZone,
    free_busy: &FreeBusy,
) {
    let view = free_busy.view;
    w.start(M, "FreeBusyView");
    w.leaf(T, "FreeBusyViewType", view.as_str());
    if let Some(merged) = &free_busy.merged {
        w.leaf(T, "MergedFreeBusy", merged);
    }
    if !free_busy.events.is_empty() {
        w.start(T, "CalendarEventArray");
        for event in &free_busy.events {
            w.start(T, "CalendarEvent");
            w.leaf(T, "StartTime", &format_local(zone.to_local(event.start)));
            w.leaf(T, "EndTime", &format_local(zone.to_local(event.end)));
            w.leaf(T, "BusyType", event.busy.as_str());
            if view.details() {
                write_details(w, request, event);
            }
            w.end();
        }
        w.end();
    }
    // Working hours are in the user's own zone when they name one, as Exchange answers.
    let hours = &free_busy.work_hours;
    w.start(T, "WorkingHours");
    hours.zone.as_ref().unwrap_or(zone).write(w);
    w.start(T, "WorkingPeriodArray").start(T, "WorkingPeriod");
    let days: Vec<&str> = hours.days.iter().map(|d| d.as_str()).collect();
    w.leaf(T, "DayOfWeek", &days.join(" "));
    w.leaf(T, "StartTimeInMinutes", &hours.start_minutes.to_string());
    w.leaf(T, "EndTimeInMinutes", &hours.end_minutes.to_string());
    w.end().end();
    w.end();
    w.end();
}

/// `t:CalendarEventDetails`; the ID is the item's HexEntryId, as ConvertId spells it.
fn write_details(w: &mut Writer<'_>, request: &Request<'_>, event: &Event) {
    let bool_text = |b: bool| if b { "true" } else { "false" };
    let props = &event.item.props;
    w.start(T, "CalendarEventDetails");
    let ews_id = request.ctx.ids.item(&request.mailbox, event.item.id);
    if let Some(id) = reformat(&ews_id, IdFormat::HexEntryId) {
        w.leaf(T, "ID", &id);
    }
    if let Some(subject) = props.unicode(tags::SUBJECT) {
        w.leaf(T, "Subject", subject);
    }
    if let Some(location) = &event.location {
        w.leaf(T, "Location", location);
    }
    w.leaf(T, "IsMeeting", bool_text(event.is_meeting));
    w.leaf(T, "IsRecurring", bool_text(event.is_recurring));
    w.leaf(T, "IsException", "false");
    w.leaf(T, "IsReminderSet", bool_text(event.is_reminder_set));
    w.leaf(
        T,
        "IsPrivate",
        bool_text(props.int32(SENSITIVITY) == Some(SENSITIVITY_PRIVATE)),
    );
    w.end();
}

/// One digit per interval from the window's start: the busiest status overlapping it.
fn merged(options: &Options, events: Option<&[Event]>) -> String {
    let step = options.interval_minutes * 60;
    let slots = (options.end - options.start + step - 1) / step;
    (0..slots)
        .map(|slot| {
            let Some(events) = events else {
                return BusyType::NoData.digit();
            };
            let from = options.start + slot * step;
            let to = from + step;
            events
                .iter()
                .filter(|e| e.start < to && e.end > from)
                .map(|e| e.busy)
                .max()
                .unwrap_or(BusyType::Free)
                .digit()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::{BusyType, GetUserAvailability, Options, View};
    use crate::codes::ResponseCode;
    use crate::fields::PSETID_APPOINTMENT;
    use crate::ops::testkit::{all, describe, one, text, Kit};
    use crate::ops::time_zones::SerializableTimeZone;
    use crate::ops::EwsOperation;
    use umbox_store::props::{property_sets, tags, FileTime, PropValue};
    use umbox_store::DistinguishedFolder;
    use umbox_xml::Element;

    const UTC: &str = "<t:TimeZone><t:Bias>0</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>1</t:DayOrder><t:Month>1</t:Month><t:DayOfWeek>Monday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>0</t:Bias><t:Time>00:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>12</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone>";
    const BERLIN: &str = "<t:TimeZone><t:Bias>-60</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>03:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>10</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>-60</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone>";

    fn appointment(kit: &Kit, subject: &str, start: &str, end: &str, busy: i32) {
        let at = |t: &str| {
            PropValue::SystemTime(FileTime::from_system_time(crate::time::parse(t).unwrap()))
        };
        kit.create_item(
            "alice@example.test",
            DistinguishedFolder::Calendar,
            vec![
                (
                    tags::MESSAGE_CLASS.into(),
                    PropValue::Unicode("IPM.Appointment".into()),
                ),
                (tags::SUBJECT.into(), PropValue::Unicode(subject.into())),
            ],
            &[
                (PSETID_APPOINTMENT, 0x820D, at(start)),
                (PSETID_APPOINTMENT, 0x820E, at(end)),
                (PSETID_APPOINTMENT, 0x8205, PropValue::Int32(busy)),
                (
                    PSETID_APPOINTMENT,
                    0x8208,
                    PropValue::Unicode("Room 1".into()),
                ),
                (property_sets::COMMON, 0x8503, PropValue::Boolean(true)),
            ],
        );
    }

    fn calendar(kit: &Kit) {
        appointment(
            kit,
            "Planning",
            "2026-11-24T10:00:00Z",
            "2026-11-24T11:00:00Z",
            2,
        );
        appointment(
            kit,
            "Lunch?",
            "2026-11-24T10:30:00Z",
            "2026-11-24T12:00:00Z",
            1,
        );
        appointment(
            kit,
            "Conference",
            "2026-11-25T09:00:00Z",
            "2026-11-25T17:00:00Z",
            3,
        );
        appointment(
            kit,
            "Last week",
            "2026-11-17T10:00:00Z",
            "2026-11-17T11:00:00Z",
            2,
        );
    }

    fn request(
        zone: &str,
        addresses: &[&str],
        start: &str,
        end: &str,
        interval: &str,
        view: &str,
    ) -> String {
        let mailboxes: String = addresses
            .iter()
            .map(|a| format!("<t:MailboxData><t:Email><t:Address>{a}</t:Address></t:Email><t:AttendeeType>Required</t:AttendeeType><t:ExcludeConflicts>false</t:ExcludeConflicts></t:MailboxData>"))
            .collect();
        format!(
            "<m:GetUserAvailabilityRequest>{zone}<m:MailboxDataArray>{mailboxes}</m:MailboxDataArray><t:FreeBusyViewOptions><t:TimeWindow><t:StartTime>{start}</t:StartTime><t:EndTime>{end}</t:EndTime></t:TimeWindow><t:MergedFreeBusyIntervalInMinutes>{interval}</t:MergedFreeBusyIntervalInMinutes><t:RequestedView>{view}</t:RequestedView></t:FreeBusyViewOptions></m:GetUserAvailabilityRequest>"
        )
    }

    fn responses(body: &Element) -> Vec<&Element> {
        all(
            body,
            &[
                "GetUserAvailabilityResponse",
                "FreeBusyResponseArray",
                "FreeBusyResponse",
            ],
        )
    }

    /// UTC seconds of a dateTime.
    fn utc(text: &str) -> i64 {
        crate::ops::time_zones::seconds(crate::time::parse(text).unwrap())
    }

    /// Each mailbox is answered on its own: an unknown address fails alone, the requester's own
    /// calendar is shown in detail and another's without.
    #[test]
    fn run_answers_each_mailbox_on_its_own() {
        let kit = Kit::new();
        calendar(&kit);
        let alice = kit.request("alice@example.test");
        let free_busy = GetUserAvailability {
            options: Options {
                zone: SerializableTimeZone::UTC,
                start: utc("2026-11-24T08:00:00Z"),
                end: utc("2026-11-24T14:00:00Z"),
                interval_minutes: 60,
                view: View::DetailedMerged,
            },
            addresses: [
                "alice@example.test",
                "carol@example.test",
                "bob@example.test",
            ]
            .map(str::to_owned)
            .to_vec(),
        }
        .run(&alice)
        .unwrap()
        .free_busy;

        let own = free_busy[0].as_ref().unwrap();
        assert_eq!(own.view, View::DetailedMerged);
        assert_eq!(own.merged.as_deref(), Some("002100"));
        let shown: Vec<_> = own
            .events
            .iter()
            .map(|e| (e.start, e.busy, e.item.props.unicode(tags::SUBJECT)))
            .collect();
        assert_eq!(
            shown,
            [
                (
                    utc("2026-11-24T10:00:00Z"),
                    BusyType::Busy,
                    Some("Planning")
                ),
                (
                    utc("2026-11-24T10:30:00Z"),
                    BusyType::Tentative,
                    Some("Lunch?")
                ),
            ]
        );
        assert!(own.events[0].is_reminder_set);
        assert_eq!(own.events[0].location.as_deref(), Some("Room 1"));

        let code = free_busy[1].as_ref().err().unwrap().response_code();
        assert_eq!(code, ResponseCode::ErrorMailRecipientNotFound);

        let other = free_busy[2].as_ref().unwrap();
        assert_eq!(other.view, View::FreeBusyMerged);
        assert_eq!(other.merged.as_deref(), Some("000000"));
        assert!(other.events.is_empty());
    }

    #[test]
    fn own_calendar_in_detail_others_free_busy_unknown_addresses_fail_alone() {
        let kit = Kit::new();
        calendar(&kit);
        let addresses = [
            "alice@example.test",
            "bob@example.test",
            "carol@example.test",
        ];
        let body = kit.call(&request(
            UTC,
            &addresses,
            "2026-11-24T08:00:00",
            "2026-11-24T14:00:00",
            "60",
            "DetailedMerged",
        ));
        let [alice, bob, carol] = responses(&body)[..] else {
            panic!("{}", describe(&body))
        };

        assert_eq!(text(alice, &["ResponseMessage", "ResponseCode"]), "NoError");
        let view = one(alice, &["FreeBusyView"]);
        let names: Vec<&str> = view.children().map(Element::name).collect();
        assert_eq!(
            names,
            [
                "FreeBusyViewType",
                "MergedFreeBusy",
                "CalendarEventArray",
                "WorkingHours"
            ]
        );
        assert_eq!(text(view, &["FreeBusyViewType"]), "DetailedMerged");
        assert_eq!(text(view, &["MergedFreeBusy"]), "002100");
        let events = all(view, &["CalendarEventArray", "CalendarEvent"]);
        assert_eq!(events.len(), 2);
        assert_eq!(text(events[0], &["StartTime"]), "2026-11-24T10:00:00");
        assert_eq!(text(events[0], &["EndTime"]), "2026-11-24T11:00:00");
        assert_eq!(text(events[0], &["BusyType"]), "Busy");
        assert_eq!(
            text(events[0], &["CalendarEventDetails", "Subject"]),
            "Planning"
        );
        assert_eq!(
            text(events[0], &["CalendarEventDetails", "Location"]),
            "Room 1"
        );
        assert_eq!(
            text(events[0], &["CalendarEventDetails", "IsReminderSet"]),
            "true"
        );
        assert!(text(events[0], &["CalendarEventDetails", "ID"])
            .chars()
            .all(|c| c.is_ascii_hexdigit()));
        assert_eq!(text(events[1], &["BusyType"]), "Tentative");
        let period = one(
            view,
            &["WorkingHours", "WorkingPeriodArray", "WorkingPeriod"],
        );
        assert_eq!(
            text(period, &["DayOfWeek"]),
            "Monday Tuesday Wednesday Thursday Friday"
        );
        assert_eq!(text(period, &["StartTimeInMinutes"]), "480");
        assert_eq!(text(period, &["EndTimeInMinutes"]), "1020");
        assert_eq!(text(view, &["WorkingHours", "TimeZone", "Bias"]), "0");

        assert_eq!(text(bob, &["FreeBusyView", "MergedFreeBusy"]), "000000");
        assert!(all(bob, &["FreeBusyView", "CalendarEventArray"]).is_empty());
        assert_eq!(
            text(carol, &["ResponseMessage", "ResponseCode"]),
            "ErrorMailRecipientNotFound"
        );
        assert_eq!(
            one(carol, &["ResponseMessage"]).attribute("", "ResponseClass"),
            Some("Error")
        );
        assert!(all(carol, &["FreeBusyView"]).is_empty());

        // Bob sees when alice is busy, not what she does.
        let (status, body) = kit.call_as(
            "bob@example.test",
            "Exchange2016",
            None,
            &request(
                UTC,
                &["alice@example.test"],
                "2026-11-24T00:00:00Z",
                "2026-11-26T00:00:00Z",
                "1440",
                "Detailed",
            ),
        );
        assert_eq!(status, 200);
        let view = one(responses(&body)[0], &["FreeBusyView"]);
        assert_eq!(text(view, &["FreeBusyViewType"]), "FreeBusy");
        assert!(all(view, &["MergedFreeBusy"]).is_empty());
        let events = all(view, &["CalendarEventArray", "CalendarEvent"]);
        assert_eq!(events.len(), 3);
        assert_eq!(text(events[2], &["BusyType"]), "OOF");
        assert!(events
            .iter()
            .all(|e| all(e, &["CalendarEventDetails"]).is_empty()));
    }

    #[test]
    fn times_are_wall_clock_in_the_requester_zone() {
        let kit = Kit::new();
        calendar(&kit);
        let body = kit.call(&request(
            BERLIN,
            &["alice@example.test"],
            "2026-11-24T09:00:00",
            "2026-11-24T15:00:00",
            "30",
            "FreeBusyMerged",
        ));
        let view = one(responses(&body)[0], &["FreeBusyView"]);
        assert_eq!(text(view, &["MergedFreeBusy"]), "000022110000");
        let events = all(view, &["CalendarEventArray", "CalendarEvent"]);
        assert_eq!(text(events[0], &["StartTime"]), "2026-11-24T11:00:00");
        assert_eq!(text(events[1], &["EndTime"]), "2026-11-24T13:00:00");
        assert_eq!(text(view, &["WorkingHours", "TimeZone", "Bias"]), "-60");
        assert_eq!(
            text(view, &["WorkingHours", "TimeZone", "DaylightTime", "Month"]),
            "3"
        );
    }

    #[test]
    fn bad_options_are_faults() {
        let kit = Kit::new();
        for (start, end, interval, view, code) in [
            (
                "2026-11-24T10:00:00",
                "2026-11-24T10:00:00",
                "30",
                "FreeBusy",
                "ErrorInvalidTimeInterval",
            ),
            (
                "2026-11-01T00:00:00",
                "2026-12-31T00:00:00",
                "30",
                "FreeBusy",
                "ErrorTimeIntervalTooBig",
            ),
            (
                "2026-11-24T00:00:00",
                "2026-11-25T00:00:00",
                "3",
                "FreeBusy",
                "ErrorInvalidMergedFreeBusyInterval",
            ),
            (
                "2026-11-24T00:00:00",
                "2026-11-25T00:00:00",
                "30",
                "None",
                "ErrorInvalidFreeBusyViewType",
            ),
            (
                "yesterday",
                "2026-11-25T00:00:00",
                "30",
                "FreeBusy",
                "ErrorSchemaValidation",
            ),
        ] {
            let (status, body) = kit.call_as(
                "alice@example.test",
                "Exchange2016",
                None,
                &request(UTC, &["alice@example.test"], start, end, interval, view),
            );
            assert_eq!(status, 500, "{code}");
            assert_eq!(text(&body, &["Fault", "detail", "ResponseCode"]), code);
        }
    }
}
