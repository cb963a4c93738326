"""exchangelib (PyPI, unmodified) writes alice's voice-mail greeting through EWS user configuration.

Run by tests/it/greetings.rs with the server's URL, alice's account and two WAV files in the
environment (UMBOX_EWS_URL, UMBOX_USER, UMBOX_PASSWORD, UMBOX_FIRST_GREETING, UMBOX_GREETING).
The greeting lives where Exchange UM keeps it: the user configuration object
Um.CustomGreetings.External of the root folder, its BinaryData the WAV file. The script creates it
with the first file, replaces it with the second (UpdateUserConfiguration), reads it back
(GetUserConfiguration), checks that a second create is refused and that an unknown name is not
found, and lists the object among the root's associated items (FindItem Traversal=Associated).
Prints one line per checked step; any failed assert ends the script with a traceback.
"""

import os

from exchangelib import BASIC, DELEGATE, Account, Configuration, Credentials
from exchangelib.errors import ErrorItemNotFound, ErrorItemSave
from exchangelib.protocol import BaseProtocol, NoVerifyHTTPAdapter
from exchangelib.services import FindItem
from exchangelib.version import Build, Version

# umbox serves a self-signed certificate in tests.
BaseProtocol.HTTP_ADAPTER_CLS = NoVerifyHTTPAdapter

NAME = "Um.CustomGreetings.External"

config = Configuration(
    service_endpoint=os.environ["UMBOX_EWS_URL"],
    credentials=Credentials(os.environ["UMBOX_USER"], os.environ["UMBOX_PASSWORD"]),
    auth_type=BASIC,
    version=Version(build=Build(15, 1, 2507, 39)),
)
account = Account(os.environ["UMBOX_USER"], config=config, autodiscover=False, access_type=DELEGATE)
root = account.root

with open(os.environ["UMBOX_FIRST_GREETING"], "rb") as f:
    first = f.read()
with open(os.environ["UMBOX_GREETING"], "rb") as f:
    greeting = f.read()

root.create_user_configuration(name=NAME, binary_data=first)
assert root.get_user_configuration(name=NAME).binary_data == first
print("ok create the greeting")

try:
    root.create_user_configuration(name=NAME, binary_data=greeting)
    raise AssertionError("a second create of the same name succeeded")
except ErrorItemSave:
    print("ok a second create is ErrorItemSave")

root.update_user_configuration(name=NAME, binary_data=greeting)
stored = root.get_user_configuration(name=NAME)
assert stored.binary_data == greeting, (len(stored.binary_data), len(greeting))
assert stored.user_configuration_name.name == NAME
print("ok update and read back byte for byte")

try:
    root.get_user_configuration(name="Um.CustomGreetings.Oof")
    raise AssertionError("an unknown configuration was found")
except ErrorItemNotFound:
    print("ok an unknown name is ErrorItemNotFound")

# The object is an associated item of the root: FindItem Traversal=Associated lists it.
classes = [
    item.item_class
    for item in FindItem(account=account).call(
        folders=[root],
        additional_fields=set(),
        restriction=None,
        order_fields=None,
        shape="AllProperties",
        query_string=None,
        depth="Associated",
        calendar_view=None,
        max_items=None,
        offset=0,
    )
    if not isinstance(item, Exception)
]
assert "IPM.Configuration." + NAME in classes, classes
print("ok listed among the root's associated items")
print("greeting written over EWS")
