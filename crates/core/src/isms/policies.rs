//! Policies with acknowledgements (issue 18, item 1; ISMS-2, ISMS-3, LEAK-7). A document — a tier of the
//! centre's rules, the privacy policy or the confidentiality pledge — has versions: a draft
//! (one at a time, replaced while unpublished) becomes the version in force when a security
//! admin publishes it, which is the approval. Everyone in its scope (roles, sites, client
//! companies; active accounts) acknowledges the version in force; acknowledgements are rows of
//! their own, kept forever, so a new version leaves the old ones in place and simply owes new
//! ones. With the policy option on, customer lookups need the pledge in force acknowledged
//! (see `vault/gate.rs`).

use super::Isms;
use crate::{CoreError, Principal, new_id};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::Permission;
use mamori_domain::identity::UserStatus;
use mamori_domain::isms::policy::{
    DiffLine, DraftInput, Person, PolicyError, PolicyInput, PolicyKind, PolicyScope, Published, diff, pending,
};
use mamori_proto::ErrorCode;
use mamori_store::{PolicyAckRecord, PolicyRecord, PolicyVersionRecord, StoreRead};
use std::collections::{HashMap, HashSet};

/// The settings key of the option "customer lookups require the current pledge acknowledged".
pub const LOOKUPS_REQUIRE_PLEDGE: &str = "lookups_require_pledge";

fn refused(e: PolicyError) -> CoreError {
    let code = if e.message == "required" { ErrorCode::Required } else { ErrorCode::InvalidValue };
    CoreError::Invalid { field: e.field, code, message: e.message }
}

/// A document as its record and its scope.
pub fn scope_of(r: &PolicyRecord) -> PolicyScope {
    PolicyScope::decode(&r.scope_roles, &r.scope_sites, &r.scope_clients)
}

/// Where a document stands: how many must acknowledge its version in force, and who has not.
#[derive(Debug, Clone)]
pub struct PolicyStatus {
    pub record: PolicyRecord,
    pub scope: PolicyScope,
    /// Active people in scope.
    pub in_scope: usize,
    /// Of them, those who acknowledged the version in force.
    pub acknowledged: usize,
    /// Those who have not: (user id, display name), by name.
    pub pending: Vec<(String, String)>,
}

/// Every document with its status, and the policy option.
#[derive(Debug, Clone)]
pub struct PolicyOverview {
    pub policies: Vec<PolicyStatus>,
    pub lookups_require_pledge: bool,
}

/// One document with its versions, for a reader in scope or the ISMS's keepers.
#[derive(Debug, Clone)]
pub struct PolicyDetail {
    pub record: PolicyRecord,
    pub scope: PolicyScope,
    /// Newest first; only published ones for a reader without `isms.read`.
    pub versions: Vec<PolicyVersionRecord>,
    /// When the reader acknowledged the version in force, if they did.
    pub my_acknowledgement: Option<mamori_domain::UnixMillis>,
    /// Whether the document is published to the reader.
    pub in_my_scope: bool,
    /// For `isms.read`: the status and every acknowledgement of every version.
    pub status: Option<PolicyStatus>,
    pub acknowledgements: Vec<PolicyAckRecord>,
    /// User ids (and `user:<id>` actors) to display names.
    pub names: HashMap<String, String>,
}

/// A document published to the reader, with the version in force and their acknowledgement.
#[derive(Debug, Clone)]
pub struct MyPolicy {
    pub record: PolicyRecord,
    pub version: i64,
    pub published_at: Option<mamori_domain::UnixMillis>,
    pub acknowledged_at: Option<mamori_domain::UnixMillis>,
}

/// Everyone, as scope needs them (active accounts only).
struct People {
    users: Vec<mamori_store::UserRecord>,
    clients: HashMap<String, Vec<String>>,
}

impl People {
    async fn read(read: &mut dyn StoreRead) -> Result<People, CoreError> {
        let users: Vec<_> =
            read.list_users().await?.into_iter().filter(|u| u.status == UserStatus::Active).collect();
        let mut clients: HashMap<String, Vec<String>> = HashMap::new();
        for (user, client) in read.all_user_clients().await? {
            clients.entry(user).or_default().push(client);
        }
        Ok(People { users, clients })
    }

    fn persons(&self) -> Vec<Person<'_>> {
        self.users
            .iter()
            .map(|u| Person {
                id: &u.id,
                roles: &u.roles,
                site_id: u.site_id.as_deref(),
                client_ids: self.clients.get(&u.id).map_or(&[][..], |c| c.as_slice()),
            })
            .collect()
    }
}

/// The status of every published document (and drafts, with nothing owed), computed from the
/// store in three reads — what the benchmark times for 5,000 people × 10 documents.
async fn statuses(read: &mut dyn StoreRead) -> Result<Vec<PolicyStatus>, CoreError> {
    statuses_of(read, None).await
}

/// [`statuses`] of one document only (`Some(id)`), or of all.
async fn statuses_of(read: &mut dyn StoreRead, only: Option<&str>) -> Result<Vec<PolicyStatus>, CoreError> {
    let mut records = read.policies().await?;
    if let Some(id) = only {
        records.retain(|r| r.id == id);
    }
    let people = People::read(read).await?;
    let acks = read.current_policy_acknowledgements().await?;
    let scopes: Vec<PolicyScope> = records.iter().map(scope_of).collect();
    let published: Vec<Published<'_>> = records
        .iter()
        .zip(&scopes)
        .filter_map(|(r, scope)| r.published_version.map(|version| Published { id: &r.id, version, scope }))
        .collect();
    let given: HashSet<(&str, i64, &str)> =
        acks.iter().map(|a| (a.policy_id.as_str(), a.version, a.user_id.as_str())).collect();
    let persons = people.persons();
    let owed = pending(&published, &persons, &given);
    let names: HashMap<&str, &str> =
        people.users.iter().map(|u| (u.id.as_str(), u.display_name.as_str())).collect();
    Ok(records
        .iter()
        .zip(&scopes)
        .map(|(r, scope)| {
            let in_scope = if r.published_version.is_some() {
                persons.iter().filter(|p| scope.covers(p)).count()
            } else {
                0
            };
            let mut pending: Vec<(String, String)> = owed
                .get(r.id.as_str())
                .map(|ids| {
                    ids.iter()
                        .map(|id| ((*id).to_owned(), names.get(id).copied().unwrap_or(id).to_owned()))
                        .collect()
                })
                .unwrap_or_default();
            pending.sort_by(|a, b| (&a.1, &a.0).cmp(&(&b.1, &b.0)));
            PolicyStatus {
                record: r.clone(),
                scope: scope.clone(),
                in_scope,
                acknowledged: in_scope - pending.len(),
                pending,
            }
        })
        .collect())
}

/// The acknowledgements owed and given over every published document (the live evidence of
/// Annex A 5.1, 6.2 and 6.6): (given, owed).
pub(crate) async fn acknowledgement_share(read: &mut dyn StoreRead) -> Result<(u64, u64), CoreError> {
    let all = statuses(read).await?;
    let owed: usize = all.iter().map(|s| s.in_scope).sum();
    let given: usize = all.iter().map(|s| s.acknowledged).sum();
    Ok((given as u64, owed as u64))
}

/// The confidentiality pledges in force, published to this person, that they have not
/// acknowledged: (policy id, title). Empty when the option is off.
pub(crate) async fn unacknowledged_pledges(
    read: &mut dyn StoreRead,
    principal: &Principal,
) -> Result<Vec<(String, String)>, CoreError> {
    if read.setting(LOOKUPS_REQUIRE_PLEDGE).await?.as_deref() != Some("true") {
        return Ok(Vec::new());
    }
    let pledges: Vec<PolicyRecord> = read
        .policies()
        .await?
        .into_iter()
        .filter(|p| p.kind == PolicyKind::ConfidentialityPledge.as_str() && p.published_version.is_some())
        .collect();
    if pledges.is_empty() {
        return Ok(Vec::new());
    }
    let mine = read.policy_acknowledgements(None, Some(&principal.user.id)).await?;
    let me = Person {
        id: &principal.user.id,
        roles: &principal.user.roles,
        site_id: principal.user.site_id.as_deref(),
        client_ids: &principal.client_ids,
    };
    Ok(pledges
        .into_iter()
        .filter(|p| scope_of(p).covers(&me))
        .filter(|p| !mine.iter().any(|a| a.policy_id == p.id && Some(a.version) == p.published_version))
        .map(|p| (p.id, p.title))
        .collect())
}

impl Isms {
    /// Every document with who must still acknowledge its version in force (`isms.read`).
    pub async fn policy_overview(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<PolicyOverview, CoreError> {
        self.base.permitted(principal, Permission::IsmsRead, &actions::ISMS_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let policies = statuses(&mut *read).await?;
        let lookups_require_pledge = read.setting(LOOKUPS_REQUIRE_PLEDGE).await?.as_deref() == Some("true");
        Ok(PolicyOverview { policies, lookups_require_pledge })
    }

    /// The documents published to the caller, with the version in force and whether they
    /// acknowledged it; those still to acknowledge first.
    pub async fn my_policies(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Vec<MyPolicy>, CoreError> {
        self.base.permitted(principal, Permission::PoliciesRead, &actions::ISMS_POLICY_READ, ctx).await?;
        let mut read = self.base.store.read().await?;
        let records = read.policies().await?;
        let mine = read.policy_acknowledgements(None, Some(&principal.user.id)).await?;
        let me = me(principal);
        let mut out = Vec::new();
        for r in records {
            let Some(version) = r.published_version else { continue };
            if !scope_of(&r).covers(&me) {
                continue;
            }
            let published_at = read
                .policy_versions(&r.id)
                .await?
                .into_iter()
                .find(|v| v.version == version)
                .and_then(|v| v.published_at);
            let acknowledged_at =
                mine.iter().find(|a| a.policy_id == r.id && a.version == version).map(|a| a.acknowledged_at);
            out.push(MyPolicy { record: r, version, published_at, acknowledged_at });
        }
        out.sort_by_key(|m| m.acknowledged_at.is_some());
        Ok(out)
    }

    /// One document: to a reader in its scope, its published versions and their own
    /// acknowledgement; to `isms.read`, its drafts, status and every acknowledgement too.
    pub async fn policy_detail(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<PolicyDetail, CoreError> {
        self.base.permitted(principal, Permission::PoliciesRead, &actions::ISMS_POLICY_READ, ctx).await?;
        let keeper = principal.can(Permission::IsmsRead);
        let mut read = self.base.store.read().await?;
        let record = self.known_policy(&mut *read, id).await?;
        let scope = scope_of(&record);
        let in_my_scope = record.published_version.is_some() && scope.covers(&me(principal));
        if !keeper && !in_my_scope {
            drop(read);
            return Err(self.out_of_scope(principal, id, ctx).await);
        }
        let mut versions = read.policy_versions(id).await?;
        if !keeper {
            versions.retain(|v| v.published_at.is_some());
        }
        let mine = read.policy_acknowledgements(Some(id), Some(&principal.user.id)).await?;
        let my_acknowledgement =
            mine.iter().find(|a| Some(a.version) == record.published_version).map(|a| a.acknowledged_at);
        let (status, acknowledgements) = if keeper {
            let status = statuses_of(&mut *read, Some(id)).await?.into_iter().next();
            (status, read.policy_acknowledgements(Some(id), None).await?)
        } else {
            (None, Vec::new())
        };
        let names = super::assets::display_names(&mut *read).await?;
        Ok(PolicyDetail {
            record,
            scope,
            versions,
            my_acknowledgement,
            in_my_scope,
            status,
            acknowledgements,
            names,
        })
    }

    /// The line diff between two versions of a document (drafts only for `isms.read`).
    pub async fn policy_diff(
        &self,
        principal: &Principal,
        id: &str,
        from: i64,
        to: i64,
        ctx: &RequestContext,
    ) -> Result<Vec<DiffLine>, CoreError> {
        let detail = self.policy_detail(principal, id, ctx).await?;
        let body = |field: &'static str, v: i64| {
            detail.versions.iter().find(|x| x.version == v).map(|x| x.body.clone()).ok_or_else(|| {
                CoreError::invalid(
                    field,
                    ErrorCode::InvalidValue,
                    format!("this document has no version {v}"),
                )
            })
        };
        Ok(diff(&body("from", from)?, &body("to", to)?))
    }

    /// Creates a document with its first draft (version 1); returns its id.
    pub async fn create_policy(
        &self,
        principal: &Principal,
        input: PolicyInput,
        ctx: &RequestContext,
    ) -> Result<String, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::ISMS_POLICY_CREATE, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        let ids = |units: Vec<mamori_store::OrgUnit>| units.into_iter().map(|u| u.id).collect::<HashSet<_>>();
        let sites = ids(tx.list_org_units(mamori_store::OrgKind::Site).await?);
        let clients = ids(tx.list_org_units(mamori_store::OrgKind::Client).await?);
        let input = input.checked(&sites, &clients).map_err(refused)?;
        let id = new_id();
        let (scope_roles, scope_sites, scope_clients) = input.scope.encode();
        let now = self.base.now();
        tx.insert_policy(&PolicyRecord {
            id: id.clone(),
            kind: input.kind.as_str().to_owned(),
            title: input.title,
            scope_roles,
            scope_sites,
            scope_clients,
            created_at: now,
            created_by: principal.actor().encode(),
            published_version: None,
            draft_version: None,
        })
        .await?;
        tx.put_policy_draft(&PolicyVersionRecord {
            policy_id: id.clone(),
            version: 1,
            body: input.body,
            note: input.note,
            drafted_at: now,
            drafted_by: principal.actor().encode(),
            published_at: None,
            published_by: None,
        })
        .await?;
        let e = AuditEvent::of(&actions::ISMS_POLICY_CREATE, principal.actor(), Outcome::Success)
            .object(format!("isms_policy:{id}"))
            .detail("kind", input.kind.as_str())
            .detail("version", "1");
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Saves the draft of the document's next version (replacing an unpublished draft);
    /// returns its version.
    pub async fn save_policy_draft(
        &self,
        principal: &Principal,
        id: &str,
        input: DraftInput,
        ctx: &RequestContext,
    ) -> Result<i64, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::ISMS_POLICY_DRAFT, ctx).await?;
        let input = input.checked().map_err(refused)?;
        let mut tx = self.base.store.begin().await?;
        let record = self.known_policy(&mut *tx, id).await?;
        let version = record.draft_version.unwrap_or(record.published_version.unwrap_or(0) + 1);
        tx.put_policy_draft(&PolicyVersionRecord {
            policy_id: id.to_owned(),
            version,
            body: input.body,
            note: input.note,
            drafted_at: self.base.now(),
            drafted_by: principal.actor().encode(),
            published_at: None,
            published_by: None,
        })
        .await?;
        let e = AuditEvent::of(&actions::ISMS_POLICY_DRAFT, principal.actor(), Outcome::Success)
            .object(format!("isms_policy:{id}"))
            .detail("version", version.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(version)
    }

    /// A security admin approves the draft `version` and publishes it: it is in force from now
    /// on, and everyone in scope owes an acknowledgement of it (earlier ones stay). Returns how
    /// many must acknowledge it.
    pub async fn publish_policy(
        &self,
        principal: &Principal,
        id: &str,
        version: i64,
        ctx: &RequestContext,
    ) -> Result<usize, CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::ISMS_POLICY_PUBLISH, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        let record = self.known_policy(&mut *tx, id).await?;
        if record.draft_version != Some(version) {
            return Err(CoreError::Conflict(match record.draft_version {
                Some(d) => {
                    format!("version {version} is not this document's draft (the draft is version {d})")
                }
                None => format!(
                    "this document has no draft to publish (version {version} is published already or does not exist)"
                ),
            }));
        }
        if !tx.publish_policy_version(id, version, self.base.now(), &principal.actor().encode()).await? {
            return Err(CoreError::Conflict("this draft was published meanwhile".into()));
        }
        let owed = statuses_of(&mut *tx, Some(id)).await?.into_iter().next().map_or(0, |s| s.pending.len());
        let e = AuditEvent::of(&actions::ISMS_POLICY_PUBLISH, principal.actor(), Outcome::Success)
            .object(format!("isms_policy:{id}"))
            .detail("version", version.to_string())
            .detail("pending", owed.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(owed)
    }

    /// The caller acknowledges [同意] the version in force of a document published to them.
    /// `version` is the one they read: a newer one published meanwhile is refused (409), so
    /// nobody agrees to a text they did not see. Acknowledging twice is harmless.
    pub async fn acknowledge_policy(
        &self,
        principal: &Principal,
        id: &str,
        version: i64,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base
            .permitted(principal, Permission::PoliciesRead, &actions::ISMS_POLICY_ACKNOWLEDGE, ctx)
            .await?;
        let mut tx = self.base.store.begin().await?;
        let record = self.known_policy(&mut *tx, id).await?;
        let Some(current) = record.published_version else {
            return Err(CoreError::Conflict("this document is not published yet".into()));
        };
        if !scope_of(&record).covers(&me(principal)) {
            drop(tx);
            return Err(self.out_of_scope(principal, id, ctx).await);
        }
        if version != current {
            return Err(CoreError::invalid(
                "version",
                ErrorCode::InvalidValue,
                format!("version {current} is in force: read it, then acknowledge version {current}"),
            ));
        }
        let ack = PolicyAckRecord {
            policy_id: id.to_owned(),
            version,
            user_id: principal.user.id.clone(),
            acknowledged_at: self.base.now(),
        };
        if tx.insert_policy_acknowledgement(&ack).await? {
            let e = AuditEvent::of(&actions::ISMS_POLICY_ACKNOWLEDGE, principal.actor(), Outcome::Success)
                .object(format!("isms_policy:{id}"))
                .detail("version", version.to_string())
                .detail("kind", record.kind.clone());
            self.base.audit(&mut tx, ctx, e).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Reminds by e-mail everyone who has not acknowledged the version in force (those with a
    /// mail address; once a day each). Returns (pending, mailed).
    pub async fn remind_policy(
        &self,
        principal: &Principal,
        id: &str,
        ctx: &RequestContext,
    ) -> Result<(usize, usize), CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::ISMS_POLICY_REMIND, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        let record = self.known_policy(&mut *tx, id).await?;
        let Some(version) = record.published_version else {
            return Err(CoreError::Conflict(
                "this document is not published yet: nobody owes an acknowledgement".into(),
            ));
        };
        let status = statuses_of(&mut *tx, Some(id)).await?.into_iter().next();
        let pending = status.map(|s| s.pending).unwrap_or_default();
        let addresses: HashMap<String, String> =
            tx.list_users().await?.into_iter().filter_map(|u| u.mail_address.map(|a| (u.id, a))).collect();
        let day = crate::jst::day(self.base.now());
        let subject = format!("[Mamori] 同意のお願い / please acknowledge: {} (v{version})", record.title);
        let body = format!(
            "「{title}」の第{version}版が公開されています。内容を確認し、同意してください。\n\
             Version {version} of \"{title}\" is in force: please read it and acknowledge it.\n\n{url}/policies/{id}\n",
            title = record.title,
            url = self.base.policies.public_url,
        );
        let mut mailed = 0;
        for (user, _) in &pending {
            let Some(address) = addresses.get(user) else { continue };
            let key = format!("isms_policy:{id}:v{version}:{user}:{day}");
            self.base
                .queue_mail_to(&mut tx, vec![address.clone()], key, subject.clone(), body.clone())
                .await?;
            mailed += 1;
        }
        let e = AuditEvent::of(&actions::ISMS_POLICY_REMIND, principal.actor(), Outcome::Success)
            .object(format!("isms_policy:{id}"))
            .detail("version", version.to_string())
            .detail("pending", pending.len().to_string())
            .detail("mailed", mailed.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok((pending.len(), mailed))
    }

    /// Turns the option "customer lookups require the current confidentiality pledge
    /// acknowledged" on or off.
    pub async fn set_lookups_require_pledge(
        &self,
        principal: &Principal,
        on: bool,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base.permitted(principal, Permission::IsmsManage, &actions::ISMS_POLICY_OPTION, ctx).await?;
        let mut tx = self.base.store.begin().await?;
        tx.put_setting(LOOKUPS_REQUIRE_PLEDGE, if on { "true" } else { "false" }).await?;
        let e = AuditEvent::of(&actions::ISMS_POLICY_OPTION, principal.actor(), Outcome::Success)
            .object("settings")
            .detail("lookups_require_pledge", on.to_string());
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn known_policy(
        &self,
        read: &mut (dyn StoreRead + '_),
        id: &str,
    ) -> Result<PolicyRecord, CoreError> {
        let found = if uuid::Uuid::parse_str(id).is_ok() { read.policy(id).await? } else { None };
        found.ok_or(CoreError::NotFound { what: "policy" })
    }

    /// A document not published to the caller: refused and recorded.
    async fn out_of_scope(&self, principal: &Principal, id: &str, ctx: &RequestContext) -> CoreError {
        let e = AuditEvent::of(&actions::ISMS_POLICY_READ, principal.actor(), Outcome::Denied)
            .object(format!("isms_policy:{id}"))
            .detail("reason", "scope");
        self.base.record_denied(ctx, e).await;
        CoreError::Forbidden("this document is not published to you")
    }
}

fn me(principal: &Principal) -> Person<'_> {
    Person {
        id: &principal.user.id,
        roles: &principal.user.roles,
        site_id: principal.user.site_id.as_deref(),
        client_ids: &principal.client_ids,
    }
}
