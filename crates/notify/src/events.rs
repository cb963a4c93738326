//! Which logged mailbox events a subscription receives, and as which EWS event type
//! (MS-OXWSNTIF NotificationEventTypeType): the folder and event-type filter of a subscription.
//!
//! Pure: no IO, no time, no XML. `ews` renders what [`Filter::select`] picks.

use umbox_store::{Event, FolderId, LoggedEvent, Seq};

/// An EWS notification event type a client can subscribe to (`t:EventType`). StatusEvent is not
/// one: the server makes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventType {
    /// CopiedEvent: an item or folder was copied (OldItemId or OldFolderId names the original).
    Copied,
    /// CreatedEvent: an item or folder was created.
    Created,
    /// DeletedEvent: an item or folder was deleted.
    Deleted,
    /// ModifiedEvent: an item changed, or a folder's properties or counts (UnreadCount) did.
    Modified,
    /// MovedEvent: an item moved (it has a new id; OldItemId names the former one), or a folder
    /// moved (under the same id; OldParentFolderId names its former parent).
    Moved,
    /// NewMailEvent: a new unread message arrived in a mail folder.
    NewMail,
    /// FreeBusyChangedEvent (Exchange2010_SP1+): accepted, never raised (umbox keeps no calendar).
    FreeBusyChanged,
}

impl EventType {
    /// Every type, in schema order.
    pub const ALL: [EventType; 7] = [
        EventType::Copied,
        EventType::Created,
        EventType::Deleted,
        EventType::Modified,
        EventType::Moved,
        EventType::NewMail,
        EventType::FreeBusyChanged,
    ];

    /// The element and enumeration name.
    pub const fn as_str(self) -> &'static str {
        match self {
            EventType::Copied => "CopiedEvent",
            EventType::Created => "CreatedEvent",
            EventType::Deleted => "DeletedEvent",
            EventType::Modified => "ModifiedEvent",
            EventType::Moved => "MovedEvent",
            EventType::NewMail => "NewMailEvent",
            EventType::FreeBusyChanged => "FreeBusyChangedEvent",
        }
    }

    /// The type named `name` (exact, as the schema enumeration is case-sensitive).
    pub fn parse(name: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    const fn bit(self) -> u8 {
        1 << self as u8
    }

    /// The type a store event is reported as.
    pub fn of(event: &Event) -> EventType {
        match event {
            Event::FolderCreated { .. } | Event::ItemCreated { .. } => EventType::Created,
            Event::FolderModified { .. } | Event::ItemModified { .. } => EventType::Modified,
            Event::FolderDeleted { .. } | Event::ItemDeleted { .. } => EventType::Deleted,
            Event::ItemMoved { .. } | Event::FolderMoved { .. } => EventType::Moved,
            Event::ItemCopied { .. } | Event::FolderCopied { .. } => EventType::Copied,
            Event::NewMail { .. } => EventType::NewMail,
        }
    }
}

/// A set of event types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventTypes(u8);

impl EventTypes {
    /// Adds `event_type`.
    pub fn insert(&mut self, event_type: EventType) {
        self.0 |= event_type.bit();
    }

    /// Whether `event_type` is in the set.
    pub fn contains(self, event_type: EventType) -> bool {
        self.0 & event_type.bit() != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The members, in schema order.
    pub fn iter(self) -> impl Iterator<Item = EventType> {
        EventType::ALL
            .into_iter()
            .filter(move |t| self.contains(*t))
    }
}

impl FromIterator<EventType> for EventTypes {
    fn from_iter<I: IntoIterator<Item = EventType>>(iter: I) -> EventTypes {
        let mut set = EventTypes::default();
        for event_type in iter {
            set.insert(event_type);
        }
        set
    }
}

/// The folders a subscription watches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Folders {
    /// SubscribeToAllFolders="true": every folder of the mailbox.
    All,
    /// The listed folders (distinguished ids already resolved). A folder's own ModifiedEvent
    /// (its UnreadCount), its items' events and its direct subfolders' events are reported; for
    /// the `voicemail` search folder, the events of the items it lists wherever they live.
    Only(Vec<FolderId>),
}

impl Folders {
    fn any(&self, folders: &[FolderId]) -> bool {
        match self {
            Folders::All => true,
            Folders::Only(watched) => folders.iter().any(|f| watched.contains(f)),
        }
    }
}

/// What a subscription receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    /// The folders.
    pub folders: Folders,
    /// The event types.
    pub types: EventTypes,
}

impl Filter {
    /// The EWS type `event` is reported as to this subscription, or `None` when it does not
    /// concern it. `previous` is the event logged just before (a NewMail follows the ItemCreated
    /// of the same item in the same commit), so a NewMail reaches the subscribers of the search
    /// folders that list the new item. Folder events without a parent (the root's) are never
    /// reported: EWS requires a ParentFolderId.
    pub fn select(&self, event: &Event, previous: Option<&Event>) -> Option<EventType> {
        let event_type = EventType::of(event);
        if !self.types.contains(event_type) {
            return None;
        }
        let concerned = match event {
            Event::FolderCreated { folder, parent, .. }
            | Event::FolderModified { folder, parent, .. } => {
                let parent = (*parent)?;
                self.folders.any(&[*folder, parent])
            }
            Event::FolderDeleted { folder, parent } => self.folders.any(&[*folder, *parent]),
            Event::FolderMoved {
                folder,
                parent,
                old_parent,
                ..
            } => self.folders.any(&[*folder, *parent, *old_parent]),
            Event::FolderCopied {
                folder,
                parent,
                old_folder,
                old_parent,
                ..
            } => self
                .folders
                .any(&[*folder, *parent, *old_folder, *old_parent]),
            Event::ItemCreated {
                parent,
                search_folders,
                ..
            }
            | Event::ItemModified {
                parent,
                search_folders,
                ..
            }
            | Event::ItemDeleted {
                parent,
                search_folders,
                ..
            } => self.folders.any(&[*parent]) || self.folders.any(search_folders),
            Event::ItemMoved {
                parent,
                old_parent,
                search_folders,
                ..
            }
            | Event::ItemCopied {
                parent,
                old_parent,
                search_folders,
                ..
            } => self.folders.any(&[*parent, *old_parent]) || self.folders.any(search_folders),
            Event::NewMail { item, parent, .. } => {
                self.folders.any(&[*parent])
                    || matches!(previous, Some(Event::ItemCreated { item: created, search_folders, .. })
                        if created == item && self.folders.any(search_folders))
            }
        };
        concerned.then_some(event_type)
    }
}

/// At most this many events go into one Notification (GetEvents' limit, MS-OXWSNTIF).
pub const EVENTS_PER_NOTIFICATION: usize = 50;

/// The events of one log page a subscription receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The selected events with their EWS types, oldest first; at most
    /// [`EVENTS_PER_NOTIFICATION`].
    pub events: Vec<(EventType, LoggedEvent)>,
    /// The last sequence number looked at: every event up to it was either selected or does not
    /// concern the subscription, so reading resumes after it.
    pub to: Seq,
    /// More of the log may concern the subscription: read again at once.
    pub more: bool,
}

/// Picks from `page` (log entries after `from`, as `changes_since` returned them, oldest first)
/// what `filter` receives. `page_was_full` says the log may hold more after the page.
pub fn select(filter: &Filter, from: Seq, page: &[LoggedEvent], page_was_full: bool) -> Selection {
    let mut events = Vec::new();
    let mut to = from;
    let mut previous: Option<&Event> = None;
    let mut more = page_was_full;
    for entry in page.iter().filter(|entry| entry.seq > from) {
        if events.len() == EVENTS_PER_NOTIFICATION {
            more = true;
            break;
        }
        to = entry.seq;
        if let Some(event_type) = filter.select(&entry.event, previous) {
            events.push((event_type, entry.clone()));
        }
        previous = Some(&entry.event);
    }
    Selection { events, to, more }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;
    use umbox_store::{ChangeKey, ItemId};

    const INBOX: FolderId = FolderId(3);
    const VOICEMAIL: FolderId = FolderId(16);
    const OTHER: FolderId = FolderId(7);

    fn created(item: u64, parent: FolderId, search: &[FolderId]) -> Event {
        Event::ItemCreated {
            item: ItemId(item),
            change_key: ChangeKey(1),
            parent,
            search_folders: search.to_vec(),
        }
    }

    fn new_mail(item: u64, parent: FolderId) -> Event {
        Event::NewMail {
            item: ItemId(item),
            change_key: ChangeKey(1),
            parent,
        }
    }

    fn modified_folder(folder: FolderId, unread: u64) -> Event {
        Event::FolderModified {
            folder,
            change_key: ChangeKey(2),
            parent: Some(FolderId(2)),
            total_count: unread,
            unread_count: unread,
        }
    }

    fn filter(folders: Folders, types: &[EventType]) -> Filter {
        Filter {
            folders,
            types: types.iter().copied().collect(),
        }
    }

    fn log(events: Vec<Event>) -> Vec<LoggedEvent> {
        events
            .into_iter()
            .enumerate()
            .map(|(i, event)| LoggedEvent {
                seq: Seq(i as u64 + 1),
                time: UNIX_EPOCH,
                event,
            })
            .collect()
    }

    /// A folder move or copy reaches the watchers of either parent, as MovedEvent or CopiedEvent.
    #[test]
    fn folder_moves_and_copies_reach_both_parents() {
        let moved = Event::FolderMoved {
            folder: OTHER,
            change_key: ChangeKey(3),
            parent: INBOX,
            old_parent: FolderId(5),
        };
        let copied = Event::FolderCopied {
            folder: FolderId(30),
            change_key: ChangeKey(1),
            parent: FolderId(6),
            old_folder: OTHER,
            old_parent: INBOX,
        };
        let inbox = filter(Folders::Only(vec![INBOX]), &EventType::ALL);
        assert_eq!(inbox.select(&moved, None), Some(EventType::Moved));
        assert_eq!(inbox.select(&copied, None), Some(EventType::Copied));
        let elsewhere = filter(Folders::Only(vec![VOICEMAIL]), &EventType::ALL);
        assert_eq!(elsewhere.select(&moved, None), None);
        let created_only = filter(Folders::All, &[EventType::Created]);
        assert_eq!(created_only.select(&copied, None), None);
    }

    #[test]
    fn names_round_trip() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("StatusEvent"), None);
        assert_eq!(EventType::parse("createdevent"), None);
        let set: EventTypes = [EventType::NewMail, EventType::Copied]
            .into_iter()
            .collect();
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![EventType::Copied, EventType::NewMail]
        );
    }

    /// A voice message delivered to the inbox: the inbox subscriber sees all three events, the
    /// voicemail subscriber sees the item (through the search folder), the NewMail and the search
    /// folder's own UnreadCount, but not the inbox's.
    #[test]
    fn voicemail_in_the_inbox_reaches_both_subscribers() {
        let all = EventType::ALL;
        let page = log(vec![
            created(40, INBOX, &[VOICEMAIL]),
            new_mail(40, INBOX),
            modified_folder(INBOX, 1),
            modified_folder(VOICEMAIL, 1),
        ]);
        let inbox = select(
            &filter(Folders::Only(vec![INBOX]), &all),
            Seq(0),
            &page,
            false,
        );
        let types: Vec<_> = inbox.events.iter().map(|(t, e)| (*t, e.seq.0)).collect();
        assert_eq!(
            types,
            vec![
                (EventType::Created, 1),
                (EventType::NewMail, 2),
                (EventType::Modified, 3)
            ]
        );
        let voicemail = select(
            &filter(Folders::Only(vec![VOICEMAIL]), &all),
            Seq(0),
            &page,
            false,
        );
        let types: Vec<_> = voicemail
            .events
            .iter()
            .map(|(t, e)| (*t, e.seq.0))
            .collect();
        assert_eq!(
            types,
            vec![
                (EventType::Created, 1),
                (EventType::NewMail, 2),
                (EventType::Modified, 4)
            ]
        );
        assert_eq!((voicemail.to, voicemail.more), (Seq(4), false));
        let elsewhere = select(
            &filter(Folders::Only(vec![OTHER]), &all),
            Seq(0),
            &page,
            false,
        );
        assert!(elsewhere.events.is_empty());
        assert_eq!(elsewhere.to, Seq(4));
    }

    #[test]
    fn event_types_and_the_start_filter() {
        let page = log(vec![
            created(40, INBOX, &[]),
            new_mail(40, INBOX),
            modified_folder(INBOX, 1),
        ]);
        let only_new_mail = filter(Folders::All, &[EventType::NewMail]);
        let picked = select(&only_new_mail, Seq(0), &page, false);
        assert_eq!(picked.events.len(), 1);
        assert_eq!(picked.events[0].0, EventType::NewMail);
        // Entries at or before `from` are skipped even when the page holds them.
        let later = select(&filter(Folders::All, &EventType::ALL), Seq(2), &page, false);
        assert_eq!(
            later.events.iter().map(|(_, e)| e.seq).collect::<Vec<_>>(),
            vec![Seq(3)]
        );
    }

    #[test]
    fn moves_reach_both_folders_and_the_root_is_never_reported() {
        let moved = Event::ItemMoved {
            item: ItemId(50),
            change_key: ChangeKey(2),
            parent: OTHER,
            old_item: ItemId(40),
            old_parent: INBOX,
            search_folders: vec![],
        };
        let inbox = filter(Folders::Only(vec![INBOX]), &EventType::ALL);
        assert_eq!(inbox.select(&moved, None), Some(EventType::Moved));
        let root = Event::FolderModified {
            folder: FolderId(1),
            change_key: ChangeKey(3),
            parent: None,
            total_count: 0,
            unread_count: 0,
        };
        assert_eq!(
            filter(Folders::All, &EventType::ALL).select(&root, None),
            None
        );
    }

    #[test]
    fn at_most_fifty_events_then_more() {
        let page = log((0..60).map(|i| created(100 + i, INBOX, &[])).collect());
        let picked = select(&filter(Folders::All, &EventType::ALL), Seq(0), &page, false);
        assert_eq!(picked.events.len(), EVENTS_PER_NOTIFICATION);
        assert_eq!((picked.to, picked.more), (Seq(50), true));
        let rest = select(
            &filter(Folders::All, &EventType::ALL),
            picked.to,
            &page,
            false,
        );
        assert_eq!(
            (rest.events.len(), rest.to, rest.more),
            (10, Seq(60), false)
        );
    }
}
