"""exchangelib (PyPI), unmodified, paging through a folder of a few thousand items: newest first,
only the unread ones newest first, and a page at the far end (FindItem served by the store's
indexes).

Run by tests/it/exchangelib_find.rs, which seeds Alice's Inbox before starting the server with
UMBOX_LARGE_COUNT notes "Note 0000".. received one minute apart from UMBOX_SEED_EPOCH; note n is
unread when n is a multiple of 3.
Environment: UMBOX_EWS_URL, UMBOX_USER, UMBOX_PASSWORD, UMBOX_SEED_EPOCH, UMBOX_LARGE_COUNT.
Prints one "ok ..." line per check; any failure raises.
"""

import datetime
import os

from test_find import account, check


def main():
    a = account()
    count = int(os.environ["UMBOX_LARGE_COUNT"])
    epoch = datetime.datetime.fromtimestamp(int(os.environ["UMBOX_SEED_EPOCH"]), tz=datetime.timezone.utc)
    newest_first = list(range(count - 1, -1, -1))

    check("large folder counts", (a.inbox.all().count(), a.inbox.filter(is_read=False).count()),
          (count, len(range(0, count, 3))))

    qs = a.inbox.all().only("subject", "datetime_received", "is_read").order_by("-datetime_received")
    qs.page_size = 100
    seen = [(i.subject, i.datetime_received, i.is_read) for i in qs]
    check(
        "paged newest first",
        seen,
        [(f"Note {n:04}", epoch + datetime.timedelta(minutes=n), n % 3 != 0) for n in newest_first],
    )

    qs = a.inbox.filter(is_read=False).only("subject", "is_read").order_by("-datetime_received")
    qs.page_size = 100
    check(
        "paged unread newest first",
        [(i.subject, i.is_read) for i in qs],
        [(f"Note {n:04}", False) for n in newest_first if n % 3 == 0],
    )

    tail = a.inbox.all().only("subject").order_by("-datetime_received")[count - 5:count]
    check("the oldest page", [i.subject for i in tail], [f"Note {n:04}" for n in range(4, -1, -1)])


if __name__ == "__main__":
    main()
