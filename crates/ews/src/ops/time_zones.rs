//! Time zones: GetServerTimeZones (MS-OXWSGTZ) over one table of Windows time zones, and the
//! availability service's `TimeZone` (MS-OXWSFB SerializableTimeZone: a bias with one standard and
//! one daylight rule) that turns request wall-clock times into instants and back.
//!
//! The table is data: each zone is its Windows id, display name, standard bias and the daylight
//! saving rules in force from a year on. It is never consulted to interpret times a client sends;
//! clients describe their own zone in each request. Never touches the store.

use super::EwsOperation;
use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::parse_bool;
use crate::soap::{M, T};
use crate::{child, response_message, time, Request};
use umbox_base::version::ExchangeVersion;
use umbox_xml::{Element, Namespace, Writer};

/// A day of the week (MS-OXWSCDATA DayOfWeekType, the single days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Weekday {
    /// Sunday.
    Sunday,
    /// Monday.
    Monday,
    /// Tuesday.
    Tuesday,
    /// Wednesday.
    Wednesday,
    /// Thursday.
    Thursday,
    /// Friday.
    Friday,
    /// Saturday.
    Saturday,
}

impl Weekday {
    /// Sunday first, as Windows counts.
    pub(crate) const ALL: [Weekday; 7] = [
        Weekday::Sunday,
        Weekday::Monday,
        Weekday::Tuesday,
        Weekday::Wednesday,
        Weekday::Thursday,
        Weekday::Friday,
        Weekday::Saturday,
    ];

    /// The name on the wire.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Weekday::Sunday => "Sunday",
            Weekday::Monday => "Monday",
            Weekday::Tuesday => "Tuesday",
            Weekday::Wednesday => "Wednesday",
            Weekday::Thursday => "Thursday",
            Weekday::Friday => "Friday",
            Weekday::Saturday => "Saturday",
        }
    }

    fn parse(text: &str) -> Option<Weekday> {
        Weekday::ALL.into_iter().find(|d| d.as_str() == text)
    }

    /// Days after Sunday.
    fn index(self) -> i64 {
        Weekday::ALL
            .iter()
            .position(|d| *d == self)
            .map_or(0, |i| i as i64)
    }
}

/// Which occurrence of a weekday in its month a rule picks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Occurrence {
    /// The first.
    First,
    /// The second.
    Second,
    /// The third.
    Third,
    /// The fourth.
    Fourth,
    /// The last (Windows writes -1 in zone definitions and 5 in SerializableTimeZone).
    Last,
}

impl Occurrence {
    /// `Occurrence` of a RecurringDayTransition (MS-OXWSGTZ): 1–4, or -1 for the last.
    fn transition_number(self) -> &'static str {
        match self {
            Occurrence::First => "1",
            Occurrence::Second => "2",
            Occurrence::Third => "3",
            Occurrence::Fourth => "4",
            Occurrence::Last => "-1",
        }
    }

    /// `DayOrder` of SerializableTimeZoneTime: 1–5, 5 meaning the last; -1 is read as the last too,
    /// as some clients copy it from zone definitions.
    fn from_day_order(text: &str) -> Option<Occurrence> {
        Some(match text {
            "1" => Occurrence::First,
            "2" => Occurrence::Second,
            "3" => Occurrence::Third,
            "4" => Occurrence::Fourth,
            "5" | "-1" => Occurrence::Last,
            _ => return None,
        })
    }

    fn day_order(self) -> &'static str {
        match self {
            Occurrence::First => "1",
            Occurrence::Second => "2",
            Occurrence::Third => "3",
            Occurrence::Fourth => "4",
            Occurrence::Last => "5",
        }
    }
}

/// A yearly moment: the `occurrence`th `weekday` of `month`, `minutes` after local midnight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct YearlyRule {
    month: u8,
    occurrence: Occurrence,
    weekday: Weekday,
    minutes: u16,
}

const fn sunday(month: u8, occurrence: Occurrence, hour: u16) -> YearlyRule {
    YearlyRule {
        month,
        occurrence,
        weekday: Weekday::Sunday,
        minutes: hour * 60,
    }
}

/// The clock rules of a zone from `from_year` on (0: since always). Daylight time is always one
/// hour ahead of standard time in the zones listed.
#[derive(Debug, Clone, Copy)]
struct Rules {
    from_year: u16,
    /// When daylight time starts (on the standard clock) and ends (on the daylight clock).
    daylight: Option<(YearlyRule, YearlyRule)>,
}

/// A Windows time zone.
#[derive(Debug, Clone, Copy)]
struct Zone {
    id: &'static str,
    name: &'static str,
    /// Minutes to add to local standard time to get UTC (Windows Bias: 480 for Pacific).
    bias: i32,
    /// Oldest first.
    rules: &'static [Rules],
}

use Occurrence::{First, Last, Second, Third};

const fn rules(from_year: u16, start: YearlyRule, end: YearlyRule) -> Rules {
    Rules {
        from_year,
        daylight: Some((start, end)),
    }
}

const fn zone(id: &'static str, name: &'static str, bias: i32, rules: &'static [Rules]) -> Zone {
    Zone {
        id,
        name,
        bias,
        rules,
    }
}

const NONE: &[Rules] = &[Rules {
    from_year: 0,
    daylight: None,
}];
/// The EU rule (last Sunday of March to last Sunday of October, at 01:00 UTC), on clocks at UTC+0.
const EU_0: &[Rules] = &[rules(0, sunday(3, Last, 1), sunday(10, Last, 2))];
/// The EU rule on clocks at UTC+1.
const EU_1: &[Rules] = &[rules(0, sunday(3, Last, 2), sunday(10, Last, 3))];
/// The EU rule on clocks at UTC+2.
const EU_2: &[Rules] = &[rules(0, sunday(3, Last, 3), sunday(10, Last, 4))];
/// United States and Canada, before and after the Energy Policy Act of 2005 took effect in 2007.
const NORTH_AMERICA: &[Rules] = &[
    rules(0, sunday(4, First, 2), sunday(10, Last, 2)),
    rules(2007, sunday(3, Second, 2), sunday(11, First, 2)),
];
/// New South Wales, Victoria and the ACT, before and after the 2008 change.
const SOUTH_EAST_AUSTRALIA: &[Rules] = &[
    rules(0, sunday(10, Last, 2), sunday(3, Last, 3)),
    rules(2008, sunday(10, First, 2), sunday(4, First, 3)),
];
/// New Zealand, before and after the 2007 change.
const NEW_ZEALAND: &[Rules] = &[
    rules(0, sunday(10, First, 2), sunday(3, Third, 3)),
    rules(2007, sunday(9, Last, 2), sunday(4, First, 3)),
];

/// The zones umbox knows, by Windows id, west to east: id, display name, bias, rules.
#[rustfmt::skip]
const ZONES: &[Zone] = &[
    zone("Hawaiian Standard Time", "(UTC-10:00) Hawaii", 600, NONE),
    zone("Alaskan Standard Time", "(UTC-09:00) Alaska", 540, NORTH_AMERICA),
    zone("Pacific Standard Time", "(UTC-08:00) Pacific Time (US & Canada)", 480, NORTH_AMERICA),
    zone("US Mountain Standard Time", "(UTC-07:00) Arizona", 420, NONE),
    zone("Mountain Standard Time", "(UTC-07:00) Mountain Time (US & Canada)", 420, NORTH_AMERICA),
    zone("Central Standard Time", "(UTC-06:00) Central Time (US & Canada)", 360, NORTH_AMERICA),
    zone("Eastern Standard Time", "(UTC-05:00) Eastern Time (US & Canada)", 300, NORTH_AMERICA),
    zone("SA Pacific Standard Time", "(UTC-05:00) Bogota, Lima, Quito, Rio Branco", 300, NONE),
    zone("Atlantic Standard Time", "(UTC-04:00) Atlantic Time (Canada)", 240, NORTH_AMERICA),
    zone("E. South America Standard Time", "(UTC-03:00) Brasilia", 180, NONE),
    zone("UTC", "(UTC) Coordinated Universal Time", 0, NONE),
    zone("GMT Standard Time", "(UTC+00:00) Dublin, Edinburgh, Lisbon, London", 0, EU_0),
    zone("Greenwich Standard Time", "(UTC+00:00) Monrovia, Reykjavik", 0, NONE),
    zone("W. Europe Standard Time", "(UTC+01:00) Amsterdam, Berlin, Bern, Rome, Stockholm, Vienna", -60, EU_1),
    zone("Central Europe Standard Time", "(UTC+01:00) Belgrade, Bratislava, Budapest, Ljubljana, Prague", -60, EU_1),
    zone("Romance Standard Time", "(UTC+01:00) Brussels, Copenhagen, Madrid, Paris", -60, EU_1),
    zone("Central European Standard Time", "(UTC+01:00) Sarajevo, Skopje, Warsaw, Zagreb", -60, EU_1),
    zone("GTB Standard Time", "(UTC+02:00) Athens, Bucharest", -120, EU_2),
    zone("FLE Standard Time", "(UTC+02:00) Helsinki, Kyiv, Riga, Sofia, Tallinn, Vilnius", -120, EU_2),
    zone("South Africa Standard Time", "(UTC+02:00) Harare, Pretoria", -120, NONE),
    zone("Russian Standard Time", "(UTC+03:00) Moscow, St. Petersburg", -180, NONE),
    zone("Arabian Standard Time", "(UTC+04:00) Abu Dhabi, Muscat", -240, NONE),
    zone("India Standard Time", "(UTC+05:30) Chennai, Kolkata, Mumbai, New Delhi", -330, NONE),
    zone("China Standard Time", "(UTC+08:00) Beijing, Chongqing, Hong Kong, Urumqi", -480, NONE),
    zone("Singapore Standard Time", "(UTC+08:00) Kuala Lumpur, Singapore", -480, NONE),
    zone("Tokyo Standard Time", "(UTC+09:00) Osaka, Sapporo, Tokyo", -540, NONE),
    zone("AUS Eastern Standard Time", "(UTC+10:00) Canberra, Melbourne, Sydney", -600, SOUTH_EAST_AUSTRALIA),
    zone("New Zealand Standard Time", "(UTC+12:00) Auckland, Wellington", -720, NEW_ZEALAND),
];

/// Daylight time runs this many minutes ahead of standard time in every listed zone.
const DAYLIGHT_SAVING: i32 = 60;

/// GetServerTimeZones (Exchange2010 and later): every zone, or those named in `Ids` in request
/// order; full definitions unless `ReturnFullTimeZoneData` is false.
#[derive(Debug)]
pub(crate) struct GetServerTimeZones {
    /// Whether each zone is written with its periods and transitions, or only its id and name.
    pub(crate) full: bool,
    /// The Windows ids asked for; `None` asks for every zone.
    pub(crate) ids: Option<Vec<String>>,
}

/// The zones asked for, or why not: the answer is one response message, so one unknown id fails
/// it whole.
pub(crate) struct GetServerTimeZonesResponse {
    full: bool,
    zones: Result<Vec<&'static Zone>, Error>,
}

impl EwsOperation for GetServerTimeZones {
    type Response = GetServerTimeZonesResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        if request.version < ExchangeVersion::Exchange2010 {
            return Err(Fault::new(
                ResponseCode::ErrorInvalidServerVersion,
                "GetServerTimeZones is part of the Exchange2010 schema and later",
            ));
        }
        let full = op
            .attribute("", "ReturnFullTimeZoneData")
            .map(parse_bool)
            .transpose()?
            .unwrap_or(true);
        let ids = child(op, "Ids").map(|ids| {
            ids.children()
                .map(|id| id.trimmed_text().to_owned())
                .collect()
        });
        Ok(GetServerTimeZones { full, ids })
    }

    fn run(self, _: &Request<'_>) -> Result<GetServerTimeZonesResponse, Fault> {
        let zones = match self.ids {
            None => Ok(ZONES.iter().collect()),
            Some(ids) => ids
                .iter()
                .map(|id| {
                    ZONES.iter().find(|z| z.id == id).ok_or_else(|| {
                        Error::new(
                            ResponseCode::ErrorTimeZone,
                            format!("no time zone has the id {id:?}"),
                        )
                    })
                })
                .collect(),
        };
        Ok(GetServerTimeZonesResponse {
            full: self.full,
            zones,
        })
    }

    fn write(response: &GetServerTimeZonesResponse, _: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "GetServerTimeZonesResponse")
            .start(M, "ResponseMessages");
        let payload = response.zones.as_ref().map(|zones| {
            move |w: &mut Writer<'_>| {
                w.start(M, "TimeZoneDefinitions");
                for zone in zones {
                    write_definition(w, zone, response.full);
                }
                w.end();
            }
        });
        response_message(w, "GetServerTimeZonesResponseMessage", payload);
        w.end().end();
    }
}

/// `t:TimeZoneDefinition` (MS-OXWSGTZ TimeZoneDefinitionType): one standard period, one daylight
/// period per rule set that has daylight time, a transitions group per rule set, and the
/// transitions that switch groups at the start of each rule set's first year.
fn write_definition(w: &mut Writer<'_>, zone: &Zone, full: bool) {
    w.start(T, "TimeZoneDefinition")
        .attribute("Id", zone.id)
        .attribute("Name", zone.name);
    if !full {
        w.end();
        return;
    }
    w.start(T, "Periods");
    w.start(T, "Period")
        .attribute("Bias", &duration(zone.bias))
        .attribute("Name", "Standard")
        .attribute("Id", "Std")
        .end();
    for (group, rules) in zone.rules.iter().enumerate() {
        if rules.daylight.is_some() {
            w.start(T, "Period")
                .attribute("Bias", &duration(zone.bias - DAYLIGHT_SAVING))
                .attribute("Name", "Daylight")
                .attribute("Id", &daylight_period(group))
                .end();
        }
    }
    w.end();
    w.start(T, "TransitionsGroups");
    for (group, rules) in zone.rules.iter().enumerate() {
        w.start(T, "TransitionsGroup")
            .attribute("Id", &group.to_string());
        match rules.daylight {
            None => {
                w.start(T, "Transition");
                w.start(T, "To")
                    .attribute("Kind", "Period")
                    .text("Std")
                    .end();
                w.end();
            }
            Some((start, end)) => {
                let mut transitions = [(start, daylight_period(group)), (end, "Std".to_owned())];
                transitions.sort_by_key(|(rule, _)| rule.month);
                for (rule, period) in transitions {
                    w.start(T, "RecurringDayTransition");
                    w.start(T, "To")
                        .attribute("Kind", "Period")
                        .text(&period)
                        .end();
                    w.leaf(T, "TimeOffset", &duration(i32::from(rule.minutes)));
                    w.leaf(T, "Month", &rule.month.to_string());
                    w.leaf(T, "DayOfWeek", rule.weekday.as_str());
                    w.leaf(T, "Occurrence", rule.occurrence.transition_number());
                    w.end();
                }
            }
        }
        w.end();
    }
    w.end();
    w.start(T, "Transitions");
    for (group, rules) in zone.rules.iter().enumerate() {
        if group == 0 {
            w.start(T, "Transition");
        } else {
            w.start(T, "AbsoluteDateTransition");
        }
        w.start(T, "To")
            .attribute("Kind", "Group")
            .text(&group.to_string())
            .end();
        if group > 0 {
            w.leaf(
                T,
                "DateTime",
                &format!("{:04}-01-01T00:00:00", rules.from_year),
            );
        }
        w.end();
    }
    w.end();
    w.end();
}

fn daylight_period(group: usize) -> String {
    format!("Dlt/{group}")
}

/// Minutes as xs:duration: `PT8H`, `-PT5H30M`, `PT0M`.
fn duration(minutes: i32) -> String {
    let sign = if minutes < 0 { "-" } else { "" };
    let magnitude = minutes.unsigned_abs();
    let (hours, rest) = (magnitude / 60, magnitude % 60);
    match (hours, rest) {
        (0, rest) => format!("{sign}PT{rest}M"),
        (hours, 0) => format!("{sign}PT{hours}H"),
        (hours, rest) => format!("{sign}PT{hours}H{rest}M"),
    }
}

/// One of the two rules of a [`SerializableTimeZone`] (MS-OXWSFB SerializableTimeZoneTime).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ZoneTime {
    /// Minutes added to the zone's bias while this period is in force.
    bias: i32,
    /// Seconds after local midnight of the change.
    seconds: u32,
    occurrence: Occurrence,
    /// 1–12; 0 means the zone never changes to this period.
    month: u8,
    weekday: Weekday,
    /// When given, the change happens on that year only, on day `occurrence` … of the month
    /// (Windows TIME_ZONE_INFORMATION absolute form); umbox reads it as "only that year".
    year: Option<i64>,
}

/// A request's `t:TimeZone`: how the client's wall clock relates to UTC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SerializableTimeZone {
    /// Minutes to add to local time to get UTC, before the period's own bias.
    bias: i32,
    standard: ZoneTime,
    daylight: ZoneTime,
}

impl SerializableTimeZone {
    /// UTC with no daylight saving, for requests that describe no zone.
    pub(crate) const UTC: SerializableTimeZone = SerializableTimeZone {
        bias: 0,
        standard: ZoneTime {
            bias: 0,
            seconds: 0,
            occurrence: Occurrence::First,
            month: 0,
            weekday: Weekday::Sunday,
            year: None,
        },
        daylight: ZoneTime {
            bias: 0,
            seconds: 0,
            occurrence: Occurrence::First,
            month: 0,
            weekday: Weekday::Sunday,
            year: None,
        },
    };

    /// Reads `t:TimeZone` (Bias, StandardTime, DaylightTime).
    pub(crate) fn parse(zone: &Element) -> Result<SerializableTimeZone, Fault> {
        let bias = parse_bias(zone)?;
        let time = |name: &str| -> Result<ZoneTime, Fault> {
            let element =
                child(zone, name).ok_or_else(|| Fault::schema(format!("TimeZone needs {name}")))?;
            let clock = text(element, "Time")?;
            let seconds = parse_clock(clock)
                .ok_or_else(|| Fault::schema(format!("{name} Time {clock:?} is not hh:mm:ss")))?;
            let order = text(element, "DayOrder")?;
            let occurrence = Occurrence::from_day_order(order).ok_or_else(|| {
                Fault::schema(format!("{name} DayOrder {order:?} must be 1 to 5"))
            })?;
            let month = u8::try_from(number(element, "Month")?)
                .ok()
                .filter(|m| *m <= 12)
                .ok_or_else(|| Fault::schema(format!("{name} Month must be 0 to 12")))?;
            let day = text(element, "DayOfWeek")?;
            let weekday = Weekday::parse(day)
                .ok_or_else(|| Fault::schema(format!("{name} DayOfWeek {day:?} is not a day")))?;
            let year = match child(element, "Year") {
                Some(year) => Some(year.trimmed_text().parse::<i64>().map_err(|_| {
                    Fault::schema(format!(
                        "{name} Year {:?} is not a year",
                        year.trimmed_text()
                    ))
                })?),
                None => None,
            };
            Ok(ZoneTime {
                bias: parse_bias(element)?,
                seconds,
                occurrence,
                month,
                weekday,
                year,
            })
        };
        Ok(SerializableTimeZone {
            bias,
            standard: time("StandardTime")?,
            daylight: time("DaylightTime")?,
        })
    }

    /// The zone `id` of the table as a client describes it for `year` (as exchangelib's
    /// `TimeZone.from_server_timezone` does): its bias and the daylight rules in force that year.
    pub(crate) fn of_windows_zone(id: &str, year: u16) -> Option<SerializableTimeZone> {
        let zone = ZONES.iter().find(|z| z.id == id)?;
        let rules = zone.rules.iter().rev().find(|r| r.from_year <= year)?;
        let to_time = |rule: YearlyRule, bias: i32| ZoneTime {
            bias,
            seconds: u32::from(rule.minutes) * 60,
            occurrence: rule.occurrence,
            month: rule.month,
            weekday: rule.weekday,
            year: None,
        };
        Some(match rules.daylight {
            None => SerializableTimeZone {
                bias: zone.bias,
                ..SerializableTimeZone::UTC
            },
            Some((start, end)) => SerializableTimeZone {
                bias: zone.bias,
                standard: to_time(end, 0),
                daylight: to_time(start, -DAYLIGHT_SAVING),
            },
        })
    }

    /// Reads the `TimeZone` of Outlook's working-hours document (`WorkingHours.xsd`: Bias, then
    /// Standard and DaylightSavings, each a Bias and a ChangeDate of Time, Date `YYYY/MM/DD` where
    /// year 0 means every year and the day is the weekday's occurrence, and DayOfWeek 0–6 from
    /// Sunday). `None` when any part is missing or out of range.
    pub(crate) fn parse_work_hours(zone: &Element) -> Option<SerializableTimeZone> {
        use super::work_hours::child;
        let bias = |element: &Element| -> Option<i32> {
            let bias: i32 = child(element, "Bias")?.trimmed_text().parse().ok()?;
            (bias.abs() <= 24 * 60).then_some(bias)
        };
        let time = |name: &str| -> Option<ZoneTime> {
            let element = child(zone, name)?;
            let change = child(element, "ChangeDate")?;
            let seconds = parse_clock(child(change, "Time")?.trimmed_text())?;
            let mut date = child(change, "Date")?.trimmed_text().splitn(3, '/');
            let year: i64 = date.next()?.parse().ok()?;
            let month: u8 = date.next()?.parse().ok().filter(|m| *m <= 12)?;
            let occurrence = Occurrence::from_day_order(date.next()?.trim_start_matches('0')).or(
                if month == 0 {
                    Some(Occurrence::First)
                } else {
                    None
                },
            )?;
            let day: usize = child(change, "DayOfWeek")?.trimmed_text().parse().ok()?;
            Some(ZoneTime {
                bias: bias(element)?,
                seconds,
                occurrence,
                month,
                weekday: *Weekday::ALL.get(day)?,
                year: (year != 0).then_some(year),
            })
        };
        Some(SerializableTimeZone {
            bias: bias(zone)?,
            standard: time("Standard")?,
            daylight: time("DaylightSavings")?,
        })
    }

    /// Writes the zone as the `TimeZone` of Outlook's working-hours document, named `name`.
    pub(crate) fn write_work_hours(&self, w: &mut Writer<'_>, namespace: Namespace, name: &str) {
        w.start(namespace, "TimeZone");
        w.leaf(namespace, "Bias", &self.bias.to_string());
        for (element, time) in [
            ("Standard", &self.standard),
            ("DaylightSavings", &self.daylight),
        ] {
            let s = time.seconds;
            let day = match time.occurrence {
                Occurrence::First => 1,
                Occurrence::Second => 2,
                Occurrence::Third => 3,
                Occurrence::Fourth => 4,
                Occurrence::Last => 5,
            };
            w.start(namespace, element);
            w.leaf(namespace, "Bias", &time.bias.to_string());
            w.start(namespace, "ChangeDate");
            w.leaf(
                namespace,
                "Time",
                &format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60),
            );
            w.leaf(
                namespace,
                "Date",
                &format!("{:04}/{:02}/{:02}", time.year.unwrap_or(0), time.month, day),
            );
            w.leaf(namespace, "DayOfWeek", &time.weekday.index().to_string());
            w.end().end();
        }
        w.leaf(namespace, "Name", name);
        w.end();
    }

    /// Writes the zone back as `t:TimeZone` (WorkingHours carries one).
    pub(crate) fn write(&self, w: &mut Writer<'_>) {
        w.start(T, "TimeZone");
        w.leaf(T, "Bias", &self.bias.to_string());
        for (name, time) in [
            ("StandardTime", &self.standard),
            ("DaylightTime", &self.daylight),
        ] {
            w.start(T, name);
            w.leaf(T, "Bias", &time.bias.to_string());
            let s = time.seconds;
            w.leaf(
                T,
                "Time",
                &format!("{:02}:{:02}:{:02}", s / 3600, s % 3600 / 60, s % 60),
            );
            w.leaf(T, "DayOrder", time.occurrence.day_order());
            w.leaf(T, "Month", &time.month.to_string());
            w.leaf(T, "DayOfWeek", time.weekday.as_str());
            if let Some(year) = time.year {
                w.leaf(T, "Year", &year.to_string());
            }
            w.end();
        }
        w.end();
    }

    /// Local wall-clock seconds (counted like Unix time) of the UTC instant `utc`.
    pub(crate) fn to_local(&self, utc: i64) -> i64 {
        let bias = if self.is_daylight(utc) {
            self.bias + self.daylight.bias
        } else {
            self.bias + self.standard.bias
        };
        utc - i64::from(bias) * 60
    }

    /// The UTC instant of local wall-clock seconds `local`. A time skipped by the spring change is
    /// read on the standard clock; a repeated autumn hour is read as its daylight occurrence.
    pub(crate) fn to_utc(&self, local: i64) -> i64 {
        let daylight = local + i64::from(self.bias + self.daylight.bias) * 60;
        if self.is_daylight(daylight) {
            daylight
        } else {
            local + i64::from(self.bias + self.standard.bias) * 60
        }
    }

    /// Whether daylight time is in force at the UTC instant `utc`.
    fn is_daylight(&self, utc: i64) -> bool {
        if self.standard.month == 0 || self.daylight.month == 0 {
            return false;
        }
        let standard_bias = i64::from(self.bias + self.standard.bias) * 60;
        let daylight_bias = i64::from(self.bias + self.daylight.bias) * 60;
        let Some(year) = year_of(utc - standard_bias) else {
            return false;
        };
        // Daylight starts on the standard clock and ends on the daylight clock.
        let (Some(starts), Some(ends)) =
            (change(&self.daylight, year), change(&self.standard, year))
        else {
            return false;
        };
        let (starts, ends) = (starts + standard_bias, ends + daylight_bias);
        if starts < ends {
            starts <= utc && utc < ends
        } else {
            // Southern hemisphere: daylight time spans the new year.
            utc < ends || starts <= utc
        }
    }
}

/// Local seconds of `time`'s change in `year`, if it happens that year.
fn change(time: &ZoneTime, year: i64) -> Option<i64> {
    let day = match time.year {
        Some(only) if only != year => return None,
        Some(_) => month_start(year, time.month)? / 86_400 + day_number(time.occurrence) - 1,
        None => weekday_in_month(year, time.month, time.occurrence, time.weekday)?,
    };
    Some(day * 86_400 + i64::from(time.seconds))
}

fn day_number(occurrence: Occurrence) -> i64 {
    match occurrence {
        Occurrence::First => 1,
        Occurrence::Second => 2,
        Occurrence::Third => 3,
        Occurrence::Fourth => 4,
        Occurrence::Last => 5,
    }
}

/// Days since 1970-01-01 of the `occurrence`th `weekday` of `month` in `year`.
fn weekday_in_month(year: i64, month: u8, occurrence: Occurrence, weekday: Weekday) -> Option<i64> {
    let first = month_start(year, month)? / 86_400;
    let next = if month == 12 {
        month_start(year + 1, 1)?
    } else {
        month_start(year, month + 1)?
    } / 86_400;
    // 1970-01-01 was a Thursday, four days after a Sunday.
    let first_weekday = (first + 4).rem_euclid(7);
    let first_match = first + (weekday.index() - first_weekday).rem_euclid(7);
    let nth = first_match + 7 * (day_number(occurrence) - 1);
    Some(if nth >= next { nth - 7 } else { nth })
}

/// Seconds since the epoch of the first of `month` in `year`, 00:00 UTC.
fn month_start(year: i64, month: u8) -> Option<i64> {
    time::parse(&format!("{year:04}-{month:02}-01T00:00:00Z")).map(seconds)
}

/// The calendar year of Unix seconds `secs`.
fn year_of(secs: i64) -> Option<i64> {
    time::format(instant(secs)).get(..4)?.parse().ok()
}

/// Unix seconds of a `SystemTime`.
pub(crate) fn seconds(time: std::time::SystemTime) -> i64 {
    match time.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// The `SystemTime` of Unix seconds `secs`.
pub(crate) fn instant(secs: i64) -> std::time::SystemTime {
    let magnitude = std::time::Duration::from_secs(secs.unsigned_abs());
    let epoch = std::time::UNIX_EPOCH;
    let shifted = if secs >= 0 {
        epoch.checked_add(magnitude)
    } else {
        epoch.checked_sub(magnitude)
    };
    shifted.unwrap_or(epoch)
}

/// Local wall-clock seconds as xs:dateTime without a zone (`2026-11-23T09:00:00`), the form the
/// availability service uses for times in the requester's zone.
pub(crate) fn format_local(local: i64) -> String {
    let text = time::format(instant(local));
    text.strip_suffix('Z').map(str::to_owned).unwrap_or(text)
}

/// Reads an xs:dateTime: with a zone it names an instant; without one it is wall-clock time in
/// `zone`. Returns Unix seconds (UTC).
pub(crate) fn parse_in_zone(text: &str, zone: &SerializableTimeZone) -> Option<i64> {
    let text = text.trim();
    let clock = text.split_once('T')?.1;
    let has_zone = clock.ends_with('Z') || clock.contains(['+', '-']);
    let instant = seconds(time::parse(text)?);
    Some(if has_zone {
        instant
    } else {
        zone.to_utc(instant)
    })
}

fn parse_clock(text: &str) -> Option<u32> {
    let mut parts = text.splitn(3, ':');
    let hours: u32 = parts.next()?.parse().ok()?;
    let minutes: u32 = parts.next()?.parse().ok()?;
    let seconds: u32 = parts
        .next()
        .map_or(Some(0), |s| s.split('.').next()?.parse().ok())?;
    (hours < 24 && minutes < 60 && seconds < 60).then_some(hours * 3600 + minutes * 60 + seconds)
}

fn text<'e>(parent: &'e Element, name: &str) -> Result<&'e str, Fault> {
    child(parent, name)
        .map(Element::trimmed_text)
        .ok_or_else(|| Fault::schema(format!("{} needs {name}", parent.name())))
}

/// A `Bias` in minutes; no clock is more than a day away from UTC, and the bound keeps the sums of
/// biases far from overflowing.
fn parse_bias(parent: &Element) -> Result<i32, Fault> {
    let bias = number(parent, "Bias")?;
    if bias.abs() > 24 * 60 {
        return Err(Fault::schema(format!(
            "{} Bias {bias} is more than a day",
            parent.name()
        )));
    }
    Ok(bias)
}

fn number(parent: &Element, name: &str) -> Result<i32, Fault> {
    let value = text(parent, name)?;
    value.parse().map_err(|_| {
        Fault::schema(format!(
            "{} {name} {value:?} is not a number",
            parent.name()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testkit::Kit;
    use umbox_xml::ns;

    fn element(xml: &str) -> Element {
        let doc = format!("<r xmlns:t=\"{}\">{xml}</r>", ns::EWS_TYPES);
        umbox_xml::parse(doc.as_bytes(), &umbox_xml::Limits::DEFAULT)
            .unwrap()
            .children()
            .next()
            .unwrap()
            .clone()
    }

    fn at(text: &str) -> i64 {
        seconds(time::parse(text).unwrap())
    }

    /// Ids are looked up in request order; one unknown id fails the one response message.
    #[test]
    fn run_lists_every_zone_or_the_named_ones() {
        let kit = Kit::new();
        let request = kit.request("alice@example.test");
        let zones = |ids: Option<&[&str]>| {
            let ids = ids.map(|ids| ids.iter().map(|id| (*id).to_owned()).collect());
            let response = GetServerTimeZones { full: false, ids }
                .run(&request)
                .unwrap();
            assert!(!response.full);
            response
                .zones
                .map(|zones| zones.iter().map(|z| z.id).collect::<Vec<_>>())
        };
        assert_eq!(zones(None).unwrap().len(), ZONES.len());
        assert_eq!(
            zones(Some(&["UTC", "Pacific Standard Time"])).unwrap(),
            ["UTC", "Pacific Standard Time"]
        );
        let unknown = zones(Some(&["UTC", "Mars Standard Time"])).unwrap_err();
        assert_eq!(unknown.response_code(), ResponseCode::ErrorTimeZone);
    }

    #[test]
    fn table_ids_are_unique_and_rules_ordered() {
        for (i, zone) in ZONES.iter().enumerate() {
            assert!(
                ZONES.iter().skip(i + 1).all(|z| z.id != zone.id),
                "{}",
                zone.id
            );
            assert!(
                zone.rules
                    .windows(2)
                    .all(|w| w[0].from_year < w[1].from_year),
                "{}",
                zone.id
            );
        }
        for required in [
            "UTC",
            "GMT Standard Time",
            "W. Europe Standard Time",
            "Central Europe Standard Time",
            "Eastern Standard Time",
            "Central Standard Time",
            "Mountain Standard Time",
            "Pacific Standard Time",
            "China Standard Time",
            "Tokyo Standard Time",
            "India Standard Time",
            "AUS Eastern Standard Time",
        ] {
            assert!(ZONES.iter().any(|z| z.id == required), "{required}");
        }
    }

    #[test]
    fn offsets_follow_the_rules() {
        let berlin =
            SerializableTimeZone::of_windows_zone("W. Europe Standard Time", 2026).unwrap();
        // 2026: summer time from 29 March 01:00 UTC to 25 October 01:00 UTC.
        assert_eq!(
            berlin.to_local(at("2026-03-29T00:59:59Z")),
            at("2026-03-29T01:59:59Z")
        );
        assert_eq!(
            berlin.to_local(at("2026-03-29T01:00:00Z")),
            at("2026-03-29T03:00:00Z")
        );
        assert_eq!(
            berlin.to_local(at("2026-10-25T00:59:59Z")),
            at("2026-10-25T02:59:59Z")
        );
        assert_eq!(
            berlin.to_local(at("2026-10-25T01:00:00Z")),
            at("2026-10-25T02:00:00Z")
        );
        assert_eq!(
            berlin.to_utc(at("2026-07-01T12:00:00Z")),
            at("2026-07-01T10:00:00Z")
        );
        assert_eq!(
            berlin.to_utc(at("2026-12-01T12:00:00Z")),
            at("2026-12-01T11:00:00Z")
        );

        let pacific = SerializableTimeZone::of_windows_zone("Pacific Standard Time", 2026).unwrap();
        // 2026: 8 March 10:00 UTC to 1 November 09:00 UTC.
        assert_eq!(
            pacific.to_local(at("2026-03-08T09:59:00Z")),
            at("2026-03-08T01:59:00Z")
        );
        assert_eq!(
            pacific.to_local(at("2026-03-08T10:00:00Z")),
            at("2026-03-08T03:00:00Z")
        );
        assert_eq!(
            pacific.to_local(at("2026-11-01T09:00:00Z")),
            at("2026-11-01T01:00:00Z")
        );

        let sydney =
            SerializableTimeZone::of_windows_zone("AUS Eastern Standard Time", 2026).unwrap();
        assert_eq!(
            sydney.to_local(at("2026-01-15T00:00:00Z")),
            at("2026-01-15T11:00:00Z")
        );
        assert_eq!(
            sydney.to_local(at("2026-07-15T00:00:00Z")),
            at("2026-07-15T10:00:00Z")
        );

        let india = SerializableTimeZone::of_windows_zone("India Standard Time", 2026).unwrap();
        assert_eq!(
            india.to_local(at("2026-07-15T00:00:00Z")),
            at("2026-07-15T05:30:00Z")
        );
        assert_eq!(
            SerializableTimeZone::UTC.to_utc(at("2026-07-15T00:00:00Z")),
            at("2026-07-15T00:00:00Z")
        );
    }

    #[test]
    fn weekday_rules_pick_the_right_day() {
        let day = |y, m, o, d| format_local(weekday_in_month(y, m, o, d).unwrap() * 86_400);
        assert_eq!(day(2026, 3, Last, Weekday::Sunday), "2026-03-29T00:00:00");
        assert_eq!(day(2026, 3, Second, Weekday::Sunday), "2026-03-08T00:00:00");
        assert_eq!(day(2026, 11, First, Weekday::Sunday), "2026-11-01T00:00:00");
        assert_eq!(day(2026, 2, Last, Weekday::Saturday), "2026-02-28T00:00:00");
        assert_eq!(
            day(2026, 12, Last, Weekday::Thursday),
            "2026-12-31T00:00:00"
        );
    }

    #[test]
    fn serializable_time_zones_parse_and_write_back() {
        let xml = r#"<t:TimeZone><t:Bias>-60</t:Bias><t:StandardTime><t:Bias>0</t:Bias><t:Time>03:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>10</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:StandardTime><t:DaylightTime><t:Bias>-60</t:Bias><t:Time>02:00:00</t:Time><t:DayOrder>5</t:DayOrder><t:Month>3</t:Month><t:DayOfWeek>Sunday</t:DayOfWeek></t:DaylightTime></t:TimeZone>"#;
        let zone = SerializableTimeZone::parse(&element(xml)).unwrap();
        assert_eq!(
            zone,
            SerializableTimeZone::of_windows_zone("W. Europe Standard Time", 2026).unwrap()
        );
        let mut out = Vec::new();
        let mut w = Writer::new(&mut out);
        w.start(T, "r").declare(T);
        zone.write(&mut w);
        w.end();
        w.finish().unwrap();
        let written = String::from_utf8(out).unwrap();
        assert!(written.contains(xml), "{written}");
        for bad in [
            xml.replace(
                "<t:DayOrder>5</t:DayOrder><t:Month>10",
                "<t:DayOrder>6</t:DayOrder><t:Month>10",
            ),
            xml.replace("<t:Month>3</t:Month>", "<t:Month>13</t:Month>"),
            xml.replace("Sunday</t:DayOfWeek></t:Day", "Sun</t:DayOfWeek></t:Day"),
            xml.replace("<t:Bias>-60</t:Bias><t:StandardTime>", "<t:StandardTime>"),
            xml.replace(
                "<t:Bias>-60</t:Bias><t:StandardTime>",
                "<t:Bias>2147483647</t:Bias><t:StandardTime>",
            ),
            xml.replace(
                "<t:Bias>0</t:Bias><t:Time>",
                "<t:Bias>1441</t:Bias><t:Time>",
            ),
        ] {
            assert!(
                SerializableTimeZone::parse(&element(&bad)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn times_without_zone_are_wall_clock_in_the_request_zone() {
        let berlin =
            SerializableTimeZone::of_windows_zone("W. Europe Standard Time", 2026).unwrap();
        assert_eq!(
            parse_in_zone("2026-07-01T12:00:00", &berlin),
            Some(at("2026-07-01T10:00:00Z"))
        );
        assert_eq!(
            parse_in_zone("2026-07-01T12:00:00Z", &berlin),
            Some(at("2026-07-01T12:00:00Z"))
        );
        assert_eq!(
            parse_in_zone("2026-07-01T12:00:00+05:00", &berlin),
            Some(at("2026-07-01T07:00:00Z"))
        );
        assert_eq!(parse_in_zone("soon", &berlin), None);
        assert_eq!(duration(-330), "-PT5H30M");
        assert_eq!(duration(480), "PT8H");
        assert_eq!(duration(0), "PT0M");
    }
}

#[cfg(test)]
mod handle_tests {
    use crate::ops::testkit::{all, one, text, Kit};

    #[test]
    fn server_time_zones_are_listed_whole_or_by_id() {
        let kit = Kit::new();
        let body = kit.call(r#"<m:GetServerTimeZones ReturnFullTimeZoneData="false"/>"#);
        let message = one(
            &body,
            &[
                "GetServerTimeZonesResponse",
                "ResponseMessages",
                "GetServerTimeZonesResponseMessage",
            ],
        );
        let zones = all(message, &["TimeZoneDefinitions", "TimeZoneDefinition"]);
        assert_eq!(zones.len(), super::ZONES.len());
        assert!(zones.iter().all(|z| z.children().next().is_none()));

        let body = kit.call(
            r#"<m:GetServerTimeZones><m:Ids><t:Id>Pacific Standard Time</t:Id><t:Id>UTC</t:Id></m:Ids></m:GetServerTimeZones>"#,
        );
        let message = one(
            &body,
            &[
                "GetServerTimeZonesResponse",
                "ResponseMessages",
                "GetServerTimeZonesResponseMessage",
            ],
        );
        let zones = all(message, &["TimeZoneDefinitions", "TimeZoneDefinition"]);
        let ids: Vec<_> = zones
            .iter()
            .map(|z| z.attribute("", "Id").unwrap())
            .collect();
        assert_eq!(ids, ["Pacific Standard Time", "UTC"]);
        let pacific = zones[0];
        let periods: Vec<_> = all(pacific, &["Periods", "Period"])
            .iter()
            .map(|p| p.attribute("", "Bias").unwrap())
            .collect();
        assert_eq!(periods, ["PT8H", "PT7H", "PT7H"]);
        let current = all(pacific, &["TransitionsGroups", "TransitionsGroup"])[1];
        let transitions = all(current, &["RecurringDayTransition"]);
        assert_eq!(text(transitions[0], &["To"]), "Dlt/1");
        assert_eq!(text(transitions[0], &["Month"]), "3");
        assert_eq!(text(transitions[0], &["Occurrence"]), "2");
        assert_eq!(text(transitions[1], &["To"]), "Std");
        assert_eq!(text(transitions[1], &["TimeOffset"]), "PT2H");
        assert_eq!(
            text(
                pacific,
                &["Transitions", "AbsoluteDateTransition", "DateTime"]
            ),
            "2007-01-01T00:00:00"
        );
        let utc = zones[1];
        assert_eq!(
            text(
                utc,
                &["TransitionsGroups", "TransitionsGroup", "Transition", "To"]
            ),
            "Std"
        );
    }

    #[test]
    fn unknown_ids_and_old_schemas_are_refused() {
        let kit = Kit::new();
        let body = kit.call(r#"<m:GetServerTimeZones><m:Ids><t:Id>Mars Standard Time</t:Id></m:Ids></m:GetServerTimeZones>"#);
        let message = one(
            &body,
            &[
                "GetServerTimeZonesResponse",
                "ResponseMessages",
                "GetServerTimeZonesResponseMessage",
            ],
        );
        assert_eq!(text(message, &["ResponseCode"]), "ErrorTimeZone");
        let (status, body) = kit.call_as(
            "alice@example.test",
            "Exchange2007_SP1",
            None,
            "<m:GetServerTimeZones/>",
        );
        assert_eq!(status, 500);
        assert_eq!(
            text(&body, &["Fault", "detail", "ResponseCode"]),
            "ErrorInvalidServerVersion"
        );
    }
}
