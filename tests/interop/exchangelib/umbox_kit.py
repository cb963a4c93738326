"""What the exchangelib tests share: the account they log in to and how a check is reported.

Environment: UMBOX_EWS_URL, UMBOX_USER, UMBOX_PASSWORD.
"""

import os

from exchangelib import BASIC, DELEGATE, Account, Build, Configuration, Credentials, Version


def check(name, actual, expected):
    """Raises unless `actual` is `expected`; prints "ok NAME" otherwise."""
    if actual != expected:
        raise AssertionError(f"{name}: expected {expected!r}, got {actual!r}")
    print(f"ok {name}", flush=True)


def account():
    """UMBOX_USER's account on the EWS endpoint, Basic authentication. The version is given so
    that exchangelib does not probe the server's schema version first."""
    config = Configuration(
        service_endpoint=os.environ["UMBOX_EWS_URL"],
        credentials=Credentials(os.environ["UMBOX_USER"], os.environ["UMBOX_PASSWORD"]),
        auth_type=BASIC,
        version=Version(build=Build(15, 1, 2507, 39), api_version="Exchange2016"),
    )
    return Account(os.environ["UMBOX_USER"], config=config, autodiscover=False, access_type=DELEGATE)
