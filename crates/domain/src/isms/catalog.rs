//! Control catalogs (issue 17, item 3): ISO/IEC 27001:2022 Annex A, the telework measures and
//! the call-centre leak countermeasures ship as YAML files of the project's own; a centre can
//! import its own in the same format. The format is documented in `docs/isms.md`; it follows
//! the spirit of CISO Assistant's libraries (urn, ref_id, parent, assessable, translations with
//! `ja`), and a CISO Assistant library's `objects.framework.requirement_nodes` read as controls.

use serde::Deserialize;
use std::collections::{BTreeMap, HashSet};

/// The catalogs every installation starts with.
pub const BUILT_IN: [&str; 3] = [
    include_str!("../../catalogs/iso27001-2022-annex-a.yaml"),
    include_str!("../../catalogs/telework-guideline.yaml"),
    include_str!("../../catalogs/call-center-leak.yaml"),
];

/// The largest catalog file read (the API's body limit).
pub const MAX_CATALOG_BYTES: usize = 1024 * 1024;
/// The most controls one catalog may hold.
pub const MAX_CONTROLS: usize = 5000;

/// A catalog as read from its file, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Catalog {
    pub urn: String,
    pub ref_id: String,
    pub name: String,
    pub name_ja: Option<String>,
    pub version: i64,
    pub provider: Option<String>,
    /// Parents before their children, in the file's order.
    pub controls: Vec<CatalogControl>,
    /// (control of this catalog, control of another) where the two overlap.
    pub mappings: Vec<(String, String)>,
}

/// One node of a catalog: a theme (not assessable) or a control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CatalogControl {
    pub urn: String,
    pub parent: Option<String>,
    pub ref_id: String,
    pub name: String,
    pub name_ja: Option<String>,
    pub description: Option<String>,
    pub description_ja: Option<String>,
    /// Whether the SoA decides on it (themes and headings are not).
    pub assessable: bool,
}

/// Why a catalog file was refused: where, and what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CatalogError {
    #[error("the file is not YAML this reader understands (line {line}, column {column}): {message}")]
    Syntax { line: usize, column: usize, message: String },
    #[error("{at}: {message}")]
    Invalid { at: String, message: String },
}

fn invalid(at: impl Into<String>, message: impl Into<String>) -> CatalogError {
    CatalogError::Invalid { at: at.into(), message: message.into() }
}

#[derive(Debug, Deserialize)]
struct RawFile {
    format: Option<u32>,
    urn: Option<String>,
    ref_id: Option<String>,
    name: Option<String>,
    version: Option<i64>,
    provider: Option<String>,
    #[serde(default)]
    translations: BTreeMap<String, RawTranslation>,
    controls: Option<Vec<RawControl>>,
    #[serde(default)]
    mappings: Vec<RawMapping>,
    /// A CISO Assistant library.
    objects: Option<RawObjects>,
}

#[derive(Debug, Deserialize)]
struct RawObjects {
    framework: Option<RawFramework>,
}

#[derive(Debug, Deserialize)]
struct RawFramework {
    urn: Option<String>,
    ref_id: Option<String>,
    name: Option<String>,
    #[serde(default)]
    translations: BTreeMap<String, RawTranslation>,
    #[serde(default)]
    requirement_nodes: Vec<RawControl>,
}

#[derive(Debug, Default, Deserialize)]
struct RawTranslation {
    name: Option<String>,
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
struct RawControl {
    urn: Option<String>,
    #[serde(alias = "parent_urn")]
    parent: Option<String>,
    ref_id: Option<String>,
    name: Option<String>,
    description: Option<String>,
    assessable: Option<bool>,
    #[serde(default)]
    translations: BTreeMap<String, RawTranslation>,
}

#[derive(Debug, Deserialize)]
struct RawMapping {
    from: Option<String>,
    to: Option<String>,
}

/// Reads and checks a catalog file. Every problem names the control (by position and urn)
/// and the field.
pub fn parse_catalog(text: &str) -> Result<Catalog, CatalogError> {
    if text.len() > MAX_CATALOG_BYTES {
        return Err(invalid("file", format!("a catalog file is at most {} MB", MAX_CATALOG_BYTES >> 20)));
    }
    let raw: RawFile = yaml_serde::from_str(text).map_err(|e| {
        let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
        CatalogError::Syntax { line, column, message: e.to_string() }
    })?;
    if let Some(format) = raw.format
        && format != 1
    {
        return Err(invalid("format", format!("format {format} is not known; this version reads format 1")));
    }
    // Our own layout, or a CISO Assistant library (whose framework holds the nodes).
    let (urn, ref_id, name, translations, nodes) = match (raw.controls, raw.objects.and_then(|o| o.framework))
    {
        (Some(controls), None) => (raw.urn, raw.ref_id, raw.name, raw.translations, controls),
        (None, Some(f)) => (
            raw.urn.or(f.urn),
            f.ref_id.or(raw.ref_id),
            f.name.or(raw.name),
            if f.translations.is_empty() { raw.translations } else { f.translations },
            f.requirement_nodes,
        ),
        (Some(_), Some(_)) => {
            return Err(invalid("file", "a catalog has either `controls` or `objects.framework`, not both"));
        }
        (None, None) => {
            return Err(invalid("file", "no `controls` list (nor a CISO Assistant `objects.framework`)"));
        }
    };
    let urn = check_urn("urn", urn)?;
    let ref_id = check_text("ref_id", ref_id, 100)?;
    let name = check_text("name", name, 300)?;
    let name_ja =
        optional_text("translations.ja.name", translations.get("ja").and_then(|t| t.name.clone()), 300)?;
    if nodes.is_empty() {
        return Err(invalid("controls", "the catalog has no controls"));
    }
    if nodes.len() > MAX_CONTROLS {
        return Err(invalid("controls", format!("a catalog holds at most {MAX_CONTROLS} controls")));
    }
    let mut seen = HashSet::new();
    let mut controls = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.into_iter().enumerate() {
        let at = |field: &str, urn: &Option<String>| match urn {
            Some(u) => format!("control {} ({u}), {field}", i + 1),
            None => format!("control {}, {field}", i + 1),
        };
        let control_urn = check_urn(&at("urn", &None), node.urn.clone())?;
        let at = |field: &str| at(field, &Some(control_urn.clone()));
        if !seen.insert(control_urn.clone()) {
            return Err(invalid(at("urn"), "the same urn appears twice"));
        }
        let parent = match node.parent {
            Some(p) if !seen.contains(&p) || p == control_urn => {
                return Err(invalid(at("parent"), format!("`{p}` is not a control defined above this one")));
            }
            other => other,
        };
        let ja = node.translations.get("ja");
        let description = optional_text(&at("description"), node.description, 2000)?;
        // CISO Assistant nodes sometimes carry only a description: its first line names them.
        let fallback_name =
            description.as_deref().map(|d| d.lines().next().unwrap_or(d).chars().take(300).collect());
        let ref_id = node.ref_id.or_else(|| control_urn.rsplit(':').next().map(str::to_owned));
        controls.push(CatalogControl {
            parent,
            ref_id: check_text(&at("ref_id"), ref_id, 100)?,
            name: check_text(&at("name"), node.name.or(fallback_name), 300)?,
            name_ja: optional_text(&at("translations.ja.name"), ja.and_then(|t| t.name.clone()), 300)?,
            description,
            description_ja: optional_text(
                &at("translations.ja.description"),
                ja.and_then(|t| t.description.clone()),
                2000,
            )?,
            assessable: node.assessable.ok_or_else(|| invalid(at("assessable"), "say true or false"))?,
            urn: control_urn,
        });
    }
    let mut mappings = Vec::with_capacity(raw.mappings.len());
    let mut mapped = HashSet::new();
    for (i, m) in raw.mappings.into_iter().enumerate() {
        let at = format!("mapping {}", i + 1);
        let from = check_urn(&format!("{at}, from"), m.from)?;
        let to = check_urn(&format!("{at}, to"), m.to)?;
        if !seen.contains(&from) {
            return Err(invalid(format!("{at}, from"), format!("`{from}` is not a control of this catalog")));
        }
        if seen.contains(&to) {
            return Err(invalid(format!("{at}, to"), "a mapping links to a control of another catalog"));
        }
        if mapped.insert((from.clone(), to.clone())) {
            mappings.push((from, to));
        }
    }
    Ok(Catalog {
        urn,
        ref_id,
        name,
        name_ja,
        version: raw.version.unwrap_or(1).max(1),
        provider: optional_text("provider", raw.provider, 200)?,
        controls,
        mappings,
    })
}

/// A urn: `urn:` then letters, digits and `:._-/` (lower-cased), at most 200 characters.
fn check_urn(at: &str, value: Option<String>) -> Result<String, CatalogError> {
    let value = value.map(|v| v.trim().to_lowercase()).unwrap_or_default();
    if value.is_empty() {
        return Err(invalid(at, "missing (a urn such as urn:mamori:control:my-catalog:1)"));
    }
    let well_formed = value.starts_with("urn:")
        && value.len() <= 200
        && value.chars().all(|c| c.is_ascii_alphanumeric() || ":._-/".contains(c));
    if !well_formed {
        return Err(invalid(
            at,
            format!(
                "`{value}` is not a urn (urn: then letters, digits and : . _ - /, at most 200 characters)"
            ),
        ));
    }
    Ok(value)
}

fn check_text(at: &str, value: Option<String>, max: usize) -> Result<String, CatalogError> {
    optional_text(at, value, max)?.ok_or_else(|| invalid(at, "missing"))
}

fn optional_text(at: &str, value: Option<String>, max: usize) -> Result<Option<String>, CatalogError> {
    let Some(value) = value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()) else {
        return Ok(None);
    };
    if value.chars().count() > max {
        return Err(invalid(at, format!("at most {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(invalid(at, "control characters are not allowed"));
    }
    Ok(Some(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_catalogs_read() {
        let annex_a = parse_catalog(BUILT_IN[0]).unwrap();
        let assessable = annex_a.controls.iter().filter(|c| c.assessable).count();
        assert_eq!((assessable, annex_a.controls.len()), (93, 97), "93 controls in 4 themes");
        let themes: Vec<_> =
            annex_a.controls.iter().filter(|c| !c.assessable).map(|c| c.ref_id.as_str()).collect();
        assert_eq!(themes, ["A.5", "A.6", "A.7", "A.8"]);
        let telework = parse_catalog(BUILT_IN[1]).unwrap();
        assert_eq!(telework.controls.len(), 13);
        let leak = parse_catalog(BUILT_IN[2]).unwrap();
        assert_eq!(leak.controls.len(), 14);
        let annex_urns: HashSet<_> = annex_a.controls.iter().map(|c| c.urn.as_str()).collect();
        for catalog in [&annex_a, &telework, &leak] {
            assert!(
                catalog.controls.iter().all(|c| c.name_ja.is_some()),
                "{} has Japanese names",
                catalog.urn
            );
            for (_, to) in &catalog.mappings {
                assert!(annex_urns.contains(to.as_str()), "{to} is an Annex A control");
            }
        }
        assert!(!telework.mappings.is_empty() && !leak.mappings.is_empty());
    }

    #[test]
    fn a_ciso_assistant_library_reads() {
        let text = r#"
urn: urn:intuitem:risk:library:example
locale: en
ref_id: EX
name: Example
objects:
  framework:
    urn: urn:intuitem:risk:framework:example
    ref_id: EX
    name: Example framework
    requirement_nodes:
      - urn: urn:intuitem:risk:req_node:example:1
        assessable: false
        depth: 1
        ref_id: "1"
        name: Theme
      - urn: urn:intuitem:risk:req_node:example:1.1
        assessable: true
        depth: 2
        parent_urn: urn:intuitem:risk:req_node:example:1
        description: Keep a list of everything.
        translations:
          ja:
            name: 一覧
"#;
        let c = parse_catalog(text).unwrap();
        assert_eq!(c.urn, "urn:intuitem:risk:library:example");
        assert_eq!(c.controls[1].parent.as_deref(), Some("urn:intuitem:risk:req_node:example:1"));
        assert_eq!(
            (c.controls[1].ref_id.as_str(), c.controls[1].name.as_str()),
            ("1.1", "Keep a list of everything.")
        );
        assert_eq!(c.controls[1].name_ja.as_deref(), Some("一覧"));
    }

    #[test]
    fn bad_files_say_where() {
        let base = "urn: urn:x:cat\nref_id: X\nname: X\ncontrols:\n";
        let cases = [
            ("urn: [", "line"),
            ("urn: urn:x:cat\nref_id: X\nname: X\n", "no `controls`"),
            (
                &format!("{base}  - urn: urn:x:1\n    ref_id: '1'\n    name: One\n"),
                "control 1 (urn:x:1), assessable",
            ),
            (
                &format!(
                    "{base}  - urn: urn:x:1\n    parent: urn:x:0\n    ref_id: '1'\n    name: One\n    assessable: true\n"
                ),
                "not a control defined above",
            ),
            (
                &format!(
                    "{base}  - urn: urn:x:1\n    ref_id: '1'\n    name: One\n    assessable: true\n  - urn: URN:X:1\n    ref_id: '2'\n    name: Two\n    assessable: true\n"
                ),
                "appears twice",
            ),
            (
                &format!(
                    "{base}  - urn: 'not a urn'\n    ref_id: '1'\n    name: One\n    assessable: true\n"
                ),
                "is not a urn",
            ),
            (
                &format!(
                    "{base}  - urn: urn:x:1\n    ref_id: '1'\n    name: One\n    assessable: true\nmappings:\n  - from: urn:x:2\n    to: urn:y:1\n"
                ),
                "mapping 1, from",
            ),
            ("format: 2\nurn: urn:x:cat\n", "format 2"),
        ];
        for (text, expected) in cases {
            let e = parse_catalog(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text:?} → {e}");
        }
    }
}
