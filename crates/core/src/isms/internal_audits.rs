//! Internal audits (issue 18, item 5; ISMS-7): audits planned against the SoA's controls and
//! reported, their findings tracked to closure (CAPA) — root cause, corrective action with an
//! owner and a due date, implementation, and an effectiveness check by someone other than the
//! owner. Every step is a row of the finding's history and an audit entry
//! (`internal_audit.change`, `internal_audit.finding`); a finding past its due date is a review
//! of the dashboard (`ReviewOf::Finding`), reminded by e-mail like the others.

use super::Isms;
use super::assets::display_names;
use super::check_user;
use crate::{CoreError, Principal, new_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::Permission;
use mamori_domain::isms::internal_audit::{
    AuditInput, FindingInput, FindingKind, FindingState, FindingStep, InternalAuditError,
};
use mamori_proto::ErrorCode;
use mamori_store::StoreTx;
pub use mamori_store::{AuditFindingRecord, FindingStepRecord, InternalAuditRecord};
use std::collections::HashMap;

fn refused(e: InternalAuditError) -> CoreError {
    let code = if e.message == "required" { ErrorCode::Required } else { ErrorCode::InvalidValue };
    CoreError::Invalid { field: e.field, code, message: e.message }
}

/// An audit, named.
#[derive(Debug, Clone)]
pub struct AuditView {
    pub record: InternalAuditRecord,
    pub auditor: Option<String>,
    /// The controls audited: (urn, `A.5.15 name`).
    pub controls: Vec<(String, String)>,
    /// Its findings: (all, not closed).
    pub findings: (usize, usize),
}

/// A step of a finding, named.
#[derive(Debug, Clone)]
pub struct StepView {
    pub record: FindingStepRecord,
    pub actor: Option<String>,
}

/// A finding, named, with its history.
#[derive(Debug, Clone)]
pub struct FindingView {
    pub record: AuditFindingRecord,
    /// `IA-<n> <title>`.
    pub audit: String,
    /// `A.5.15 name`.
    pub control: Option<String>,
    pub owner: Option<String>,
    /// Days to its due date while not closed; negative when overdue.
    pub days_left: Option<i64>,
    pub steps: Vec<StepView>,
}

/// The register: audits (latest first), findings (overdue first, closed last).
#[derive(Debug, Clone)]
pub struct AuditRegister {
    pub audits: Vec<AuditView>,
    pub findings: Vec<FindingView>,
}

/// Findings not closed that have a due date: (finding id, `F-<n> …`, due), for the
/// dashboard's reviews.
pub(crate) async fn findings_due(
    read: &mut dyn mamori_store::StoreRead,
) -> Result<Vec<(String, String, String)>, CoreError> {
    Ok(read
        .audit_findings()
        .await?
        .into_iter()
        .filter(|f| f.state != FindingState::Closed.as_str())
        .filter_map(|f| {
            let name = format!("F-{} {}", f.number, f.description.lines().next().unwrap_or_default());
            Some((f.id, name.chars().take(80).collect(), f.due_on?))
        })
        .collect())
}

impl Isms {
    /// The internal audits and their findings, named.
    pub async fn internal_audits(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<AuditRegister, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let audits = read.internal_audits().await?;
        let findings = read.audit_findings().await?;
        let people = display_names(&mut *read).await?;
        let controls: HashMap<String, String> = read
            .catalog_controls(None)
            .await?
            .into_iter()
            .map(|c| (c.urn, format!("{} {}", c.ref_id, c.name_ja.unwrap_or(c.name))))
            .collect();
        let mut steps: HashMap<String, Vec<FindingStepRecord>> = HashMap::new();
        for f in &findings {
            steps.insert(f.id.clone(), read.finding_steps(&f.id).await?);
        }
        drop(read);
        let today = self.today();
        let name = |id: &str| people.get(id).cloned();
        let titles: HashMap<&str, String> =
            audits.iter().map(|a| (a.id.as_str(), format!("IA-{} {}", a.number, a.title))).collect();
        let mut findings: Vec<FindingView> = findings
            .into_iter()
            .map(|f| {
                let closed = f.state == FindingState::Closed.as_str();
                let days_left = f
                    .due_on
                    .as_deref()
                    .and_then(mamori_domain::isms::vendor::parse_date)
                    .filter(|_| !closed)
                    .map(|d| (d - today).whole_days());
                FindingView {
                    audit: titles.get(f.audit_id.as_str()).cloned().unwrap_or_default(),
                    control: f
                        .control_urn
                        .as_ref()
                        .map(|u| controls.get(u).cloned().unwrap_or_else(|| u.clone())),
                    owner: f.owner_id.as_deref().and_then(name),
                    days_left,
                    steps: steps
                        .remove(&f.id)
                        .unwrap_or_default()
                        .into_iter()
                        .map(|s| StepView { actor: name(&s.actor), record: s })
                        .collect(),
                    record: f,
                }
            })
            .collect();
        findings.sort_by_key(|f| {
            let closed = f.record.state == FindingState::Closed.as_str();
            (closed, f.days_left.unwrap_or(i64::MAX), f.record.number)
        });
        let audits = audits
            .into_iter()
            .map(|a| {
                let mine: Vec<&FindingView> = findings.iter().filter(|f| f.record.audit_id == a.id).collect();
                let open = mine.iter().filter(|f| f.record.state != FindingState::Closed.as_str()).count();
                AuditView {
                    auditor: name(&a.auditor_id),
                    controls: a
                        .controls
                        .split(',')
                        .filter(|u| !u.is_empty())
                        .map(|u| (u.to_owned(), controls.get(u).cloned().unwrap_or_else(|| u.to_owned())))
                        .collect(),
                    findings: (mine.len(), open),
                    record: a,
                }
            })
            .collect();
        Ok(AuditRegister { audits, findings })
    }

    /// Plans an audit; returns its id.
    pub async fn plan_internal_audit(
        &self,
        principal: &Principal,
        input: AuditInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::INTERNAL_AUDIT_CHANGE, ctx).await?;
        let input = input.checked().map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        check_user(&mut tx, "auditor_id", &input.auditor_id).await?;
        let known: std::collections::HashSet<String> =
            tx.catalog_controls(None).await?.into_iter().map(|c| c.urn).collect();
        if let Some(unknown) = input.controls.iter().find(|c| !known.contains(*c)) {
            return Err(CoreError::invalid(
                "controls",
                ErrorCode::InvalidValue,
                format!("no control {unknown}"),
            ));
        }
        let id = new_id();
        let record = InternalAuditRecord {
            id: id.clone(),
            number: 0,
            title: input.title,
            scope: input.scope,
            controls: input.controls.join(","),
            auditor_id: input.auditor_id,
            planned_on: input.planned_on,
            held_on: None,
            report: String::new(),
            changed_at: self.base.now(),
            changed_by: principal.actor().encode(),
        };
        let number = tx.insert_internal_audit(&record).await?;
        let e = AuditEvent::of(&actions::INTERNAL_AUDIT_CHANGE, principal.actor(), Outcome::Success)
            .object(format!("internal_audit:{id}"))
            .detail("change", "plan")
            .detail("number", number.to_string())
            .detail("controls", input.controls.len().to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records that an audit was held, with its report (changed later, each time audited).
    pub async fn report_internal_audit(
        &self,
        principal: &Principal,
        id: &str,
        held_on: &str,
        report: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        use mamori_domain::isms::internal_audit::text;
        self.base.permitted(principal, Permission::IsmsManage, &actions::INTERNAL_AUDIT_CHANGE, ctx).await?;
        let held_on = held_on.trim();
        if !mamori_domain::isms::is_date(held_on) || held_on > crate::jst::day(self.base.now()).as_str() {
            return Err(CoreError::invalid(
                "held_on",
                ErrorCode::InvalidValue,
                "a date as YYYY-MM-DD, not after today",
            ));
        }
        let report = text("report", report, 20_000, true).map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        let mut audit = audit_of(&mut tx, id).await?;
        audit.held_on = Some(held_on.to_owned());
        audit.report = report;
        audit.changed_at = self.base.now();
        audit.changed_by = principal.actor().encode();
        tx.update_internal_audit(&audit).await?;
        let e = AuditEvent::of(&actions::INTERNAL_AUDIT_CHANGE, principal.actor(), Outcome::Success)
            .object(format!("internal_audit:{id}"))
            .detail("change", "report")
            .detail("number", audit.number.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Raises a finding of an audit; returns its id.
    pub async fn raise_finding(
        &self,
        principal: &Principal,
        audit_id: &str,
        input: FindingInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::INTERNAL_AUDIT_FINDING, ctx).await?;
        let input = input.checked().map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        let audit = audit_of(&mut tx, audit_id).await?;
        if let Some(urn) = &input.control
            && !tx.catalog_controls(None).await?.iter().any(|c| c.urn == *urn)
        {
            return Err(CoreError::invalid("control", ErrorCode::InvalidValue, format!("no control {urn}")));
        }
        let now = self.base.now();
        let id = new_id();
        let record = AuditFindingRecord {
            id: id.clone(),
            audit_id: audit.id.clone(),
            number: 0,
            kind: input.kind.as_str().to_owned(),
            control_urn: input.control,
            description: input.description,
            state: FindingState::Open.as_str().to_owned(),
            root_cause: String::new(),
            corrective_action: String::new(),
            owner_id: None,
            due_on: None,
            created_at: now,
            created_by: principal.actor().encode(),
            changed_at: now,
        };
        let number = tx.insert_audit_finding(&record).await?;
        let step = FindingStepRecord {
            finding_id: id.clone(),
            at: now,
            step: "raise".into(),
            state: record.state.clone(),
            actor: principal.user.id.clone(),
            note: String::new(),
        };
        tx.insert_finding_step(&step).await?;
        let e = AuditEvent::of(&actions::INTERNAL_AUDIT_FINDING, principal.actor(), Outcome::Success)
            .object(format!("audit_finding:{id}"))
            .detail("step", "raise")
            .detail("number", number.to_string())
            .detail("kind", record.kind.clone())
            .detail("audit", audit.id);
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Takes a step of a finding's CAPA (plan, implemented, verify, acknowledge).
    pub async fn take_finding_step(
        &self,
        principal: &Principal,
        finding_id: &str,
        step: FindingStep,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::INTERNAL_AUDIT_FINDING, ctx).await?;
        let today = crate::jst::day(self.base.now());
        let mut tx = self.base.store.begin().await?;
        let known = if uuid::Uuid::parse_str(finding_id).is_ok() {
            tx.audit_finding(finding_id).await?
        } else {
            None
        };
        let Some(mut finding) = known else { return Err(CoreError::NotFound { what: "finding" }) };
        let kind = FindingKind::parse(&finding.kind)
            .ok_or_else(|| CoreError::Internal(format!("a stored finding has the kind {}", finding.kind)))?;
        let state = FindingState::parse(&finding.state).ok_or_else(|| {
            CoreError::Internal(format!("a stored finding has the state {}", finding.state))
        })?;
        let outcome = match step.checked(kind, state, finding.owner_id.as_deref(), &principal.user.id, &today)
        {
            Ok(o) => o,
            Err(e) if e.field == "step" => return Err(CoreError::Conflict(e.message)),
            Err(e) => return Err(refused(e)),
        };
        let (name, note) = match &outcome.step {
            FindingStep::Plan { root_cause, corrective_action, owner_id, due_on } => {
                check_user(&mut tx, "owner_id", owner_id).await?;
                finding.root_cause = root_cause.clone();
                finding.corrective_action = corrective_action.clone();
                finding.owner_id = Some(owner_id.clone());
                finding.due_on = Some(due_on.clone());
                ("plan", String::new())
            }
            FindingStep::Implemented { note } => ("implemented", note.clone()),
            FindingStep::Verify { effective: true, note } => ("verify_effective", note.clone()),
            FindingStep::Verify { effective: false, note } => ("verify_not_effective", note.clone()),
            FindingStep::Acknowledge { note } => ("acknowledge", note.clone()),
        };
        let from = finding.state.clone();
        finding.state = outcome.to.as_str().to_owned();
        finding.changed_at = self.base.now();
        if !tx.move_audit_finding(&finding, &from).await? {
            return Err(CoreError::Conflict("the finding changed meanwhile: reload it".into()));
        }
        let record = FindingStepRecord {
            finding_id: finding.id.clone(),
            at: self.base.now(),
            step: name.into(),
            state: finding.state.clone(),
            actor: principal.user.id.clone(),
            note,
        };
        tx.insert_finding_step(&record).await?;
        let e = AuditEvent::of(&actions::INTERNAL_AUDIT_FINDING, principal.actor(), Outcome::Success)
            .object(format!("audit_finding:{}", finding.id))
            .detail("step", name)
            .detail("number", finding.number.to_string())
            .detail("from", from)
            .detail("to", finding.state.clone());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn audit_of(tx: &mut Box<dyn StoreTx>, id: &str) -> Result<InternalAuditRecord, CoreError> {
    let known = if uuid::Uuid::parse_str(id).is_ok() { tx.internal_audit(id).await? } else { None };
    known.ok_or(CoreError::NotFound { what: "internal audit" })
}
