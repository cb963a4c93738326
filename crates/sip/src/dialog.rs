//! The media server's dialogs (RFC 3261 §12–§15) and the channel API UM code plugs into.
//!
//! The UM side never sees SIP: it receives [`DialogEvent`]s (a typed [`IncomingCall`], ACK,
//! re-INVITE, end of call), answers offers with an [`InviteDecision`] on a oneshot channel, and
//! ends calls with [`DialogHandle::hangup`]. This module keeps each call's dialog state (tags,
//! CSeqs, route set, remote target), retransmits 2xx until the ACK (RFC 3261 §13.3.1.4), and
//! builds the BYEs we send. It never reads sockets and never decides where a call goes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::endpoint::{
    destination, our_via, Flow, Local, Outbound, Outcome, Outgoing, ServerKey, TimerKey,
    Transactions, Transport,
};
use super::policy::InviteTarget;
use super::transaction::TimerSlot;
use super::types::{Branch, CallId, IdSource, Method, StatusCode, Tag};
use super::wire::diversion::{Diversion, HistoryInfo};
use super::wire::grammar::{NameAddr, Uri};
use super::wire::identity::Privacy;
use super::wire::prepass::HeaderName;
use super::wire::{Request, Writer};
use super::Error;

/// One side of a call as its header named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Party {
    /// The display name, unquoted.
    pub display_name: Option<String>,
    /// The URI.
    pub uri: Uri,
}

impl From<&NameAddr> for Party {
    fn from(name_addr: &NameAddr) -> Self {
        Party {
            display_name: name_addr.display_name.clone(),
            uri: name_addr.uri.clone(),
        }
    }
}

/// A call offered to the media server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingCall {
    /// Names the call in every later event and in [`DialogHandle::hangup`].
    pub call_id: CallId,
    /// The caller (From).
    pub from: Party,
    /// The called address (To).
    pub to: Party,
    /// Diversion entries, most recent first (RFC 5806).
    pub diversion: Vec<Diversion>,
    /// History-Info entries as received (RFC 7044).
    pub history_info: Vec<HistoryInfo>,
    /// P-Asserted-Identity entries (RFC 3325): who the gateway vouches the caller is.
    pub asserted_identity: Vec<Party>,
    /// Privacy values (RFC 3323): what the caller asked to withhold.
    pub privacy: Vec<Privacy>,
    /// The Request-URI: the router's 302 puts the called extension in its user part.
    pub request_uri: Uri,
    /// The gateway's address.
    pub source: SocketAddr,
    /// The SDP offer (empty when the caller makes no offer).
    pub sdp_offer: Bytes,
}

impl IncomingCall {
    /// What the INVITE says about whom it is for; `None` for a Request-URI that is not SIP.
    pub fn target(&self) -> Option<InviteTarget<'_>> {
        Some(InviteTarget {
            request_uri: self.request_uri.as_sip()?,
            diversion: &self.diversion,
            history_info: &self.history_info,
        })
    }
}

/// The UM side's answer to an offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InviteDecision {
    /// Answer with 200 OK and this SDP.
    Accept {
        /// The SDP answer.
        sdp_answer: Vec<u8>,
    },
    /// Refuse with this final non-2xx status (e.g. 488, 486); anything else becomes 500.
    Reject(StatusCode),
}

/// Why a call ended without our hanging up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReason {
    /// The peer sent BYE.
    ByeFromPeer,
    /// The caller cancelled before the answer.
    Cancelled,
    /// No ACK came for our 2xx (we sent BYE), or no decision came in time (we sent 480).
    Timeout,
}

/// What the media server's dialog layer tells the UM side, in order per call.
#[derive(Debug)]
pub enum DialogEvent {
    /// A new call; answer on `reply`. Dropping `reply` refuses the call with 503.
    Invite {
        /// The call.
        call: Box<IncomingCall>,
        /// Where the decision goes.
        reply: oneshot::Sender<InviteDecision>,
    },
    /// The caller acknowledged our 200 OK: media may flow.
    Acked {
        /// The call.
        call_id: CallId,
    },
    /// A new offer inside the call (hold, unhold, codec change); a rejection keeps the call.
    Reinvite {
        /// The call.
        call_id: CallId,
        /// The new SDP offer (may be empty).
        sdp: Bytes,
        /// Where the decision goes.
        reply: oneshot::Sender<InviteDecision>,
    },
    /// The call is over.
    Ended {
        /// The call.
        call_id: CallId,
        /// Why.
        reason: EndReason,
    },
}

/// Ends calls from the UM side.
#[derive(Debug, Clone)]
pub struct DialogHandle {
    pub(crate) shared: Arc<super::transport::Shared>,
}

impl DialogHandle {
    /// Hangs up `call_id`: BYE through a client transaction once answered (resolves when the
    /// BYE transaction ends: Ok on any final response, [`Error::Timeout`] after timer F), or
    /// 480 to a call not answered yet.
    pub async fn hangup(&self, call_id: &CallId) -> Result<(), Error> {
        self.shared.hangup(call_id).await
    }
}

/// Names the INVITE a decision is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingKey {
    call_id: CallId,
    cseq: u32,
}

/// A decision the UM side owes.
#[derive(Debug)]
pub struct Pending {
    /// Which INVITE.
    pub key: PendingKey,
    /// Resolves with the decision, or fails when the UM side dropped it.
    pub reply: oneshot::Receiver<InviteDecision>,
}

/// What the dialog layer needs from its listener.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    /// Our Contact and Via address.
    pub local: &'a Local,
    /// Tags and branches.
    pub ids: &'a dyn IdSource,
    /// How long the UM side may take to decide.
    pub answer_timeout: Duration,
    /// Retry-After seconds for our 503s.
    pub retry_after: u32,
}

#[derive(Debug)]
enum Stage {
    /// Waiting for the UM side's decision.
    Asked { answer_by: Instant },
    /// 2xx sent; retransmitted until the ACK (RFC 3261 §13.3.1.4).
    Answered {
        ok: Bytes,
        next: Option<Instant>,
        interval: Duration,
        give_up: Instant,
    },
}

/// An INVITE of the call not finished yet (the first one, or a re-INVITE).
#[derive(Debug)]
struct Offer {
    key: ServerKey,
    cseq: u32,
    initial: bool,
    stage: Stage,
}

#[derive(Debug)]
struct Call {
    local_tag: Tag,
    /// The user part of the Request-URI that reached us, for our Contact.
    contact_user: Option<String>,
    /// To of the INVITE with our tag: our side of the dialog.
    local: NameAddr,
    /// From of the INVITE: the peer's side.
    remote: NameAddr,
    remote_target: Option<Uri>,
    route_set: Vec<String>,
    remote_cseq: u32,
    local_cseq: u32,
    flow: Flow,
    offer: Option<Offer>,
    slot: Option<TimerSlot>,
}

impl Call {
    fn deadline(&self) -> Option<Instant> {
        match &self.offer.as_ref()?.stage {
            Stage::Asked { answer_by } => Some(*answer_by),
            Stage::Answered { next, give_up, .. } => {
                Some(next.map_or(*give_up, |n| n.min(*give_up)))
            }
        }
    }

    fn reschedule(&mut self, call_id: &CallId, tx: &mut Transactions) {
        let deadline = self.deadline();
        tx.schedule(&mut self.slot, deadline, TimerKey::Call(call_id.clone()));
    }

    fn matches(&self, request: &Request) -> bool {
        let ours = request.to.tag().is_some_and(|tag| tag == self.local_tag);
        let theirs = request.from.tag() == self.remote.tag();
        ours && theirs
    }
}

/// Every call of a media listener.
#[derive(Debug, Default)]
pub struct Dialogs {
    calls: HashMap<CallId, Call>,
}

impl Dialogs {
    /// Calls being set up or in progress.
    pub fn len(&self) -> usize {
        self.calls.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.calls.is_empty()
    }

    /// Our To tag in call `call_id`.
    pub fn local_tag(&self, call_id: &CallId) -> Option<Tag> {
        self.calls.get(call_id).map(|call| call.local_tag.clone())
    }

    /// INVITE (new or in a dialog) or BYE.
    #[allow(clippy::too_many_arguments)]
    pub fn on_request(
        &mut self,
        request: Request,
        flow: Flow,
        ctx: &Context<'_>,
        tx: &mut Transactions,
        now: Instant,
        out: &dyn Outbound,
    ) -> Result<Outcome, Error> {
        let in_dialog = request.to.params.has("tag");
        match (&request.method, in_dialog) {
            (Method::Invite, false) => Ok(self.new_call(request, flow, ctx, tx, now, out)),
            (Method::Invite, true) => self.reinvite(request, flow, ctx, tx, now, out),
            (Method::Bye, _) => self.bye(request, flow, tx, now, out),
            (other, _) => Err(Error::MethodNotAllowed(other.to_string())),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn new_call(
        &mut self,
        request: Request,
        flow: Flow,
        ctx: &Context<'_>,
        tx: &mut Transactions,
        now: Instant,
        out: &dyn Outbound,
    ) -> Outcome {
        let key = tx.open(&request, flow);
        if self.calls.contains_key(&request.call_id) {
            // RFC 3261 §8.2.2.2: the same call arriving on another branch is a merged request.
            let tag = Tag::generate(ctx.ids);
            let status = StatusCode::LoopDetected;
            tx.respond(&key, status, Some(&tag), |w| w, None, now, out);
            return Outcome::Responded(status);
        }
        tx.respond(&key, StatusCode::Trying, None, |w| w, None, now, out);
        let local_tag = Tag::generate(ctx.ids);
        let mut local = request.to.clone();
        local.params.set("tag", Some(local_tag.to_string()));
        let incoming = IncomingCall {
            call_id: request.call_id.clone(),
            from: Party::from(&request.from),
            to: Party::from(&request.to),
            diversion: request.diversion.clone(),
            history_info: request.history_info.clone(),
            asserted_identity: request.asserted_identity.iter().map(Party::from).collect(),
            privacy: request.privacy.clone(),
            request_uri: request.uri.clone(),
            source: flow.remote,
            sdp_offer: request.body.clone(),
        };
        let (reply, answer) = oneshot::channel();
        let pending = PendingKey {
            call_id: request.call_id.clone(),
            cseq: request.cseq.seq,
        };
        let mut call = Call {
            local_tag,
            contact_user: request.uri.as_sip().and_then(|u| u.user.clone()),
            local,
            remote: request.from.clone(),
            remote_target: request.contact.first().map(|c| c.uri.clone()),
            route_set: request.record_route.clone(),
            remote_cseq: request.cseq.seq,
            local_cseq: 0,
            flow,
            offer: Some(Offer {
                key,
                cseq: request.cseq.seq,
                initial: true,
                stage: Stage::Asked {
                    answer_by: now + ctx.answer_timeout,
                },
            }),
            slot: None,
        };
        call.reschedule(&request.call_id, tx);
        self.calls.insert(request.call_id.clone(), call);
        out.event(DialogEvent::Invite {
            call: Box::new(incoming),
            reply,
        });
        out.await_decision(Pending {
            key: pending,
            reply: answer,
        });
        Outcome::Pending
    }

    fn reinvite(
        &mut self,
        request: Request,
        flow: Flow,
        ctx: &Context<'_>,
        tx: &mut Transactions,
        now: Instant,
        out: &dyn Outbound,
    ) -> Result<Outcome, Error> {
        let call = self.dialog_of(&request)?;
        if call.offer.is_some() {
            // RFC 3261 §14.2: a second INVITE before the first is finished gets 500 with
            // Retry-After.
            return Err(Error::InviteInProgress(request.call_id.clone()));
        }
        check_cseq(call, &request)?;
        call.remote_cseq = request.cseq.seq;
        if let Some(contact) = request.contact.first() {
            call.remote_target = Some(contact.uri.clone());
        }
        let key = tx.open(&request, flow);
        tx.respond(&key, StatusCode::Trying, None, |w| w, None, now, out);
        let (reply, answer) = oneshot::channel();
        call.offer = Some(Offer {
            key,
            cseq: request.cseq.seq,
            initial: false,
            stage: Stage::Asked {
                answer_by: now + ctx.answer_timeout,
            },
        });
        call.reschedule(&request.call_id, tx);
        out.event(DialogEvent::Reinvite {
            call_id: request.call_id.clone(),
            sdp: request.body.clone(),
            reply,
        });
        out.await_decision(Pending {
            key: PendingKey {
                call_id: request.call_id,
                cseq: request.cseq.seq,
            },
            reply: answer,
        });
        Ok(Outcome::Pending)
    }

    /// RFC 3261 §15.1.2: 200 to the BYE, 487 to any INVITE still pending, and the call ends.
    fn bye(
        &mut self,
        request: Request,
        flow: Flow,
        tx: &mut Transactions,
        now: Instant,
        out: &dyn Outbound,
    ) -> Result<Outcome, Error> {
        let call = self.dialog_of(&request)?;
        check_cseq(call, &request)?;
        let key = tx.open(&request, flow);
        tx.respond(&key, StatusCode::Ok, None, |w| w, None, now, out);
        if let Some(call) = self.remove(&request.call_id, tx) {
            if let Some(Offer {
                key,
                stage: Stage::Asked { .. },
                ..
            }) = &call.offer
            {
                let status = StatusCode::RequestTerminated;
                tx.respond(key, status, Some(&call.local_tag), |w| w, None, now, out);
            }
        }
        out.event(DialogEvent::Ended {
            call_id: request.call_id,
            reason: EndReason::ByeFromPeer,
        });
        Ok(Outcome::Responded(StatusCode::Ok))
    }

    fn dialog_of(&mut self, request: &Request) -> Result<&mut Call, Error> {
        self.calls
            .get_mut(&request.call_id)
            .filter(|call| call.matches(request))
            .ok_or_else(|| Error::NoSuchDialog(request.call_id.clone()))
    }

    /// The ACK of our 2xx (RFC 3261 §13.3.1.4): stops the retransmissions.
    pub fn on_ack(
        &mut self,
        request: &Request,
        tx: &mut Transactions,
        out: &dyn Outbound,
    ) -> Outcome {
        let Some(call) = self
            .calls
            .get_mut(&request.call_id)
            .filter(|call| call.matches(request))
        else {
            return Outcome::Stray;
        };
        let acked = matches!(
            &call.offer,
            Some(Offer { cseq, stage: Stage::Answered { .. }, .. }) if *cseq == request.cseq.seq
        );
        if !acked {
            return Outcome::Absorbed;
        }
        let initial = call.offer.take().is_some_and(|offer| offer.initial);
        tx.schedule(
            &mut call.slot,
            None,
            TimerKey::Call(request.call_id.clone()),
        );
        if initial {
            out.event(DialogEvent::Acked {
                call_id: request.call_id.clone(),
            });
        }
        Outcome::Absorbed
    }

    /// A CANCEL matched the pending INVITE `invite` of `call_id`.
    pub fn on_cancel(
        &mut self,
        call_id: &CallId,
        invite: &ServerKey,
        tx: &mut Transactions,
        now: Instant,
        out: &dyn Outbound,
    ) {
        let Some(call) = self.calls.get(call_id) else {
            return;
        };
        let Some(offer) = call.offer.as_ref().filter(|o| o.key == *invite) else {
            return;
        };
        let tag = call.local_tag.clone();
        let status = StatusCode::RequestTerminated;
        tx.respond(invite, status, Some(&tag), |w| w, None, now, out);
        if offer.initial {
            self.remove(call_id, tx);
            out.event(DialogEvent::Ended {
                call_id: call_id.clone(),
                reason: EndReason::Cancelled,
            });
        } else if let Some(call) = self.calls.get_mut(call_id) {
            call.offer = None;
            tx.schedule(&mut call.slot, None, TimerKey::Call(call_id.clone()));
        }
    }

    /// The UM side decided on an offer (`None`: it dropped the question).
    pub fn on_decision(
        &mut self,
        pending: PendingKey,
        decision: Option<InviteDecision>,
        ctx: &Context<'_>,
        tx: &mut Transactions,
        now: Instant,
        out: &dyn Outbound,
    ) {
        let Some(call) = self.calls.get_mut(&pending.call_id) else {
            return;
        };
        let Some(offer) = call
            .offer
            .as_mut()
            .filter(|o| o.cseq == pending.cseq && matches!(o.stage, Stage::Asked { .. }))
        else {
            // Cancelled, ended or timed out meanwhile.
            return;
        };
        let initial = offer.initial;
        let key = offer.key.clone();
        let tag = call.local_tag.clone();
        match decision {
            Some(InviteDecision::Accept { sdp_answer }) => {
                let contact = ctx
                    .local
                    .contact(call.contact_user.clone(), call.flow.transport);
                let sent = tx.respond(
                    &key,
                    StatusCode::Ok,
                    Some(&tag),
                    |w| {
                        w.header(&HeaderName::Contact, format_args!("<{contact}>"))
                            .header(&HeaderName::Allow, "INVITE, ACK, CANCEL, BYE, OPTIONS")
                    },
                    Some(("application/sdp", &sdp_answer)),
                    now,
                    out,
                );
                let t1 = tx.timers().t1;
                if let (Some(ok), Some(offer)) = (sent, call.offer.as_mut()) {
                    // Over TCP the transport is reliable; only UDP needs our retransmissions.
                    let next = (call.flow.transport == Transport::Udp).then_some(now + t1);
                    offer.stage = Stage::Answered {
                        ok,
                        next,
                        interval: t1,
                        give_up: now + tx.timers().timeout(),
                    };
                }
            }
            Some(InviteDecision::Reject(status)) => {
                let status = if status.is_final() && !status.is_success() {
                    status
                } else {
                    tracing::warn!(
                        status = status.code(),
                        "UM rejected a call with a non-error status"
                    );
                    StatusCode::ServerInternalError
                };
                tx.respond(&key, status, Some(&tag), |w| w, None, now, out);
                call.offer = None;
            }
            None => {
                // Nobody is listening: 503 lets the gateway try another server.
                let status = StatusCode::ServiceUnavailable;
                let retry_after = ctx.retry_after;
                tx.respond(
                    &key,
                    status,
                    Some(&tag),
                    |w| w.header(&HeaderName::RetryAfter, retry_after),
                    None,
                    now,
                    out,
                );
                call.offer = None;
            }
        }
        let answered = call.offer.is_some();
        if initial && !answered {
            self.remove(&pending.call_id, tx);
        } else if let Some(call) = self.calls.get_mut(&pending.call_id) {
            call.reschedule(&pending.call_id, tx);
        }
    }

    /// A call's deadline passed: 2xx retransmission, missing ACK, or missing decision.
    pub fn on_timer(
        &mut self,
        call_id: &CallId,
        ctx: &Context<'_>,
        tx: &mut Transactions,
        now: Instant,
        out: &dyn Outbound,
    ) {
        let Some(call) = self.calls.get_mut(call_id) else {
            return;
        };
        call.slot = None;
        let t2 = tx.timers().t2;
        let mut end = None;
        match call.offer.as_mut() {
            Some(Offer {
                key,
                initial,
                stage: Stage::Asked { answer_by },
                ..
            }) if *answer_by <= now => {
                let status = if *initial {
                    StatusCode::TemporarilyUnavailable
                } else {
                    StatusCode::ServerInternalError
                };
                let key = key.clone();
                let initial = *initial;
                call.offer = None;
                tx.respond(
                    &key,
                    status,
                    Some(&call.local_tag.clone()),
                    |w| w,
                    None,
                    now,
                    out,
                );
                if initial {
                    end = Some(false);
                }
            }
            Some(Offer {
                stage: Stage::Answered { give_up, .. },
                ..
            }) if *give_up <= now => {
                // RFC 3261 §13.3.1.4: no ACK after 64·T1 ends the session with a BYE.
                end = Some(true);
            }
            Some(Offer {
                stage:
                    Stage::Answered {
                        ok, next, interval, ..
                    },
                ..
            }) if next.is_some_and(|n| n <= now) => {
                out.send(&call.flow, ok.clone());
                *interval = (*interval * 2).min(t2);
                *next = Some(now + *interval);
            }
            _ => {}
        }
        match end {
            Some(send_bye) => {
                if send_bye {
                    self.send_bye(call_id, ctx, tx, None, now, out);
                } else {
                    self.remove(call_id, tx);
                }
                out.event(DialogEvent::Ended {
                    call_id: call_id.clone(),
                    reason: EndReason::Timeout,
                });
            }
            None => {
                if let Some(call) = self.calls.get_mut(call_id) {
                    call.reschedule(call_id, tx);
                }
            }
        }
    }

    /// Ends a call from the UM side.
    pub fn hangup(
        &mut self,
        call_id: &CallId,
        ctx: &Context<'_>,
        tx: &mut Transactions,
        now: Instant,
        out: &dyn Outbound,
    ) -> Result<oneshot::Receiver<Result<(), Error>>, Error> {
        let call = self
            .calls
            .get(call_id)
            .ok_or_else(|| Error::NoSuchCall(call_id.clone()))?;
        let (done, result) = oneshot::channel();
        if let Some(Offer {
            key,
            initial: true,
            stage: Stage::Asked { .. },
            ..
        }) = &call.offer
        {
            // Not answered yet: there is no dialog to BYE, so refuse the INVITE.
            let status = StatusCode::TemporarilyUnavailable;
            let tag = call.local_tag.clone();
            tx.respond(key, status, Some(&tag), |w| w, None, now, out);
            self.remove(call_id, tx);
            let _ = done.send(Ok(()));
            return Ok(result);
        }
        self.send_bye(call_id, ctx, tx, Some(done), now, out);
        Ok(result)
    }

    /// RFC 3261 §15.1.1 and §12.2.1.1: BYE to the remote target through the route set, and
    /// the call is over for us at once.
    fn send_bye(
        &mut self,
        call_id: &CallId,
        ctx: &Context<'_>,
        tx: &mut Transactions,
        done: Option<oneshot::Sender<Result<(), Error>>>,
        now: Instant,
        out: &dyn Outbound,
    ) {
        let Some(call) = self.remove(call_id, tx) else {
            return;
        };
        if let Some(Offer {
            key,
            stage: Stage::Asked { .. },
            ..
        }) = &call.offer
        {
            let status = StatusCode::RequestTerminated;
            tx.respond(key, status, Some(&call.local_tag), |w| w, None, now, out);
        }
        let request_uri = call
            .remote_target
            .clone()
            .unwrap_or_else(|| call.remote.uri.clone());
        let first_route = call
            .route_set
            .first()
            .and_then(|route| NameAddr::parse(route).ok())
            .map(|route| route.uri);
        let flow = destination(first_route.as_ref().unwrap_or(&request_uri), call.flow);
        let branch = Branch::generate(ctx.ids);
        let via = our_via(flow.transport, ctx.local, &branch);
        let cseq = call.local_cseq.saturating_add(1).max(1);
        let mut writer = Writer::request(&Method::Bye, &request_uri)
            .header(&HeaderName::Via, &via)
            .header(&HeaderName::MaxForwards, 70)
            .header(&HeaderName::From, &call.local)
            .header(&HeaderName::To, &call.remote)
            .header(&HeaderName::CallId, call_id)
            .header(&HeaderName::CSeq, format_args!("{cseq} BYE"));
        for route in &call.route_set {
            writer = writer.header(&HeaderName::Route, route);
        }
        let bytes = writer.finish(None);
        let outgoing = Outgoing {
            branch,
            method: Method::Bye,
            bytes,
            flow,
            call_id: call_id.clone(),
            done,
            subscription: None,
        };
        tx.request(outgoing, now, out);
    }

    fn remove(&mut self, call_id: &CallId, tx: &mut Transactions) -> Option<Call> {
        let mut call = self.calls.remove(call_id)?;
        tx.schedule(&mut call.slot, None, TimerKey::Call(call_id.clone()));
        Some(call)
    }
}

/// RFC 3261 §12.2.2: requests inside a dialog must count up.
fn check_cseq(call: &Call, request: &Request) -> Result<(), Error> {
    if request.cseq.seq <= call.remote_cseq {
        return Err(Error::CSeqOutOfOrder {
            call_id: request.call_id.clone(),
            seq: request.cseq.seq,
            last: call.remote_cseq,
        });
    }
    Ok(())
}
