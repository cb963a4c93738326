// Drives umbox's SOAP Autodiscover with ews-javascript-api, unmodified, and prints what the client
// understood as JSON for the Rust integration test to check.
// Inputs (environment): UMBOX_AUTODISCOVER_URL, UMBOX_USER, UMBOX_PASSWORD, UMBOX_OTHER (an address
// the caller may not see). The server's certificate is self-signed, hence NODE_TLS_REJECT_UNAUTHORIZED=0.
'use strict';
process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
const ews = require('ews-javascript-api');

function settingsOf(response) {
  const out = {};
  for (const key of response.Settings.Keys) {
    const value = response.Settings.get(key);
    out[ews.UserSettingName[key]] = typeof value === 'object' && value !== null ? JSON.stringify(value) : value;
  }
  return out;
}

async function main() {
  const url = process.env.UMBOX_AUTODISCOVER_URL;
  const user = process.env.UMBOX_USER;
  const service = new ews.AutodiscoverService(new ews.Uri(url), ews.ExchangeVersion.Exchange2013);
  service.Credentials = new ews.WebCredentials(user, process.env.UMBOX_PASSWORD);

  const names = [
    ews.UserSettingName.UserDisplayName,
    ews.UserSettingName.AutoDiscoverSMTPAddress,
    ews.UserSettingName.ExternalEwsUrl,
    ews.UserSettingName.InternalEwsUrl,
    ews.UserSettingName.ExternalUMUrl,
    ews.UserSettingName.EwsSupportedSchemas,
    ews.UserSettingName.CasVersion,
    ews.UserSettingName.UserDN,
  ];
  const users = await service.GetUsersSettings([user, process.env.UMBOX_OTHER], ...names);
  const result = { users: [] };
  for (const r of users.Responses) {
    result.users.push({
      errorCode: ews.AutodiscoverErrorCode[r.ErrorCode],
      settings: settingsOf(r),
      settingErrors: r.UserSettingErrors.map((e) => ({ name: e.SettingName, code: ews.AutodiscoverErrorCode[e.ErrorCode] })),
    });
  }
  const domain = user.split('@')[1];
  const domains = await service.GetDomainSettings(
    [domain],
    ews.ExchangeVersion.Exchange2013,
    ews.DomainSettingName.ExternalEwsUrl,
    ews.DomainSettingName.ExternalEwsVersion,
  );
  result.domains = domains.Responses.map((r) => {
    const settings = {};
    for (const key of r.Settings.Keys) settings[ews.DomainSettingName[key]] = r.Settings.get(key);
    return { errorCode: ews.AutodiscoverErrorCode[r.ErrorCode], settings };
  });
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().catch((error) => {
  process.stderr.write(`ews-javascript-api failed: ${error && (error.stack || error.message || error)}\n`);
  process.exit(1);
});
