//! A user's working hours as Outlook keeps them and Exchange reads them: the XML data of the
//! `WorkHours` user configuration object in the Calendar folder (`WorkingHours.xsd`: a time zone,
//! one time slot, the working days). Outlook and EWS clients write it with
//! UpdateUserConfiguration, `umbox user working-hours` from the command line; GetUserAvailability
//! answers with it, and with 08:00–17:00 Monday to Friday in the requester's zone for a user
//! who has none.

use super::time_zones::{SerializableTimeZone, Weekday};
use std::time::SystemTime;
use umbox_store::user_config::{self, ConfigName, Parts};
use umbox_store::{DistinguishedFolder, MailStore, MailboxId};

use umbox_xml::{Element, Limits, Namespace, Writer};

/// The user configuration object's name.
pub(crate) const CONFIG_NAME: &str = "WorkHours";

/// The document's namespace (its schema's file name, as Outlook writes it).
const WORKING_HOURS: Namespace = Namespace::new("", "WorkingHours.xsd");

/// Minutes in a day: a slot ends at the latest at midnight.
const DAY_MINUTES: u32 = 24 * 60;

/// One user's working hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WorkHours {
    /// Working days, Sunday first.
    pub(crate) days: Vec<Weekday>,
    /// Start of the working day, minutes after local midnight.
    pub(crate) start_minutes: u32,
    /// End of the working day, minutes after local midnight.
    pub(crate) end_minutes: u32,
    /// The zone the hours are in; `None`: the requester's.
    pub(crate) zone: Option<SerializableTimeZone>,
}

impl WorkHours {
    /// What a user without working hours of their own gets: 08:00–17:00, Monday to Friday.
    pub(crate) fn standard() -> WorkHours {
        WorkHours {
            days: Weekday::ALL
                .get(1..6)
                .map(<[Weekday]>::to_vec)
                .unwrap_or_default(),
            start_minutes: 8 * 60,
            end_minutes: 17 * 60,
            zone: None,
        }
    }

    /// The working hours in `mailbox`'s Calendar folder, if it has a readable document.
    pub(crate) fn of_mailbox(store: &dyn MailStore, mailbox: &MailboxId) -> Option<WorkHours> {
        let calendar = store
            .distinguished_folder(mailbox, DistinguishedFolder::Calendar)
            .ok()?;
        let name = ConfigName::parse(CONFIG_NAME).ok()?;
        let item = user_config::find(store, mailbox, calendar, &name).ok()??;
        WorkHours::parse(&Parts::of(&item).xml?)
    }

    /// Reads a working-hours document; `None` when it is not one or its values are out of range.
    pub(crate) fn parse(xml: &[u8]) -> Option<WorkHours> {
        let root = umbox_xml::parse(xml, &Limits::DEFAULT).ok()?;
        let version = child(&root, "WorkHoursVersion1")?;
        let slot = child(version, "TimeSlot")?;
        let minutes = |name: &str| -> Option<u32> {
            let text = child(slot, name)?.trimmed_text();
            let mut parts = text.splitn(3, ':');
            let hours: u32 = parts.next()?.parse().ok()?;
            let minutes: u32 = parts.next()?.parse().ok()?;
            (hours < 24 && minutes < 60).then_some(hours * 60 + minutes)
        };
        let days = child(version, "WorkDays")?
            .trimmed_text()
            .split_whitespace()
            .map(|day| Weekday::ALL.into_iter().find(|d| d.as_str() == day))
            .collect::<Option<Vec<_>>>()?;
        let hours = WorkHours {
            days,
            start_minutes: minutes("Start")?,
            end_minutes: minutes("End")?,
            zone: child(version, "TimeZone").and_then(SerializableTimeZone::parse_work_hours),
        };
        (hours.start_minutes < hours.end_minutes).then_some(hours)
    }

    /// The document for these hours in the table's zone `zone_name` (as of `year`, for its
    /// daylight rules); `None` when the zone is not in the table.
    pub(crate) fn document(&self, zone_name: &str, year: u16) -> Option<Vec<u8>> {
        let zone = SerializableTimeZone::of_windows_zone(zone_name, year)?;
        let clock = |minutes: u32| format!("{:02}:{:02}:00", minutes / 60, minutes % 60);
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.start(WORKING_HOURS, "Root")
            .declare(WORKING_HOURS)
            .start(WORKING_HOURS, "WorkHoursVersion1");
        zone.write_work_hours(&mut w, WORKING_HOURS, zone_name);
        w.start(WORKING_HOURS, "TimeSlot")
            .leaf(WORKING_HOURS, "Start", &clock(self.start_minutes))
            .leaf(WORKING_HOURS, "End", &clock(self.end_minutes))
            .end();
        let days: Vec<&str> = self.days.iter().map(|d| d.as_str()).collect();
        w.leaf(WORKING_HOURS, "WorkDays", &days.join(" "));
        w.end().end();
        w.finish().ok()?;
        Some(out)
    }
}

/// Stores `document` (from [`document`]) as `mailbox`'s working hours, replacing any.
pub fn save(
    store: &dyn MailStore,
    mailbox: &MailboxId,
    document: Vec<u8>,
    now: SystemTime,
) -> Result<(), umbox_store::Error> {
    let calendar = store.distinguished_folder(mailbox, DistinguishedFolder::Calendar)?;
    let name = ConfigName::parse(CONFIG_NAME).map_err(|_| {
        umbox_store::Error::Corrupt(format!("{CONFIG_NAME} is no configuration name"))
    })?;
    let parts = Parts {
        xml: Some(document),
        ..Parts::default()
    };
    let change = match user_config::find(store, mailbox, calendar, &name)? {
        Some(item) => user_config::update(item.id, parts)?,
        None => user_config::create(calendar, &name, parts)?,
    };
    store.apply(mailbox, change, now)?;
    Ok(())
}

/// Why `umbox user working-hours` refuses its arguments, naming the option.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{option}: {reason}")]
pub struct WorkHoursError {
    /// The option at fault.
    pub option: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

/// The working-hours document for `days` (`Monday-Friday`, or names separated by commas),
/// `start` to `end` (`HH:MM`) in the Windows time zone `zone`, with that zone's daylight rules of
/// the year of `now`: what `umbox user working-hours` stores.
pub fn document(
    days: &str,
    start: &str,
    end: &str,
    zone: &str,
    now: SystemTime,
) -> Result<Vec<u8>, WorkHoursError> {
    let year = u16::try_from(crate::time::utc(now).year()).unwrap_or(u16::MAX);
    let refuse = |option: &'static str, reason: String| WorkHoursError { option, reason };
    let clock = |option: &'static str, text: &str| -> Result<u32, WorkHoursError> {
        let (hours, minutes) = text
            .split_once(':')
            .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)))
            .filter(|(h, m)| *h * 60 + *m <= DAY_MINUTES && *m < 60)
            .ok_or_else(|| refuse(option, format!("{text:?} is not a time of day (HH:MM)")))?;
        Ok(hours * 60 + minutes)
    };
    let hours = WorkHours {
        days: parse_days(days).ok_or_else(|| {
            refuse(
                "--days",
                format!("{days:?} is not a range (Monday-Friday) or a list of day names"),
            )
        })?,
        start_minutes: clock("--start", start)?,
        end_minutes: clock("--end", end)?,
        zone: None,
    };
    if hours.start_minutes >= hours.end_minutes {
        return Err(refuse("--end", format!("{end} is not after {start}")));
    }
    hours.document(zone, year).ok_or_else(|| {
        refuse(
            "--time-zone",
            format!("{zone:?} is not a Windows time zone id umbox knows"),
        )
    })
}

/// `Monday-Friday` (a range, wrapping past Saturday) or `Monday,Wednesday`, Sunday first.
fn parse_days(text: &str) -> Option<Vec<Weekday>> {
    let day = |name: &str| {
        Weekday::ALL
            .iter()
            .position(|d| d.as_str().eq_ignore_ascii_case(name.trim()))
    };
    let mut chosen = [false; 7];
    match text.split_once('-') {
        Some((first, last)) => {
            let (first, last) = (day(first)?, day(last)?);
            let mut at = first;
            loop {
                *chosen.get_mut(at)? = true;
                if at == last {
                    break;
                }
                at = (at + 1) % 7;
            }
        }
        None => {
            for name in text.split(',') {
                *chosen.get_mut(day(name)?)? = true;
            }
        }
    }
    Some(
        Weekday::ALL
            .into_iter()
            .zip(chosen)
            .filter_map(|(d, on)| on.then_some(d))
            .collect(),
    )
}

/// The child `name` of an element of the document, in its namespace (or in none: some writers
/// leave it out).
pub(super) fn child<'e>(parent: &'e Element, name: &str) -> Option<&'e Element> {
    parent
        .children()
        .find(|c| c.is(WORKING_HOURS.uri, name) || (c.namespace().is_empty() && c.name() == name))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A document as Outlook writes it (Pacific time, 09:00–17:30, Monday to Thursday).
    const OUTLOOK: &str = r#"<?xml version="1.0"?><Root xmlns="WorkingHours.xsd"><WorkHoursVersion1><TimeZone><Bias>480</Bias><Standard><Bias>0</Bias><ChangeDate><Time>02:00:00</Time><Date>0000/11/01</Date><DayOfWeek>0</DayOfWeek></ChangeDate></Standard><DaylightSavings><Bias>-60</Bias><ChangeDate><Time>02:00:00</Time><Date>0000/03/02</Date><DayOfWeek>0</DayOfWeek></ChangeDate></DaylightSavings><Name>Pacific Standard Time</Name></TimeZone><TimeSlot><Start>09:00:00</Start><End>17:30:00</End></TimeSlot><WorkDays>Monday Tuesday Wednesday Thursday</WorkDays></WorkHoursVersion1></Root>"#;

    fn june() -> SystemTime {
        crate::time::parse("2026-06-01T00:00:00Z").unwrap()
    }

    #[test]
    fn outlooks_document_is_read_with_its_zone() {
        let hours = WorkHours::parse(OUTLOOK.as_bytes()).unwrap();
        assert_eq!(hours.start_minutes, 9 * 60);
        assert_eq!(hours.end_minutes, 17 * 60 + 30);
        assert_eq!(
            hours.days,
            [
                Weekday::Monday,
                Weekday::Tuesday,
                Weekday::Wednesday,
                Weekday::Thursday
            ]
        );
        assert_eq!(
            hours.zone,
            SerializableTimeZone::of_windows_zone("Pacific Standard Time", 2026)
        );
    }

    #[test]
    fn the_command_lines_document_reads_back_as_given() {
        let xml = document(
            "monday-friday",
            "07:30",
            "16:00",
            "W. Europe Standard Time",
            june(),
        )
        .unwrap();
        let hours = WorkHours::parse(&xml).unwrap();
        assert_eq!(hours.days, WorkHours::standard().days);
        assert_eq!((hours.start_minutes, hours.end_minutes), (450, 960));
        assert_eq!(
            hours.zone,
            SerializableTimeZone::of_windows_zone("W. Europe Standard Time", 2026)
        );
        let weekend = document("Friday-Sunday", "10:00", "14:00", "UTC", june()).unwrap();
        assert_eq!(
            WorkHours::parse(&weekend).unwrap().days,
            [Weekday::Sunday, Weekday::Friday, Weekday::Saturday]
        );
    }

    #[test]
    fn bad_arguments_name_their_option_and_bad_documents_are_ignored() {
        let option =
            |days, start, end, zone| document(days, start, end, zone, june()).unwrap_err().option;
        assert_eq!(option("Mon-Fri", "09:00", "17:00", "UTC"), "--days");
        assert_eq!(option("Monday", "9h", "17:00", "UTC"), "--start");
        assert_eq!(option("Monday", "09:00", "24:30", "UTC"), "--end");
        assert_eq!(option("Monday", "17:00", "09:00", "UTC"), "--end");
        assert_eq!(
            option("Monday", "09:00", "17:00", "Mars Time"),
            "--time-zone"
        );
        for bad in [
            "",
            "<Root xmlns=\"WorkingHours.xsd\"/>",
            &OUTLOOK.replace("09:00:00", "25:00:00"),
            &OUTLOOK.replace("Thursday<", "Caturday<"),
            &OUTLOOK.replace("17:30:00", "08:00:00"),
        ] {
            assert_eq!(WorkHours::parse(bad.as_bytes()), None, "{bad}");
        }
    }
}
