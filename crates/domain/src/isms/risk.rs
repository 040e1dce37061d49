//! Risks (issue 17, item 2; ISMS-2): threats and vulnerabilities against assets, rated on a risk
//! matrix that is data — a grid lookup, not a product — frozen with the assessment it belongs
//! to, so a later change of method does not rewrite old ratings. The default is the ISO/IEC
//! 27005-style 5×5 grid with five levels.

use serde::{Deserialize, Serialize};

/// One grade of an axis or one level, in both languages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Grade {
    pub en: String,
    pub ja: String,
}

/// A risk level: its names and its colour on the heat map (`#rrggbb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Level {
    pub en: String,
    pub ja: String,
    pub color: String,
}

/// A risk matrix: probability grades (low to high), impact grades (low to high), levels (low
/// to high) and the grid `grid[probability][impact]` → level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskMatrix {
    pub probability: Vec<Grade>,
    pub impact: Vec<Grade>,
    pub levels: Vec<Level>,
    pub grid: Vec<Vec<u8>>,
}

/// Why a matrix or a risk was refused: the field and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RiskError {
    pub field: &'static str,
    pub message: String,
}

fn err(field: &'static str, message: impl Into<String>) -> RiskError {
    RiskError { field, message: message.into() }
}

fn grade(en: &str, ja: &str) -> Grade {
    Grade { en: en.into(), ja: ja.into() }
}

impl RiskMatrix {
    /// The 5×5 grid of ISO/IEC 27005 practice (as CISO Assistant ships it), five levels.
    pub fn iso27005_5x5() -> RiskMatrix {
        let level =
            |en: &str, ja: &str, color: &str| Level { en: en.into(), ja: ja.into(), color: color.into() };
        RiskMatrix {
            probability: vec![
                grade("Rare", "まれ"),
                grade("Unlikely", "起こりにくい"),
                grade("Possible", "起こりうる"),
                grade("Likely", "起こりやすい"),
                grade("Almost certain", "ほぼ確実"),
            ],
            impact: vec![
                grade("Negligible", "軽微"),
                grade("Minor", "小"),
                grade("Moderate", "中"),
                grade("Major", "大"),
                grade("Severe", "甚大"),
            ],
            levels: vec![
                level("Very low", "非常に低い", "#2e7d32"),
                level("Low", "低い", "#8bc34a"),
                level("Medium", "中", "#fbc02d"),
                level("High", "高い", "#f57c00"),
                level("Very high", "非常に高い", "#c62828"),
            ],
            grid: vec![
                vec![0, 0, 1, 1, 1],
                vec![0, 1, 1, 2, 2],
                vec![1, 1, 2, 3, 3],
                vec![1, 2, 3, 3, 4],
                vec![2, 3, 3, 4, 4],
            ],
        }
    }

    /// The rules of a matrix: 2 to 10 grades an axis, 2 to 10 levels, a full grid of known
    /// levels, names of at most 50 characters, colours as `#rrggbb`.
    pub fn checked(self) -> Result<RiskMatrix, RiskError> {
        for (field, len) in [
            ("probability", self.probability.len()),
            ("impact", self.impact.len()),
            ("levels", self.levels.len()),
        ] {
            if !(2..=10).contains(&len) {
                return Err(err(field, "between 2 and 10"));
            }
        }
        let names = self
            .probability
            .iter()
            .chain(&self.impact)
            .flat_map(|g| [&g.en, &g.ja])
            .chain(self.levels.iter().flat_map(|l| [&l.en, &l.ja]));
        for name in names {
            if name.trim().is_empty() || name.chars().count() > 50 || name.chars().any(char::is_control) {
                return Err(err(
                    "names",
                    "every grade and level has a name of 1 to 50 characters in en and ja",
                ));
            }
        }
        for l in &self.levels {
            let hex = l
                .color
                .strip_prefix('#')
                .filter(|h| h.len() == 6 && h.chars().all(|c| c.is_ascii_hexdigit()));
            if hex.is_none() {
                return Err(err("levels", format!("`{}` is not a colour as #rrggbb", l.color)));
            }
        }
        if self.grid.len() != self.probability.len()
            || self.grid.iter().any(|row| row.len() != self.impact.len())
        {
            return Err(err("grid", "one row per probability grade, one cell per impact grade"));
        }
        if self.grid.iter().flatten().any(|&l| usize::from(l) >= self.levels.len()) {
            return Err(err("grid", "every cell names a level of the matrix"));
        }
        Ok(self)
    }

    /// The level of a rating (grades counted from 0); `None` outside the matrix.
    pub fn level(&self, probability: u8, impact: u8) -> Option<u8> {
        self.grid.get(usize::from(probability))?.get(usize::from(impact)).copied()
    }
}

/// What is done about a risk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Treatment {
    /// Not decided yet.
    Undecided,
    Reduce,
    Accept,
    Transfer,
    Avoid,
}

impl Treatment {
    pub const ALL: [Treatment; 5] =
        [Treatment::Undecided, Treatment::Reduce, Treatment::Accept, Treatment::Transfer, Treatment::Avoid];

    pub fn as_str(self) -> &'static str {
        match self {
            Treatment::Undecided => "undecided",
            Treatment::Reduce => "reduce",
            Treatment::Accept => "accept",
            Treatment::Transfer => "transfer",
            Treatment::Avoid => "avoid",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// A rating: probability and impact grades, counted from 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Rating {
    pub probability: u8,
    pub impact: u8,
}

/// A risk as a person describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskInput {
    pub title: String,
    #[serde(default)]
    pub threat: String,
    #[serde(default)]
    pub vulnerability: String,
    /// The assets it threatens.
    #[serde(default)]
    pub asset_ids: Vec<String>,
    /// Before treatment.
    pub inherent: Rating,
    /// After the controls (none until assessed).
    #[serde(default)]
    pub residual: Option<Rating>,
    pub treatment: Treatment,
    /// The controls that treat it (urns of catalog controls).
    #[serde(default)]
    pub control_urns: Vec<String>,
    #[serde(default)]
    pub owner_id: Option<String>,
    /// The treatment is due (`YYYY-MM-DD`).
    #[serde(default)]
    pub due_on: Option<String>,
    /// The next review (`YYYY-MM-DD`, ISMS-9).
    #[serde(default)]
    pub review_on: Option<String>,
    #[serde(default)]
    pub notes: String,
}

fn text(field: &'static str, value: &str, max: usize, required: bool) -> Result<String, RiskError> {
    let value = value.trim();
    if required && value.is_empty() {
        return Err(err(field, "required"));
    }
    if value.chars().count() > max {
        return Err(err(field, format!("at most {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(err(field, "control characters are not allowed"));
    }
    Ok(value.to_owned())
}

fn date(field: &'static str, value: Option<String>) -> Result<Option<String>, RiskError> {
    match value.map(|d| d.trim().to_owned()).filter(|d| !d.is_empty()) {
        Some(d) if !super::is_date(&d) => Err(err(field, "a date as YYYY-MM-DD")),
        other => Ok(other),
    }
}

impl RiskInput {
    /// The rules of a risk against its assessment's matrix: ratings inside the grid, a title,
    /// bounded texts and lists, real dates; a treatment other than accepting names a control.
    pub fn checked(mut self, matrix: &RiskMatrix) -> Result<RiskInput, RiskError> {
        self.title = text("title", &self.title, 200, true)?;
        self.threat = text("threat", &self.threat, 2000, false)?;
        self.vulnerability = text("vulnerability", &self.vulnerability, 2000, false)?;
        self.notes = text("notes", &self.notes, 2000, false)?;
        let inside = |r: &Rating| matrix.level(r.probability, r.impact).is_some();
        if !inside(&self.inherent) {
            return Err(err(
                "inherent",
                "the probability and impact are grades of the matrix (counted from 0)",
            ));
        }
        if self.residual.as_ref().is_some_and(|r| !inside(r)) {
            return Err(err(
                "residual",
                "the probability and impact are grades of the matrix (counted from 0)",
            ));
        }
        self.asset_ids.sort();
        self.asset_ids.dedup();
        self.control_urns = self.control_urns.iter().map(|u| u.trim().to_lowercase()).collect();
        self.control_urns.sort();
        self.control_urns.dedup();
        if self.asset_ids.len() > 200 || self.control_urns.len() > 200 {
            return Err(err("asset_ids", "at most 200 assets and 200 controls"));
        }
        if self.treatment == Treatment::Reduce && self.control_urns.is_empty() {
            return Err(err("control_urns", "a risk reduced names the controls that reduce it"));
        }
        self.owner_id = self.owner_id.map(|o| o.trim().to_owned()).filter(|o| !o.is_empty());
        self.due_on = date("due_on", self.due_on)?;
        self.review_on = date("review_on", self.review_on)?;
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn risk() -> RiskInput {
        RiskInput {
            title: "委託先社員による顧客情報の持ち出し".into(),
            threat: String::new(),
            vulnerability: String::new(),
            asset_ids: vec![],
            inherent: Rating { probability: 3, impact: 4 },
            residual: Some(Rating { probability: 1, impact: 4 }),
            treatment: Treatment::Reduce,
            control_urns: vec!["URN:mamori:control:iso27001-2022:a.8.12".into()],
            owner_id: None,
            due_on: None,
            review_on: None,
            notes: String::new(),
        }
    }

    #[test]
    fn the_default_matrix_is_the_grid() {
        let m = RiskMatrix::iso27005_5x5().checked().unwrap();
        assert_eq!(
            (m.level(0, 0), m.level(3, 4), m.level(4, 4), m.level(5, 0)),
            (Some(0), Some(4), Some(4), None)
        );
        assert_eq!(m.level(1, 3), Some(2), "a lookup, not probability × impact");
    }

    #[test]
    fn a_matrix_is_checked() {
        let mut m = RiskMatrix::iso27005_5x5();
        m.grid[2].pop();
        assert_eq!(m.checked().unwrap_err().field, "grid");
        let mut m = RiskMatrix::iso27005_5x5();
        m.grid[0][0] = 5;
        assert_eq!(m.checked().unwrap_err().field, "grid");
        let mut m = RiskMatrix::iso27005_5x5();
        m.levels[0].color = "green".into();
        assert_eq!(m.checked().unwrap_err().field, "levels");
        let mut m = RiskMatrix::iso27005_5x5();
        m.impact.truncate(1);
        assert_eq!(m.checked().unwrap_err().field, "impact");
    }

    #[test]
    fn a_risk_is_checked_against_its_matrix() {
        let m = RiskMatrix::iso27005_5x5();
        let ok = risk().checked(&m).unwrap();
        assert_eq!(ok.control_urns, ["urn:mamori:control:iso27001-2022:a.8.12"]);
        let mut outside = risk();
        outside.inherent.impact = 5;
        assert_eq!(outside.checked(&m).unwrap_err().field, "inherent");
        let mut bare = risk();
        bare.control_urns.clear();
        assert_eq!(bare.checked(&m).unwrap_err().field, "control_urns");
        let mut accepted = risk();
        accepted.control_urns.clear();
        accepted.treatment = Treatment::Accept;
        assert!(accepted.checked(&m).is_ok());
    }
}
