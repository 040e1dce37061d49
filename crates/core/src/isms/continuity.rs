//! Business continuity (issue 18, item 6; ISMS-5): a plan per scenario — its steps, owner,
//! contact tree and how often it is drilled — with every version kept, and the drills held.
//! A plan's next drill is due its interval after the last drill (or after the plan was made);
//! one due within 30 days or overdue is a review of the dashboard (`ReviewOf::Drill`), reminded
//! by e-mail like the others when overdue. Each change is audited: `continuity.plan_change`,
//! `continuity.drill`.

use super::Isms;
use super::assets::display_names;
use super::check_user;
use crate::{CoreError, Principal, new_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::Permission;
use mamori_domain::isms::continuity::{Contact, ContinuityError, DrillInput, PlanInput, next_drill_on};
use mamori_domain::isms::vendor::parse_date;
use mamori_proto::ErrorCode;
use mamori_store::StoreTx;
pub use mamori_store::{ContinuityDrillRecord, ContinuityPlanRecord};
use std::collections::HashMap;

fn refused(e: ContinuityError) -> CoreError {
    let code = if e.message == "required" { ErrorCode::Required } else { ErrorCode::InvalidValue };
    CoreError::Invalid { field: e.field, code, message: e.message }
}

/// One person of a plan's contact tree, named.
#[derive(Debug, Clone)]
pub struct ContactView {
    pub name: String,
    pub role: String,
    pub phone: String,
    /// Whom they are called by (the position in the list), none for the top.
    pub called_by: Option<usize>,
    /// How deep in the tree (0 for the top).
    pub depth: usize,
}

/// A plan as the register shows it.
#[derive(Debug, Clone)]
pub struct PlanView {
    pub record: ContinuityPlanRecord,
    pub owner: Option<String>,
    pub contacts: Vec<ContactView>,
    /// The day of its latest drill.
    pub last_drill: Option<String>,
    /// `YYYY-MM-DD`.
    pub next_drill_on: String,
    /// Negative when overdue.
    pub days_left: i64,
}

/// A drill, named.
#[derive(Debug, Clone)]
pub struct DrillView {
    pub record: ContinuityDrillRecord,
    pub plan: String,
    pub participants: Vec<String>,
    pub recorder: Option<String>,
}

/// The register: plans (overdue drills first) and the drills held.
#[derive(Debug, Clone)]
pub struct ContinuityRegister {
    pub plans: Vec<PlanView>,
    pub drills: Vec<DrillView>,
}

/// The contacts of a stored plan (none when the stored JSON does not read, which a write never
/// stores).
pub fn contacts_of(record: &ContinuityPlanRecord) -> Vec<Contact> {
    serde_json::from_str(&record.contacts).unwrap_or_default()
}

/// Each plan in force with its next drill's day: `interval` after the latest drill, or after
/// the day the plan was made. (plan, last drill, next drill)
fn next_drills<'a>(
    plans: &'a [ContinuityPlanRecord],
    drills: &[ContinuityDrillRecord],
) -> Vec<(&'a ContinuityPlanRecord, Option<String>, time::Date)> {
    let mut last: HashMap<&str, &str> = HashMap::new();
    for d in drills {
        let day = last.entry(d.plan_id.as_str()).or_insert(d.held_on.as_str());
        if d.held_on.as_str() > *day {
            *day = d.held_on.as_str();
        }
    }
    plans
        .iter()
        .filter(|p| p.retired_at.is_none())
        .filter_map(|p| {
            let last = last.get(p.id.as_str()).map(|d| (*d).to_owned());
            let from = parse_date(last.as_deref().unwrap_or(&p.created_on))?;
            let months = u32::try_from(p.drill_every_months).unwrap_or(12);
            Some((p, last, next_drill_on(from, months)))
        })
        .collect()
}

/// Plans whose next drill is due: (plan id, title, `YYYY-MM-DD`), for the dashboard's reviews.
pub(crate) async fn drills_due(
    read: &mut dyn mamori_store::StoreRead,
) -> Result<Vec<(String, String, String)>, CoreError> {
    let plans = read.continuity_plans(false).await?;
    let drills = read.continuity_drills().await?;
    Ok(next_drills(&plans, &drills)
        .into_iter()
        .map(|(p, _, next)| (p.id.clone(), p.title.clone(), next.to_string()))
        .collect())
}

impl Isms {
    /// The business-continuity register: plans with their contact trees and next drills
    /// (overdue first), and every drill held, named.
    pub async fn continuity(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<ContinuityRegister, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let records = read.continuity_plans(false).await?;
        let drills = read.continuity_drills().await?;
        let people = display_names(&mut *read).await?;
        drop(read);
        let today = self.today();
        let name = |id: &str| people.get(id).cloned();
        let mut plans: Vec<PlanView> = next_drills(&records, &drills)
            .into_iter()
            .map(|(record, last_drill, next)| {
                let contacts = contacts_of(record);
                let mut depths: Vec<usize> = Vec::with_capacity(contacts.len());
                let contacts = contacts
                    .into_iter()
                    .map(|c| {
                        let depth = c.called_by.and_then(|p| depths.get(p)).map_or(0, |d| d + 1);
                        depths.push(depth);
                        ContactView {
                            name: c.user_id.as_deref().and_then(name).unwrap_or(c.name),
                            role: c.role,
                            phone: c.phone,
                            called_by: c.called_by,
                            depth,
                        }
                    })
                    .collect();
                PlanView {
                    owner: name(&record.owner_id),
                    contacts,
                    last_drill,
                    next_drill_on: next.to_string(),
                    days_left: (next - today).whole_days(),
                    record: record.clone(),
                }
            })
            .collect();
        plans.sort_by_key(|p| p.days_left);
        let titles: HashMap<&str, &str> = records.iter().map(|p| (p.id.as_str(), p.title.as_str())).collect();
        let drills = drills
            .into_iter()
            .map(|d| DrillView {
                plan: titles.get(d.plan_id.as_str()).map_or_else(|| d.plan_id.clone(), |t| (*t).to_owned()),
                participants: d
                    .participants
                    .split(',')
                    .filter(|p| !p.is_empty())
                    .map(|p| name(p).unwrap_or_else(|| p.to_owned()))
                    .collect(),
                recorder: name(&d.recorded_by),
                record: d,
            })
            .collect();
        Ok(ContinuityRegister { plans, drills })
    }

    /// Makes a plan (`id` none) or a new version of one; returns its id.
    pub async fn save_continuity_plan(
        &self,
        principal: &Principal,
        id: Option<&str>,
        input: PlanInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::CONTINUITY_PLAN_CHANGE, ctx).await?;
        let input = input.checked().map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        check_user(&mut tx, "owner_id", &input.owner_id).await?;
        for c in &input.contacts {
            if let Some(u) = &c.user_id {
                check_user(&mut tx, "contacts.user_id", u).await?;
            }
        }
        let (id, version, created_on, change) = match id {
            None => (new_id(), 1, crate::jst::day(self.base.now()), "create"),
            Some(id) => {
                let current = plan_in_force(&mut tx, id).await?;
                (current.id, current.version + 1, current.created_on, "update")
            }
        };
        let record = ContinuityPlanRecord {
            id: id.clone(),
            version,
            scenario: input.scenario.as_str().to_owned(),
            title: input.title,
            steps: input.steps,
            owner_id: input.owner_id,
            contacts: serde_json::to_string(&input.contacts)
                .map_err(|e| CoreError::Internal(format!("a contact tree did not serialise: {e}")))?,
            drill_every_months: i64::from(input.drill_every_months),
            created_on,
            retired_at: None,
            changed_at: self.base.now(),
            changed_by: principal.actor().encode(),
        };
        tx.put_continuity_plan(&record).await?;
        let e = AuditEvent::of(&actions::CONTINUITY_PLAN_CHANGE, principal.actor(), Outcome::Success)
            .object(format!("continuity_plan:{id}"))
            .detail("change", change)
            .detail("version", version.to_string())
            .detail("scenario", record.scenario.clone())
            .detail("contacts", input.contacts.len().to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Retires a plan: it leaves the register and the dashboard; its versions and drills stay.
    pub async fn retire_continuity_plan(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::CONTINUITY_PLAN_CHANGE, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        let mut plan = plan_in_force(&mut tx, id).await?;
        plan.version += 1;
        plan.retired_at = Some(self.base.now());
        plan.changed_at = self.base.now();
        plan.changed_by = principal.actor().encode();
        tx.put_continuity_plan(&plan).await?;
        let e = AuditEvent::of(&actions::CONTINUITY_PLAN_CHANGE, principal.actor(), Outcome::Success)
            .object(format!("continuity_plan:{id}"))
            .detail("change", "retire")
            .detail("version", plan.version.to_string())
            .detail("scenario", plan.scenario.clone());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a drill of a plan in force; returns its id.
    pub async fn record_drill(
        &self,
        principal: &Principal,
        input: DrillInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::CONTINUITY_DRILL, ctx).await?;
        let today = crate::jst::day(self.base.now());
        let input = input.checked(&today).map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        let plan = plan_in_force(&mut tx, &input.plan_id).await?;
        for p in &input.participants {
            check_user(&mut tx, "participants", p).await?;
        }
        let id = new_id();
        let record = ContinuityDrillRecord {
            id: id.clone(),
            plan_id: plan.id.clone(),
            held_on: input.held_on,
            participants: input.participants.join(","),
            result: input.result.as_str().to_owned(),
            findings: input.findings,
            actions: input.actions,
            recorded_at: self.base.now(),
            recorded_by: principal.user.id.clone(),
        };
        tx.insert_continuity_drill(&record).await?;
        let e = AuditEvent::of(&actions::CONTINUITY_DRILL, principal.actor(), Outcome::Success)
            .object(format!("continuity_plan:{}", plan.id))
            .detail("drill", id.clone())
            .detail("held_on", record.held_on.clone())
            .detail("result", record.result.clone())
            .detail("participants", input.participants.len().to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(id)
    }
}

async fn plan_in_force(tx: &mut Box<dyn StoreTx>, id: &str) -> Result<ContinuityPlanRecord, CoreError> {
    let plan = if uuid::Uuid::parse_str(id).is_ok() { tx.continuity_plan(id).await? } else { None };
    match plan {
        Some(p) if p.retired_at.is_none() => Ok(p),
        Some(_) => Err(CoreError::Conflict("this plan is retired: make a new one".into())),
        None => Err(CoreError::NotFound { what: "continuity plan" }),
    }
}
