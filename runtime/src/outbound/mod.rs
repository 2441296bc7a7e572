//! The outbound-call policy: the one door through which the platform places a
//! call, and so spends the operator's money.
//!
//! Every path that dials a number through a carrier trunk asks
//! [`OutboundPolicy::authorize`] first and dials with the [`Grant`] it returns
//! (there is no other way to reach `trunk::dial` in the runtime): a flow's
//! `transfer number`, a callback, an agent's REFER, the desktop's dial and
//! transfer, and the dialer. The policy
//!
//! 1. brings the number to its canonical form (`dialect_numbers`), so that
//!    `+44…`, `0044…` and `00 44…` are one number;
//! 2. lets a person (an agent) reach an emergency number whatever the plans say,
//!    and never lets a machine (a callback, the dialer) dial one;
//! 3. checks the dial plan of the origin (the agent's own, or the plan of all
//!    agents, flows, callbacks or the dialer);
//! 4. picks a trunk of the requested name or group whose own plan allows the
//!    number, with a free channel (shared with the calls the trunk brings in)
//!    and room under its calls-per-second limit;
//! 5. counts the call against its account's hourly guard ([`guard`]), raising
//!    an alarm before the limit.
//!
//! Every refusal is logged, counted (`dialect_outbound_refused_total`) and
//! written to the audit log with the origin, the number and the reason. A
//! [`Grant`] holds the trunk channel until it is dropped, and reports the
//! call's talk time to the guard.
//!
//! [`OutboundPolicy::permits`] answers the first three questions alone, for
//! requests that must be answered before the call is placed (a REFER gets 403,
//! a desktop request 403, when the number is not allowed).

pub mod guard;
pub mod plan;

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use dialect_numbers::{NumberError, NumberRules};
use dialect_sip::SipEndpoint;
use dialect_sip::endpoint::OutgoingCall;
use dialect_sip::message::SipError;
use dialect_sip::trunk;

use crate::config::{Config, GuardConfig, HourlyLimit, OriginPlans, Role, TrunkConfig};
use crate::stats::Stats;
use crate::store::SharedStore;
use crate::time::{RateBucket, now_ms};
use guard::{Account, Guard, GuardRefusal};
use plan::{DialPlan, PlanRefusal};

/// Who asks for a call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A flow's `transfer number`.
    Flow {
        /// Name of the flow whose `transfer number` asks.
        flow: String,
    },
    /// A queue rule's destination `number "…"` (max wait, overflow, a key).
    Queue {
        /// Name of the queue whose rule asks.
        queue: String,
    },
    /// A callback the ACD places for a caller who asked for one.
    Callback,
    /// An agent: REFER from the phone, or the desktop.
    Agent {
        /// The agent's id.
        id: String,
        /// How the agent asked.
        how: AgentRequest,
    },
    /// A campaign's dialing.
    Campaign {
        /// Name of the campaign whose dialing asks.
        name: String,
    },
}

/// How an agent asked for a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentRequest {
    /// A REFER from the agent's phone (blind transfer).
    Refer,
    /// The desktop's `dial`.
    Dial,
    /// The desktop's blind transfer to a number.
    Transfer,
}

impl Origin {
    /// A person asked: emergency numbers are always allowed.
    fn is_person(&self) -> bool {
        matches!(self, Origin::Agent { .. })
    }

    /// A machine asked: emergency numbers are never allowed.
    fn is_machine(&self) -> bool {
        matches!(self, Origin::Callback | Origin::Campaign { .. })
    }

    fn account(&self) -> Account {
        match self {
            Origin::Flow { .. } | Origin::Queue { .. } => Account::Flows,
            Origin::Callback => Account::Callbacks,
            Origin::Agent { id, .. } => Account::Agent(id.clone()),
            Origin::Campaign { name } => Account::Campaign(name.clone()),
        }
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flow { flow } => write!(f, "flow {flow}"),
            Origin::Queue { queue } => write!(f, "queue {queue}"),
            Origin::Callback => f.write_str("callback"),
            Origin::Agent { id, how } => {
                let how = match how {
                    AgentRequest::Refer => "REFER",
                    AgentRequest::Dial => "dial",
                    AgentRequest::Transfer => "transfer",
                };
                write!(f, "agent {id} ({how})")
            }
            Origin::Campaign { name } => write!(f, "campaign {name}"),
        }
    }
}

/// A call the policy is asked for.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// Who asks.
    pub origin: Origin,
    /// The number as written (any form).
    pub number: &'a str,
    /// A trunk name or group to leave on (`None`: any trunk).
    pub trunk: Option<&'a str>,
}

/// Why a call was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reason {
    /// The text is not a number that can be dialled.
    BadNumber(NumberError),
    /// An emergency number asked for by a machine.
    EmergencyByMachine,
    /// The origin's or the trunk's plan does not allow the number.
    Plan {
        /// Name of the plan that refused (`national` or one of `outbound.plans`).
        plan: String,
        /// Whose plan: the origin's, or trunk `name`'s.
        of: String,
        /// What the plan said.
        refusal: PlanRefusal,
    },
    /// No trunk has the name or group asked for.
    NoTrunk(Option<String>),
    /// Every fitting trunk is using all its channels.
    TrunkFull {
        /// The first fitting trunk that refused, when several did.
        trunk: String,
        /// Its `channels` setting, all in use.
        channels: usize,
    },
    /// Every fitting trunk is at its calls-per-second limit.
    TrunkRate {
        /// The first fitting trunk that refused, when several did.
        trunk: String,
        /// Its limit.
        per_second: u32,
    },
    /// The account's hourly guard.
    Guard {
        /// The account as messages name it (`agent 1001`, `flows`, `callbacks`,
        /// `campaign NAME`).
        account: String,
        /// Which limit.
        refusal: GuardRefusal,
    },
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::BadNumber(e) => write!(f, "{e}"),
            Reason::EmergencyByMachine => f.write_str(
                "emergency numbers are dialled by people only, never by callbacks or campaigns",
            ),
            Reason::Plan { plan, of, refusal } => match refusal {
                PlanRefusal::Denied { pattern } => {
                    write!(f, "the dial plan `{plan}` of {of} denies it (`{pattern}`)")
                }
                PlanRefusal::NotAllowed => {
                    write!(f, "the dial plan `{plan}` of {of} does not allow it")
                }
            },
            Reason::NoTrunk(None) => f.write_str("no trunk is configured"),
            Reason::NoTrunk(Some(t)) => write!(f, "no trunk or trunk group `{t}`"),
            Reason::TrunkFull { trunk, channels } => {
                write!(f, "trunk {trunk} has all its {channels} channels in use")
            }
            Reason::TrunkRate { trunk, per_second } => {
                write!(f, "trunk {trunk} is at its {per_second} calls a second")
            }
            Reason::Guard { account, refusal } => match refusal {
                GuardRefusal::Calls { limit } => {
                    write!(f, "{account} placed its {limit} calls of the last hour")
                }
                GuardRefusal::Minutes { limit } => {
                    write!(f, "{account} talked its {limit} minutes of the last hour")
                }
            },
        }
    }
}

/// A refused call: who asked, for what, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{origin} may not call {number}: {reason}")]
pub struct Refusal {
    /// Who asked.
    pub origin: Origin,
    /// The number as asked for.
    pub number: String,
    /// Why not.
    pub reason: Reason,
}

/// A carrier trunk as the policy keeps it: its settings, the channels in use
/// in both directions, and its call rate.
#[derive(Debug)]
pub struct TrunkLine {
    /// The trunk's entry in `trunks`.
    pub config: TrunkConfig,
    /// What the SIP layer needs to dial through it.
    pub sip: trunk::TrunkConfig,
    /// Where its calls come from.
    sources: Vec<IpAddr>,
    in_use: AtomicUsize,
    rate: RateBucket,
}

impl TrunkLine {
    fn new(config: TrunkConfig, sip: trunk::TrunkConfig) -> TrunkLine {
        let mut sources = config.sources.clone();
        if sources.is_empty()
            && let Ok(addr) = config.host.parse::<std::net::SocketAddr>()
        {
            sources.push(addr.ip());
        } else if sources.is_empty()
            && let Ok(ip) = config.host.parse::<IpAddr>()
        {
            sources.push(ip);
        }
        TrunkLine {
            rate: RateBucket::new(config.calls_per_second),
            config,
            sip,
            sources,
            in_use: AtomicUsize::new(0),
        }
    }

    /// Whether a call from `ip` came through this trunk.
    pub fn is_source(&self, ip: IpAddr) -> bool {
        self.sources.contains(&ip)
    }

    /// Channels in use now, both directions.
    pub fn channels_in_use(&self) -> usize {
        self.in_use.load(Ordering::Relaxed)
    }

    fn named(&self, name_or_group: &str) -> bool {
        self.config.name == name_or_group || self.config.group.as_deref() == Some(name_or_group)
    }

    /// A channel, if one is free.
    fn take_channel(self: &Arc<Self>) -> Option<ChannelPermit> {
        let limit = self.config.channels;
        self.in_use
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| ChannelPermit { line: self.clone() })
    }
}

/// One channel of a trunk, held for the length of a call.
#[derive(Debug)]
pub struct ChannelPermit {
    line: Arc<TrunkLine>,
}

impl ChannelPermit {
    /// The trunk it is a channel of.
    pub fn trunk(&self) -> &Arc<TrunkLine> {
        &self.line
    }
}

impl Drop for ChannelPermit {
    fn drop(&mut self) {
        self.line.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Permission to place one call: the number in canonical form, the trunk and
/// one of its channels, and the account the call counts against. Dropping it
/// frees the channel and tells the guard the call ended.
#[derive(Debug)]
pub struct Grant {
    number: String,
    channel: ChannelPermit,
    account: Account,
    call: u64,
    policy: Arc<OutboundPolicy>,
}

impl Grant {
    /// The number to dial, in canonical form.
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The trunk the call leaves on.
    pub fn trunk(&self) -> &TrunkConfig {
        &self.channel.line.config
    }

    /// The trunk the call leaves on, with what the SIP layer dials it by.
    pub fn line(&self) -> &TrunkLine {
        &self.channel.line
    }

    /// Sends the INVITE through the granted trunk, presenting `caller_id`
    /// (else the trunk's caller id, else its account).
    pub async fn dial(
        &self,
        endpoint: &SipEndpoint,
        caller_id: Option<&str>,
        sdp: Vec<u8>,
    ) -> Result<OutgoingCall, SipError> {
        let line = &self.channel.line;
        let caller_id = caller_id.or(line.config.caller_id.as_deref());
        trunk::dial(endpoint, &line.sip, &self.number, caller_id, sdp).await
    }

    /// The call was answered: its talk time counts from now.
    pub fn answered(&self) {
        self.policy
            .guard()
            .answered(&self.account, self.call, now_ms());
    }
}

impl Drop for Grant {
    fn drop(&mut self) {
        self.policy
            .guard()
            .ended(&self.account, self.call, now_ms());
    }
}

/// The policy, shared by every call task, the API and the dialer.
pub struct OutboundPolicy {
    rules: NumberRules,
    plans: BTreeMap<String, DialPlan>,
    default_plan: String,
    origins: OriginPlans,
    agent_plans: HashMap<String, String>,
    emergency: Vec<String>,
    emergency_trunk: Option<String>,
    limits: GuardConfig,
    guard: Mutex<Guard>,
    trunks: Vec<Arc<TrunkLine>>,
    next_call: AtomicU64,
    store: SharedStore,
    stats: Arc<Stats>,
}

impl std::fmt::Debug for OutboundPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboundPolicy")
            .field("trunks", &self.trunks.len())
            .finish()
    }
}

impl OutboundPolicy {
    /// The policy of a configuration, over the trunks the server set up (each
    /// with the SIP layer's settings for dialing through it).
    pub fn new(
        config: &Config,
        trunks: Vec<(TrunkConfig, trunk::TrunkConfig)>,
        store: SharedStore,
        stats: Arc<Stats>,
    ) -> Arc<OutboundPolicy> {
        let o = &config.outbound;
        let emergency = o
            .emergency
            .numbers
            .iter()
            .filter_map(|n| dialect_numbers::canonical(n, &o.numbers).ok())
            .collect();
        Arc::new(OutboundPolicy {
            rules: o.numbers.clone(),
            plans: DialPlan::all(&o.plans),
            default_plan: o.default_plan.clone(),
            origins: o.origins.clone(),
            agent_plans: config
                .agents
                .iter()
                .filter_map(|a| Some((a.id.clone(), a.dial_plan.clone()?)))
                .collect(),
            emergency,
            emergency_trunk: o.emergency.trunk.clone(),
            limits: o.guard.clone(),
            guard: Mutex::new(Guard::new(o.guard.alarm_at.0)),
            trunks: trunks
                .into_iter()
                .map(|(c, s)| Arc::new(TrunkLine::new(c, s)))
                .collect(),
            next_call: AtomicU64::new(1),
            store,
            stats,
        })
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, Guard> {
        self.guard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The trunks, in configuration order.
    pub fn trunks(&self) -> &[Arc<TrunkLine>] {
        &self.trunks
    }

    /// The trunk a call from `source` came through: by source address only (a
    /// DID, a group or a caller number is believed only from there).
    pub fn inbound_trunk(&self, source: IpAddr) -> Option<&Arc<TrunkLine>> {
        self.trunks.iter().find(|t| t.is_source(source))
    }

    /// A channel of `trunk` for a call it brings in, if one is free.
    pub fn inbound_channel(&self, trunk: &Arc<TrunkLine>) -> Option<ChannelPermit> {
        trunk.take_channel()
    }

    /// The configured numbering rules, for everything that must bring numbers
    /// to the form this policy compares (lists, campaign targets).
    pub fn number_rules(&self) -> NumberRules {
        self.rules.clone()
    }

    /// `number` in canonical form under the configured numbering rules.
    pub fn canonical(&self, number: &str) -> Result<String, NumberError> {
        dialect_numbers::canonical(number, &self.rules)
    }

    /// The plan that applies to `origin`.
    fn origin_plan(&self, origin: &Origin) -> &str {
        let configured = match origin {
            Origin::Flow { .. } | Origin::Queue { .. } => self.origins.flows.as_deref(),
            Origin::Callback => self.origins.callbacks.as_deref(),
            Origin::Agent { id, .. } => self
                .agent_plans
                .get(id)
                .map(String::as_str)
                .or(self.origins.agents.as_deref()),
            Origin::Campaign { .. } => self.origins.dialer.as_deref(),
        };
        configured.unwrap_or(&self.default_plan)
    }

    fn check_plan(&self, plan: &str, of: &str, number: &str) -> Result<(), Reason> {
        let Some(p) = self.plans.get(plan) else {
            // Names are checked at start; a plan that vanished allows nothing.
            return Err(Reason::Plan {
                plan: plan.into(),
                of: of.into(),
                refusal: PlanRefusal::NotAllowed,
            });
        };
        p.check(number).map_err(|refusal| Reason::Plan {
            plan: plan.into(),
            of: of.into(),
            refusal,
        })
    }

    /// Steps 1–3: the number, emergencies and the origin's plan. `Ok` holds the
    /// canonical number and whether it is an emergency number a person may call.
    fn screen(&self, origin: &Origin, number: &str) -> Result<(String, bool), Reason> {
        let canonical = self.canonical(number).map_err(Reason::BadNumber)?;
        if self.emergency.contains(&canonical) {
            if origin.is_person() {
                return Ok((canonical, true));
            }
            if origin.is_machine() {
                return Err(Reason::EmergencyByMachine);
            }
        }
        self.check_plan(self.origin_plan(origin), &origin.to_string(), &canonical)?;
        Ok((canonical, false))
    }

    /// Whether `origin` may call `number` at all (plans and emergencies), for
    /// requests answered before any trunk is taken; refusals are audited.
    pub fn permits(&self, origin: &Origin, number: &str) -> Result<(), Box<Refusal>> {
        self.screen(origin, number)
            .map(|_| ())
            .map_err(|reason| self.refuse(origin.clone(), number, reason))
    }

    /// Decides a call: `Ok` holds everything needed to dial it.
    pub fn authorize(self: &Arc<Self>, req: Request<'_>) -> Result<Grant, Box<Refusal>> {
        let (number, emergency) = self
            .screen(&req.origin, req.number)
            .map_err(|reason| self.refuse(req.origin.clone(), req.number, reason))?;
        let wanted = if emergency {
            self.emergency_trunk.as_deref().or(req.trunk)
        } else {
            req.trunk
        };
        let channel = self
            .pick_trunk(wanted, &number, emergency)
            .map_err(|reason| self.refuse(req.origin.clone(), req.number, reason))?;
        let account = req.origin.account();
        if !emergency {
            let limit = self.limit(&account);
            let placed = self.guard().place(&account, limit, now_ms());
            match placed {
                Ok(Some(usage)) => self.alarm(&account, limit, usage.calls, usage.minutes),
                Ok(None) => {}
                Err(refusal) => {
                    let reason = Reason::Guard {
                        account: account.to_string(),
                        refusal,
                    };
                    return Err(self.refuse(req.origin.clone(), req.number, reason));
                }
            }
        }
        Ok(Grant {
            number,
            channel,
            account,
            call: self.next_call.fetch_add(1, Ordering::Relaxed),
            policy: self.clone(),
        })
    }

    /// Step 4: a trunk of the name or group asked for whose plan allows the
    /// number, with a free channel and room in its call rate.
    fn pick_trunk(
        &self,
        wanted: Option<&str>,
        number: &str,
        emergency: bool,
    ) -> Result<ChannelPermit, Reason> {
        let candidates: Vec<&Arc<TrunkLine>> = self
            .trunks
            .iter()
            .filter(|t| wanted.is_none_or(|w| t.named(w)))
            .collect();
        if candidates.is_empty() {
            return Err(Reason::NoTrunk(wanted.map(str::to_string)));
        }
        let mut first_refusal = None;
        for t in candidates {
            if !emergency {
                let plan = t.config.dial_plan.as_deref().unwrap_or(&self.default_plan);
                if let Err(r) = self.check_plan(plan, &format!("trunk {}", t.config.name), number) {
                    first_refusal.get_or_insert(r);
                    continue;
                }
            }
            let Some(channel) = t.take_channel() else {
                first_refusal.get_or_insert(Reason::TrunkFull {
                    trunk: t.config.name.clone(),
                    channels: t.config.channels,
                });
                continue;
            };
            if !t.rate.take() {
                first_refusal.get_or_insert(Reason::TrunkRate {
                    trunk: t.config.name.clone(),
                    per_second: t.config.calls_per_second,
                });
                continue;
            }
            return Ok(channel);
        }
        Err(first_refusal.unwrap_or(Reason::NoTrunk(wanted.map(str::to_string))))
    }

    fn limit(&self, account: &Account) -> HourlyLimit {
        match account {
            Account::Agent(_) => self.limits.agent,
            Account::Flows => self.limits.flows,
            Account::Callbacks => self.limits.callbacks,
            Account::Campaign(_) => self.limits.dialer,
        }
    }

    /// The user an origin's audit entries name.
    fn actor(origin: &Origin) -> crate::auth::User {
        let (name, role) = match origin {
            Origin::Agent { id, .. } => (id.clone(), Role::Agent),
            other => (other.account().to_string(), Role::System),
        };
        crate::auth::User {
            name,
            role,
            department: None,
        }
    }

    /// Logs, counts and audits a refusal.
    fn refuse(&self, origin: Origin, number: &str, reason: Reason) -> Box<Refusal> {
        let refusal = Box::new(Refusal {
            origin,
            number: number.to_string(),
            reason,
        });
        tracing::warn!("outbound call refused: {refusal}");
        self.stats.outbound_refused.fetch_add(1, Ordering::Relaxed);
        let store = self.store.clone();
        let user = Self::actor(&refusal.origin);
        let detail = serde_json::json!({
            "origin": refusal.origin.to_string(),
            "reason": refusal.reason.to_string(),
        });
        let target = refusal.number.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                crate::auth::audit(&store, &user, "outbound.refused", &target, detail).await;
            });
        }
        refusal
    }

    /// Logs, counts and audits an account nearing its hourly limit.
    fn alarm(&self, account: &Account, limit: HourlyLimit, calls: u32, minutes: u32) {
        tracing::warn!(
            "outbound guard: {account} placed {calls} of {} calls and talked {minutes} of {} minutes in the last hour",
            limit.calls,
            limit.minutes
        );
        self.stats.outbound_alarms.fetch_add(1, Ordering::Relaxed);
        let store = self.store.clone();
        let user = crate::auth::User {
            name: account.to_string(),
            role: Role::System,
            department: None,
        };
        let detail = serde_json::json!({
            "calls": calls, "calls_limit": limit.calls,
            "minutes": minutes, "minutes_limit": limit.minutes,
        });
        let target = account.to_string();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                crate::auth::audit(&store, &user, "outbound.alarm", &target, detail).await;
            });
        }
    }
}

#[cfg(test)]
mod tests;
