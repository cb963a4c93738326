//! The media transport of one call: its two UDP sockets, the paced RTP it sends, and the filtering
//! of what it receives.
//!
//! A [`Leg`] owns everything a call needs per packet (sockets, receive and send buffers, the RTP
//! sender, the DTMF deduplicator), all sized when the call is set up, so the packet loop does not
//! allocate (STYLE rule 10). It sends one packet per 20 ms slot of a schedule fixed at the call's
//! start; it accepts RTP only from the address and port the SDP named, dropping and counting the
//! rest (no "RTP bleed": media from a third party never reaches a recording). It holds no call logic: a [`Phase`] decides what to
//! play and what received audio and keys mean. Never parses SDP. Entry points: [`Leg::run`],
//! [`Leg::wait_for`].

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::net::UdpSocket;
use tokio::sync::watch;
use tokio::time::{sleep_until, Instant};

use super::dtmf::{Event, EventDedupe, TelephoneEvent};
use super::g711::Law;
use super::jitter::JitterStats;
use super::negotiate::MediaParams;
use super::ports::PortLease;
use super::rtp::{read_packet, Pacer, RtpHeader, RtpSender, StreamIds, SAMPLES_PER_PACKET};

/// Receive buffer size; a datagram that fills it may have been truncated and is dropped.
const RECEIVE_BUFFER: usize = 2048;

/// Counters of one call's media. Per-packet events are counted here rather than logged.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MediaStats {
    /// RTP packets sent.
    pub sent: u64,
    /// RTP packets that could not be sent.
    pub send_errors: u64,
    /// Audio packets accepted from the peer.
    pub received: u64,
    /// Telephone-event packets accepted from the peer.
    pub events: u64,
    /// Datagrams from an address other than the negotiated peer, dropped.
    pub foreign: u64,
    /// Datagrams from the peer that are not valid RTP, dropped.
    pub malformed: u64,
    /// Peer packets of a payload type other than the negotiated audio and events.
    pub other_payload_type: u64,
    /// Peer packets that arrived while the SDP direction forbade receiving, dropped.
    pub while_not_receiving: u64,
    /// RTCP datagrams from the peer (read and dropped: umbox does not use RTCP reports).
    pub rtcp: u64,
    /// RTCP datagrams from other addresses.
    pub rtcp_foreign: u64,
    /// Reorder buffer counters of the recording.
    pub jitter: JitterStats,
}

/// What the session side controls while a leg runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Control {
    /// The current offer/answer result (re-offers replace it).
    pub params: MediaParams,
    /// Set once the call is hung up.
    pub hangup: bool,
}

/// Why a leg stopped before its phase finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// Hung up, or the session handle was dropped.
    Hangup,
    /// A socket failed.
    MediaError,
}

/// One step of a call (greeting, recording, digit entry): what to send and what received media
/// means. Each hook may end the phase by returning its output.
pub trait Phase {
    /// What the phase ends with.
    type Output;
    /// Writes the codes for the next send slot into `out` and returns how many; the rest of the
    /// packet is silence.
    fn next_audio(&mut self, law: Law, out: &mut [u8]) -> usize;
    /// Called after each send slot.
    fn after_slot(&mut self) -> Option<Self::Output> {
        None
    }
    /// An audio packet from the peer.
    fn on_audio(
        &mut self,
        header: &RtpHeader,
        payload: &[u8],
        now: Instant,
    ) -> Option<Self::Output>;
    /// A packet of the peer's stream that carries no audio (events, comfort noise).
    fn on_other(&mut self, header: &RtpHeader);
    /// A key press, reported once when it ends.
    fn on_key(&mut self, event: Event, now: Instant) -> Option<Self::Output>;
    /// When [`Phase::on_deadline`] should be called, if ever.
    fn deadline(&self) -> Option<Instant>;
    /// The deadline passed.
    fn on_deadline(&mut self, now: Instant) -> Option<Self::Output>;
}

/// The media side of one call.
#[derive(Debug)]
pub struct Leg {
    rtp: UdpSocket,
    rtcp: UdpSocket,
    /// Returns the ports to the pool when the leg goes away, whichever way the call ends.
    _lease: super::ports::Reservation,
    params: MediaParams,
    control: watch::Receiver<Control>,
    sender: RtpSender,
    pacer: Pacer,
    payload: [u8; SAMPLES_PER_PACKET],
    receive: Box<[u8]>,
    rtcp_receive: Box<[u8]>,
    dedupe: EventDedupe,
    stats: MediaStats,
}

/// How [`Leg::wait_for`] ended.
enum Ended<P, S> {
    Phase(P),
    Side(S),
}

impl Leg {
    /// Takes over a port lease; must run inside a tokio runtime. Slot 0 of the send schedule is at
    /// `start`.
    pub fn new(
        lease: PortLease,
        control: watch::Receiver<Control>,
        ids: StreamIds,
        start: Instant,
    ) -> io::Result<Leg> {
        let params = control.borrow().params;
        Ok(Leg {
            rtp: UdpSocket::from_std(lease.rtp)?,
            rtcp: UdpSocket::from_std(lease.rtcp)?,
            _lease: lease.reservation,
            params,
            control,
            sender: RtpSender::new(ids),
            pacer: Pacer::new(start),
            payload: [0; SAMPLES_PER_PACKET],
            receive: vec![0; RECEIVE_BUFFER].into_boxed_slice(),
            rtcp_receive: vec![0; RECEIVE_BUFFER].into_boxed_slice(),
            dedupe: EventDedupe::default(),
            stats: MediaStats::default(),
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> MediaStats {
        self.stats
    }

    /// The current offer/answer result.
    pub fn params(&self) -> MediaParams {
        self.params
    }

    /// Runs `phase` until it ends, the call is hung up, or a socket fails.
    pub async fn run<P: Phase>(&mut self, phase: &mut P) -> Result<P::Output, Stop> {
        match self
            .drive(phase, std::future::pending::<Infallible>())
            .await?
        {
            Ended::Phase(output) => Ok(output),
            Ended::Side(never) => match never {},
        }
    }

    /// Runs `phase` (keeping the stream going) until `side` completes; returns its output. For
    /// waiting on something slow, such as a directory lookup, without a hole in the RTP.
    pub async fn wait_for<P: Phase, F: Future>(
        &mut self,
        phase: &mut P,
        side: F,
    ) -> Result<Result<F::Output, P::Output>, Stop> {
        Ok(match self.drive(phase, side).await? {
            Ended::Side(output) => Ok(output),
            Ended::Phase(output) => Err(output),
        })
    }

    async fn drive<P: Phase, F: Future>(
        &mut self,
        phase: &mut P,
        side: F,
    ) -> Result<Ended<P::Output, F::Output>, Stop> {
        tokio::pin!(side);
        if self.control.borrow().hangup {
            return Err(Stop::Hangup);
        }
        loop {
            let phase_deadline = phase.deadline();
            let send_deadline = self.pacer.deadline();
            tokio::select! {
                // Control first, so a hang-up is never starved by a packet flood; timers next.
                biased;
                changed = self.control.changed() => {
                    if changed.is_err() {
                        return Err(Stop::Hangup);
                    }
                    let control = *self.control.borrow_and_update();
                    if control.hangup {
                        return Err(Stop::Hangup);
                    }
                    self.params = control.params;
                }
                () = sleep_until(send_deadline) => {
                    if let Some(output) = self.send_slot(phase).await {
                        return Ok(Ended::Phase(output));
                    }
                }
                () = sleep_until(phase_deadline.unwrap_or(send_deadline)), if phase_deadline.is_some() => {
                    if let Some(output) = phase.on_deadline(Instant::now()) {
                        return Ok(Ended::Phase(output));
                    }
                }
                output = &mut side => return Ok(Ended::Side(output)),
                received = self.rtp.recv_from(&mut self.receive) => {
                    if let Some((length, from)) = tolerate_icmp(received)? {
                        if let Some(output) = self.on_datagram(length, from, phase) {
                            return Ok(Ended::Phase(output));
                        }
                    }
                }
                received = self.rtcp.recv_from(&mut self.rtcp_receive) => {
                    if let Some((_, from)) = tolerate_icmp(received)? {
                        if from == self.params.peer_rtcp || from.ip() == self.params.peer_rtp.ip() {
                            self.stats.rtcp += 1;
                        } else {
                            self.stats.rtcp_foreign += 1;
                        }
                    }
                }
            }
        }
    }

    /// Sends the packet of the slot that is due.
    async fn send_slot<P: Phase>(&mut self, phase: &mut P) -> Option<P::Output> {
        let law = self.params.law;
        let slot = self.pacer.take(Instant::now());
        let written = phase.next_audio(law, &mut self.payload);
        if let Some(rest) = self.payload.get_mut(written..) {
            rest.fill(law.silence());
        }
        // While the peer holds the call the slot passes unsent, so timestamps keep real time.
        if self.params.sends() {
            match self
                .sender
                .build(self.params.payload_type, slot, &self.payload)
            {
                // A UDP send waits only while the kernel's buffer is full, which is rare. (The
                // non-waiting try_send_to fails on a fresh socket until the runtime has seen it
                // writable, which would drop the first packet.)
                Some(packet) => match self.rtp.send_to(packet, self.params.peer_rtp).await {
                    Ok(_) => self.stats.sent += 1,
                    Err(_) => self.stats.send_errors += 1,
                },
                None => self.stats.send_errors += 1,
            }
        }
        phase.after_slot()
    }

    /// Filters and dispatches one received datagram.
    fn on_datagram<P: Phase>(
        &mut self,
        length: usize,
        from: SocketAddr,
        phase: &mut P,
    ) -> Option<P::Output> {
        if from != self.params.peer_rtp {
            self.stats.foreign += 1;
            return None;
        }
        if !self.params.receives() {
            self.stats.while_not_receiving += 1;
            return None;
        }
        let datagram = self
            .receive
            .get(..length)
            .filter(|_| length < RECEIVE_BUFFER);
        let Some((header, payload)) = datagram.and_then(read_packet) else {
            self.stats.malformed += 1;
            return None;
        };
        if header.payload_type == self.params.payload_type {
            self.stats.received += 1;
            return phase.on_audio(&header, payload, Instant::now());
        }
        phase.on_other(&header);
        if Some(header.payload_type) != self.params.telephone_event {
            self.stats.other_payload_type += 1;
            return None;
        }
        self.stats.events += 1;
        let event = TelephoneEvent::parse(payload)?;
        let key = self.dedupe.end_of(header.ssrc, header.timestamp, &event)?;
        phase.on_key(key, Instant::now())
    }
}

/// ICMP errors reported on a UDP socket (the peer's port was closed for a moment) do not end a
/// call; any other receive error does.
fn tolerate_icmp(
    received: io::Result<(usize, SocketAddr)>,
) -> Result<Option<(usize, SocketAddr)>, Stop> {
    match received {
        Ok(datagram) => Ok(Some(datagram)),
        Err(error)
            if matches!(
                error.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::ConnectionReset
            ) =>
        {
            Ok(None)
        }
        Err(_) => Err(Stop::MediaError),
    }
}
