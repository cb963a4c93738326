//! Behaviour of the hub over a real store: pull, streaming and push subscriptions, their limits,
//! expiry, restart and retention. Timers run on paused tokio time.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use super::push::{Deliver, DeliveryError, PushReply};
use super::*;
use umbox_base::config::Notifications;
use umbox_store::props::{tags, PropKey, PropValue};
use umbox_store::{Change, DistinguishedFolder, Event};
use umbox_testkit::Mailboxes;

/// Ids 1, 2, 3, … (each in the first byte pair).
#[derive(Debug, Default)]
pub(crate) struct CountingIds(AtomicU64);

impl IdSource for CountingIds {
    fn next_id(&self) -> Option<[u8; ID_LEN]> {
        let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
        let mut id = [0u8; ID_LEN];
        id[..8].copy_from_slice(&n.to_be_bytes());
        Some(id)
    }
}

pub(crate) struct Fixture {
    pub(crate) boxes: Mailboxes,
    pub(crate) hub: Hub,
}

impl std::ops::Deref for Fixture {
    type Target = Mailboxes;
    fn deref(&self) -> &Mailboxes {
        &self.boxes
    }
}

impl Fixture {
    pub(crate) fn new() -> Fixture {
        Fixture::with(Notifications::default())
    }

    pub(crate) fn with(settings: Notifications) -> Fixture {
        let boxes = Mailboxes::new();
        let hub = Hub::open(
            boxes.store.clone(),
            settings,
            boxes.clock.clone(),
            Arc::new(CountingIds::default()),
        )
        .unwrap();
        Fixture { boxes, hub }
    }

    /// The same data directory opened again, as after a restart.
    fn restart(self, settings: Notifications) -> Fixture {
        let Fixture { boxes, hub } = self;
        drop(hub);
        let boxes = boxes.reopen();
        let hub = Hub::open(
            boxes.store.clone(),
            settings,
            boxes.clock.clone(),
            Arc::new(CountingIds(AtomicU64::new(100))),
        )
        .unwrap();
        Fixture { boxes, hub }
    }

    pub(crate) fn subscribe(&self, folders: Folders, kind: NewKind) -> Subscribed {
        let request = NewSubscription {
            caller: self.alice.clone(),
            mailbox: self.alice.clone(),
            filter: Filter {
                folders,
                types: EventType::ALL.into_iter().collect(),
            },
            watermark: None,
            kind,
        };
        self.hub.subscribe(request, self.clock.now()).unwrap()
    }

    fn pull(&self, folders: Folders) -> Subscribed {
        self.subscribe(
            folders,
            NewKind::Pull {
                timeout: Duration::from_secs(600),
            },
        )
    }
}

/// (event type, what it names, unread count) for compact assertions.
fn summary(notification: &Notification) -> Vec<(EventType, String, Option<u64>)> {
    let Content::Events(events) = &notification.content else {
        return vec![];
    };
    events
        .iter()
        .map(|(t, logged)| match &logged.event {
            Event::FolderModified {
                folder,
                unread_count,
                ..
            } => (*t, format!("folder {folder}"), Some(*unread_count)),
            Event::ItemCreated { item, .. }
            | Event::NewMail { item, .. }
            | Event::ItemModified { item, .. } => (*t, format!("item {item}"), None),
            other => (*t, format!("{other:?}"), None),
        })
        .collect()
}

const VOICE: &str = "IPM.Note.Microsoft.Voicemail.UM.CA";

#[test]
fn pull_sees_new_mail_and_the_unread_count_then_a_lone_status_event() {
    let f = Fixture::new();
    let inbox = f.folder(DistinguishedFolder::Inbox);
    let sub = f.pull(Folders::Only(vec![inbox]));
    let item = f.deliver("IPM.Note");
    let got = f
        .hub
        .get_events(&f.alice, sub.id, sub.watermark, f.clock.now())
        .unwrap();
    assert_eq!(
        summary(&got),
        vec![
            (EventType::Created, format!("item {item}"), None),
            (EventType::NewMail, format!("item {item}"), None),
            (EventType::Modified, format!("folder {inbox}"), Some(1)),
        ]
    );
    assert_eq!((got.previous, got.more), (sub.watermark, false));
    f.mark_read(item);
    let next = f
        .hub
        .get_events(&f.alice, sub.id, got.last_watermark(), f.clock.now())
        .unwrap();
    assert_eq!(
        summary(&next),
        vec![
            (EventType::Modified, format!("item {item}"), None),
            (EventType::Modified, format!("folder {inbox}"), Some(0))
        ]
    );
    let idle = f
        .hub
        .get_events(&f.alice, sub.id, next.last_watermark(), f.clock.now())
        .unwrap();
    assert_eq!(idle.content, Content::Status(next.last_watermark()));
    assert!(!idle.more);
    // Asking again with an older watermark answers again from there (a lost response is retried).
    let again = f
        .hub
        .get_events(&f.alice, sub.id, got.last_watermark(), f.clock.now())
        .unwrap();
    assert_eq!(summary(&again), summary(&next));
}

#[test]
fn voicemail_and_conversation_history_subscriptions() {
    let f = Fixture::new();
    let voicemail = f.folder(DistinguishedFolder::Voicemail);
    let history = f.folder(DistinguishedFolder::ConversationHistory);
    let vm = f.pull(Folders::Only(vec![voicemail]));
    let ch = f.pull(Folders::Only(vec![history]));
    f.deliver("IPM.Note");
    let item = f.deliver(VOICE);
    let got = f
        .hub
        .get_events(&f.alice, vm.id, vm.watermark, f.clock.now())
        .unwrap();
    assert_eq!(
        summary(&got),
        vec![
            (EventType::Created, format!("item {item}"), None),
            (EventType::NewMail, format!("item {item}"), None),
            (EventType::Modified, format!("folder {voicemail}"), Some(1)),
        ]
    );
    f.mark_read(item);
    let read = f
        .hub
        .get_events(&f.alice, vm.id, got.last_watermark(), f.clock.now())
        .unwrap();
    assert_eq!(
        summary(&read),
        vec![
            (EventType::Modified, format!("item {item}"), None),
            (EventType::Modified, format!("folder {voicemail}"), Some(0))
        ]
    );
    // Nothing happened in Conversation History.
    let none = f
        .hub
        .get_events(&f.alice, ch.id, ch.watermark, f.clock.now())
        .unwrap();
    assert!(matches!(none.content, Content::Status(_)));
    let change = Change::CreateItem {
        folder: history,
        props: vec![(
            PropKey::from(tags::MESSAGE_CLASS),
            PropValue::Unicode("IPM.Note.Microsoft.Missed".into()),
        )],
        attachments: vec![],
    };
    f.store.apply(&f.alice, change, f.clock.now()).unwrap();
    let missed = f
        .hub
        .get_events(&f.alice, ch.id, none.last_watermark(), f.clock.now())
        .unwrap();
    let types: Vec<_> = summary(&missed)
        .into_iter()
        .map(|(t, _, u)| (t, u))
        .collect();
    assert_eq!(
        types,
        vec![
            (EventType::Created, None),
            (EventType::NewMail, None),
            (EventType::Modified, Some(1))
        ]
    );
}

#[test]
fn more_events_after_fifty() {
    let f = Fixture::new();
    let sub = f.pull(Folders::All);
    for _ in 0..20 {
        f.deliver("IPM.Note");
    }
    let first = f
        .hub
        .get_events(&f.alice, sub.id, sub.watermark, f.clock.now())
        .unwrap();
    assert!(first.more);
    assert!(matches!(&first.content, Content::Events(e) if e.len() == EVENTS_PER_NOTIFICATION));
    let second = f
        .hub
        .get_events(&f.alice, sub.id, first.last_watermark(), f.clock.now())
        .unwrap();
    assert!(!second.more);
    assert!(matches!(&second.content, Content::Events(e) if e.len() == 10));
}

#[test]
fn owner_kind_and_expiry_checks() {
    let f = Fixture::new();
    let sub = f.pull(Folders::All);
    assert!(matches!(
        f.hub
            .get_events(&f.bob, sub.id, sub.watermark, f.clock.now()),
        Err(Error::AccessDenied(_))
    ));
    assert!(matches!(
        f.hub.unsubscribe(&f.bob, sub.id),
        Err(Error::AccessDenied(_))
    ));
    let streaming = f.subscribe(Folders::All, NewKind::Streaming);
    assert!(matches!(
        f.hub
            .get_events(&f.alice, streaming.id, sub.watermark, f.clock.now()),
        Err(Error::WrongKind {
            expected: Kind::Pull,
            actual: Kind::Streaming,
            ..
        })
    ));
    let unknown = SubscriptionId([7; ID_LEN]);
    assert!(matches!(
        f.hub
            .get_events(&f.alice, unknown, sub.watermark, f.clock.now()),
        Err(Error::NotFound(_))
    ));
    assert!(matches!(
        SubscriptionId::parse("not base64!"),
        Err(Error::MalformedId)
    ));
    assert!(matches!(
        parse_watermark("AAAA"),
        Err(Error::MalformedWatermark)
    ));

    // The 10-minute idle timeout restarts at every call.
    f.clock.advance(Duration::from_secs(540));
    f.hub
        .get_events(&f.alice, sub.id, sub.watermark, f.clock.now())
        .unwrap();
    f.clock.advance(Duration::from_secs(540));
    f.hub
        .get_events(&f.alice, sub.id, sub.watermark, f.clock.now())
        .unwrap();
    f.clock.advance(Duration::from_secs(601));
    assert!(matches!(
        f.hub
            .get_events(&f.alice, sub.id, sub.watermark, f.clock.now()),
        Err(Error::Expired(_))
    ));
    assert!(matches!(
        f.hub
            .get_events(&f.alice, sub.id, sub.watermark, f.clock.now()),
        Err(Error::NotFound(_))
    ));
    assert!(
        f.store.subscriptions().unwrap().is_empty(),
        "the expired record is gone"
    );

    f.hub.unsubscribe(&f.alice, streaming.id).unwrap();
    assert!(matches!(
        f.hub.unsubscribe(&f.alice, streaming.id),
        Err(Error::NotFound(_))
    ));
}

#[test]
fn watermarks_resume_and_expire_with_the_log() {
    let f = Fixture::new();
    let start = f.store.log_bounds(&f.alice).unwrap().latest;
    let item = f.deliver("IPM.Note");
    // Subscribing with an old watermark replays what happened since.
    let request = |watermark| NewSubscription {
        caller: f.alice.clone(),
        mailbox: f.alice.clone(),
        filter: Filter {
            folders: Folders::All,
            types: [EventType::NewMail].into_iter().collect(),
        },
        watermark: Some(watermark),
        kind: NewKind::Pull {
            timeout: Duration::from_secs(60),
        },
    };
    let sub = f.hub.subscribe(request(start), f.clock.now()).unwrap();
    assert_eq!(sub.watermark, start);
    let got = f
        .hub
        .get_events(&f.alice, sub.id, start, f.clock.now())
        .unwrap();
    assert_eq!(
        summary(&got),
        vec![(EventType::NewMail, format!("item {item}"), None)]
    );
    // Ahead of the log, or behind what it keeps: ErrorInvalidWatermark.
    let ahead = Seq(f.store.log_bounds(&f.alice).unwrap().latest.0 + 5);
    assert!(matches!(
        f.hub.subscribe(request(ahead), f.clock.now()),
        Err(Error::Store(store::Error::InvalidWatermark { .. }))
    ));
    f.clock.advance(Duration::from_secs(8 * 24 * 3600));
    f.hub.trim(f.clock.now());
    assert!(matches!(
        f.hub.subscribe(request(start), f.clock.now()),
        Err(Error::Store(store::Error::InvalidWatermark { .. }))
    ));
    assert!(matches!(
        f.hub.get_events(&f.alice, sub.id, start, f.clock.now()),
        Err(Error::Store(store::Error::InvalidWatermark { .. })) | Err(Error::Expired(_))
    ));
}

#[test]
fn pull_and_push_subscriptions_survive_a_restart_without_loss() {
    let f = Fixture::with(Notifications {
        allow_private_push_targets: true,
        ..Notifications::default()
    });
    let pull = f.pull(Folders::All);
    let push = f.subscribe(
        Folders::All,
        NewKind::Push {
            url: "http://127.0.0.1:9/listener".into(),
            status_frequency: Duration::from_secs(60),
        },
    );
    let streaming = f.subscribe(Folders::All, NewKind::Streaming);
    // Another owner's record (a SIP message-waiting subscription) is left alone.
    f.store
        .save_subscription("sip-mwi:abc", b"not ours")
        .unwrap();
    let item = f.deliver("IPM.Note");
    let f = f.restart(Notifications::default());
    assert!(f
        .store
        .subscriptions()
        .unwrap()
        .contains(&("sip-mwi:abc".to_owned(), b"not ours".to_vec())));
    // The client resumes with the watermark it had.
    let got = f
        .hub
        .get_events(&f.alice, pull.id, pull.watermark, f.clock.now())
        .unwrap();
    assert_eq!(
        summary(&got)[0],
        (EventType::Created, format!("item {item}"), None)
    );
    assert_eq!(
        f.hub.push_target(push.id).map(|t| (t.url, t.watermark)),
        Some(("http://127.0.0.1:9/listener".into(), push.watermark))
    );
    // Streaming subscriptions are not kept across restarts, as in Exchange.
    assert!(matches!(
        f.hub.unsubscribe(&f.alice, streaming.id),
        Err(Error::NotFound(_))
    ));
    assert_eq!(f.hub.subscription_count(), 2);
}

#[test]
fn push_subscriptions_have_their_own_lower_limit() {
    let f = Fixture::with(Notifications {
        allow_private_push_targets: true,
        max_push_subscriptions_per_user: 2,
        ..Notifications::default()
    });
    let push = || NewKind::Push {
        url: "http://127.0.0.1:9/listener".into(),
        status_frequency: Duration::from_secs(60),
    };
    f.subscribe(Folders::All, push());
    f.subscribe(Folders::All, push());
    let request = NewSubscription {
        caller: f.alice.clone(),
        mailbox: f.alice.clone(),
        filter: Filter {
            folders: Folders::All,
            types: [EventType::NewMail].into_iter().collect(),
        },
        watermark: None,
        kind: push(),
    };
    assert!(matches!(
        f.hub.subscribe(request.clone(), f.clock.now()),
        Err(Error::TooManySubscriptions { limit: 2 })
    ));
    // Other kinds are still counted only against the overall limit, and so is another user.
    f.pull(Folders::All);
    let bobs = NewSubscription {
        caller: f.bob.clone(),
        mailbox: f.bob.clone(),
        ..request
    };
    f.hub.subscribe(bobs, f.clock.now()).unwrap();
}

#[test]
fn limits() {
    let f = Fixture::with(Notifications {
        max_subscriptions_per_user: 3,
        max_connections_per_user: 1,
        max_subscriptions_per_connection: 2,
        ..Notifications::default()
    });
    let a = f.subscribe(Folders::All, NewKind::Streaming);
    let b = f.subscribe(Folders::All, NewKind::Streaming);
    f.pull(Folders::All);
    let request = NewSubscription {
        caller: f.alice.clone(),
        mailbox: f.alice.clone(),
        filter: Filter {
            folders: Folders::All,
            types: [EventType::NewMail].into_iter().collect(),
        },
        watermark: None,
        kind: NewKind::Streaming,
    };
    assert!(matches!(
        f.hub.subscribe(request.clone(), f.clock.now()),
        Err(Error::TooManySubscriptions { limit: 3 })
    ));
    // Bob's count is his own.
    let bobs = NewSubscription {
        caller: f.bob.clone(),
        mailbox: f.bob.clone(),
        ..request
    };
    let bob_sub = f.hub.subscribe(bobs, f.clock.now()).unwrap();
    let ids = [a.id.to_string(), b.id.to_string()];
    assert!(matches!(
        f.hub.connect(
            &f.alice,
            &[ids[0].clone(), ids[1].clone(), "x".into()],
            Duration::from_secs(60)
        ),
        Err(Error::TooManyOnConnection { limit: 2 })
    ));
    let opened = f
        .hub
        .connect(&f.alice, &ids, Duration::from_secs(60))
        .unwrap();
    assert!(opened.connection.is_some() && opened.rejected.is_empty());
    assert!(matches!(
        f.hub.connect(&f.alice, &ids, Duration::from_secs(60)),
        Err(Error::TooManyConnections { limit: 1 })
    ));
    // Ids that cannot be streamed come back one by one.
    let none = f
        .hub
        .connect(
            &f.bob,
            &["!!".into(), ids[0].clone()],
            Duration::from_secs(60),
        )
        .unwrap();
    assert!(none.connection.is_none());
    let reasons: Vec<_> = none.rejected.iter().map(|(_, e)| e.to_string()).collect();
    assert!(
        matches!(none.rejected[0].1, Error::MalformedId),
        "{reasons:?}"
    );
    assert!(
        matches!(none.rejected[1].1, Error::AccessDenied(_)),
        "{reasons:?}"
    );
    let some = f
        .hub
        .connect(
            &f.bob,
            &[ids[1].clone(), bob_sub.id.to_string()],
            Duration::from_secs(60),
        )
        .unwrap();
    assert!(some.connection.is_some());
    assert_eq!(some.rejected.len(), 1);
    drop(opened);
    assert!(
        f.hub
            .connect(&f.alice, &ids, Duration::from_secs(60))
            .unwrap()
            .connection
            .is_some(),
        "a closed connection no longer counts"
    );
}

#[test]
fn push_urls_are_checked_at_subscribe() {
    let f = Fixture::new();
    let request = NewSubscription {
        caller: f.alice.clone(),
        mailbox: f.alice.clone(),
        filter: Filter {
            folders: Folders::All,
            types: [EventType::NewMail].into_iter().collect(),
        },
        watermark: None,
        kind: NewKind::Push {
            url: "http://127.0.0.1:8080/".into(),
            status_frequency: Duration::from_secs(60),
        },
    };
    assert!(matches!(
        f.hub.subscribe(request, f.clock.now()),
        Err(Error::PushUrl(_))
    ));
    assert_eq!(f.hub.subscription_count(), 0);
}

// Streaming, on paused time.

fn connection(f: &Fixture, id: SubscriptionId, minutes: u64) -> Connection {
    let opened = f
        .hub
        .connect(
            &f.alice,
            &[id.to_string()],
            Duration::from_secs(minutes * 60),
        )
        .unwrap();
    assert!(opened.rejected.is_empty());
    opened.connection.unwrap()
}

fn frame_summary(frame: &Frame) -> Vec<(EventType, String, Option<u64>)> {
    match frame {
        Frame::Notifications(notifications) => notifications.iter().flat_map(summary).collect(),
        other => panic!("expected notifications, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn streaming_delivers_heartbeats_and_closes_at_the_timeout() {
    let f = Fixture::new();
    let voicemail = f.folder(DistinguishedFolder::Voicemail);
    let sub = f.subscribe(Folders::Only(vec![voicemail]), NewKind::Streaming);
    let mut stream = connection(&f, sub.id, 2);
    let started = tokio::time::Instant::now();
    // A change 10 s in arrives at once.
    let (store, alice, clock) = (f.store.clone(), f.alice.clone(), f.clock.clone());
    let inbox = f.folder(DistinguishedFolder::Inbox);
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(10)).await;
        let change = Change::CreateItem {
            folder: inbox,
            props: vec![(
                PropKey::from(tags::MESSAGE_CLASS),
                PropValue::Unicode(VOICE.into()),
            )],
            attachments: vec![],
        };
        store.apply(&alice, change, clock.now()).unwrap();
    });
    let frame = stream.next().await.unwrap();
    writer.await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(10));
    let types: Vec<_> = frame_summary(&frame)
        .into_iter()
        .map(|(t, _, u)| (t, u))
        .collect();
    assert_eq!(
        types,
        vec![
            (EventType::Created, None),
            (EventType::NewMail, None),
            (EventType::Modified, Some(1))
        ]
    );
    // Quiet: heartbeats 45 s after the last frame, then Closed at two minutes.
    assert_eq!(stream.next().await, Some(Frame::Heartbeat));
    assert_eq!(started.elapsed(), Duration::from_secs(55));
    assert_eq!(stream.next().await, Some(Frame::Heartbeat));
    assert_eq!(started.elapsed(), Duration::from_secs(100));
    assert_eq!(stream.next().await, Some(Frame::Closed));
    assert_eq!(started.elapsed(), Duration::from_secs(120));
    assert_eq!(stream.next().await, None);
}

#[tokio::test(start_paused = true)]
async fn a_subscription_outlives_its_connection() {
    let f = Fixture::new();
    let sub = f.subscribe(Folders::All, NewKind::Streaming);
    let mut first = connection(&f, sub.id, 1);
    let item = f.deliver("IPM.Note");
    let frame = first.next().await.unwrap();
    assert_eq!(
        frame_summary(&frame)[0],
        (EventType::Created, format!("item {item}"), None)
    );
    drop(first);
    // Changes while no connection is open wait in the log for the next one.
    let second_item = f.deliver("IPM.Note");
    let mut second = connection(&f, sub.id, 1);
    let frame = second.next().await.unwrap();
    assert_eq!(
        frame_summary(&frame)[0],
        (EventType::Created, format!("item {second_item}"), None)
    );
    // A newer connection takes the subscription over; the older one then has nothing and closes.
    let mut third = connection(&f, sub.id, 1);
    let third_item = f.deliver("IPM.Note");
    assert_eq!(
        frame_summary(&third.next().await.unwrap())[0].1,
        format!("item {third_item}")
    );
    assert_eq!(second.next().await, Some(Frame::Closed));
    // Unsubscribing ends the stream too.
    f.hub.unsubscribe(&f.alice, sub.id).unwrap();
    f.deliver("IPM.Note");
    assert_eq!(third.next().await, Some(Frame::Closed));
}

#[tokio::test(start_paused = true)]
async fn a_client_that_does_not_read_loses_its_subscription_not_memory() {
    let f = Fixture::with(Notifications {
        max_backlog_events: 20,
        ..Notifications::default()
    });
    let lagging = f.subscribe(Folders::All, NewKind::Streaming);
    let mut stream = connection(&f, lagging.id, 5);
    // The client reads nothing while 10 messages (30 log entries) arrive.
    for _ in 0..10 {
        f.deliver("IPM.Note");
    }
    assert_eq!(stream.next().await, Some(Frame::Missed(vec![lagging.id])));
    assert_eq!(stream.next().await, Some(Frame::Closed));
    assert!(matches!(
        f.hub.unsubscribe(&f.alice, lagging.id),
        Err(Error::NotFound(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn idle_streaming_subscriptions_and_pull_subscriptions_expire() {
    let f = Fixture::new();
    let streaming = f.subscribe(Folders::All, NewKind::Streaming);
    let pull = f.pull(Folders::All);
    drop(connection(&f, streaming.id, 1));
    // The pull subscription's 10-minute timeout runs out first, the idle streaming one's 30 later.
    f.clock.advance(Duration::from_secs(29 * 60));
    assert_eq!(f.hub.sweep(f.clock.now()), 1);
    assert!(matches!(
        f.hub
            .get_events(&f.alice, pull.id, pull.watermark, f.clock.now()),
        Err(Error::NotFound(_))
    ));
    assert!(f.store.subscriptions().unwrap().is_empty());
    f.clock.advance(Duration::from_secs(2 * 60));
    assert_eq!(f.hub.sweep(f.clock.now()), 1);
    assert!(matches!(
        f.hub.unsubscribe(&f.alice, streaming.id),
        Err(Error::NotFound(_))
    ));
}

// Push, on paused time.

/// Records deliveries and answers from a script (then OK).
#[derive(Default)]
struct Recorder {
    answers: Mutex<Vec<Result<PushReply, DeliveryError>>>,
    seen: Mutex<Vec<(tokio::time::Instant, Notification)>>,
    arrived: Notify,
}

impl Deliver for Recorder {
    fn deliver<'a>(
        &'a self,
        _url: &'a str,
        notification: &'a Notification,
    ) -> push::BoxFuture<'a, Result<PushReply, DeliveryError>> {
        Box::pin(async move {
            self.seen
                .lock()
                .unwrap()
                .push((tokio::time::Instant::now(), notification.clone()));
            self.arrived.notify_one();
            let mut answers = self.answers.lock().unwrap();
            if answers.is_empty() {
                Ok(PushReply::Ok)
            } else {
                answers.remove(0)
            }
        })
    }
}

impl Recorder {
    fn answering(answers: Vec<Result<PushReply, DeliveryError>>) -> Arc<Recorder> {
        Arc::new(Recorder {
            answers: Mutex::new(answers),
            ..Recorder::default()
        })
    }

    async fn wait_for(&self, count: usize) -> Vec<(tokio::time::Instant, Notification)> {
        loop {
            let seen = self.seen.lock().unwrap().clone();
            if seen.len() >= count {
                return seen;
            }
            self.arrived.notified().await;
        }
    }
}

fn push_fixture() -> (Fixture, Subscribed) {
    let f = Fixture::with(Notifications {
        allow_private_push_targets: true,
        ..Notifications::default()
    });
    let sub = f.subscribe(
        Folders::Only(vec![f.folder(DistinguishedFolder::Inbox)]),
        NewKind::Push {
            url: "http://127.0.0.1:9/push".into(),
            status_frequency: Duration::from_secs(5 * 60),
        },
    );
    (f, sub)
}

fn stored_watermark(f: &Fixture, id: SubscriptionId) -> Seq {
    let (_, bytes) = f
        .store
        .subscriptions()
        .unwrap()
        .into_iter()
        .find(|(key, _)| *key == id.to_string())
        .unwrap();
    match record::decode(&bytes, f.clock.now()).unwrap().mode {
        Mode::Push { watermark, .. } => watermark,
        other => panic!("not a push record: {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn push_delivers_events_then_status_and_stores_the_watermark() {
    let (f, sub) = push_fixture();
    let recorder = Recorder::answering(vec![]);
    let running = tokio::spawn(f.hub.clone().run(recorder.clone()));
    let started = tokio::time::Instant::now();
    let item = f.deliver("IPM.Note");
    let seen = recorder.wait_for(1).await;
    let first = &seen[0].1;
    assert_eq!(summary(first).len(), 3);
    assert_eq!(
        summary(first)[1],
        (EventType::NewMail, format!("item {item}"), None)
    );
    assert_eq!(first.previous, sub.watermark);
    // The acknowledged watermark is stored before the next delivery.
    let seen = recorder.wait_for(2).await;
    assert_eq!(stored_watermark(&f, sub.id), first.last_watermark());
    // Nothing new: a StatusEvent after StatusFrequency.
    assert_eq!(seen[1].1.content, Content::Status(first.last_watermark()));
    assert_eq!(seen[1].0 - started, Duration::from_secs(5 * 60));
    running.abort();
}

#[tokio::test(start_paused = true)]
async fn push_retries_then_gives_up_after_the_status_window() {
    let (f, sub) = push_fixture();
    let failure = || Err(DeliveryError("connection refused".into()));
    let recorder = Recorder::answering(vec![failure(), failure(), failure(), failure()]);
    let running = tokio::spawn(f.hub.clone().run(recorder.clone()));
    let started = tokio::time::Instant::now();
    f.deliver("IPM.Note");
    let seen = recorder.wait_for(4).await;
    let offsets: Vec<u64> = seen
        .iter()
        .map(|(at, _)| (*at - started).as_secs())
        .collect();
    // 30 s, then doubling, while the waits fit in the 5-minute window: 30 + 60 + 120 = 210 s.
    assert_eq!(offsets, vec![0, 30, 90, 210]);
    // Then the subscription ends and its record goes.
    while f.hub.subscription_count() > 0 {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(f.store.subscriptions().unwrap().is_empty());
    assert!(f.hub.push_target(sub.id).is_none());
    running.abort();
}

#[tokio::test(start_paused = true)]
async fn push_ends_when_the_client_unsubscribes_and_resumes_after_restart() {
    let (f, sub) = push_fixture();
    let recorder = Recorder::answering(vec![]);
    let running = tokio::spawn(f.hub.clone().run(recorder.clone()));
    f.deliver("IPM.Note");
    let first = recorder.wait_for(1).await[0].1.clone();
    while stored_watermark(&f, sub.id) != first.last_watermark() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    running.abort();
    let _ = running.await;
    // The delivery task lets go of the hub (and so of the database file) once it is dropped.
    for _ in 0..100 {
        if Arc::strong_count(&f.hub.shared) == 1 {
            break;
        }
        tokio::task::yield_now().await;
    }
    // Down: a message arrives; after the restart it is delivered, and only it.
    let second_item = f.deliver("IPM.Note");
    let f = f.restart(Notifications {
        allow_private_push_targets: true,
        ..Notifications::default()
    });
    let recorder = Recorder::answering(vec![Ok(PushReply::Unsubscribe)]);
    let running = tokio::spawn(f.hub.clone().run(recorder.clone()));
    let after = recorder.wait_for(1).await[0].1.clone();
    assert_eq!(after.previous, first.last_watermark());
    assert_eq!(
        summary(&after)[0],
        (EventType::Created, format!("item {second_item}"), None)
    );
    while f.hub.subscription_count() > 0 {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(f.store.subscriptions().unwrap().is_empty());
    running.abort();
}
