//! Automatic replies (MS-OXWSOOF): GetUserOofSettings and SetUserOofSettings.
//!
//! A mailbox keeps its settings as named properties of umbox's own property set on its root
//! folder (`store::oof` names them and answers whether replies are on, for the call path),
//! written through `MailStore::apply(Change::UpdateFolder)` like every other change, so
//! they survive restarts and raise a folder ModifiedEvent. Only the mailbox the request acts for
//! (the caller, or whom it impersonates) can be read or changed. Both responses carry a single
//! `m:ResponseMessage`, not `m:ResponseMessages`.

use std::time::SystemTime;

use super::EwsOperation;
use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::soap::{M, T};
use crate::{child, response_message, time, Request};
use umbox_store::oof;
use umbox_store::props::{FileTime, NamedProperty, PropKey, PropType, PropValue};
use umbox_store::{Change, DistinguishedFolder, MailboxId};
use umbox_xml::{Element, Writer};

/// Whether automatic replies are sent (MS-OXWSOOF OofState).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OofState {
    /// Off.
    Disabled,
    /// On until turned off.
    Enabled,
    /// On during the Duration.
    Scheduled,
}

/// Who outside the organisation gets the external reply (MS-OXWSOOF ExternalAudience).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExternalAudience {
    /// Nobody outside.
    None,
    /// Senders in the mailbox's contacts.
    Known,
    /// Every outside sender.
    All,
}

/// Stored as Int32: the position in each enum's list.
macro_rules! wire_enum {
    ($name:ident, $what:literal, [$($variant:ident),+]) => {
        impl $name {
            /// Every value, in stored order.
            const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The schema's name of the value.
            fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant)),+
                }
            }

            /// Reads the schema's name of a value.
            fn parse(text: &str) -> Result<$name, Fault> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == text)
                    .ok_or_else(|| Fault::schema(format!("{} {text:?} is not valid", $what)))
            }

            /// The Int32 stored for the value.
            fn to_stored(self) -> i32 {
                $name::ALL.iter().position(|v| *v == self).map_or(0, |i| i as i32)
            }

            /// The value a stored Int32 stands for, if any.
            fn from_stored(value: i32) -> Option<$name> {
                usize::try_from(value).ok().and_then(|i| $name::ALL.get(i)).copied()
            }
        }
    };
}
wire_enum!(OofState, "OofState", [Disabled, Enabled, Scheduled]);
wire_enum!(ExternalAudience, "ExternalAudience", [None, Known, All]);

/// A mailbox's automatic-reply settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OofSettings {
    /// Whether replies are sent.
    state: OofState,
    /// Who outside gets the external reply.
    external_audience: ExternalAudience,
    /// Start and end of the scheduled period.
    duration: Option<(SystemTime, SystemTime)>,
    /// The reply to senders inside the organisation.
    internal_reply: String,
    /// The reply to senders outside.
    external_reply: String,
}

impl OofSettings {
    /// A mailbox that never set anything: off, replying to everyone once turned on (Exchange's
    /// defaults).
    const UNSET: OofSettings = OofSettings {
        state: OofState::Disabled,
        external_audience: ExternalAudience::All,
        duration: None,
        internal_reply: String::new(),
        external_reply: String::new(),
    };
}

/// The stored properties, in the order [`names`] lists them.
const STATE: usize = 0;
const AUDIENCE: usize = 1;
const START: usize = 2;
const END: usize = 3;
const INTERNAL: usize = 4;
const EXTERNAL: usize = 5;

fn names() -> [(NamedProperty, PropType); 6] {
    let named = |name: &str, prop_type| (oof::property(name), prop_type);
    [
        named(oof::STATE, PropType::Int32),
        named("OofExternalAudience", PropType::Int32),
        named(oof::START_TIME, PropType::SystemTime),
        named(oof::END_TIME, PropType::SystemTime),
        named("OofInternalReply", PropType::Unicode),
        named("OofExternalReply", PropType::Unicode),
    ]
}

/// Reads the settings of `mailbox` from its root folder.
fn load(request: &Request<'_>, mailbox: &MailboxId) -> Result<OofSettings, Error> {
    let values = oof::root_values(request.ctx.store, mailbox, &names())?;
    let value = |index: usize| values.get(index).and_then(Option::as_ref);
    let int = |index| match value(index) {
        Some(PropValue::Int32(v)) => Some(*v),
        _ => None,
    };
    let when = |index| match value(index) {
        Some(PropValue::SystemTime(t)) => t.to_system_time(),
        _ => None,
    };
    let text = |index| match value(index) {
        Some(PropValue::Unicode(v)) => v.clone(),
        _ => String::new(),
    };
    let unset = OofSettings::UNSET;
    Ok(OofSettings {
        state: int(STATE)
            .and_then(OofState::from_stored)
            .unwrap_or(unset.state),
        external_audience: int(AUDIENCE)
            .and_then(ExternalAudience::from_stored)
            .unwrap_or(unset.external_audience),
        duration: when(START).zip(when(END)),
        internal_reply: text(INTERNAL),
        external_reply: text(EXTERNAL),
    })
}

/// The mailbox a request's `t:Mailbox/t:Address` names, if the request may act on it.
fn own_mailbox(request: &Request<'_>, op: &Element) -> Result<Result<MailboxId, Error>, Fault> {
    let address = child(op, "Mailbox")
        .and_then(|m| child(m, "Address"))
        .map(Element::trimmed_text)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Fault::schema(format!("{} needs Mailbox/Address", op.name())))?;
    Ok(if request.user.has_address(address) {
        Ok(request.mailbox.clone())
    } else if request.ctx.directory.user_by_address(address).is_some() {
        Err(Error::new(
            ResponseCode::ErrorAccessDenied,
            format!("the automatic replies of {address} belong to another user"),
        ))
    } else {
        Err(Error::new(
            ResponseCode::ErrorNonExistentMailbox,
            format!("no mailbox has the address {address}"),
        ))
    })
}

/// The element name of the single response message of both operations.
const RESPONSE_MESSAGE: &str = "ResponseMessage";

/// GetUserOofSettingsRequest: the settings of the mailbox the request acts for.
#[derive(Debug)]
pub(crate) struct GetUserOofSettings {
    /// The mailbox `t:Mailbox/t:Address` names, or why the request may not read it.
    pub(crate) mailbox: Result<MailboxId, Error>,
}

/// The stored settings, or why they were not read.
pub(crate) struct GetUserOofSettingsResponse {
    /// As stored, with the defaults for what was never set.
    settings: Result<OofSettings, Error>,
}

impl EwsOperation for GetUserOofSettings {
    type Response = GetUserOofSettingsResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        Ok(GetUserOofSettings {
            mailbox: own_mailbox(request, op)?,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<GetUserOofSettingsResponse, Fault> {
        Ok(GetUserOofSettingsResponse {
            settings: self.mailbox.and_then(|mailbox| load(request, &mailbox)),
        })
    }

    /// `m:ResponseMessage`, then `t:OofSettings` and `m:AllowExternalOof`.
    fn write(response: &GetUserOofSettingsResponse, _: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "GetUserOofSettingsResponse");
        match &response.settings {
            Ok(settings) => {
                response_message(w, RESPONSE_MESSAGE, Ok::<_, Error>(no_payload));
                write_settings(w, settings);
                // The organisation-wide switch for external replies; umbox has no such policy.
                w.leaf(M, "AllowExternalOof", ExternalAudience::All.as_str());
            }
            Err(error) => {
                response_message(w, RESPONSE_MESSAGE, Err::<fn(&mut Writer<'_>), _>(error))
            }
        }
        w.end();
    }
}

/// The payload of a successful `m:ResponseMessage`, which carries nothing inside it.
fn no_payload(_: &mut Writer<'_>) {}

/// `t:OofSettings` (MS-OXWSOOF UserOofSettings), in schema order.
fn write_settings(w: &mut Writer<'_>, settings: &OofSettings) {
    w.start(T, "OofSettings");
    w.leaf(T, "OofState", settings.state.as_str());
    w.leaf(T, "ExternalAudience", settings.external_audience.as_str());
    if let Some((start, end)) = settings.duration {
        w.start(T, "Duration");
        w.leaf(T, "StartTime", &time::format(start));
        w.leaf(T, "EndTime", &time::format(end));
        w.end();
    }
    for (name, reply) in [
        ("InternalReply", &settings.internal_reply),
        ("ExternalReply", &settings.external_reply),
    ] {
        w.start(T, name).leaf(T, "Message", reply).end();
    }
    w.end();
}

/// What a SetUserOofSettingsRequest changes; absent optional parts keep their stored values.
#[derive(Debug)]
pub(crate) struct OofUpdate {
    /// The new state.
    pub(crate) state: OofState,
    /// The new external audience.
    pub(crate) external_audience: ExternalAudience,
    /// The new scheduled period, if given.
    pub(crate) duration: Option<(SystemTime, SystemTime)>,
    /// The new internal reply, if given.
    pub(crate) internal_reply: Option<String>,
    /// The new external reply, if given.
    pub(crate) external_reply: Option<String>,
}

impl OofUpdate {
    /// Reads `t:UserOofSettings`.
    fn parse(op: &Element) -> Result<OofUpdate, Fault> {
        let settings = child(op, "UserOofSettings")
            .ok_or_else(|| Fault::schema("SetUserOofSettingsRequest needs UserOofSettings"))?;
        let required = |name: &str| {
            child(settings, name)
                .map(Element::trimmed_text)
                .ok_or_else(|| Fault::schema(format!("UserOofSettings needs {name}")))
        };
        let duration = match child(settings, "Duration") {
            None => None,
            Some(duration) => {
                let at = |name: &str| -> Result<SystemTime, Fault> {
                    let text = child(duration, name)
                        .map(Element::trimmed_text)
                        .ok_or_else(|| Fault::schema(format!("Duration needs {name}")))?;
                    time::parse(text).ok_or_else(|| {
                        Fault::schema(format!("Duration {name} {text:?} is not a dateTime"))
                    })
                };
                Some((at("StartTime")?, at("EndTime")?))
            }
        };
        // ReplyBody's xml:lang only names the reply's culture; umbox sends replies as written.
        let reply = |name: &str| {
            child(settings, name).map(|r| {
                child(r, "Message")
                    .map(|m| m.text().to_owned())
                    .unwrap_or_default()
            })
        };
        Ok(OofUpdate {
            state: OofState::parse(required("OofState")?)?,
            external_audience: ExternalAudience::parse(required("ExternalAudience")?)?,
            duration,
            internal_reply: reply("InternalReply"),
            external_reply: reply("ExternalReply"),
        })
    }

    /// The property writes for this update, after checking it against what is stored.
    fn changes(&self, stored: &OofSettings) -> Result<Vec<(PropKey, PropValue)>, Error> {
        let duration = self.duration.or(stored.duration);
        let valid = duration.is_some_and(|(start, end)| start < end);
        if (self.duration.is_some() || self.state == OofState::Scheduled) && !valid {
            return Err(Error::new(
                ResponseCode::ErrorInvalidScheduledOofDuration,
                "scheduled automatic replies need a Duration whose StartTime is before its EndTime",
            ));
        }
        let names = names();
        let key = |index: usize| {
            names
                .get(index)
                .map(|(name, prop_type)| PropKey::Named(name.clone(), *prop_type))
        };
        let mut set = vec![
            (key(STATE), PropValue::Int32(self.state.to_stored())),
            (
                key(AUDIENCE),
                PropValue::Int32(self.external_audience.to_stored()),
            ),
        ];
        if let Some((start, end)) = self.duration {
            set.push((
                key(START),
                PropValue::SystemTime(FileTime::from_system_time(start)),
            ));
            set.push((
                key(END),
                PropValue::SystemTime(FileTime::from_system_time(end)),
            ));
        }
        if let Some(reply) = &self.internal_reply {
            set.push((key(INTERNAL), PropValue::Unicode(reply.clone())));
        }
        if let Some(reply) = &self.external_reply {
            set.push((key(EXTERNAL), PropValue::Unicode(reply.clone())));
        }
        Ok(set
            .into_iter()
            .filter_map(|(key, value)| Some((key?, value)))
            .collect())
    }
}

/// SetUserOofSettingsRequest: stores the settings on the mailbox's root folder.
#[derive(Debug)]
pub(crate) struct SetUserOofSettings {
    /// The mailbox `t:Mailbox/t:Address` names, or why the request may not change it.
    pub(crate) mailbox: Result<MailboxId, Error>,
    /// What changes.
    pub(crate) update: OofUpdate,
}

/// Whether the settings were stored, or why not.
pub(crate) struct SetUserOofSettingsResponse {
    /// `Ok` once stored.
    stored: Result<(), Error>,
}

impl EwsOperation for SetUserOofSettings {
    type Response = SetUserOofSettingsResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let mailbox = own_mailbox(request, op)?;
        Ok(SetUserOofSettings {
            mailbox,
            update: OofUpdate::parse(op)?,
        })
    }

    fn run(self, request: &Request<'_>) -> Result<SetUserOofSettingsResponse, Fault> {
        let stored = self.mailbox.and_then(|mailbox| {
            let stored = load(request, &mailbox)?;
            let set = self.update.changes(&stored)?;
            let store = request.ctx.store;
            let root = store.distinguished_folder(&mailbox, DistinguishedFolder::Root)?;
            store.apply(
                &mailbox,
                Change::UpdateFolder {
                    folder: root,
                    set,
                    delete: Vec::new(),
                },
                request.ctx.now,
            )?;
            Ok(())
        });
        Ok(SetUserOofSettingsResponse { stored })
    }

    fn write(response: &SetUserOofSettingsResponse, _: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "SetUserOofSettingsResponse");
        response_message(
            w,
            RESPONSE_MESSAGE,
            response.stored.as_ref().map(|()| no_payload),
        );
        w.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testkit::{all, describe, one, text, Kit};

    const ALICE: &str = "alice@example.test";

    fn update(state: OofState, duration: Option<(SystemTime, SystemTime)>) -> OofUpdate {
        OofUpdate {
            state,
            external_audience: ExternalAudience::Known,
            duration,
            internal_reply: Some("Away".to_owned()),
            external_reply: None,
        }
    }

    /// `run` reads and stores the settings of the mailbox it is given, and a mailbox refused in
    /// parse, or settings refused in run, change nothing.
    #[test]
    fn run_reads_and_stores_the_settings_of_the_mailbox_given() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let alice = || Ok(request.mailbox.clone());
        let denied = || Err(Error::new(ResponseCode::ErrorAccessDenied, "not yours"));
        let get = |mailbox| {
            GetUserOofSettings { mailbox }
                .run(&request)
                .unwrap()
                .settings
        };
        let set = |mailbox, update| {
            SetUserOofSettings { mailbox, update }
                .run(&request)
                .unwrap()
                .stored
        };
        assert_eq!(get(alice()).unwrap(), OofSettings::UNSET);
        let code = get(denied()).unwrap_err().response_code();
        assert_eq!(code, ResponseCode::ErrorAccessDenied);

        let start = time::parse("2026-11-24T08:00:00Z").unwrap();
        let end = time::parse("2026-11-30T16:00:00Z").unwrap();
        set(alice(), update(OofState::Scheduled, Some((start, end)))).unwrap();
        let scheduled = OofSettings {
            state: OofState::Scheduled,
            external_audience: ExternalAudience::Known,
            duration: Some((start, end)),
            internal_reply: "Away".to_owned(),
            external_reply: String::new(),
        };
        assert_eq!(get(alice()).unwrap(), scheduled);

        let code = set(denied(), update(OofState::Enabled, None))
            .unwrap_err()
            .response_code();
        assert_eq!(code, ResponseCode::ErrorAccessDenied);
        let backwards = update(OofState::Enabled, Some((end, start)));
        let code = set(alice(), backwards).unwrap_err().response_code();
        assert_eq!(code, ResponseCode::ErrorInvalidScheduledOofDuration);
        assert_eq!(get(alice()).unwrap(), scheduled);
    }

    /// What SetUserOofSettings stores is what `store::oof::replies_on` (the call path's view)
    /// reads: the stored states agree, and a schedule is on inside its period only.
    #[test]
    fn the_store_reads_the_state_set_over_ews() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        let store = request.ctx.store;
        let mailbox = request.mailbox.clone();
        let set = |update| {
            SetUserOofSettings {
                mailbox: Ok(mailbox.clone()),
                update,
            }
            .run(&request)
            .unwrap()
            .stored
            .unwrap()
        };
        assert_eq!(OofState::Disabled.to_stored(), oof::DISABLED);
        assert_eq!(OofState::Enabled.to_stored(), oof::ENABLED);
        assert_eq!(OofState::Scheduled.to_stored(), oof::SCHEDULED);
        let start = time::parse("2026-11-24T08:00:00Z").unwrap();
        let end = time::parse("2026-11-30T16:00:00Z").unwrap();
        let inside = time::parse("2026-11-25T08:00:00Z").unwrap();
        assert!(!oof::replies_on(store, &mailbox, inside).unwrap());
        set(update(OofState::Scheduled, Some((start, end))));
        assert!(oof::replies_on(store, &mailbox, inside).unwrap());
        assert!(oof::replies_on(store, &mailbox, start).unwrap());
        assert!(!oof::replies_on(store, &mailbox, end).unwrap());
        set(update(OofState::Enabled, None));
        assert!(oof::replies_on(store, &mailbox, end).unwrap());
        set(update(OofState::Disabled, None));
        assert!(!oof::replies_on(store, &mailbox, inside).unwrap());
    }

    fn get(kit: &Kit, caller: &str, impersonate: Option<&str>, address: &str) -> Element {
        let (status, body) = kit.call_as(
            caller,
            "Exchange2016",
            impersonate,
            &format!(r#"<m:GetUserOofSettingsRequest><t:Mailbox><t:Address>{address}</t:Address></t:Mailbox></m:GetUserOofSettingsRequest>"#),
        );
        assert_eq!(status, 200, "{}", describe(&body));
        one(&body, &["GetUserOofSettingsResponse"]).clone()
    }

    fn set(kit: &Kit, address: &str, settings: &str) -> Element {
        let body = kit.call(&format!(
            r#"<m:SetUserOofSettingsRequest><t:Mailbox><t:Address>{address}</t:Address></t:Mailbox><t:UserOofSettings>{settings}</t:UserOofSettings></m:SetUserOofSettingsRequest>"#
        ));
        one(&body, &["SetUserOofSettingsResponse", "ResponseMessage"]).clone()
    }

    const SCHEDULED: &str = "<t:OofState>Scheduled</t:OofState><t:ExternalAudience>Known</t:ExternalAudience>\
        <t:Duration><t:StartTime>2026-11-24T08:00:00Z</t:StartTime><t:EndTime>2026-11-30T17:00:00+01:00</t:EndTime></t:Duration>\
        <t:InternalReply><t:Message>Away &amp; back Monday</t:Message></t:InternalReply>\
        <t:ExternalReply xml:lang=\"en-US\"><t:Message>Out of office</t:Message></t:ExternalReply>";

    #[test]
    fn settings_default_to_disabled_and_round_trip_durably() {
        let mut kit = Kit::new();
        let response = get(&kit, "alice@example.test", None, "alice@example.test");
        let names: Vec<&str> = response.children().map(Element::name).collect();
        assert_eq!(
            names,
            ["ResponseMessage", "OofSettings", "AllowExternalOof"]
        );
        assert_eq!(
            one(&response, &["ResponseMessage"]).attribute("", "ResponseClass"),
            Some("Success")
        );
        assert_eq!(text(&response, &["OofSettings", "OofState"]), "Disabled");
        assert_eq!(text(&response, &["OofSettings", "ExternalAudience"]), "All");
        assert!(all(&response, &["OofSettings", "Duration"]).is_empty());
        assert_eq!(text(&response, &["AllowExternalOof"]), "All");

        let message = set(&kit, "alice@example.test", SCHEDULED);
        assert_eq!(
            message.attribute("", "ResponseClass"),
            Some("Success"),
            "{}",
            describe(&message)
        );
        kit.reopen();
        let settings = one(
            &get(&kit, "alice@example.test", None, "alice@example.test"),
            &["OofSettings"],
        )
        .clone();
        assert_eq!(text(&settings, &["OofState"]), "Scheduled");
        assert_eq!(text(&settings, &["ExternalAudience"]), "Known");
        assert_eq!(
            text(&settings, &["Duration", "StartTime"]),
            "2026-11-24T08:00:00Z"
        );
        assert_eq!(
            text(&settings, &["Duration", "EndTime"]),
            "2026-11-30T16:00:00Z"
        );
        assert_eq!(
            text(&settings, &["InternalReply", "Message"]),
            "Away & back Monday"
        );
        assert_eq!(
            text(&settings, &["ExternalReply", "Message"]),
            "Out of office"
        );

        // Parts left out keep their values; the state changes.
        let message = set(
            &kit,
            "alice@example.test",
            "<t:OofState>Enabled</t:OofState><t:ExternalAudience>None</t:ExternalAudience>",
        );
        assert_eq!(message.attribute("", "ResponseClass"), Some("Success"));
        let settings = one(
            &get(&kit, "alice@example.test", None, "alice@example.test"),
            &["OofSettings"],
        )
        .clone();
        assert_eq!(text(&settings, &["OofState"]), "Enabled");
        assert_eq!(text(&settings, &["ExternalAudience"]), "None");
        assert_eq!(
            text(&settings, &["InternalReply", "Message"]),
            "Away & back Monday"
        );
        // Bob's settings are untouched.
        let bob = get(&kit, "bob@example.test", None, "bob@example.test");
        assert_eq!(text(&bob, &["OofSettings", "OofState"]), "Disabled");
    }

    #[test]
    fn only_ones_own_settings_are_reachable() {
        let kit = Kit::new();
        let denied = get(&kit, "bob@example.test", None, "alice@example.test");
        assert_eq!(
            text(&denied, &["ResponseMessage", "ResponseCode"]),
            "ErrorAccessDenied"
        );
        assert!(all(&denied, &["OofSettings"]).is_empty());
        let unknown = get(&kit, "bob@example.test", None, "carol@example.test");
        assert_eq!(
            text(&unknown, &["ResponseMessage", "ResponseCode"]),
            "ErrorNonExistentMailbox"
        );
        let message = set(
            &kit,
            "bob@example.test",
            "<t:OofState>Enabled</t:OofState><t:ExternalAudience>All</t:ExternalAudience>",
        );
        assert_eq!(text(&message, &["ResponseCode"]), "ErrorAccessDenied");
        // Alice holds the impersonation right and may act as bob.
        let impersonated = get(
            &kit,
            "alice@example.test",
            Some("bob@example.test"),
            "bob@example.test",
        );
        assert_eq!(
            text(&impersonated, &["ResponseMessage", "ResponseCode"]),
            "NoError"
        );
    }

    #[test]
    fn bad_settings_are_refused() {
        let kit = Kit::new();
        let message = set(
            &kit,
            "alice@example.test",
            "<t:OofState>Scheduled</t:OofState><t:ExternalAudience>All</t:ExternalAudience>",
        );
        assert_eq!(
            text(&message, &["ResponseCode"]),
            "ErrorInvalidScheduledOofDuration"
        );
        let backwards = "<t:OofState>Enabled</t:OofState><t:ExternalAudience>All</t:ExternalAudience><t:Duration>\
            <t:StartTime>2026-11-30T00:00:00Z</t:StartTime><t:EndTime>2026-11-24T00:00:00Z</t:EndTime></t:Duration>";
        assert_eq!(
            text(
                &set(&kit, "alice@example.test", backwards),
                &["ResponseCode"]
            ),
            "ErrorInvalidScheduledOofDuration"
        );
        for settings in [
            "<t:OofState>Sometimes</t:OofState><t:ExternalAudience>All</t:ExternalAudience>",
            "<t:OofState>Enabled</t:OofState>",
            "<t:OofState>Enabled</t:OofState><t:ExternalAudience>All</t:ExternalAudience><t:Duration><t:StartTime>soon</t:StartTime><t:EndTime>later</t:EndTime></t:Duration>",
        ] {
            let (status, body) = kit.call_as(
                "alice@example.test",
                "Exchange2016",
                None,
                &format!(r#"<m:SetUserOofSettingsRequest><t:Mailbox><t:Address>alice@example.test</t:Address></t:Mailbox><t:UserOofSettings>{settings}</t:UserOofSettings></m:SetUserOofSettingsRequest>"#),
            );
            assert_eq!(status, 500, "{settings}");
            assert_eq!(text(&body, &["Fault", "detail", "ResponseCode"]), "ErrorSchemaValidation");
        }
        let settings = get(&kit, "alice@example.test", None, "alice@example.test");
        assert_eq!(text(&settings, &["OofSettings", "OofState"]), "Disabled");
    }
}
