//! What Autodiscover advertises: the setting names of MS-OXDSCLI GetUserSettings and
//! GetDomainSettings, the Exchange versions and schemas umbox claims, and the values computed from
//! the site and a user.
//! POX and SOAP both read their URLs and identifiers from [`Service`], so the two answers agree.
//!
//! Never parses or writes XML and never decides who may see a mailbox (the parent module does).

use std::borrow::Cow;

use umbox_base::config::Site;
use umbox_base::directory::User;
use umbox_base::version::{ExchangeVersion, SERVER_BUILD};

/// Path of the EWS endpoint (also the OOF and partner URL).
pub const EWS_PATH: &str = "/EWS/Exchange.asmx";
/// Path of the legacy Unified Messaging web service.
pub const UM_PATH: &str = "/UnifiedMessaging/Service.asmx";
/// Path of the web client advertised in the `WEB` protocol and `*WebClientUrls`.
pub const OWA_PATH: &str = "/owa/";
/// Path of the ActiveSync endpoint advertised to mobilesync clients.
pub const ACTIVE_SYNC_PATH: &str = "/Microsoft-Server-ActiveSync";

/// Declares [`UserSettingName`] from the list of MS-OXDSCLI names, with one `as_str`/`parse` pair.
macro_rules! user_setting_names {
    ($($name:ident),+ $(,)?) => {
        /// A user setting a GetUserSettings request may name (MS-OXDSCLI §2.2.4.x UserSettingName;
        /// the list the EWS Managed API keeps in sync with Exchange). A name not listed here gets
        /// `InvalidSetting`; a listed one umbox has no value for gets `SettingIsNotAvailable`.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum UserSettingName {
            $(
                #[doc = concat!("`", stringify!($name), "`.")]
                $name,
            )+
        }

        impl UserSettingName {
            /// The name as it appears on the wire.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(UserSettingName::$name => stringify!($name),)+
                }
            }

            /// The setting called `name` (case-sensitive, as Exchange parses it).
            pub fn parse(name: &str) -> Option<UserSettingName> {
                match name {
                    $(stringify!($name) => Some(UserSettingName::$name),)+
                    _ => None,
                }
            }
        }
    };
}

user_setting_names! {
    UserDisplayName, UserDN, UserDeploymentId, InternalMailboxServer, InternalRpcClientServer,
    InternalMailboxServerDN, InternalEcpUrl, InternalEcpVoicemailUrl,
    InternalEcpEmailSubscriptionsUrl, InternalEcpTextMessagingUrl, InternalEcpDeliveryReportUrl,
    InternalEcpRetentionPolicyTagsUrl, InternalEcpPublishingUrl, InternalEcpPhotoUrl,
    InternalEcpConnectUrl, InternalEcpTeamMailboxUrl, InternalEcpTeamMailboxCreatingUrl,
    InternalEcpTeamMailboxEditingUrl, InternalEcpTeamMailboxHidingUrl,
    InternalEcpExtensionInstallationUrl, InternalEwsUrl, InternalEmwsUrl, InternalOABUrl,
    InternalPhotosUrl, InternalUMUrl, InternalWebClientUrls, MailboxDN, PublicFolderServer,
    ActiveDirectoryServer, ExternalMailboxServer, ExternalMailboxServerRequiresSSL,
    ExternalMailboxServerAuthenticationMethods, EcpVoicemailUrlFragment,
    EcpEmailSubscriptionsUrlFragment, EcpTextMessagingUrlFragment, EcpDeliveryReportUrlFragment,
    EcpRetentionPolicyTagsUrlFragment, EcpPublishingUrlFragment, EcpPhotoUrlFragment,
    EcpConnectUrlFragment, EcpTeamMailboxUrlFragment, EcpTeamMailboxCreatingUrlFragment,
    EcpTeamMailboxEditingUrlFragment, EcpExtensionInstallationUrlFragment, ExternalEcpUrl,
    ExternalEcpVoicemailUrl, ExternalEcpEmailSubscriptionsUrl, ExternalEcpTextMessagingUrl,
    ExternalEcpDeliveryReportUrl, ExternalEcpRetentionPolicyTagsUrl, ExternalEcpPublishingUrl,
    ExternalEcpPhotoUrl, ExternalEcpConnectUrl, ExternalEcpTeamMailboxUrl,
    ExternalEcpTeamMailboxCreatingUrl, ExternalEcpTeamMailboxEditingUrl,
    ExternalEcpTeamMailboxHidingUrl, ExternalEcpExtensionInstallationUrl, ExternalEwsUrl,
    ExternalEmwsUrl, ExternalOABUrl, ExternalPhotosUrl, ExternalUMUrl, ExternalWebClientUrls,
    CrossOrganizationSharingEnabled, AlternateMailboxes, CasVersion, EwsSupportedSchemas,
    InternalPop3Connections, ExternalPop3Connections, InternalImap4Connections,
    ExternalImap4Connections, InternalSmtpConnections, ExternalSmtpConnections,
    InternalServerExclusiveConnect, ExternalEwsVersion, MobileMailboxPolicy,
    DocumentSharingLocations, UserMSOnline, InternalMailboxServerAuthenticationMethods,
    MailboxVersion, SPMySiteHostURL, SiteMailboxCreationURL, InternalRpcHttpServer,
    InternalRpcHttpConnectivityRequiresSsl, InternalRpcHttpAuthenticationMethod,
    ExternalServerExclusiveConnect, ExchangeRpcUrl, ShowGalAsDefaultView, AutoDiscoverSMTPAddress,
    InteropExternalEwsUrl, InteropExternalEwsVersion, PublicFolderInformation, RedirectUrl,
    EwsPartnerUrl, CertPrincipalName, GroupingInformation, MapiHttpEnabled,
    InternalOutlookServiceUrl, ExternalOutlookServiceUrl,
}

/// A domain setting a GetDomainSettings request may name (MS-OXDSCLI DomainSettingName).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DomainSettingName {
    /// The external EWS URL for mailboxes in the domain.
    ExternalEwsUrl,
    /// The version of the server behind that URL.
    ExternalEwsVersion,
}

impl DomainSettingName {
    /// The name as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DomainSettingName::ExternalEwsUrl => "ExternalEwsUrl",
            DomainSettingName::ExternalEwsVersion => "ExternalEwsVersion",
        }
    }

    /// The setting called `name`.
    pub fn parse(name: &str) -> Option<DomainSettingName> {
        match name {
            "ExternalEwsUrl" => Some(DomainSettingName::ExternalEwsUrl),
            "ExternalEwsVersion" => Some(DomainSettingName::ExternalEwsVersion),
            _ => None,
        }
    }
}

/// The EWS schemas umbox serves, oldest first; exchangelib requires the newest to be one it knows.
pub const EWS_SUPPORTED_SCHEMAS: &[ExchangeVersion] = &[
    ExchangeVersion::Exchange2007,
    ExchangeVersion::Exchange2007Sp1,
    ExchangeVersion::Exchange2010,
    ExchangeVersion::Exchange2010Sp1,
    ExchangeVersion::Exchange2010Sp2,
    ExchangeVersion::Exchange2013,
    ExchangeVersion::Exchange2013Sp1,
    ExchangeVersion::Exchange2016,
];

/// The `Version` of the Autodiscover `ServerVersionInfo` header: what Exchange 2016 servers report.
pub const SERVER_VERSION_SCHEMA: ExchangeVersion = ExchangeVersion::Exchange2015;

/// What this deployment advertises, computed once per request from the site.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Service {
    /// The host name clients connect to (`Protocol/Server`).
    pub(super) public_host: String,
    /// EWS, also used for `ASUrl`, `OOFUrl` and `EwsPartnerUrl`.
    pub(super) ews_url: String,
    /// Unified Messaging web service.
    pub(super) um_url: String,
    /// Web client.
    pub(super) owa_url: String,
    /// ActiveSync, for mobilesync answers.
    pub(super) active_sync_url: String,
    /// The deployment's GUID (MS-OXDSCLI DeploymentId identifies the forest, not the user).
    pub(super) deployment_id: String,
    /// The POX error `Id`: a hash of the server name, as Exchange computes it.
    pub(super) error_id: u32,
    /// [`SERVER_BUILD`] in dotted form.
    pub(super) version: String,
    /// The `EwsSupportedSchemas` value.
    pub(super) ews_supported_schemas: String,
}

impl Service {
    pub(super) fn new(site: &Site) -> Service {
        let base = site.https_base();
        let deployment = fnv1a_128(&["umbox deployment", &site.public_host]);
        let server = fnv1a_128(&["umbox server", &site.public_host]).to_le_bytes();
        Service {
            public_host: site.public_host.clone(),
            ews_url: [base.as_str(), EWS_PATH].concat(),
            um_url: [base.as_str(), UM_PATH].concat(),
            owa_url: [base.as_str(), OWA_PATH].concat(),
            active_sync_url: [base.as_str(), ACTIVE_SYNC_PATH].concat(),
            deployment_id: guid(deployment),
            error_id: u32::from_le_bytes([server[0], server[1], server[2], server[3]]),
            version: SERVER_BUILD.dotted(),
            ews_supported_schemas: EWS_SUPPORTED_SCHEMAS
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        }
    }

    /// The value of user setting `name` for `user`, or `None` when umbox has none
    /// (`SettingIsNotAvailable`).
    pub(super) fn user_setting<'a>(
        &'a self,
        name: UserSettingName,
        user: &'a User,
    ) -> Option<SettingValue<'a>> {
        use UserSettingName as N;
        let text = |s: &'a str| Some(SettingValue::Text(Cow::Borrowed(s)));
        match name {
            N::UserDisplayName => text(&user.display_name),
            N::UserDN => Some(SettingValue::Text(Cow::Owned(user.legacy_dn()))),
            N::UserDeploymentId => text(&self.deployment_id),
            N::AutoDiscoverSMTPAddress => text(&user.address),
            N::InternalEwsUrl | N::ExternalEwsUrl | N::EwsPartnerUrl => text(&self.ews_url),
            N::InternalUMUrl | N::ExternalUMUrl => text(&self.um_url),
            N::InternalWebClientUrls | N::ExternalWebClientUrls => {
                Some(SettingValue::WebClientUrls {
                    authentication_methods: "Basic",
                    url: &self.owa_url,
                })
            }
            N::EwsSupportedSchemas => text(&self.ews_supported_schemas),
            N::CasVersion | N::MailboxVersion | N::ExternalEwsVersion => text(&self.version),
            // No MAPI, RPC, directory server, ECP, OAB, photos, POP/IMAP/SMTP, SharePoint or public
            // folders.
            N::InternalMailboxServer
            | N::InternalRpcClientServer
            | N::InternalMailboxServerDN
            | N::InternalEcpUrl
            | N::InternalEcpVoicemailUrl
            | N::InternalEcpEmailSubscriptionsUrl
            | N::InternalEcpTextMessagingUrl
            | N::InternalEcpDeliveryReportUrl
            | N::InternalEcpRetentionPolicyTagsUrl
            | N::InternalEcpPublishingUrl
            | N::InternalEcpPhotoUrl
            | N::InternalEcpConnectUrl
            | N::InternalEcpTeamMailboxUrl
            | N::InternalEcpTeamMailboxCreatingUrl
            | N::InternalEcpTeamMailboxEditingUrl
            | N::InternalEcpTeamMailboxHidingUrl
            | N::InternalEcpExtensionInstallationUrl
            | N::InternalEmwsUrl
            | N::InternalOABUrl
            | N::InternalPhotosUrl
            | N::MailboxDN
            | N::PublicFolderServer
            | N::ActiveDirectoryServer
            | N::ExternalMailboxServer
            | N::ExternalMailboxServerRequiresSSL
            | N::ExternalMailboxServerAuthenticationMethods
            | N::EcpVoicemailUrlFragment
            | N::EcpEmailSubscriptionsUrlFragment
            | N::EcpTextMessagingUrlFragment
            | N::EcpDeliveryReportUrlFragment
            | N::EcpRetentionPolicyTagsUrlFragment
            | N::EcpPublishingUrlFragment
            | N::EcpPhotoUrlFragment
            | N::EcpConnectUrlFragment
            | N::EcpTeamMailboxUrlFragment
            | N::EcpTeamMailboxCreatingUrlFragment
            | N::EcpTeamMailboxEditingUrlFragment
            | N::EcpExtensionInstallationUrlFragment
            | N::ExternalEcpUrl
            | N::ExternalEcpVoicemailUrl
            | N::ExternalEcpEmailSubscriptionsUrl
            | N::ExternalEcpTextMessagingUrl
            | N::ExternalEcpDeliveryReportUrl
            | N::ExternalEcpRetentionPolicyTagsUrl
            | N::ExternalEcpPublishingUrl
            | N::ExternalEcpPhotoUrl
            | N::ExternalEcpConnectUrl
            | N::ExternalEcpTeamMailboxUrl
            | N::ExternalEcpTeamMailboxCreatingUrl
            | N::ExternalEcpTeamMailboxEditingUrl
            | N::ExternalEcpTeamMailboxHidingUrl
            | N::ExternalEcpExtensionInstallationUrl
            | N::ExternalEmwsUrl
            | N::ExternalOABUrl
            | N::ExternalPhotosUrl
            | N::CrossOrganizationSharingEnabled
            | N::AlternateMailboxes
            | N::InternalPop3Connections
            | N::ExternalPop3Connections
            | N::InternalImap4Connections
            | N::ExternalImap4Connections
            | N::InternalSmtpConnections
            | N::ExternalSmtpConnections
            | N::InternalServerExclusiveConnect
            | N::MobileMailboxPolicy
            | N::DocumentSharingLocations
            | N::UserMSOnline
            | N::InternalMailboxServerAuthenticationMethods
            | N::SPMySiteHostURL
            | N::SiteMailboxCreationURL
            | N::InternalRpcHttpServer
            | N::InternalRpcHttpConnectivityRequiresSsl
            | N::InternalRpcHttpAuthenticationMethod
            | N::ExternalServerExclusiveConnect
            | N::ExchangeRpcUrl
            | N::ShowGalAsDefaultView
            | N::InteropExternalEwsUrl
            | N::InteropExternalEwsVersion
            | N::PublicFolderInformation
            | N::RedirectUrl
            | N::CertPrincipalName
            | N::GroupingInformation
            | N::MapiHttpEnabled
            | N::InternalOutlookServiceUrl
            | N::ExternalOutlookServiceUrl => None,
        }
    }

    /// The value of domain setting `name` for a served domain.
    pub(super) fn domain_setting(&self, name: DomainSettingName) -> &str {
        match name {
            DomainSettingName::ExternalEwsUrl => &self.ews_url,
            DomainSettingName::ExternalEwsVersion => &self.version,
        }
    }
}

/// A user setting's value, by the `xsi:type` it is written with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum SettingValue<'a> {
    /// `StringSetting`.
    Text(Cow<'a, str>),
    /// `WebClientUrlCollectionSetting` with one URL.
    WebClientUrls {
        /// Comma-separated authentication methods the URL accepts.
        authentication_methods: &'static str,
        /// The URL.
        url: &'a str,
    },
}

/// FNV-1a over the parts, each followed by a zero byte so `["ab", "c"]` and `["a", "bc"]` differ.
/// Chosen because its output is fixed by its definition, unlike std's hasher, so identifiers stay
/// the same across Rust releases.
fn fnv1a_128(parts: &[&str]) -> u128 {
    const OFFSET_BASIS: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    let mut hash = OFFSET_BASIS;
    for byte in parts
        .iter()
        .flat_map(|part| part.bytes().chain(std::iter::once(0)))
    {
        hash ^= u128::from(byte);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// Formats a hash as a GUID with the RFC 9562 variant bits and version 8 ("custom").
fn guid(hash: u128) -> String {
    let value = (hash & !(0xf << 76) & !(0x3 << 62)) | (0x8 << 76) | (0x2 << 62);
    let hex = format!("{value:032x}");
    let part = |range: std::ops::Range<usize>| hex.get(range).unwrap_or_default();
    [
        part(0..8),
        part(8..12),
        part(12..16),
        part(16..20),
        part(20..32),
    ]
    .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(host: &str, port: u16) -> Site {
        Site {
            domains: vec!["example.test".into()],
            public_host: host.into(),
            https_port: port,
            sip_port: 5060,
            sips_port: 5061,
            addresses: Vec::new(),
        }
    }

    #[test]
    fn names_round_trip() {
        for name in [
            UserSettingName::InternalUMUrl,
            UserSettingName::SPMySiteHostURL,
            UserSettingName::UserDN,
        ] {
            assert_eq!(UserSettingName::parse(name.as_str()), Some(name));
        }
        assert_eq!(
            UserSettingName::parse("InternalUmUrl"),
            None,
            "names are case-sensitive"
        );
        assert_eq!(
            ExchangeVersion::parse("Exchange2013_SP1"),
            Some(ExchangeVersion::Exchange2013Sp1)
        );
        assert_eq!(
            DomainSettingName::parse("ExternalEwsVersion").map(DomainSettingName::as_str),
            Some("ExternalEwsVersion")
        );
    }

    #[test]
    fn service_urls_and_identifiers() {
        let service = Service::new(&site("mail.example.test", 8443));
        assert_eq!(
            service.ews_url,
            "https://mail.example.test:8443/EWS/Exchange.asmx"
        );
        assert_eq!(
            service.um_url,
            "https://mail.example.test:8443/UnifiedMessaging/Service.asmx"
        );
        assert_eq!(service.version, "15.01.2507.039");
        assert_eq!(
            service.ews_supported_schemas,
            "Exchange2007, Exchange2007_SP1, Exchange2010, Exchange2010_SP1, Exchange2010_SP2, Exchange2013, \
             Exchange2013_SP1, Exchange2016"
        );
        let id = &service.deployment_id;
        assert_eq!(id.len(), 36);
        assert_eq!(id.get(14..15), Some("8"), "version nibble in {id}");
        assert!(
            matches!(id.get(19..20), Some("8" | "9" | "a" | "b")),
            "variant in {id}"
        );
        assert_eq!(
            Service::new(&site("mail.example.test", 443)).deployment_id,
            *id,
            "stable per host"
        );
        assert_ne!(
            Service::new(&site("other.example.test", 8443)).deployment_id,
            *id
        );
    }
}
