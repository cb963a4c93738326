//! ResolveNames (MS-OXWSRSLV): an ambiguous name to mailboxes, from the directory (umbox's
//! "Active Directory") and the user's own contacts.
//!
//! An entry resolves the way Exchange's ambiguous name resolution does: a prefix of the display
//! name or of any word in it, of an SMTP address (primary or proxy) or of the address's local
//! part, all case-insensitive. `SMTP:addr` and `sip:uri` match that address exactly. More than one
//! candidate is a Warning carrying all of them (at most 100), none is
//! ErrorNameResolutionNoResults.
//!
//! Storage contract for contacts (what CreateItem writes for a `t:Contact`): items of class
//! `IPM.Contact…` with PidTagDisplayName, PidTagGivenName (0x3A06), PidTagSurname (0x3A11),
//! PidTagCompanyName (0x3A16), PidTagBusinessTelephoneNumber (0x3A08), PidTagHomeTelephoneNumber
//! (0x3A09), PidTagMobileTelephoneNumber (0x3A1C) and the addresses PidLidEmail1EmailAddress,
//! PidLidEmail2EmailAddress, PidLidEmail3EmailAddress (PSETID_Address 0x8083, 0x8093, 0x80A3,
//! Unicode). A contact without an e-mail address cannot stand for a mailbox and is not offered.

use super::EwsOperation;
use crate::codes::ResponseCode;
use crate::error::{Error, Fault};
use crate::fields::parse_bool;
use crate::soap::{M, T};
use crate::{child, response_message, warning_message, Request};
use umbox_base::directory::User;
use umbox_base::version::ExchangeVersion;
use umbox_store::props::{contact, tags, PropTag, PropType};
use umbox_store::{DistinguishedFolder, FolderId, Item};
use umbox_xml::{ns, Element, Writer};

/// The most candidates one entry returns (Exchange's limit).
const MAX_CANDIDATES: usize = 100;
/// The item class prefix of contacts.
const CONTACT_CLASS: &str = "IPM.Contact";
/// PidTagGivenName.
const GIVEN_NAME: PropTag = PropTag::new(0x3A06, PropType::Unicode);
/// PidTagSurname.
const SURNAME: PropTag = PropTag::new(0x3A11, PropType::Unicode);
/// PidTagCompanyName.
const COMPANY_NAME: PropTag = PropTag::new(0x3A16, PropType::Unicode);
/// Contact phone properties and the `PhoneNumbers` key each is written under.
const CONTACT_PHONES: [(PropTag, &str); 3] = [
    (PropTag::new(0x3A08, PropType::Unicode), "BusinessPhone"),
    (PropTag::new(0x3A09, PropType::Unicode), "HomePhone"),
    (PropTag::new(0x3A1C, PropType::Unicode), "MobilePhone"),
];
/// `PhoneNumbers` keys for directory numbers, which carry no kind: the line URI's number is the
/// business phone, the other numbers fill these in order.
const DIRECTORY_PHONE_KEYS: [&str; 3] = ["OtherTelephone", "BusinessPhone2", "HomePhone2"];

/// Where to look, in order (MS-OXWSRSLV ResolveNamesSearchScopeType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// The directory only.
    ActiveDirectory,
    /// The directory, then the user's contacts (the default).
    ActiveDirectoryContacts,
    /// The user's contacts only.
    Contacts,
    /// The user's contacts, then the directory.
    ContactsActiveDirectory,
}

impl Scope {
    /// The `SearchScope` attribute's value.
    fn parse(text: &str) -> Result<Scope, Fault> {
        Ok(match text {
            "ActiveDirectory" => Scope::ActiveDirectory,
            "ActiveDirectoryContacts" => Scope::ActiveDirectoryContacts,
            "Contacts" => Scope::Contacts,
            "ContactsActiveDirectory" => Scope::ContactsActiveDirectory,
            other => return Err(Fault::schema(format!("SearchScope {other:?} is not valid"))),
        })
    }

    /// Whether the directory is searched.
    fn directory(self) -> bool {
        self != Scope::Contacts
    }

    /// Whether the user's contacts are searched.
    fn contacts(self) -> bool {
        self != Scope::ActiveDirectory
    }

    /// Whether contacts are listed before directory users.
    fn contacts_first(self) -> bool {
        self == Scope::ContactsActiveDirectory
    }
}

/// What an entry asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Query {
    /// `SMTP:addr`: exactly that address.
    Smtp(String),
    /// `sip:uri`: exactly that SIP URI.
    Sip(String),
    /// Anything else: ambiguous name resolution on the lower-cased text.
    Name(String),
}

impl Query {
    /// Reads the text of an `UnresolvedEntry`.
    fn parse(entry: &str) -> Query {
        let entry = entry.trim();
        let prefixed = |prefix: &str| {
            entry
                .get(..prefix.len())
                .filter(|p| p.eq_ignore_ascii_case(prefix))
                .and_then(|_| entry.get(prefix.len()..))
        };
        if let Some(address) = prefixed("smtp:") {
            Query::Smtp(address.to_owned())
        } else if prefixed("sip:").is_some() {
            Query::Sip(entry.to_owned())
        } else {
            Query::Name(entry.to_lowercase())
        }
    }

    /// Whether a candidate with these names and addresses matches.
    fn matches(&self, names: &[&str], addresses: &[&str], sip: Option<&str>) -> bool {
        match self {
            Query::Smtp(address) => addresses.iter().any(|a| a.eq_ignore_ascii_case(address)),
            Query::Sip(uri) => sip.is_some_and(|s| s.eq_ignore_ascii_case(uri)),
            Query::Name(text) => {
                let starts = |candidate: &str| candidate.to_lowercase().starts_with(text.as_str());
                names
                    .iter()
                    .any(|n| starts(n) || n.split_whitespace().any(starts))
                    || addresses.iter().any(|a| starts(a))
            }
        }
    }
}

/// A contact from the user's folders.
#[derive(Debug)]
pub(crate) struct Contact {
    /// The contact item as stored.
    item: Item,
    /// Its display name, else the address it stands for.
    display_name: String,
    /// The address the resolution stands for: the first that matched, else the first.
    address: String,
    /// Its e-mail addresses, in PidLidEmail1…3 order.
    emails: Vec<String>,
}

/// One candidate: a directory user (owned, so that a response outlives the request) or a contact.
#[derive(Debug)]
pub(crate) enum Candidate {
    /// A mailbox of the directory.
    Directory(User),
    /// A contact of the user's folders.
    Contact(Contact),
}

impl Candidate {
    /// The name candidates are sorted and shown by.
    fn display_name(&self) -> &str {
        match self {
            Candidate::Directory(user) => &user.display_name,
            Candidate::Contact(contact) => &contact.display_name,
        }
    }
}

/// The element name of every response message of ResolveNames.
const RESPONSE_MESSAGE: &str = "ResolveNamesResponseMessage";

/// ResolveNames: one response message per `UnresolvedEntry` (the schema allows one; exchangelib
/// sends several), in request order.
#[derive(Debug)]
pub(crate) struct ResolveNames {
    /// ReturnFullContactData: each resolution also carries a `t:Contact`.
    pub(crate) full_contact_data: bool,
    /// Where to look, and in which order.
    pub(crate) scope: Scope,
    /// The contact folders searched: `ParentFolderIds` as opened, or `None` for the mailbox's
    /// Contacts folder. A folder that does not open fails every entry when contacts are searched.
    pub(crate) folders: Option<Result<Vec<FolderId>, Error>>,
    /// Each `UnresolvedEntry`, in request order.
    pub(crate) queries: Vec<Query>,
}

/// The candidates found for one entry.
#[derive(Debug)]
pub(crate) struct Resolution {
    /// The candidates shown, in scope order: at least one, at most [`MAX_CANDIDATES`].
    candidates: Vec<Candidate>,
    /// Whether `candidates` holds every match (IncludesLastItemInRange).
    complete: bool,
}

/// For each entry, in request order, its candidates or why there are none.
pub(crate) struct ResolveNamesResponse {
    /// Whether each resolution carries a `t:Contact`, as asked.
    full_contact_data: bool,
    /// One per entry.
    resolutions: Vec<Result<Resolution, Error>>,
}

impl EwsOperation for ResolveNames {
    type Response = ResolveNamesResponse;

    fn parse(request: &Request<'_>, op: &Element) -> Result<Self, Fault> {
        let full_contact_data = parse_bool(
            op.attribute("", "ReturnFullContactData")
                .ok_or_else(|| Fault::schema("ResolveNames needs ReturnFullContactData"))?,
        )?;
        let scope = op
            .attribute("", "SearchScope")
            .map(Scope::parse)
            .transpose()?
            .unwrap_or(Scope::ActiveDirectoryContacts);
        if let Some(shape) = op.attribute("", "ContactDataShape") {
            // The shape only trims store contacts' properties; umbox returns the same few for all.
            if request.version < ExchangeVersion::Exchange2010Sp2
                || !["IdOnly", "Default", "AllProperties"].contains(&shape)
            {
                return Err(Fault::schema(format!(
                    "ContactDataShape {shape:?} is not valid in {}",
                    request.version.as_str()
                )));
            }
        }
        let mut entries = Vec::new();
        for element in op.children() {
            match (element.namespace() == ns::EWS_MESSAGES, element.name()) {
                (true, "UnresolvedEntry") => entries.push(element.trimmed_text()),
                (true, "ParentFolderIds") => {}
                _ => {
                    return Err(Fault::schema(format!(
                        "unexpected element {} in ResolveNames",
                        element.name()
                    )))
                }
            }
        }
        if entries.is_empty() || entries.iter().any(|e| e.is_empty()) {
            return Err(Fault::schema(
                "ResolveNames needs a non-empty UnresolvedEntry",
            ));
        }
        let folders = child(op, "ParentFolderIds")
            .map(|ids| ids.children().map(|id| request.folder_id(id)).collect());
        Ok(ResolveNames {
            full_contact_data,
            scope,
            folders,
            queries: entries.into_iter().map(Query::parse).collect(),
        })
    }

    fn run(self, request: &Request<'_>) -> Result<ResolveNamesResponse, Fault> {
        let contacts = if self.scope.contacts() {
            let folders = self.folders.unwrap_or_else(|| {
                request
                    .ctx
                    .store
                    .distinguished_folder(&request.mailbox, DistinguishedFolder::Contacts)
                    .map(|f| vec![f])
                    .map_err(Error::from)
            });
            folders.and_then(|f| contact_items(request, &f))
        } else {
            Ok(Vec::new())
        };
        let resolutions = self
            .queries
            .iter()
            .map(|query| {
                let contacts = contacts.as_ref().map_err(Error::again)?;
                resolution(candidates(request, query, self.scope, contacts))
            })
            .collect();
        Ok(ResolveNamesResponse {
            full_contact_data: self.full_contact_data,
            resolutions,
        })
    }

    fn write(response: &ResolveNamesResponse, request: &Request<'_>, w: &mut Writer<'_>) {
        w.start(M, "ResolveNamesResponse")
            .start(M, "ResponseMessages");
        let full = response.full_contact_data;
        for result in &response.resolutions {
            match result {
                // More than one candidate still answers, as a warning carrying all of them.
                Ok(found) if found.candidates.len() > 1 => warning_message(
                    w,
                    RESPONSE_MESSAGE,
                    &Error::new(
                        ResponseCode::ErrorNameResolutionMultipleResults,
                        "multiple results were found",
                    ),
                    |w: &mut Writer<'_>| write_resolution_set(w, request, found, full),
                ),
                other => response_message(
                    w,
                    RESPONSE_MESSAGE,
                    other.as_ref().map(|found| {
                        move |w: &mut Writer<'_>| write_resolution_set(w, request, found, full)
                    }),
                ),
            }
        }
        w.end().end();
    }
}

/// The answer for one entry's candidates: none is ErrorNameResolutionNoResults, more than
/// [`MAX_CANDIDATES`] are cut to that many.
fn resolution(mut candidates: Vec<Candidate>) -> Result<Resolution, Error> {
    if candidates.is_empty() {
        return Err(Error::new(
            ResponseCode::ErrorNameResolutionNoResults,
            "no results were found",
        ));
    }
    let complete = candidates.len() <= MAX_CANDIDATES;
    candidates.truncate(MAX_CANDIDATES);
    Ok(Resolution {
        candidates,
        complete,
    })
}

/// The contact items of `folders`, with their addresses read.
fn contact_items(
    request: &Request<'_>,
    folders: &[FolderId],
) -> Result<Vec<(Item, Vec<String>)>, Error> {
    let store = request.ctx.store;
    let email_tags: Vec<PropTag> = store
        .named_property_ids(&request.mailbox, &contact::email_addresses())?
        .into_iter()
        .flatten()
        .map(|id| PropTag::new(id, PropType::Unicode))
        .collect();
    let mut contacts = Vec::new();
    for folder in folders {
        for item in store.items(&request.mailbox, *folder)? {
            let class = item.props.unicode(tags::MESSAGE_CLASS).unwrap_or_default();
            if !(class == CONTACT_CLASS
                || class
                    .strip_prefix(CONTACT_CLASS)
                    .is_some_and(|r| r.starts_with('.')))
            {
                continue;
            }
            let emails: Vec<String> = email_tags
                .iter()
                .filter_map(|tag| item.props.unicode(*tag))
                .map(str::trim)
                .filter(|e| !e.is_empty())
                .map(str::to_owned)
                .collect();
            if !emails.is_empty() {
                contacts.push((item, emails));
            }
        }
    }
    Ok(contacts)
}

/// Every candidate for `query` in `scope`'s order, each source sorted by display name.
fn candidates(
    request: &Request<'_>,
    query: &Query,
    scope: Scope,
    contacts: &[(Item, Vec<String>)],
) -> Vec<Candidate> {
    let mut directory: Vec<Candidate> = Vec::new();
    if scope.directory() {
        for user in &request.ctx.directory.users {
            let mut addresses: Vec<&str> = vec![user.address.as_str()];
            addresses.extend(user.proxy_addresses.iter().map(String::as_str));
            let local = user.address.split('@').next().unwrap_or_default();
            let names = [user.display_name.as_str(), local];
            if query.matches(&names, &addresses, user.sip_uri.as_deref()) {
                directory.push(Candidate::Directory(user.clone()));
            }
        }
    }
    let mut store: Vec<Candidate> = Vec::new();
    for (item, emails) in contacts {
        let text = |tag| item.props.unicode(tag).unwrap_or_default();
        let display_name = text(tags::DISPLAY_NAME);
        let names = [display_name, text(GIVEN_NAME), text(SURNAME)];
        let addresses: Vec<&str> = emails.iter().map(String::as_str).collect();
        if !query.matches(&names, &addresses, None) {
            continue;
        }
        let address = addresses
            .iter()
            .find(|a| query.matches(&[], &[a], None))
            .or(addresses.first())
            .map_or_else(String::new, |a| (*a).to_owned());
        let display_name = if display_name.is_empty() {
            address.clone()
        } else {
            display_name.to_owned()
        };
        store.push(Candidate::Contact(Contact {
            item: item.clone(),
            display_name,
            address,
            emails: emails.clone(),
        }));
    }
    for list in [&mut directory, &mut store] {
        list.sort_by_key(|c| c.display_name().to_lowercase());
    }
    if scope.contacts_first() {
        store.extend(directory);
        store
    } else {
        directory.extend(store);
        directory
    }
}

/// `m:ResolutionSet` of one entry.
fn write_resolution_set(
    w: &mut Writer<'_>,
    request: &Request<'_>,
    resolution: &Resolution,
    full_contact_data: bool,
) {
    w.start(M, "ResolutionSet")
        .attribute("TotalItemsInView", &resolution.candidates.len().to_string())
        .attribute(
            "IncludesLastItemInRange",
            if resolution.complete { "true" } else { "false" },
        );
    for candidate in &resolution.candidates {
        w.start(T, "Resolution");
        write_mailbox(w, request, candidate);
        if full_contact_data {
            write_contact(w, candidate);
        }
        w.end();
    }
    w.end();
}

/// `t:Mailbox` (EmailAddressType): Name, EmailAddress, RoutingType, MailboxType, ItemId.
fn write_mailbox(w: &mut Writer<'_>, request: &Request<'_>, candidate: &Candidate) {
    w.start(T, "Mailbox");
    match candidate {
        Candidate::Directory(user) => {
            w.leaf(T, "Name", &user.display_name);
            w.leaf(T, "EmailAddress", &user.address);
            w.leaf(T, "RoutingType", "SMTP");
            w.leaf(T, "MailboxType", "Mailbox");
        }
        Candidate::Contact(contact) => {
            let ids = request.ctx.ids;
            w.leaf(T, "Name", &contact.display_name);
            w.leaf(T, "EmailAddress", &contact.address);
            w.leaf(T, "RoutingType", "SMTP");
            w.leaf(T, "MailboxType", "Contact");
            w.start(T, "ItemId")
                .attribute("Id", &ids.item(&request.mailbox, contact.item.id))
                .attribute(
                    "ChangeKey",
                    &ids.item_change_key(
                        &request.mailbox,
                        contact.item.id,
                        contact.item.change_key,
                    ),
                )
                .end();
        }
    }
    w.end();
}

/// The parts of `t:Contact` (ContactItemType) umbox knows, in schema order.
struct ContactData<'a> {
    display_name: &'a str,
    given_name: &'a str,
    company_name: &'a str,
    /// EmailAddresses entries, at most three.
    emails: Vec<String>,
    phones: Vec<(&'static str, String)>,
    source: &'static str,
    im_address: Option<&'a str>,
    surname: &'a str,
}

/// `t:Contact` of a candidate: the directory's or the contact item's data.
fn write_contact(w: &mut Writer<'_>, candidate: &Candidate) {
    let data = match candidate {
        Candidate::Directory(user) => directory_contact(user),
        Candidate::Contact(contact) => {
            let text = |tag| contact.item.props.unicode(tag).unwrap_or_default();
            ContactData {
                display_name: &contact.display_name,
                given_name: text(GIVEN_NAME),
                company_name: text(COMPANY_NAME),
                emails: contact.emails.clone(),
                phones: CONTACT_PHONES
                    .iter()
                    .filter_map(|(tag, key)| {
                        contact
                            .item
                            .props
                            .unicode(*tag)
                            .map(|n| (*key, n.to_owned()))
                    })
                    .collect(),
                source: "Store",
                im_address: None,
                surname: text(SURNAME),
            }
        }
    };
    w.start(T, "Contact");
    let optional = |w: &mut Writer<'_>, name: &'static str, value: &str| {
        if !value.is_empty() {
            w.leaf(T, name, value);
        }
    };
    optional(w, "DisplayName", data.display_name);
    optional(w, "GivenName", data.given_name);
    optional(w, "CompanyName", data.company_name);
    let keyed = |w: &mut Writer<'_>, name: &'static str, entries: &[(&str, &str)]| {
        if entries.is_empty() {
            return;
        }
        w.start(T, name);
        for (key, value) in entries {
            w.start(T, "Entry").attribute("Key", key).text(value).end();
        }
        w.end();
    };
    let email_keys = ["EmailAddress1", "EmailAddress2", "EmailAddress3"];
    let emails: Vec<(&str, &str)> = email_keys
        .iter()
        .copied()
        .zip(data.emails.iter().map(String::as_str))
        .collect();
    keyed(w, "EmailAddresses", &emails);
    let phones: Vec<(&str, &str)> = data.phones.iter().map(|(k, v)| (*k, v.as_str())).collect();
    keyed(w, "PhoneNumbers", &phones);
    w.leaf(T, "ContactSource", data.source);
    let im: Vec<(&str, &str)> = data
        .im_address
        .map(|a| ("ImAddress1", a))
        .into_iter()
        .collect();
    keyed(w, "ImAddresses", &im);
    optional(w, "Surname", data.surname);
    w.end();
}

/// A directory user as a contact. The directory keeps one display name, so the given name is its
/// first word and the surname the rest; addresses are written `SMTP:` (primary) and `smtp:`
/// (proxies) as Exchange writes directory entries.
fn directory_contact(user: &User) -> ContactData<'_> {
    let (given_name, surname) = user
        .display_name
        .trim()
        .split_once(' ')
        .unwrap_or((user.display_name.trim(), ""));
    let mut emails = vec![format!("SMTP:{}", user.address)];
    emails.extend(user.proxy_addresses.iter().map(|p| format!("smtp:{p}")));
    emails.truncate(3);
    let business = user
        .line_uri
        .as_deref()
        .map(|uri| {
            let number = uri.strip_prefix("tel:").unwrap_or(uri);
            number.split(';').next().unwrap_or(number).to_owned()
        })
        .or_else(|| user.calling_line_ids.first().cloned());
    let mut phones: Vec<(&'static str, String)> =
        business.map(|n| ("BusinessPhone", n)).into_iter().collect();
    phones.extend(
        DIRECTORY_PHONE_KEYS
            .iter()
            .copied()
            .zip(user.phone_numbers.iter().cloned()),
    );
    ContactData {
        display_name: &user.display_name,
        given_name,
        company_name: "",
        emails,
        phones,
        source: "ActiveDirectory",
        im_address: user.sip_uri.as_deref(),
        surname: surname.trim(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testkit::Kit;

    const ALICE: &str = "alice@example.test";

    #[test]
    fn queries_match_like_ambiguous_name_resolution() {
        let names = ["Alice Anders", "alice"];
        let addresses = ["alice@example.test", "a.anders@example.test"];
        let sip = Some("sip:alice@example.test");
        for hit in [
            "ali",
            "ANDERS",
            "Alice A",
            "alice@example.test",
            "a.and",
            "SMTP:a.anders@example.test",
            "sip:Alice@example.test",
        ] {
            assert!(Query::parse(hit).matches(&names, &addresses, sip), "{hit}");
        }
        for miss in [
            "bob",
            "smtp:alice",
            "sip:bob@example.test",
            "example.test",
            "lice",
        ] {
            assert!(
                !Query::parse(miss).matches(&names, &addresses, sip),
                "{miss}"
            );
        }
    }

    /// The addresses of a resolution's candidates, in order.
    fn addresses(resolution: &Resolution) -> Vec<&str> {
        resolution
            .candidates
            .iter()
            .map(|candidate| match candidate {
                Candidate::Directory(user) => user.address.as_str(),
                Candidate::Contact(contact) => contact.address.as_str(),
            })
            .collect()
    }

    /// ResolveNames without full contact data.
    fn resolve_names(
        scope: Scope,
        folders: Option<Result<Vec<FolderId>, Error>>,
        entries: &[&str],
    ) -> ResolveNames {
        ResolveNames {
            full_contact_data: false,
            scope,
            folders,
            queries: entries.iter().map(|e| Query::parse(e)).collect(),
        }
    }

    /// Each entry is answered on its own: one without candidates fails alone, and a contact
    /// folder that does not open fails only the entries that search contacts.
    #[test]
    fn run_answers_each_entry_on_its_own() {
        let kit = Kit::new();
        let request = kit.request(ALICE);
        super::handle_tests::add_contact(&kit, "Bobby Tables", "bobby@elsewhere.test");

        let resolutions = resolve_names(
            Scope::ActiveDirectoryContacts,
            None,
            &["bob", "nobody", "SMTP:alice@example.test"],
        )
        .run(&request)
        .unwrap()
        .resolutions;
        let bob = resolutions[0].as_ref().unwrap();
        assert_eq!(addresses(bob), ["bob@example.test", "bobby@elsewhere.test"]);
        assert!(bob.complete);
        let Candidate::Contact(contact) = &bob.candidates[1] else {
            panic!("{bob:?}")
        };
        assert_eq!(contact.display_name, "Bobby Tables");
        assert_eq!(contact.emails, ["bobby@elsewhere.test"]);
        let nobody = resolutions[1].as_ref().err().unwrap();
        assert_eq!(
            nobody.response_code(),
            ResponseCode::ErrorNameResolutionNoResults
        );
        assert_eq!(addresses(resolutions[2].as_ref().unwrap()), [ALICE]);

        // Listed folders replace the Contacts folder: the inbox holds no contacts.
        let inbox = kit.folder(ALICE, DistinguishedFolder::Inbox);
        let resolutions = resolve_names(Scope::Contacts, Some(Ok(vec![inbox])), &["bob"])
            .run(&request)
            .unwrap()
            .resolutions;
        let code = resolutions[0].as_ref().err().unwrap().response_code();
        assert_eq!(code, ResponseCode::ErrorNameResolutionNoResults);

        let unopened = || Some(Err(Error::new(ResponseCode::ErrorFolderNotFound, "gone")));
        let resolutions = resolve_names(
            Scope::ActiveDirectoryContacts,
            unopened(),
            &["bob", "alice"],
        )
        .run(&request)
        .unwrap()
        .resolutions;
        for result in &resolutions {
            let error = result.as_ref().err().unwrap();
            assert_eq!(error.response_code(), ResponseCode::ErrorFolderNotFound);
            assert_eq!(error.to_string(), "gone");
        }
        let resolutions = resolve_names(Scope::ActiveDirectory, unopened(), &["bob"])
            .run(&request)
            .unwrap()
            .resolutions;
        assert_eq!(
            addresses(resolutions[0].as_ref().unwrap()),
            ["bob@example.test"]
        );
    }

    /// IncludesLastItemInRange is false once the candidates are cut to Exchange's limit.
    #[test]
    fn more_candidates_than_exchange_returns_are_cut() {
        let kit = Kit::new();
        let user = &kit.directory.users[0];
        let many = (0..=MAX_CANDIDATES).map(|_| Candidate::Directory(user.clone()));
        let cut = resolution(many.collect()).unwrap();
        assert_eq!(cut.candidates.len(), MAX_CANDIDATES);
        assert!(!cut.complete);
    }
}

#[cfg(test)]
mod handle_tests {
    use crate::ops::testkit::{all, describe, one, text, Kit};
    use umbox_store::props::{tags, PropValue};
    use umbox_store::DistinguishedFolder;

    fn resolve(kit: &Kit, attributes: &str, entry: &str) -> umbox_xml::Element {
        kit.call(&format!(
            r#"<m:ResolveNames ReturnFullContactData="false" {attributes}><m:UnresolvedEntry>{entry}</m:UnresolvedEntry></m:ResolveNames>"#
        ))
    }

    fn message(body: &umbox_xml::Element) -> &umbox_xml::Element {
        one(
            body,
            &[
                "ResolveNamesResponse",
                "ResponseMessages",
                "ResolveNamesResponseMessage",
            ],
        )
    }

    fn addresses(body: &umbox_xml::Element) -> Vec<String> {
        all(
            message(body),
            &["ResolutionSet", "Resolution", "Mailbox", "EmailAddress"],
        )
        .iter()
        .map(|e| e.trimmed_text().to_owned())
        .collect()
    }

    /// Stores a contact named `name` with one address in alice's Contacts folder.
    pub(super) fn add_contact(kit: &Kit, name: &str, email: &str) {
        kit.create_item(
            "alice@example.test",
            DistinguishedFolder::Contacts,
            vec![
                (
                    tags::MESSAGE_CLASS.into(),
                    PropValue::Unicode("IPM.Contact".into()),
                ),
                (tags::DISPLAY_NAME.into(), PropValue::Unicode(name.into())),
            ],
            &[(
                umbox_store::props::property_sets::ADDRESS,
                umbox_store::props::contact::EMAIL_ADDRESS_IDS[0],
                PropValue::Unicode(email.into()),
            )],
        );
    }

    #[test]
    fn directory_names_resolve_by_prefix_address_and_smtp() {
        let kit = Kit::new();
        for entry in [
            "ali",
            "Anders",
            "alice@example.test",
            "SMTP:ALICE@example.test",
            "sip:alice@example.test",
        ] {
            let body = resolve(&kit, "", entry);
            let message = message(&body);
            assert_eq!(
                message.attribute("", "ResponseClass"),
                Some("Success"),
                "{entry}: {}",
                describe(message)
            );
            let mailbox = one(message, &["ResolutionSet", "Resolution", "Mailbox"]);
            assert_eq!(text(mailbox, &["Name"]), "Alice Anders");
            assert_eq!(text(mailbox, &["EmailAddress"]), "alice@example.test");
            assert_eq!(text(mailbox, &["RoutingType"]), "SMTP");
            assert_eq!(text(mailbox, &["MailboxType"]), "Mailbox");
            assert_eq!(
                one(message, &["ResolutionSet"]).attribute("", "IncludesLastItemInRange"),
                Some("true")
            );
        }
        let body = resolve(&kit, "", "nobody");
        assert_eq!(message(&body).attribute("", "ResponseClass"), Some("Error"));
        assert_eq!(
            text(message(&body), &["ResponseCode"]),
            "ErrorNameResolutionNoResults"
        );
        assert!(all(message(&body), &["ResolutionSet"]).is_empty());
    }

    #[test]
    fn several_matches_are_a_warning_with_every_candidate_in_scope_order() {
        let kit = Kit::new();
        add_contact(&kit, "Bobby Tables", "bobby@elsewhere.test");
        let body = resolve(&kit, "", "bob");
        let first = message(&body);
        assert_eq!(first.attribute("", "ResponseClass"), Some("Warning"));
        assert_eq!(
            text(first, &["ResponseCode"]),
            "ErrorNameResolutionMultipleResults"
        );
        assert_eq!(
            addresses(&body),
            ["bob@example.test", "bobby@elsewhere.test"]
        );
        assert_eq!(
            one(first, &["ResolutionSet"]).attribute("", "TotalItemsInView"),
            Some("2")
        );
        let contact = all(first, &["ResolutionSet", "Resolution", "Mailbox"])[1];
        assert_eq!(text(contact, &["MailboxType"]), "Contact");
        assert!(one(contact, &["ItemId"]).attribute("", "Id").is_some());

        let body = resolve(&kit, r#"SearchScope="ContactsActiveDirectory""#, "bob");
        assert_eq!(
            addresses(&body),
            ["bobby@elsewhere.test", "bob@example.test"]
        );
        let body = resolve(&kit, r#"SearchScope="Contacts""#, "bob");
        assert_eq!(addresses(&body), ["bobby@elsewhere.test"]);
        let body = resolve(&kit, r#"SearchScope="ActiveDirectory""#, "tables");
        assert_eq!(
            text(message(&body), &["ResponseCode"]),
            "ErrorNameResolutionNoResults"
        );
        // Bob's contacts are his own: alice's contact is not among them.
        let (_, body) = kit.call_as(
            "bob@example.test",
            "Exchange2016",
            None,
            r#"<m:ResolveNames ReturnFullContactData="false" SearchScope="Contacts"><m:UnresolvedEntry>bob</m:UnresolvedEntry></m:ResolveNames>"#,
        );
        assert_eq!(
            text(message(&body), &["ResponseCode"]),
            "ErrorNameResolutionNoResults"
        );
    }

    #[test]
    fn full_contact_data_comes_from_the_directory() {
        let kit = Kit::new();
        let body = kit.call(
            r#"<m:ResolveNames ReturnFullContactData="true"><m:UnresolvedEntry>alice</m:UnresolvedEntry></m:ResolveNames>"#,
        );
        let contact = one(message(&body), &["ResolutionSet", "Resolution", "Contact"]);
        let names: Vec<&str> = contact.children().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "DisplayName",
                "GivenName",
                "EmailAddresses",
                "PhoneNumbers",
                "ContactSource",
                "ImAddresses",
                "Surname"
            ]
        );
        assert_eq!(text(contact, &["GivenName"]), "Alice");
        assert_eq!(text(contact, &["Surname"]), "Anders");
        let email = one(contact, &["EmailAddresses", "Entry"]);
        assert_eq!(
            (email.attribute("", "Key"), email.trimmed_text()),
            (Some("EmailAddress1"), "SMTP:alice@example.test")
        );
        let phone = one(contact, &["PhoneNumbers", "Entry"]);
        assert_eq!(
            (phone.attribute("", "Key"), phone.trimmed_text()),
            (Some("BusinessPhone"), "+14255550101")
        );
        assert_eq!(text(contact, &["ContactSource"]), "ActiveDirectory");
        assert_eq!(
            text(contact, &["ImAddresses", "Entry"]),
            "sip:alice@example.test"
        );
    }

    #[test]
    fn malformed_requests_are_faults() {
        let kit = Kit::new();
        for operation in [
            r#"<m:ResolveNames ReturnFullContactData="false" SearchScope="Everywhere"><m:UnresolvedEntry>a</m:UnresolvedEntry></m:ResolveNames>"#,
            r#"<m:ResolveNames><m:UnresolvedEntry>a</m:UnresolvedEntry></m:ResolveNames>"#,
            r#"<m:ResolveNames ReturnFullContactData="false"><m:UnresolvedEntry> </m:UnresolvedEntry></m:ResolveNames>"#,
            r#"<m:ResolveNames ReturnFullContactData="false"><t:UnresolvedEntry>a</t:UnresolvedEntry></m:ResolveNames>"#,
        ] {
            let (status, body) = kit.call_as("alice@example.test", "Exchange2016", None, operation);
            assert_eq!(status, 500, "{operation}");
            assert_eq!(
                text(&body, &["Fault", "detail", "ResponseCode"]),
                "ErrorSchemaValidation"
            );
        }
        let (status, _) = kit.call_as(
            "alice@example.test",
            "Exchange2010",
            None,
            r#"<m:ResolveNames ReturnFullContactData="false" ContactDataShape="Default"><m:UnresolvedEntry>a</m:UnresolvedEntry></m:ResolveNames>"#,
        );
        assert_eq!(status, 500);
    }
}
