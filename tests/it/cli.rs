//! The admin command line: every command, and bad input that names its field and changes nothing.

use crate::harness::{admin, admin_ok, temp_dir};

#[test]
fn users_dial_plans_policies_and_gateways_round_trip() {
    let data = temp_dir("cli");
    let ok = |args: &[&str]| admin_ok(&data, args);
    ok(&[
        "dialplan",
        "add",
        "hq",
        "--extension-length",
        "4",
        "--pilot",
        "4999",
        "--country-code",
        "1",
    ]);
    ok(&[
        "policy",
        "add",
        "hq-policy",
        "--dial-plan",
        "hq",
        "--max-message-seconds",
        "120",
    ]);
    ok(&[
        "gateway",
        "add",
        "pbx1",
        "--address",
        "127.0.0.1",
        "--dial-plan",
        "hq",
    ]);
    ok(&[
        "user",
        "add",
        "carol@corp.test",
        "--name",
        "Carol Chen",
        "--password",
        "pw-carol",
        "--extension",
        "4001",
        "--sip-uri",
        "sip:carol@corp.test",
        "--line-uri",
        "tel:+14255550199;ext=4001",
        "--calling-line-id",
        "+14255550199",
        "--proxy-address",
        "cc@corp.test",
        "--policy",
        "hq-policy",
    ]);
    let list = ok(&["user", "list"]);
    assert!(
        list.contains("carol@corp.test\tCarol Chen\thq:4001"),
        "{list}"
    );
    let show = ok(&["user", "show", "CC@corp.test"]);
    assert!(show.contains("display_name = \"Carol Chen\""), "{show}");
    assert!(!show.contains("argon2"), "hash must not be shown: {show}");
    ok(&["user", "set", "carol@corp.test", "--name", "Carol C."]);
    assert!(ok(&["user", "list"]).contains("Carol C."));
    assert!(ok(&["dialplan", "list"]).contains("hq\t4 digits\tpilot 4999"));
    assert!(ok(&["gateway", "list"]).contains("pbx1\t127.0.0.1"));
    assert!(ok(&["policy", "list"]).contains("hq-policy"));
    ok(&["user", "remove", "carol@corp.test"]);
    assert_eq!(ok(&["user", "list"]), "");
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn settings_are_set_idempotently_shown_and_dry_runs_save_nothing() {
    let data = temp_dir("cli-set");
    let ok = |args: &[&str]| admin_ok(&data, args);
    ok(&[
        "dialplan",
        "add",
        "hq",
        "--extension-length",
        "4",
        "--pilot",
        "4999",
    ]);
    ok(&["policy", "add", "hq-policy", "--dial-plan", "hq"]);
    ok(&[
        "user",
        "add",
        "carol@corp.test",
        "--name",
        "Carol",
        "--password",
        "pw",
    ]);
    let file = data.join("directory.toml");
    let changes: &[&[&str]] = &[
        &[
            "dialplan",
            "set",
            "hq",
            "--extension-length",
            "5",
            "--pilot",
            "59999",
            "--country-code",
            "44",
        ],
        &[
            "policy",
            "set",
            "hq-policy",
            "--max-message-seconds",
            "90",
            "--min-message-seconds",
            "3",
            "--missed-call-notifications",
            "off",
            "--min-pin-length",
            "8",
            "--pin-lockout-calls",
            "4",
            "--common-pins",
            "on",
        ],
        &[
            "user",
            "set",
            "carol@corp.test",
            "--missed-call-notifications",
            "off",
        ],
    ];
    for change in changes {
        let before = std::fs::read(&file).unwrap();
        let dry = ok(&[&["--dry-run"], *change].concat());
        assert!(dry.contains("dry run: nothing was saved"), "{dry}");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            before,
            "{change:?} --dry-run saved"
        );
        ok(change);
        let after = std::fs::read(&file).unwrap();
        assert_ne!(after, before, "{change:?} changed nothing");
        ok(change);
        assert_eq!(
            std::fs::read(&file).unwrap(),
            after,
            "{change:?} is not idempotent"
        );
    }
    let plan = ok(&["dialplan", "show", "hq"]);
    for expected in [
        "extension_length = 5",
        "pilot_numbers = [\"59999\"]",
        "country_code = \"44\"",
    ] {
        assert!(plan.contains(expected), "{plan}");
    }
    let policy = ok(&["policy", "show", "hq-policy"]);
    for expected in [
        "max_message_seconds = 90",
        "min_message_seconds = 3",
        "allow_missed_call_notifications = false",
        "min_pin_length = 8",
        "pin_lockout_calls = 4",
        "allow_common_pins = true",
    ] {
        assert!(policy.contains(expected), "{policy}");
    }
    let carol = ok(&["user", "show", "carol@corp.test"]);
    assert!(
        carol.contains("missed_call_notifications = false"),
        "{carol}"
    );
    ok(&[
        "user",
        "set",
        "carol@corp.test",
        "--missed-call-notifications",
        "on",
    ]);
    let carol = ok(&["user", "show", "carol@corp.test"]);
    assert!(
        !carol.contains("missed_call_notifications"),
        "the default is not written: {carol}"
    );
    // A dry run checks like the real thing: the error names the field.
    let (success, _, err) = admin(
        &data,
        &[
            "--dry-run",
            "dialplan",
            "set",
            "hq",
            "--extension-length",
            "0",
        ],
    );
    assert!(!success && err.contains("extension_length"), "{err}");
    let (success, _, err) = admin(
        &data,
        &["policy", "set", "nowhere", "--max-message-seconds", "9"],
    );
    assert!(!success && err.contains("nowhere"), "{err}");
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn working_hours_are_stored_in_the_mailbox_and_bad_ones_name_their_option() {
    let data = temp_dir("cli-hours");
    let ok = |args: &[&str]| admin_ok(&data, args);
    ok(&["dialplan", "add", "hq", "--extension-length", "4"]);
    ok(&[
        "user",
        "add",
        "carol@corp.test",
        "--name",
        "Carol",
        "--password",
        "pw",
    ]);
    let hours = [
        "user",
        "working-hours",
        "carol@corp.test",
        "--days",
        "Monday-Thursday",
        "--start",
        "07:30",
        "--end",
        "16:00",
        "--time-zone",
        "W. Europe Standard Time",
    ];
    let dry = ok(&[&["--dry-run"], &hours[..]].concat());
    assert!(dry.contains("nothing was saved"), "{dry}");
    assert!(
        !data.join("mailboxes.redb").exists(),
        "a dry run opened the store"
    );
    let done = ok(&hours);
    assert!(done.contains("Monday-Thursday, 07:30-16:00"), "{done}");
    assert!(data.join("mailboxes.redb").exists());
    for (option, value) in [
        ("--days", "Mon-Fri"),
        ("--start", "7h30"),
        ("--end", "06:00"),
        ("--time-zone", "Mars Standard Time"),
    ] {
        let mut args = hours.to_vec();
        let at = args.iter().position(|a| *a == option).unwrap();
        args[at + 1] = value;
        let (success, _, err) = admin(&data, &args);
        assert!(!success && err.contains(option), "{option}: {err}");
    }
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn bad_input_names_the_field_and_changes_nothing() {
    let data = temp_dir("cli-bad");
    let (success, _, err) = admin(
        &data,
        &[
            "dialplan",
            "add",
            "hq",
            "--extension-length",
            "4",
            "--pilot",
            "4999",
        ],
    );
    assert!(success, "{err}");
    let file = data.join("directory.toml");
    let before = std::fs::read(&file).unwrap();
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "user",
                "add",
                "not-an-address",
                "--name",
                "X",
                "--password",
                "p",
            ],
            "users[0].address",
        ),
        (
            &[
                "user",
                "add",
                "x@corp.test",
                "--name",
                "X",
                "--password",
                "p",
                "--extension",
                "12",
            ],
            "users[0].extensions[0].number",
        ),
        (
            &[
                "user",
                "add",
                "x@corp.test",
                "--name",
                "X",
                "--password",
                "p",
                "--extension",
                "4999",
            ],
            "pilot number",
        ),
        (&["user", "add", "x@corp.test", "--password", "p"], "--name"),
        (
            &[
                "user",
                "add",
                "x@corp.test",
                "--name",
                "X",
                "--password",
                "p",
                "--policy",
                "none",
            ],
            "users[0].um_policy",
        ),
        (
            &[
                "user",
                "add",
                "x@corp.test",
                "--name",
                "X",
                "--password",
                "p",
                "--sip-uri",
                "alice",
            ],
            "users[0].sip_uri",
        ),
        (
            &[
                "gateway",
                "add",
                "g",
                "--address",
                "127.0.0.1",
                "--dial-plan",
                "nowhere",
            ],
            "gateways[0].dial_plan",
        ),
        (
            &["dialplan", "add", "bad name", "--extension-length", "4"],
            "dial_plans[1].name",
        ),
        (
            &["dialplan", "add", "zero", "--extension-length", "0"],
            "dial_plans[1].extension_length",
        ),
        (&["user", "remove", "ghost@corp.test"], "not found"),
    ];
    for (args, expected) in cases {
        let (success, _, err) = admin(&data, args);
        assert!(!success, "{args:?} should fail");
        assert!(
            err.contains(expected),
            "{args:?}: {err:?} should mention {expected}"
        );
        assert_eq!(
            std::fs::read(&file).unwrap(),
            before,
            "{args:?} changed the directory"
        );
    }
    // A dial plan in use cannot be removed.
    let (success, _, err) = admin(
        &data,
        &[
            "user",
            "add",
            "x@corp.test",
            "--name",
            "X",
            "--password",
            "p",
            "--extension",
            "4001",
        ],
    );
    assert!(success, "{err}");
    let (success, _, err) = admin(&data, &["dialplan", "remove", "hq"]);
    assert!(
        !success && err.contains("users[0].extensions[0].dial_plan"),
        "{err}"
    );
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn import_merges_and_hashes_passwords() {
    let data = temp_dir("import");
    let file = data.join("import.toml");
    std::fs::write(
        &file,
        r#"
[[dial_plans]]
name = "default"
extension_length = 4
pilot_numbers = ["1999"]

[[users]]
address = "dave@example.test"
display_name = "Dave Doe"
password = "pw-dave"
extensions = [{ dial_plan = "default", number = "1003" }]
"#,
    )
    .unwrap();
    let (success, out, err) = admin(&data, &["import", file.to_str().unwrap()]);
    assert!(success, "{err}");
    assert_eq!(
        out.trim(),
        "imported 1 users, 1 dial plans, 0 policies, 0 gateways"
    );
    let stored = std::fs::read_to_string(data.join("directory.toml")).unwrap();
    assert!(
        stored.contains("$argon2id$") && !stored.contains("pw-dave"),
        "{stored}"
    );

    std::fs::write(
        &file,
        "[[users]]\naddress = \"eve@example.test\"\ndisplay_name = \"Eve\"\ncolour = \"red\"\n",
    )
    .unwrap();
    let (success, _, err) = admin(&data, &["import", file.to_str().unwrap()]);
    assert!(!success && err.contains("colour"), "{err}");
    std::fs::write(
        &file,
        "[[users]]\naddress = \"eve@example.test\"\ndisplay_name = \"Eve\"\n",
    )
    .unwrap();
    let (success, _, err) = admin(&data, &["import", file.to_str().unwrap()]);
    assert!(!success && err.contains("users[0].password"), "{err}");
    let _ = std::fs::remove_dir_all(&data);
}

#[test]
fn pins_are_checked_stored_hashed_and_reset() {
    let data = temp_dir("cli-pin");
    let ok = |args: &[&str]| admin_ok(&data, args);
    ok(&["dialplan", "add", "hq", "--extension-length", "4"]);
    ok(&[
        "policy",
        "add",
        "p",
        "--dial-plan",
        "hq",
        "--min-pin-length",
        "8",
    ]);
    ok(&[
        "user",
        "add",
        "x@corp.test",
        "--name",
        "X",
        "--password",
        "p",
        "--policy",
        "p",
    ]);
    let file = data.join("directory.toml");
    let before = std::fs::read(&file).unwrap();
    for (pin, why) in [
        ("2405178", "8 to 16 digits"),
        ("24051x78", "digits only"),
        ("33333333", "one digit repeated"),
        ("34567890", "consecutive"),
    ] {
        let (success, _, err) = admin(&data, &["user", "set", "x@corp.test", "--pin", pin]);
        assert!(!success, "{pin} accepted");
        assert!(err.contains("--pin") && err.contains(why), "{pin}: {err}");
        assert_eq!(
            std::fs::read(&file).unwrap(),
            before,
            "{pin} changed the file"
        );
    }
    ok(&["user", "set", "x@corp.test", "--pin", "24051789"]);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("24051789") && text.contains("[users.pin]"),
        "{text}"
    );
    assert!(ok(&["user", "show", "x@corp.test"]).contains("hash = \"(set)\""));

    // A locked PIN, as the media server leaves it after too many failed calls.
    std::fs::write(
        &file,
        text.replace(
            "[users.pin]\n",
            "[users.pin]\nfailed_calls = 5\nlocked = true\n",
        ),
    )
    .unwrap();
    let reset = ok(&["user", "reset-pin", "x@corp.test"]);
    let digits = reset.trim().rsplit(' ').next().unwrap();
    assert_eq!(digits.len(), 8, "{reset}");
    assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{reset}");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        !text.contains("locked") && !text.contains("failed_calls") && !text.contains(digits),
        "{text}"
    );
    let (success, _, err) = admin(&data, &["user", "reset-pin", "ghost@corp.test"]);
    assert!(!success && err.contains("not found"), "{err}");
    let _ = std::fs::remove_dir_all(&data);
}
