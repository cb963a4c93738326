// Drives umbox's EWS with ews-javascript-api (a port of the EWS Managed API), unmodified: folder
// binds and counts, the folder tree, a message created, found, read, marked read and deleted.
// Inputs (environment): UMBOX_EWS_URL, UMBOX_USER, UMBOX_PASSWORD. Prints one JSON line.
'use strict';
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
const ews = require('ews-javascript-api');

async function main() {
  const service = new ews.ExchangeService(ews.ExchangeVersion.Exchange2013);
  service.Url = new ews.Uri(process.env.UMBOX_EWS_URL);
  service.Credentials = new ews.WebCredentials(process.env.UMBOX_USER, process.env.UMBOX_PASSWORD);
  const out = {};

  const inbox = await ews.Folder.Bind(service, ews.WellKnownFolderName.Inbox);
  const voiceMail = await ews.Folder.Bind(service, ews.WellKnownFolderName.VoiceMail);
  const history = await ews.Folder.Bind(service, ews.WellKnownFolderName.ConversationHistory);
  out.inbox = { name: inbox.DisplayName, total: inbox.TotalCount, unread: inbox.UnreadCount };
  out.voiceMail = { name: voiceMail.DisplayName, total: voiceMail.TotalCount, unread: voiceMail.UnreadCount };
  out.conversationHistory = { name: history.DisplayName, total: history.TotalCount };

  const tree = await service.FindFolders(
    ews.WellKnownFolderName.MsgFolderRoot,
    new ews.FolderView(100, 0, ews.OffsetBasePoint.Beginning),
  );
  out.folders = tree.Folders.map((f) => f.DisplayName).sort();

  const message = new ews.EmailMessage(service);
  message.Subject = 'Hello from ews-javascript-api';
  message.Body = new ews.MessageBody(ews.BodyType.Text, 'Body text');
  message.ToRecipients.Add(process.env.UMBOX_USER);
  await message.Save(ews.WellKnownFolderName.Inbox);

  const found = await service.FindItems(ews.WellKnownFolderName.Inbox, new ews.ItemView(10));
  out.found = found.Items.map((i) => i.Subject);
  const item = await ews.EmailMessage.Bind(service, message.Id);
  out.bound = { subject: item.Subject, isRead: item.IsRead };
  item.IsRead = true;
  await item.Update(ews.ConflictResolutionMode.AutoResolve);
  const afterRead = await ews.Folder.Bind(service, ews.WellKnownFolderName.Inbox);
  out.afterRead = { total: afterRead.TotalCount, unread: afterRead.UnreadCount };
  await item.Delete(ews.DeleteMode.HardDelete);
  const afterDelete = await ews.Folder.Bind(service, ews.WellKnownFolderName.Inbox);
  out.afterDelete = { total: afterDelete.TotalCount, unread: afterDelete.UnreadCount };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((error) => {
  process.stderr.write(`ews-javascript-api failed: ${error && (error.stack || error.message || error)}\n`);
  if (error && error.Response) process.stderr.write(JSON.stringify(error.Response) + '\n');
  process.exit(1);
});
