//! A pull subscription across restarts of the real binary: the subscription and the change log
//! live in the data directory, so GetEvents with the watermark the client last saw returns exactly
//! what happened while the server was down, neither losing nor repeating an event. The changes
//! are made through the store's own write path while the server is stopped (as the voicemail
//! pipeline would make them), since only one process may hold the store.

use std::path::Path;
use std::time::SystemTime;

use umbox_store::props::{tags, PropKey, PropValue};
use umbox_store::{Change, DistinguishedFolder, MailStore, MailboxId, Options, RedbStore};

use crate::harness::{curl, temp_dir, Server};
use crate::notify_stream::{envelope, first_text};

fn ews(server: &Server, body: &str) -> Vec<u8> {
    let reply = curl(&[
        "-u",
        "alice@example.test:demo-alice",
        "-H",
        "Content-Type: text/xml; charset=utf-8",
        "--data-binary",
        &envelope(body),
        &server.https_url("/EWS/Exchange.asmx"),
    ]);
    assert_eq!(reply.status, 200, "{}", reply.text());
    reply.body
}

/// Delivers an unread message of `class` to alice's inbox, with the server stopped.
fn deliver_offline(data: &Path, class: &str) {
    let store = RedbStore::open(data, Options::default()).unwrap();
    let alice = MailboxId::new("alice@example.test");
    let inbox = store
        .distinguished_folder(&alice, DistinguishedFolder::Inbox)
        .unwrap();
    let change = Change::CreateItem {
        folder: inbox,
        props: vec![(
            PropKey::from(tags::MESSAGE_CLASS),
            PropValue::Unicode(class.into()),
        )],
        attachments: vec![],
    };
    #[allow(clippy::disallowed_methods)] // A test stands in for the pipeline's clock.
    let now = SystemTime::now();
    store.apply(&alice, change, now).unwrap();
}

/// The event element names and UnreadCounts of a GetEvents answer, and its last watermark.
fn events(document: &[u8]) -> (Vec<String>, String) {
    let root = umbox_xml::parse(document, &umbox_xml::Limits::DEFAULT).unwrap();
    fn notification(e: &umbox_xml::Element) -> Option<&umbox_xml::Element> {
        if e.name() == "Notification" {
            return Some(e);
        }
        e.children().find_map(notification)
    }
    let notification =
        notification(&root).unwrap_or_else(|| panic!("{}", String::from_utf8_lossy(document)));
    let mut names = Vec::new();
    let mut last = String::new();
    for event in notification
        .children()
        .filter(|c| c.name().ends_with("Event"))
    {
        let unread = event
            .children()
            .find(|c| c.name() == "UnreadCount")
            .map(|u| format!(" {}", u.trimmed_text()))
            .unwrap_or_default();
        names.push(format!("{}{unread}", event.name()));
        last = event
            .children()
            .find(|c| c.name() == "Watermark")
            .unwrap()
            .trimmed_text()
            .to_owned();
    }
    (names, last)
}

fn get_events(id: &str, watermark: &str) -> String {
    format!("<m:GetEvents><m:SubscriptionId>{id}</m:SubscriptionId><m:Watermark>{watermark}</m:Watermark></m:GetEvents>")
}

#[test]
fn a_pull_subscription_loses_nothing_across_restarts() {
    let server = Server::demo_in(temp_dir("data"));
    let subscribed = ews(
        &server,
        r#"<m:Subscribe><m:PullSubscriptionRequest><t:FolderIds><t:DistinguishedFolderId Id="inbox"/><t:DistinguishedFolderId Id="voicemail"/></t:FolderIds><t:EventTypes><t:EventType>NewMailEvent</t:EventType><t:EventType>CreatedEvent</t:EventType><t:EventType>ModifiedEvent</t:EventType></t:EventTypes><t:Timeout>30</t:Timeout></m:PullSubscriptionRequest></m:Subscribe>"#,
    );
    let id = first_text(&subscribed, "SubscriptionId").unwrap();
    let start = first_text(&subscribed, "Watermark").unwrap();

    let data = server.stop();
    deliver_offline(&data, "IPM.Note.Microsoft.Voicemail.UM.CA");
    let server = Server::demo_in(data);
    let (names, after_first) = events(&ews(&server, &get_events(&id, &start)));
    assert_eq!(
        names,
        [
            "CreatedEvent",
            "NewMailEvent",
            "ModifiedEvent 1",
            "ModifiedEvent 1"
        ]
    );

    let data = server.stop();
    deliver_offline(&data, "IPM.Note");
    let server = Server::demo_in(data);
    let (names, after_second) = events(&ews(&server, &get_events(&id, &after_first)));
    assert_eq!(names, ["CreatedEvent", "NewMailEvent", "ModifiedEvent 2"]);
    // Caught up: a lone StatusEvent.
    let (names, _) = events(&ews(&server, &get_events(&id, &after_second)));
    assert_eq!(names, ["StatusEvent"]);
}
