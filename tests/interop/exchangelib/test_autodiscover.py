"""exchangelib, unmodified, from an e-mail address alone: SOAP Autodiscover found through umbox's
own DNS zone, then the folder tree and the voicemail / conversation history counts over EWS.

Runs inside a network namespace whose resolver is umbox's DNS server (see
tests/it/exchangelib_autodiscover.rs). Environment: UMBOX_USER, UMBOX_PASSWORD, UMBOX_EWS_URL
(the URL autodiscovery must arrive at). Prints one JSON line of what it saw.
"""
import json
import os

from exchangelib import DELEGATE, Account, Credentials
from exchangelib.autodiscover import Autodiscovery, clear_cache
from exchangelib.protocol import BaseProtocol, NoVerifyHTTPAdapter

# umbox's certificate is self-signed.
BaseProtocol.HTTP_ADAPTER_CLS = NoVerifyHTTPAdapter
# dnspython reads /etc/resolv.conf, which `ip netns exec` points at umbox; say it explicitly too.
Autodiscovery.DNS_RESOLVER_ATTRS = {"nameservers": ["127.0.0.1"]}

user = os.environ["UMBOX_USER"]
clear_cache()
account = Account(
    user,
    credentials=Credentials(user, os.environ["UMBOX_PASSWORD"]),
    autodiscover=True,
    access_type=DELEGATE,
)
endpoint = account.protocol.service_endpoint
assert endpoint.lower() == os.environ["UMBOX_EWS_URL"].lower(), endpoint

names = sorted(f.name for f in account.root.walk())
for expected in ("Inbox", "Sent Items", "Deleted Items", "Drafts", "Contacts", "Calendar"):
    assert expected in names, (expected, names)

voice_mail = account.voice_mail
history = account.conversation_history
print(
    json.dumps(
        {
            "endpoint": endpoint,
            "version": account.version.api_version,
            "folders": len(names),
            "voice_mail": {"name": voice_mail.name, "total": voice_mail.total_count, "unread": voice_mail.unread_count},
            "conversation_history": {"name": history.name, "total": history.total_count, "unread": history.unread_count},
        }
    )
)
