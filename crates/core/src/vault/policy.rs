//! The field policy in force: read from the settings (shared by replicas) at most once a second,
//! and replaced at once in this process when the security admin changes it.

use crate::base::authorize::Attempt;
use crate::{CoreError, Principal, Vault, settings};
use mamori_audit::{AuditEvent, Outcome, RequestContext, actions};
use mamori_domain::Permission;
use mamori_domain::authz::Resource;
use mamori_domain::vault_policy::VaultPolicy;
use mamori_proto::ErrorCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long another replica's policy change may take to be seen here.
const POLICY_TTL: Duration = Duration::from_secs(1);

#[derive(Debug, Default)]
pub(crate) struct PolicyCache(std::sync::Mutex<Option<(Instant, Arc<VaultPolicy>)>>);

impl PolicyCache {
    fn get(&self) -> Option<Arc<VaultPolicy>> {
        let slot = self.0.lock().ok()?;
        slot.as_ref().filter(|(at, _)| at.elapsed() < POLICY_TTL).map(|(_, p)| p.clone())
    }

    fn put(&self, policy: Arc<VaultPolicy>) {
        if let Ok(mut slot) = self.0.lock() {
            *slot = Some((Instant::now(), policy));
        }
    }
}

impl Vault {
    /// The field classes and masks in force, to change them (`customers.manage`).
    pub async fn vault_policy(
        &self,
        principal: &Principal,
        ctx: &RequestContext,
    ) -> Result<Arc<VaultPolicy>, CoreError> {
        let attempt = Attempt::of(&actions::POLICY_READ).on("vault_policy".into(), "record");
        self.base.authorize(principal, Permission::CustomersManage, Resource::System, attempt, ctx).await?;
        self.policy_in_force().await
    }

    /// The field classes and masks every read applies.
    pub(crate) async fn policy_in_force(&self) -> Result<Arc<VaultPolicy>, CoreError> {
        if let Some(p) = self.vault_policy.get() {
            return Ok(p);
        }
        let stored = self.base.store.read().await?.setting(settings::VAULT_POLICY).await?;
        let policy = match stored {
            None => VaultPolicy::default(),
            Some(json) => serde_json::from_str::<VaultPolicy>(&json)
                .ok()
                .and_then(|p| p.checked().ok())
                .ok_or_else(|| CoreError::Internal("the stored vault policy cannot be read".into()))?,
        };
        let policy = Arc::new(policy);
        self.vault_policy.put(policy.clone());
        Ok(policy)
    }

    /// Replaces the field policy (security admin). Refused whole if any rule is wrong.
    pub async fn set_vault_policy(
        &self,
        principal: &Principal,
        policy: VaultPolicy,
        ctx: &RequestContext,
    ) -> Result<(), CoreError> {
        self.base
            .permitted(principal, Permission::CustomersManage, &actions::VAULT_POLICY_CHANGE, ctx)
            .await?;
        let policy = policy
            .checked()
            .map_err(|e| CoreError::invalid("fields", ErrorCode::InvalidPolicy, e.to_string()))?;
        let before = self.policy_in_force().await?;
        let changed: Vec<&str> = policy
            .fields
            .iter()
            .filter(|r| before.fields.iter().find(|b| b.field == r.field) != Some(*r))
            .map(|r| r.field.as_str())
            .collect();
        let json = serde_json::to_string(&policy).map_err(|e| CoreError::Internal(e.to_string()))?;
        let mut tx = self.base.store.begin().await?;
        tx.put_setting(settings::VAULT_POLICY, &json).await?;
        let e = AuditEvent::of(&actions::VAULT_POLICY_CHANGE, principal.actor(), Outcome::Success)
            .object("vault_policy")
            .detail("fields", changed.join(","));
        self.base.audit(&mut tx, ctx, e).await?;
        tx.commit().await?;
        self.vault_policy.put(Arc::new(policy));
        Ok(())
    }
}
