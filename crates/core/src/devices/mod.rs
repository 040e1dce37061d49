//! The device ledger's services (issue 5; TW-2, TW-3, LEAK-5): enrolment tokens, enrolment of an
//! agent with its public key, authentication of each signed agent request (with replay
//! refusal), inventory reports kept as a history of changes, and revocation — effective at the
//! next request; remote commands, agents' events, posture against each site's policy, and the
//! floor view. Beside it: `activity.rs` (shifts, keystroke limits, activity buckets).

use crate::base::authorize::Attempt;
use crate::signals::{DEVICE_SIGNAL_KINDS, Signal, SignalFilter};
use crate::{CoreError, Principal, check_id, new_id};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_crypto::device_auth::{DeviceAuthError, DeviceClaim, MAX_SKEW_MS, parse_public_key};
use mamori_domain::authz::Resource;
use mamori_domain::posture::PosturePolicy;
use mamori_domain::{Permission, UnixMillis};
use mamori_proto::ErrorCode;
use mamori_proto::agent::{EnrolRequest, Inventory};
use mamori_store::{EnrolmentRecord, OrgKind};
use sha2::Digest;
use std::collections::HashMap;
use std::time::Duration;

/// Records handed out as stored: plain data (a device's public key is public).
pub use mamori_store::{ActivityRecord, CommandRecord, DeviceEventRecord, DeviceRecord, InventoryRecord};

pub mod activity;
pub(crate) mod legacy_settings;

/// The device service.
#[derive(Debug)]
pub struct Devices {
    base: std::sync::Arc<crate::base::Base>,
    command_waiters: CommandWaiters,
    device_contacts: ContactBuffer,
    /// Counts what changed the floor in this process (an event, an inventory, a command's
    /// result, a PC coming back): the floor's live view waits on it.
    floor_version: tokio::sync::watch::Sender<u64>,
}

impl Devices {
    pub(crate) fn new(base: std::sync::Arc<crate::base::Base>) -> Self {
        Devices {
            base,
            command_waiters: Default::default(),
            device_contacts: Default::default(),
            floor_version: tokio::sync::watch::channel(0).0,
        }
    }

    /// Wakes when something on the floor changed in this process. Changes made through another
    /// replica, and PCs going quiet, are not seen here: a live view also refreshes on a timer.
    pub fn watch_floor(&self) -> tokio::sync::watch::Receiver<u64> {
        self.floor_version.subscribe()
    }

    fn floor_changed(&self) {
        self.floor_version.send_modify(|v| *v = v.wrapping_add(1));
    }
}

/// What an admin asks for when creating an enrolment token.
#[derive(Debug, Clone, Default)]
pub struct NewEnrolment {
    pub site_id: Option<String>,
    pub user_id: Option<String>,
    pub valid_hours: u32,
}

/// When each device was last heard from, not yet written.
#[derive(Debug, Default)]
pub(crate) struct ContactBuffer(std::sync::Mutex<HashMap<String, UnixMillis>>);

impl ContactBuffer {
    fn note(&self, device_id: &str, at: UnixMillis) {
        if let Ok(mut seen) = self.0.lock() {
            seen.insert(device_id.to_owned(), at);
        }
    }

    fn take(&self) -> Vec<(String, UnixMillis)> {
        self.0.lock().map(|mut seen| seen.drain().collect()).unwrap_or_default()
    }
}

/// The largest inventory accepted: more would be a broken or hostile agent.
const MAX_SOFTWARE: usize = 20_000;
const MAX_TEXT: usize = 512;

fn bad(field: &'static str, message: impl Into<String>) -> CoreError {
    CoreError::invalid(field, ErrorCode::InvalidValue, message)
}

fn check_text(field: &'static str, value: &str) -> Result<(), CoreError> {
    if value.len() > MAX_TEXT || value.chars().any(char::is_control) {
        return Err(bad(field, format!("at most {MAX_TEXT} bytes of printable text")));
    }
    Ok(())
}

fn check_inventory(inv: &Inventory) -> Result<(), CoreError> {
    if inv.hostname.trim().is_empty() {
        return Err(bad("hostname", "the host name is empty"));
    }
    for (field, value) in [
        ("hostname", &inv.hostname),
        ("os_family", &inv.os_family),
        ("os_name", &inv.os_name),
        ("os_version", &inv.os_version),
        ("os_build", &inv.os_build),
    ] {
        check_text(field, value)?;
    }
    if !matches!(inv.os_family.as_str(), "linux" | "windows") {
        return Err(bad("os_family", "linux or windows"));
    }
    if let Some(m) = &inv.cpu_model {
        check_text("cpu_model", m)?;
    }
    if let Some(av) = &inv.antivirus {
        check_text("antivirus", &av.product)?;
    }
    if inv.software.len() > MAX_SOFTWARE || inv.local_admins.len() > 1000 || inv.unavailable.len() > 100 {
        return Err(bad("software", format!("at most {MAX_SOFTWARE} packages")));
    }
    for s in &inv.software {
        check_text("software", &s.name)?;
        check_text("software", &s.version)?;
    }
    for a in &inv.local_admins {
        check_text("local_admins", a)?;
    }
    for (k, v) in &inv.unavailable {
        check_text("unavailable", k)?;
        check_text("unavailable", v)?;
    }
    Ok(())
}

impl Devices {
    /// Creates a one-time enrolment token for a PC (optionally bound to a site and a user). The
    /// token is shown once; only its digest is kept.
    pub async fn create_enrolment(
        &self,
        principal: &Principal,
        new: &NewEnrolment,
        ctx: &RequestContext,
    ) -> Result<(EnrolmentRecord, String), CoreError> {
        self.base
            .permitted(principal, Permission::DevicesManage, &actions::DEVICE_ENROLMENT_CREATE, ctx)
            .await?;
        if !(1..=24 * 30).contains(&new.valid_hours) {
            return Err(CoreError::invalid("valid_hours", ErrorCode::OutOfRange, "valid for 1 to 720 hours"));
        }
        let token = format!("mde_{}", mamori_crypto::tokens::new_secret()?);
        let now = self.base.now();
        let record = EnrolmentRecord {
            id: new_id(),
            token_hash: mamori_crypto::tokens::digest(&token),
            site_id: new.site_id.clone(),
            user_id: new.user_id.clone(),
            created_by: principal.user.id.clone(),
            created_at: now,
            expires_at: now.plus(Duration::from_secs(u64::from(new.valid_hours) * 3600)),
        };
        let mut tx = self.base.store.begin().await?;
        if let Some(site) = &new.site_id {
            check_id(site, "site")?;
            match tx.org_unit(site).await? {
                Some(u) if u.kind == OrgKind::Site => {}
                _ => return Err(CoreError::NotFound { what: "site" }),
            }
        }
        if let Some(user) = &new.user_id {
            check_id(user, "user")?;
            tx.user_by_id(user).await?.ok_or(CoreError::NotFound { what: "user" })?;
        }
        tx.insert_enrolment(&record).await?;
        let e = AuditEvent::of(&actions::DEVICE_ENROLMENT_CREATE, principal.actor(), Outcome::Success)
            .object(format!("enrolment:{}", record.id))
            .detail("valid_hours", new.valid_hours.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok((record, token))
    }

    /// Enrols a PC: the token is used up, the device and its public key registered.
    pub async fn enrol_device(&self, req: &EnrolRequest, ctx: &RequestContext) -> Result<String, CoreError> {
        if parse_public_key(&req.public_key).is_none() {
            return Err(bad("public_key", "an Ed25519 public key, base64 of 32 bytes"));
        }
        check_text("hostname", &req.hostname)?;
        let device_id = new_id();
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        let Some(enrolment) =
            tx.use_enrolment(&mamori_crypto::tokens::digest(req.token.trim()), now, &device_id).await?
        else {
            drop(tx);
            let e = AuditEvent::of(&actions::DEVICE_ENROL, Actor::Anonymous, Outcome::Failure)
                .detail("reason", "unknown, used or expired token");
            self.base.audit_access(ctx, e).await?;
            return Err(CoreError::LinkInvalid);
        };
        let device = DeviceRecord {
            id: device_id.clone(),
            public_key: req.public_key.trim().to_owned(),
            hostname: req.hostname.trim().to_owned(),
            site_id: enrolment.site_id,
            user_id: enrolment.user_id,
            enrolled_at: now,
            revoked_at: None,
            last_seen_at: Some(now),
            last_ip: ctx.source_ip.clone(),
        };
        tx.insert_device(&device).await?;
        let e = AuditEvent::of(&actions::DEVICE_ENROL, Actor::Device(device_id.clone()), Outcome::Success)
            .object(format!("device:{device_id}"))
            .detail("enrolment", enrolment.id);
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(device_id)
    }

    /// Checks an agent request's signature: a known, unrevoked device, its key, a time within
    /// five minutes, a nonce not seen before. Records when and from where the device was seen
    /// (the address from the connection, never from the agent).
    pub async fn authenticate_device(
        &self,
        authorization: Option<&str>,
        method: &str,
        path: &str,
        body: &[u8],
        ctx: &RequestContext,
    ) -> Result<DeviceRecord, CoreError> {
        let refused = CoreError::DeviceRefused;
        let claim = DeviceClaim::parse(authorization.unwrap_or("")).map_err(refused)?;
        let now = self.base.now();
        let device = match self.base.store.read().await?.device(&claim.device_id).await? {
            Some(d) if d.revoked_at.is_none() => d,
            _ => return Err(refused(DeviceAuthError::UnknownDevice)),
        };
        claim.verify(&device.public_key, method, path, body, now.0).map_err(refused)?;
        // A nonce is remembered past the time its signature could be accepted at all.
        let key = format!("{}:{}", device.id, claim.nonce);
        let forget_at = UnixMillis(claim.ts.max(now.0).saturating_add(2 * MAX_SKEW_MS));
        if !self.base.first_use(crate::base::shared::DEVICE_NONCES, &key, forget_at).await? {
            return Err(refused(DeviceAuthError::Replay));
        }
        self.device_contact(&device, ctx.source_ip.as_deref()).await?;
        Ok(device)
    }

    /// A device was heard from at this address. A move to another address, or the first word
    /// after a minute's silence, is written at once (with a network signal if it moved); any
    /// other contact only notes the time, written with every other PC's by
    /// [`Devices::flush_device_contacts`] — thousands of PCs polling would otherwise cost a write
    /// transaction each.
    pub(crate) async fn device_contact(
        &self,
        device: &DeviceRecord,
        ip: Option<&str>,
    ) -> Result<(), CoreError> {
        let now = self.base.now();
        let recently_seen = device.last_seen_at.is_some_and(|t| now.0 - t.0 < 60_000);
        if device.last_ip.as_deref() == ip && recently_seen {
            self.device_contacts.note(&device.id, now);
            return Ok(());
        }
        self.network_signal(device, ip).await?;
        let mut tx = self.base.store.begin().await?;
        tx.device_seen(&device.id, now, ip).await?;
        tx.commit().await?;
        self.floor_changed();
        Ok(())
    }

    /// Writes the contacts noted since the last flush, in one transaction (run every few
    /// seconds, and on shutdown). Returns how many devices.
    pub async fn flush_device_contacts(&self) -> Result<usize, CoreError> {
        let seen = self.device_contacts.take();
        if seen.is_empty() {
            return Ok(0);
        }
        let mut tx = self.base.store.begin().await?;
        tx.devices_seen(&seen).await?;
        tx.commit().await?;
        Ok(seen.len())
    }

    /// Stores an inventory report if it differs from the device's last one; returns whether it did.
    pub async fn record_inventory(
        &self,
        device: &DeviceRecord,
        inventory: &Inventory,
        ctx: &RequestContext,
    ) -> Result<bool, CoreError> {
        check_inventory(inventory)?;
        let json = serde_json::to_string(inventory).map_err(|e| CoreError::Internal(e.to_string()))?;
        let digest = hex::encode(sha2::Sha256::digest(json.as_bytes()));
        let mut tx = self.base.store.begin().await?;
        let last = tx.inventory_history(&device.id, 1).await?;
        if last.first().is_some_and(|l| l.digest == digest) {
            return Ok(false);
        }
        tx.insert_inventory(&InventoryRecord {
            id: new_id(),
            device_id: device.id.clone(),
            collected_at: self.base.now(),
            digest,
            inventory: json,
        })
        .await?;
        let e =
            AuditEvent::of(&actions::DEVICE_INVENTORY, Actor::Device(device.id.clone()), Outcome::Success)
                .object(format!("device:{}", device.id))
                .detail("software", inventory.software.len().to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        // A change of what the PC fails (shadow IT installed, encryption turned off…) is a signal.
        let policy = self.device_site_policy(device).await?;
        let failures = |inv: &Inventory| policy.evaluate(&facts_of(inv));
        let rules = |f: &[mamori_domain::posture::PostureFailure]| {
            f.iter().map(|x| x.rule.clone()).collect::<Vec<_>>()
        };
        let before = last
            .first()
            .and_then(|l| serde_json::from_str::<Inventory>(&l.inventory).ok())
            .map(|inv| failures(&inv))
            .unwrap_or_default();
        let after = failures(inventory);
        if rules(&before) != rules(&after) {
            self.server_signal(&device.id, "posture_changed", serde_json::json!({ "failures": after }))
                .await?;
        }
        self.floor_changed();
        Ok(true)
    }

    /// The devices the principal may see (a supervisor: their team's).
    pub async fn list_devices(&self, principal: &Principal) -> Result<Vec<DeviceRecord>, CoreError> {
        let devices = self.base.store.read().await?.list_devices().await?;
        self.base.devices_in_scope(principal, devices).await
    }

    /// The ledger (資産台帳): the principal's devices, each with its compliance, antivirus and
    /// whether a USB storage device was plugged in within the last day.
    pub async fn ledger(&self, principal: &Principal) -> Result<Vec<LedgerRow>, CoreError> {
        let devices = self.list_devices(principal).await?;
        let since = self.base.now().minus(Duration::from_secs(24 * 3600));
        let usb: std::collections::HashSet<String> = self
            .base
            .store
            .read()
            .await?
            .recent_events_of_kinds(&["usb_attached"], since)
            .await?
            .into_iter()
            .filter(|e| {
                serde_json::from_str::<serde_json::Value>(&e.data).is_ok_and(|v| v["mass_storage"] == true)
            })
            .map(|e| e.device_id)
            .collect();
        let mut rows = Vec::with_capacity(devices.len());
        for device in devices {
            // One read of the latest inventory serves the posture and the antivirus column.
            let latest = self.latest_inventory(&device).await?;
            rows.push(LedgerRow {
                posture: self.posture_with(&device, latest.as_ref()).await?,
                antivirus: latest.and_then(|inv| inv.antivirus),
                recent_usb: usb.contains(&device.id),
                device,
            });
        }
        Ok(rows)
    }

    /// A device and its inventory history, newest first.
    pub async fn device_detail(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<(DeviceRecord, Vec<InventoryRecord>), CoreError> {
        let device = self
            .base
            .device_in_scope(principal, Permission::DevicesRead, id, &actions::DEVICE_READ, ctx)
            .await?;
        let history = self.base.store.read().await?.inventory_history(id, 50).await?;
        Ok((device, history))
    }

    /// Revokes a device: its next request is refused.
    pub async fn revoke_device(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base
            .device_in_scope(principal, Permission::DevicesManage, id, &actions::DEVICE_REVOKE, ctx)
            .await?;
        let mut tx = self.base.store.begin().await?;
        if !tx.revoke_device(id, self.base.now()).await? {
            return Err(CoreError::NotFound { what: "device (or it is already revoked)" });
        }
        let e = AuditEvent::of(&actions::DEVICE_REVOKE, principal.actor(), Outcome::Success)
            .object(format!("device:{id}"));
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// When a device was last seen, for the ledger's online state.
pub fn is_online(device: &DeviceRecord, now: UnixMillis) -> bool {
    device.revoked_at.is_none() && device.last_seen_at.is_some_and(|t| now.0 - t.0 < 90_000)
}

/// The commands an admin can send a device (a supervisor: the first three, to their team's PCs —
/// `mamori_domain::authz::command_permission`).
pub const COMMAND_KINDS: [&str; 4] = ["lock", "sign_out", "message", "refresh_inventory"];

/// How long a command may take, from issue to result, unless configured otherwise.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// One device of the ledger.
#[derive(Debug, Clone)]
pub struct LedgerRow {
    pub device: DeviceRecord,
    pub posture: Posture,
    /// The antivirus of the latest inventory, if it reported one.
    pub antivirus: Option<mamori_proto::agent::Antivirus>,
    /// A USB storage device plugged in within the last 24 hours.
    pub recent_usb: bool,
}

/// The PC a command is about to go to, for the confirmation that names it and its operator.
#[derive(Debug, Clone)]
pub struct CommandTarget {
    pub device: DeviceRecord,
    /// The operator the PC is assigned to, if any.
    pub user: Option<crate::User>,
}

/// Wakes a device's waiting poll when a command is issued for it — in this process directly,
/// from another replica through [`Devices::wake_devices_with_commands`].
#[derive(Debug, Default)]
pub(crate) struct CommandWaiters(std::sync::Mutex<HashMap<String, std::sync::Arc<tokio::sync::Notify>>>);

impl CommandWaiters {
    fn waiter(&self, device_id: &str) -> std::sync::Arc<tokio::sync::Notify> {
        match self.0.lock() {
            Ok(mut map) => map.entry(device_id.to_owned()).or_default().clone(),
            Err(_) => std::sync::Arc::default(),
        }
    }

    fn wake(&self, device_id: &str) {
        if let Ok(map) = self.0.lock()
            && let Some(n) = map.get(device_id)
        {
            n.notify_one();
        }
    }
}

impl Devices {
    /// The PC a command of `kind` would go to, and its operator — for the confirmation step. The
    /// same rule as [`Devices::issue_command`]: outside the caller's scope it is not found (and
    /// the attempt recorded as denied).
    pub async fn command_target(
        &self,
        principal: &Principal,
        device_id: &str,
        kind: &str,
        ctx: &RequestContext,
    ) -> Result<CommandTarget, CoreError> {
        let device = self.command_device(principal, device_id, kind, ctx).await?;
        if device.revoked_at.is_some() {
            return Err(CoreError::NotFound { what: "device (or it is revoked)" });
        }
        let user = match &device.user_id {
            Some(u) => self.base.store.read().await?.user_by_id(u).await?.map(crate::User::from),
            None => None,
        };
        Ok(CommandTarget { device, user })
    }

    /// A known kind, and a device the principal may send it to.
    async fn command_device(
        &self,
        principal: &Principal,
        device_id: &str,
        kind: &str,
        ctx: &RequestContext,
    ) -> Result<DeviceRecord, CoreError> {
        if !COMMAND_KINDS.contains(&kind) {
            return Err(CoreError::invalid(
                "kind",
                ErrorCode::InvalidValue,
                format!("one of: {}", COMMAND_KINDS.join(", ")),
            ));
        }
        let needs = mamori_domain::authz::command_permission(&principal.permissions, kind);
        self.base.device_in_scope(principal, needs, device_id, &actions::DEVICE_COMMAND, ctx).await
    }

    /// Queues a command for a device (pending until its agent polls) and wakes its poll.
    pub async fn issue_command(
        &self,
        principal: &Principal,
        device_id: &str,
        kind: &str,
        message: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<mamori_store::CommandRecord, CoreError> {
        self.command_device(principal, device_id, kind, ctx).await?;
        let message = message.map(str::trim).filter(|m| !m.is_empty());
        match (kind, message) {
            ("message", None) => {
                return Err(CoreError::invalid("message", ErrorCode::Required, "the message to show"));
            }
            ("message", Some(m))
                if m.chars().count() > 500 || m.chars().any(|c| c.is_control() && c != '\n') =>
            {
                return Err(CoreError::invalid(
                    "message",
                    ErrorCode::InvalidValue,
                    "at most 500 characters of text",
                ));
            }
            (_, Some(_)) if kind != "message" => {
                return Err(CoreError::invalid(
                    "message",
                    ErrorCode::InvalidValue,
                    "only a `message` command carries text",
                ));
            }
            _ => {}
        }
        let mut tx = self.base.store.begin().await?;
        match tx.device(device_id).await? {
            Some(d) if d.revoked_at.is_none() => {}
            _ => return Err(CoreError::NotFound { what: "device (or it is revoked)" }),
        }
        let command = mamori_store::CommandRecord {
            id: new_id(),
            device_id: device_id.to_owned(),
            kind: kind.to_owned(),
            message: message.map(str::to_owned),
            state: "pending".into(),
            issued_by: principal.user.id.clone(),
            created_at: self.base.now(),
            delivered_at: None,
            finished_at: None,
            result: None,
        };
        tx.insert_command(&command).await?;
        let e = AuditEvent::of(&actions::DEVICE_COMMAND, principal.actor(), Outcome::Success)
            .object(format!("device:{device_id}"))
            .detail("command", command.id.clone())
            .detail("kind", kind);
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        self.command_waiters.wake(device_id);
        Ok(command)
    }

    /// Wakes the device's long poll for a command queued elsewhere (an automatic response).
    pub(crate) fn wake_commands(&self, device_id: &str) {
        self.command_waiters.wake(device_id);
    }

    /// Commands issued before this have timed out.
    fn command_cutoff(&self) -> UnixMillis {
        self.base.now().minus(self.base.policies.command_timeout)
    }

    /// The device's pending commands, waiting up to `wait` for one to be issued (long poll).
    /// A command past the time limit is never delivered, whether or not the sweep
    /// ([`Devices::expire_commands`]) has marked it yet.
    pub async fn poll_commands(
        &self,
        device: &DeviceRecord,
        wait: Duration,
    ) -> Result<Vec<mamori_store::CommandRecord>, CoreError> {
        let waiter = self.command_waiters.waiter(&device.id);
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            // Most polls find nothing: a read first, so they take no write lock.
            let cutoff = self.command_cutoff();
            let commands = if self.base.store.read().await?.has_pending_commands(&device.id, cutoff).await? {
                let mut tx = self.base.store.begin().await?;
                let commands = tx.deliver_commands(&device.id, self.base.now(), cutoff).await?;
                tx.commit().await?;
                commands
            } else {
                Vec::new()
            };
            if !commands.is_empty() || tokio::time::Instant::now() >= deadline {
                return Ok(commands);
            }
            // A permit stored by a wake between the check and here is not lost.
            let _ = tokio::time::timeout_at(deadline, waiter.notified()).await;
        }
    }

    /// Records what the agent reports of a command.
    pub async fn finish_command(
        &self,
        device: &DeviceRecord,
        command_id: &str,
        ok: bool,
        detail: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        check_id(command_id, "command")?;
        let detail: String = detail.chars().filter(|c| !c.is_control()).take(500).collect();
        let mut tx = self.base.store.begin().await?;
        if !tx.finish_command(&device.id, command_id, ok, &detail, self.base.now()).await? {
            return Err(CoreError::NotFound { what: "delivered command" });
        }
        let outcome = if ok { Outcome::Success } else { Outcome::Failure };
        let e = AuditEvent::of(&actions::DEVICE_COMMAND_RESULT, Actor::Device(device.id.clone()), outcome)
            .object(format!("device:{}", device.id))
            .detail("command", command_id.to_owned());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        self.floor_changed();
        Ok(())
    }

    /// A PC's latest commands, newest first. One past the time limit and not yet swept is shown
    /// as `expired` already, as the sweep will store it.
    pub async fn device_commands(
        &self,
        principal: &Principal,
        device_id: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<mamori_store::CommandRecord>, CoreError> {
        self.base
            .device_in_scope(
                principal,
                Permission::DevicesRead,
                device_id,
                &actions::DEVICE_COMMANDS_READ,
                ctx,
            )
            .await?;
        let cutoff = self.command_cutoff();
        let mut commands = self.base.store.read().await?.device_commands(device_id, 50).await?;
        for c in &mut commands {
            if matches!(c.state.as_str(), "pending" | "delivered") && c.created_at < cutoff {
                c.state = "expired".into();
            }
        }
        Ok(commands)
    }

    /// Marks timed-out commands `expired`, each audited (run every minute); returns how many.
    pub async fn expire_commands(&self) -> Result<usize, CoreError> {
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        let expired = tx.expire_commands(self.command_cutoff(), now).await?;
        for c in &expired {
            let e = AuditEvent::of(&actions::DEVICE_COMMAND_EXPIRE, Actor::System, Outcome::Failure)
                .object(format!("device:{}", c.device_id))
                .detail("command", c.id.clone())
                .detail("kind", c.kind.clone())
                .detail("delivered", c.delivered_at.is_some().to_string());
            self.base.audit(&mut tx, &RequestContext::default(), e).await?;
        }
        tx.commit().await?;
        Ok(expired.len())
    }

    /// Wakes the polls of devices that another replica gave commands (run every half second).
    pub async fn wake_devices_with_commands(&self, since: UnixMillis) -> Result<(), CoreError> {
        for device in self.base.store.read().await?.devices_with_pending_commands(since).await? {
            self.command_waiters.wake(&device);
        }
        Ok(())
    }
}

/// The most events one request may carry.
pub const MAX_EVENT_BATCH: usize = 500;

fn check_event(e: &mamori_proto::agent::AgentEvent, now: UnixMillis) -> Result<(), CoreError> {
    use mamori_proto::agent::EventData;
    let id_ok =
        !e.id.is_empty() && e.id.len() <= 64 && e.id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !id_ok {
        return Err(bad("events", "an event id is 1–64 letters, digits and '-'"));
    }
    if e.time > now.0 + MAX_SKEW_MS || e.time < now.0 - 30 * 86_400_000 {
        return Err(bad(
            "events",
            "an event's time is in the future or more than 30 days old: check the PC's clock",
        ));
    }
    match &e.event {
        EventData::AgentStarted { version } => check_text("events", version),
        EventData::SessionLogon { user } | EventData::SessionLogoff { user } => check_text("events", user),
        EventData::UsbAttached(u) | EventData::UsbRemoved(u) => {
            let hex4 = |s: &str| s.len() == 4 && s.bytes().all(|b| b.is_ascii_hexdigit());
            if !hex4(&u.vendor_id) || !hex4(&u.product_id) {
                return Err(bad("events", "USB vendor and product ids are four hex digits"));
            }
            for t in [&u.product, &u.serial].into_iter().flatten() {
                check_text("events", t)?;
            }
            Ok(())
        }
        EventData::ConnectionRestored { .. }
        | EventData::ScreenLocked {}
        | EventData::ScreenUnlocked {}
        | EventData::EventsDropped { .. } => Ok(()),
        // Checked with the operator's shifts, in `activity_to_keep`.
        EventData::Activity(_) => Ok(()),
    }
}

impl Devices {
    /// Stores a batch of a device's events, all or none if any is malformed; events received
    /// before (same id) are not stored again. Returns how many were new.
    pub async fn record_events(
        &self,
        device: &DeviceRecord,
        events: &[mamori_proto::agent::AgentEvent],
    ) -> Result<u64, CoreError> {
        if events.len() > MAX_EVENT_BATCH {
            return Err(bad("events", format!("at most {MAX_EVENT_BATCH} events a request")));
        }
        let now = self.base.now();
        let mut rows = Vec::with_capacity(events.len());
        let mut buckets = Vec::new();
        for e in events {
            check_event(e, now)?;
            if let mamori_proto::agent::EventData::Activity(bucket) = &e.event {
                buckets.push(bucket.clone());
                continue;
            }
            let data = serde_json::to_value(&e.event).map_err(|err| CoreError::Internal(err.to_string()))?;
            rows.push(mamori_store::DeviceEventRecord {
                device_id: device.id.clone(),
                event_id: e.id.clone(),
                kind: e.event.kind().to_owned(),
                occurred_at: UnixMillis(e.time),
                received_at: now,
                data: data.get("data").map(ToString::to_string).unwrap_or_else(|| "{}".into()),
            });
        }
        let (activity, signals) = self.activity_to_keep(device, buckets, now).await?;
        // A signal's id follows from its minute, so a bucket sent again raises it once.
        rows.extend(signals.into_iter().map(|(kind, data)| mamori_store::DeviceEventRecord {
            device_id: device.id.clone(),
            event_id: format!("srv-{kind}-{}", data["minute"].as_str().unwrap_or_default()),
            kind: kind.to_owned(),
            occurred_at: now,
            received_at: now,
            data: data.to_string(),
        }));
        let mut tx = self.base.store.begin().await?;
        let new_ids = tx.insert_device_events(&rows).await?;
        let stored = new_ids.len() as u64 + tx.insert_activity(&activity).await?;
        let actor = Actor::Device(device.id.clone());
        for row in rows.iter().filter(|r| new_ids.contains(&r.event_id)) {
            // Server-derived signals (`srv-…`) are the server's; the rest the agent reported.
            let actor = if row.event_id.starts_with("srv-") { Actor::System } else { actor.clone() };
            self.audit_signal(&mut tx, device, row, actor).await?;
        }
        tx.commit().await?;
        if stored > 0 {
            self.floor_changed();
        }
        Ok(stored)
    }

    pub async fn device_events(
        &self,
        principal: &Principal,
        device_id: &str,
        limit: i64,
        ctx: &RequestContext,
    ) -> Result<Vec<mamori_store::DeviceEventRecord>, CoreError> {
        self.base
            .device_in_scope(principal, Permission::DevicesRead, device_id, &actions::DEVICE_EVENTS_READ, ctx)
            .await?;
        Ok(self.base.store.read().await?.device_events(device_id, limit).await?)
    }

    /// The device signals of [`crate::Core::signals`]: those of PCs in the principal's
    /// people scope (a PC without an operator only to those who see everyone), narrowed by the
    /// filter, newest first.
    pub async fn device_signals(
        &self,
        principal: &Principal,
        filter: &SignalFilter,
        ctx: &RequestContext,
    ) -> Result<Vec<Signal>, CoreError> {
        self.base.permitted(principal, Permission::DevicesRead, &actions::SIGNAL_LIST, ctx).await?;
        let kinds = filter.kinds(&DEVICE_SIGNAL_KINDS);
        if kinds.is_empty() {
            return Ok(Vec::new());
        }
        let mut read = self.base.store.read().await?;
        let events = read.recent_events_of_kinds(&kinds, filter.since).await?;
        let users: HashMap<String, mamori_store::UserRecord> =
            read.list_users().await?.into_iter().map(|u| (u.id.clone(), u)).collect();
        let devices = read.list_devices().await?;
        drop(read);
        let devices: HashMap<String, DeviceRecord> = self
            .base
            .devices_in_scope(principal, devices)
            .await?
            .into_iter()
            .filter(|d| filter.device_id.as_ref().is_none_or(|id| id == &d.id))
            .filter(|d| {
                let team = d.user_id.as_ref().and_then(|u| users.get(u)).and_then(|u| u.team_id.as_ref());
                filter.team_id.as_ref().is_none_or(|t| Some(t) == team)
            })
            .map(|d| (d.id.clone(), d))
            .collect();
        let mut out: Vec<Signal> = events
            .into_iter()
            .rev()
            .filter_map(|e| {
                let device = devices.get(&e.device_id)?.clone();
                let person = device.user_id.as_ref().and_then(|u| users.get(u)).map(crate::User::from);
                Some(Signal {
                    id: e.event_id,
                    time: e.occurred_at,
                    kind: e.kind,
                    details: crate::signals::details_of(&e.data),
                    device: Some(device),
                    person,
                    take_out: None,
                })
            })
            .collect();
        out.truncate(crate::signals::MAX_SIGNALS);
        Ok(out)
    }
}

/// Where a site's PC policy was kept before it had tables (moved out at start).
pub(crate) const LEGACY_SITE_POLICY_PREFIX: &str = "device_policy:";
/// Where a user's approved networks were kept before they had a table (moved out at start).
pub(crate) const LEGACY_NETWORKS_PREFIX: &str = "device_networks:";

/// How a device stands against its site's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Posture {
    /// None when no inventory has been reported yet.
    pub failures: Option<Vec<mamori_domain::posture::PostureFailure>>,
    /// None when neither its site nor its user lists approved networks.
    pub network_approved: Option<bool>,
}

/// Whether an address is on one of these networks; None when there are none (any address).
fn on_network(networks: &PosturePolicy, ip: Option<&str>) -> Option<bool> {
    if networks.approved_networks.is_empty() && !networks.unreadable {
        return None;
    }
    Some(ip.and_then(|i| i.parse().ok()).is_some_and(|i| networks.network_approved(i)))
}

pub(crate) fn facts_of(inv: &Inventory) -> mamori_domain::posture::DeviceFacts {
    mamori_domain::posture::DeviceFacts {
        os_family: inv.os_family.clone(),
        os_build: inv.os_build.clone(),
        antivirus_age_days: inv.antivirus.as_ref().map(|a| a.signature_age_days),
        screen_lock_secs: inv.screen_lock_timeout_secs,
        disk_encryption: inv.disk_encryption,
        software: inv.software.iter().map(|s| s.name.clone()).collect(),
    }
}

impl Devices {
    /// A site's device policy (`devices.read`; empty rules until the security admin sets them).
    pub async fn site_device_policy(
        &self,
        principal: &Principal,
        site_id: &str,
        ctx: &RequestContext,
    ) -> Result<PosturePolicy, CoreError> {
        check_id(site_id, "site")?;
        let attempt = Attempt::of(&actions::POLICY_READ).on(format!("device_policy:{site_id}"), "site");
        self.base.authorize(principal, Permission::DevicesRead, Resource::System, attempt, ctx).await?;
        self.policy_in_force(site_id).await
    }

    /// The site's policy in force. One that cannot be read — carried over unreadable from the
    /// settings table, or rows that no longer make a valid policy — is an error (logged), never
    /// "no rules": the caller fails closed.
    pub(crate) async fn policy_in_force(&self, site_id: &str) -> Result<PosturePolicy, CoreError> {
        let unreadable = |why: &dyn std::fmt::Display| {
            tracing::error!(site = site_id, error = %why, "a site's stored PC policy cannot be read; its checks fail closed");
            CoreError::SettingUnreadable { key: format!("{LEGACY_SITE_POLICY_PREFIX}{site_id}") }
        };
        match self.base.store.read().await?.site_device_policy(site_id).await {
            Ok(None) => Ok(PosturePolicy::default()),
            Ok(Some(policy)) if policy.unreadable => {
                Err(unreadable(&"carried over unreadable; set it again"))
            }
            Ok(Some(policy)) => policy.checked().map_err(|e| unreadable(&e)),
            Err(mamori_store::StoreError::Corrupt(e)) => Err(unreadable(&e)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn set_site_device_policy(
        &self,
        principal: &Principal,
        site_id: &str,
        policy: PosturePolicy,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base
            .permitted(principal, Permission::DevicesManage, &actions::DEVICE_POLICY_CHANGE, ctx)
            .await?;
        check_id(site_id, "site")?;
        let policy = policy
            .checked()
            .map_err(|e| CoreError::invalid("policy", ErrorCode::InvalidPolicy, e.to_string()))?;
        let mut tx = self.base.store.begin().await?;
        match tx.org_unit(site_id).await? {
            Some(u) if u.kind == OrgKind::Site => {}
            _ => return Err(CoreError::NotFound { what: "site" }),
        }
        let version =
            tx.put_site_device_policy(site_id, &policy, self.base.now(), &principal.actor().encode()).await?;
        let e = AuditEvent::of(&actions::DEVICE_POLICY_CHANGE, principal.actor(), Outcome::Success)
            .object(format!("site:{site_id}"))
            .detail("networks", policy.approved_networks.len().to_string())
            .detail("version", version.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// A home worker's own approved networks in force (`devices.read` over the person; none
    /// until set).
    pub async fn user_networks(
        &self,
        principal: &Principal,
        user_id: &str,
        ctx: &RequestContext,
    ) -> Result<Vec<String>, CoreError> {
        self.base
            .person_in_scope(principal, Permission::DevicesRead, user_id, &actions::POLICY_READ, ctx)
            .await?;
        self.networks_in_force(user_id).await
    }

    async fn networks_in_force(&self, user_id: &str) -> Result<Vec<String>, CoreError> {
        check_id(user_id, "user")?;
        Ok(self.base.store.read().await?.user_networks(user_id).await?.unwrap_or_default())
    }

    pub async fn set_user_networks(
        &self,
        principal: &Principal,
        user_id: &str,
        networks: Vec<String>,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base
            .person_in_scope(
                principal,
                Permission::DevicesManage,
                user_id,
                &actions::DEVICE_NETWORKS_CHANGE,
                ctx,
            )
            .await?;
        let networks = PosturePolicy { approved_networks: networks, ..Default::default() }
            .checked()
            .map_err(|e| CoreError::invalid("networks", ErrorCode::InvalidValue, e.to_string()))?
            .approved_networks;
        let mut tx = self.base.store.begin().await?;
        tx.user_by_id(user_id).await?.ok_or(CoreError::NotFound { what: "user" })?;
        let version =
            tx.put_user_networks(user_id, &networks, self.base.now(), &principal.actor().encode()).await?;
        let e = AuditEvent::of(&actions::DEVICE_NETWORKS_CHANGE, principal.actor(), Outcome::Success)
            .object(format!("user:{user_id}"))
            .detail("networks", networks.len().to_string())
            .detail("version", version.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The rules of the device's site (none for a PC without a site).
    /// One that cannot be read fails closed ([`PosturePolicy::unreadable`]).
    async fn device_site_policy(&self, device: &DeviceRecord) -> Result<PosturePolicy, CoreError> {
        match &device.site_id {
            Some(site) => match self.policy_in_force(site).await {
                Err(CoreError::SettingUnreadable { .. }) => Ok(PosturePolicy::unreadable()),
                other => other,
            },
            None => Ok(PosturePolicy::default()),
        }
    }

    /// The networks a device may be seen from: its site's (from `site_policy`) and its user's.
    async fn device_networks(
        &self,
        device: &DeviceRecord,
        site_policy: &PosturePolicy,
    ) -> Result<PosturePolicy, CoreError> {
        let mut networks = site_policy.approved_networks.clone();
        let unreadable = site_policy.unreadable;
        if let Some(user) = &device.user_id {
            networks.extend(self.networks_in_force(user).await?);
        }
        Ok(PosturePolicy { approved_networks: networks, unreadable, ..Default::default() })
    }

    /// The device's compliance with its site's policy and its network standing.
    pub async fn device_posture(&self, device: &DeviceRecord) -> Result<Posture, CoreError> {
        let latest = self.latest_inventory(device).await?;
        self.posture_with(device, latest.as_ref()).await
    }

    /// The device's latest inventory report, if it sent one that reads.
    pub(crate) async fn latest_inventory(
        &self,
        device: &DeviceRecord,
    ) -> Result<Option<Inventory>, CoreError> {
        let latest = self.base.store.read().await?.inventory_history(&device.id, 1).await?;
        Ok(latest.first().and_then(|i| serde_json::from_str::<Inventory>(&i.inventory).ok()))
    }

    /// [`Devices::device_posture`] against an inventory already read.
    pub(crate) async fn posture_with(
        &self,
        device: &DeviceRecord,
        latest: Option<&Inventory>,
    ) -> Result<Posture, CoreError> {
        let policy = self.device_site_policy(device).await?;
        let networks = self.device_networks(device, &policy).await?;
        let failures = latest.map(|inv| policy.evaluate(&facts_of(inv)));
        Ok(Posture { failures, network_approved: on_network(&networks, device.last_ip.as_deref()) })
    }

    /// Stores a signal the server itself derived (off network, heartbeat lost, posture changed)
    /// as a device event for the detectors.
    async fn server_signal(
        &self,
        device_id: &str,
        kind: &str,
        data: serde_json::Value,
    ) -> Result<(), CoreError> {
        let now = self.base.now();
        let event = mamori_store::DeviceEventRecord {
            device_id: device_id.to_owned(),
            event_id: format!("srv-{}", new_id()),
            kind: kind.into(),
            occurred_at: now,
            received_at: now,
            data: data.to_string(),
        };
        let mut tx = self.base.store.begin().await?;
        if !tx.insert_device_events(std::slice::from_ref(&event)).await?.is_empty()
            && let Some(device) = tx.device(device_id).await?
        {
            self.audit_signal(&mut tx, &device, &event, Actor::System).await?;
        }
        tx.commit().await?;
        self.floor_changed();
        Ok(())
    }

    /// A signal stored for a PC is also an audit entry (`device.signal`), so the detectors read
    /// it in order with everything else and a SIEM sees it; other device events are not.
    async fn audit_signal(
        &self,
        tx: &mut Box<dyn mamori_store::StoreTx>,
        device: &DeviceRecord,
        row: &mamori_store::DeviceEventRecord,
        actor: Actor,
    ) -> Result<(), CoreError> {
        if !crate::signals::DEVICE_SIGNAL_KINDS.contains(&row.kind.as_str()) {
            return Ok(());
        }
        let data = crate::signals::details_of(&row.data);
        let mut e = AuditEvent::of(&actions::DEVICE_SIGNAL, actor, Outcome::Success)
            .object(format!("device:{}", device.id))
            .detail("kind", row.kind.clone())
            .detail("event", row.event_id.clone());
        if let Some(user) = &device.user_id {
            e = e.detail("user", format!("user:{user}"));
        }
        for key in ["serial", "ip"] {
            if let Some(v) = data.get(key).and_then(serde_json::Value::as_str) {
                e = e.detail(key, v);
            }
        }
        if let Some(mass_storage) = data.get("mass_storage").and_then(serde_json::Value::as_bool) {
            e = e.detail("mass_storage", mass_storage.to_string());
        }
        // A posture change names the rules the PC now fails, and the shadow IT found.
        if let Some(failures) = data.get("failures").and_then(serde_json::Value::as_array) {
            let rule =
                |f: &serde_json::Value| f.get("rule").and_then(serde_json::Value::as_str).map(str::to_owned);
            e = e.detail("failures", failures.iter().filter_map(rule).collect::<Vec<_>>().join(","));
            let shadow = failures
                .iter()
                .find(|f| f.get("rule").and_then(serde_json::Value::as_str) == Some("shadow_it"));
            if let Some(text) = shadow.and_then(|f| f.get("detail")).and_then(serde_json::Value::as_str) {
                e = e.detail("shadow_it", text.chars().take(300).collect::<String>());
            }
        }
        self.base.audit(tx, &RequestContext::default(), e).await
    }

    /// PCs not heard from for `silence` get a `heartbeat_lost` signal, once per silence (run
    /// every minute). Returns how many.
    pub async fn sweep_silent_devices(&self, silence: Duration) -> Result<usize, CoreError> {
        self.flush_device_contacts().await?;
        let silent =
            self.base.store.read().await?.devices_gone_silent(self.base.now().minus(silence)).await?;
        for d in &silent {
            let since = d.last_seen_at.map(|t| t.rfc3339());
            self.server_signal(&d.id, "heartbeat_lost", serde_json::json!({ "last_seen": since })).await?;
        }
        Ok(silent.len())
    }

    /// When a device's address changes, a move off (or back onto) its approved networks is a
    /// signal, stored as a device event for the detectors (MON-2: the PC may have been taken out).
    pub(crate) async fn network_signal(
        &self,
        device: &DeviceRecord,
        new_ip: Option<&str>,
    ) -> Result<(), CoreError> {
        if device.last_ip.as_deref() == new_ip {
            return Ok(());
        }
        let networks = self.device_networks(device, &self.device_site_policy(device).await?).await?;
        let (Some(now_ok), before) =
            (on_network(&networks, new_ip), on_network(&networks, device.last_ip.as_deref()))
        else {
            return Ok(());
        };
        let kind = match (before, now_ok) {
            (Some(true) | None, false) => "off_network",
            (Some(false), true) => "back_on_network",
            _ => return Ok(()),
        };
        self.server_signal(&device.id, kind, serde_json::json!({ "ip": new_ip })).await
    }
}

/// A command Mamori itself issues (an automatic response): `issued_by` is `system`.
pub(crate) fn system_command(
    device_id: &str,
    kind: &str,
    message: Option<&str>,
    now: UnixMillis,
) -> mamori_store::CommandRecord {
    mamori_store::CommandRecord {
        id: new_id(),
        device_id: device_id.to_owned(),
        kind: kind.to_owned(),
        message: message.map(str::to_owned),
        state: "pending".into(),
        issued_by: "system".into(),
        created_at: now,
        delivered_at: None,
        finished_at: None,
        result: None,
    }
}

/// One operator on the live floor view (MON-1).
#[derive(Debug, Clone)]
pub struct FloorRow {
    pub user: crate::User,
    /// The operator's PC, if one is enrolled for them (the most recently seen).
    pub device: Option<DeviceRecord>,
    pub state: mamori_domain::activity::FloorState,
    /// The latest minute of activity, when it is from the last three minutes (inside the shift).
    pub activity: Option<mamori_domain::activity::ActivityBucket>,
    pub posture: Option<Posture>,
    /// A USB mass-storage device plugged in within the last hour.
    pub recent_usb: bool,
    /// The PC is out under a valid take-out approval (set by `Core::floor`): off its networks
    /// is then expected, not a concern.
    pub taken_out: bool,
}

impl FloorRow {
    /// The one rule of "needs attention" (the floor's marked rows, the supervisor's home count):
    /// a USB stick plugged in lately, a PC off its approved networks without a take-out, a
    /// posture failure.
    pub fn needs_attention(&self) -> bool {
        let posture = self.posture.as_ref();
        self.recent_usb
            || (self.off_network() && !self.taken_out)
            || posture.and_then(|p| p.failures.as_ref()).is_some_and(|f| !f.is_empty())
    }

    /// The PC connects from outside its approved networks.
    pub fn off_network(&self) -> bool {
        self.posture.as_ref().and_then(|p| p.network_approved) == Some(false)
    }
}

/// The events that say whether a PC's screen is locked: the latest of them wins.
const LOCK_KINDS: [&str; 4] = ["screen_locked", "screen_unlocked", "session_logon", "session_logoff"];

impl Devices {
    /// The floor: every operator in the principal's people scope (a supervisor's own team) —
    /// with their state (working, idle, locked, offline, off shift), their latest minute of
    /// activity, their PC's compliance and network, and a recent USB stick. The activity and
    /// events of all PCs are read in two queries, whatever the size of the floor.
    pub async fn floor(&self, principal: &Principal) -> Result<Vec<FloorRow>, CoreError> {
        use mamori_domain::activity::FloorState;
        let now = self.base.now();
        let mut read = self.base.store.read().await?;
        let operators: Vec<_> = read
            .list_users()
            .await?
            .into_iter()
            .filter(|u| u.roles.contains(&mamori_domain::Role::Operator))
            .filter(|u| crate::Base::sees_person(principal, u))
            .collect();
        let devices = read.list_devices().await?;
        let activity: HashMap<String, mamori_domain::activity::ActivityBucket> = read
            .latest_activity(now.minus(Duration::from_secs(180)))
            .await?
            .into_iter()
            .map(|a| (a.device_id, a.bucket))
            .collect();
        let mut locked = HashMap::new();
        let mut usb = std::collections::HashSet::new();
        let mut kinds = LOCK_KINDS.to_vec();
        kinds.push("usb_attached");
        for e in read.recent_events_of_kinds(&kinds, now.minus(Duration::from_secs(24 * 3600))).await? {
            if e.kind == "usb_attached" {
                let storage = serde_json::from_str::<serde_json::Value>(&e.data)
                    .is_ok_and(|v| v["mass_storage"] == serde_json::Value::Bool(true));
                if storage && now.0 - e.occurred_at.0 < 3_600_000 {
                    usb.insert(e.device_id);
                }
            } else {
                let is_locked = e.kind == "screen_locked" || e.kind == "session_logoff";
                locked.insert(e.device_id, is_locked);
            }
        }
        drop(read);
        let mut rows = Vec::with_capacity(operators.len());
        for user in operators {
            let device = devices
                .iter()
                .filter(|d| d.user_id.as_deref() == Some(user.id.as_str()) && d.revoked_at.is_none())
                .max_by_key(|d| d.last_seen_at)
                .cloned();
            let on_shift = self.shifts_of(&user.id).await?.on_shift(now);
            let row = match device {
                Some(d) => {
                    let latest = activity.get(&d.id).filter(|_| on_shift).cloned();
                    let state = FloorState::judge(
                        is_online(&d, now),
                        on_shift,
                        locked.get(&d.id).copied().unwrap_or(false),
                        latest.as_ref(),
                        now,
                    );
                    FloorRow {
                        posture: Some(self.device_posture(&d).await?),
                        recent_usb: usb.contains(&d.id),
                        taken_out: false,
                        activity: latest,
                        state,
                        device: Some(d),
                        user: user.into(),
                    }
                }
                None => FloorRow {
                    user: user.into(),
                    device: None,
                    state: FloorState::Offline,
                    activity: None,
                    posture: None,
                    recent_usb: false,
                    taken_out: false,
                },
            };
            rows.push(row);
        }
        Ok(rows)
    }

    /// The devices enrolled for a user, with what they report — an operator's own view of what
    /// is collected about them (invariant 8).
    pub async fn my_devices(&self, principal: &Principal) -> Result<Vec<MyDevice>, CoreError> {
        let devices: Vec<DeviceRecord> = self
            .base
            .store
            .read()
            .await?
            .list_devices()
            .await?
            .into_iter()
            .filter(|d| d.user_id.as_deref() == Some(principal.user.id.as_str()))
            .collect();
        let mut out = Vec::with_capacity(devices.len());
        for device in devices {
            let mut read = self.base.store.read().await?;
            let inventory = read.inventory_history(&device.id, 1).await?.into_iter().next();
            let events = read.device_events(&device.id, 50).await?;
            let activity = read
                .device_activity(&device.id, self.base.now().minus(Duration::from_secs(3600)), 60)
                .await?;
            drop(read);
            out.push(MyDevice { device, inventory, events, activity });
        }
        Ok(out)
    }
}

/// A PC as its own operator sees it: everything collected about them.
#[derive(Debug, Clone)]
pub struct MyDevice {
    pub device: DeviceRecord,
    pub inventory: Option<InventoryRecord>,
    pub events: Vec<mamori_store::DeviceEventRecord>,
    /// The last hour's activity buckets, newest first.
    pub activity: Vec<mamori_store::ActivityRecord>,
}
