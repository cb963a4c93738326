//! Where a mailbox keeps its automatic-reply (out-of-office, OOF) state, and whether it is on.
//!
//! The settings are named properties of umbox's own property set on the mailbox's root folder
//! (Exchange keeps them in a hidden message of its own format). EWS's Get/SetUserOofSettings
//! (`ews::ops::oof`) reads and writes them all through `MailStore::apply`; the call path
//! (`um::greetings`) only asks [`replies_on`], to play the away greeting. The facts live here, in
//! the store both depend on, so neither depends on the other.
//!
//! Never writes; never reads the clock (callers pass `now`).

use std::time::SystemTime;

use super::props::{Guid, NamedProperty, PropName, PropTag, PropType, PropValue};
use super::{DistinguishedFolder, Error, MailStore, MailboxId};

/// umbox's property set for mailbox settings that MAPI keeps elsewhere.
pub const SETTINGS: Guid = Guid(0xC42EAD88_3BBB_496E_9D91_45109CEB0286);

/// The Int32 state: [`DISABLED`], [`ENABLED`] or [`SCHEDULED`] (MS-OXWSOOF OofState).
pub const STATE: &str = "OofState";
/// The start of the scheduled period (SystemTime).
pub const START_TIME: &str = "OofStartTime";
/// The end of the scheduled period (SystemTime).
pub const END_TIME: &str = "OofEndTime";

/// Stored [`STATE`]: off.
pub const DISABLED: i32 = 0;
/// Stored [`STATE`]: on until turned off.
pub const ENABLED: i32 = 1;
/// Stored [`STATE`]: on from [`START_TIME`] (inclusive) to [`END_TIME`] (exclusive).
pub const SCHEDULED: i32 = 2;

/// The named property `name` of the settings set.
pub fn property(name: &str) -> NamedProperty {
    NamedProperty::new(SETTINGS, PropName::Name(name.to_owned()))
}

/// The values of the named properties `names` (each with the type it is stored as) on the root
/// folder of `mailbox`, in order; `None` for one never set.
pub fn root_values(
    store: &dyn MailStore,
    mailbox: &MailboxId,
    names: &[(NamedProperty, PropType)],
) -> Result<Vec<Option<PropValue>>, Error> {
    let root = store.folder(
        mailbox,
        store.distinguished_folder(mailbox, DistinguishedFolder::Root)?,
    )?;
    let keys: Vec<NamedProperty> = names.iter().map(|(name, _)| name.clone()).collect();
    let ids = store.named_property_ids(mailbox, &keys)?;
    Ok(names
        .iter()
        .zip(ids)
        .map(|((_, prop_type), id)| {
            id.and_then(|id| root.props.get(PropTag::new(id, *prop_type)).cloned())
        })
        .collect())
}

/// Whether the automatic replies of `mailbox` are on at `now`: enabled, or scheduled with `now`
/// inside the period. A mailbox that never set them, or holds a value of the wrong type, is off.
pub fn replies_on(
    store: &dyn MailStore,
    mailbox: &MailboxId,
    now: SystemTime,
) -> Result<bool, Error> {
    let names = [
        (property(STATE), PropType::Int32),
        (property(START_TIME), PropType::SystemTime),
        (property(END_TIME), PropType::SystemTime),
    ];
    let values = root_values(store, mailbox, &names)?;
    let when = |index: usize| match values.get(index) {
        Some(Some(PropValue::SystemTime(t))) => t.to_system_time(),
        _ => None,
    };
    Ok(match values.first() {
        Some(Some(PropValue::Int32(ENABLED))) => true,
        Some(Some(PropValue::Int32(SCHEDULED))) => {
            matches!((when(1), when(2)), (Some(start), Some(end)) if start <= now && now < end)
        }
        _ => false,
    })
}
