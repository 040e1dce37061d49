//! Take-out requests (issue 15, item 4; LEAK-10, TW-4, MON-2 — 持ち出し申請): taking a ledger PC,
//! a USB stick (by serial) or a paper file out, why, until when. Unlike the other kinds a
//! take-out's grant is not used once: it is a period. While it runs, the PC's off-network
//! signals and the stick's USB signals are marked "approved take-out" instead of raising a
//! concern; past its date without a return it raises `take_out_overdue`; a supervisor (or a
//! security admin) records the return, which closes it.
//!
//! It spans the devices (the PC, its people scope) and the approvals, so it lives on [`Core`].

use crate::approvals::{Approval, NewRequest};
use crate::signals::Signal;
use crate::{Core, CoreError, Principal, check_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::approval::{ApprovalKind, ApprovalState};
use mamori_domain::{Permission, UnixMillis};
use mamori_proto::ErrorCode;

/// What is taken out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TakeOutItem {
    /// A PC of the ledger, by its id.
    Device(String),
    /// A USB storage device, by the serial number it reports.
    Usb(String),
    /// A paper file, described in a few words (no personal data).
    Paper(String),
}

/// A take-out request as asked.
#[derive(Debug, Clone)]
pub struct TakeOutRequest {
    pub item: TakeOutItem,
    /// The return date: `YYYY-MM-DD` (the end of that day in Japan) or `YYYY-MM-DDTHH:MM` (JST).
    pub until: String,
    pub reason: String,
}

/// Signals of this area.
pub const TAKE_OUT_SIGNAL_KINDS: [&str; 1] = ["take_out_overdue"];

/// `YYYY-MM-DD` → the last millisecond of that day in Japan; `YYYY-MM-DDTHH:MM` → that minute.
fn parse_until(text: &str) -> Result<UnixMillis, CoreError> {
    let end_of_day = crate::jst::day_start(text).map(|start| UnixMillis(start.0 + crate::jst::DAY_MS - 1));
    end_of_day.or_else(|| crate::jst::minute(text)).ok_or_else(|| {
        CoreError::invalid(
            "until",
            ErrorCode::InvalidValue,
            "the return date is written YYYY-MM-DD or YYYY-MM-DDTHH:MM (Japan time)",
        )
    })
}

/// A USB serial as devices report it: 4–64 letters, digits and `._-:`; compared without case.
fn check_serial(serial: &str) -> Result<String, CoreError> {
    let serial = serial.trim();
    let ok = (4..=64).contains(&serial.len())
        && serial.chars().all(|c| c.is_ascii_alphanumeric() || "._-:".contains(c));
    if !ok {
        return Err(CoreError::invalid(
            "usb_serial",
            ErrorCode::InvalidValue,
            "a USB serial number is 4 to 64 letters, digits and . _ - : (as shown on the PC's page)",
        ));
    }
    Ok(serial.to_ascii_uppercase())
}

impl TakeOutItem {
    fn content(&self, until: UnixMillis) -> serde_json::Value {
        let (item, key, value) = match self {
            TakeOutItem::Device(id) => ("device", "device", id),
            TakeOutItem::Usb(serial) => ("usb", "usb_serial", serial),
            TakeOutItem::Paper(text) => ("paper", "paper", text),
        };
        serde_json::json!({ "item": item, key: value, "until": until.0 })
    }

    /// Reads a stored request's content back.
    fn from_content(content: &serde_json::Value) -> Option<TakeOutItem> {
        let text = |key: &str| content.get(key).and_then(serde_json::Value::as_str).map(str::to_owned);
        match content.get("item")?.as_str()? {
            "device" => text("device").map(TakeOutItem::Device),
            "usb" => text("usb_serial").map(TakeOutItem::Usb),
            "paper" => text("paper").map(TakeOutItem::Paper),
            _ => None,
        }
    }
}

/// A take-out that was granted: what, from when to when, whether it came back.
#[derive(Debug, Clone)]
pub struct TakeOutGrant {
    pub approval: Approval,
    pub item: TakeOutItem,
    /// When it was approved.
    pub from: UnixMillis,
    /// The return date, or the return when it came back earlier.
    pub to: UnixMillis,
    pub returned: bool,
}

impl TakeOutGrant {
    fn covers(&self, t: UnixMillis) -> bool {
        self.from <= t && t <= self.to
    }

    /// Whether this take-out explains a signal of `kind` from a PC at `time`: the PC itself off
    /// its networks, or the stick (by serial, without case) plugged in.
    pub(crate) fn explains(
        &self,
        kind: &str,
        device_id: Option<&str>,
        serial: Option<&str>,
        time: UnixMillis,
    ) -> bool {
        self.covers(time)
            && match (&self.item, kind) {
                (TakeOutItem::Device(id), "off_network") => device_id == Some(id.as_str()),
                (TakeOutItem::Usb(stick), "usb_attached") => {
                    serial.is_some_and(|s| s.eq_ignore_ascii_case(stick))
                }
                _ => false,
            }
    }

    fn overdue(&self, now: UnixMillis) -> bool {
        !self.returned && self.approval.state != ApprovalState::Cancelled && self.to < now
    }
}

impl Core {
    /// Asks to take a PC, a USB stick or a paper file out until a date. A PC must be the
    /// requester's own or one in their people scope; the date must be in the future and within
    /// the take-out policy's longest grant.
    pub async fn request_take_out(
        &self,
        principal: &Principal,
        asked: &TakeOutRequest,
        ctx: &RequestContext,
    ) -> Result<Approval, CoreError> {
        let item = match &asked.item {
            TakeOutItem::Device(id) => {
                check_id(id, "device")?;
                let device = self.base.store.read().await?.device(id).await?;
                let own = device.as_ref().is_some_and(|d| d.user_id.as_deref() == Some(&principal.user.id));
                if !own {
                    self.base
                        .device_in_scope(
                            principal,
                            Permission::DevicesRead,
                            id,
                            &actions::APPROVAL_REQUEST,
                            ctx,
                        )
                        .await?;
                }
                if device.as_ref().is_some_and(|d| d.revoked_at.is_some()) {
                    return Err(CoreError::invalid("device", ErrorCode::InvalidValue, "this PC is revoked"));
                }
                TakeOutItem::Device(id.clone())
            }
            TakeOutItem::Usb(serial) => TakeOutItem::Usb(check_serial(serial)?),
            TakeOutItem::Paper(text) => {
                let text = text.trim();
                if text.is_empty() || text.chars().count() > 200 || text.chars().any(char::is_control) {
                    return Err(CoreError::invalid(
                        "paper",
                        ErrorCode::InvalidValue,
                        "describe the paper file in 1 to 200 characters of one line (no customer's data)",
                    ));
                }
                TakeOutItem::Paper(text.to_owned())
            }
        };
        let until = parse_until(&asked.until)?;
        let now = self.now();
        let longest = self.approvals.policy(ApprovalKind::TakeOut).await?.grant_valid_ms;
        if until <= now || until.0 - now.0 > longest {
            return Err(CoreError::invalid(
                "until",
                ErrorCode::InvalidValue,
                format!("the return date is in the future and at most {} days away", longest / 86_400_000),
            ));
        }
        let new = NewRequest {
            kind: ApprovalKind::TakeOut,
            content: item.content(until),
            reason: asked.reason.clone(),
        };
        self.approvals.request(principal, &new, ctx).await
    }

    /// The PCs the principal may ask to take out: their own, and those in their people scope.
    pub async fn take_out_devices(
        &self,
        principal: &Principal,
    ) -> Result<Vec<crate::devices::DeviceRecord>, CoreError> {
        let all = self.base.store.read().await?.list_devices().await?;
        let (own, others): (Vec<_>, Vec<_>) = all
            .into_iter()
            .filter(|d| d.revoked_at.is_none())
            .partition(|d| d.user_id.as_deref() == Some(principal.user.id.as_str()));
        let mut devices = own;
        if principal.can(Permission::DevicesRead) {
            devices.extend(self.base.devices_in_scope(principal, others).await?);
        }
        devices.sort_by(|a, b| a.hostname.cmp(&b.hostname));
        Ok(devices)
    }

    /// Take-outs granted that were out at some time since `since`, or are out now.
    pub async fn take_out_grants(&self, since: UnixMillis) -> Result<Vec<TakeOutGrant>, CoreError> {
        let mut read = self.base.store.read().await?;
        let mut grants = Vec::new();
        for approval in read.take_out_grants(since).await? {
            let content: serde_json::Value = serde_json::from_str(&approval.content).unwrap_or_default();
            let Some(item) = TakeOutItem::from_content(&content) else { continue };
            let Some(end) = approval.grant_expires_at else { continue };
            let from = read
                .approval_decisions(&approval.id)
                .await?
                .iter()
                .filter(|d| d.approve)
                .map(|d| d.at)
                .max()
                .unwrap_or(approval.created_at);
            // Returned (or withdrawn) before the date: out until then.
            let closed_early = matches!(approval.state, ApprovalState::Used | ApprovalState::Cancelled);
            let to = match approval.closed_at {
                Some(closed) if closed_early => closed.min(end),
                _ => end,
            };
            grants.push(TakeOutGrant {
                returned: approval.state == ApprovalState::Used,
                approval,
                item,
                from,
                to,
            });
        }
        Ok(grants)
    }

    /// The PCs out under a valid take-out now (the floor marks them instead of flagging them).
    pub async fn devices_taken_out(&self) -> Result<std::collections::HashSet<String>, CoreError> {
        let now = self.now();
        Ok(self
            .take_out_grants(now)
            .await?
            .into_iter()
            .filter(|g| g.covers(now))
            .filter_map(|g| match g.item {
                TakeOutItem::Device(id) => Some(id),
                _ => None,
            })
            .collect())
    }

    /// The floor (`Devices::floor`) with each PC out under a valid take-out marked.
    pub async fn floor(&self, principal: &Principal) -> Result<Vec<crate::devices::FloorRow>, CoreError> {
        let mut rows = self.devices.floor(principal).await?;
        let out = self.devices_taken_out().await?;
        for row in &mut rows {
            row.taken_out = row.device.as_ref().is_some_and(|d| out.contains(&d.id));
        }
        Ok(rows)
    }

    /// Marks off-network and USB signals that a valid take-out explains, and adds a signal for
    /// each take-out past its date and not returned (of the people the principal sees).
    pub(crate) async fn take_out_signals(
        &self,
        principal: &Principal,
        signals: &mut Vec<Signal>,
        filter: &crate::signals::SignalFilter,
    ) -> Result<(), CoreError> {
        let oldest = signals.iter().map(|s| s.time).min().unwrap_or(filter.since).min(filter.since);
        let grants = self.take_out_grants(oldest).await?;
        if grants.is_empty() {
            return Ok(());
        }
        for signal in signals.iter_mut() {
            let device = signal.device.as_ref().map(|d| d.id.as_str());
            let serial = signal.details.get("serial").and_then(serde_json::Value::as_str);
            let explained = grants.iter().find(|g| g.explains(&signal.kind, device, serial, signal.time));
            signal.take_out = explained.map(|g| g.approval.id.clone());
        }
        if filter.kinds(&TAKE_OUT_SIGNAL_KINDS).is_empty() {
            return Ok(());
        }
        let now = self.now();
        let mut read = self.base.store.read().await?;
        for g in grants.iter().filter(|g| g.overdue(now)) {
            let Some(person) = read.user_by_id(&g.approval.requester_id).await? else { continue };
            let other_team = filter.team_id.as_ref().is_some_and(|t| person.team_id.as_ref() != Some(t));
            if !crate::Base::sees_person(principal, &person) || other_team {
                continue;
            }
            let device = match &g.item {
                TakeOutItem::Device(id) => read.device(id).await?,
                _ => None,
            };
            let other_device =
                filter.device_id.as_ref().is_some_and(|f| device.as_ref().is_none_or(|d| &d.id != f));
            if other_device {
                continue;
            }
            let mut details = serde_json::Map::new();
            details.insert("approval".into(), g.approval.id.clone().into());
            details.insert("until".into(), g.to.rfc3339().into());
            signals.push(Signal {
                id: format!("take-out-{}", g.approval.id),
                time: g.to,
                kind: "take_out_overdue".into(),
                device,
                person: Some(crate::User::from(person)),
                details,
                take_out: None,
            });
        }
        Ok(())
    }

    /// Records that what was taken out came back: by someone who may decide the request (the
    /// requester's supervisor, a security admin), never the requester. Closes the take-out.
    pub async fn record_return(
        &self,
        principal: &Principal,
        approval_id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let view = self.approvals.approval(principal, approval_id, ctx).await?;
        let request = view.request;
        let decider = mamori_domain::approval::Decider {
            user_id: &principal.user.id,
            roles: &principal.user.roles,
            team_id: principal.user.team_id.as_deref(),
            second_factor_at: None,
        };
        let refusal = if request.kind != ApprovalKind::TakeOut || request.grant_expires_at.is_none() {
            Some("not_taken_out")
        } else if request.requester_id == principal.user.id {
            Some("own_request")
        } else if !view.policy.is_approver(&decider, request.requester_team.as_deref()) {
            Some("not_an_approver")
        } else {
            None
        };
        if let Some(reason) = refusal {
            let e = AuditEvent::of(&actions::TAKE_OUT_RETURN, principal.actor(), Outcome::Denied)
                .object(format!("approval:{approval_id}"))
                .detail("reason", reason);
            self.base.record_denied(ctx, e).await;
            let message = match reason {
                "own_request" => "the return is recorded by your supervisor, not by you (four eyes)",
                "not_taken_out" => "this is not a granted take-out",
                _ => "your roles do not record returns for this team",
            };
            return Err(CoreError::ApprovalRefused { reason, message });
        }
        let now = self.now();
        let overdue = request.grant_expires_at.is_some_and(|t| t < now);
        let mut tx = self.base.store.begin().await?;
        let moved = match request.state {
            ApprovalState::Granted | ApprovalState::Expired => {
                tx.move_approval(approval_id, request.state, ApprovalState::Used, now, None).await?
            }
            _ => false,
        };
        if !moved {
            return Err(CoreError::Conflict("this take-out is already closed".into()));
        }
        let e = AuditEvent::of(&actions::TAKE_OUT_RETURN, principal.actor(), Outcome::Success)
            .object(format!("approval:{approval_id}"))
            .detail("overdue", overdue.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        self.approvals.changed();
        Ok(())
    }

    /// Take-outs out now (or overdue) whose return the principal may record.
    pub async fn take_outs_to_return(
        &self,
        principal: &Principal,
    ) -> Result<Vec<crate::approvals::ApprovalView>, CoreError> {
        let now = self.now();
        let mut out = Vec::new();
        for g in self.take_out_grants(now).await? {
            if g.returned || g.approval.state == ApprovalState::Cancelled {
                continue;
            }
            let Ok(view) = self.approvals.view_for(g.approval).await else { continue };
            let decider = mamori_domain::approval::Decider {
                user_id: &principal.user.id,
                roles: &principal.user.roles,
                team_id: principal.user.team_id.as_deref(),
                second_factor_at: None,
            };
            if view.request.requester_id != principal.user.id
                && view.policy.is_approver(&decider, view.request.requester_team.as_deref())
            {
                out.push(view);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_dates_are_japanese() {
        // The end of 2026-12-01 in Japan is 2026-12-01 14:59:59.999 UTC.
        assert_eq!(parse_until("2026-12-01").unwrap().rfc3339(), "2026-12-01T14:59:59.999Z");
        assert_eq!(parse_until("2026-12-01T18:30").unwrap().rfc3339(), "2026-12-01T09:30:00.000Z");
        for bad in ["", "明日", "2026-13-01", "2026-12-01 18:30", "12/01/2026"] {
            assert!(parse_until(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn serials_are_checked_and_folded() {
        assert_eq!(check_serial(" 4c530001230312116325 ").unwrap(), "4C530001230312116325");
        for bad in ["abc", "has space 1234", "a\u{0}bcd", &"x".repeat(65)] {
            assert!(check_serial(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn content_reads_back() {
        for item in [
            TakeOutItem::Device("d".into()),
            TakeOutItem::Usb("SERIAL01".into()),
            TakeOutItem::Paper("研修資料".into()),
        ] {
            assert_eq!(TakeOutItem::from_content(&item.content(UnixMillis(5))), Some(item));
        }
    }
}
