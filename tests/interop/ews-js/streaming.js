// Drives umbox's streaming notifications with ews-javascript-api's StreamingSubscriptionConnection,
// unmodified: subscribe on the inbox and the voicemail folder, open a connection, print what the
// client understood, reopen the connection when the server ends it (ConnectionStatus Closed at the
// one-minute connection timeout) and keep receiving on the same subscription.
// Prints one JSON object per line for the Rust runner (tests/it/ews_js_streaming.rs), which makes
// the mailbox changes when it sees "open" and "reopened":
//   {"step":"open"} / {"step":"reopened"}  the connection is (re)opened
//   {"step":"events","events":[...]}      a notification, as the client parsed it
//   {"step":"disconnected"}               the server ended the connection
// Exits 0 once it has seen a NewMail on the reopened connection.
// Inputs (environment): UMBOX_EWS_URL, UMBOX_USER, UMBOX_PASSWORD. Self-signed certificate, hence
// NODE_TLS_REJECT_UNAUTHORIZED=0.
'use strict';
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
const ews = require('ews-javascript-api');

function say(object) {
  process.stdout.write(JSON.stringify(object) + '\n');
}

function describe(event) {
  const out = { type: ews.EventType[event.EventType] };
  if (event.ItemId) out.item = event.ItemId.UniqueId;
  if (event.FolderId) out.folder = event.FolderId.UniqueId;
  if (event.ParentFolderId) out.parent = event.ParentFolderId.UniqueId;
  if (event.UnreadCount !== undefined && event.UnreadCount !== null) out.unread = event.UnreadCount;
  return out;
}

async function main() {
  const service = new ews.ExchangeService(ews.ExchangeVersion.Exchange2013);
  service.Credentials = new ews.WebCredentials(process.env.UMBOX_USER, process.env.UMBOX_PASSWORD);
  service.Url = new ews.Uri(process.env.UMBOX_EWS_URL);

  const folders = [
    new ews.FolderId(ews.WellKnownFolderName.Inbox),
    new ews.FolderId(ews.WellKnownFolderName.VoiceMail),
  ];
  const subscription = await service.SubscribeToStreamingNotifications(
    folders,
    ews.EventType.NewMail,
    ews.EventType.Created,
    ews.EventType.Modified,
  );
  const connection = new ews.StreamingSubscriptionConnection(service, 1);
  connection.AddSubscription(subscription);

  let reopened = false;
  connection.OnNotificationEvent.push((sender, args) => {
    const events = args.Events.map(describe);
    say({ step: 'events', subscription: args.Subscription.Id === subscription.Id, events });
    if (reopened && events.some((e) => e.type === 'NewMail')) {
      connection.Close();
      process.exit(0);
    }
  });
  connection.OnSubscriptionError.push((sender, args) => {
    say({ step: 'error', message: String(args.Exception && args.Exception.message) });
  });
  connection.OnDisconnect.push(() => {
    say({ step: 'disconnected' });
    if (!reopened) {
      reopened = true;
      connection.Open().catch((error) => fail(error));
      say({ step: 'reopened' });
    }
  });
  connection.Open().catch((error) => fail(error));
  say({ step: 'open' });
}

function fail(error) {
  process.stderr.write(`ews-javascript-api failed: ${error && (error.stack || error.message || error)}\n`);
  process.exit(1);
}

main().catch(fail);
