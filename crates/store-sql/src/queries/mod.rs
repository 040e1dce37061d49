//! Every query Mamori runs, written once for both backends, one file per area of
//! `mamori_store` (identity, audit, vault, devices, rules, shared state, settings).
//!
//! Each file holds a macro that expands to that area's `…Read` and `…Write` impls for a backend's
//! handle type; `store_tx_impl!` expands them all and `StoreTx::commit`. The handle has a
//! `handle: Handle<DB>` field, the store's `generation`, and an `identity_changed` flag that
//! every write to users, sessions, tokens or settings raises (the commit then advances the
//! generation). `$audit_lock` is the statement that makes the audit sequence gap-free and
//! single-writer on that backend, `$integrator_lock` the one that lets one process at a time
//! extend the Merkle tree (empty where the backend already serialises writers).
//!
//! A new area: its traits in `crates/store/src/<area>.rs`, its queries in a file here with its
//! own macro, called from `store_tx_impl!`, and its tables in both migration directories.

pub(crate) mod access_reviews;
pub(crate) mod approvals;
pub(crate) mod audit;
pub(crate) mod checks;
pub(crate) mod continuity;
pub(crate) mod detection;
pub(crate) mod devices;
pub(crate) mod identity;
pub(crate) mod incidents;
pub(crate) mod internal_audits;
pub(crate) mod isms;
pub(crate) mod mail;
pub(crate) mod rules;
pub(crate) mod settings;
pub(crate) mod shared;
pub(crate) mod training;
pub(crate) mod vault;

macro_rules! store_tx_impl {
    ($handle:ty, $db:ty, $audit_lock:expr, $integrator_lock:expr) => {
        $crate::queries::identity::identity_queries!($handle, $db);
        $crate::queries::audit::audit_queries!($handle, $db, $audit_lock, $integrator_lock);
        $crate::queries::vault::vault_queries!($handle, $db);
        $crate::queries::devices::devices_queries!($handle, $db);
        $crate::queries::shared::shared_queries!($handle, $db);
        $crate::queries::rules::rules_queries!($handle, $db);
        $crate::queries::settings::settings_queries!($handle, $db);
        $crate::queries::approvals::approvals_queries!($handle, $db);
        $crate::queries::mail::mail_queries!($handle, $db);
        $crate::queries::detection::detection_queries!($handle, $db);
        $crate::queries::incidents::incidents_queries!($handle, $db);
        $crate::queries::training::training_queries!($handle, $db);
        $crate::queries::isms::isms_queries!($handle, $db);
        $crate::queries::access_reviews::access_reviews_queries!($handle, $db);
        $crate::queries::continuity::continuity_queries!($handle, $db);
        $crate::queries::internal_audits::internal_audits_queries!($handle, $db);
        $crate::queries::checks::checks_queries!($handle, $db);

        #[async_trait::async_trait]
        impl mamori_store::StoreTx for $handle {
            async fn commit(self: Box<Self>) -> mamori_store::StoreResult<()> {
                let (generation, changed) = (self.generation.clone(), self.identity_changed);
                self.handle.commit().await?;
                if changed {
                    generation.advance();
                }
                Ok(())
            }
        }
    };
}

pub(crate) use store_tx_impl;
