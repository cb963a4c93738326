"""exchangelib (PyPI, unmodified) against umbox's EWS items and attachments.

Run by tests/it/exchangelib_items.rs with the server's URL and two demo accounts in the
environment (UMBOX_EWS_URL, UMBOX_USER, UMBOX_PASSWORD, UMBOX_PEER, UMBOX_PEER_PASSWORD).
Every flow uses GetItem by id, never FindItem: message with an extended property (0x6801,
PidTagVoiceMessageDuration) created and read back, read flag on and off, attachments up and down
byte for byte, a full save of a draft (MimeContent included), a voice mail and windows-1252 and
ISO-2022-JP messages imported from MIME, a contact and a calendar item, move, copy, the three
kinds of delete, and sending to a local recipient.
Prints one line per checked step; any failed assert ends the script with a traceback.
"""

import os
import sys
from pathlib import Path

from exchangelib import (
    BASIC,
    DELEGATE,
    UTC,
    Account,
    CalendarItem,
    Configuration,
    Contact,
    Credentials,
    EWSDateTime,
    ExtendedProperty,
    FileAttachment,
    HTMLBody,
    ItemAttachment,
    Mailbox,
    Message,
)
from exchangelib.errors import ErrorItemNotFound
from exchangelib.indexed_properties import EmailAddress, PhoneNumber
from exchangelib.items import SOFT_DELETE
from exchangelib.protocol import BaseProtocol, NoVerifyHTTPAdapter
from exchangelib.version import Build, Version

# umbox serves a self-signed certificate in tests.
BaseProtocol.HTTP_ADAPTER_CLS = NoVerifyHTTPAdapter


class VoiceMessageDuration(ExtendedProperty):
    """PidTagVoiceMessageDuration (MS-OXOUM), seconds of audio."""

    property_tag = 0x6801
    property_type = "Integer"


class CallerNumber(ExtendedProperty):
    """PidTagSenderTelephoneNumber (MS-OXOUM)."""

    property_tag = 0x6802
    property_type = "String"


Message.register("voice_duration", VoiceMessageDuration)
Message.register("caller_number", CallerNumber)


def account(address, password):
    config = Configuration(
        service_endpoint=os.environ["UMBOX_EWS_URL"],
        credentials=Credentials(address, password),
        auth_type=BASIC,
        # The version is fixed so that exchangelib skips its ConvertId probe.
        version=Version(build=Build(15, 1, 2507, 39), api_version="Exchange2016"),
    )
    return Account(address, config=config, autodiscover=False, access_type=DELEGATE)


def step(name):
    print(f"ok {name}", flush=True)


def main():
    me = account(os.environ["UMBOX_USER"], os.environ["UMBOX_PASSWORD"])
    peer_address = os.environ["UMBOX_PEER"]
    peer = account(peer_address, os.environ["UMBOX_PEER_PASSWORD"])

    payload = bytes(range(256)) * 400 + b"\x00tail\xff"
    message = Message(
        account=me,
        folder=me.drafts,
        subject="Voice mail from +14255550123",
        body=HTMLBody("<p>Listen to the <b>attachment</b></p>"),
        to_recipients=[Mailbox(email_address=peer_address)],
        categories=["Voicemail"],
        voice_duration=42,
        caller_number="+14255550123",
    )
    message.attach(FileAttachment(name="audio.wav", content=payload, content_type="audio/wav"))
    message.save()
    assert message.id and message.changekey
    assert message.attachments[0].attachment_id is not None
    step("create message with extended properties and an attachment")

    fetched = me.drafts.get(id=message.id)
    assert fetched.subject == "Voice mail from +14255550123", fetched.subject
    assert fetched.voice_duration == 42, fetched.voice_duration
    assert fetched.caller_number == "+14255550123", fetched.caller_number
    assert "<b>attachment</b>" in fetched.body, fetched.body
    assert fetched.categories == ["Voicemail"], fetched.categories
    assert [r.email_address for r in fetched.to_recipients] == [peer_address]
    assert fetched.is_draft is True
    assert fetched.has_attachments is True
    assert len(fetched.attachments) == 1
    assert fetched.attachments[0].content == payload, "attachment bytes differ"
    assert fetched.mime_content and b"MIME-Version: 1.0" in fetched.mime_content
    step("read back: properties, extended properties, body, attachment bytes, MIME")

    fetched.is_read = True
    fetched.save(update_fields=["is_read"])
    assert me.drafts.get(id=fetched.id).is_read is True
    fetched.is_read = False
    fetched.save(update_fields=["is_read"])
    assert me.drafts.get(id=fetched.id).is_read is False
    step("mark read and unread")

    fetched.subject = "Renamed"
    fetched.voice_duration = 7
    fetched.save(update_fields=["subject", "voice_duration"])
    again = me.drafts.get(id=fetched.id)
    assert (again.subject, again.voice_duration) == ("Renamed", 7), (again.subject, again.voice_duration)
    step("update subject and extended property")

    second = bytes(reversed(payload))[:5000]
    extra = FileAttachment(name="second.bin", content=second)
    again.attach(extra)
    assert extra.attachment_id is not None
    with_two = me.drafts.get(id=again.id)
    assert sorted(a.name for a in with_two.attachments) == ["audio.wav", "second.bin"]
    by_name = {a.name: a for a in with_two.attachments}
    assert by_name["second.bin"].content == second
    assert by_name["audio.wav"].content == payload
    with_two.detach(by_name["second.bin"])
    assert [a.name for a in me.drafts.get(id=with_two.id).attachments] == ["audio.wav"]
    step("attachment added, downloaded byte for byte, removed")

    inner = Message(subject="Inner message", body="inner body")
    with_item = me.drafts.get(id=with_two.id)
    with_item.attach(ItemAttachment(name="Forwarded", item=inner))
    reread = me.drafts.get(id=with_item.id)
    embedded = [a for a in reread.attachments if isinstance(a, ItemAttachment)]
    assert len(embedded) == 1
    assert embedded[0].item.subject == "Inner message", embedded[0].item.subject
    step("item attachment")

    # exchangelib's plain save() of a fetched draft sends every field, MimeContent first.
    reread.subject = "Renamed again"
    reread.save()
    reread = me.drafts.get(id=reread.id)
    assert reread.subject == "Renamed again", reread.subject
    assert reread.voice_duration == 7
    assert sorted(a.name for a in reread.attachments) == ["Forwarded", "audio.wav"]
    reread.subject = "Renamed"
    reread.save(update_fields=["subject"])
    step("full save of a draft")

    old_id = reread.id
    reread.move(me.inbox)
    assert reread.id != old_id
    moved = me.inbox.get(id=reread.id)
    assert moved.subject == "Renamed"
    try:
        me.drafts.get(id=old_id)
        raise AssertionError("the old id still resolves after a move")
    except ErrorItemNotFound:
        pass
    step("move gives a new id")

    copy_id, copy_changekey = moved.copy(me.junk)
    copied = me.junk.get(id=copy_id)
    assert copied.subject == "Renamed" and copied.voice_duration == 7
    step("copy")

    trash_before = me.trash.refresh().total_count
    moved.move_to_trash()
    # Item.soft_delete() would then look up the Recoverable Items folder, which umbox does not
    # have (SoftDelete is a hard delete there); the bulk call sends the same DeleteItem.
    results = me.bulk_delete(ids=[copied], delete_type=SOFT_DELETE)
    assert results == [True], results
    trashed_count = me.trash.refresh().total_count
    assert trashed_count == trash_before + 1, (trash_before, trashed_count)
    assert me.junk.refresh().total_count == 0
    step("move to trash and soft delete")

    scratch = Message(account=me, folder=me.drafts, subject="scratch")
    scratch.save()
    scratch_id = scratch.id
    scratch.delete()
    try:
        me.drafts.get(id=scratch_id)
        raise AssertionError("a hard-deleted item still resolves")
    except ErrorItemNotFound:
        pass
    step("hard delete")

    voice_mime = (
        b"From: \"+14255550199\" <um@example.test>\r\n"
        b"To: alice@example.test\r\n"
        b"Subject: Voice Mail from +14255550199 (0:30)\r\n"
        b"Date: Thu, 01 Jan 2026 10:00:00 +0000\r\n"
        b"Content-Class: voice-ca\r\n"
        b"X-VoiceMessageDuration: 30\r\n"
        b"X-CallingTelephoneNumber: +14255550199\r\n"
        b"MIME-Version: 1.0\r\n"
        b"Content-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n"
        b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nYou received a voice mail.\r\n"
        b"--b1\r\nContent-Type: audio/wav; name=\"audio.wav\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        b"UklGRgAAAAA=\r\n--b1--\r\n"
    )
    imported = Message(account=me, folder=me.inbox, mime_content=voice_mime)
    imported.save()
    voice = me.inbox.get(id=imported.id)
    assert voice.item_class == "IPM.Note.Microsoft.Voicemail.UM.CA", voice.item_class
    assert voice.voice_duration == 30 and voice.caller_number == "+14255550199"
    assert voice.subject == "Voice Mail from +14255550199 (0:30)"
    assert [a.name for a in voice.attachments] == ["audio.wav"]
    assert voice.attachments[0].content == b"RIFF\x00\x00\x00\x00"
    step("voice mail imported from MIME")

    # Messages in other charsets, from the fixtures the EWS unit tests read too
    # (scripts/mime-fixtures.py wrote them with Python's codecs).
    fixtures = Path(__file__).resolve().parents[3] / "fixtures" / "mime"
    for case in ["windows-1252", "iso-2022-jp"]:
        expected = dict(
            line.split(": ", 1)
            for line in (fixtures / f"{case}.expected").read_text(encoding="utf-8").splitlines()
        )
        blob = (fixtures / f"{case}.eml").read_bytes()
        imported = Message(account=me, folder=me.inbox, mime_content=blob)
        imported.save()
        message = me.inbox.get(id=imported.id)
        assert message.subject == expected["subject"], (case, message.subject)
        sender = f"{message.author.name} <{message.author.email_address}>"
        assert sender == expected["from"], (case, sender)
        body = str(message.body).replace("\r\n", "\n").strip()
        assert body == expected["body"].replace("\\n", "\n"), (case, body)
    step("windows-1252 and ISO-2022-JP messages imported from MIME")

    contact = Contact(
        account=me,
        folder=me.contacts,
        given_name="Dana",
        surname="Dee",
        display_name="Dana Dee",
        email_addresses=[EmailAddress(label="EmailAddress1", email="dana@example.org")],
        phone_numbers=[PhoneNumber(label="MobilePhone", phone_number="+15550100")],
    )
    contact.save()
    contact = me.contacts.get(id=contact.id)
    assert [e.email for e in contact.email_addresses] == ["dana@example.org"]
    contact.surname = "Doe"
    contact.save()
    assert me.contacts.get(id=contact.id).surname == "Doe"
    event = CalendarItem(
        account=me,
        folder=me.calendar,
        subject="Standup",
        start=EWSDateTime(2026, 1, 2, 9, tzinfo=UTC),
        end=EWSDateTime(2026, 1, 2, 9, 15, tzinfo=UTC),
        location="Room 1",
    )
    event.save()
    event = me.calendar.get(id=event.id)
    assert event.start == EWSDateTime(2026, 1, 2, 9, tzinfo=UTC) and event.location == "Room 1"
    event.location = "Room 2"
    event.save()
    assert me.calendar.get(id=event.id).location == "Room 2"
    step("contact and calendar item created, read and saved")

    before = peer.inbox.refresh().unread_count
    Message(
        account=me,
        folder=me.sent,
        subject="Hello Bob",
        body="Sent through umbox",
        to_recipients=[Mailbox(email_address=peer_address)],
    ).send_and_save()
    assert peer.inbox.refresh().unread_count == before + 1
    assert me.sent.refresh().total_count >= 1
    draft = Message(
        account=me, folder=me.drafts, subject="Draft to send", to_recipients=[Mailbox(email_address=peer_address)]
    )
    draft.save()
    drafts_before = me.drafts.refresh().total_count
    draft.send()
    assert me.drafts.refresh().total_count == drafts_before - 1
    assert peer.inbox.refresh().unread_count == before + 2
    step("send to a local recipient")

    print("all item flows passed", flush=True)


if __name__ == "__main__":
    sys.exit(main())
