//! Rows as sqlx decodes them, and their conversion into the store's records.

use mamori_audit::merkle::Hash;
use mamori_audit::{AuditEntry, Category, Outcome};
use mamori_domain::identity::UserStatus;
use mamori_domain::{Role, UnixMillis};
use mamori_store::*;

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unexpected {what} `{value}`"))
}

pub(crate) fn join_list<T: AsRef<str>>(items: &[T]) -> String {
    items.iter().map(|s| s.as_ref()).collect::<Vec<_>>().join(",")
}

pub(crate) fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(',').filter(|p| !p.is_empty())
}

#[derive(sqlx::FromRow)]
pub(crate) struct UserRow {
    id: String,
    username: String,
    display_name: String,
    roles: String,
    status: String,
    language: Option<String>,
    team_id: Option<String>,
    site_id: Option<String>,
    mail_address: Option<String>,
    password_hash: Option<String>,
    password_changed_at: Option<i64>,
    totp_secret: Option<Vec<u8>>,
    totp_pending: Option<Vec<u8>>,
    totp_last_step: Option<i64>,
    failed_signins: i64,
    locked_until: Option<i64>,
    created_at: i64,
    updated_at: i64,
}

pub(crate) const USER_COLUMNS: &str = "id, username, display_name, roles, status, language, team_id, site_id, \
     mail_address, password_hash, password_changed_at, totp_secret, totp_pending, totp_last_step, failed_signins, \
     locked_until, created_at, updated_at";

impl TryFrom<UserRow> for UserRecord {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        let roles = split_list(&r.roles)
            .map(|s| s.parse::<Role>().map_err(|_| corrupt("role", s)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(UserRecord {
            status: UserStatus::parse(&r.status).ok_or_else(|| corrupt("user status", &r.status))?,
            id: r.id,
            username: r.username,
            display_name: r.display_name,
            roles,
            language: r.language,
            team_id: r.team_id,
            site_id: r.site_id,
            mail_address: r.mail_address,
            password_hash: r.password_hash,
            password_changed_at: r.password_changed_at.map(UnixMillis),
            totp_secret: r.totp_secret,
            totp_pending: r.totp_pending,
            totp_last_step: r.totp_last_step,
            failed_signins: r.failed_signins,
            locked_until: r.locked_until.map(UnixMillis),
            created_at: UnixMillis(r.created_at),
            updated_at: UnixMillis(r.updated_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SessionRow {
    id: String,
    digest: String,
    user_id: String,
    state: String,
    csrf_token: String,
    source_ip: Option<String>,
    user_agent: Option<String>,
    created_at: i64,
    last_seen_at: i64,
}

pub(crate) const SESSION_COLUMNS: &str =
    "id, digest, user_id, state, csrf_token, source_ip, user_agent, created_at, last_seen_at";

impl TryFrom<SessionRow> for SessionRecord {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        Ok(SessionRecord {
            state: SessionState::parse(&r.state).ok_or_else(|| corrupt("session state", &r.state))?,
            id: r.id,
            digest: r.digest,
            user_id: r.user_id,
            csrf_token: r.csrf_token,
            source_ip: r.source_ip,
            user_agent: r.user_agent,
            created_at: UnixMillis(r.created_at),
            last_seen_at: UnixMillis(r.last_seen_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct LinkRow {
    digest: String,
    purpose: String,
    user_id: Option<String>,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

impl TryFrom<LinkRow> for OneTimeLink {
    type Error = StoreError;
    fn try_from(r: LinkRow) -> Result<Self, StoreError> {
        Ok(OneTimeLink {
            purpose: LinkPurpose::parse(&r.purpose).ok_or_else(|| corrupt("link purpose", &r.purpose))?,
            digest: r.digest,
            user_id: r.user_id,
            created_at: UnixMillis(r.created_at),
            expires_at: UnixMillis(r.expires_at),
            used_at: r.used_at.map(UnixMillis),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApiTokenRow {
    id: String,
    digest: String,
    name: String,
    owner_id: String,
    permissions: String,
    created_at: i64,
    expires_at: i64,
    revoked_at: Option<i64>,
    last_used_at: Option<i64>,
}

pub(crate) const API_TOKEN_COLUMNS: &str =
    "id, digest, name, owner_id, permissions, created_at, expires_at, revoked_at, last_used_at";

impl From<ApiTokenRow> for ApiTokenRecord {
    fn from(r: ApiTokenRow) -> Self {
        ApiTokenRecord {
            permissions: split_list(&r.permissions).map(str::to_owned).collect(),
            id: r.id,
            digest: r.digest,
            name: r.name,
            owner_id: r.owner_id,
            created_at: UnixMillis(r.created_at),
            expires_at: UnixMillis(r.expires_at),
            revoked_at: r.revoked_at.map(UnixMillis),
            last_used_at: r.last_used_at.map(UnixMillis),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OrgRow {
    id: String,
    kind: String,
    name: String,
    site_id: Option<String>,
    created_at: i64,
}

impl TryFrom<OrgRow> for OrgUnit {
    type Error = StoreError;
    fn try_from(r: OrgRow) -> Result<Self, StoreError> {
        Ok(OrgUnit {
            kind: OrgKind::parse(&r.kind).ok_or_else(|| corrupt("org kind", &r.kind))?,
            id: r.id,
            name: r.name,
            site_id: r.site_id,
            created_at: UnixMillis(r.created_at),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SecurityEventRow {
    id: String,
    kind: String,
    user_id: Option<String>,
    details: String,
    created_at: i64,
}

impl From<SecurityEventRow> for SecurityEvent {
    fn from(r: SecurityEventRow) -> Self {
        SecurityEvent {
            id: r.id,
            kind: r.kind,
            user_id: r.user_id,
            details: r.details,
            created_at: UnixMillis(r.created_at),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    idx: i64,
    time: i64,
    category: String,
    action: String,
    actor: String,
    object: Option<String>,
    outcome: String,
    source_ip: Option<String>,
    request_id: Option<String>,
    details: String,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditEntry {
            category: Category::parse(&r.category).ok_or_else(|| corrupt("audit category", &r.category))?,
            outcome: Outcome::parse(&r.outcome).ok_or_else(|| corrupt("audit outcome", &r.outcome))?,
            details: serde_json::from_str(&r.details).map_err(|e| StoreError::Corrupt(e.to_string()))?,
            index: to_index(r.idx)?,
            time: UnixMillis(r.time),
            action: r.action,
            actor: r.actor,
            object: r.object,
            source_ip: r.source_ip,
            request_id: r.request_id,
        })
    }
}

/// Indexes and sizes are u64 in Mamori and BIGINT (i64) in the databases.
pub(crate) fn to_index(v: i64) -> StoreResult<u64> {
    u64::try_from(v).map_err(|_| corrupt("audit index", &v.to_string()))
}

pub(crate) fn from_index(v: u64) -> StoreResult<i64> {
    i64::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("audit index {v} is beyond what the database holds")))
}

pub(crate) fn to_hash(bytes: Vec<u8>) -> StoreResult<Hash> {
    bytes.try_into().map_err(|b: Vec<u8>| {
        StoreError::Corrupt(format!("a stored audit hash has {} bytes, not 32", b.len()))
    })
}

#[derive(sqlx::FromRow)]
pub(crate) struct CheckpointRow {
    size: i64,
    root: Vec<u8>,
    time: i64,
    note: String,
}

impl TryFrom<CheckpointRow> for CheckpointRecord {
    type Error = StoreError;
    fn try_from(r: CheckpointRow) -> Result<Self, StoreError> {
        Ok(CheckpointRecord {
            size: to_index(r.size)?,
            root: to_hash(r.root)?,
            time: UnixMillis(r.time),
            note: r.note,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct CustomerRow {
    id: String,
    client_id: String,
    wrapped_key: Vec<u8>,
    kek_version: i64,
    fields: Vec<u8>,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<CustomerRow> for CustomerRecord {
    type Error = StoreError;
    fn try_from(r: CustomerRow) -> Result<Self, StoreError> {
        Ok(CustomerRecord {
            kek_version: u32::try_from(r.kek_version)
                .map_err(|_| corrupt("key version", &r.kek_version.to_string()))?,
            id: r.id,
            client_id: r.client_id,
            wrapped_key: r.wrapped_key,
            fields: r.fields,
            created_at: UnixMillis(r.created_at),
            updated_at: UnixMillis(r.updated_at),
        })
    }
}

/// The columns of a device, in [`DeviceRow`] order.
pub(crate) const DEVICE_COLUMNS: &str = "SELECT id, public_key, hostname, site_id, user_id, enrolled_at, revoked_at, \
     last_seen_at, last_ip FROM devices";

pub(crate) type DeviceRow =
    (String, String, String, Option<String>, Option<String>, i64, Option<i64>, Option<i64>, Option<String>);

pub(crate) fn device_of(r: DeviceRow) -> DeviceRecord {
    let (id, public_key, hostname, site_id, user_id, enrolled, revoked, seen, last_ip) = r;
    DeviceRecord {
        id,
        public_key,
        hostname,
        site_id,
        user_id,
        enrolled_at: UnixMillis(enrolled),
        revoked_at: revoked.map(UnixMillis),
        last_seen_at: seen.map(UnixMillis),
        last_ip,
    }
}

pub(crate) const COMMAND_FIELDS: &str =
    "id, device_id, kind, message, state, issued_by, created_at, delivered_at, finished_at, result";

pub(crate) type CommandRow =
    (String, String, String, Option<String>, String, String, i64, Option<i64>, Option<i64>, Option<String>);

pub(crate) fn command_of(r: CommandRow) -> CommandRecord {
    let (id, device_id, kind, message, state, issued_by, created, delivered, finished, result) = r;
    CommandRecord {
        id,
        device_id,
        kind,
        message,
        state,
        issued_by,
        created_at: UnixMillis(created),
        delivered_at: delivered.map(UnixMillis),
        finished_at: finished.map(UnixMillis),
        result,
    }
}

/// The columns of an activity bucket, in [`ActivityRow`] order.
pub(crate) const ACTIVITY_COLUMNS: &str = "SELECT device_id, minute, keystrokes, clicks, idle_secs, app, \
     browser_domain, received_at FROM device_activity";

pub(crate) type ActivityRow = (String, i64, i64, i64, i64, Option<String>, Option<String>, i64);

pub(crate) fn activity_of(r: ActivityRow) -> ActivityRecord {
    let (device_id, minute, keystrokes, clicks, idle_secs, app, browser_domain, received) = r;
    let count = |n: i64| u32::try_from(n).unwrap_or(0);
    ActivityRecord {
        device_id,
        bucket: mamori_domain::activity::ActivityBucket {
            minute,
            keystrokes: count(keystrokes),
            clicks: count(clicks),
            idle_secs: count(idle_secs),
            app,
            browser_domain,
        },
        received_at: UnixMillis(received),
    }
}

/// A device event's columns: device, event id, kind, occurred, received, data.
pub(crate) type DeviceEventRow = (String, String, String, i64, i64, String);

pub(crate) fn device_event_of(r: DeviceEventRow) -> DeviceEventRecord {
    let (device_id, event_id, kind, occurred, received, data) = r;
    DeviceEventRecord {
        device_id,
        event_id,
        kind,
        occurred_at: UnixMillis(occurred),
        received_at: UnixMillis(received),
        data,
    }
}

/// Weekdays as the bits of a number (Monday 1 … Sunday 64), as `shifts.days` keeps them.
pub(crate) fn weekday_bits(days: &[mamori_domain::activity::Weekday]) -> i64 {
    use mamori_domain::activity::Weekday;
    days.iter().filter_map(|d| Weekday::ALL.iter().position(|w| w == d)).fold(0, |bits, i| bits | (1 << i))
}

fn weekdays_of(bits: i64) -> StoreResult<Vec<mamori_domain::activity::Weekday>> {
    use mamori_domain::activity::Weekday;
    if !(1..=127).contains(&bits) {
        return Err(corrupt("shift days", &bits.to_string()));
    }
    Ok(Weekday::ALL.iter().enumerate().filter(|(i, _)| bits & (1 << i) != 0).map(|(_, d)| *d).collect())
}

/// A stored version of shifts: the offset, then (days, start, end) in order.
pub(crate) fn shift_schedule_of(
    offset: i64,
    rows: Vec<(i64, String, String)>,
) -> StoreResult<mamori_domain::activity::ShiftSchedule> {
    let utc_offset_minutes =
        i32::try_from(offset).map_err(|_| corrupt("shift UTC offset", &offset.to_string()))?;
    let shifts = rows
        .into_iter()
        .map(|(days, start, end)| Ok(mamori_domain::activity::Shift { days: weekdays_of(days)?, start, end }))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(mamori_domain::activity::ShiftSchedule { utc_offset_minutes, shifts })
}

/// A stored version of keystroke limits: (role, limit) rows.
pub(crate) fn keystroke_limits_of(
    rows: Vec<(String, i64)>,
) -> StoreResult<mamori_domain::activity::KeystrokeLimits> {
    let per_role = rows
        .into_iter()
        .map(|(role, limit)| {
            let role = role.parse::<Role>().map_err(|_| corrupt("keystroke limit role", &role))?;
            let limit = u32::try_from(limit).map_err(|_| corrupt("keystroke limit", &limit.to_string()))?;
            Ok((role, limit))
        })
        .collect::<StoreResult<_>>()?;
    Ok(mamori_domain::activity::KeystrokeLimits { per_role })
}

/// A site's PC policy from its version row (antivirus age, screen lock, encryption, unreadable)
/// and its lists. Numbers out of range are corrupt; the rules themselves are checked by core.
pub(crate) fn site_policy_of(
    (av, lock, encryption, unreadable): (Option<i64>, Option<i64>, i64, i64),
    builds: Vec<(String, String)>,
    software: Vec<String>,
    networks: Vec<String>,
) -> StoreResult<mamori_domain::posture::PosturePolicy> {
    let days = |v: Option<i64>, what: &str| {
        v.map(|n| u32::try_from(n).map_err(|_| corrupt(what, &n.to_string()))).transpose()
    };
    let flag = |v: i64, what: &str| match v {
        0 => Ok(false),
        1 => Ok(true),
        other => Err(corrupt(what, &other.to_string())),
    };
    Ok(mamori_domain::posture::PosturePolicy {
        min_os_build: builds.into_iter().collect(),
        max_av_age_days: days(av, "antivirus age")?,
        max_screen_lock_secs: days(lock, "screen lock time")?,
        require_disk_encryption: flag(encryption, "disk encryption flag")?,
        software_allowlist: (!software.is_empty()).then_some(software),
        approved_networks: networks,
        unreadable: flag(unreadable, "unreadable flag")?,
    })
}

pub(crate) fn rule_version((version, changed_at, changed_by): (i64, i64, String)) -> RuleVersion {
    RuleVersion { version, changed_at: UnixMillis(changed_at), changed_by }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApprovalRow {
    id: String,
    kind: String,
    requester_id: String,
    requester_team: Option<String>,
    content: String,
    digest: String,
    reason: String,
    state: String,
    created_at: i64,
    decide_by: i64,
    closed_at: Option<i64>,
    grant_expires_at: Option<i64>,
}

impl TryFrom<ApprovalRow> for ApprovalRecord {
    type Error = StoreError;
    fn try_from(r: ApprovalRow) -> Result<Self, StoreError> {
        use mamori_domain::approval::{ApprovalKind, ApprovalState};
        Ok(ApprovalRecord {
            kind: ApprovalKind::parse(&r.kind)
                .ok_or_else(|| StoreError::Corrupt(format!("approval kind `{}`", r.kind)))?,
            state: ApprovalState::parse(&r.state)
                .ok_or_else(|| StoreError::Corrupt(format!("approval state `{}`", r.state)))?,
            id: r.id,
            requester_id: r.requester_id,
            requester_team: r.requester_team,
            content: r.content,
            digest: r.digest,
            reason: r.reason,
            created_at: UnixMillis(r.created_at),
            decide_by: UnixMillis(r.decide_by),
            closed_at: r.closed_at.map(UnixMillis),
            grant_expires_at: r.grant_expires_at.map(UnixMillis),
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct ApprovalDecisionRow {
    approval_id: String,
    decider_id: String,
    approve: bool,
    at: i64,
    comment: String,
}

impl From<ApprovalDecisionRow> for ApprovalDecision {
    fn from(r: ApprovalDecisionRow) -> Self {
        ApprovalDecision {
            approval_id: r.approval_id,
            decider_id: r.decider_id,
            approve: r.approve,
            at: UnixMillis(r.at),
            comment: r.comment,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct NotificationRow {
    id: String,
    subject: String,
    event: String,
    payload: String,
    created_at: i64,
    status: String,
    attempts: i64,
    next_at: i64,
    last_error: Option<String>,
    delivered_at: Option<i64>,
}

impl From<NotificationRow> for WebhookNotification {
    fn from(r: NotificationRow) -> Self {
        WebhookNotification {
            id: r.id,
            subject: r.subject,
            event: r.event,
            payload: r.payload,
            created_at: UnixMillis(r.created_at),
            status: r.status,
            attempts: r.attempts,
            next_at: UnixMillis(r.next_at),
            last_error: r.last_error,
            delivered_at: r.delivered_at.map(UnixMillis),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct OutgoingMailRow {
    id: String,
    sender_id: String,
    kind: String,
    envelope_from: String,
    recipients: String,
    findings: String,
    summary: Vec<u8>,
    size: i64,
    state: String,
    reason: Option<String>,
    approval_id: Option<String>,
    created_at: i64,
    confirm_after: i64,
    hold_until: i64,
    attempts: i64,
    next_at: i64,
    last_error: Option<String>,
    closed_at: Option<i64>,
}

impl From<OutgoingMailRow> for OutgoingMail {
    fn from(r: OutgoingMailRow) -> Self {
        OutgoingMail {
            id: r.id,
            sender_id: r.sender_id,
            kind: r.kind,
            envelope_from: r.envelope_from,
            recipients: r.recipients,
            findings: r.findings,
            summary: r.summary,
            size: r.size,
            state: r.state,
            reason: r.reason,
            approval_id: r.approval_id,
            created_at: UnixMillis(r.created_at),
            confirm_after: UnixMillis(r.confirm_after),
            hold_until: UnixMillis(r.hold_until),
            attempts: r.attempts,
            next_at: UnixMillis(r.next_at),
            last_error: r.last_error,
            closed_at: r.closed_at.map(UnixMillis),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AlertRow {
    id: String,
    rule: String,
    subject: String,
    subject_user_id: Option<String>,
    severity: String,
    state: String,
    first_at: i64,
    last_at: i64,
    hits: i64,
    value: i64,
    threshold: i64,
    window_minutes: i64,
    baseline_median: Option<f64>,
    baseline_mad: Option<f64>,
    baseline_hours: Option<i64>,
    deviation: Option<f64>,
    raised_index: i64,
    assignee_id: Option<String>,
    state_reason: Option<String>,
    suppressed_until: Option<i64>,
    updated_at: i64,
    updated_by: Option<String>,
}

impl From<AlertRow> for AlertRecord {
    fn from(r: AlertRow) -> Self {
        AlertRecord {
            id: r.id,
            rule: r.rule,
            subject: r.subject,
            subject_user_id: r.subject_user_id,
            severity: r.severity,
            state: r.state,
            first_at: UnixMillis(r.first_at),
            last_at: UnixMillis(r.last_at),
            hits: r.hits,
            value: r.value,
            threshold: r.threshold,
            window_minutes: r.window_minutes,
            baseline_median: r.baseline_median,
            baseline_mad: r.baseline_mad,
            baseline_hours: r.baseline_hours,
            deviation: r.deviation,
            raised_index: r.raised_index,
            assignee_id: r.assignee_id,
            state_reason: r.state_reason,
            suppressed_until: r.suppressed_until.map(UnixMillis),
            updated_at: UnixMillis(r.updated_at),
            updated_by: r.updated_by,
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AlertResponseRow {
    id: String,
    alert_id: String,
    kind: String,
    target: String,
    state: String,
    detail: Option<String>,
    created_at: i64,
    reversed_at: Option<i64>,
    reversed_by: Option<String>,
}

impl From<AlertResponseRow> for AlertResponseRecord {
    fn from(r: AlertResponseRow) -> Self {
        AlertResponseRecord {
            id: r.id,
            alert_id: r.alert_id,
            kind: r.kind,
            target: r.target,
            state: r.state,
            detail: r.detail,
            created_at: UnixMillis(r.created_at),
            reversed_at: r.reversed_at.map(UnixMillis),
            reversed_by: r.reversed_by,
        }
    }
}

/// A stored detection rule: (rule, enabled, severity, threshold, window minutes, responses).
pub(crate) type DetectionRuleRow = (String, i64, String, i64, i64, String);

pub(crate) fn detection_rule_of(
    row: DetectionRuleRow,
) -> StoreResult<(mamori_domain::detect::RuleId, mamori_domain::detect::RuleSettings)> {
    use mamori_domain::detect::{Response, RuleId, RuleSettings, Severity};
    let (rule, enabled, severity, threshold, window_minutes, responses) = row;
    let id = RuleId::parse(&rule).ok_or_else(|| corrupt("detection rule", &rule))?;
    let severity = Severity::parse(&severity).ok_or_else(|| corrupt("severity", &severity))?;
    let responses = split_list(&responses)
        .map(|r| Response::parse(r).ok_or_else(|| corrupt("response", r)))
        .collect::<StoreResult<Vec<_>>>()?;
    let number = |v: i64, what: &str| u32::try_from(v).map_err(|_| corrupt(what, &v.to_string()));
    Ok((
        id,
        RuleSettings {
            enabled: enabled != 0,
            severity,
            threshold: number(threshold, "threshold")?,
            window_minutes: number(window_minutes, "window")?,
            responses,
            // The options (scope, change window, memory) are read with the row, then set.
            ..id.defaults()
        },
    ))
}

#[derive(sqlx::FromRow)]
pub(crate) struct IncidentRow {
    id: String,
    number: i64,
    title: String,
    kind: String,
    state: String,
    severity: String,
    description: String,
    reported_by: Option<String>,
    assignee_id: Option<String>,
    learned_at: i64,
    created_at: i64,
    updated_at: i64,
    people: i64,
    sensitive: i64,
    financial: i64,
    wrongful_purpose: i64,
    encrypted_key_safe: i64,
    client_ids: String,
    preliminary_reported_at: Option<i64>,
    final_reported_at: Option<i64>,
    people_notified_at: Option<i64>,
    clients_notified_at: Option<i64>,
    review: Option<String>,
    closed_at: Option<i64>,
}

impl From<IncidentRow> for IncidentRecord {
    fn from(r: IncidentRow) -> Self {
        IncidentRecord {
            id: r.id,
            number: r.number,
            title: r.title,
            kind: r.kind,
            state: r.state,
            severity: r.severity,
            description: r.description,
            reported_by: r.reported_by,
            assignee_id: r.assignee_id,
            learned_at: UnixMillis(r.learned_at),
            created_at: UnixMillis(r.created_at),
            updated_at: UnixMillis(r.updated_at),
            data: mamori_domain::incident::DataAssessment {
                people: u32::try_from(r.people.max(0)).unwrap_or(u32::MAX),
                sensitive: r.sensitive != 0,
                financial: r.financial != 0,
                wrongful_purpose: r.wrongful_purpose != 0,
                encrypted_key_safe: r.encrypted_key_safe != 0,
            },
            client_ids: split_list(&r.client_ids).map(str::to_owned).collect(),
            preliminary_reported_at: r.preliminary_reported_at.map(UnixMillis),
            final_reported_at: r.final_reported_at.map(UnixMillis),
            people_notified_at: r.people_notified_at.map(UnixMillis),
            clients_notified_at: r.clients_notified_at.map(UnixMillis),
            review: r.review,
            closed_at: r.closed_at.map(UnixMillis),
        }
    }
}
