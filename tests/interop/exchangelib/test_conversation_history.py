"""exchangelib (PyPI), unmodified, writing Conversation History as Lync does: an IM conversation
(IPM.Note.Microsoft.Conversation), a call log (IPM.Note.Microsoft.Conversation.Voice), a missed
IM (IPM.Note.Microsoft.Missed) and a missed call (IPM.Note.Microsoft.Missed.Voice), each saved
unsent (CreateItem SaveOnly) with Lync's properties: the history read, the missed ones unread.

Checks that every item reads back with its class, subject, HTML body, sender, recipients and
extended properties intact; that the folder's unread count, which Lync shows as its missed-
conversations count, is the number of unread missed items; and that a pull subscription on the
folder sees the count change when a missed item is read.
Environment: UMBOX_EWS_URL, UMBOX_USER, UMBOX_PASSWORD. Prints one "ok ..." line per check.
"""

import os
import warnings

from exchangelib import ExtendedProperty, HTMLBody, Mailbox, Message
from exchangelib.protocol import BaseProtocol, NoVerifyHTTPAdapter
from umbox_kit import account, check

warnings.filterwarnings("ignore")  # the test certificate is self-signed
BaseProtocol.HTTP_ADAPTER_CLS = NoVerifyHTTPAdapter


class MessageClass(ExtendedProperty):
    """PidTagMessageClass (ItemClass is read-only in exchangelib)."""

    property_tag = 0x001A
    property_type = "String"


class ConversationId(ExtendedProperty):
    """A named string property in PublicStrings, standing for the conversation keys Lync keeps."""

    distinguished_property_set_id = "PublicStrings"
    property_name = "x-ms-lync-conversation-id"
    property_type = "String"


class Duration(ExtendedProperty):
    """PidTagVoiceMessageDuration-style integer: a call log's length in seconds (0x6801)."""

    property_tag = 0x6801
    property_type = "Integer"


Message.register("message_class", MessageClass)
Message.register("lync_conversation", ConversationId)
Message.register("call_seconds", Duration)


ITEMS = [
    # (class, subject, read, seconds)
    ("IPM.Note.Microsoft.Conversation", "Conversation with Bob Berg", True, None),
    ("IPM.Note.Microsoft.Conversation.Voice", "Call with Bob Berg", True, 184),
    ("IPM.Note.Microsoft.Missed", "Missed conversation with Bob Berg", False, None),
    ("IPM.Note.Microsoft.Missed.Voice", "Missed call from Bob Berg", False, 0),
]


def main():
    a = account()
    history = a.conversation_history
    subscription, watermark = history.subscribe_to_pull(timeout=5)
    for n, (item_class, subject, read, seconds) in enumerate(ITEMS):
        message = Message(
            account=a,
            folder=history,
            subject=subject,
            body=HTMLBody(f"<html><body><p>[10:0{n}] Bob Berg: hello {n}</p></body></html>"),
            author=Mailbox(name="Bob Berg", email_address="bob@example.test"),
            to_recipients=[Mailbox(name="Alice Anders", email_address=os.environ["UMBOX_USER"])],
            is_read=read,
        )
        message.message_class = item_class
        message.lync_conversation = f"conversation-{n}"
        if seconds is not None:
            message.call_seconds = seconds
        message.save()

    for n, (item_class, subject, read, seconds) in enumerate(ITEMS):
        item = history.get(subject=subject)
        check(f"{item_class}: class", item.item_class, item_class)
        check(f"{item_class}: read state", item.is_read, read)
        check(f"{item_class}: sender", (item.author.name, item.author.email_address), ("Bob Berg", "bob@example.test"))
        check(f"{item_class}: recipient", [r.email_address for r in item.to_recipients], [os.environ["UMBOX_USER"]])
        check(f"{item_class}: HTML body", f"Bob Berg: hello {n}" in str(item.body), True)
        check(f"{item_class}: named property", item.lync_conversation, f"conversation-{n}")
        check(f"{item_class}: call length", item.call_seconds, seconds)

    history.refresh()
    check("missed conversations: the folder's unread count", history.unread_count, 2)
    missed = history.filter(item_class__startswith="IPM.Note.Microsoft.Missed", is_read=False)
    check("missed conversations: the unread missed items", sorted(m.subject for m in missed), sorted(s for _, s, r, _ in ITEMS if not r))

    first = list(history.get_events(subscription, watermark))
    created = [type(e).__name__ for n in first for e in n.events if type(e).__name__ == "CreatedEvent"]
    check("pull: the four items created", len(created), 4)
    watermark = first[-1].events[-1].watermark
    item = history.get(subject="Missed call from Bob Berg")
    item.is_read = True
    item.save(update_fields=["is_read"])
    changed = [
        (type(e).__name__, getattr(e, "unread_count", None))
        for n in history.get_events(subscription, watermark)
        for e in n.events
    ]
    check("pull: reading a missed call lowers the count to one", ("ModifiedEvent", 1) in changed, True)
    history.refresh()
    check("missed conversations after reading one", history.unread_count, 1)
    history.unsubscribe(subscription)
    print("ok all", flush=True)


if __name__ == "__main__":
    main()
