//! Checks [点検] (issue 18, item 4; ISMS-7, LEAK-2, LEAK-4): recurring checklists — each
//! operator's check of their own seat, each team's supervisor's check of the floor — done per
//! day, ISO week or month on a phone-sized page; each item ok, not ok or not applicable with a
//! note; photos optional, stored sealed like vendor files (`vendor_files.rs`: a data key of
//! their own, wrapped by the vault's key). A not-ok item opens a follow-up that the person's
//! team supervisor resolves (overdue after 7 days). A checklist whose last period passed without
//! the run of someone who owes it (and whose current period is not done either) is overdue: on
//! the pages first, on the dashboard as a review (`ReviewOf::Check`), and in the live evidence
//! `overdue_checks`. Every step is audited: `checks.checklist`, `checks.run`,
//! `checks.follow_up`, `checks.read` (photos opened, refusals).

use super::Isms;
use super::assets::display_names;
use crate::{CoreError, Principal, new_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_crypto::envelope::{DataKey, WrappedKey};
use mamori_domain::identity::UserStatus;
use mamori_domain::isms::checks::{
    Answer, ChecklistInput, ChecksError, FOLLOW_UP_DAYS, Frequency, ItemResult, Performer, RunInput,
    period_of, previous_period, text,
};
use mamori_domain::isms::vendor::parse_date;
use mamori_domain::{Permission, Role, UnixMillis};
use mamori_proto::ErrorCode;
pub use mamori_store::{CheckFollowUpRecord, CheckPhotoRecord, CheckRunRecord, ChecklistRecord};
use mamori_store::{CheckPhotoSealed, OrgKind, StoreTx, UserRecord};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use time::Date;

/// Largest photo, in bytes.
pub const MAX_PHOTO_BYTES: usize = 5 * 1024 * 1024;
/// Photos of one run, at most.
pub const MAX_PHOTOS: usize = 4;
/// The photo types taken, told by their content.
pub const PHOTO_TYPES: &[&str] = &["image/jpeg", "image/png", "image/webp"];
/// How far back runs are read to answer "done this period" and "done last period" (a month
/// and the one before, and then some).
const RUNS_WINDOW_MS: i64 = 70 * 86_400_000;

fn refused(e: ChecksError) -> CoreError {
    let code = if e.message == "required" { ErrorCode::Required } else { ErrorCode::InvalidValue };
    CoreError::Invalid { field: e.field, code, message: e.message }
}

/// A photo's type, told by its first bytes.
pub fn photo_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"\xff\xd8\xff") {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else if bytes.len() >= 12 && &bytes[..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        Some("image/webp")
    } else {
        None
    }
}

/// A photo as received with a run.
#[derive(Debug, Clone)]
pub struct NewPhoto {
    /// The item it shows (from 0), none for the run as a whole.
    pub item: Option<usize>,
    /// The type claimed (may be empty); it must agree with the content.
    pub media_type: String,
    pub content: Vec<u8>,
}

fn record_name(photo_id: &str) -> String {
    format!("check_photo:{photo_id}")
}

fn field_name(run_id: &str) -> String {
    format!("check_run:{run_id}")
}

/// A stored checklist, read.
#[derive(Debug, Clone)]
pub struct Checklist {
    pub record: ChecklistRecord,
    pub items: Vec<String>,
    pub performer: Performer,
    pub frequency: Frequency,
}

impl Checklist {
    fn of(record: ChecklistRecord) -> Result<Checklist, CoreError> {
        let corrupt =
            |what: &str| CoreError::Internal(format!("checklist {}: its {what} does not read", record.id));
        let items: Vec<String> = serde_json::from_str(&record.items).map_err(|_| corrupt("items"))?;
        let performer = Performer::parse(&record.performer).ok_or_else(|| corrupt("performer"))?;
        let frequency = Frequency::parse(&record.frequency).ok_or_else(|| corrupt("frequency"))?;
        Ok(Checklist { record, items, performer, frequency })
    }
}

/// Who owes a checklist each period: a person (their own seat) or a team (its floor).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Owner {
    Person(String),
    Team(String),
}

/// A checklist's period missed by someone who owes it (and the current one not done yet).
#[derive(Debug, Clone)]
pub struct OverdueCheck {
    pub checklist_id: String,
    pub title: String,
    pub owner: Owner,
    /// The person's or the team's name.
    pub who: String,
    /// The period missed.
    pub period: String,
    /// Days since that period ended.
    pub days: i64,
}

/// A checklist with how far its current period is done.
#[derive(Debug, Clone)]
pub struct ChecklistView {
    pub list: Checklist,
    pub period: String,
    pub owed: usize,
    pub done: usize,
    pub site: Option<String>,
    pub team: Option<String>,
}

/// A run, named, with its photos.
#[derive(Debug, Clone)]
pub struct RunView {
    pub record: CheckRunRecord,
    pub checklist: String,
    pub user: String,
    pub team: Option<String>,
    /// Each item's text with its answer.
    pub answers: Vec<(String, Answer)>,
    pub photos: Vec<CheckPhotoRecord>,
}

/// A follow-up, named.
#[derive(Debug, Clone)]
pub struct FollowUpView {
    pub record: CheckFollowUpRecord,
    pub checklist: String,
    pub user: String,
    pub resolver: Option<String>,
    pub overdue: bool,
}

/// The security team's overview: overdue first, then open follow-ups, the checklists and the
/// latest runs.
#[derive(Debug, Clone)]
pub struct ChecksOverview {
    pub overdue: Vec<OverdueCheck>,
    pub follow_ups: Vec<FollowUpView>,
    pub checklists: Vec<ChecklistView>,
    pub runs: Vec<RunView>,
}

/// One checklist a person owes.
#[derive(Debug, Clone)]
pub struct MyCheck {
    pub list: Checklist,
    pub period: String,
    /// The run that did this period, if any.
    pub done: Option<String>,
    /// The last period was missed and this one is not done yet.
    pub overdue: bool,
}

/// A person's checks page: what they owe (overdue first), the follow-ups they resolve (a
/// supervisor: the team's) or their own open ones, and the latest runs (a supervisor's team's).
#[derive(Debug, Clone)]
pub struct MyChecks {
    pub checks: Vec<MyCheck>,
    pub follow_ups: Vec<FollowUpView>,
    pub runs: Vec<RunView>,
    pub supervisor: bool,
}

struct World {
    lists: Vec<Checklist>,
    users: Vec<UserRecord>,
    teams: Vec<mamori_store::OrgUnit>,
    runs: Vec<CheckRunRecord>,
}

async fn world(read: &mut dyn mamori_store::StoreRead, now: UnixMillis) -> Result<World, CoreError> {
    let lists = read.checklists(false).await?.into_iter().map(Checklist::of).collect::<Result<_, _>>()?;
    Ok(World {
        lists,
        users: read.list_users().await?,
        teams: read.list_org_units(OrgKind::Team).await?,
        runs: read.check_runs_since(UnixMillis(now.0 - RUNS_WINDOW_MS)).await?,
    })
}

fn is_supervisor(u: &UserRecord) -> bool {
    u.status == UserStatus::Active && u.roles.contains(&Role::Supervisor)
}

impl World {
    /// Who owes a checklist: every active operator in its scope (their seat), or every team in
    /// its scope with an active supervisor (its floor).
    fn owners(&self, list: &Checklist) -> Vec<(Owner, String)> {
        let site_ok = |site: Option<&str>| list.record.site_id.as_deref().is_none_or(|s| Some(s) == site);
        let team_ok = |team: Option<&str>| list.record.team_id.as_deref().is_none_or(|t| Some(t) == team);
        match list.performer {
            Performer::OwnSeat => self
                .users
                .iter()
                .filter(|u| u.status == UserStatus::Active && u.roles.contains(&Role::Operator))
                .filter(|u| site_ok(u.site_id.as_deref()) && team_ok(u.team_id.as_deref()))
                .map(|u| (Owner::Person(u.id.clone()), u.display_name.clone()))
                .collect(),
            Performer::Supervisor => self
                .teams
                .iter()
                .filter(|t| site_ok(t.site_id.as_deref()) && team_ok(Some(&t.id)))
                .filter(|t| {
                    self.users.iter().any(|u| is_supervisor(u) && u.team_id.as_deref() == Some(&t.id))
                })
                .map(|t| (Owner::Team(t.id.clone()), t.name.clone()))
                .collect(),
        }
    }

    fn done_by(&self, list: &str, period: &str, owner: &Owner) -> Option<&CheckRunRecord> {
        self.runs.iter().find(|r| {
            r.checklist_id == list
                && r.period == period
                && match owner {
                    Owner::Person(u) => &r.user_id == u,
                    Owner::Team(t) => r.team_id.as_deref() == Some(t),
                }
        })
    }

    /// Whether `owner` missed the period before today's (and has not done today's yet). Periods
    /// before the checklist was made are not owed; a person or team added since is (doing the
    /// current period's check clears it at once), so a new hire's first check is asked for.
    fn missed(&self, list: &Checklist, owner: &Owner, today: Date) -> Option<(String, i64)> {
        let (current, _, _) = period_of(list.frequency, today);
        let (previous, start, end) = previous_period(list.frequency, today);
        let created = parse_date(&list.record.created_on)?;
        if created > start {
            return None;
        }
        if self.done_by(&list.record.id, &previous, owner).is_some()
            || self.done_by(&list.record.id, &current, owner).is_some()
        {
            return None;
        }
        Some((previous, (today - end).whole_days()))
    }

    fn overdue(&self, today: Date) -> Vec<OverdueCheck> {
        let mut out = Vec::new();
        for list in &self.lists {
            for (owner, who) in self.owners(list) {
                if let Some((period, days)) = self.missed(list, &owner, today) {
                    out.push(OverdueCheck {
                        checklist_id: list.record.id.clone(),
                        title: list.record.title.clone(),
                        owner,
                        who,
                        period,
                        days,
                    });
                }
            }
        }
        out.sort_by(|a, b| {
            b.days.cmp(&a.days).then_with(|| a.title.cmp(&b.title)).then_with(|| a.who.cmp(&b.who))
        });
        out
    }
}

/// Every check overdue today, the longest first (for the dashboard and the evidence).
pub(crate) async fn overdue_checks(
    read: &mut dyn mamori_store::StoreRead,
    now: UnixMillis,
) -> Result<Vec<OverdueCheck>, CoreError> {
    let today = parse_date(&crate::jst::day(now)).unwrap_or(Date::MIN);
    Ok(world(read, now).await?.overdue(today))
}

/// The checklists overdue, one line each for the dashboard's reviews: (id, title with how many
/// owe it, the last day of the period missed).
pub(crate) async fn checks_due(
    read: &mut dyn mamori_store::StoreRead,
    today: Date,
) -> Result<Vec<(String, String, String)>, CoreError> {
    // The runs are read from a window before today's start (the window is wide enough).
    let midnight = today.midnight().assume_utc().unix_timestamp() * 1000;
    let now = UnixMillis(midnight);
    let mut by_list: Vec<(String, String, usize, i64)> = Vec::new();
    for o in world(read, now).await?.overdue(today) {
        match by_list.iter_mut().find(|(id, ..)| id == &o.checklist_id) {
            Some(entry) => {
                entry.2 += 1;
                entry.3 = entry.3.max(o.days);
            }
            None => by_list.push((o.checklist_id, o.title, 1, o.days)),
        }
    }
    Ok(by_list
        .into_iter()
        .map(|(id, title, n, days)| {
            let due = (today - time::Duration::days(days)).to_string();
            (id, format!("{title} ({n})"), due)
        })
        .collect())
}

fn answers_of(run: &CheckRunRecord) -> Vec<Answer> {
    serde_json::from_str(&run.answers).unwrap_or_default()
}

impl Isms {
    fn checks_today(&self) -> Date {
        parse_date(&crate::jst::day(self.base.now())).unwrap_or(Date::MIN)
    }

    fn run_views(
        &self,
        runs: Vec<CheckRunRecord>,
        lists: &HashMap<String, Checklist>,
        names: &HashMap<String, String>,
        photos: &[CheckPhotoRecord],
    ) -> Vec<RunView> {
        runs.into_iter()
            .map(|r| {
                let list = lists.get(&r.checklist_id);
                let answers = answers_of(&r)
                    .into_iter()
                    .map(|a| {
                        let text = list.and_then(|l| l.items.get(a.item)).cloned().unwrap_or_default();
                        (text, a)
                    })
                    .collect();
                RunView {
                    checklist: list.map_or_else(|| r.checklist_id.clone(), |l| l.record.title.clone()),
                    user: names.get(&r.user_id).cloned().unwrap_or_else(|| r.user_id.clone()),
                    team: r.team_id.as_ref().and_then(|t| names.get(t)).cloned(),
                    answers,
                    photos: photos.iter().filter(|p| p.run_id == r.id).cloned().collect(),
                    record: r,
                }
            })
            .collect()
    }

    fn follow_up_views(
        &self,
        follow_ups: Vec<CheckFollowUpRecord>,
        lists: &HashMap<String, Checklist>,
        names: &HashMap<String, String>,
    ) -> Vec<FollowUpView> {
        let today = self.checks_today().to_string();
        let mut out: Vec<FollowUpView> = follow_ups
            .into_iter()
            .map(|f| FollowUpView {
                checklist: lists
                    .get(&f.checklist_id)
                    .map_or_else(|| f.checklist_id.clone(), |l| l.record.title.clone()),
                user: names.get(&f.user_id).cloned().unwrap_or_else(|| f.user_id.clone()),
                resolver: f.resolved_by.as_ref().and_then(|b| names.get(b)).cloned(),
                overdue: f.resolved_at.is_none() && f.due_on < today,
                record: f,
            })
            .collect();
        // Open first (overdue first, the oldest first), resolved after, the latest first.
        out.sort_by(|a, b| {
            (a.record.resolved_at.is_some(), !a.overdue, a.record.opened_at.0).cmp(&(
                b.record.resolved_at.is_some(),
                !b.overdue,
                b.record.opened_at.0,
            ))
        });
        out
    }

    /// The overview (`isms.read`): overdue checks first, the follow-ups (open first), every
    /// checklist in force with its current period's progress, the latest 100 runs.
    pub async fn checks_overview(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<ChecksOverview, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let now = self.base.now();
        let mut read = self.base.store.read().await?;
        let w = world(&mut *read, now).await?;
        let follow_ups = read.check_follow_ups(false).await?;
        let all_lists: HashMap<String, Checklist> = read
            .checklists(true)
            .await?
            .into_iter()
            .filter_map(|r| Checklist::of(r).ok())
            .map(|l| (l.record.id.clone(), l))
            .collect();
        let mut names = display_names(&mut *read).await?;
        for unit in read
            .list_org_units(OrgKind::Team)
            .await?
            .into_iter()
            .chain(read.list_org_units(OrgKind::Site).await?)
        {
            names.insert(unit.id, unit.name);
        }
        let runs: Vec<CheckRunRecord> = w.runs.iter().take(100).cloned().collect();
        let photos = read.check_photos(&runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>()).await?;
        drop(read);
        let today = self.checks_today();
        let checklists = w
            .lists
            .iter()
            .map(|list| {
                let (period, _, _) = period_of(list.frequency, today);
                let owners = w.owners(list);
                let done =
                    owners.iter().filter(|(o, ..)| w.done_by(&list.record.id, &period, o).is_some()).count();
                ChecklistView {
                    period,
                    owed: owners.len(),
                    done,
                    site: list.record.site_id.as_ref().and_then(|s| names.get(s)).cloned(),
                    team: list.record.team_id.as_ref().and_then(|t| names.get(t)).cloned(),
                    list: list.clone(),
                }
            })
            .collect();
        Ok(ChecksOverview {
            overdue: w.overdue(today),
            follow_ups: self.follow_up_views(follow_ups, &all_lists, &names),
            checklists,
            runs: self.run_views(runs, &all_lists, &names, &photos),
        })
    }

    /// A person's checks (`checks.do`): the checklists they owe this period (an operator their
    /// seat's, a supervisor their team's floor), overdue first; a supervisor's team's open
    /// follow-ups and latest runs, an operator's own.
    pub async fn my_checks(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<MyChecks, CoreError> {
        self.base.permitted(principal, Permission::ChecksDo, &actions::CHECKS_READ, ctx).await?;
        let now = self.base.now();
        let me = &principal.user;
        let supervisor = me.roles.contains(&Role::Supervisor) && me.team_id.is_some();
        let mut read = self.base.store.read().await?;
        let w = world(&mut *read, now).await?;
        let mut names = display_names(&mut *read).await?;
        for unit in read.list_org_units(OrgKind::Team).await? {
            names.insert(unit.id, unit.name);
        }
        let today = self.checks_today();
        let mut checks = Vec::new();
        for list in &w.lists {
            for (owner, _) in w.owners(list) {
                let mine = match &owner {
                    Owner::Person(u) => u == &me.id,
                    Owner::Team(t) => supervisor && me.team_id.as_deref() == Some(t),
                };
                if !mine {
                    continue;
                }
                let (period, _, _) = period_of(list.frequency, today);
                checks.push(MyCheck {
                    done: w.done_by(&list.record.id, &period, &owner).map(|r| r.id.clone()),
                    overdue: w.missed(list, &owner, today).is_some(),
                    period,
                    list: list.clone(),
                });
            }
        }
        checks.sort_by_key(|c| (c.done.is_some(), !c.overdue, c.list.record.title.clone()));
        let concerns = |user: &str, team: Option<&str>| {
            if supervisor { team.is_some() && team == me.team_id.as_deref() } else { user == me.id }
        };
        let follow_ups: Vec<CheckFollowUpRecord> = read
            .check_follow_ups(true)
            .await?
            .into_iter()
            .filter(|f| concerns(&f.user_id, f.team_id.as_deref()))
            .collect();
        let runs: Vec<CheckRunRecord> =
            w.runs.iter().filter(|r| concerns(&r.user_id, r.team_id.as_deref())).take(30).cloned().collect();
        let photos = read.check_photos(&runs.iter().map(|r| r.id.clone()).collect::<Vec<_>>()).await?;
        let all_lists: HashMap<String, Checklist> = read
            .checklists(true)
            .await?
            .into_iter()
            .filter_map(|r| Checklist::of(r).ok())
            .map(|l| (l.record.id.clone(), l))
            .collect();
        drop(read);
        Ok(MyChecks {
            checks,
            follow_ups: self.follow_up_views(follow_ups, &all_lists, &names),
            runs: self.run_views(runs, &all_lists, &names, &photos),
            supervisor,
        })
    }

    /// One checklist in force (`checks.do` for the people who owe it, or `isms.read`).
    pub async fn checklist(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<Checklist, CoreError> {
        if !principal.can(Permission::IsmsRead) {
            self.base.permitted(principal, Permission::ChecksDo, &actions::CHECKS_READ, ctx).await?;
        }
        let mut read = self.base.store.read().await?;
        let list = known_list(&mut *read, id).await?;
        if principal.can(Permission::IsmsRead) {
            return Ok(list);
        }
        let w = world(&mut *read, self.base.now()).await?;
        drop(read);
        if owner_for(&w, &list, principal).is_none() {
            return Err(self.check_out_of_scope(principal, format!("checklist:{id}"), ctx).await);
        }
        Ok(list)
    }

    async fn check_out_of_scope(
        &self,
        principal: &Principal,
        object: String,
        ctx: &RequestContext,
    ) -> CoreError {
        let e = AuditEvent::of(&actions::CHECKS_READ, principal.actor(), Outcome::Denied)
            .object(object)
            .detail("reason", "scope");
        self.base.record_denied(ctx, e).await;
        CoreError::Forbidden("this check is not yours")
    }

    /// Makes a checklist (`id` none) or changes one (`isms.manage`); returns its id.
    pub async fn save_checklist(
        &self,
        principal: &Principal,
        id: Option<&str>,
        input: ChecklistInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::CHECKS_CHECKLIST, ctx).await?;
        let input = input.checked().map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        for (field, kind, unit) in
            [("site_id", OrgKind::Site, &input.site_id), ("team_id", OrgKind::Team, &input.team_id)]
        {
            if let Some(unit) = unit
                && !tx.list_org_units(kind).await?.iter().any(|u| &u.id == unit)
            {
                return Err(CoreError::invalid(
                    field,
                    ErrorCode::InvalidValue,
                    format!("no {} has the id {unit}", kind.as_str()),
                ));
            }
        }
        let (id, created_on, change) = match id {
            None => (new_id(), crate::jst::day(self.base.now()), "create"),
            Some(id) => {
                let current = list_in_force(&mut tx, id).await?;
                (current.id, current.created_on, "update")
            }
        };
        let record = ChecklistRecord {
            id: id.clone(),
            title: input.title,
            items: serde_json::to_string(&input.items)
                .map_err(|e| CoreError::Internal(format!("checklist items did not serialise: {e}")))?,
            performer: input.performer.as_str().to_owned(),
            frequency: input.frequency.as_str().to_owned(),
            site_id: input.site_id,
            team_id: input.team_id,
            created_on,
            retired_at: None,
            changed_at: self.base.now(),
            changed_by: principal.actor().encode(),
        };
        tx.put_checklist(&record).await?;
        let e = AuditEvent::of(&actions::CHECKS_CHECKLIST, principal.actor(), Outcome::Success)
            .object(format!("checklist:{id}"))
            .detail("change", change)
            .detail("performer", record.performer.clone())
            .detail("frequency", record.frequency.clone())
            .detail("items", input.items.len().to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Retires a checklist: nobody owes it any more; its runs and follow-ups stay.
    pub async fn retire_checklist(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::CHECKS_CHECKLIST, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        let mut list = list_in_force(&mut tx, id).await?;
        list.retired_at = Some(self.base.now());
        list.changed_at = self.base.now();
        list.changed_by = principal.actor().encode();
        tx.put_checklist(&list).await?;
        let e = AuditEvent::of(&actions::CHECKS_CHECKLIST, principal.actor(), Outcome::Success)
            .object(format!("checklist:{id}"))
            .detail("change", "retire")
            .detail("performer", list.performer.clone())
            .detail("frequency", list.frequency.clone());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records a run of a checklist the person owes (`checks.do`), for the current period:
    /// every item answered once, the photos checked (JPEG, PNG or WebP by their content, 5 MiB
    /// each at most) and sealed, a follow-up opened per item not ok — all in one transaction
    /// with its audit entry, or nothing. Returns the run's id.
    pub async fn record_check_run(
        &self,
        principal: &Principal,
        input: RunInput,
        photos: Vec<NewPhoto>,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::ChecksDo, &actions::CHECKS_RUN, ctx).await?;
        let now = self.base.now();
        let mut read = self.base.store.read().await?;
        let list = known_list(&mut *read, input.checklist_id.trim()).await?;
        let input = input.checked(list.items.len()).map_err(refused)?;
        let w = world(&mut *read, now).await?;
        drop(read);
        let Some(owner) = owner_for(&w, &list, principal) else {
            return Err(self
                .check_out_of_scope(principal, format!("checklist:{}", list.record.id), ctx)
                .await);
        };
        if photos.len() > MAX_PHOTOS {
            return Err(CoreError::invalid(
                "photos",
                ErrorCode::InvalidValue,
                format!("at most {MAX_PHOTOS} photos"),
            ));
        }
        let run_id = new_id();
        let mut sealed_photos = Vec::with_capacity(photos.len());
        for p in photos {
            if p.content.is_empty() {
                return Err(CoreError::invalid("photos", ErrorCode::Required, "a photo is empty"));
            }
            if p.content.len() > MAX_PHOTO_BYTES {
                return Err(CoreError::invalid(
                    "photos",
                    ErrorCode::InvalidValue,
                    "a photo is at most 5 MiB",
                ));
            }
            let Some(media_type) = photo_type(&p.content) else {
                return Err(CoreError::invalid(
                    "photos",
                    ErrorCode::InvalidValue,
                    "a photo is a JPEG, PNG or WebP image",
                ));
            };
            let claimed = p.media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
            if !claimed.is_empty() && claimed != "application/octet-stream" && claimed != media_type {
                return Err(CoreError::invalid(
                    "photos",
                    ErrorCode::InvalidValue,
                    format!("the photo's content is {media_type}, not {claimed}"),
                ));
            }
            if let Some(item) = p.item
                && item >= list.items.len()
            {
                return Err(CoreError::invalid(
                    "photos",
                    ErrorCode::InvalidValue,
                    format!("item {} is not on the checklist", item + 1),
                ));
            }
            let id = new_id();
            let key = DataKey::generate()?;
            let content = key.seal(&record_name(&id), &field_name(&run_id), &p.content)?;
            let wrapped = self.vault_kek.wrap(&record_name(&id), &key)?;
            let record = CheckPhotoRecord {
                id: id.clone(),
                run_id: run_id.clone(),
                item: p.item.map(|i| i as i64),
                media_type: media_type.to_owned(),
                size: i64::try_from(p.content.len()).unwrap_or(i64::MAX),
                sha256: hex::encode(Sha256::digest(&p.content)),
                kek_version: wrapped.kek_version(),
            };
            sealed_photos
                .push((record, CheckPhotoSealed { wrapped_key: wrapped.as_bytes().to_vec(), content }));
        }
        let today = self.checks_today();
        let (period, _, _) = period_of(list.frequency, today);
        let failed: Vec<&Answer> = input.answers.iter().filter(|a| a.result == ItemResult::NotOk).collect();
        let run = CheckRunRecord {
            id: run_id.clone(),
            checklist_id: list.record.id.clone(),
            period: period.clone(),
            user_id: principal.user.id.clone(),
            team_id: match &owner {
                Owner::Team(t) => Some(t.clone()),
                Owner::Person(_) => principal.user.team_id.clone(),
            },
            done_at: now,
            answers: serde_json::to_string(&input.answers)
                .map_err(|e| CoreError::Internal(format!("answers did not serialise: {e}")))?,
            note: input.note,
            failed: failed.len() as i64,
        };
        let mut tx = self.base.store.begin().await?;
        tx.insert_check_run(&run).await?;
        let due_on = (today + time::Duration::days(FOLLOW_UP_DAYS)).to_string();
        for a in &failed {
            tx.insert_check_follow_up(&CheckFollowUpRecord {
                id: new_id(),
                run_id: run_id.clone(),
                checklist_id: list.record.id.clone(),
                item: a.item as i64,
                item_text: list.items.get(a.item).cloned().unwrap_or_default(),
                note: a.note.clone(),
                user_id: principal.user.id.clone(),
                team_id: run.team_id.clone(),
                opened_at: now,
                due_on: due_on.clone(),
                resolved_at: None,
                resolved_by: None,
                resolution: String::new(),
            })
            .await?;
        }
        for (record, sealed) in &sealed_photos {
            tx.insert_check_photo(record, sealed).await?;
        }
        let e = AuditEvent::of(&actions::CHECKS_RUN, principal.actor(), Outcome::Success)
            .object(format!("checklist:{}", list.record.id))
            .detail("run", run_id.clone())
            .detail("period", period)
            .detail("failed", failed.len().to_string())
            .detail("photos", sealed_photos.len().to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(run_id)
    }

    /// Resolves a follow-up with a note: a supervisor of the team it belongs to (`checks.do`),
    /// or a security admin (`isms.manage`). A second resolution is 409.
    pub async fn resolve_check_follow_up(
        &self,
        principal: &Principal,
        id: &str,
        note: &str,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        let admin = principal.can(Permission::IsmsManage);
        if !admin {
            self.base.permitted(principal, Permission::ChecksDo, &actions::CHECKS_FOLLOW_UP, ctx).await?;
        }
        let note = text("note", note, 2000, true).map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        let found = if uuid::Uuid::parse_str(id).is_ok() { tx.check_follow_up(id).await? } else { None };
        let f = found.ok_or(CoreError::NotFound { what: "follow-up" })?;
        let me = &principal.user;
        let owner = me.roles.contains(&Role::Supervisor) && f.team_id.is_some() && f.team_id == me.team_id;
        if !admin && !owner {
            drop(tx);
            return Err(self.check_out_of_scope(principal, format!("check_follow_up:{id}"), ctx).await);
        }
        if !tx.resolve_check_follow_up(id, self.base.now(), &me.id, &note).await? {
            return Err(CoreError::Conflict("this follow-up is resolved already".into()));
        }
        let overdue = f.due_on < self.checks_today().to_string();
        let e = AuditEvent::of(&actions::CHECKS_FOLLOW_UP, principal.actor(), Outcome::Success)
            .object(format!("check_follow_up:{id}"))
            .detail("run", f.run_id.clone())
            .detail("item", (f.item + 1).to_string())
            .detail("overdue", overdue.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Opens a run's photo: the person who took it, a supervisor of the run's team, or
    /// `isms.read`; opened, checked against its SHA-256 and audited in one transaction.
    /// Returns (media type, bytes).
    pub async fn check_photo(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<(String, Vec<u8>), CoreError> {
        let reader = principal.can(Permission::IsmsRead);
        if !reader {
            self.base.permitted(principal, Permission::ChecksDo, &actions::CHECKS_READ, ctx).await?;
        }
        let mut tx = self.base.store.begin().await?;
        let found = if uuid::Uuid::parse_str(id).is_ok() { tx.check_photo(id).await? } else { None };
        let (record, sealed) = found.ok_or(CoreError::NotFound { what: "photo" })?;
        let run = tx.check_run(&record.run_id).await?.ok_or(CoreError::NotFound { what: "photo" })?;
        let me = &principal.user;
        let supervisor =
            me.roles.contains(&Role::Supervisor) && run.team_id.is_some() && run.team_id == me.team_id;
        if !reader && !supervisor && run.user_id != me.id {
            drop(tx);
            return Err(self.check_out_of_scope(principal, format!("check_run:{}", run.id), ctx).await);
        }
        let name = record_name(&record.id);
        let key = self.vault_kek.unwrap(&name, &WrappedKey::from_bytes(sealed.wrapped_key.clone())?)?;
        let content = key.open(&name, &field_name(&record.run_id), &sealed.content)?;
        if hex::encode(Sha256::digest(&content[..])) != record.sha256 {
            return Err(CoreError::Internal(format!(
                "check photo {}: its content does not match its SHA-256",
                record.id
            )));
        }
        let e = AuditEvent::of(&actions::CHECKS_READ, principal.actor(), Outcome::Success)
            .object(format!("check_run:{}", run.id))
            .detail("photo", record.id.clone());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok((record.media_type, content.to_vec()))
    }
}

/// Re-wraps the data keys of check photos wrapped below `version` (a batch per transaction);
/// the vault's key rotation calls it after the vendor files'. Returns how many it re-wrapped.
pub(crate) async fn rewrap_check_photos(
    base: &crate::Base,
    kek: &dyn mamori_crypto::envelope::KeyProvider,
    version: u32,
    batch: i64,
) -> Result<u64, CoreError> {
    let mut done = 0u64;
    loop {
        let rows = base.store.read().await?.check_photos_to_rewrap(version, batch.max(1)).await?;
        if rows.is_empty() {
            return Ok(done);
        }
        let mut rewrapped = Vec::with_capacity(rows.len());
        for (id, old) in rows {
            let name = record_name(&id);
            let key = kek.unwrap(&name, &WrappedKey::from_bytes(old.clone())?)?;
            rewrapped.push((id, old, kek.wrap(&name, &key)?));
        }
        let mut tx = base.store.begin().await?;
        for (id, old, new) in &rewrapped {
            if tx.rewrap_check_photo(id, old, new.as_bytes(), new.kek_version()).await? {
                done += 1;
            }
        }
        tx.commit().await?;
    }
}

/// What the person owes of this checklist: their seat, or their team's floor.
fn owner_for(w: &World, list: &Checklist, principal: &Principal) -> Option<Owner> {
    let me = &principal.user;
    let owners: HashSet<Owner> = w.owners(list).into_iter().map(|(o, ..)| o).collect();
    match list.performer {
        Performer::OwnSeat => Some(Owner::Person(me.id.clone())).filter(|o| owners.contains(o)),
        Performer::Supervisor if me.roles.contains(&Role::Supervisor) => {
            me.team_id.clone().map(Owner::Team).filter(|o| owners.contains(o))
        }
        Performer::Supervisor => None,
    }
}

async fn known_list(read: &mut dyn mamori_store::StoreRead, id: &str) -> Result<Checklist, CoreError> {
    let found = if uuid::Uuid::parse_str(id).is_ok() { read.checklist(id).await? } else { None };
    match found {
        Some(r) if r.retired_at.is_none() => Checklist::of(r),
        _ => Err(CoreError::NotFound { what: "checklist" }),
    }
}

async fn list_in_force(tx: &mut Box<dyn StoreTx>, id: &str) -> Result<ChecklistRecord, CoreError> {
    let found = if uuid::Uuid::parse_str(id).is_ok() { tx.checklist(id).await? } else { None };
    match found {
        Some(r) if r.retired_at.is_none() => Ok(r),
        Some(_) => Err(CoreError::Conflict("this checklist is retired".into())),
        None => Err(CoreError::NotFound { what: "checklist" }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn photos_are_told_by_their_content() {
        assert_eq!(photo_type(b"\xff\xd8\xff\xe0...."), Some("image/jpeg"));
        assert_eq!(photo_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(photo_type(b"RIFF\x10\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(photo_type(b"<svg onload=alert(1)>"), None);
        assert_eq!(photo_type(b"%PDF-1.7"), None);
    }
}
