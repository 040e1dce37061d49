#![allow(clippy::zombie_processes, clippy::collapsible_if)]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Mamori's integration tests: one test binary, a module per feature. Every test that touches
//! storage runs twice, on SQLite and on PostgreSQL (see `support::Backend`).

mod access_reviews;
mod alerts_live;
mod approvals;
mod audit;
mod authz;
mod cli;
mod commands;
mod detection;
mod devices;
mod docs;
mod feed;
mod hostile;
mod identity;
mod incidents;
mod input;
mod isms;
mod isms_checks;
mod isms_console;
mod isms_continuity;
mod isms_disposals;
mod isms_internal_audits;
mod isms_legal;
mod isms_policies;
mod isms_training;
mod isms_transfer;
mod isms_vendor_files;
mod lists;
mod lookup_hold;
mod mail;
mod metrics;
mod pages;
mod people_mail;
mod replicas;
mod signals;
mod storage;
mod subject;
mod support;
mod vault;
mod words;
mod workspace;
