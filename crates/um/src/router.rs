//! The call router's decision: which mailbox a call to a voicemail pilot is for, and which
//! media server holds it (Exchange 2013 UM: the Call Router redirects, the Mailbox server's
//! media server answers).
//!
//! Pure logic over typed values: a gateway, the directory and what the INVITE says about its
//! target (Request-URI user, Diversion and History-Info entries parsed by `sip::wire`). Never
//! sees bytes or header text. [`DirectoryRouter`] and [`GatewayAllowList`] are the
//! implementations of the SIP listener's policy traits over the directory as of the last reload;
//! the listener turns a [`Route`] into the 302 or 404.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use tokio::sync::watch;
use umbox_base::directory::{Directory, Extension, Gateway, User};
use umbox_sip::policy::{InviteRouter, InviteTarget, Peers, Route};
use umbox_sip::wire::grammar::{Host, SipUri, Uri};

use crate::numbers::{line_uri_number, same_number};

/// Why the router cannot decide.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The gateway's dial plan is missing from the directory (a state validation prevents).
    #[error("gateway {gateway:?} names missing dial plan {dial_plan:?}")]
    Inconsistent {
        /// The gateway.
        gateway: String,
        /// The dial plan it names.
        dial_plan: String,
    },
}

/// Whom a call is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Called {
    /// A user's mailbox, reached through this extension.
    Mailbox {
        /// The extension in the gateway's dial plan.
        extension: Extension,
        /// The user's primary SMTP address (names the mailbox).
        address: String,
    },
    /// The pilot number itself, with no forwarding information: a direct call to voicemail,
    /// where the caller will be asked for an extension.
    Pilot {
        /// The pilot number dialled.
        number: String,
    },
}

impl std::fmt::Display for Called {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Called::Mailbox { extension, address } => {
                write!(
                    f,
                    "{address} ({}:{})",
                    extension.dial_plan, extension.number
                )
            }
            Called::Pilot { number } => write!(f, "pilot {number}"),
        }
    }
}

/// What the router answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// 302 Moved Temporarily to this media server URI.
    Redirect {
        /// The Contact to send the caller to.
        contact: SipUri,
        /// Whom the call is for.
        called: Called,
    },
    /// 404: neither a pilot number nor an extension of the dial plan, or a forwarded call for
    /// an extension nobody holds.
    NotFound {
        /// The number that matched nothing.
        number: String,
    },
}

/// The media servers calls can be sent to. One node today; the seam for several.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaServers {
    local: SipUri,
}

impl MediaServers {
    /// Only this node's media listener, at `host:port`.
    pub fn single(host: Host, port: u16) -> MediaServers {
        MediaServers {
            local: SipUri::new(None, host, Some(port)),
        }
    }

    /// Only this node's media listener, at a socket address.
    pub fn at(address: SocketAddr) -> MediaServers {
        MediaServers::single(Host::Ip(address.ip()), address.port())
    }

    /// The media server holding `user`'s mailbox (no user part; the router adds the extension).
    pub fn media_server_for(&self, _user: &User) -> SipUri {
        self.local.clone()
    }

    /// The media server for a direct call to the pilot, when no mailbox is known yet.
    pub fn for_direct_call(&self) -> SipUri {
        self.local.clone()
    }
}

/// Decides where an INVITE from `gateway` goes.
pub fn route(
    directory: &Directory,
    gateway: &Gateway,
    target: &InviteTarget<'_>,
    media: &MediaServers,
) -> Result<Decision, Error> {
    match resolve(directory, gateway, target)? {
        Resolution::Mailbox { user, extension } => {
            let mut contact = media.media_server_for(user);
            contact.user = Some(extension.number.clone());
            Ok(Decision::Redirect {
                contact,
                called: Called::Mailbox {
                    extension,
                    address: user.address.clone(),
                },
            })
        }
        Resolution::Pilot { number } => {
            let mut contact = media.for_direct_call();
            contact.user = Some(number.clone());
            Ok(Decision::Redirect {
                contact,
                called: Called::Pilot { number },
            })
        }
        Resolution::Unknown { number } => Ok(Decision::NotFound { number }),
    }
}

/// The call router's [`InviteRouter`]: each INVITE is routed against the directory as of the
/// last reload.
#[derive(Debug, Clone)]
pub struct DirectoryRouter {
    directory: watch::Receiver<Arc<Directory>>,
    media: MediaServers,
}

impl DirectoryRouter {
    /// Routes to `media` against `directory`, which follows reloads.
    pub fn new(directory: watch::Receiver<Arc<Directory>>, media: MediaServers) -> DirectoryRouter {
        DirectoryRouter { directory, media }
    }
}

impl InviteRouter for DirectoryRouter {
    fn route(&self, source: IpAddr, target: &InviteTarget<'_>) -> Result<Route, umbox_sip::Error> {
        let directory = self.directory.borrow().clone();
        // The listener lets only gateways through; one removed since is refused the same way.
        let gateway = directory
            .gateway_by_address(source)
            .ok_or(umbox_sip::Error::Forbidden(source))?;
        match route(&directory, gateway, target, &self.media) {
            Ok(Decision::Redirect { contact, called }) => {
                // Formatted only if the span is recorded: nothing per INVITE at the usual levels.
                tracing::Span::current().record("called", tracing::field::display(&called));
                Ok(Route::Redirect { contact })
            }
            Ok(Decision::NotFound { number }) => Ok(Route::NotFound { number }),
            Err(error) => Err(umbox_sip::Error::Unroutable(error.to_string())),
        }
    }
}

/// The SIP listeners' [`Peers`]: the directory's gateways, as of the last reload.
#[derive(Debug, Clone)]
pub struct GatewayAllowList(pub watch::Receiver<Arc<Directory>>);

impl Peers for GatewayAllowList {
    fn is_trusted(&self, source: IpAddr) -> bool {
        self.0.borrow().gateway_by_address(source).is_some()
    }
}

/// Whom a call is for, as [`route`] and the media server both need it.
pub fn called_party(
    directory: &Directory,
    gateway: &Gateway,
    target: &InviteTarget<'_>,
) -> Result<Option<Called>, Error> {
    Ok(match resolve(directory, gateway, target)? {
        Resolution::Mailbox { user, extension } => Some(Called::Mailbox {
            extension,
            address: user.address.clone(),
        }),
        Resolution::Pilot { number } => Some(Called::Pilot { number }),
        Resolution::Unknown { .. } => None,
    })
}

enum Resolution<'d> {
    Mailbox {
        user: &'d User,
        extension: Extension,
    },
    Pilot {
        number: String,
    },
    Unknown {
        number: String,
    },
}

fn resolve<'d>(
    directory: &'d Directory,
    gateway: &Gateway,
    target: &InviteTarget<'_>,
) -> Result<Resolution<'d>, Error> {
    let plan = directory
        .dial_plan(&gateway.dial_plan)
        .ok_or_else(|| Error::Inconsistent {
            gateway: gateway.name.clone(),
            dial_plan: gateway.dial_plan.clone(),
        })?;
    let dialled = target.request_uri.user_number().unwrap_or_default();
    let country = plan.country_code.as_deref().unwrap_or("");
    let mailbox = |number: String| {
        if let Some(user) = directory.user_by_extension(&plan.name, &number) {
            return Resolution::Mailbox {
                user,
                extension: Extension {
                    dial_plan: plan.name.clone(),
                    number,
                },
            };
        }
        // A PBX or a Lync pool forwarding with the user's full number (E.164 or national),
        // which is the number of the user's line URI: the extension of that user in this plan.
        let by_line_uri = directory.users.iter().find_map(|user| {
            let line = user.line_uri.as_deref().and_then(line_uri_number)?;
            if !same_number(line, &number, country) {
                return None;
            }
            let extension = user.extensions.iter().find(|e| e.dial_plan == plan.name)?;
            Some((user, extension.clone()))
        });
        match by_line_uri {
            Some((user, extension)) => Resolution::Mailbox { user, extension },
            None => Resolution::Unknown { number },
        }
    };
    if plan.pilot_numbers.contains(&dialled) {
        return Ok(match original_called(target) {
            Some(number) => mailbox(number),
            None => Resolution::Pilot { number: dialled },
        });
    }
    // Not the pilot: a number of the dial plan dialled directly (the media server also sees
    // the extension the router put in its Contact here), or nothing we know.
    Ok(mailbox(dialled))
}

/// The originally called number of a forwarded call.
///
/// Diversion first: RFC 5806 has each diverting element add its entry on top of the list, so
/// the LAST entry names the party the caller first dialled. Then History-Info: RFC 7044's
/// hi-index numbers the original request's target "1" and gives every retarget a longer (child)
/// or later (sibling) index, so the entry with the lowest index in tree order is the original
/// target; header order decides among entries without an index.
fn original_called(target: &InviteTarget<'_>) -> Option<String> {
    if let Some(last) = target.diversion.last() {
        return number_of(&last.diverted_from.uri);
    }
    let oldest = target
        .history_info
        .iter()
        .enumerate()
        .min_by(|(i, a), (j, b)| match (&a.index, &b.index) {
            (Some(x), Some(y)) => x.cmp(y).then(i.cmp(j)),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => i.cmp(j),
        })
        .map(|(_, entry)| entry)?;
    number_of(&oldest.target.uri)
}

/// The number a URI names: a SIP URI's user, or a tel: URI's subscriber.
pub(crate) fn number_of(uri: &Uri) -> Option<String> {
    match uri {
        Uri::Sip(sip) => sip.user_number(),
        Uri::Other { scheme, rest } if scheme == "tel" => rest
            .split(';')
            .next()
            .filter(|n| !n.is_empty())
            .map(str::to_owned),
        Uri::Other { .. } => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use umbox_sip::wire::diversion::{Diversion, HistoryInfo};

    fn sip(text: &str) -> SipUri {
        Uri::parse(text).unwrap().as_sip().unwrap().clone()
    }

    struct Case {
        name: &'static str,
        uri: &'static str,
        diversion: &'static [&'static str],
        history: &'static [&'static str],
        expect: Result<(&'static str, &'static str), &'static str>,
    }

    const CASES: &[Case] = &[
        Case {
            name: "pilot, one diversion",
            uri: "sip:1999@router",
            diversion: &["<sip:1001@pbx>;reason=no-answer"],
            history: &[],
            expect: Ok(("sip:1001@127.0.0.1:5062", "alice@example.test")),
        },
        Case {
            name: "pilot, chain of diversions: the last one is the original",
            uri: "sip:1999@router",
            diversion: &[
                "<sip:1002@pbx>;reason=no-answer;counter=1",
                "\"Alice\" <sip:1001@pbx>;reason=unconditional;counter=1",
            ],
            history: &[],
            expect: Ok(("sip:1001@127.0.0.1:5062", "alice@example.test")),
        },
        Case {
            name: "pilot, History-Info out of order: index 1 wins",
            uri: "sip:1999@router",
            diversion: &[],
            history: &[
                "<sip:1999@pbx?Reason=SIP%3Bcause%3D480>;index=1.1;mp=1",
                "<sip:1002@pbx>;index=1",
            ],
            expect: Ok(("sip:1002@127.0.0.1:5062", "bob@example.test")),
        },
        Case {
            name: "Diversion wins over History-Info",
            uri: "sip:1999@router",
            diversion: &["<sip:1001@pbx>"],
            history: &["<sip:1002@pbx>;index=1", "<sip:1999@pbx>;index=1.1;mp=1"],
            expect: Ok(("sip:1001@127.0.0.1:5062", "alice@example.test")),
        },
        Case {
            name: "tel: diversion",
            uri: "sip:1999@router",
            diversion: &["<tel:1002;phone-context=pbx>"],
            history: &[],
            expect: Ok(("sip:1002@127.0.0.1:5062", "bob@example.test")),
        },
        Case {
            name: "E.164 diversion: the number of alice's line URI",
            uri: "sip:1999@router",
            diversion: &["<sip:+14255550101@pbx;user=phone>;reason=no-answer"],
            history: &[],
            expect: Ok(("sip:1001@127.0.0.1:5062", "alice@example.test")),
        },
        Case {
            name: "national diversion: the country code of the dial plan added",
            uri: "sip:1999@router",
            diversion: &["<tel:4255550102>"],
            history: &[],
            expect: Ok(("sip:1002@127.0.0.1:5062", "bob@example.test")),
        },
        Case {
            name: "E.164 nobody's line URI",
            uri: "sip:1999@router",
            diversion: &["<sip:+14255550177@pbx>"],
            history: &[],
            expect: Err("+14255550177"),
        },
        Case {
            name: "pilot, unknown extension",
            uri: "sip:1999@router",
            diversion: &["<sip:1077@pbx>"],
            history: &[],
            expect: Err("1077"),
        },
        Case {
            name: "pilot, no forwarding: direct call",
            uri: "sip:1999@router;user=phone",
            diversion: &[],
            history: &[],
            expect: Ok(("sip:1999@127.0.0.1:5062", "")),
        },
        Case {
            name: "an extension dialled directly",
            uri: "sip:1002@router",
            diversion: &[],
            history: &[],
            expect: Ok(("sip:1002@127.0.0.1:5062", "bob@example.test")),
        },
        Case {
            name: "neither pilot nor known",
            uri: "sip:5555@router",
            diversion: &["<sip:1001@pbx>"],
            history: &[],
            expect: Err("5555"),
        },
        Case {
            name: "no user part",
            uri: "sip:router",
            diversion: &[],
            history: &[],
            expect: Err(""),
        },
    ];

    #[test]
    fn decisions() {
        let directory = Directory::demo().unwrap();
        let gateway = &directory.gateways[0];
        let media = MediaServers::at("127.0.0.1:5062".parse().unwrap());
        for case in CASES {
            let uri = sip(case.uri);
            let diversion: Vec<Diversion> = case
                .diversion
                .iter()
                .map(|d| Diversion::parse(d).unwrap())
                .collect();
            let history: Vec<HistoryInfo> = case
                .history
                .iter()
                .map(|h| HistoryInfo::parse(h).unwrap())
                .collect();
            let target = InviteTarget {
                request_uri: &uri,
                diversion: &diversion,
                history_info: &history,
            };
            let decision = route(&directory, gateway, &target, &media).unwrap();
            match (&case.expect, decision) {
                (
                    Ok((contact, address)),
                    Decision::Redirect {
                        contact: got,
                        called,
                    },
                ) => {
                    assert_eq!(got.to_string(), *contact, "{}", case.name);
                    match called {
                        Called::Mailbox { address: got, .. } => {
                            assert_eq!(got, *address, "{}", case.name)
                        }
                        Called::Pilot { .. } => assert_eq!(*address, "", "{}", case.name),
                    }
                }
                (Err(number), Decision::NotFound { number: got }) => {
                    assert_eq!(got, *number, "{}", case.name)
                }
                (expect, got) => panic!("{}: expected {expect:?}, got {got:?}", case.name),
            }
        }
    }

    #[test]
    fn missing_dial_plan_is_an_error() {
        let mut directory = Directory::demo().unwrap();
        directory.dial_plans.clear();
        let gateway = directory.gateways[0].clone();
        let uri = sip("sip:1999@router");
        let target = InviteTarget {
            request_uri: &uri,
            diversion: &[],
            history_info: &[],
        };
        let media = MediaServers::at("127.0.0.1:5062".parse().unwrap());
        assert!(matches!(
            route(&directory, &gateway, &target, &media),
            Err(Error::Inconsistent { .. })
        ));
    }
}
