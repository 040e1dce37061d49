//! Detection (issue 16): the detectors' throughput, a normal day's false positives, and the time
//! from an insider's burst to the alert and the lock of their PC.
//!
//! - `detect-replay`: a simulated 1,000-seat floor's audit entries (consecutive days until N),
//!   fed (a) to the pure `Detector` on one core, and (b) written to a scratch database and read
//!   by a fresh detection runner — the server's own task — until it has caught up.
//! - `detect-day`: a normal day of a small floor (default 40 seats) through the pure detector:
//!   findings and alerts per rule, after the runner's deduplication (one alert per rule and
//!   subject while findings keep coming within the rule's window).
//! - `detect-latency`: a real server under a background of on-call lookups; an operator whose PC
//!   is enrolled looks up 60 customers off-call in a burst, and the time is taken from that
//!   lookup to the `lookup_volume` alert in `core.detection.alerts` and to the lock command at
//!   the agent's long poll.
//!
//! The simulated floor (see [`Floor`]) is deterministic: a SplitMix64 generator seeded by
//! `--seed`, no dependency.

use anyhow::Context;
use mamori_audit::{Actor, AuditEvent, Outcome, actions};
use mamori_domain::UnixMillis;
use mamori_domain::detect::{Detector, Finding, Observed, RuleId, RuleSet, Severity, signin_in_shift};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;

// ---------------------------------------------------------------------------------------------
// A small deterministic generator.

/// SplitMix64: fast, deterministic, good enough to draw a simulated day.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub(crate) fn new(seed: u64) -> Self {
        Rng(mix(seed ^ 0x5DEE_CE66_D1CE_4E5B))
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }
    /// In [0, 1).
    fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }
    fn between(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.unit()
    }
    /// In 0..n (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        ((self.unit() * n as f64) as u64).min(n.saturating_sub(1))
    }
    /// Exponentially distributed with this mean.
    fn exp(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.unit()).ln()
    }
    fn hex(&mut self, digits: usize) -> String {
        let mut s = String::with_capacity(digits);
        while s.len() < digits {
            s.push_str(&format!("{:016x}", self.next_u64()));
        }
        s.truncate(digits);
        s
    }
    fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!("{}-{}-4{}-8{}-{}", &h[..8], &h[8..12], &h[13..16], &h[17..20], &h[20..])
    }
}

const SECOND: f64 = 1000.0;
const MINUTE: f64 = 60_000.0;
const HOUR: f64 = 3_600_000.0;
const DAY_MS: i64 = 86_400_000;
/// 2026-12-01 00:00 JST: the first simulated day of `detect-replay (a)` and `detect-day`.
pub(crate) const DAY0_JST: i64 = 1_796_050_800_000;

// ---------------------------------------------------------------------------------------------
// The simulated floor.

/// One audit entry of the simulation (actors, addresses and details are indexes into the
/// floor's tables, so a million entries stay small and the detector borrows them as the runner
/// borrows a stored entry).
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub time: i64,
    pub action: &'static str,
    pub actor: u32,
    pub object: Option<String>,
    pub outcome: &'static str,
    pub ip: u32,
    pub details: u32,
}

/// What shapes the simulated floor.
#[derive(Debug, Clone)]
pub(crate) struct FloorSpec {
    /// Operators (each works one shift a day).
    pub seats: usize,
    pub seed: u64,
    /// Client companies the floor serves; each operator works one client's line.
    pub clients: usize,
    /// Of the callers found, those whose number also belongs to a customer of another client the
    /// floor serves (one person, two companies; a family's landline): the phone lookup then also
    /// finds that customer, which client isolation refuses and records (`client_scope`).
    pub shared_numbers: f64,
    /// Midnight (JST) of the first day.
    pub day0: i64,
    /// Of the PCs, those shut down at the end of their person's shift (the others stay on).
    pub shut_down: f64,
}

impl FloorSpec {
    pub(crate) fn new(seats: usize, seed: u64) -> Self {
        FloorSpec { seats, seed, clients: 3, shared_numbers: 0.0, day0: DAY0_JST, shut_down: 0.5 }
    }
}

#[derive(Debug, Clone)]
struct Person {
    actor: u32,
    ip: u32,
    client: u64,
    /// 13:00–22:00 instead of 9:00–18:00 (supervisors 8:30–17:30 or 13:00–22:00).
    late: bool,
    /// Calls an hour while taking calls.
    rate: f64,
    call_start_details: u32,
    /// `device:<id>` of the person's PC, and the details of its signals: a headset plugged in
    /// (no mass storage), the PC silent after it was shut down.
    device: String,
    device_actor: u32,
    headset_details: u32,
    silent_details: u32,
}

/// Indexes of the fixed detail maps.
const D_NONE: u32 = 0;
const D_ON_CALL: u32 = 1;
const D_ON_CALL_NOT_FOUND: u32 = 2;
const D_REASON: u32 = 3;
const D_NOTE: u32 = 4;
const D_WRONG_PASSWORD: u32 = 5;
const D_CLIENT_SCOPE: u32 = 6;
const D_PERMISSION: u32 = 7;
const D_CALL_END: u32 = 8;
const D_ADMIN: u32 = 9;
/// A sign-in the detection task marks outside the person's shifts.
const D_OFF_SHIFT: u32 = 10;

/// The actor `system` in every floor's table.
const SYSTEM: u32 = 1;

/// Customers per client company.
const CUSTOMERS_PER_CLIENT: u64 = 300_000;

/// A contact-centre floor: its people, and a day of what they do as audit entries.
#[derive(Debug)]
pub(crate) struct Floor {
    pub spec: FloorSpec,
    /// Encoded actors (`user:<id>`, …) and what they are.
    pub actors: Vec<(String, Actor)>,
    pub ips: Vec<Option<String>>,
    pub details: Vec<BTreeMap<String, String>>,
    operators: Vec<Person>,
    supervisors: Vec<Person>,
    cti: u32,
}

fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

fn customer(client: u64, n: u64) -> String {
    let a = mix(client.wrapping_mul(0x1000_0001) ^ n);
    format!("customer:h:{a:016x}{:016x}", mix(a ^ 0xC0FF_EE00))
}

/// One shift's breaks: (start, end), in order.
fn breaks(rng: &mut Rng, start: f64) -> [(f64, f64); 3] {
    let first = start + 2.0 * HOUR + rng.between(-15.0, 15.0) * MINUTE;
    let lunch = start + 4.0 * HOUR + rng.between(-20.0, 20.0) * MINUTE;
    let last = start + 6.5 * HOUR + rng.between(-15.0, 15.0) * MINUTE;
    [
        (first, first + rng.between(10.0, 15.0) * MINUTE),
        (lunch, lunch + 60.0 * MINUTE),
        (last, last + rng.between(10.0, 15.0) * MINUTE),
    ]
}

impl Floor {
    pub(crate) fn new(spec: FloorSpec) -> Self {
        let mut rng = Rng::new(spec.seed ^ 0xF100_F100);
        let mut details = vec![
            BTreeMap::new(),
            map(&[
                ("by", "phone"),
                ("results", "1"),
                ("fields", "birth_date,email,name_kana,name_kanji,phones,postal_address"),
                ("confidential", ""),
                ("purpose", "active_call"),
                ("call", "6f1d2c9a-4b7e-4e21-9a53-0c8d1e2f3a4b"),
            ]),
            map(&[
                ("by", "phone"),
                ("results", "0"),
                ("fields", ""),
                ("confidential", ""),
                ("purpose", "active_call"),
            ]),
            map(&[
                ("by", "phone"),
                ("results", "1"),
                ("fields", "birth_date,email,name_kana,name_kanji,phones,postal_address"),
                ("confidential", ""),
                ("purpose", "reason"),
                ("reason_code", "callback"),
                ("reason_text_chars", "14"),
                ("reason_text_sealed", &"q".repeat(88)),
            ]),
            map(&[("chars", "86")]),
            map(&[("reason", "wrong_password")]),
            map(&[("reason", "client_scope"), ("purpose", "active_call")]),
            map(&[("reason", "permission")]),
            map(&[("external_id", "CTI-20261201-000000")]),
            map(&[("changed", "clients")]),
            map(&[("off_shift", "true"), ("shifts", "mon,tue,wed,thu,fri,sat,sun 09:00–18:00 (UTC+09:00)")]),
        ];
        let mut actors =
            vec![("anonymous".to_owned(), Actor::Anonymous), ("system".to_owned(), Actor::System)];
        let cti_id = rng.uuid();
        actors.push((format!("token:{cti_id}"), Actor::ApiToken(cti_id)));
        let cti = (actors.len() - 1) as u32;
        let mut ips: Vec<Option<String>> = vec![None, Some("10.0.0.20".into())];
        let mut person = |rng: &mut Rng, i: usize, late: bool, rate: f64, details: &mut Vec<_>| {
            let id = rng.uuid();
            let device = rng.uuid();
            let user = format!("user:{id}");
            details.push(map(&[
                ("kind", "usb_attached"),
                ("event", &rng.uuid()),
                ("user", &user),
                ("serial", "JBL-QUANTUM-0042"),
                ("mass_storage", "false"),
            ]));
            // Silent after the shift: the detection task marks it so from the person's shifts.
            details.push(map(&[
                ("kind", "heartbeat_lost"),
                ("event", &format!("srv-{}", rng.uuid())),
                ("user", &user),
                ("off_shift", "true"),
            ]));
            details.push(map(&[("operator", &id)]));
            actors.push((format!("device:{device}"), Actor::Device(device.clone())));
            let device_actor = (actors.len() - 1) as u32;
            actors.push((format!("user:{id}"), Actor::User(id)));
            ips.push(Some(format!("10.1.{}.{}", 1 + i / 200, 10 + i % 200)));
            Person {
                actor: (actors.len() - 1) as u32,
                ip: (ips.len() - 1) as u32,
                client: (i % spec.clients.max(1)) as u64,
                late,
                rate,
                call_start_details: (details.len() - 1) as u32,
                device: format!("device:{device}"),
                device_actor,
                headset_details: (details.len() - 3) as u32,
                silent_details: (details.len() - 2) as u32,
            }
        };
        let mut operators = Vec::with_capacity(spec.seats);
        for i in 0..spec.seats {
            // Six in ten on the early shift; one in ten busy.
            let late = i % 5 >= 3;
            let rate = if i % 10 == 7 { rng.between(15.0, 18.0) } else { rng.between(8.0, 15.0) };
            operators.push(person(&mut rng, i, late, rate, &mut details));
        }
        let mut supervisors = Vec::new();
        for i in 0..(spec.seats / 10).max(1) {
            supervisors.push(person(&mut rng, 10_000 + i, i % 2 == 1, 0.0, &mut details));
        }
        Floor { spec, actors, ips, details, operators, supervisors, cti }
    }

    /// The entry as the detectors see it (`index`: its position in the log).
    pub(crate) fn observed<'a>(&'a self, index: u64, e: &'a Entry) -> Observed<'a> {
        Observed {
            index,
            time: UnixMillis(e.time),
            action: e.action,
            actor: &self.actors[e.actor as usize].0,
            object: e.object.as_deref(),
            outcome: e.outcome,
            source_ip: self.ips[e.ip as usize].as_deref(),
            details: &self.details[e.details as usize],
        }
    }

    /// The entry as the server writes it.
    pub(crate) fn event(&self, e: &Entry) -> anyhow::Result<AuditEvent> {
        let action = actions::ALL
            .iter()
            .find(|a| a.name == e.action)
            .with_context(|| format!("action {}", e.action))?;
        let outcome = match e.outcome {
            "success" => Outcome::Success,
            "failure" => Outcome::Failure,
            _ => Outcome::Denied,
        };
        let mut event = AuditEvent::of(action, self.actors[e.actor as usize].1.clone(), outcome);
        event.object = e.object.clone();
        event.source_ip = self.ips[e.ip as usize].clone();
        if event.source_ip.is_some() {
            event.request_id = Some(format!("{:016x}", mix(e.time as u64 ^ u64::from(e.actor))));
        }
        event.details = self.details[e.details as usize].clone();
        Ok(event)
    }

    /// Appends day `day`'s entries (in time order) to `out`.
    pub(crate) fn day(&self, day: u64, out: &mut Vec<Entry>) {
        let mut rng = Rng::new(self.spec.seed.wrapping_mul(1_000_003).wrapping_add(day));
        let midnight = self.spec.day0 + day as i64 * DAY_MS;
        let from = out.len();
        for p in &self.operators {
            let start = if p.late { 13.0 } else { 9.0 } * HOUR;
            self.shift(&mut rng, p, midnight as f64, start, start + 9.0 * HOUR, false, out);
        }
        for p in &self.supervisors {
            let start = if p.late { 13.0 * HOUR } else { 8.5 * HOUR };
            self.shift(&mut rng, p, midnight as f64, start, start + 9.0 * HOUR, true, out);
        }
        out[from..].sort_by_key(|e| e.time);
    }

    #[allow(clippy::too_many_arguments)]
    fn push(
        &self,
        out: &mut Vec<Entry>,
        time: f64,
        action: &'static str,
        actor: u32,
        object: Option<String>,
        outcome: &'static str,
        ip: u32,
        details: u32,
    ) {
        out.push(Entry { time: time as i64, action, actor, object, outcome, ip, details });
    }

    /// A sign-in during the shift `(start, end)`: marked `off_shift` as the detection task marks
    /// it when it is outside (it reads the same shifts).
    fn sign_in(&self, rng: &mut Rng, p: &Person, at: f64, shift: (f64, f64), out: &mut Vec<Entry>) {
        let user = Some(self.actors[p.actor as usize].0.clone());
        // A typo now and then: one failure in 16 sign-ins, two in 50.
        let failures = if rng.chance(0.02) {
            2
        } else if rng.chance(0.0625) {
            1
        } else {
            0
        };
        let mut t = at;
        for _ in 0..failures {
            self.push(out, t, "signin.password", p.actor, user.clone(), "failure", p.ip, D_WRONG_PASSWORD);
            t += rng.between(4.0, 15.0) * SECOND;
        }
        self.push(out, t, "signin.password", p.actor, user, "success", p.ip, D_NONE);
        let session = Some(format!("session:{}", rng.uuid()));
        let started = t + 300.0;
        let on_shift = |x: i64| (shift.0 as i64..shift.1 as i64).contains(&x);
        let marks = if signin_in_shift(on_shift, started as i64) { D_NONE } else { D_OFF_SHIFT };
        self.push(out, started, "session.start", p.actor, session, "success", p.ip, marks);
    }

    /// The phone lookup of a caller: one entry per customer found (two for a family's shared
    /// number of the same client), a refused one first when the number is also another
    /// client's customer's.
    fn phone_lookup(&self, p: &Person, at: f64, caller: Caller, out: &mut Vec<Entry>) {
        let Caller { customer: c, second, other } = caller;
        if let Some(o) = other {
            let other_client =
                (p.client + 1 + o % (self.spec.clients.max(2) as u64 - 1)) % self.spec.clients.max(2) as u64;
            let obj = Some(customer(other_client, o));
            self.push(out, at, "customer.lookup", p.actor, obj, "denied", p.ip, D_CLIENT_SCOPE);
        }
        match c {
            None => {
                let none = Some("customer:none".to_owned());
                self.push(out, at, "customer.lookup", p.actor, none, "success", p.ip, D_ON_CALL_NOT_FOUND);
            }
            Some(c) => {
                self.push(
                    out,
                    at,
                    "customer.lookup",
                    p.actor,
                    Some(customer(p.client, c)),
                    "success",
                    p.ip,
                    D_ON_CALL,
                );
                if let Some(s) = second {
                    self.push(
                        out,
                        at,
                        "customer.lookup",
                        p.actor,
                        Some(customer(p.client, s)),
                        "success",
                        p.ip,
                        D_ON_CALL,
                    );
                }
            }
        }
    }

    fn caller(&self, rng: &mut Rng) -> Caller {
        let found = !rng.chance(0.07);
        let customer = found.then(|| rng.below(CUSTOMERS_PER_CLIENT));
        let second = (found && rng.chance(0.02)).then(|| rng.below(CUSTOMERS_PER_CLIENT));
        let other = (found && rng.chance(self.spec.shared_numbers)).then(|| rng.below(CUSTOMERS_PER_CLIENT));
        Caller { customer, second, other }
    }

    /// One call from `at`: the telephony's start and end, the caller looked up on the call
    /// (again, now and then), a note after it on some. Returns the customer, if one was found.
    fn call(&self, rng: &mut Rng, p: &Person, at: f64, length: f64, out: &mut Vec<Entry>) -> Option<u64> {
        let call = Some(format!("call:{}", rng.uuid()));
        self.push(out, at, "cti.call_start", self.cti, call, "success", 1, p.call_start_details);
        let caller = self.caller(rng);
        let first = at + rng.between(3.0, 40.0) * SECOND;
        self.phone_lookup(p, first, caller.clone(), out);
        if rng.chance(0.25) {
            let again = at + rng.between(60.0 * SECOND, (length - 20.0 * SECOND).max(61.0 * SECOND));
            self.phone_lookup(p, again, caller.clone(), out);
        }
        self.push(out, at + length, "cti.call_end", self.cti, Some("call".into()), "success", 1, D_CALL_END);
        if let Some(c) = caller.customer
            && rng.chance(0.45)
        {
            let obj = Some(customer(p.client, c));
            let t = at + length + rng.between(5.0, 50.0) * SECOND;
            self.push(out, t, "customer.note_add", p.actor, obj, "success", p.ip, D_NOTE);
        }
        caller.customer
    }

    /// One shift of an operator (or supervisor): sign-ins, calls between breaks, callbacks,
    /// an odd refused page; a supervisor takes escalated calls and does a few admin actions.
    #[allow(clippy::too_many_arguments)]
    fn shift(
        &self,
        rng: &mut Rng,
        p: &Person,
        midnight: f64,
        start: f64,
        end: f64,
        supervisor: bool,
        out: &mut Vec<Entry>,
    ) {
        let (start, end) = (midnight + start, midnight + end);
        let breaks = breaks(rng, start);
        // The agent reports the headset; half the PCs are shut down after the shift, and the
        // server marks them silent three minutes after their last heartbeat.
        let pc = Some(p.device.clone());
        let t = start - rng.between(0.5, 5.0) * MINUTE;
        self.push(out, t, "device.signal", p.device_actor, pc.clone(), "success", 0, p.headset_details);
        if rng.chance(self.spec.shut_down) {
            let t = end + rng.between(4.0, 15.0) * MINUTE;
            self.push(out, t, "device.signal", SYSTEM, pc, "success", 0, p.silent_details);
        }
        let first = start - rng.between(1.0, 6.0) * MINUTE;
        self.sign_in(rng, p, first, (start, end), out);
        let back = breaks[1].1 + rng.between(0.0, 2.0) * MINUTE;
        self.sign_in(rng, p, back, (start, end), out);
        // A page the person's roles do not open, now and then.
        let refused = if rng.chance(0.03) {
            2
        } else if rng.chance(0.12) {
            1
        } else {
            0
        };
        for _ in 0..refused {
            let route = Some("route:GET /api/v1/users".to_owned());
            let t = start + rng.unit() * (end - start);
            self.push(out, t, "route.denied", p.actor, route, "denied", p.ip, D_PERMISSION);
        }
        let mut handled: Vec<u64> = Vec::new();
        let mut callbacks: Vec<f64> = {
            let n = if supervisor { rng.below(4) } else { rng.below(5) };
            let mut v: Vec<f64> =
                (0..n).map(|_| start + 30.0 * MINUTE + rng.unit() * (end - start - 45.0 * MINUTE)).collect();
            v.sort_by(f64::total_cmp);
            v.reverse();
            v
        };
        if supervisor {
            let escalations = 2 + rng.below(5);
            let mut times: Vec<f64> = (0..escalations).map(|_| start + rng.unit() * (end - start)).collect();
            times.sort_by(f64::total_cmp);
            for t in times {
                let length = rng.between(4.0, 10.0) * MINUTE;
                if let Some(c) = self.call(rng, p, t, length, out) {
                    handled.push(c);
                }
            }
            const ADMIN: [&str; 5] =
                ["user.clients", "user.update", "user.roles", "audit.search", "approval.approve"];
            for _ in 0..rng.below(6) {
                let action = ADMIN[rng.below(ADMIN.len() as u64) as usize];
                let target = &self.operators[rng.below(self.operators.len() as u64) as usize];
                let obj = Some(self.actors[target.actor as usize].0.clone());
                let t = start + rng.unit() * (end - start);
                self.push(out, t, action, p.actor, obj, "success", p.ip, D_ADMIN);
            }
            for t in callbacks.drain(..) {
                self.callback(rng, p, t, &handled, out);
            }
            return;
        }
        // Calls: a cycle of 60/rate minutes — the call, then after-call work and waiting.
        let cycle = 60.0 / p.rate * MINUTE;
        let mean_length = (4.5 * MINUTE).min(0.75 * cycle);
        let mut t = start + rng.between(0.0, 3.0) * MINUTE;
        while t < end - 2.0 * MINUTE {
            if let Some(&(_, until)) = breaks.iter().find(|(from, until)| t >= *from && t < *until) {
                t = until + rng.between(0.5, 3.0) * MINUTE;
                continue;
            }
            if callbacks.last().is_some_and(|&c| c <= t) {
                callbacks.pop();
                t += self.callback(rng, p, t, &handled, out) + rng.between(0.5, 1.5) * MINUTE;
                continue;
            }
            let length = mean_length * rng.between(0.67, 1.33);
            if let Some(c) = self.call(rng, p, t, length, out) {
                handled.push(c);
            }
            t += length + rng.exp(cycle - mean_length);
        }
    }

    /// A callback (no call of the customer's is active: purpose `reason`), usually to a customer
    /// the person talked to earlier that day; a note after most. Returns its length.
    fn callback(&self, rng: &mut Rng, p: &Person, at: f64, handled: &[u64], out: &mut Vec<Entry>) -> f64 {
        let c = if !handled.is_empty() && rng.chance(0.85) {
            handled[rng.below(handled.len() as u64) as usize]
        } else {
            rng.below(CUSTOMERS_PER_CLIENT)
        };
        let obj = Some(customer(p.client, c));
        self.push(out, at, "customer.lookup", p.actor, obj.clone(), "success", p.ip, D_REASON);
        let length = rng.between(2.0, 5.0) * MINUTE;
        if rng.chance(0.7) {
            self.push(
                out,
                at + length + 20.0 * SECOND,
                "customer.note_add",
                p.actor,
                obj,
                "success",
                p.ip,
                D_NOTE,
            );
        }
        length
    }

    /// Consecutive days from the first until at least `n` entries, cut at `n`.
    pub(crate) fn entries(&self, n: usize) -> Vec<Entry> {
        let mut out = Vec::with_capacity(n + n / 4);
        let mut day = 0;
        while out.len() < n {
            self.day(day, &mut out);
            day += 1;
        }
        out.truncate(n);
        out
    }
}

#[derive(Debug, Clone)]
struct Caller {
    customer: Option<u64>,
    /// A second customer of the same client with this number.
    second: Option<u64>,
    /// Another client's customer with this number.
    other: Option<u64>,
}

// ---------------------------------------------------------------------------------------------
// Alerts as the runner makes them from findings.

/// One alert: the first finding of a rule and subject, and the further firings within the
/// rule's window of the last (as `DetectionRunner::record` deduplicates).
#[derive(Debug, Clone)]
pub(crate) struct SimAlert {
    pub rule: RuleId,
    pub subject: String,
    pub severity: Severity,
    pub first_at: i64,
    pub last_at: i64,
    pub hits: u64,
    pub value: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Alerts {
    pub findings: BTreeMap<RuleId, u64>,
    pub alerts: Vec<SimAlert>,
    latest: HashMap<(RuleId, String), usize>,
}

impl Alerts {
    pub(crate) fn add(&mut self, rules: &RuleSet, f: &Finding) {
        *self.findings.entry(f.rule).or_default() += 1;
        let window = rules.get(f.rule).window_ms();
        let key = (f.rule, f.subject.clone());
        if let Some(&i) = self.latest.get(&key) {
            let a = &mut self.alerts[i];
            if f.time.0 - a.last_at < window {
                a.last_at = f.time.0;
                a.hits += 1;
                a.value = a.value.max(f.value);
                return;
            }
        }
        self.latest.insert(key, self.alerts.len());
        self.alerts.push(SimAlert {
            rule: f.rule,
            subject: f.subject.clone(),
            severity: f.severity,
            first_at: f.time.0,
            last_at: f.time.0,
            hits: 1,
            value: f.value,
        });
    }

    pub(crate) fn high(&self) -> Vec<&SimAlert> {
        self.alerts.iter().filter(|a| a.severity == Severity::High).collect()
    }
}

/// Feeds `days` simulated days of the floor to a fresh detector with the default rules; the
/// alerts, and the entries.
pub(crate) fn run_days(floor: &Floor, days: u64) -> (Alerts, Vec<Entry>) {
    run_days_with(floor, days, RuleSet::defaults())
}

/// [`run_days`] with other rules.
pub(crate) fn run_days_with(floor: &Floor, days: u64, rules: RuleSet) -> (Alerts, Vec<Entry>) {
    let mut detector = Detector::new(rules.clone());
    let mut alerts = Alerts::default();
    let mut entries = Vec::new();
    for day in 0..days {
        floor.day(day, &mut entries);
    }
    for (i, e) in entries.iter().enumerate() {
        for f in detector.observe(&floor.observed(i as u64, e)) {
            alerts.add(&rules, &f);
        }
    }
    (alerts, entries)
}

fn jst(ms: i64) -> String {
    let t = (ms + 9 * 3_600_000).rem_euclid(DAY_MS) / 60_000;
    format!("{:02}:{:02}", t / 60, t % 60)
}

// ---------------------------------------------------------------------------------------------
// detect-day

pub(crate) fn day(seats: usize, seed: u64, days: u64, shared_numbers: f64) -> anyhow::Result<()> {
    let spec = FloorSpec { shared_numbers, ..FloorSpec::new(seats, seed) };
    let floor = Floor::new(spec);
    let (alerts, entries) = run_days(&floor, days);
    let count = |f: &dyn Fn(&Entry) -> bool| entries.iter().filter(|e| f(e)).count();
    let calls = count(&|e| e.action == "cti.call_start");
    println!(
        "detect-day: {seats} seats (+{} supervisors), seed {seed}, {days} day(s), shared numbers {:.1} %: {} entries; \
         {calls} calls ({:.1} an operator-hour on the phones), {} lookups ({} off-call), {} notes, {} sign-in \
         failures, {} refused",
        floor.supervisors.len(),
        shared_numbers * 100.0,
        entries.len(),
        // 9-hour shifts less 80–90 minutes of breaks.
        calls as f64 / (seats + floor.supervisors.len()) as f64 / days as f64 / 7.6,
        count(&|e| e.action == "customer.lookup" && e.outcome == "success"),
        count(&|e| e.details == D_REASON),
        count(&|e| e.action == "customer.note_add"),
        count(&|e| e.action == "signin.password" && e.outcome == "failure"),
        count(&|e| e.outcome == "denied"),
    );
    println!("| rule | severity | findings | alerts | subjects |");
    println!("|---|---|---:|---:|---:|");
    for rule in RuleId::ALL {
        let of_rule: Vec<&SimAlert> = alerts.alerts.iter().filter(|a| a.rule == rule).collect();
        let subjects: std::collections::HashSet<&str> = of_rule.iter().map(|a| a.subject.as_str()).collect();
        println!(
            "| {} | {} | {} | {} | {} |",
            rule.as_str(),
            rule.defaults().severity.as_str(),
            alerts.findings.get(&rule).copied().unwrap_or(0),
            of_rule.len(),
            subjects.len()
        );
    }
    // The change window ships off (each organisation's own); what it would raise here if turned
    // on as shipped (Monday to Friday, 09:00–18:00 JST), the late supervisors working to 22:00.
    let mut with_window = RuleSet::defaults();
    if let Some(s) = with_window.0.get_mut(&RuleId::AdminOffWindow) {
        s.enabled = true;
    }
    let (windowed, _) = run_days_with(&floor, days, with_window);
    let off_window: Vec<&SimAlert> =
        windowed.alerts.iter().filter(|a| a.rule == RuleId::AdminOffWindow).collect();
    println!(
        "admin_off_window turned on (Mon–Fri 09:00–18:00 JST): {} findings, {} alerts",
        windowed.findings.get(&RuleId::AdminOffWindow).copied().unwrap_or(0),
        off_window.len()
    );
    let high = alerts.high();
    println!("high-severity alerts: {}", high.len());
    for a in high {
        println!(
            "  {} {} first {} last {} JST, {} firing(s), value up to {}",
            a.rule.as_str(),
            a.subject,
            jst(a.first_at),
            jst(a.last_at),
            a.hits,
            a.value
        );
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// detect-replay

fn mix_line(entries: &[Entry]) -> String {
    let mut counts: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for e in entries {
        *counts.entry((e.action, e.outcome)).or_default() += 1;
    }
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    v.iter()
        .map(|((a, o), n)| format!("{a} {o} {:.1} %", *n as f64 * 100.0 / entries.len() as f64))
        .collect::<Vec<_>>()
        .join(", ")
}

pub(crate) async fn replay(
    entries_n: usize,
    seats: usize,
    backend: Option<crate::Backend>,
    postgres: &str,
    db_entries: Option<usize>,
) -> anyhow::Result<()> {
    let spec = FloorSpec { shared_numbers: 0.02, ..FloorSpec::new(seats, 1) };
    let floor = Floor::new(spec);
    let t = Instant::now();
    let entries = floor.entries(entries_n);
    let days = (entries.last().map_or(0, |e| e.time) - floor.spec.day0) / DAY_MS + 1;
    eprintln!(
        "generated {} entries ({seats} seats, {days} day(s)) in {:.1} s; mix: {}",
        entries.len(),
        t.elapsed().as_secs_f64(),
        mix_line(&entries)
    );
    // (a) The pure detector, one core.
    let rules = RuleSet::defaults();
    let mut best = f64::MAX;
    let mut findings = 0;
    let mut alerts = Alerts::default();
    for round in 0..3 {
        let mut detector = Detector::new(rules.clone());
        let t = Instant::now();
        let mut found = 0usize;
        for (i, e) in entries.iter().enumerate() {
            let f = detector.observe(&floor.observed(i as u64, e));
            found += f.len();
            if round == 0 {
                for f in &f {
                    alerts.add(&rules, f);
                }
            }
            std::hint::black_box(f);
        }
        best = best.min(t.elapsed().as_secs_f64());
        findings = found;
    }
    println!(
        "detect-replay (a) pure detector, one core: {} entries in {best:.3} s = {:.0} entries/s ({:.2} µs each; \
         best of 3); {findings} findings, {} alerts after dedup",
        entries.len(),
        entries.len() as f64 / best,
        best * 1e6 / entries.len() as f64,
        alerts.alerts.len()
    );
    let Some(backend) = backend else { return Ok(()) };
    runner_replay(
        &floor,
        &entries[..db_entries.unwrap_or(entries.len()).min(entries.len())],
        backend,
        postgres,
    )
    .await
}

/// (b): the entries written to a scratch database, then read by a fresh detection runner.
async fn runner_replay(
    floor: &Floor,
    entries: &[Entry],
    backend: crate::Backend,
    postgres: &str,
) -> anyhow::Result<()> {
    let scratch = crate::open(backend, postgres).await?;
    let core = scratch.core.clone();
    let t = Instant::now();
    for chunk in entries.chunks(10_000) {
        let mut tx = core.store().begin().await?;
        for e in chunk {
            tx.append_audit(UnixMillis(e.time), &floor.event(e)?).await?;
        }
        tx.commit().await?;
    }
    let size = core.store().read().await?.audit_log_size().await?;
    eprintln!("wrote {size} entries in {:.1} s", t.elapsed().as_secs_f64());
    let name = if backend == crate::Backend::Sqlite { "sqlite" } else { "postgres" };

    let mut runner = core.detection_runner("bench");
    let t = Instant::now();
    let (mut steps, mut read, mut raised, mut repeated) = (0usize, 0usize, 0usize, 0usize);
    let mut slowest = 0f64;
    loop {
        let s = Instant::now();
        let r = runner.step().await?;
        if r.entries == 0 {
            break;
        }
        slowest = slowest.max(s.elapsed().as_secs_f64());
        steps += 1;
        read += r.entries;
        raised += r.raised;
        repeated += r.repeated;
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "detect-replay (b) runner backend={name}: {read} entries in {secs:.2} s = {:.0} entries/s; {steps} steps \
         (slowest {:.0} ms), {raised} alerts raised, {repeated} further firings",
        read as f64 / secs,
        slowest * 1000.0
    );

    // Where the time goes: the same reads alone, and the detector alone over what was read.
    let t = Instant::now();
    let mut all = Vec::with_capacity(read);
    let mut next = 0u64;
    loop {
        let batch = core.audit.audit_entries_from(next, 1000).await?;
        if batch.is_empty() {
            break;
        }
        next += batch.len() as u64;
        all.extend(batch);
    }
    let read_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let mut detector = Detector::new(RuleSet::defaults());
    for e in &all {
        std::hint::black_box(detector.observe(&mamori_core::detection::runner::observed(e)));
    }
    let detect_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    for _ in 0..steps.min(200) {
        let mut tx = core.store().begin().await?;
        tx.claim_audit_cursor("feed:bench-probe", "probe", core.now(), core.now()).await?;
        tx.commit().await?;
    }
    let commit_ms = t.elapsed().as_secs_f64() * 1000.0 / steps.clamp(1, 200) as f64;
    // The hourly counts as the runner writes them: those that changed in each batch of 1,000.
    let t = Instant::now();
    let mut detector = Detector::new(RuleSet::defaults());
    let mut rows = 0;
    for batch in all.chunks(1000) {
        for e in batch {
            std::hint::black_box(detector.observe(&mamori_core::detection::runner::observed(e)));
        }
        let stats = detector.take_hour_stats();
        rows += stats.len();
        let mut tx = core.store().begin().await?;
        tx.put_detector_hours(&stats).await?;
        tx.commit().await?;
    }
    let hours_s = t.elapsed().as_secs_f64() - detect_s;
    println!(
        "  of which, measured apart: reading the entries {read_s:.2} s ({:.0} %), the detector over them {detect_s:.2} s \
         ({:.0} %), one small write transaction {commit_ms:.2} ms (× 2 a step ≈ {:.2} s, {:.0} %)",
        read_s * 100.0 / secs,
        detect_s * 100.0 / secs,
        commit_ms * 2.0 * steps as f64 / 1000.0,
        commit_ms * 2.0 * steps as f64 / 10.0 / secs
    );
    println!(
        "  writing the hourly counts that changed in each batch ({rows} rows, {:.0} a batch): {hours_s:.2} s ({:.0} %)",
        rows as f64 / steps.max(1) as f64,
        hours_s * 100.0 / secs
    );
    drop(runner);
    crate::close(scratch).await
}

// ---------------------------------------------------------------------------------------------
// detect-latency

/// What `detect-latency` runs.
#[derive(Debug, Clone)]
pub(crate) struct LatencyOptions {
    pub backend: crate::Backend,
    pub postgres: String,
    /// Bursts timed (one operator each).
    pub samples: usize,
    /// Background on-call lookups a second.
    pub rate: f64,
    /// Operators the background is spread over.
    pub operators: usize,
    /// A data directory to serve (e.g. one `fleet-setup` wrote); a scratch one otherwise.
    pub data_dir: Option<std::path::PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<std::net::SocketAddr>,
    pub tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    /// Seconds of background before the first burst.
    pub warmup: u64,
    /// Seconds between bursts.
    pub gap: f64,
    /// After the bursts, keep serving (with the background) until this file exists — so a
    /// fleet run against the same server ends first.
    pub hold_until: Option<std::path::PathBuf>,
}

/// The operators' customers: a pool the background's callers come from, and the 60 a burst
/// looks up.
const BACKGROUND_CUSTOMERS: usize = 3000;
const BURST: usize = 60;

/// The numbers of a run's customers: `run` keeps them apart from an earlier run's in the same
/// data directory (another client's customer with the caller's number would be refused, and
/// recorded, at every lookup).
fn background_phone(run: u64, i: usize) -> String {
    format!("090{run:04}{:04}", i % BACKGROUND_CUSTOMERS)
}

fn burst_phone(run: u64, i: usize) -> String {
    format!("080{run:04}{i:04}")
}

/// A simulated agent: its device id and key, signing every request as the real agent does.
struct BenchAgent {
    id: String,
    key: mamori_crypto::device_auth::DeviceKey,
}

struct Http {
    client: reqwest::Client,
    base: String,
}

impl Http {
    async fn agent_post(
        &self,
        agent: &BenchAgent,
        path: &str,
        body: &serde_json::Value,
    ) -> anyhow::Result<serde_json::Value> {
        use mamori_domain::Clock;
        let bytes = serde_json::to_vec(body)?;
        let now = mamori_domain::SystemClock.now().0;
        let auth = agent.key.authorize(&agent.id, "POST", path, &bytes, now)?;
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .header("authorization", auth)
            .header("content-type", "application/json")
            .body(bytes)
            .send()
            .await?;
        anyhow::ensure!(r.status().is_success(), "{path}: {}", r.status());
        Ok(r.json().await?)
    }
}

/// A person made straight in the store; their id.
async fn bench_user(
    tx: &mut Box<dyn mamori_store::StoreTx>,
    core: &mamori_core::Core,
    name: &str,
    role: mamori_domain::Role,
    client: &str,
) -> anyhow::Result<mamori_store::UserRecord> {
    let user = mamori_store::UserRecord::new(
        uuid::Uuid::new_v4().to_string(),
        name.into(),
        name.into(),
        vec![role],
        mamori_domain::identity::UserStatus::Active,
        core.now(),
    );
    tx.insert_user(&user).await?;
    if !client.is_empty() {
        tx.set_user_clients(&user.id, &[client.to_owned()]).await?;
    }
    Ok(user)
}

pub(crate) async fn latency(o: LatencyOptions) -> anyhow::Result<()> {
    use mamori_core::Principal;
    use mamori_core::vault::{NewCustomer, Purpose};
    use mamori_domain::{Role, SystemClock};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::time::Duration;

    // The server.
    let scratch = tempfile::tempdir()?;
    let mut drop_db = None;
    let mut config = mamori_server::config::ServerConfig::defaults(
        o.data_dir.clone().unwrap_or_else(|| scratch.path().join("data")),
    );
    config.database_url = o.database_url.clone();
    if o.data_dir.is_none() && o.backend == crate::Backend::Postgres {
        let (url, name) = crate::scratch_postgres(&o.postgres).await?;
        config.database_url = Some(url);
        drop_db = Some(name);
    }
    config.listen = o.listen.unwrap_or("127.0.0.1:0".parse()?);
    config.tls = o.tls.clone();
    // Fifty PCs enrol from one address in a second (the throttle of credential guesses).
    config.signin_burst = 10_000;
    let running = mamori_server::serve::start(config, Arc::new(SystemClock), false).await?;
    let scheme = if o.tls.is_some() { "https" } else { "http" };
    let base = format!("{scheme}://{}", running.addr());
    eprintln!("detect-latency: serving {base} ({})", running.started.backend);
    let core = running.state.core.clone();
    let ctx = mamori_audit::RequestContext::default();
    let mut client =
        reqwest::Client::builder().pool_max_idle_per_host(usize::MAX).timeout(Duration::from_secs(60));
    if let Some((cert, _)) = &o.tls {
        client = client
            .add_root_certificate(reqwest::Certificate::from_pem(&std::fs::read(cert)?)?)
            .tls_built_in_root_certs(false);
    }
    let http = Arc::new(Http { client: client.build()?, base });

    // People, a client company, its customers.
    let tag = &uuid::Uuid::new_v4().simple().to_string()[..6];
    let run = u64::from_str_radix(tag, 16)? % 10_000;
    let mut tx = core.store().begin().await?;
    let admin = bench_user(&mut tx, &core, &format!("det-admin-{tag}"), Role::SecurityAdmin, "").await?;
    tx.commit().await?;
    let admin = Principal::direct(&admin, Vec::new());
    let client_id = core
        .identity
        .create_org_unit(&admin, mamori_store::OrgKind::Client, &format!("Detect Bench {tag}"), None, &ctx)
        .await?
        .id;
    let phones: Vec<String> = (0..BACKGROUND_CUSTOMERS)
        .map(|i| background_phone(run, i))
        .chain((0..BURST).map(|i| burst_phone(run, i)))
        .collect();
    for chunk in phones.chunks(1000) {
        let batch: Vec<NewCustomer> = chunk
            .iter()
            .enumerate()
            .map(|(i, phone)| NewCustomer {
                client_id: client_id.clone(),
                fields: [
                    ("name_kanji", format!("試験 花子{i}")),
                    ("name_kana", format!("シケン ハナコ{i}")),
                    ("phones", phone.clone()),
                    ("email", format!("detect{phone}@example.jp")),
                    ("postal_address", "東京都千代田区丸の内1-1-1".to_owned()),
                    ("birth_date", "1985-04-01".to_owned()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            })
            .collect();
        core.vault
            .create_customers(&admin, &batch, &ctx)
            .await
            .map_err(|e| anyhow::anyhow!("{:?}", e.first().map(|(_, e)| e.to_string())))?;
    }
    let mut tx = core.store().begin().await?;
    let mut background = Vec::with_capacity(o.operators);
    for i in 0..o.operators {
        let u =
            bench_user(&mut tx, &core, &format!("det-bg-{tag}-{i:04}"), Role::Operator, &client_id).await?;
        background.push(u);
    }
    let mut burst_ops = Vec::with_capacity(o.samples);
    for i in 0..o.samples {
        let u =
            bench_user(&mut tx, &core, &format!("det-op-{tag}-{i:03}"), Role::Operator, &client_id).await?;
        burst_ops.push(u);
    }
    tx.commit().await?;

    // Each burst operator's PC, enrolled through the API, holding a command long poll open.
    let received: Arc<std::sync::Mutex<HashMap<String, Instant>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut agents = Vec::with_capacity(o.samples);
    for (i, op) in burst_ops.iter().enumerate() {
        let new = mamori_core::devices::NewEnrolment {
            valid_hours: 2,
            user_id: Some(op.id.clone()),
            ..Default::default()
        };
        let (_, token) = core.devices.create_enrolment(&admin, &new, &ctx).await?;
        let key = mamori_crypto::device_auth::DeviceKey::generate()?;
        let r: serde_json::Value = http
            .client
            .post(format!("{}/api/v1/agent/enroll", http.base))
            .json(&serde_json::json!({"token": token, "public_key": key.public_key(), "hostname": format!("DET-PC-{i:03}")}))
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let id = r["device_id"].as_str().context("device_id")?.to_owned();
        agents.push(Arc::new(BenchAgent { id, key }));
    }
    let mut tasks = Vec::new();
    for agent in &agents {
        let (http, agent, received, stop) = (http.clone(), agent.clone(), received.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let polled = http
                    .agent_post(&agent, "/api/v1/agent/commands/poll", &serde_json::json!({"wait_secs": 25}))
                    .await;
                let arrived = Instant::now();
                match polled {
                    Ok(v) => {
                        for c in v["commands"].as_array().into_iter().flatten() {
                            if c["kind"] == "lock"
                                && let Ok(mut r) = received.lock()
                            {
                                r.entry(agent.id.clone()).or_insert(arrived);
                            }
                            let path = format!(
                                "/api/v1/agent/commands/{}/result",
                                c["id"].as_str().unwrap_or_default()
                            );
                            let _ = http
                                .agent_post(
                                    &agent,
                                    &path,
                                    &serde_json::json!({"ok": true, "detail": "locked"}),
                                )
                                .await;
                        }
                    }
                    Err(e) => {
                        eprintln!("agent poll: {e}");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }));
    }

    // The background: each operator on a call, looking its caller up; a new call (a new
    // caller) every 90–150 s, so no operator sees 60 customers in an hour.
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let period = Duration::from_secs_f64(o.operators as f64 / o.rate);
    for (k, user) in background.iter().enumerate() {
        let (core, done, failed, stop) = (core.clone(), done.clone(), failed.clone(), stop.clone());
        let p = Principal::direct(user, vec![client_id.clone()]);
        let username = user.username.clone();
        tasks.push(tokio::spawn(async move {
            let ctx = mamori_audit::RequestContext::default();
            let mut rng = Rng::new(k as u64);
            tokio::time::sleep(period.mul_f64(rng.unit())).await;
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut call: Option<(String, Instant)> = None;
            let mut n = 0usize;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                if call.as_ref().is_none_or(|(_, until)| Instant::now() >= *until) {
                    if let Some((ext, _)) = call.take() {
                        let _ = core.vault.call_ended(Actor::System, &ext, &ctx).await;
                    }
                    n += 1;
                    let ext = format!("bg-{run}-{k}-{n}");
                    let caller = background_phone(run, k * 7 + n * 13);
                    if core.vault.call_started(Actor::System, &ext, &username, &caller, &ctx).await.is_err() {
                        failed.fetch_add(1, Ordering::Relaxed);
                        continue;
                    }
                    call = Some((ext, Instant::now() + Duration::from_secs_f64(rng.between(90.0, 150.0))));
                }
                let Some((ext, _)) = &call else { continue };
                match core.vault.find_caller(&p, ext, &ctx).await {
                    Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    eprintln!(
        "detect-latency: {} background operators at {:.0} lookups/s, {} enrolled PCs; warming up {} s",
        o.operators, o.rate, o.samples, o.warmup
    );
    // Every 10 s: the background's rate and how far the detection task is behind the log.
    tasks.push({
        let (core, done, failed) = (core.clone(), done.clone(), failed.clone());
        tokio::spawn(async move {
            let mut last = (0, 0);
            loop {
                tokio::time::sleep(Duration::from_secs(10)).await;
                let now = (done.load(Ordering::Relaxed), failed.load(Ordering::Relaxed));
                let lag = async {
                    let mut read = core.store().read().await?;
                    let size = read.audit_log_size().await?;
                    let at = read.audit_cursors().await?.into_iter().find(|c| c.0 == "feed:detection");
                    Ok::<_, anyhow::Error>(size.saturating_sub(at.map_or(0, |c| c.1)))
                };
                let lag = match lag.await {
                    Ok(n) => n.to_string(),
                    Err(e) => e.to_string(),
                };
                eprintln!(
                    "  background {:.0} lookups/s, {} failed; detection {lag} entries behind",
                    (now.0 - last.0) as f64 / 10.0,
                    now.1 - last.1
                );
                last = now;
            }
        })
    });
    tokio::time::sleep(Duration::from_secs(o.warmup)).await;

    // The bursts.
    let reason = Purpose::Reason { code: "callback".into(), text: "折り返しのお約束".into() };
    let (mut to_alert, mut to_lock) = (Vec::new(), Vec::new());
    let (started_n, started_at) = (done.load(Ordering::Relaxed), Instant::now());
    let mut burst_s = Vec::new();
    for (i, op) in burst_ops.iter().enumerate() {
        let p = Principal::direct(op, vec![client_id.clone()]);
        let mut changes = core.detection.watch_alerts();
        changes.mark_unchanged();
        let watcher = {
            let (core, admin, who) = (core.clone(), admin.clone(), op.id.clone());
            tokio::spawn(async move {
                let ctx = mamori_audit::RequestContext::default();
                loop {
                    let _ = tokio::time::timeout(Duration::from_millis(100), changes.changed()).await;
                    let seen = Instant::now();
                    let alerts = match core.detection.alerts(&admin, 1, &["open"], &ctx).await {
                        Ok(a) => a,
                        Err(e) => {
                            eprintln!("  reading the alerts failed ({e}); again");
                            continue;
                        }
                    };
                    if alerts.iter().any(|a| {
                        a.record.rule == "lookup_volume"
                            && a.record.subject_user_id.as_deref() == Some(who.as_str())
                    }) {
                        return Ok::<_, anyhow::Error>(seen);
                    }
                }
            })
        };
        let t = Instant::now();
        for j in 0..BURST {
            let mut tries = 0;
            while let Err(e) =
                core.vault.find_customers_by_phone(&p, &burst_phone(run, j), &reason, &ctx).await
            {
                tries += 1;
                eprintln!("  burst {i}: lookup {j} failed ({e}); again");
                anyhow::ensure!(tries < 5, "burst {i}: lookup {j} failed five times");
            }
        }
        // The 60th customer's lookup is committed (its entry is written before it answers).
        let fired = Instant::now();
        burst_s.push(fired.duration_since(t).as_secs_f64());
        let seen = tokio::time::timeout(Duration::from_secs(30), watcher)
            .await
            .context("no alert within 30 s")???;
        to_alert.push(seen.saturating_duration_since(fired).as_secs_f64() * 1000.0);
        let device = &agents[i].id;
        let deadline = Instant::now() + Duration::from_secs(30);
        let locked = loop {
            if let Some(t) = received.lock().ok().and_then(|r| r.get(device).copied()) {
                break t;
            }
            anyhow::ensure!(Instant::now() < deadline, "no lock reached PC {device} within 30 s");
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        to_lock.push(locked.saturating_duration_since(fired).as_secs_f64() * 1000.0);
        eprintln!(
            "  burst {i}: alert {:.0} ms, lock {:.0} ms",
            to_alert.last().copied().unwrap_or(f64::NAN),
            to_lock.last().copied().unwrap_or(f64::NAN)
        );
        tokio::time::sleep(Duration::from_secs_f64(o.gap)).await;
    }
    let lookups = done.load(Ordering::Relaxed) - started_n;
    let sampled = started_at.elapsed().as_secs_f64();

    // What the background raised (it must raise nothing about its operators), and the lag.
    let alerts = core.detection.alerts(&admin, 1, &[], &ctx).await?;
    let background_ids: std::collections::HashSet<&str> = background.iter().map(|u| u.id.as_str()).collect();
    let false_alerts = alerts
        .iter()
        .filter(|a| a.record.subject_user_id.as_deref().is_some_and(|u| background_ids.contains(u)))
        .count();
    let mut read = core.store().read().await?;
    let size = read.audit_log_size().await?;
    let cursor = read.audit_cursors().await?.into_iter().find(|c| c.0 == "feed:detection").map_or(0, |c| c.1);
    drop(read);
    to_alert.sort_by(f64::total_cmp);
    to_lock.sort_by(f64::total_cmp);
    burst_s.sort_by(f64::total_cmp);
    let pct = crate::console::percentile;
    println!(
        "detect-latency backend={} samples={}: background {:.0} lookups/s achieved ({} failed), bursts of 60 took \
         p50 {:.0} ms; 60th lookup → alert visible p50 {:.0} ms, p99 {:.0} ms, max {:.0} ms; → lock at the agent p50 \
         {:.0} ms, p99 {:.0} ms, max {:.0} ms; alerts about background operators: {false_alerts}; detection cursor \
         {} entries behind at the end",
        running.started.backend,
        to_alert.len(),
        lookups as f64 / sampled,
        failed.load(Ordering::Relaxed),
        pct(&burst_s, 50.0) * 1000.0,
        pct(&to_alert, 50.0),
        pct(&to_alert, 99.0),
        to_alert.last().copied().unwrap_or(f64::NAN),
        pct(&to_lock, 50.0),
        pct(&to_lock, 99.0),
        to_lock.last().copied().unwrap_or(f64::NAN),
        size.saturating_sub(cursor),
    );
    if let Some(file) = &o.hold_until {
        use std::io::Write;
        std::io::stdout().flush()?;
        let deadline = Instant::now() + Duration::from_secs(1800);
        while !file.exists() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        t.abort();
    }
    running.shutdown().await;
    if let Some(name) = drop_db {
        crate::drop_postgres(&o.postgres, &name).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A normal day of a 40-seat floor raises no alert of high severity (three seeds).
    #[test]
    fn a_normal_day_raises_no_high_alert() {
        for seed in 1..=3 {
            let floor = Floor::new(FloorSpec::new(40, seed));
            let (alerts, entries) = run_days(&floor, 1);
            assert!(entries.len() > 5_000, "{} entries", entries.len());
            let high = alerts.high();
            assert!(high.is_empty(), "seed {seed}: {high:#?}");
        }
    }

    #[test]
    fn the_floor_is_deterministic_and_in_order() {
        let floor = Floor::new(FloorSpec::new(20, 7));
        let (mut a, mut b) = (Vec::new(), Vec::new());
        floor.day(0, &mut a);
        floor.day(0, &mut b);
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x.time == y.time && x.object == y.object));
        assert!(a.windows(2).all(|w| w[0].time <= w[1].time));
        // Every action is in the catalogue.
        assert!(a.iter().all(|e| floor.event(e).is_ok()));
    }
}
