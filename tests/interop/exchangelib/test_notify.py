"""exchangelib (PyPI), unmodified, against umbox's EWS notifications: pull, push and streaming
subscriptions on the inbox, the voicemail folder and Conversation History.

A second exchangelib client of alice changes the mailbox between the checks: "send" makes an unread
message arrive in the inbox (CreateItem SendOnly to alice: new mail), "save" files an unread,
unsent item in a folder (CreateItem SaveOnly, as Lync files missed conversations in Conversation
History: no new mail), "read_last" marks the last one read (UpdateItem).
Environment: UMBOX_EWS_URL, UMBOX_USER, UMBOX_PASSWORD; with UMBOX_PUSH_CERT and UMBOX_PUSH_KEY (PEM
files) the push listener speaks HTTPS. It binds 127.0.0.1, so the server must allow private push
targets (and, for a self-signed certificate, accept it).
Prints one "ok ..." line per check; any failure raises.
"""

import http.server
import os
import queue
import ssl
import threading
import warnings

from exchangelib import ExtendedProperty, Message
from exchangelib.folders import FolderCollection
from exchangelib.protocol import BaseProtocol, NoVerifyHTTPAdapter
from exchangelib.services import SendNotification
from umbox_kit import account, check

warnings.filterwarnings("ignore")  # the test certificate is self-signed
BaseProtocol.HTTP_ADAPTER_CLS = NoVerifyHTTPAdapter


class MessageClass(ExtendedProperty):
    """PidTagMessageClass, so a second client can file a voice message (ItemClass is read-only)."""

    property_tag = 0x001A
    property_type = "String"


Message.register("message_class", MessageClass)


class Changer:
    """The second party that changes the mailbox."""

    def __init__(self):
        self.other = account()
        self.count = 0
        self.last = None

    def _subject(self, item_class):
        self.count += 1
        return f"{item_class} {self.count}"

    def send(self, item_class):
        subject = self._subject(item_class)
        message = Message(account=self.other, subject=subject, to_recipients=[os.environ["UMBOX_USER"]])
        message.message_class = item_class
        message.send(save_copy=False)
        self.last = lambda: self.other.inbox.get(subject=subject)

    def save(self, folder, item_class):
        target = {"conversationhistory": self.other.conversation_history}[folder]
        message = Message(account=self.other, folder=target, subject=self._subject(item_class), is_read=False)
        message.message_class = item_class
        message.save()
        self.last = lambda: message

    def read_last(self):
        item = self.last()
        item.is_read = True
        item.save(update_fields=["is_read"])


def kinds(notifications):
    """(event class, UnreadCount or None) for every event of the notifications."""
    out = []
    for notification in notifications:
        for event in notification.events:
            out.append((type(event).__name__, getattr(event, "unread_count", None)))
    return out


def pull_until_idle(folder, subscription_id, watermark):
    """GetEvents until MoreEvents is false; returns the events and the last watermark."""
    notifications = list(folder.get_events(subscription_id, watermark))
    last = notifications[-1].events[-1].watermark
    return kinds(notifications), last


def pull_checks(a, changes):
    inbox = a.inbox
    subscription_id, watermark = inbox.subscribe_to_pull(timeout=5)
    changes.send("IPM.Note")
    got, watermark = pull_until_idle(inbox, subscription_id, watermark)
    check(
        "pull: new mail in the inbox, with its unread count",
        got,
        [("CreatedEvent", None), ("NewMailEvent", None), ("ModifiedEvent", 1)],
    )
    changes.read_last()
    got, watermark = pull_until_idle(inbox, subscription_id, watermark)
    check("pull: marked read", got, [("ModifiedEvent", None), ("ModifiedEvent", 0)])
    got, _ = pull_until_idle(inbox, subscription_id, watermark)
    check("pull: idle is a lone StatusEvent", got, [("StatusEvent", None)])
    check("pull: unsubscribe", inbox.unsubscribe(subscription_id), True)

    voice, history = a.voice_mail, a.conversation_history
    voice_id, voice_mark = voice.subscribe_to_pull(timeout=5)
    history_id, history_mark = history.subscribe_to_pull(timeout=5)
    changes.send("IPM.Note.Microsoft.Voicemail.UM.CA")
    got, voice_mark = pull_until_idle(voice, voice_id, voice_mark)
    check(
        "pull: a voice message reaches the voicemail folder's subscription",
        got,
        [("CreatedEvent", None), ("NewMailEvent", None), ("ModifiedEvent", 1)],
    )
    got, history_mark = pull_until_idle(history, history_id, history_mark)
    check("pull: nothing in Conversation History", got, [("StatusEvent", None)])
    changes.save("conversationhistory", "IPM.Note.Microsoft.Missed")
    got, _ = pull_until_idle(history, history_id, history_mark)
    check("pull: a missed conversation filed by the client", got, [("CreatedEvent", None), ("ModifiedEvent", 1)])
    changes.read_last()
    got, _ = pull_until_idle(voice, voice_id, voice_mark)
    check("pull: the voicemail folder ignores other folders' items", got, [("StatusEvent", None)])
    # Each subscription is the caller's own and ends when asked.
    for subscription_id in (voice_id, history_id):
        voice.unsubscribe(subscription_id)
    print("ok pull: unsubscribed", flush=True)


def streaming_checks(a, changes):
    folders = FolderCollection(account=a, folders=[a.inbox, a.voice_mail])
    subscription_id = folders.subscribe_to_streaming()
    # Changes made before the connection opens wait for it: the subscription reads the log.
    changes.send("IPM.Note.Microsoft.Voicemail.UM.CA")
    got = kinds(a.inbox.get_streaming_events(subscription_id, connection_timeout=1, max_notifications_returned=1))
    check(
        "streaming: a voice message with both folders' unread counts",
        sorted(got, key=str),
        sorted([("CreatedEvent", None), ("NewMailEvent", None), ("ModifiedEvent", 2), ("ModifiedEvent", 2)], key=str),
    )
    changes.read_last()
    got = kinds(a.inbox.get_streaming_events(subscription_id, connection_timeout=1, max_notifications_returned=1))
    check(
        "streaming: marked read",
        sorted(got, key=str),
        sorted([("ModifiedEvent", None), ("ModifiedEvent", 1), ("ModifiedEvent", 1)], key=str),
    )
    check("streaming: unsubscribe", a.inbox.unsubscribe(subscription_id), True)


class PushListener(http.server.BaseHTTPRequestHandler):
    """Parses each SendNotification with exchangelib's own model and answers from `answers`."""

    notifications = queue.Queue()
    answers = queue.Queue()

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        service = SendNotification(protocol=None)
        parsed = list(service.parse(body))
        PushListener.notifications.put(parsed)
        answer = PushListener.answers.get_nowait() if not PushListener.answers.empty() else "OK"
        reply = service.ok_payload() if answer == "OK" else service.unsubscribe_payload()
        self.send_response(200)
        self.send_header("Content-Type", "text/xml; charset=utf-8")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, *args):
        pass


def push_checks(a, changes):
    listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), PushListener)
    scheme = "http"
    if os.environ.get("UMBOX_PUSH_CERT"):
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(os.environ["UMBOX_PUSH_CERT"], os.environ["UMBOX_PUSH_KEY"])
        listener.socket = context.wrap_socket(listener.socket, server_side=True)
        scheme = "https"
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    url = f"{scheme}://127.0.0.1:{listener.server_address[1]}/ews/push"
    subscription_id, _ = a.inbox.subscribe_to_push(url, status_frequency=1)
    changes.send("IPM.Note")
    got = kinds(PushListener.notifications.get(timeout=60))
    check(f"push over {scheme}: new mail", got[:2], [("CreatedEvent", None), ("NewMailEvent", None)])
    check("push: the inbox unread count", got[-1][0], "ModifiedEvent")
    # The next delivery is answered Unsubscribe, which ends the subscription.
    PushListener.answers.put("Unsubscribe")
    changes.read_last()
    got = kinds(PushListener.notifications.get(timeout=60))
    check("push: marked read", got[0], ("ModifiedEvent", None))
    listener.shutdown()
    print(f"push subscription {subscription_id} answered Unsubscribe", flush=True)


def main():
    a = account()
    changes = Changer()
    pull_checks(a, changes)
    streaming_checks(a, changes)
    push_checks(a, changes)
    print("ok all", flush=True)


if __name__ == "__main__":
    main()
