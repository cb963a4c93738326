//! The real `sipp` against both SIP listeners, started in-process on 127.0.0.1 port 0 with the
//! demo directory (pilot 1999, alice 1001, bob 1002, gateway 127.0.0.1). Scenarios live in
//! `tests/interop/sipp/`; each run must end with every call successful and no unexpected
//! message, and the handler's report and the listeners' state are checked after it.

use crate::support::{drain, next, run_sipp, start_pair, Seen};
use umbox_sip::dialog::EndReason;
use umbox_sip::Limits;
use umbox_um::router::Called;

fn mailbox(seen: &Seen) -> Option<&str> {
    match seen {
        Seen::Invite {
            called: Some(Called::Mailbox { extension, .. }),
            ..
        } => Some(extension.number.as_str()),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_get_200_on_both_listeners_over_udp_and_tcp() {
    let pair = start_pair(Limits::default()).await;
    for target in [pair.router.udp_addr(), pair.media.udp_addr()] {
        for transport in ["u1", "t1"] {
            run_sipp("options.xml", target, 3, &["-t", transport])
                .await
                .assert_ok();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarded_call_is_redirected_to_the_media_server_and_answered() {
    let mut pair = start_pair(Limits::default()).await;
    run_sipp("router_diversion.xml", pair.router.udp_addr(), 1, &[])
        .await
        .assert_ok();
    let invite = next(&mut pair.seen).await;
    assert_eq!(mailbox(&invite), Some("1001"), "{invite:?}");
    let Seen::Invite { call_id, .. } = invite else {
        unreachable!()
    };
    assert_eq!(next(&mut pair.seen).await, Seen::Acked(call_id.clone()));
    assert_eq!(
        next(&mut pair.seen).await,
        Seen::Ended(call_id, EndReason::ByeFromPeer)
    );
    assert_eq!(pair.media.stats().calls, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_info_names_the_mailbox_over_udp_and_tcp() {
    let pair = start_pair(Limits::default()).await;
    for transport in ["u1", "t1"] {
        run_sipp(
            "router_history_info.xml",
            pair.router.udp_addr(),
            2,
            &["-t", transport],
        )
        .await
        .assert_ok();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_extensions_and_numbers_get_404() {
    let pair = start_pair(Limits::default()).await;
    for dialled in ["1999", "5555"] {
        run_sipp(
            "router_unknown.xml",
            pair.router.udp_addr(),
            2,
            &["-key", "dialled", dialled],
        )
        .await
        .assert_ok();
    }
}

#[test]
fn strangers_get_403_and_leave_no_state() {
    // The stranger (127.0.0.2) is a host of this test's own network namespace, entered before the
    // runtime starts its workers so they live there too.
    umbox_testkit::netns::isolate();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
        .block_on(strangers_get_403_and_leave_no_state_in_the_namespace());
}

async fn strangers_get_403_and_leave_no_state_in_the_namespace() {
    let pair = start_pair(Limits::default()).await;
    let before = pair.router.stats();
    run_sipp(
        "forbidden.xml",
        pair.router.udp_addr(),
        2,
        &["-i", "127.0.0.2"],
    )
    .await
    .assert_ok();
    let after = pair.router.stats();
    assert_eq!(
        before, after,
        "no transaction, call or timer for a stranger"
    );
    assert_eq!(after.server_transactions, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_pressure_invites_get_503_with_retry_after() {
    // Every datagram waits some time in the receive buffer: a zero limit is always exceeded.
    let limits = Limits {
        max_queue_delay: std::time::Duration::ZERO,
        ..Limits::default()
    };
    let pair = start_pair(limits).await;
    run_sipp("overload.xml", pair.router.udp_addr(), 2, &[])
        .await
        .assert_ok();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_before_the_answer_ends_the_call() {
    let mut pair = start_pair(Limits::default()).await;
    run_sipp("media_cancel.xml", pair.media.udp_addr(), 1, &[])
        .await
        .assert_ok();
    let invite = next(&mut pair.seen).await;
    assert_eq!(mailbox(&invite), Some("1002"));
    let Seen::Invite { call_id, .. } = invite else {
        unreachable!()
    };
    assert_eq!(
        next(&mut pair.seen).await,
        Seen::Ended(call_id, EndReason::Cancelled)
    );
    assert_eq!(pair.media.stats().calls, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_after_the_answer_changes_nothing() {
    let mut pair = start_pair(Limits::default()).await;
    run_sipp(
        "media_cancel_after_answer.xml",
        pair.media.udp_addr(),
        1,
        &[],
    )
    .await
    .assert_ok();
    let seen = [
        next(&mut pair.seen).await,
        next(&mut pair.seen).await,
        next(&mut pair.seen).await,
    ];
    assert!(matches!(seen[1], Seen::Acked(_)), "{seen:?}");
    assert!(
        matches!(seen[2], Seen::Ended(_, EndReason::ByeFromPeer)),
        "{seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bye_for_an_unknown_dialog_gets_481() {
    let mut pair = start_pair(Limits::default()).await;
    run_sipp("bye_unknown.xml", pair.media.udp_addr(), 2, &[])
        .await
        .assert_ok();
    assert_eq!(drain(&mut pair.seen), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reinvites_hold_and_unhold_without_dropping_the_call() {
    let mut pair = start_pair(Limits::default()).await;
    for transport in ["u1", "t1"] {
        run_sipp(
            "media_reinvite.xml",
            pair.media.udp_addr(),
            1,
            &["-t", transport],
        )
        .await
        .assert_ok();
        let seen: Vec<Seen> = [
            next(&mut pair.seen).await,
            next(&mut pair.seen).await,
            next(&mut pair.seen).await,
            next(&mut pair.seen).await,
            next(&mut pair.seen).await,
        ]
        .into();
        assert!(matches!(seen[0], Seen::Invite { .. }), "{seen:?}");
        assert!(matches!(seen[1], Seen::Acked(_)), "{seen:?}");
        assert!(matches!(seen[2], Seen::Reinvite(_)), "{seen:?}");
        assert!(matches!(seen[3], Seen::Reinvite(_)), "{seen:?}");
        assert!(
            matches!(seen[4], Seen::Ended(_, EndReason::ByeFromPeer)),
            "{seen:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_media_server_hangs_up_with_bye_over_udp_and_tcp() {
    let mut pair = start_pair(Limits::default()).await;
    for transport in ["u1", "t1"] {
        run_sipp(
            "media_hangup.xml",
            pair.media.udp_addr(),
            1,
            &["-t", transport],
        )
        .await
        .assert_ok();
        let invite = next(&mut pair.seen).await;
        assert!(
            matches!(
                invite,
                Seen::Invite {
                    called: Some(Called::Pilot { .. }),
                    ..
                }
            ),
            "{invite:?}"
        );
        assert!(matches!(next(&mut pair.seen).await, Seen::Acked(_)));
        let hung_up = next(&mut pair.seen).await;
        assert!(matches!(hung_up, Seen::HungUp(_, Ok(()))), "{hung_up:?}");
    }
    assert_eq!(pair.media.stats().calls, 0);
}
