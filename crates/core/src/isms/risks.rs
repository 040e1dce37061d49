//! Risks (issue 17, item 2; ISMS-2): assessments with their frozen matrix, and the risks of
//! each — threat and vulnerability against assets, inherent and residual ratings looked up on
//! the grid, a treatment with the controls that carry it, an owner, due and review dates —
//! each change a version, audited. The heat map counts risks per cell.

use super::Isms;
use crate::{CoreError, Principal, check_id, new_id};
use mamori_audit::{Actor, AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::Permission;
use mamori_domain::isms::risk::{RiskError, RiskInput, RiskMatrix};
use mamori_proto::ErrorCode;
pub use mamori_store::{RatedRecord, RiskAssessmentRecord, RiskRecord};
use std::collections::{HashMap, HashSet};

/// The name the first assessment gets.
pub const FIRST_ASSESSMENT: &str = "リスクアセスメント";
/// The first assessment's appetite: risks at "high" (level 3 of 5) or above need treatment.
pub const DEFAULT_APPETITE: i64 = 3;

/// The risks of one assessment, and the heat map of their ratings.
#[derive(Debug, Clone)]
pub struct RiskRegister {
    pub assessments: Vec<RiskAssessmentRecord>,
    pub assessment: RiskAssessmentRecord,
    pub risks: Vec<RiskView>,
    /// Risks per cell, `[probability][impact]`, rated before treatment.
    pub inherent_heat: Vec<Vec<usize>>,
    /// The same after treatment (risks not yet re-rated count at their inherent rating).
    pub residual_heat: Vec<Vec<usize>>,
}

/// A risk as a list shows it.
#[derive(Debug, Clone)]
pub struct RiskView {
    pub record: RiskRecord,
    pub owner: Option<String>,
    /// Its current level (residual when rated, else inherent) is at or above the appetite.
    pub above_appetite: bool,
}

/// One risk with every version and the names of what it links.
#[derive(Debug, Clone)]
pub struct RiskDetail {
    pub risk: RiskView,
    pub assessment: RiskAssessmentRecord,
    pub history: Vec<RiskRecord>,
    /// Asset id → name; control urn → "ref id name"; user and actor → display name.
    pub names: HashMap<String, String>,
}

fn refused(e: RiskError) -> CoreError {
    let code = if e.message == "required" { ErrorCode::Required } else { ErrorCode::InvalidValue };
    CoreError::Invalid { field: e.field, code, message: e.message }
}

/// The audit entry of a risk's new version.
pub(super) fn risk_event(
    actor: Actor,
    r: &RiskRecord,
    change: &'static str,
    number: i64,
    version: i64,
) -> AuditEvent {
    AuditEvent::of(&actions::RISK_CHANGE, actor, Outcome::Success)
        .object(format!("risk:{}", r.id))
        .detail("change", change)
        .detail("number", number.to_string())
        .detail("version", version.to_string())
        .detail("level", current_level(r).to_string())
        .detail("treatment", r.treatment.clone())
}

/// The audit entry of a new assessment.
pub(super) fn assessment_event(actor: Actor, a: &RiskAssessmentRecord) -> AuditEvent {
    AuditEvent::of(&actions::RISK_ASSESSMENT_CREATE, actor, Outcome::Success)
        .object(format!("risk_assessment:{}", a.id))
        .detail("matrix", format!("{}x{}", a.matrix.probability.len(), a.matrix.impact.len()))
        .detail("appetite", a.appetite.to_string())
}

/// The first assessment's id, the same in every install, so a register exported from one
/// install imports into another without a second "first" assessment.
pub const FIRST_ASSESSMENT_ID: &str = "0b5e7a1c-3f0d-4c55-9a57-6d0a5e1f0001";

/// A risk's level now: residual when rated, else inherent.
pub fn current_level(r: &RiskRecord) -> i64 {
    r.residual.map_or(r.inherent.level, |x| x.level)
}

impl Isms {
    /// Makes the first assessment, with the default matrix, when there is none (at start).
    pub async fn ensure_risk_assessment(&self) -> Result<(), CoreError> {
        if !self.base.store.read().await?.risk_assessments().await?.is_empty() {
            return Ok(());
        }
        let ctx = RequestContext::default();
        self.insert_assessment(
            FIRST_ASSESSMENT_ID.to_owned(),
            FIRST_ASSESSMENT,
            RiskMatrix::iso27005_5x5(),
            DEFAULT_APPETITE,
            Actor::System,
            &ctx,
        )
        .await
        .map(drop)
    }

    /// Starts a new assessment with its own matrix (the default when none is given); its
    /// matrix never changes afterwards. Returns its id.
    pub async fn create_risk_assessment(
        &self,
        principal: &Principal,
        name: &str,
        matrix: Option<RiskMatrix>,
        appetite: i64,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::RISK_ASSESSMENT_CREATE, ctx).await?;
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(CoreError::invalid("name", ErrorCode::InvalidValue, "a name of 1 to 100 characters"));
        }
        let matrix = matrix.unwrap_or_else(RiskMatrix::iso27005_5x5).checked().map_err(refused)?;
        if !(0..matrix.levels.len() as i64).contains(&appetite) {
            return Err(CoreError::invalid(
                "appetite",
                ErrorCode::OutOfRange,
                "a level of the matrix, counted from 0",
            ));
        }
        self.insert_assessment(new_id(), name, matrix, appetite, principal.actor(), ctx).await
    }

    async fn insert_assessment(
        &self,
        id: String,
        name: &str,
        matrix: RiskMatrix,
        appetite: i64,
        actor: Actor,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        let record = RiskAssessmentRecord {
            id,
            name: name.to_owned(),
            appetite,
            created_at: self.base.now(),
            created_by: actor.encode(),
            matrix,
        };
        let mut tx = self.base.store.begin().await?;
        tx.insert_risk_assessment(&record).await?;
        self.base.audit(&mut tx, ctx, assessment_event(actor, &record)).await?;
        tx.commit().await?;
        Ok(record.id)
    }

    /// The risks of an assessment (the newest when none is named) with the heat maps.
    pub async fn risks(
        &self,
        principal: &Principal,
        assessment_id: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<RiskRegister, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let assessments = read.risk_assessments().await?;
        let assessment = match assessment_id {
            Some(id) => assessments.iter().find(|a| a.id == id),
            None => assessments.first(),
        }
        .cloned()
        .ok_or(CoreError::NotFound { what: "risk assessment" })?;
        let records = read.risks(&assessment.id).await?;
        let names = super::assets::display_names(&mut *read).await?;
        drop(read);
        let (rows, cols) = (assessment.matrix.probability.len(), assessment.matrix.impact.len());
        let mut inherent_heat = vec![vec![0; cols]; rows];
        let mut residual_heat = vec![vec![0; cols]; rows];
        for r in &records {
            let current = r.residual.unwrap_or(r.inherent);
            for (heat, rated) in [(&mut inherent_heat, r.inherent), (&mut residual_heat, current)] {
                if let Some(cell) = heat
                    .get_mut(rated.probability as usize)
                    .and_then(|row| row.get_mut(rated.impact as usize))
                {
                    *cell += 1;
                }
            }
        }
        let risks = records
            .into_iter()
            .map(|record| RiskView {
                owner: record.owner_id.as_ref().and_then(|o| names.get(o)).cloned(),
                above_appetite: current_level(&record) >= assessment.appetite,
                record,
            })
            .collect();
        Ok(RiskRegister { assessments, assessment, risks, inherent_heat, residual_heat })
    }

    pub async fn risk(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<RiskDetail, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        check_id(id, "risk")?;
        let mut read = self.base.store.read().await?;
        let record = read.risk(id).await?.ok_or(CoreError::NotFound { what: "risk" })?;
        let assessment = read
            .risk_assessments()
            .await?
            .into_iter()
            .find(|a| a.id == record.assessment_id)
            .ok_or(CoreError::NotFound { what: "risk assessment" })?;
        let history = read.risk_history(id).await?;
        let mut names = super::assets::display_names(&mut *read).await?;
        names.extend(read.assets(true).await?.into_iter().map(|a| (a.id, a.name)));
        names.extend(read.catalog_controls(None).await?.into_iter().map(|c| {
            let name = c.name_ja.unwrap_or(c.name);
            (c.urn, format!("{} {name}", c.ref_id))
        }));
        let risk = RiskView {
            owner: record.owner_id.as_ref().and_then(|o| names.get(o)).cloned(),
            above_appetite: current_level(&record) >= assessment.appetite,
            record,
        };
        Ok(RiskDetail { risk, assessment, history, names })
    }

    /// Registers a risk in an assessment (the newest when none is named); returns its id.
    pub async fn create_risk(
        &self,
        principal: &Principal,
        assessment_id: Option<&str>,
        input: RiskInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::RISK_CHANGE, ctx).await?;
        let assessment = {
            let mut read = self.base.store.read().await?;
            let all = read.risk_assessments().await?;
            match assessment_id {
                Some(id) => all.into_iter().find(|a| a.id == id),
                None => all.into_iter().next(),
            }
            .ok_or(CoreError::NotFound { what: "risk assessment" })?
        };
        let id = new_id();
        self.store_risk(principal, id.clone(), &assessment, input, "create", ctx).await?;
        Ok(id)
    }

    /// Changes a risk: a new version, rated on its assessment's matrix.
    pub async fn update_risk(
        &self,
        principal: &Principal,
        id: &str,
        input: RiskInput,
        ctx: &RequestContext,
    ) -> Result<i64, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::RISK_CHANGE, ctx).await?;
        check_id(id, "risk")?;
        let mut read = self.base.store.read().await?;
        let current = read.risk(id).await?.ok_or(CoreError::NotFound { what: "risk" })?;
        let assessment = read
            .risk_assessments()
            .await?
            .into_iter()
            .find(|a| a.id == current.assessment_id)
            .ok_or(CoreError::NotFound { what: "risk assessment" })?;
        drop(read);
        self.store_risk(principal, id.to_owned(), &assessment, input, "update", ctx).await
    }

    async fn store_risk(
        &self,
        principal: &Principal,
        id: String,
        assessment: &RiskAssessmentRecord,
        input: RiskInput,
        change: &'static str,
        ctx: &RequestContext,
    ) -> Result<i64, CoreError> {
        let input = input.checked(&assessment.matrix).map_err(refused)?;
        let rated = |r: mamori_domain::isms::risk::Rating| RatedRecord {
            probability: i64::from(r.probability),
            impact: i64::from(r.impact),
            level: i64::from(assessment.matrix.level(r.probability, r.impact).unwrap_or(0)),
        };
        let mut tx = self.base.store.begin().await?;
        for a in &input.asset_ids {
            let in_force = uuid::Uuid::parse_str(a).is_ok()
                && tx.asset(a).await?.is_some_and(|x| x.retired_at.is_none());
            if !in_force {
                return Err(CoreError::invalid(
                    "asset_ids",
                    ErrorCode::InvalidValue,
                    format!("no asset in force has the id {a}"),
                ));
            }
        }
        let controls: HashSet<String> = tx.catalog_controls(None).await?.into_iter().map(|c| c.urn).collect();
        if let Some(c) = input.control_urns.iter().find(|c| !controls.contains(*c)) {
            return Err(CoreError::invalid(
                "control_urns",
                ErrorCode::InvalidValue,
                format!("no catalog holds the control {c}"),
            ));
        }
        if let Some(owner) = &input.owner_id {
            let active = tx
                .user_by_id(owner)
                .await?
                .is_some_and(|u| u.status == mamori_domain::identity::UserStatus::Active);
            if !active {
                return Err(CoreError::invalid(
                    "owner_id",
                    ErrorCode::InvalidValue,
                    "the owner is not an active user",
                ));
            }
        }
        let record = RiskRecord {
            id,
            assessment_id: assessment.id.clone(),
            number: 0,
            version: 0,
            title: input.title,
            threat: input.threat,
            vulnerability: input.vulnerability,
            inherent: rated(input.inherent),
            residual: input.residual.map(rated),
            treatment: input.treatment.as_str().to_owned(),
            owner_id: input.owner_id,
            due_on: input.due_on,
            review_on: input.review_on,
            notes: input.notes,
            asset_ids: input.asset_ids,
            control_urns: input.control_urns,
            changed_at: self.base.now(),
            changed_by: principal.actor().encode(),
        };
        let (number, version) = tx.put_risk(&record).await?;
        let e = risk_event(principal.actor(), &record, change, number, version);
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(version)
    }
}
