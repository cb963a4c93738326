//! Zone data and query answering: builds the authoritative zones from a [`Site`] and answers one typed
//! [`Question`] with an [`Answer`] that borrows its records from the zones.
//!
//! Pure: no IO, no async, no clock. Never sees packet bytes or sockets (`dns::server` does); never
//! decides which domains are served (the `Site` does). Every rcode umbox's DNS sends is chosen here.

use std::collections::HashMap;
use std::net::IpAddr;

use hickory_proto::op::{LowerQuery, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, NS, SOA, SRV};
use hickory_proto::rr::{DNSClass, LowerName, Name, RData, Record, RecordType};

use super::Error;
use umbox_base::config::Site;

/// TTL of every record, and the negative-caching TTL (SOA minimum, RFC 2308 §4).
const TTL: u32 = 300;
/// SOA timers for secondaries (RFC 1035 §3.3.13). umbox offers no zone transfer, so they only have to be
/// plausible for tools that check them: refresh 1 h, retry 15 min, expire 1 week.
const SOA_REFRESH: i32 = 3600;
const SOA_RETRY: i32 = 900;
const SOA_EXPIRE: i32 = 604_800;

/// The SRV records each zone publishes: owner labels below the apex, and which `Site` port they carry.
/// Autodiscover SRV is what Outlook-style clients try after the well-known URLs (MS-OXDISCO §3.1.5);
/// the SIP ones let a PBX or gateway find the call router (RFC 3263 §4.1).
const SRV_RECORDS: [([&str; 2], SrvPort); 4] = [
    (["_autodiscover", "_tcp"], SrvPort::Https),
    (["_sip", "_udp"], SrvPort::Sip),
    (["_sip", "_tcp"], SrvPort::Sip),
    (["_sips", "_tcp"], SrvPort::Sips),
];

/// Which advertised port an SRV record points at.
#[derive(Debug, Clone, Copy)]
enum SrvPort {
    Https,
    Sip,
    Sips,
}

impl SrvPort {
    fn of(self, site: &Site) -> u16 {
        match self {
            SrvPort::Https => site.https_port,
            SrvPort::Sip => site.sip_port,
            SrvPort::Sips => site.sips_port,
        }
    }
}

/// Every zone umbox is authoritative for, built from one [`Site`] and one SOA serial.
///
/// Cheap to share behind an `Arc`: the server reads the latest one for each request, and the wiring
/// publishes a new one (with a larger serial) when the configuration or directory changes.
#[derive(Debug)]
pub struct ZoneSet {
    /// One zone per distinct served domain, deepest apex first, so the first zone that contains a
    /// name is the one authoritative for it (a served `sub.example.test` answers for its own names).
    zones: Vec<Zone>,
    /// Names that could not be turned into DNS names; their zone or record is missing.
    problems: Vec<Error>,
}

#[derive(Debug)]
struct Zone {
    apex: LowerName,
    /// The apex SOA, also present in the apex node; kept apart for negative answers (RFC 2308 §3).
    soa: Record,
    /// Every name that exists in the zone, including empty non-terminals such as `_tcp.<domain>`
    /// (RFC 8020: they exist, so they answer NODATA, not NXDOMAIN).
    nodes: HashMap<LowerName, Node>,
}

#[derive(Debug, Default)]
struct Node {
    /// The records owned by this name, sorted by type code so each RRset is one contiguous run.
    records: Vec<Record>,
    /// For the NS and SRV RRsets: the A/AAAA records of their targets that we serve, sent in the
    /// additional section so a resolver needs no second query (RFC 1035 §3.3.11, RFC 2782).
    additionals: Vec<(RecordType, Vec<Record>)>,
}

impl Node {
    /// The RRset of type `record_type` at this name (empty when there is none).
    fn rrset(&self, record_type: RecordType) -> &[Record] {
        let code = u16::from(record_type);
        let start = self
            .records
            .partition_point(|r| u16::from(r.record_type()) < code);
        let end = self
            .records
            .partition_point(|r| u16::from(r.record_type()) <= code);
        self.records.get(start..end).unwrap_or_default()
    }

    fn additionals(&self, record_type: RecordType) -> &[Record] {
        self.additionals
            .iter()
            .find(|(rrset_type, _)| *rrset_type == record_type)
            .map(|(_, records)| records.as_slice())
            .unwrap_or_default()
    }
}

/// What a client asked, already decoded: the header's opcode, the question section and the EDNS version.
#[derive(Debug, Clone, Copy)]
pub(super) struct Question<'q> {
    /// Header OPCODE.
    pub(super) op_code: OpCode,
    /// The question section (a valid query has exactly one entry).
    pub(super) queries: &'q [LowerQuery],
    /// The EDNS version of the OPT record, when there is one.
    pub(super) edns_version: Option<u8>,
}

/// The reply to a [`Question`], borrowing its records from the [`ZoneSet`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Answer<'z> {
    /// RCODE, possibly an extended one that needs EDNS (BADVERS).
    pub(super) rcode: ResponseCode,
    /// The AA bit: set when the question's name is inside one of our zones.
    pub(super) authoritative: bool,
    /// Answer section.
    pub(super) answers: &'z [Record],
    /// Authority section: the zone's SOA for NXDOMAIN and NODATA (RFC 2308 §2.1, §2.2).
    pub(super) soa: Option<&'z Record>,
    /// Additional section: addresses of NS and SRV targets.
    pub(super) additionals: &'z [Record],
}

impl<'z> Answer<'z> {
    /// A reply with no records and no AA bit (REFUSED, NOTIMP, FORMERR, BADVERS).
    fn bare(rcode: ResponseCode) -> Self {
        Answer {
            rcode,
            authoritative: false,
            answers: &[],
            soa: None,
            additionals: &[],
        }
    }

    /// An authoritative reply without records in the answer section: NXDOMAIN or NODATA.
    fn negative(rcode: ResponseCode, zone: &'z Zone) -> Self {
        Answer {
            rcode,
            authoritative: true,
            answers: &[],
            soa: Some(&zone.soa),
            additionals: &[],
        }
    }
}

impl ZoneSet {
    /// Builds one zone per domain in `site.domains`; `serial` goes into every SOA.
    ///
    /// Each zone has at its apex SOA (mname the public host, rname `hostmaster.<domain>`), NS (the
    /// public host) and A/AAAA from `site.addresses`; A/AAAA at `autodiscover.<domain>`; and SRV records
    /// `_autodiscover._tcp` (HTTPS port), `_sip._udp`, `_sip._tcp` (SIP port) and `_sips._tcp` (SIPS
    /// port), all priority 0, weight 0, target the public host. The public host gets A/AAAA too when it
    /// lies inside one of the zones. Names that are not valid DNS names are left out and listed in
    /// [`ZoneSet::problems`]; an invalid public host leaves the set empty, since no SOA can name it.
    pub fn build(site: &Site, serial: u32) -> ZoneSet {
        let mut set = ZoneSet {
            zones: Vec::new(),
            problems: Vec::new(),
        };
        let Some(host) = set.parse_name(&site.public_host) else {
            return set;
        };
        let mut apexes: Vec<Name> = Vec::new();
        for domain in &site.domains {
            let Some(apex) = set.parse_name(domain) else {
                continue;
            };
            if apexes.contains(&apex) {
                continue;
            }
            let Some(rname) = set.child(&apex, &["hostmaster"]) else {
                continue;
            };
            let soa = SOA::new(
                host.clone(),
                rname,
                serial,
                SOA_REFRESH,
                SOA_RETRY,
                SOA_EXPIRE,
                TTL,
            );
            set.zones.push(Zone {
                apex: LowerName::new(&apex),
                soa: Record::from_rdata(apex.clone(), TTL, RData::SOA(soa)),
                nodes: HashMap::new(),
            });
            apexes.push(apex);
        }
        set.zones
            .sort_by_key(|zone| std::cmp::Reverse(zone.apex.num_labels()));

        for apex in &apexes {
            if let Some(soa) = set
                .zone_for(&LowerName::new(apex))
                .map(|zone| zone.soa.clone())
            {
                set.insert(soa);
            }
            set.insert(Record::from_rdata(
                apex.clone(),
                TTL,
                RData::NS(NS(host.clone())),
            ));
            set.insert_addresses(apex, &site.addresses);
            if let Some(autodiscover) = set.child(apex, &["autodiscover"]) {
                set.insert_addresses(&autodiscover, &site.addresses);
            }
            for (labels, port) in SRV_RECORDS {
                let Some(owner) = set.child(apex, &labels) else {
                    continue;
                };
                let srv = SRV::new(0, 0, port.of(site), host.clone());
                set.insert(Record::from_rdata(owner, TTL, RData::SRV(srv)));
            }
        }
        // Outside our zones the public host's addresses are someone else's to publish.
        set.insert_addresses(&host, &site.addresses);
        set.finish();
        set
    }

    /// Names from the `Site` that could not be served; the wiring logs them.
    pub fn problems(&self) -> &[Error] {
        &self.problems
    }

    /// Answers one question: the only place that picks an rcode.
    pub(super) fn respond(&self, question: &Question<'_>) -> Answer<'_> {
        // RFC 6891 §6.1.3: only EDNS version 0 exists.
        if question.edns_version.is_some_and(|version| version > 0) {
            return Answer::bare(ResponseCode::BADVERS);
        }
        // UPDATE, NOTIFY, STATUS and unassigned opcodes: RFC 1035 §4.1.1 "not implemented".
        if question.op_code != OpCode::Query {
            return Answer::bare(ResponseCode::NotImp);
        }
        // RFC 9619: a QUERY carries exactly one question.
        let [query] = question.queries else {
            return Answer::bare(ResponseCode::FormErr);
        };
        self.lookup(query.name(), query.query_type(), query.query_class())
    }

    /// Looks `name` up in the zone that contains it (RFC 1034 §4.3.2, without delegations or aliases,
    /// which umbox zones never have).
    fn lookup(&self, name: &LowerName, record_type: RecordType, class: DNSClass) -> Answer<'_> {
        // Our zones exist only in class IN; other classes are someone else's data.
        if !matches!(class, DNSClass::IN | DNSClass::ANY) {
            return Answer::bare(ResponseCode::Refused);
        }
        let Some(zone) = self.zone_for(name) else {
            return Answer::bare(ResponseCode::Refused);
        };
        // Zone transfers are not offered; secondaries are not part of an umbox deployment.
        if matches!(record_type, RecordType::AXFR | RecordType::IXFR) {
            return Answer::bare(ResponseCode::Refused);
        }
        let Some(node) = zone.nodes.get(name) else {
            return Answer::negative(ResponseCode::NXDomain, zone);
        };
        // ANY gets every RRset at the name rather than RFC 8482's single RRset: the zones are a
        // handful of small records, so the reply stays far below the UDP limit.
        let (answers, additionals) = match record_type {
            RecordType::ANY => (node.records.as_slice(), &[][..]),
            _ => (node.rrset(record_type), node.additionals(record_type)),
        };
        if answers.is_empty() {
            return Answer::negative(ResponseCode::NoError, zone);
        }
        Answer {
            rcode: ResponseCode::NoError,
            authoritative: true,
            answers,
            soa: None,
            additionals,
        }
    }

    /// The deepest zone whose apex is `name` or an ancestor of it.
    fn zone_for(&self, name: &LowerName) -> Option<&Zone> {
        self.zones.iter().find(|zone| zone.apex.zone_of(name))
    }

    fn zone_for_mut(&mut self, name: &LowerName) -> Option<&mut Zone> {
        self.zones.iter_mut().find(|zone| zone.apex.zone_of(name))
    }

    /// `name` as an absolute DNS name, or a recorded problem.
    fn parse_name(&mut self, name: &str) -> Option<Name> {
        match Name::from_ascii(name) {
            Ok(mut parsed) => {
                parsed.set_fqdn(true);
                Some(parsed)
            }
            Err(error) => {
                self.problems.push(invalid_name(name, &error));
                None
            }
        }
    }

    /// `labels` (leftmost first) prepended to `parent`, or a recorded problem (a name over 255 octets).
    fn child(&mut self, parent: &Name, labels: &[&str]) -> Option<Name> {
        let mut name = parent.clone();
        for label in labels.iter().rev() {
            match name.prepend_label(*label) {
                Ok(longer) => name = longer,
                Err(error) => {
                    self.problems.push(invalid_name(
                        &format!("{}.{parent}", labels.join(".")),
                        &error,
                    ));
                    return None;
                }
            }
        }
        Some(name)
    }

    fn insert_addresses(&mut self, owner: &Name, addresses: &[IpAddr]) {
        for address in addresses {
            let rdata = match address {
                IpAddr::V4(v4) => RData::A(A(*v4)),
                IpAddr::V6(v6) => RData::AAAA(AAAA(*v6)),
            };
            self.insert(Record::from_rdata(owner.clone(), TTL, rdata));
        }
    }

    /// Files `record` under its owner in the deepest zone containing it, creating the empty
    /// non-terminals between owner and apex; a record outside every zone is dropped.
    fn insert(&mut self, record: Record) {
        let owner = LowerName::new(&record.name);
        let Some(zone) = self.zone_for_mut(&owner) else {
            return;
        };
        let apex_labels = zone.apex.num_labels();
        let mut ancestor = record.name.base_name();
        while ancestor.num_labels() > apex_labels {
            let parent = ancestor.base_name();
            zone.nodes.entry(LowerName::new(&ancestor)).or_default();
            ancestor = parent;
        }
        let node = zone.nodes.entry(owner).or_default();
        if !node.records.contains(&record) {
            node.records.push(record);
        }
    }

    /// Sorts each node into RRsets and fills the additional records of NS and SRV RRsets.
    fn finish(&mut self) {
        for zone in &mut self.zones {
            for node in zone.nodes.values_mut() {
                node.records
                    .sort_by_key(|record| u16::from(record.record_type()));
            }
        }
        let mut glue = Vec::new();
        for (zone_index, zone) in self.zones.iter().enumerate() {
            for (owner, node) in &zone.nodes {
                for rrset_type in [RecordType::NS, RecordType::SRV] {
                    let addresses = self.target_addresses(node.rrset(rrset_type));
                    if !addresses.is_empty() {
                        glue.push((zone_index, owner.clone(), rrset_type, addresses));
                    }
                }
            }
        }
        for (zone_index, owner, rrset_type, addresses) in glue {
            let node = self
                .zones
                .get_mut(zone_index)
                .and_then(|zone| zone.nodes.get_mut(&owner));
            if let Some(node) = node {
                node.additionals.push((rrset_type, addresses));
            }
        }
    }

    /// The A and AAAA records we serve for the targets of NS or SRV `records`, without repeats.
    fn target_addresses(&self, records: &[Record]) -> Vec<Record> {
        let mut addresses: Vec<Record> = Vec::new();
        for record in records {
            let target = match &record.data {
                RData::NS(NS(target)) => target,
                RData::SRV(srv) => &srv.target,
                _ => continue,
            };
            let target = LowerName::new(target);
            let Some(node) = self
                .zone_for(&target)
                .and_then(|zone| zone.nodes.get(&target))
            else {
                continue;
            };
            for address in node
                .rrset(RecordType::A)
                .iter()
                .chain(node.rrset(RecordType::AAAA))
            {
                if !addresses.contains(address) {
                    addresses.push(address.clone());
                }
            }
        }
        addresses
    }
}

fn invalid_name(name: &str, error: &impl std::fmt::Display) -> Error {
    Error::InvalidName {
        name: name.to_owned(),
        reason: error.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};
    use std::str::FromStr;

    use hickory_proto::op::Query;

    use super::*;

    const V4: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const V6: Ipv6Addr = Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1);

    fn site(domains: &[&str], public_host: &str) -> Site {
        Site {
            domains: domains.iter().map(|d| d.to_string()).collect(),
            public_host: public_host.to_owned(),
            https_port: 8443,
            sip_port: 5060,
            sips_port: 5061,
            addresses: vec![IpAddr::V4(V4), IpAddr::V6(V6)],
        }
    }

    fn zones() -> ZoneSet {
        ZoneSet::build(
            &site(&["example.test", "other.test"], "mail.example.test"),
            7,
        )
    }

    fn query(name: &str, record_type: RecordType) -> LowerQuery {
        LowerQuery::query(Query::query(Name::from_str(name).unwrap(), record_type))
    }

    fn ask<'z>(zones: &'z ZoneSet, name: &str, record_type: RecordType) -> Answer<'z> {
        let queries = [query(name, record_type)];
        let question = Question {
            op_code: OpCode::Query,
            queries: &queries,
            edns_version: None,
        };
        zones.respond(&question)
    }

    fn name(text: &str) -> Name {
        Name::from_str(text).unwrap()
    }

    /// The answer section as `(owner, rdata)` in presentation form, sorted.
    fn rdata(records: &[Record]) -> Vec<(String, String)> {
        let mut out: Vec<_> = records
            .iter()
            .map(|r| (r.name.to_string(), r.data.to_string()))
            .collect();
        out.sort();
        out
    }

    fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut out: Vec<_> = expected
            .iter()
            .map(|(n, d)| (n.to_string(), d.to_string()))
            .collect();
        out.sort();
        out
    }

    fn assert_positive(answer: &Answer<'_>) {
        assert_eq!(answer.rcode, ResponseCode::NoError);
        assert!(answer.authoritative);
        assert!(answer.soa.is_none());
        assert!(answer
            .answers
            .iter()
            .chain(answer.additionals)
            .all(|r| r.ttl == TTL));
    }

    fn assert_negative(answer: &Answer<'_>, rcode: ResponseCode, apex: &str) {
        assert_eq!(answer.rcode, rcode);
        assert!(answer.authoritative);
        assert!(answer.answers.is_empty());
        let soa = answer.soa.expect("negative answers carry the SOA");
        assert_eq!(soa.name, name(apex));
        assert_eq!(soa.record_type(), RecordType::SOA);
    }

    fn assert_bare(answer: &Answer<'_>, rcode: ResponseCode) {
        assert_eq!(*answer, Answer::bare(rcode));
    }

    #[test]
    fn apex_soa_names_public_host_and_hostmaster() {
        let zones = zones();
        let answer = ask(&zones, "example.test.", RecordType::SOA);
        assert_positive(&answer);
        let [record] = answer.answers else {
            panic!("one SOA: {answer:?}")
        };
        let RData::SOA(soa) = &record.data else {
            panic!("{record:?}")
        };
        assert_eq!(soa.mname, name("mail.example.test."));
        assert_eq!(soa.rname, name("hostmaster.example.test."));
        assert_eq!(soa.serial, 7);
        assert_eq!(soa.minimum, 300);
        assert_eq!(record.ttl, 300);
    }

    #[test]
    fn apex_ns_is_public_host_with_its_addresses_as_additionals() {
        let zones = zones();
        for apex in ["example.test.", "other.test."] {
            let answer = ask(&zones, apex, RecordType::NS);
            assert_positive(&answer);
            assert_eq!(
                rdata(answer.answers),
                pairs(&[(apex, "mail.example.test.")])
            );
            assert_eq!(
                rdata(answer.additionals),
                pairs(&[
                    ("mail.example.test.", "192.0.2.1"),
                    ("mail.example.test.", "2001:db8::1")
                ])
            );
        }
    }

    #[test]
    fn addresses_at_apex_autodiscover_and_public_host() {
        let zones = zones();
        for owner in [
            "example.test.",
            "autodiscover.example.test.",
            "mail.example.test.",
            "other.test.",
            "autodiscover.other.test.",
        ] {
            let a = ask(&zones, owner, RecordType::A);
            assert_positive(&a);
            assert_eq!(rdata(a.answers), pairs(&[(owner, "192.0.2.1")]), "{owner}");
            let aaaa = ask(&zones, owner, RecordType::AAAA);
            assert_positive(&aaaa);
            assert_eq!(
                rdata(aaaa.answers),
                pairs(&[(owner, "2001:db8::1")]),
                "{owner}"
            );
        }
    }

    #[test]
    fn srv_records_point_at_public_host_with_site_ports() {
        let zones = zones();
        for apex in ["example.test.", "other.test."] {
            for (prefix, target) in [
                ("_autodiscover._tcp", "0 0 8443 mail.example.test."),
                ("_sip._udp", "0 0 5060 mail.example.test."),
                ("_sip._tcp", "0 0 5060 mail.example.test."),
                ("_sips._tcp", "0 0 5061 mail.example.test."),
            ] {
                let owner = format!("{prefix}.{apex}");
                let answer = ask(&zones, &owner, RecordType::SRV);
                assert_positive(&answer);
                assert_eq!(rdata(answer.answers), pairs(&[(&owner, target)]));
                assert_eq!(answer.additionals.len(), 2, "{owner}: target addresses");
            }
        }
    }

    #[test]
    fn names_outside_our_zones_are_refused() {
        let zones = zones();
        for outside in ["example.com.", "test.", ".", "example.test.evil."] {
            assert_bare(&ask(&zones, outside, RecordType::A), ResponseCode::Refused);
        }
    }

    #[test]
    fn unknown_name_is_nxdomain_with_soa() {
        let zones = zones();
        assert_negative(
            &ask(&zones, "nope.example.test.", RecordType::A),
            ResponseCode::NXDomain,
            "example.test.",
        );
        assert_negative(
            &ask(&zones, "a.b.other.test.", RecordType::SRV),
            ResponseCode::NXDomain,
            "other.test.",
        );
        // The public host lives in example.test only.
        assert_negative(
            &ask(&zones, "mail.other.test.", RecordType::A),
            ResponseCode::NXDomain,
            "other.test.",
        );
    }

    #[test]
    fn existing_name_without_the_type_is_nodata_with_soa() {
        let zones = zones();
        assert_negative(
            &ask(&zones, "example.test.", RecordType::MX),
            ResponseCode::NoError,
            "example.test.",
        );
        assert_negative(
            &ask(&zones, "autodiscover.example.test.", RecordType::SRV),
            ResponseCode::NoError,
            "example.test.",
        );
        assert_negative(
            &ask(&zones, "_autodiscover._tcp.other.test.", RecordType::A),
            ResponseCode::NoError,
            "other.test.",
        );
        // `_tcp` and `_udp` own nothing but have names below them: empty non-terminals (RFC 8020).
        assert_negative(
            &ask(&zones, "_tcp.example.test.", RecordType::A),
            ResponseCode::NoError,
            "example.test.",
        );
        assert_negative(
            &ask(&zones, "_udp.other.test.", RecordType::ANY),
            ResponseCode::NoError,
            "other.test.",
        );
    }

    #[test]
    fn any_answers_every_rrset_at_the_name() {
        let zones = zones();
        let answer = ask(&zones, "example.test.", RecordType::ANY);
        assert_positive(&answer);
        let types: Vec<_> = answer.answers.iter().map(Record::record_type).collect();
        assert_eq!(
            types,
            [
                RecordType::A,
                RecordType::NS,
                RecordType::SOA,
                RecordType::AAAA
            ]
        );
        assert!(answer.additionals.is_empty());
    }

    #[test]
    fn matching_ignores_case() {
        let zones = zones();
        let answer = ask(&zones, "AutoDiscover.EXAMPLE.Test.", RecordType::A);
        assert_positive(&answer);
        assert_eq!(answer.answers.len(), 1);
        assert_negative(
            &ask(&zones, "NoPe.Other.TEST.", RecordType::A),
            ResponseCode::NXDomain,
            "other.test.",
        );
    }

    #[test]
    fn zone_transfers_and_other_classes_are_refused() {
        let zones = zones();
        assert_bare(
            &ask(&zones, "example.test.", RecordType::AXFR),
            ResponseCode::Refused,
        );
        assert_bare(
            &ask(&zones, "example.test.", RecordType::IXFR),
            ResponseCode::Refused,
        );
        let mut chaos = Query::query(name("example.test."), RecordType::SOA);
        chaos.set_query_class(DNSClass::CH);
        let queries = [LowerQuery::query(chaos)];
        let question = Question {
            op_code: OpCode::Query,
            queries: &queries,
            edns_version: None,
        };
        assert_bare(&zones.respond(&question), ResponseCode::Refused);
    }

    #[test]
    fn other_opcodes_are_not_implemented() {
        let zones = zones();
        let queries = [query("example.test.", RecordType::SOA)];
        for op_code in [
            OpCode::Update,
            OpCode::Notify,
            OpCode::Status,
            OpCode::Unknown(9),
        ] {
            let question = Question {
                op_code,
                queries: &queries,
                edns_version: None,
            };
            assert_bare(&zones.respond(&question), ResponseCode::NotImp);
        }
    }

    #[test]
    fn a_query_needs_exactly_one_question() {
        let zones = zones();
        let two = [
            query("example.test.", RecordType::A),
            query("other.test.", RecordType::A),
        ];
        for queries in [&two[..0], &two[..]] {
            let question = Question {
                op_code: OpCode::Query,
                queries,
                edns_version: None,
            };
            assert_bare(&zones.respond(&question), ResponseCode::FormErr);
        }
    }

    #[test]
    fn unknown_edns_version_is_badvers() {
        let zones = zones();
        let queries = [query("example.test.", RecordType::A)];
        let question = Question {
            op_code: OpCode::Query,
            queries: &queries,
            edns_version: Some(1),
        };
        assert_bare(&zones.respond(&question), ResponseCode::BADVERS);
        let question = Question {
            edns_version: Some(0),
            ..question
        };
        assert_positive(&zones.respond(&question));
    }

    #[test]
    fn public_host_outside_our_zones_gets_no_addresses() {
        let zones = ZoneSet::build(&site(&["example.test"], "mx.provider.test"), 1);
        let answer = ask(&zones, "example.test.", RecordType::NS);
        assert_eq!(
            rdata(answer.answers),
            pairs(&[("example.test.", "mx.provider.test.")])
        );
        assert!(answer.additionals.is_empty());
        let srv = ask(&zones, "_autodiscover._tcp.example.test.", RecordType::SRV);
        assert!(srv.additionals.is_empty());
        assert_bare(
            &ask(&zones, "mx.provider.test.", RecordType::A),
            ResponseCode::Refused,
        );
    }

    #[test]
    fn coinciding_names_and_repeated_domains_do_not_duplicate_records() {
        let zones = ZoneSet::build(
            &site(
                &["example.test", "EXAMPLE.test", "example.test."],
                "autodiscover.example.test",
            ),
            1,
        );
        assert!(zones.problems().is_empty(), "{:?}", zones.problems());
        assert_eq!(zones.zones.len(), 1);
        assert_eq!(
            ask(&zones, "autodiscover.example.test.", RecordType::A)
                .answers
                .len(),
            1
        );
        assert_eq!(
            ask(&zones, "example.test.", RecordType::SOA).answers.len(),
            1
        );
    }

    #[test]
    fn nested_zone_answers_for_its_own_names() {
        let zones = ZoneSet::build(
            &site(
                &["example.test", "sub.example.test"],
                "mail.sub.example.test",
            ),
            3,
        );
        let soa = ask(&zones, "sub.example.test.", RecordType::SOA);
        assert_eq!(
            soa.answers.first().map(|r| r.name.clone()),
            Some(name("sub.example.test."))
        );
        let host = ask(&zones, "mail.sub.example.test.", RecordType::A);
        assert_positive(&host);
        assert_negative(
            &ask(&zones, "nope.sub.example.test.", RecordType::A),
            ResponseCode::NXDomain,
            "sub.example.test.",
        );
        // The parent zone's SRV targets still get the host's addresses from the child zone.
        assert_eq!(
            ask(&zones, "_sip._udp.example.test.", RecordType::SRV)
                .additionals
                .len(),
            2
        );
    }

    #[test]
    fn invalid_names_are_reported_and_left_out() {
        let long_domain = [
            "a".repeat(63),
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(50),
        ]
        .join(".");
        let zones = ZoneSet::build(
            &site(
                &["bad..name", &long_domain, "example.test"],
                "mail.example.test",
            ),
            1,
        );
        let problems: Vec<String> = zones.problems().iter().map(ToString::to_string).collect();
        assert!(
            problems.iter().any(|p| p.contains("bad..name")),
            "{problems:?}"
        );
        // The long domain itself fits in 255 octets, but `_autodiscover._tcp.` in front of it does not.
        assert!(
            problems
                .iter()
                .any(|p| p.contains("_autodiscover._tcp.aaa")),
            "{problems:?}"
        );
        assert_positive(&ask(&zones, &format!("{long_domain}."), RecordType::SOA));
        assert_positive(&ask(&zones, "example.test.", RecordType::SOA));

        let no_host = ZoneSet::build(&site(&["example.test"], "bad..host"), 1);
        assert_eq!(no_host.problems().len(), 1);
        assert_bare(
            &ask(&no_host, "example.test.", RecordType::SOA),
            ResponseCode::Refused,
        );
    }
}
