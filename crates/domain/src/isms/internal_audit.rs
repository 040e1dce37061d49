//! Internal audits [内部監査] (issue 18, item 5; ISMS-7): audits planned against the Statement of
//! Applicability's controls, and their findings tracked to closure (CAPA): a nonconformity gets
//! its root cause, a corrective action with an owner and a due date, and is closed only after an
//! effectiveness check by someone other than its owner. Pure rules; the register is in the core.

use serde::{Deserialize, Serialize};

/// Where an audit stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuditState {
    Planned,
    /// Held: its report written; findings may stay open after it.
    Reported,
}

impl AuditState {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditState::Planned => "planned",
            AuditState::Reported => "reported",
        }
    }
}

/// What a finding is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// 重大な不適合: a requirement not met at all, or a control not working.
    MajorNonconformity,
    /// 軽微な不適合: a lapse in a control that otherwise works.
    MinorNonconformity,
    /// 観察事項: not a nonconformity yet, worth watching.
    Observation,
    /// 改善の機会.
    Improvement,
}

impl FindingKind {
    pub const ALL: &'static [FindingKind] = &[
        FindingKind::MajorNonconformity,
        FindingKind::MinorNonconformity,
        FindingKind::Observation,
        FindingKind::Improvement,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingKind::MajorNonconformity => "major_nonconformity",
            FindingKind::MinorNonconformity => "minor_nonconformity",
            FindingKind::Observation => "observation",
            FindingKind::Improvement => "improvement",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }

    /// A nonconformity needs a root cause, a corrective action and an effectiveness check.
    pub fn is_nonconformity(self) -> bool {
        matches!(self, FindingKind::MajorNonconformity | FindingKind::MinorNonconformity)
    }
}

/// Where a finding stands (CAPA).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum FindingState {
    /// Recorded; the cause and the action not yet decided.
    Open,
    /// Root cause found, corrective action decided with an owner and a due date.
    ActionPlanned,
    /// The action done; its effect not yet checked.
    Implemented,
    /// Checked effective (or, for an observation, acknowledged).
    Closed,
}

impl FindingState {
    pub const ALL: &'static [FindingState] =
        &[FindingState::Open, FindingState::ActionPlanned, FindingState::Implemented, FindingState::Closed];

    pub fn as_str(self) -> &'static str {
        match self {
            FindingState::Open => "open",
            FindingState::ActionPlanned => "action_planned",
            FindingState::Implemented => "implemented",
            FindingState::Closed => "closed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|k| k.as_str() == s)
    }
}

/// An audit as planned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuditInput {
    pub title: String,
    /// What is audited: sites, teams, processes.
    #[serde(default)]
    pub scope: String,
    /// The SoA controls audited (their urns).
    #[serde(default)]
    pub controls: Vec<String>,
    /// The lead auditor (a user; not auditing their own work is the centre's rule to keep).
    pub auditor_id: String,
    /// The day it is planned for (`YYYY-MM-DD`).
    pub planned_on: String,
}

/// A finding as raised.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindingInput {
    pub kind: FindingKind,
    /// The control it is about (an urn), if any.
    #[serde(default)]
    pub control: Option<String>,
    pub description: String,
}

/// A step of a finding's CAPA.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "step", rename_all = "snake_case", deny_unknown_fields)]
pub enum FindingStep {
    /// Decide the cause and the action: open → action planned (again after an ineffective check).
    Plan { root_cause: String, corrective_action: String, owner_id: String, due_on: String },
    /// The action is done: action planned → implemented.
    Implemented { note: String },
    /// The effectiveness check, by someone other than the owner: implemented → closed when
    /// effective, back to action planned when not.
    Verify { effective: bool, note: String },
    /// An observation or an improvement acknowledged: open → closed (nonconformities go through
    /// the CAPA).
    Acknowledge { note: String },
}

impl FindingStep {
    pub fn as_str(&self) -> &'static str {
        match self {
            FindingStep::Plan { .. } => "plan",
            FindingStep::Implemented { .. } => "implemented",
            FindingStep::Verify { .. } => "verify",
            FindingStep::Acknowledge { .. } => "acknowledge",
        }
    }
}

/// Why an audit, a finding or a step was refused: the field and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct InternalAuditError {
    pub field: &'static str,
    pub message: String,
}

fn bad(field: &'static str, message: impl Into<String>) -> InternalAuditError {
    InternalAuditError { field, message: message.into() }
}

pub fn text(
    field: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<String, InternalAuditError> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(bad(field, "required"));
    }
    if value.chars().count() > max {
        return Err(bad(field, format!("at most {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\r') {
        return Err(bad(field, "control characters are not allowed"));
    }
    Ok(value.replace("\r\n", "\n"))
}

fn date(field: &'static str, value: &str) -> Result<String, InternalAuditError> {
    let value = value.trim();
    if !super::is_date(value) {
        return Err(bad(field, "a date as YYYY-MM-DD"));
    }
    Ok(value.to_owned())
}

/// Controls one audit names, at most.
pub const MAX_CONTROLS: usize = 200;

impl AuditInput {
    pub fn checked(mut self) -> Result<AuditInput, InternalAuditError> {
        self.title = text("title", &self.title, 200, true)?;
        self.scope = text("scope", &self.scope, 2000, false)?;
        self.auditor_id = text("auditor_id", &self.auditor_id, 100, true)?;
        self.planned_on = date("planned_on", &self.planned_on)?;
        self.controls = self.controls.iter().map(|c| c.trim().to_owned()).filter(|c| !c.is_empty()).collect();
        self.controls.sort();
        self.controls.dedup();
        if self.controls.len() > MAX_CONTROLS {
            return Err(bad("controls", format!("at most {MAX_CONTROLS}")));
        }
        Ok(self)
    }
}

impl FindingInput {
    pub fn checked(mut self) -> Result<FindingInput, InternalAuditError> {
        self.description = text("description", &self.description, 5000, true)?;
        self.control = self.control.map(|c| c.trim().to_owned()).filter(|c| !c.is_empty());
        Ok(self)
    }
}

/// What a step changes, once checked against the finding: its new state and the fields it sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepOutcome {
    pub to: FindingState,
    pub step: FindingStep,
}

impl FindingStep {
    /// The step checked against a finding of `kind` in `state` owned by `owner` (the
    /// corrective action's), taken by `actor` (a user id) on `today`.
    pub fn checked(
        self,
        kind: FindingKind,
        state: FindingState,
        owner: Option<&str>,
        actor: &str,
        today: &str,
    ) -> Result<StepOutcome, InternalAuditError> {
        let wrong = |what: &str| Err(bad("step", format!("{what} (the finding is {})", state.as_str())));
        match self {
            FindingStep::Plan { root_cause, corrective_action, owner_id, due_on } => {
                if !kind.is_nonconformity() {
                    return wrong(
                        "only a nonconformity gets a corrective action; acknowledge an observation",
                    );
                }
                if !matches!(state, FindingState::Open | FindingState::ActionPlanned) {
                    return wrong("the action is planned before it is implemented");
                }
                let due_on = date("due_on", &due_on)?;
                if due_on.as_str() < today {
                    return Err(bad("due_on", format!("a due date from today ({today}) on")));
                }
                let step = FindingStep::Plan {
                    root_cause: text("root_cause", &root_cause, 5000, true)?,
                    corrective_action: text("corrective_action", &corrective_action, 5000, true)?,
                    owner_id: text("owner_id", &owner_id, 100, true)?,
                    due_on,
                };
                Ok(StepOutcome { to: FindingState::ActionPlanned, step })
            }
            FindingStep::Implemented { note } => {
                if state != FindingState::ActionPlanned {
                    return wrong("plan the corrective action first");
                }
                let step = FindingStep::Implemented { note: text("note", &note, 5000, true)? };
                Ok(StepOutcome { to: FindingState::Implemented, step })
            }
            FindingStep::Verify { effective, note } => {
                if state != FindingState::Implemented {
                    return wrong("its effect is checked once the action is implemented");
                }
                if owner == Some(actor) {
                    return Err(bad(
                        "step",
                        "the effectiveness check is made by someone other than the action's owner",
                    ));
                }
                let note = text("note", &note, 5000, true)?;
                let to = if effective { FindingState::Closed } else { FindingState::ActionPlanned };
                Ok(StepOutcome { to, step: FindingStep::Verify { effective, note } })
            }
            FindingStep::Acknowledge { note } => {
                if kind.is_nonconformity() {
                    return wrong(
                        "a nonconformity is closed through its corrective action and effectiveness check",
                    );
                }
                if state != FindingState::Open {
                    return wrong("already closed");
                }
                let step = FindingStep::Acknowledge { note: text("note", &note, 5000, false)? };
                Ok(StepOutcome { to: FindingState::Closed, step })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FindingKind::*;
    use FindingState::*;

    const TODAY: &str = "2026-11-30";

    fn plan(due: &str) -> FindingStep {
        FindingStep::Plan {
            root_cause: "手順書に記載がなかった".into(),
            corrective_action: "手順書を改訂し周知".into(),
            owner_id: "u-owner".into(),
            due_on: due.into(),
        }
    }

    #[test]
    fn a_nonconformity_goes_through_capa() {
        let planned = plan("2026-12-31").checked(MinorNonconformity, Open, None, "u-lead", TODAY).unwrap();
        assert_eq!(planned.to, ActionPlanned);
        let field = |r: Result<StepOutcome, InternalAuditError>| r.unwrap_err().field;
        assert_eq!(field(plan("2026-11-29").checked(MinorNonconformity, Open, None, "x", TODAY)), "due_on");
        assert_eq!(field(plan("2026-12-31").checked(Observation, Open, None, "x", TODAY)), "step");
        let done = FindingStep::Implemented { note: "改訂版を配布".into() };
        assert_eq!(field(done.clone().checked(MinorNonconformity, Open, None, "x", TODAY)), "step");
        assert_eq!(
            done.checked(MinorNonconformity, ActionPlanned, None, "x", TODAY).unwrap().to,
            Implemented
        );
        let check =
            |effective| FindingStep::Verify { effective, note: "翌月の点検で再発なし".into() };
        let owner = Some("u-owner");
        assert_eq!(
            field(check(true).checked(MajorNonconformity, Implemented, owner, "u-owner", TODAY)),
            "step"
        );
        assert_eq!(
            check(true).checked(MajorNonconformity, Implemented, owner, "u-lead", TODAY).unwrap().to,
            Closed
        );
        assert_eq!(
            check(false).checked(MajorNonconformity, Implemented, owner, "u-lead", TODAY).unwrap().to,
            ActionPlanned,
            "not effective: back to a new action"
        );
        let ack = FindingStep::Acknowledge { note: String::new() };
        assert_eq!(field(ack.clone().checked(MajorNonconformity, Open, None, "x", TODAY)), "step");
        assert_eq!(ack.checked(Improvement, Open, None, "x", TODAY).unwrap().to, Closed);
    }

    #[test]
    fn audits_and_findings_are_checked() {
        let audit = AuditInput {
            title: " 2026年度 内部監査 ".into(),
            scope: "東京センター".into(),
            controls: vec![" b".into(), "a".into(), "b".into(), " ".into()],
            auditor_id: "u1".into(),
            planned_on: "2026-12-10".into(),
        };
        let ok = audit.clone().checked().unwrap();
        assert_eq!(
            (ok.title.as_str(), ok.controls.clone()),
            ("2026年度 内部監査", vec!["a".to_owned(), "b".into()])
        );
        let mut no_date = audit;
        no_date.planned_on = "12/10".into();
        assert_eq!(no_date.checked().unwrap_err().field, "planned_on");
        let finding = FindingInput { kind: Observation, control: Some(" ".into()), description: " ".into() };
        assert_eq!(finding.clone().checked().unwrap_err().field, "description");
        let ok = FindingInput { description: "施錠の記録漏れ".into(), ..finding }.checked().unwrap();
        assert_eq!(ok.control, None);
        for k in FindingKind::ALL {
            assert_eq!(FindingKind::parse(k.as_str()), Some(*k));
        }
        for s in FindingState::ALL {
            assert_eq!(FindingState::parse(s.as_str()), Some(*s));
        }
    }
}
