"""exchangelib (PyPI), unmodified, against umbox's EWS: the folder tree, the voicemail and
Conversation History folders, paging, filtering and sorting through FindItem, SyncFolderItems and
SyncFolderHierarchy, and the folder operations (create, rename, move, delete to Deleted Items)
with their counts.

Run by tests/it/exchangelib_find.rs, which seeds the mailbox before starting the server:
  - Inbox: 500 notes "Item 000".."Item 499" (even ones read), received one minute apart from
    SEED_EPOCH, and 2 unread voicemails;
  - Inbox/Archive: 1 read voicemail and 1 unread note;
  - Conversation History: 1 unread missed conversation.
Environment: UMBOX_EWS_URL, UMBOX_USER, UMBOX_PASSWORD, UMBOX_SEED_EPOCH (Unix seconds).
Prints one "ok ..." line per check; any failure raises.
"""

import datetime
import os
import warnings

from exchangelib import Folder, Q
from exchangelib.folders import Calendar, FolderCollection
from exchangelib.protocol import BaseProtocol, NoVerifyHTTPAdapter
from umbox_kit import account, check

warnings.filterwarnings("ignore")  # the test certificate is self-signed
BaseProtocol.HTTP_ADAPTER_CLS = NoVerifyHTTPAdapter


def counts(folder):
    folder.refresh()
    return (folder.total_count, folder.unread_count, folder.child_folder_count)


def sync_changes(folder, **kwargs):
    return [(kind, getattr(item, "subject", None)) for kind, item in folder.sync_items(only_fields=["subject"], **kwargs)]


def main():
    a = account()
    epoch = datetime.datetime.fromtimestamp(int(os.environ["UMBOX_SEED_EPOCH"]), tz=datetime.timezone.utc)

    # The folder tree, as FindFolder (Deep) and GetFolder show it.
    names = {f.name for f in a.root.walk()}
    for name in ("Top of Information Store", "Inbox", "Voice Mail", "Conversation History", "Archive"):
        check(f"tree has {name}", name in names, True)
    check("voicemail counts", counts(a.voice_mail), (3, 2, 0))
    check("conversation history counts", counts(a.conversation_history), (1, 1, 0))
    check("inbox counts", counts(a.inbox), (502, 252, 1))

    # Paging: exchangelib pages FindItem with IndexedPageItemView, 100 at a time.
    qs = a.inbox.filter(subject__startswith="Item ").only("subject", "is_read").order_by("subject")
    qs.page_size = 100
    subjects = [i.subject for i in qs]
    check("paged through 500 items in order", subjects, [f"Item {n:03}" for n in range(500)])
    check("count", a.inbox.all().count(), 502)
    # A slice is one FindItem with Offset 250 and MaxEntriesReturned 3 (exchangelib sizes the page
    # from the slice only when no page size was set).
    sliced = a.inbox.filter(subject__startswith="Item ").only("subject").order_by("subject")[250:253]
    check("offset and limit", [i.subject for i in sliced], ["Item 250", "Item 251", "Item 252"])

    # Filters and sort orders.
    check(
        "istartswith",
        sorted(i.subject for i in a.inbox.filter(subject__istartswith="item 01").only("subject")),
        [f"Item {n:03}" for n in range(10, 20)],
    )
    check("unread", a.inbox.filter(is_read=False).count(), 252)
    check(
        "voicemail by class",
        a.inbox.filter(item_class__startswith="IPM.Note.Microsoft.Voicemail").count(),
        2,
    )
    received = epoch + datetime.timedelta(minutes=495)
    check(
        "received at or after, newest first",
        [i.subject for i in a.inbox.filter(datetime_received__gte=received, subject__startswith="Item").only("subject").order_by("-datetime_received")],
        ["Item 499", "Item 498", "Item 497", "Item 496", "Item 495"],
    )
    check(
        "or and not",
        sorted(i.subject for i in a.inbox.filter((Q(subject="Item 001") | Q(subject="item 002")) & ~Q(is_read=True)).only("subject")),
        ["Item 001"],
    )
    check(
        "two sort keys",
        [(i.is_read, i.subject) for i in a.inbox.filter(subject__in=["Item 003", "Item 004", "Item 005"]).only("subject", "is_read").order_by("-is_read", "-subject")],
        [(True, "Item 004"), (False, "Item 005"), (False, "Item 003")],
    )
    check("voicemail folder lists voice items of every folder", sorted(i.subject for i in a.voice_mail.all().only("subject")), ["Voice Mail 1", "Voice Mail 2", "Voice Mail 3"])

    # SyncFolderItems on the voicemail search folder, two changes per call.
    changes = sync_changes(a.voice_mail, max_changes_returned=2)
    check("initial voicemail sync", sorted(changes), [("create", "Voice Mail 1"), ("create", "Voice Mail 2"), ("create", "Voice Mail 3")])
    check("nothing new", sync_changes(a.voice_mail), [])
    archive = a.inbox / "Archive"
    archive.empty(delete_type="MoveToDeletedItems")
    check("archive emptied into Deleted Items", (counts(archive), counts(a.trash)[:2]), ((0, 0, 0), (2, 1)))
    check("voicemail counts after the move", counts(a.voice_mail)[:2], (3, 2))
    check("a moved voicemail has a new id", sorted(k for k, _ in sync_changes(a.voice_mail)), ["create", "delete"])
    a.trash.empty()
    check("deleted items emptied", counts(a.trash), (0, 0, 0))
    check("voicemail after the hard delete", ([k for k, _ in sync_changes(a.voice_mail)], counts(a.voice_mail)[:2]), (["delete"], (2, 2)))

    # Folder operations and SyncFolderHierarchy below the inbox.
    initial = [(kind, f.name) for kind, f in a.inbox.sync_hierarchy()]
    check("initial hierarchy", initial, [("create", "Archive")])
    projects = Folder(parent=a.inbox, name="Projects")
    projects.save()
    shifts = Calendar(parent=a.inbox, name="Shifts")
    shifts.save()
    check("inbox child folders", counts(a.inbox)[2], 3)
    check("calendar folder class", (a.inbox / "Shifts").folder_class, "IPF.Appointment")
    check("created folders", sorted((kind, f.name) for kind, f in a.inbox.sync_hierarchy()), [("create", "Projects"), ("create", "Shifts")])
    projects.name = "Projects 2"
    projects.save()
    check("renamed folder", [(kind, f.name) for kind, f in a.inbox.sync_hierarchy()], [("update", "Projects 2")])
    projects.delete()
    shifts.delete()
    deleted = [kind for kind, _ in a.inbox.sync_hierarchy()]
    check("deleted folders", deleted, ["delete", "delete"])
    check("inbox child folders after delete", counts(a.inbox)[2], 1)
    try:
        a.inbox.delete()
        raise AssertionError("the inbox was deleted")
    except Exception as e:  # exchangelib raises the EWS error class by name
        check("distinguished folders stay", type(e).__name__, "ErrorDeleteDistinguishedFolder")

    # MoveFolder keeps the folder's id; a folder deleted to Deleted Items moves there, and deleting
    # it there again is for good.
    moving = Folder(parent=a.inbox, name="Moving")
    moving.save()
    Folder(parent=moving, name="Inside").save()
    check("created before the move", sorted((kind, f.name) for kind, f in a.inbox.sync_hierarchy()), [("create", "Inside"), ("create", "Moving")])
    moving.move(a.junk)
    check("moved folder counts", (counts(a.inbox)[2], counts(a.junk)[2]), (1, 1))
    check("the inbox hierarchy loses the moved folder", [kind for kind, _ in a.inbox.sync_hierarchy()], ["delete", "delete"])
    moving.delete(delete_type="MoveToDeletedItems")
    check("deleted folder moved to Deleted Items", (counts(a.junk)[2], counts(a.trash)[2]), (0, 1))
    # FindFolder rather than exchangelib's folder cache, which does not follow the move.
    trashed = [f for f in FolderCollection(account=a, folders=[a.trash]).find_folders() if f.name == "Moving"]
    check("one folder of that name in Deleted Items", len(trashed), 1)
    trashed = trashed[0]
    check("its subfolder moved with it", [f.name for f in FolderCollection(account=a, folders=[trashed]).find_folders()], ["Inside"])
    trashed.delete(delete_type="MoveToDeletedItems")
    check("deleted for good from Deleted Items", counts(a.trash)[2], 0)
    check("conversation history counts at the end", counts(a.conversation_history)[:2], (1, 1))


if __name__ == "__main__":
    main()
