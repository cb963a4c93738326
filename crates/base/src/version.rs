//! Exchange schema versions as EWS `RequestServerVersion` and Autodiscover
//! `RequestedServerVersion` name them (MS-OXWSCDATA ExchangeVersionType, MS-OXDSCLI), and the one
//! Exchange build umbox reports everywhere: EWS and Autodiscover `ServerVersionInfo`, and
//! Autodiscover's CasVersion, MailboxVersion and ExternalEwsVersion.

/// A requested EWS schema version, oldest first so versions compare by age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExchangeVersion {
    /// Exchange 2007 RTM.
    Exchange2007,
    /// Exchange 2007 SP1.
    Exchange2007Sp1,
    /// Exchange 2010 RTM.
    Exchange2010,
    /// Exchange 2010 SP1.
    Exchange2010Sp1,
    /// Exchange 2010 SP2.
    Exchange2010Sp2,
    /// Exchange 2013 RTM: adds `conversationhistory` and other distinguished folders.
    Exchange2013,
    /// Exchange 2013 SP1.
    Exchange2013Sp1,
    /// The 2015 schema (Exchange Online of that time).
    Exchange2015,
    /// Exchange 2016, the newest schema umbox serves.
    Exchange2016,
}

impl ExchangeVersion {
    /// Every version, oldest first.
    pub const ALL: [ExchangeVersion; 9] = [
        ExchangeVersion::Exchange2007,
        ExchangeVersion::Exchange2007Sp1,
        ExchangeVersion::Exchange2010,
        ExchangeVersion::Exchange2010Sp1,
        ExchangeVersion::Exchange2010Sp2,
        ExchangeVersion::Exchange2013,
        ExchangeVersion::Exchange2013Sp1,
        ExchangeVersion::Exchange2015,
        ExchangeVersion::Exchange2016,
    ];

    /// What a request without `RequestServerVersion` gets (MS-OXWSCDATA: the original 2007 schema).
    pub const DEFAULT: ExchangeVersion = ExchangeVersion::Exchange2007;

    /// The schema name as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeVersion::Exchange2007 => "Exchange2007",
            ExchangeVersion::Exchange2007Sp1 => "Exchange2007_SP1",
            ExchangeVersion::Exchange2010 => "Exchange2010",
            ExchangeVersion::Exchange2010Sp1 => "Exchange2010_SP1",
            ExchangeVersion::Exchange2010Sp2 => "Exchange2010_SP2",
            ExchangeVersion::Exchange2013 => "Exchange2013",
            ExchangeVersion::Exchange2013Sp1 => "Exchange2013_SP1",
            ExchangeVersion::Exchange2015 => "Exchange2015",
            ExchangeVersion::Exchange2016 => "Exchange2016",
        }
    }

    /// Parses a schema name; `None` for anything umbox does not serve (the caller answers
    /// ErrorInvalidServerVersion so clients fall back to an older one).
    pub fn parse(name: &str) -> Option<ExchangeVersion> {
        ExchangeVersion::ALL
            .into_iter()
            .find(|v| v.as_str() == name)
    }
}

/// The build umbox claims: Exchange 2016 CU23 (with a security update) numbers, a build clients
/// know well, so they enable every feature of the schemas above.
pub const SERVER_BUILD: ServerBuild = ServerBuild {
    major: 15,
    minor: 1,
    major_build: 2507,
    minor_build: 39,
};

/// The four numbers of a build.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerBuild {
    /// MajorVersion.
    pub major: u16,
    /// MinorVersion.
    pub minor: u16,
    /// MajorBuildNumber.
    pub major_build: u16,
    /// MinorBuildNumber.
    pub minor_build: u16,
}

impl ServerBuild {
    /// The `15.01.2507.039` form of Autodiscover's CasVersion, MailboxVersion and
    /// ExternalEwsVersion.
    pub fn dotted(&self) -> String {
        format!(
            "{}.{:02}.{:04}.{:03}",
            self.major, self.minor, self.major_build, self.minor_build
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_order_by_age() {
        for v in ExchangeVersion::ALL {
            assert_eq!(ExchangeVersion::parse(v.as_str()), Some(v));
        }
        assert!(ExchangeVersion::Exchange2010Sp2 < ExchangeVersion::Exchange2013);
        assert_eq!(ExchangeVersion::parse("Exchange2019"), None);
        assert_eq!(ExchangeVersion::parse("exchange2016"), None);
        assert_eq!(SERVER_BUILD.dotted(), "15.01.2507.039");
    }
}
