"""exchangelib (PyPI, unmodified) against umbox's people operations over the network.

Run by tests/it/exchangelib_people.rs against `umbox serve --demo` with carol added. Environment:
UMBOX_EWS_URL (https://127.0.0.1:PORT/EWS/Exchange.asmx), UMBOX_USER / UMBOX_PASSWORD (alice).
Checks with asserts and prints one JSON summary line for the runner.
"""

import datetime
import json
import os
import sys

from exchangelib import BASIC, DELEGATE, Account, Configuration, Credentials, EWSDateTime, EWSTimeZone, OofSettings
from exchangelib.errors import ErrorMailRecipientNotFound, ErrorNameResolutionNoResults, ErrorInvalidIdMalformed
from exchangelib.properties import AlternateId, DistinguishedFolderId, Mailbox, TimeZone
from exchangelib.protocol import BaseProtocol, NoVerifyHTTPAdapter
from exchangelib.services import GetFolder
from exchangelib.util import TNS

# umbox's certificate is self-signed.
BaseProtocol.HTTP_ADAPTER_CLS = NoVerifyHTTPAdapter

url = os.environ["UMBOX_EWS_URL"]
user = os.environ["UMBOX_USER"]
config = Configuration(
    service_endpoint=url, credentials=Credentials(user, os.environ["UMBOX_PASSWORD"]), auth_type=BASIC
)
# DELEGATE: the caller opens its own mailbox (without it exchangelib sends ExchangeImpersonation).
account = Account(user, config=config, autodiscover=False, access_type=DELEGATE)
summary = {"version": account.version.api_version}

# The version probe (ConvertId with a bogus id) found the newest schema.
assert account.version.api_version == "Exchange2016", account.version

# ResolveNames: several matches (a warning exchangelib reads past), one, none, full contact data.
several = account.protocol.resolve_names(["bob"])
summary["resolve_bob"] = [(m.name, m.email_address, m.mailbox_type) for m in several]
one = account.protocol.resolve_names(["SMTP:alice@example.test"], return_full_contact_data=True)
mailbox, contact = one[0]
assert len(one) == 1 and mailbox.email_address == "alice@example.test", one
assert contact.display_name == "Alice Anders" and contact.given_name == "Alice" and contact.surname == "Anders"
assert contact.contact_source == "ActiveDirectory"
assert [p.phone_number for p in contact.phone_numbers] == ["+14255550101"], contact.phone_numbers
summary["resolve_alice_emails"] = [e.email for e in contact.email_addresses]
none = account.protocol.resolve_names(["nobody-here"])
assert len(none) == 1 and isinstance(none[0], ErrorNameResolutionNoResults), none

# Automatic replies round trip.
assert account.oof_settings.state == OofSettings.DISABLED
start = datetime.datetime.now(tz=datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(days=1)
start = EWSDateTime.from_datetime(start)
scheduled = OofSettings(
    state=OofSettings.SCHEDULED,
    external_audience="Known",
    start=start,
    end=start + datetime.timedelta(days=2),
    internal_reply="Back on Thursday",
    external_reply="Out of office",
)
account.oof_settings = scheduled
read = account.oof_settings
assert (read.state, read.external_audience, read.start, read.end) == ("Scheduled", "Known", scheduled.start, scheduled.end), read
assert (read.internal_reply, read.external_reply) == ("Back on Thursday", "Out of office"), read
account.oof_settings = OofSettings(state=OofSettings.ENABLED, external_audience="All", internal_reply="a", external_reply="b")
assert account.oof_settings.state == OofSettings.ENABLED
summary["oof"] = account.oof_settings.state

# Free/busy over GetServerTimeZones + GetUserAvailability, in Berlin time.
berlin = EWSTimeZone("Europe/Berlin")
window_start = EWSDateTime(2026, 11, 24, 8, tzinfo=berlin)
views = list(
    account.protocol.get_free_busy_info(
        [(account, "Organizer", False), ("bob@example.test", "Required", False), ("nobody@example.test", "Optional", False)],
        window_start,
        window_start + datetime.timedelta(hours=10),
        merged_free_busy_interval=60,
    )
)
own, bob, nobody = views
assert own.view_type == "DetailedMerged" and own.merged == "0" * 10, own
assert bob.view_type == "FreeBusyMerged" and bob.merged == "0" * 10, bob
assert [(p.weekdays, p.start, p.end) for p in own.working_hours] == [([1, 2, 3, 4, 5], datetime.time(8), datetime.time(17))]
assert own.working_hours_timezone.bias == -60
assert isinstance(nobody, ErrorMailRecipientNotFound), nobody
summary["free_busy"] = [own.view_type, bob.view_type, type(nobody).__name__]

# Working hours of her own, as Outlook keeps them: the WorkHours object of the Calendar folder
# (Pacific time, 09:00-17:30, Monday to Thursday). Free/busy answers with them, in that zone.
account.calendar.create_user_configuration(
    name="WorkHours",
    xml_data=(
        b'<?xml version="1.0"?><Root xmlns="WorkingHours.xsd"><WorkHoursVersion1><TimeZone><Bias>480</Bias>'
        b"<Standard><Bias>0</Bias><ChangeDate><Time>02:00:00</Time><Date>0000/11/01</Date><DayOfWeek>0</DayOfWeek>"
        b"</ChangeDate></Standard><DaylightSavings><Bias>-60</Bias><ChangeDate><Time>02:00:00</Time>"
        b"<Date>0000/03/02</Date><DayOfWeek>0</DayOfWeek></ChangeDate></DaylightSavings>"
        b"<Name>Pacific Standard Time</Name></TimeZone><TimeSlot><Start>09:00:00</Start><End>17:30:00</End></TimeSlot>"
        b"<WorkDays>Monday Tuesday Wednesday Thursday</WorkDays></WorkHoursVersion1></Root>"
    ),
)
own = list(
    account.protocol.get_free_busy_info(
        [(account, "Organizer", False)], window_start, window_start + datetime.timedelta(hours=10)
    )
)[0]
periods = [(p.weekdays, p.start.isoformat(), p.end.isoformat()) for p in own.working_hours]
summary["working_hours"] = [periods, own.working_hours_timezone.bias]

# Every server time zone is one exchangelib can turn into a TimeZone, now and before the US 2007 change.
zones = list(account.protocol.get_timezones(return_full_timezone_data=True))
for zone in zones:
    TimeZone.from_server_timezone(zone, 2026)
    TimeZone.from_server_timezone(zone, 2005)
summary["time_zones"] = len(zones)

# ConvertId round trip of the inbox's id through HexEntryId; a bogus id fails alone.
svc = GetFolder(account=account)
payload = svc.get_payload(
    folders=[DistinguishedFolderId(id="inbox", mailbox=Mailbox(email_address=user))], additional_fields=[], shape="IdOnly"
)
inbox_id = list(svc._get_elements(payload=payload))[0].find(f"{{{TNS}}}FolderId").get("Id")
hex_id, bogus = account.protocol.convert_ids(
    [AlternateId(id=inbox_id, format="EwsId", mailbox=user), AlternateId(id="DUMMY", format="EwsId", mailbox=user)],
    "HexEntryId",
)
assert isinstance(bogus, ErrorInvalidIdMalformed), bogus
(back,) = account.protocol.convert_ids([AlternateId(id=hex_id.id, format="HexEntryId", mailbox=user)], "EwsId")
assert back.id == inbox_id, (back, inbox_id)
# EwsId to EwsId naming some other mailbox: the answer names the id's real owner, as Exchange does
# (some EWS gateways learn the user's own address this way).
(own,) = account.protocol.convert_ids(
    [AlternateId(id=inbox_id, format="EwsId", mailbox="placeholder@nowhere.invalid")], "EwsId"
)
assert (own.id, own.mailbox) == (inbox_id, user), own
summary["convert_id"] = hex_id.format

print(json.dumps(summary))
sys.stdout.flush()
