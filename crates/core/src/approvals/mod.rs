//! The approval engine (issue 15, item 1; DESIGN invariant 3): a request for a risky action,
//! decided by others under its kind's policy, and a grant bound to exactly what was asked, used
//! once across all replicas.
//!
//! - The rules (who decides, the four-eyes rule, the step-up window) are
//!   `mamori_domain::approval`'s; this applies them to stored requests.
//! - A decision needs a [`StepUp`] from identity: a TOTP code given on the spot.
//! - A grant's use is a conditional update on the request's row — granted, unexpired, the same
//!   digest — so a second replica, a replay or a changed request finds nothing to use.
//! - Every step is an audit entry in the transaction that makes it; every refusal one with
//!   outcome `denied` (invariant 9).

mod kinds;

use crate::identity::StepUp;
use crate::{CoreError, Principal, check_id, new_id};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::approval::{
    ApprovalKind, ApprovalPolicy, ApprovalState, Asked, Decider, DecisionRefused, may_decide,
};
use mamori_domain::{Role, UnixMillis};
use mamori_proto::ErrorCode;
use mamori_store::ApprovalDecision;
use sha2::Digest;
use std::sync::Arc;
use std::time::Duration;

pub use mamori_store::ApprovalRecord as Approval;
pub use mamori_store::WebhookNotification as Notification;

/// The approval service.
#[derive(Debug)]
pub struct Approvals {
    base: Arc<crate::base::Base>,
    /// Counts the changes made in this process (a request, a decision, a withdrawal, a use, an
    /// expiry): the live inbox waits on it.
    changes: tokio::sync::watch::Sender<u64>,
}

/// What a requester asks for.
#[derive(Debug, Clone)]
pub struct NewRequest {
    pub kind: ApprovalKind,
    /// What exactly: a JSON object of ids, codes and counts (the customers by id, the fields,
    /// the document, the recipients' domains) — never a customer's data.
    pub content: serde_json::Value,
    /// Why, in the requester's words.
    pub reason: String,
}

/// A request with its decisions, as the inbox shows it.
#[derive(Debug, Clone)]
pub struct ApprovalView {
    pub request: Approval,
    pub decisions: Vec<ApprovalDecision>,
    pub policy: ApprovalPolicy,
    /// "display name (user name)" of the requester and of each decider, and the name of the
    /// client company or the PC the request is of, by id: whoever sees a request sees who and
    /// what is on it.
    pub names: std::collections::HashMap<String, String>,
}

/// A grant that could not be used, and the `denied` entry that says why.
#[derive(Debug)]
pub(crate) struct GrantRefused {
    event: AuditEvent,
    changed: bool,
}

/// Each kind's policy, read once for a listing.
struct Policies(std::collections::HashMap<ApprovalKind, ApprovalPolicy>);

impl Policies {
    fn of(&self, kind: ApprovalKind) -> ApprovalPolicy {
        self.0.get(&kind).cloned().unwrap_or_else(|| kind.default_policy())
    }
}

/// Counts for the approvals badge.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Badge {
    pub to_decide: usize,
    pub mine_pending: usize,
    pub mine_granted: usize,
}

impl Badge {
    pub fn is_empty(&self) -> bool {
        self.to_decide + self.mine_pending + self.mine_granted == 0
    }
}

/// The inbox: requests the principal may decide, and their own.
#[derive(Debug, Clone, Default)]
pub struct Inbox {
    pub to_decide: Vec<ApprovalView>,
    pub mine: Vec<ApprovalView>,
}

const MAX_CONTENT_BYTES: usize = 4096;
const MAX_REASON_CHARS: usize = 500;

/// The digest a grant is bound to: SHA-256 over the content's canonical JSON (object keys in
/// order — serde_json's map is ordered — no spaces).
pub fn content_digest(content: &serde_json::Value) -> String {
    let canonical = content.to_string();
    sha2::Sha256::digest(canonical.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn check_content(content: &serde_json::Value) -> Result<(), CoreError> {
    let bad = |m: &str| CoreError::invalid("content", ErrorCode::InvalidValue, m.to_owned());
    let Some(object) = content.as_object() else {
        return Err(bad("the request's content is a JSON object"));
    };
    if object.is_empty() {
        return Err(bad("the request's content says what is asked for"));
    }
    if content.to_string().len() > MAX_CONTENT_BYTES {
        return Err(bad("the request's content is at most 4 KiB"));
    }
    Ok(())
}

/// The principal as the four-eyes rules see a decider.
fn decider(principal: &Principal, second_factor_at: Option<UnixMillis>) -> Decider<'_> {
    Decider {
        user_id: &principal.user.id,
        roles: &principal.user.roles,
        team_id: principal.user.team_id.as_deref(),
        second_factor_at,
    }
}

/// A stored request as the four-eyes rules see it.
/// A request that says until when (a take-out's return date) is decided before then, or not at
/// all: its deadline is the earlier of the two.
fn asked<'a>(request: &'a Approval, decided_by: &'a [String]) -> Asked<'a> {
    Asked {
        requester_id: &request.requester_id,
        requester_team: request.requester_team.as_deref(),
        state: request.state,
        decide_by: until(request).map_or(request.decide_by, |u| u.min(request.decide_by)),
        decided_by,
    }
}

/// The `until` a request's content names, if any.
fn until(request: &Approval) -> Option<UnixMillis> {
    let content: serde_json::Value = serde_json::from_str(&request.content).ok()?;
    content.get("until").and_then(serde_json::Value::as_i64).map(UnixMillis)
}

/// The refusal of a grant that was used, expired or never given.
fn not_granted() -> CoreError {
    CoreError::ApprovalRefused {
        reason: "not_granted",
        message: "no valid grant for this: it was used, expired, or never approved",
    }
}

fn refusal_message(r: DecisionRefused) -> &'static str {
    match r {
        DecisionRefused::OwnRequest => "you cannot decide your own request (four eyes)",
        DecisionRefused::DecidedAlready => "you have decided on this request already",
        DecisionRefused::NotPending => "this request is no longer waiting for a decision",
        DecisionRefused::TooLate => "this request was not decided in time; the requester may ask again",
        DecisionRefused::NotAnApprover => {
            "your roles do not decide this kind of request, or not for this team"
        }
        DecisionRefused::StepUpNeeded => "give your TOTP code again to decide (step-up)",
    }
}

impl Approvals {
    pub(crate) fn new(base: Arc<crate::base::Base>) -> Self {
        Approvals { base, changes: tokio::sync::watch::channel(0).0 }
    }

    /// Wakes when a request changed in this process. Changes through another replica are not
    /// seen here: a live view also refreshes on a timer.
    pub fn watch(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub(crate) fn changed(&self) {
        self.changes.send_modify(|v| *v = v.wrapping_add(1));
    }

    /// Queues notifications of this step in the step's transaction: for the webhook, and by
    /// e-mail to the people concerned — a new request to everyone who could decide it, a
    /// decision or an expiry to the requester (when each is configured and has an address).
    /// They tell the kind, the state, who asked, and the times — never the content or the
    /// reason, which may name a customer.
    async fn notify_in(
        &self,
        tx: &mut Box<dyn mamori_store::StoreTx>,
        request: &Approval,
        event: &str,
    ) -> Result<(), CoreError> {
        let requester = tx.user_by_id(&request.requester_id).await?;
        if self.base.policies.notify_mail {
            self.mail_in(tx, request, event, requester.as_ref()).await?;
        }
        if !self.base.policies.notify_webhook {
            return Ok(());
        }
        let payload = serde_json::json!({
            "event": event,
            "approval": {
                "id": request.id,
                "kind": request.kind.as_str(),
                "state": request.state.as_str(),
                "requester": requester.map(|u| format!("{} ({})", u.display_name, u.username)),
                "created_at": request.created_at.rfc3339(),
                "decide_by": request.decide_by.rfc3339(),
                "grant_expires_at": request.grant_expires_at.map(|t| t.rfc3339()),
            },
            "path": "/approvals",
        });
        self.base.queue_webhook(tx, format!("approval:{}", request.id), event, payload).await
    }

    /// The e-mail of one step (see [`Approvals::notify_in`]), once per request and step.
    async fn mail_in(
        &self,
        tx: &mut Box<dyn mamori_store::StoreTx>,
        request: &Approval,
        event: &str,
        requester: Option<&mamori_store::UserRecord>,
    ) -> Result<(), CoreError> {
        let who = requester.map_or_else(String::new, |u| u.display_name.clone());
        let recipients: Vec<String> = match event {
            "approval.request" => {
                let policy = self.policy(request.kind).await?;
                tx.list_users()
                    .await?
                    .into_iter()
                    .filter(|u| {
                        u.id != request.requester_id
                            && u.status == mamori_domain::identity::UserStatus::Active
                            && policy.is_approver(
                                &Decider {
                                    user_id: &u.id,
                                    roles: &u.roles,
                                    team_id: u.team_id.as_deref(),
                                    second_factor_at: None,
                                },
                                request.requester_team.as_deref(),
                            )
                    })
                    .filter_map(|u| u.mail_address)
                    .collect()
            }
            // A partial approval (more are needed) waits on; the requester hears of the outcome.
            _ if request.state == ApprovalState::Pending => Vec::new(),
            "approval.approve" | "approval.deny" | "approval.expire" => {
                requester.and_then(|u| u.mail_address.clone()).into_iter().collect()
            }
            _ => Vec::new(),
        };
        if recipients.is_empty() {
            return Ok(());
        }
        let (kind_ja, kind_en) = request.kind.words();
        let (state_ja, state_en) = match (event, request.state) {
            ("approval.request", _) => ("承認依頼", "approval asked"),
            (_, ApprovalState::Granted) => ("承認されました", "approved"),
            (_, ApprovalState::Denied) => ("却下されました", "denied"),
            _ => ("期限切れ", "expired"),
        };
        let subject = format!("[Mamori] {kind_ja}の{state_ja} / {kind_en}: {state_en} ({who})");
        let by = crate::jst::format_minute;
        let mut body = format!(
            "{kind_ja}: {state_ja}\n{kind_en}: {state_en}\n\n依頼者 (asked by): {who}\n依頼日時 (asked at): {asked}\n",
            asked = by(request.created_at),
        );
        if request.state == ApprovalState::Pending {
            body += &format!("判断期限 (decide by): {}\n", by(asked(request, &[]).decide_by));
        }
        if let Some(t) = request.grant_expires_at {
            body += &format!("有効期限 (use by): {}\n", by(t));
        }
        body += &format!(
            "\n内容と理由は Mamori の承認画面で確認してください (see the request in Mamori):\n{}/approvals\n",
            self.base.policies.public_url
        );
        let key = format!("approval:{}:{}", request.id, event);
        self.base.queue_mail_to(tx, recipients, key, subject, body).await?;
        Ok(())
    }

    /// The policy of a kind: the one the security admin set, else the default.
    pub async fn policy(&self, kind: ApprovalKind) -> Result<ApprovalPolicy, CoreError> {
        let key = format!("approval_policy:{}", kind.as_str());
        match self.base.store.read().await?.setting(&key).await? {
            Some(json) => serde_json::from_str::<ApprovalPolicy>(&json)
                .ok()
                .and_then(|p| p.checked().ok())
                .ok_or(CoreError::SettingUnreadable { key }),
            None => Ok(kind.default_policy()),
        }
    }

    /// Makes a request. Anyone signed in may ask; what may be asked for is the kind's caller's
    /// business (a print of a customer one may read, say).
    pub async fn request(
        &self,
        principal: &Principal,
        new: &NewRequest,
        ctx: &RequestContext,
    ) -> Result<Approval, CoreError> {
        check_content(&new.content)?;
        let reason = new.reason.trim();
        if reason.is_empty()
            || reason.chars().count() > MAX_REASON_CHARS
            || reason.chars().any(char::is_control)
        {
            return Err(CoreError::invalid(
                "reason",
                ErrorCode::InvalidValue,
                "say why, in at most 500 characters of one line",
            ));
        }
        let policy = self.policy(new.kind).await?;
        let now = self.base.now();
        let request = Approval {
            id: new_id(),
            kind: new.kind,
            requester_id: principal.user.id.clone(),
            requester_team: principal.user.team_id.clone(),
            content: new.content.to_string(),
            digest: content_digest(&new.content),
            reason: reason.to_owned(),
            state: ApprovalState::Pending,
            created_at: now,
            decide_by: UnixMillis(now.0 + policy.decide_within_ms),
            closed_at: None,
            grant_expires_at: None,
        };
        let mut tx = self.base.store.begin().await?;
        tx.insert_approval(&request).await?;
        let e = AuditEvent::of(&actions::APPROVAL_REQUEST, principal.actor(), Outcome::Success)
            .object(format!("approval:{}", request.id))
            .detail("kind", new.kind.as_str())
            .detail("digest", request.digest[..16].to_owned());
        self.base.audit(&mut tx, ctx, e).await?;
        self.notify_in(&mut tx, &request, "approval.request").await?;
        tx.commit().await?;
        self.changed();
        Ok(request)
    }

    /// Approves or denies: the four-eyes rules, then the decision and — when it completes the
    /// approvals the policy needs — the grant, in one transaction. A refusal is recorded.
    pub async fn decide(
        &self,
        principal: &Principal,
        id: &str,
        approve: bool,
        step_up: Option<&StepUp>,
        comment: &str,
        ctx: &RequestContext,
    ) -> Result<Approval, CoreError> {
        check_id(id, "approval")?;
        let comment: String = comment.chars().filter(|c| !c.is_control()).take(MAX_REASON_CHARS).collect();
        let now = self.base.now();
        let action = if approve { &actions::APPROVAL_APPROVE } else { &actions::APPROVAL_DENY };
        let mut tx = self.base.store.begin().await?;
        let request = tx.approval(id).await?.ok_or(CoreError::NotFound { what: "approval" })?;
        let policy = self.policy(request.kind).await?;
        let decisions = tx.approval_decisions(id).await?;
        let decided_by: Vec<String> = decisions.iter().map(|d| d.decider_id.clone()).collect();
        let asked = asked(&request, &decided_by);
        let who = decider(principal, step_up.filter(|s| s.user_id == principal.user.id).map(|s| s.at));
        if let Err(refused) = may_decide(&policy, &asked, &who, now) {
            drop(tx);
            let e = AuditEvent::of(action, principal.actor(), Outcome::Denied)
                .object(format!("approval:{id}"))
                .detail("kind", request.kind.as_str())
                .detail("reason", refused.code());
            self.base.record_denied(ctx, e).await;
            return Err(CoreError::ApprovalRefused {
                reason: refused.code(),
                message: refusal_message(refused),
            });
        }
        let decision = ApprovalDecision {
            approval_id: id.to_owned(),
            decider_id: principal.user.id.clone(),
            approve,
            at: now,
            comment,
        };
        tx.insert_approval_decision(&decision).await?;
        let approvals = decisions.iter().filter(|d| d.approve).count() + usize::from(approve);
        let to = if !approve {
            Some(ApprovalState::Denied)
        } else if approvals >= usize::from(policy.approvals) {
            Some(ApprovalState::Granted)
        } else {
            None
        };
        if let Some(to) = to {
            // A grant lasts the policy's time — or less, when the request says until when (a
            // take-out's return date).
            let lasts = UnixMillis(now.0 + policy.grant_valid_ms);
            let expires =
                (to == ApprovalState::Granted).then(|| until(&request).map_or(lasts, |u| u.min(lasts)));
            if !tx.move_approval(id, ApprovalState::Pending, to, now, expires).await? {
                return Err(CoreError::Conflict("this request was decided meanwhile".into()));
            }
        }
        let mut e = AuditEvent::of(action, principal.actor(), Outcome::Success)
            .object(format!("approval:{id}"))
            .detail("kind", request.kind.as_str());
        if approve {
            e = e.detail("granted", (to == Some(ApprovalState::Granted)).to_string());
        }
        self.base.audit(&mut tx, ctx, e).await?;
        let after = tx.approval(id).await?.ok_or(CoreError::NotFound { what: "approval" })?;
        self.notify_in(&mut tx, &after, action.name).await?;
        tx.commit().await?;
        self.changed();
        Ok(after)
    }

    /// The requester withdraws a request, or a grant they no longer need.
    pub async fn cancel(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        check_id(id, "approval")?;
        let mut tx = self.base.store.begin().await?;
        let Some(request) = tx.approval(id).await? else {
            return Err(CoreError::NotFound { what: "approval" });
        };
        if request.requester_id != principal.user.id {
            drop(tx);
            let e = AuditEvent::of(&actions::APPROVAL_CANCEL, principal.actor(), Outcome::Denied)
                .object(format!("approval:{id}"))
                .detail("kind", request.kind.as_str())
                .detail("reason", "not_requester");
            self.base.record_denied(ctx, e).await;
            return Err(CoreError::NotFound { what: "approval" });
        }
        let open = matches!(request.state, ApprovalState::Pending | ApprovalState::Granted);
        if !open
            || !tx.move_approval(id, request.state, ApprovalState::Cancelled, self.base.now(), None).await?
        {
            return Err(CoreError::Conflict("this request is already closed".into()));
        }
        let e = AuditEvent::of(&actions::APPROVAL_CANCEL, principal.actor(), Outcome::Success)
            .object(format!("approval:{id}"))
            .detail("kind", request.kind.as_str());
        self.base.audit(&mut tx, ctx, e).await?;
        let after = Approval { state: ApprovalState::Cancelled, ..request };
        self.notify_in(&mut tx, &after, "approval.cancel").await?;
        tx.commit().await?;
        self.changed();
        Ok(())
    }

    /// Uses a grant, once, for exactly the content that was approved; in the caller's
    /// transaction, so the action it allows and its use commit or roll back together. A refusal
    /// comes back as [`GrantRefused`]: the caller drops its transaction, then records it with
    /// [`Approvals::refused`] (a refusal is written outside the refused transaction).
    pub(crate) async fn use_grant_in(
        &self,
        tx: &mut Box<dyn mamori_store::StoreTx>,
        principal: &Principal,
        id: &str,
        kind: ApprovalKind,
        content: &serde_json::Value,
        ctx: &RequestContext,
    ) -> Result<Result<(), GrantRefused>, CoreError> {
        check_id(id, "approval")?;
        let request = tx.approval(id).await?;
        let reason = match &request {
            None => Some("not_granted"),
            Some(r) if r.requester_id != principal.user.id => Some("not_requester"),
            Some(r) if r.kind != kind || r.digest != content_digest(content) => Some("changed"),
            Some(_) if !tx.use_approval_grant(id, &content_digest(content), self.base.now()).await? => {
                Some("not_granted")
            }
            Some(_) => None,
        };
        if let Some(reason) = reason {
            let event = AuditEvent::of(&actions::APPROVAL_USE, principal.actor(), Outcome::Denied)
                .object(format!("approval:{id}"))
                .detail("kind", kind.as_str())
                .detail("reason", reason);
            return Ok(Err(GrantRefused { event, changed: reason == "changed" }));
        }
        let e = AuditEvent::of(&actions::APPROVAL_USE, principal.actor(), Outcome::Success)
            .object(format!("approval:{id}"))
            .detail("kind", kind.as_str());
        self.base.audit(tx, ctx, e).await?;
        Ok(Ok(()))
    }

    /// A grant found unusable before any transaction (not granted, expired, not this kind):
    /// recorded as a refused use, like one [`Approvals::use_grant_in`] refuses.
    pub(crate) async fn not_usable(
        &self,
        principal: &Principal,
        id: &str,
        kind: ApprovalKind,
        ctx: &RequestContext,
    ) -> CoreError {
        let event = AuditEvent::of(&actions::APPROVAL_USE, principal.actor(), Outcome::Denied)
            .object(format!("approval:{id}"))
            .detail("kind", kind.as_str())
            .detail("reason", "not_granted");
        self.refused(ctx, GrantRefused { event, changed: false }).await
    }

    /// Records a refused use (after its transaction is gone) and says why.
    pub(crate) async fn refused(&self, ctx: &RequestContext, r: GrantRefused) -> CoreError {
        self.base.record_denied(ctx, r.event).await;
        if r.changed {
            CoreError::ApprovalRefused {
                reason: "changed",
                message: "this is not what was approved: ask again",
            }
        } else {
            not_granted()
        }
    }

    /// Uses a grant on its own transaction (for actions whose work is done elsewhere, such as a
    /// download streamed after this returns).
    pub async fn use_grant(
        &self,
        principal: &Principal,
        id: &str,
        kind: ApprovalKind,
        content: &serde_json::Value,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let mut tx = self.base.store.begin().await?;
        match self.use_grant_in(&mut tx, principal, id, kind, content, ctx).await? {
            Ok(()) => {
                tx.commit().await?;
                self.changed();
                Ok(())
            }
            Err(refused) => {
                drop(tx);
                Err(self.refused(ctx, refused).await)
            }
        }
    }

    /// A request with its decisions and the names of the people on it.
    async fn view(
        &self,
        request: Approval,
        decisions: Vec<ApprovalDecision>,
        policy: ApprovalPolicy,
    ) -> Result<ApprovalView, CoreError> {
        let mut read = self.base.store.read().await?;
        let mut names = std::collections::HashMap::new();
        for id in std::iter::once(&request.requester_id).chain(decisions.iter().map(|d| &d.decider_id)) {
            if let Some(u) = read.user_by_id(id).await? {
                names.insert(u.id.clone(), format!("{} ({})", u.display_name, u.username));
            }
        }
        // The client company an export is of, the PC a take-out is of, by name.
        let content: serde_json::Value = serde_json::from_str(&request.content).unwrap_or_default();
        if let Some(client) = content.get("client").and_then(serde_json::Value::as_str)
            && let Some(unit) = read.org_unit(client).await?
        {
            names.insert(unit.id, unit.name);
        }
        if let Some(user) = content.get("user").and_then(serde_json::Value::as_str)
            && let Some(u) = read.user_by_id(user).await?
        {
            names.insert(u.id.clone(), format!("{} ({})", u.display_name, u.username));
        }
        // The client companies an outgoing-mail rule change names.
        if let Some(limits) = content.pointer("/policy/client_domains").and_then(serde_json::Value::as_object)
        {
            for client in limits.keys() {
                if let Some(unit) = read.org_unit(client).await? {
                    names.insert(unit.id, unit.name);
                }
            }
        }
        if let Some(device) = content.get("device").and_then(serde_json::Value::as_str)
            && let Some(pc) = read.device(device).await?
        {
            names.insert(pc.id, pc.hostname);
        }
        Ok(ApprovalView { request, decisions, policy, names })
    }

    /// A stored request with its decisions, policy and names (the caller has checked the
    /// principal may see it).
    pub(crate) async fn view_for(&self, request: Approval) -> Result<ApprovalView, CoreError> {
        let policy = self.policy(request.kind).await?;
        let decisions = self.base.store.read().await?.approval_decisions(&request.id).await?;
        self.view(request, decisions, policy).await
    }

    /// What the principal may decide now, and their own requests (the latest 50). Each kind's
    /// policy is read once, and names only for the requests shown.
    pub async fn inbox(&self, principal: &Principal) -> Result<Inbox, CoreError> {
        let (to_decide, mine, policies) = self.waiting(principal).await?;
        let mut inbox = Inbox::default();
        for (request, decisions) in to_decide {
            let kind_policy = policies.of(request.kind);
            inbox.to_decide.push(self.view(request, decisions, kind_policy).await?);
        }
        for request in mine {
            let decisions = self.base.store.read().await?.approval_decisions(&request.id).await?;
            let kind_policy = policies.of(request.kind);
            inbox.mine.push(self.view(request, decisions, kind_policy).await?);
        }
        Ok(inbox)
    }

    /// The badge the floor and the workspace show: requests waiting for the principal's
    /// decision, their own requests waiting, and their grants not used yet. The same requests
    /// as the inbox, without reading the names to show them.
    pub async fn badge(&self, principal: &Principal) -> Result<Badge, CoreError> {
        let (to_decide, mine, _) = self.waiting(principal).await?;
        let count = |state| mine.iter().filter(|r| r.state == state).count();
        Ok(Badge {
            to_decide: to_decide.len(),
            mine_pending: count(ApprovalState::Pending),
            mine_granted: count(ApprovalState::Granted),
        })
    }

    /// The pending requests the principal may decide (once they step up), with their
    /// decisions; their own latest 50; and the policies read for them. A request's decisions
    /// are read only when the principal's roles and team could decide it — an operator, who
    /// decides nothing, costs two queries whatever the queue.
    async fn waiting(
        &self,
        principal: &Principal,
    ) -> Result<(Vec<(Approval, Vec<ApprovalDecision>)>, Vec<Approval>, Policies), CoreError> {
        let now = self.base.now();
        let mut policies = Policies(std::collections::HashMap::new());
        for kind in ApprovalKind::ALL {
            policies.0.insert(kind, self.policy(kind).await?);
        }
        let (pending, mine) = {
            let mut read = self.base.store.read().await?;
            (read.pending_approvals(500).await?, read.approvals_of(&principal.user.id, 50).await?)
        };
        let who = decider(principal, Some(now));
        let mut to_decide = Vec::new();
        for request in pending {
            let kind_policy = policies.of(request.kind);
            if request.requester_id == principal.user.id
                || !kind_policy.is_approver(&who, request.requester_team.as_deref())
            {
                continue;
            }
            let decisions = self.base.store.read().await?.approval_decisions(&request.id).await?;
            let decided_by: Vec<String> = decisions.iter().map(|d| d.decider_id.clone()).collect();
            if may_decide(&kind_policy, &asked(&request, &decided_by), &who, now).is_ok() {
                to_decide.push((request, decisions));
            }
        }
        Ok((to_decide, mine, policies))
    }

    /// A request by id, for its requester, someone who may decide it, or an auditor; to anyone
    /// else it is not found, and the attempt recorded.
    pub async fn approval(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<ApprovalView, CoreError> {
        check_id(id, "approval")?;
        let request = self.base.store.read().await?.approval(id).await?;
        let request = request.ok_or(CoreError::NotFound { what: "approval" })?;
        if !self.may_see(principal, &request).await? {
            let e = AuditEvent::of(&actions::APPROVAL_READ, principal.actor(), Outcome::Denied)
                .object(format!("approval:{id}"))
                .detail("reason", "not_involved");
            self.base.record_denied(ctx, e).await;
            return Err(CoreError::NotFound { what: "approval" });
        }
        let decisions = self.base.store.read().await?.approval_decisions(id).await?;
        let policy = self.policy(request.kind).await?;
        self.view(request, decisions, policy).await
    }

    /// Whether the principal may see a request: its requester, someone who may decide its kind
    /// (for its team), or an auditor.
    async fn may_see(&self, principal: &Principal, request: &Approval) -> Result<bool, CoreError> {
        Ok(request.requester_id == principal.user.id
            || self.decides(principal, request).await?
            || principal.user.roles.contains(&Role::Auditor))
    }

    /// Whether the principal's roles (and team) decide requests like this one.
    pub(crate) async fn decides(&self, principal: &Principal, request: &Approval) -> Result<bool, CoreError> {
        let policy = self.policy(request.kind).await?;
        Ok(policy.is_approver(&decider(principal, None), request.requester_team.as_deref()))
    }

    /// Notifications due for the webhook, claimed for a minute (another replica leaves them).
    pub async fn claim_notifications(&self, limit: i64) -> Result<Vec<Notification>, CoreError> {
        let now = self.base.now();
        if !self.base.store.read().await?.notifications_due(now).await? {
            return Ok(Vec::new());
        }
        let mut tx = self.base.store.begin().await?;
        let claimed = tx.claim_webhook_notifications(now, UnixMillis(now.0 + 60_000), limit).await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Records one delivery attempt: arrived, or failed — then tried again after 1 s, 2 s, 4 s …
    /// up to 5 minutes apart, and given up (`failed`) after [`NOTIFY_ATTEMPTS`] attempts.
    pub async fn record_notification(
        &self,
        n: &Notification,
        outcome: Result<(), String>,
    ) -> Result<(), CoreError> {
        let now = self.base.now();
        let attempts = n.attempts + 1;
        let (status, next_at, error, delivered) = match outcome {
            Ok(()) => ("delivered", now, None, Some(now)),
            Err(e) if attempts >= NOTIFY_ATTEMPTS => ("failed", now, Some(e), None),
            Err(e) => {
                let wait = (1_000i64 << (attempts - 1).min(20)).min(300_000);
                ("pending", UnixMillis(now.0 + wait), Some(e), None)
            }
        };
        let error: Option<String> = error.map(|e| e.chars().take(500).collect());
        let mut tx = self.base.store.begin().await?;
        tx.record_notification_attempt(&n.id, status, attempts, next_at, error.as_deref(), delivered).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The latest webhook deliveries (security admins: `settings.manage`).
    pub async fn notifications(
        &self,
        principal: &Principal,
        limit: i64,
        ctx: &RequestContext,
    ) -> Result<Vec<Notification>, CoreError> {
        self.base
            .permitted(principal, mamori_domain::Permission::SettingsManage, &actions::APPROVAL_READ, ctx)
            .await?;
        Ok(self.base.store.read().await?.webhook_notifications(limit.clamp(1, 1000)).await?)
    }

    /// Requests not decided in time and grants not used in time expire (run every minute).
    pub async fn expire_approvals(&self) -> Result<usize, CoreError> {
        let now = self.base.now();
        let mut tx = self.base.store.begin().await?;
        let expired = tx.expire_approvals(now).await?;
        for r in &expired {
            let e = AuditEvent::of(&actions::APPROVAL_EXPIRE, Actor::System, Outcome::Success)
                .object(format!("approval:{}", r.id))
                .detail("kind", r.kind.as_str())
                .detail("was", r.state.as_str());
            self.base.audit(&mut tx, &RequestContext::default(), e).await?;
            let after = Approval { state: ApprovalState::Expired, ..r.clone() };
            self.notify_in(&mut tx, &after, "approval.expire").await?;
        }
        tx.commit().await?;
        if !expired.is_empty() {
            self.changed();
        }
        Ok(expired.len())
    }
}

/// Attempts at delivering one notification before it is given up.
pub const NOTIFY_ATTEMPTS: i64 = 10;

/// How often the expiry sweep runs.
pub const EXPIRY_SWEEP: Duration = Duration::from_secs(60);
