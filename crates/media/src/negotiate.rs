//! SDP offer/answer (RFC 3264) for umbox's one audio stream: pick the codec, the DTMF payload type,
//! the peer's address and the directions, and write the answer.
//!
//! Logic only: typed [`SessionDescription`] in, typed [`MediaParams`] and an answer out. It never
//! binds ports (the caller passes the [`LocalMedia`] it leased) and never touches a socket.
//! Entry point: [`Answerer::answer`], which also handles re-offers (hold and unhold) on the same
//! ports.

use std::net::{IpAddr, SocketAddr};

use super::g711::Law;
use super::rtp::{PayloadType, CLOCK_RATE, PACKET_INTERVAL};
use super::sdp::{
    Address, Direction, Encoding, Fmtp, Format, Media, MediaKind, Origin, Protocol, RtpMap,
    SdpError, SessionDescription,
};

/// The DTMF events umbox answers for: digits, `*`, `#` and A–D (RFC 4733 §3.2, the default set).
const TELEPHONE_EVENTS: &str = "0-15";

/// Our side of the stream: the address we advertise and the ports we leased.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LocalMedia {
    /// The address written into `c=` and `o=`.
    pub address: IpAddr,
    /// Our RTP port.
    pub rtp_port: u16,
    /// Our RTCP port; announced with `a=rtcp` (RFC 3605) when it is not `rtp_port + 1`.
    pub rtcp_port: u16,
    /// The `o=` session id, fixed for the whole call.
    pub session_id: u64,
}

/// What one offer/answer exchange settled; a re-offer produces a new value for the same call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MediaParams {
    /// The G.711 law both sides send.
    pub law: Law,
    /// The payload type carrying it (the offer's number, RFC 3264 §6.1).
    pub payload_type: PayloadType,
    /// The payload type of RFC 4733 telephone events, if the offer had them.
    pub telephone_event: Option<PayloadType>,
    /// Where the peer receives RTP; the only source whose RTP is accepted.
    pub peer_rtp: SocketAddr,
    /// Where the peer receives RTCP.
    pub peer_rtcp: SocketAddr,
    /// Our direction, as written in the answer.
    pub direction: Direction,
    /// The packet time the peer asked to receive (`a=ptime`), if any; umbox sends 20 ms packets.
    pub peer_ptime: Option<u32>,
}

impl MediaParams {
    /// Whether we may send RTP now (false while the peer holds the call).
    pub fn sends(&self) -> bool {
        self.direction.sends()
    }

    /// Whether we accept RTP now.
    pub fn receives(&self) -> bool {
        self.direction.receives()
    }
}

/// Answers the offers of one call: the first and every re-offer, keeping the ports, the session
/// id and the codec, and raising the `o=` version only when the answer changes (RFC 3264 §8).
#[derive(Debug, Clone)]
pub struct Answerer {
    local: LocalMedia,
    last: Option<(MediaParams, SessionDescription)>,
}

impl Answerer {
    /// An answerer for a call using `local`.
    pub fn new(local: LocalMedia) -> Answerer {
        Answerer { local, last: None }
    }

    /// Our side of the call.
    pub fn local(&self) -> LocalMedia {
        self.local
    }

    /// The parameters of the last accepted offer.
    pub fn current(&self) -> Option<&MediaParams> {
        self.last.as_ref().map(|(params, _)| params)
    }

    /// Answers `offer`. On error nothing changes, so a refused re-offer leaves the call as it was
    /// (RFC 3261 §14.2).
    pub fn answer(&mut self, offer: &[u8]) -> Result<(MediaParams, Vec<u8>), SdpError> {
        self.answer_parsed(&SessionDescription::parse(offer)?)
    }

    /// [`Answerer::answer`] for an offer already parsed.
    pub fn answer_parsed(
        &mut self,
        offer: &SessionDescription,
    ) -> Result<(MediaParams, Vec<u8>), SdpError> {
        let current = self.current();
        let (index, params) = choose_stream(offer, self.local.address, current)?;

        let version = match &self.last {
            None => 1,
            Some((_, previous)) => previous.origin.session_version,
        };
        let mut answer = self.render(offer, index, &params, version);
        if let Some((_, previous)) = &self.last {
            if *previous != answer {
                answer.origin.session_version = version.wrapping_add(1);
            }
        }
        let bytes = answer.to_bytes();
        self.last = Some((params, answer));
        Ok((params, bytes))
    }

    /// The answer: our audio stream at `index`, every other offered stream rejected with port 0
    /// and its formats echoed (RFC 3264 §6).
    fn render(
        &self,
        offer: &SessionDescription,
        index: usize,
        params: &MediaParams,
        version: u64,
    ) -> SessionDescription {
        let local = self.local;
        let media = offer
            .media
            .iter()
            .enumerate()
            .map(|(i, offered)| {
                if i == index {
                    audio_answer(local, params)
                } else {
                    Media::new(
                        offered.kind.clone(),
                        0,
                        offered.protocol.clone(),
                        offered.formats.clone(),
                    )
                }
            })
            .collect();
        SessionDescription {
            origin: Origin {
                username: "umbox".to_owned(),
                session_id: local.session_id,
                session_version: version,
                address: Address::Ip(local.address),
            },
            session_name: "umbox".to_owned(),
            connection: Some(Address::Ip(local.address)),
            direction: None,
            media,
        }
    }
}

/// Checks that a first offer can be answered by a server advertising `local_address`, so ports are
/// leased only for offers that will be accepted.
pub fn check_offer(offer: &SessionDescription, local_address: IpAddr) -> Result<(), SdpError> {
    choose_stream(offer, local_address, None).map(|_| ())
}

fn audio_answer(local: LocalMedia, params: &MediaParams) -> Media {
    let mut formats = vec![Format::Rtp(params.payload_type)];
    let mut rtpmaps = vec![RtpMap {
        payload_type: params.payload_type,
        encoding: match params.law {
            Law::Mu => Encoding::Pcmu,
            Law::A => Encoding::Pcma,
        },
        clock_rate: CLOCK_RATE,
        channels: None,
    }];
    let mut fmtps = Vec::new();
    if let Some(event) = params.telephone_event {
        formats.push(Format::Rtp(event));
        rtpmaps.push(RtpMap {
            payload_type: event,
            encoding: Encoding::TelephoneEvent,
            clock_rate: CLOCK_RATE,
            channels: None,
        });
        fmtps.push(Fmtp {
            payload_type: event,
            parameters: TELEPHONE_EVENTS.to_owned(),
        });
    }
    let mut media = Media::new(MediaKind::Audio, local.rtp_port, Protocol::RtpAvp, formats);
    media.rtpmaps = rtpmaps;
    media.fmtps = fmtps;
    media.ptime = u32::try_from(PACKET_INTERVAL.as_millis()).ok();
    media.direction = Some(params.direction);
    if Some(local.rtcp_port) != local.rtp_port.checked_add(1) {
        media.rtcp = Some(super::sdp::Rtcp {
            port: local.rtcp_port,
            address: None,
        });
    }
    media
}

/// The G.711 law a payload type on this stream stands for, if it is PCMU or PCMA at 8000 Hz in
/// mono: from its `a=rtpmap`, or for the static types 0 and 8 without one (RFC 3551 Table 4).
fn law_of(media: &Media, payload_type: PayloadType) -> Option<Law> {
    let (encoding, clock_rate, channels) = match media.rtpmap(payload_type) {
        Some(map) => (&map.encoding, map.clock_rate, map.channels),
        None if payload_type == PayloadType::PCMU => (&Encoding::Pcmu, CLOCK_RATE, None),
        None if payload_type == PayloadType::PCMA => (&Encoding::Pcma, CLOCK_RATE, None),
        None => return None,
    };
    if clock_rate != CLOCK_RATE || channels.is_some_and(|c| c != 1) {
        return None;
    }
    match encoding {
        Encoding::Pcmu => Some(Law::Mu),
        Encoding::Pcma => Some(Law::A),
        Encoding::TelephoneEvent | Encoding::Other(_) => None,
    }
}

fn payload_types(media: &Media) -> impl Iterator<Item = PayloadType> + '_ {
    media.formats.iter().filter_map(|f| match f {
        Format::Rtp(pt) => Some(*pt),
        Format::Other(_) => None,
    })
}

/// Picks the audio stream to answer and settles its parameters. The codec is the offerer's first
/// PCMU or PCMA; once a call has one, a re-offer must keep it, because the recording holds the bytes
/// exactly as received.
fn choose_stream(
    offer: &SessionDescription,
    local: IpAddr,
    current: Option<&MediaParams>,
) -> Result<(usize, MediaParams), SdpError> {
    let mut audio_seen = false;
    for (index, media) in offer.media.iter().enumerate() {
        if media.kind != MediaKind::Audio || media.port == 0 || media.protocol != Protocol::RtpAvp {
            continue;
        }
        audio_seen = true;
        let chosen = payload_types(media)
            .filter_map(|pt| law_of(media, pt).map(|law| (pt, law)))
            .find(|(_, law)| current.is_none_or(|c| c.law == *law));
        let Some((payload_type, law)) = chosen else {
            continue;
        };
        let telephone_event = payload_types(media).find(|pt| {
            media.rtpmap(*pt).is_some_and(|m| {
                m.encoding == Encoding::TelephoneEvent && m.clock_rate == CLOCK_RATE
            })
        });

        let address = media
            .connection
            .as_ref()
            .or(offer.connection.as_ref())
            .ok_or(SdpError::Missing("c="))?;
        let peer_ip = match address {
            Address::Ip(ip) => *ip,
            Address::Name(name) => return Err(SdpError::HostName(name.clone())),
        };
        if peer_ip.is_ipv4() != local.is_ipv4() {
            return Err(SdpError::AddressFamily {
                peer: peer_ip,
                local,
            });
        }
        let offered = media
            .direction
            .or(offer.direction)
            .unwrap_or(Direction::SendRecv);
        // RFC 3264 §8.4: c=0.0.0.0 is the old way to put a call on hold; the offerer then receives
        // nothing, and the address it had stays the one its media comes from.
        let on_hold_by_address = peer_ip.is_unspecified();
        let offerer_receives = offered.receives() && !on_hold_by_address;
        let direction = Direction::from_abilities(offerer_receives, offered.sends());

        let (peer_rtp, peer_rtcp) = match (on_hold_by_address, current) {
            (true, Some(current)) => (current.peer_rtp, current.peer_rtcp),
            _ => {
                let rtp = SocketAddr::new(peer_ip, media.port);
                let rtcp = match &media.rtcp {
                    Some(rtcp) => {
                        let ip = match &rtcp.address {
                            Some(Address::Ip(ip)) => *ip,
                            Some(Address::Name(name)) => {
                                return Err(SdpError::HostName(name.clone()))
                            }
                            None => peer_ip,
                        };
                        SocketAddr::new(ip, rtcp.port)
                    }
                    None => SocketAddr::new(peer_ip, media.port.saturating_add(1)),
                };
                (rtp, rtcp)
            }
        };
        let params = MediaParams {
            law,
            payload_type,
            telephone_event,
            peer_rtp,
            peer_rtcp,
            direction,
            peer_ptime: media.ptime,
        };
        return Ok((index, params));
    }
    Err(match (audio_seen, current) {
        (false, _) => SdpError::NoAudio,
        (true, Some(_)) => SdpError::CodecChanged,
        (true, None) => SdpError::NoCodec,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn local() -> LocalMedia {
        LocalMedia {
            address: "198.51.100.7".parse().unwrap(),
            rtp_port: 40002,
            rtcp_port: 40003,
            session_id: 77,
        }
    }

    fn pt(n: u8) -> PayloadType {
        PayloadType::new(n).unwrap()
    }

    /// What sipp's built-in uac scenario offers.
    const SIPP: &str =
        "v=0\r\no=user1 53655765 2353687637 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\n\
        t=0 0\r\nm=audio 6000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    /// baresip 1.x with its default codec list.
    const BARESIP: &str = "v=0\r\no=- 1185 2143 IN IP4 192.0.2.2\r\ns=-\r\nc=IN IP4 192.0.2.2\r\nt=0 0\r\n\
        m=audio 10366 RTP/AVP 9 0 8 101\r\nb=AS:64\r\na=rtpmap:9 G722/8000\r\na=rtpmap:0 PCMU/8000\r\n\
        a=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=sendrecv\r\n\
        a=label:1\r\na=ssrc:1442350331 cname:0c1b7d5a\r\na=rtcp-rsize\r\na=ptime:20\r\n";
    /// An Asterisk chan_pjsip trunk preferring A-law, media-level c=, RFC 2833 events 0-16.
    const ASTERISK: &str =
        "v=0\r\no=- 1430222829 1430222829 IN IP4 192.0.2.3\r\ns=Asterisk\r\nt=0 0\r\n\
        m=audio 14090 RTP/AVP 8 0 3 101\r\nc=IN IP4 192.0.2.3\r\na=rtpmap:8 PCMA/8000\r\n\
        a=rtpmap:0 PCMU/8000\r\na=rtpmap:3 GSM/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
        a=fmtp:101 0-16\r\na=ptime:20\r\na=maxptime:150\r\na=sendrecv\r\n";
    /// Static PCMA without rtpmap, no telephone-event, a video stream before the audio.
    const VIDEO_FIRST: &str =
        "v=0\r\no=- 1 1 IN IP4 192.0.2.4\r\ns=-\r\nc=IN IP4 192.0.2.4\r\nt=0 0\r\n\
        m=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\nm=audio 5006 RTP/AVP 18 8\r\n\
        a=rtpmap:18 G729/8000\r\na=ptime:30\r\n";
    const G729_ONLY: &str =
        "v=0\r\no=- 1 1 IN IP4 192.0.2.5\r\ns=-\r\nc=IN IP4 192.0.2.5\r\nt=0 0\r\n\
        m=audio 5006 RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n";
    const NO_AUDIO: &str =
        "v=0\r\no=- 1 1 IN IP4 192.0.2.6\r\ns=-\r\nc=IN IP4 192.0.2.6\r\nt=0 0\r\n\
        m=video 5004 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n";
    const SRTP_ONLY: &str =
        "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
        m=audio 5006 RTP/SAVP 0\r\n";
    const DYNAMIC_PCMU_WIDEBAND: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.8\r\ns=-\r\nc=IN IP4 192.0.2.8\r\n\
        t=0 0\r\nm=audio 7078 RTP/AVP 96 97 98\r\na=rtpmap:96 PCMU/16000\r\na=rtpmap:97 PCMA/8000/2\r\n\
        a=rtpmap:98 pcma/8000\r\na=rtpmap:100 telephone-event/48000\r\na=rtcp:7085\r\n";
    const HOST_NAME: &str =
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 gw.example\r\nt=0 0\r\n\
        m=audio 5006 RTP/AVP 0\r\n";
    const IPV6: &str =
        "v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\n\
        m=audio 5006 RTP/AVP 0\r\n";
    const NO_CONNECTION: &str =
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nt=0 0\r\nm=audio 5006 RTP/AVP 0\r\n";

    struct Case {
        name: &'static str,
        offer: &'static str,
        expect: Result<(Law, u8, Option<u8>, &'static str, Direction), SdpError>,
    }

    #[test]
    fn offers_table() {
        let cases = [
            Case {
                name: "sipp",
                offer: SIPP,
                expect: Ok((Law::Mu, 0, None, "192.0.2.1:6000", Direction::SendRecv)),
            },
            Case {
                name: "baresip",
                offer: BARESIP,
                expect: Ok((
                    Law::Mu,
                    0,
                    Some(101),
                    "192.0.2.2:10366",
                    Direction::SendRecv,
                )),
            },
            Case {
                name: "asterisk",
                offer: ASTERISK,
                expect: Ok((Law::A, 8, Some(101), "192.0.2.3:14090", Direction::SendRecv)),
            },
            Case {
                name: "video first",
                offer: VIDEO_FIRST,
                expect: Ok((Law::A, 8, None, "192.0.2.4:5006", Direction::SendRecv)),
            },
            Case {
                name: "dynamic",
                offer: DYNAMIC_PCMU_WIDEBAND,
                expect: Ok((Law::A, 98, None, "192.0.2.8:7078", Direction::SendRecv)),
            },
            Case {
                name: "g729 only",
                offer: G729_ONLY,
                expect: Err(SdpError::NoCodec),
            },
            Case {
                name: "no audio",
                offer: NO_AUDIO,
                expect: Err(SdpError::NoAudio),
            },
            Case {
                name: "srtp only",
                offer: SRTP_ONLY,
                expect: Err(SdpError::NoAudio),
            },
            Case {
                name: "host name",
                offer: HOST_NAME,
                expect: Err(SdpError::HostName("gw.example".into())),
            },
            Case {
                name: "ipv6 to an ipv4 server",
                offer: IPV6,
                expect: Err(SdpError::AddressFamily {
                    peer: "2001:db8::1".parse().unwrap(),
                    local: local().address,
                }),
            },
            Case {
                name: "no c=",
                offer: NO_CONNECTION,
                expect: Err(SdpError::Missing("c=")),
            },
        ];
        for case in cases {
            let got = Answerer::new(local())
                .answer(case.offer.as_bytes())
                .map(|(p, _)| {
                    (
                        p.law,
                        p.payload_type.as_u8(),
                        p.telephone_event.map(PayloadType::as_u8),
                        p.peer_rtp.to_string(),
                        p.direction,
                    )
                });
            let expect = case
                .expect
                .map(|(l, pt, te, peer, d)| (l, pt, te, peer.to_owned(), d));
            assert_eq!(got, expect, "{}", case.name);
        }
    }

    #[test]
    fn answer_text_for_baresip() {
        let (_, answer) = Answerer::new(local()).answer(BARESIP.as_bytes()).unwrap();
        assert_eq!(
            String::from_utf8(answer).unwrap(),
            "v=0\r\no=umbox 77 1 IN IP4 198.51.100.7\r\ns=umbox\r\nc=IN IP4 198.51.100.7\r\nt=0 0\r\n\
             m=audio 40002 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
             a=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
        );
    }

    #[test]
    fn rejected_streams_are_echoed_with_port_zero_and_rtcp_port_announced() {
        let mut answerer = Answerer::new(LocalMedia {
            rtcp_port: 41999,
            ..local()
        });
        let (params, answer) = answerer.answer(VIDEO_FIRST.as_bytes()).unwrap();
        assert_eq!(params.peer_rtcp, "192.0.2.4:5007".parse().unwrap());
        assert_eq!(params.peer_ptime, Some(30));
        let text = String::from_utf8(answer).unwrap();
        assert!(
            text.contains("m=video 0 RTP/AVP 96\r\nm=audio 40002 RTP/AVP 8\r\n"),
            "{text}"
        );
        assert!(text.contains("a=rtcp:41999\r\n"), "{text}");
        let (params, _) = Answerer::new(local())
            .answer(DYNAMIC_PCMU_WIDEBAND.as_bytes())
            .unwrap();
        assert_eq!(params.peer_rtcp, "192.0.2.8:7085".parse().unwrap());
    }

    #[test]
    fn hold_and_unhold_reoffers() {
        let mut answerer = Answerer::new(local());
        let (first, answer1) = answerer.answer(BARESIP.as_bytes()).unwrap();
        assert!(first.sends() && first.receives());

        // a=sendonly: we stop sending and keep receiving (music on hold may arrive).
        let hold = BARESIP
            .replace("a=sendrecv", "a=sendonly")
            .replace(" 2143 ", " 2144 ");
        let (held, answer2) = answerer.answer(hold.as_bytes()).unwrap();
        assert_eq!(held.direction, Direction::RecvOnly);
        let text = String::from_utf8(answer2).unwrap();
        assert!(
            text.contains("o=umbox 77 2 IN IP4"),
            "changed answer raises the version: {text}"
        );
        assert!(text.contains("m=audio 40002 "), "same port: {text}");
        assert!(text.contains("a=recvonly"));

        // a=inactive.
        let inactive = BARESIP.replace("a=sendrecv", "a=inactive");
        let (params, _) = answerer.answer(inactive.as_bytes()).unwrap();
        assert_eq!(params.direction, Direction::Inactive);

        // RFC 2543 hold: c=0.0.0.0 keeps the peer address we had.
        let old_hold = BARESIP.replace("c=IN IP4 192.0.2.2", "c=IN IP4 0.0.0.0");
        let (params, _) = answerer.answer(old_hold.as_bytes()).unwrap();
        assert_eq!(params.direction, Direction::RecvOnly);
        assert_eq!(params.peer_rtp, first.peer_rtp);

        // Unhold from a new address: back to sendrecv, the new address is the peer.
        let unhold = BARESIP.replace("192.0.2.2", "192.0.2.22");
        let (params, answer) = answerer.answer(unhold.as_bytes()).unwrap();
        assert_eq!(params.direction, Direction::SendRecv);
        assert_eq!(params.peer_rtp, "192.0.2.22:10366".parse().unwrap());
        let text = String::from_utf8(answer).unwrap();
        assert!(text.contains("o=umbox 77 5 "), "{text}");
        assert_eq!(
            text.replace("o=umbox 77 5 ", "o=umbox 77 1 ").into_bytes(),
            answer1,
            "unhold answer equals the first apart from the version"
        );

        // The same offer again: the answer is identical, version included.
        let (_, again) = answerer.answer(unhold.as_bytes()).unwrap();
        assert_eq!(String::from_utf8(again).unwrap(), text);
    }

    #[test]
    fn reoffer_must_keep_the_codec_and_a_refusal_changes_nothing() {
        let mut answerer = Answerer::new(local());
        answerer.answer(ASTERISK.as_bytes()).unwrap();
        // PCMU is still offered, but the call records A-law: it stays A-law.
        let reordered = ASTERISK.replace("RTP/AVP 8 0 3 101", "RTP/AVP 0 8 101");
        let (params, _) = answerer.answer(reordered.as_bytes()).unwrap();
        assert_eq!((params.law, params.payload_type), (Law::A, pt(8)));
        let pcmu_only = ASTERISK.replace("RTP/AVP 8 0 3 101", "RTP/AVP 0 101");
        assert_eq!(
            answerer.answer(pcmu_only.as_bytes()),
            Err(SdpError::CodecChanged)
        );
        assert_eq!(answerer.current().map(|p| p.law), Some(Law::A));
        assert_eq!(answerer.answer(NO_AUDIO.as_bytes()), Err(SdpError::NoAudio));
    }
}
