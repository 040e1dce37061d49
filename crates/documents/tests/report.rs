#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The table report (the Statement of Applicability as PDF), read back with poppler
//! (`pdftotext`, `pdfinfo`, `pdffonts`; Debian's `poppler-utils`, installed by
//! scripts/install-test-deps.sh). Without poppler these tests fail under CI (`CI=true`) and are
//! skipped, with a note, elsewhere.

use mamori_documents::{
    Column, DocumentError, Language, MAX_COLUMNS, MAX_PAGES, MAX_REPORT_ROWS, MAX_SHORT_CHARS,
    MAX_VALUE_CHARS, TableReport, table_report_pdf,
};
use std::path::{Path, PathBuf};
use std::process::Command;

fn columns(lang: Language) -> Vec<Column> {
    let headings: [(&str, &str, u16); 6] = [
        ("管理策番号", "Ref", 7),
        ("管理策", "Control", 22),
        ("適用", "Applicable", 7),
        ("理由", "Justification", 30),
        ("実施状況", "Implementation", 10),
        ("証跡", "Evidence", 24),
    ];
    headings
        .iter()
        .map(|(ja, en, share)| Column {
            heading: match lang {
                Language::Ja => ja.to_string(),
                Language::En => en.to_string(),
            },
            share: *share,
        })
        .collect()
}

/// 150 controls, some with long justifications, in Japanese.
fn soa() -> TableReport {
    let rows = (1..=150)
        .map(|i| {
            let justification = match i % 7 {
                0 => format!(
                    "理由{i}：{}",
                    "コンタクトセンターの業務では顧客情報を扱うため、この管理策を適用する。".repeat(4)
                ),
                3 => format!("Reason {i}: {}", "operators handle customer records on every call. ".repeat(3)),
                _ => format!("理由{i}：業務上必要"),
            };
            vec![
                format!("A.{}.{i}", i % 8 + 5),
                format!("管理策{i} 情報セキュリティのための方針群"),
                if i % 10 == 0 { "対象外".to_owned() } else { "適用".to_owned() },
                justification,
                "実施済み".to_owned(),
                if i % 5 == 0 { "監査ログの検証: 不合格".to_owned() } else { String::new() },
            ]
        })
        .collect();
    TableReport {
        title: "適用宣言書（ISO/IEC 27001:2022 附属書A）".to_owned(),
        subtitle_lines: vec![
            "管理策カタログ: ISO/IEC 27001:2022 附属書A".to_owned(),
            "時点: 2026-11-29 11:05 JST".to_owned(),
            "出力者: セキュリティ管理者 (demo-secadmin01)".to_owned(),
        ],
        columns: columns(Language::Ja),
        rows,
        generated_jst: "2026-11-29 11:05 JST".to_owned(),
    }
}

/// Whether poppler's tools are here; under CI their absence fails the test.
fn poppler() -> bool {
    let found =
        ["pdftotext", "pdffonts", "pdfinfo"].iter().all(|tool| Command::new(tool).arg("-v").output().is_ok());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "pdftotext, pdffonts or pdfinfo not found: install poppler-utils (bash scripts/install-test-deps.sh)"
        );
        eprintln!("skipped: pdftotext, pdffonts or pdfinfo not found (install poppler-utils)");
    }
    found
}

fn write_pdf(pdf: &[u8], name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, pdf).unwrap();
    (dir, path)
}

fn info(pdf: &Path) -> String {
    let out = Command::new("pdfinfo").arg(pdf).output().unwrap();
    String::from_utf8(out.stdout).unwrap()
}

fn pages(pdf: &Path) -> usize {
    let text = info(pdf);
    let line = text.lines().find(|l| l.starts_with("Pages:")).unwrap();
    line.trim_start_matches("Pages:").trim().parse().unwrap()
}

/// Page `page`'s text in content order.
fn page_text(pdf: &Path, page: usize) -> String {
    let n = page.to_string();
    let out = Command::new("pdftotext")
        .args(["-raw", "-enc", "UTF-8", "-f", &n, "-l", &n])
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn squeeze(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn a_long_japanese_table_reads_back_with_headings_on_every_page() {
    if !poppler() {
        return;
    }
    let report = soa();
    let pdf = table_report_pdf(&report, Language::Ja).unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let (_dir, path) = write_pdf(&pdf, "soa.pdf");

    // A4 landscape.
    let info = info(&path);
    assert!(info.contains("841.89 x 595.28") || info.contains("842 x 595"), "{info}");
    let total = pages(&path);
    assert!((5..=30).contains(&total), "150 rows took {total} pages");

    let first = squeeze(&page_text(&path, 1));
    for expected in [
        "適用宣言書（ISO/IEC27001:2022附属書A）",
        "時点:2026-11-2911:05JST",
        "出力者:セキュリティ管理者(demo-secadmin01)",
        "社外秘",
        "管理策1情報セキュリティのための方針群",
        "作成日時2026-11-2911:05JST",
        &format!("1/{total}"),
    ] {
        assert!(first.contains(expected), "page 1 lacks {expected}: {first}");
    }

    // Every page opens the table with the headings, and carries the stamp and the footer.
    let mut all = String::new();
    for page in 1..=total {
        let text = squeeze(&page_text(&path, page));
        for heading in ["管理策番号", "管理策", "適用", "理由", "実施状況", "証跡"] {
            assert!(text.contains(heading), "page {page} lacks the heading {heading}");
        }
        assert!(text.contains("社外秘"), "page {page} lacks the stamp");
        assert!(text.contains(&format!("{page}/{total}")), "page {page} lacks its number");
        assert!(text.contains("作成日時2026-11-2911:05JST"), "page {page} lacks the footer");
        if page > 1 {
            assert!(text.contains("（続き）"), "page {page} lacks (continued)");
        }
        all.push_str(&text);
    }
    // Every row, whole and once (no row is split: each is far shorter than a page).
    for i in 1..=150 {
        let name = format!("管理策{i}情報セキュリティのための方針群");
        assert_eq!(all.matches(&name).count(), 1, "{name}");
        let reason = if i % 7 == 3 { format!("Reason{i}:") } else { format!("理由{i}：") };
        assert_eq!(all.matches(&reason).count(), 1, "{reason}");
    }
    let long = squeeze(&"コンタクトセンターの業務では顧客情報を扱うため、この管理策を適用する。".repeat(4));
    assert!(all.contains(&format!("理由7：{long}")), "a wrapped Japanese cell does not read back whole");
    assert!(all.contains("Reason3:operatorshandlecustomerrecordsoneverycall."), "the English cell");
    assert!(all.contains("監査ログの検証:不合格"));
}

#[test]
fn the_font_is_embedded_as_a_subset() {
    if !poppler() {
        return;
    }
    let pdf = table_report_pdf(&soa(), Language::Ja).unwrap();
    // The whole font is 6 MB; the report carries only its glyphs.
    assert!(pdf.len() < 1_000_000, "the report is {} bytes", pdf.len());
    let (_dir, path) = write_pdf(&pdf, "soa.pdf");
    let out = Command::new("pdffonts").arg(&path).output().unwrap();
    let fonts = String::from_utf8(out.stdout).unwrap();
    let line = fonts.lines().find(|l| l.contains("IPAexGothic")).unwrap_or_else(|| panic!("{fonts}"));
    // name+subset tag, type, encoding, emb, sub, uni, object.
    let columns: Vec<&str> = line.split_whitespace().collect();
    let n = columns.len();
    assert!(n >= 7, "{line}");
    assert_eq!(
        &columns[n - 5..n - 2],
        ["yes", "yes", "yes"],
        "not embedded, subset with Unicode map: {fonts}"
    );
    assert!(columns[0].split_once('+').is_some_and(|(tag, _)| tag.len() == 6), "no subset tag: {line}");
}

#[test]
fn an_english_report_uses_english_words() {
    if !poppler() {
        return;
    }
    let mut report = soa();
    report.title = "Statement of Applicability".to_owned();
    report.columns = columns(Language::En);
    report.rows.truncate(60);
    let pdf = table_report_pdf(&report, Language::En).unwrap();
    let (_dir, path) = write_pdf(&pdf, "soa-en.pdf");
    let total = pages(&path);
    assert!(total >= 2, "{total}");
    let second = page_text(&path, 2);
    for expected in [
        "Statement of Applicability (continued)",
        "CONFIDENTIAL",
        "Generated 2026-11-29 11:05 JST",
        "Justification",
    ] {
        assert!(second.contains(expected), "page 2 lacks {expected}: {second}");
    }
}

#[test]
fn a_row_taller_than_a_page_is_cut_and_goes_on() {
    if !poppler() {
        return;
    }
    let mut report = soa();
    report.rows.truncate(3);
    let tall: String = (1..=120).map(|i| format!("行{i:03}\n")).collect();
    report.rows[1][3] = tall;
    let pdf = table_report_pdf(&report, Language::Ja).unwrap();
    let (_dir, path) = write_pdf(&pdf, "tall.pdf");
    let total = pages(&path);
    assert!(total >= 3, "{total}");
    let all: String = (1..=total).map(|p| squeeze(&page_text(&path, p))).collect();
    for i in 1..=120 {
        assert_eq!(all.matches(&format!("行{i:03}")).count(), 1, "行{i:03}");
    }
    assert!(squeeze(&page_text(&path, 2)).contains("管理策番号"));
}

#[test]
fn bad_input_is_refused() {
    let ok = soa();
    let refused = |report: &TableReport| table_report_pdf(report, Language::Ja).unwrap_err();

    for title in ["", " \n\t", "\u{7}"] {
        assert_eq!(
            refused(&TableReport { title: title.to_owned(), ..ok.clone() }),
            DocumentError::EmptyTitle
        );
    }
    let long = TableReport { title: "題".repeat(MAX_SHORT_CHARS + 1), ..ok.clone() };
    assert!(matches!(refused(&long), DocumentError::TooLong { what: "the title", .. }));

    // A row with a cell too few, or too many.
    let mut report = ok.clone();
    report.rows[41].pop();
    let err = refused(&report);
    assert_eq!(err, DocumentError::CellCount { row: 42, cells: 5, columns: 6 });
    assert_eq!(err.to_string(), "row 42 has 5 cells but the table has 6 columns");
    let mut report = ok.clone();
    report.rows[0].push("余分".to_owned());
    assert_eq!(refused(&report), DocumentError::CellCount { row: 1, cells: 7, columns: 6 });

    // Too many rows, columns, subtitle lines.
    let mut report = ok.clone();
    report.rows = vec![vec!["値".to_owned(); 6]; MAX_REPORT_ROWS + 1];
    assert_eq!(
        refused(&report),
        DocumentError::TooMany { what: "rows", count: MAX_REPORT_ROWS + 1, limit: MAX_REPORT_ROWS }
    );
    let report = TableReport {
        columns: vec![Column { heading: "列".to_owned(), share: 1 }; MAX_COLUMNS + 1],
        rows: Vec::new(),
        ..ok.clone()
    };
    assert!(matches!(refused(&report), DocumentError::TooMany { what: "columns", .. }));
    let report = TableReport { subtitle_lines: vec!["副題".to_owned(); 11], ..ok.clone() };
    assert!(matches!(refused(&report), DocumentError::TooMany { what: "subtitle lines", .. }));

    // No columns; a column with no share, or too narrow a share.
    let report = TableReport { columns: Vec::new(), rows: Vec::new(), ..ok.clone() };
    assert_eq!(refused(&report), DocumentError::NoColumns);
    let mut report = ok.clone();
    report.columns[2].share = 0;
    assert!(matches!(refused(&report), DocumentError::ColumnTooNarrow { column: 3, .. }));
    let mut report = ok.clone();
    report.columns[1].share = u16::MAX;
    assert!(matches!(refused(&report), DocumentError::ColumnTooNarrow { column: 1, .. }));

    // Too long a cell, heading or subtitle line; too much in all.
    let mut report = ok.clone();
    report.rows[3][3] = "あ".repeat(MAX_VALUE_CHARS + 1);
    assert_eq!(
        refused(&report),
        DocumentError::TooLong { what: "a cell", count: MAX_VALUE_CHARS + 1, limit: MAX_VALUE_CHARS }
    );
    let mut report = ok.clone();
    report.columns[0].heading = "見".repeat(MAX_SHORT_CHARS + 1);
    assert!(matches!(refused(&report), DocumentError::TooLong { what: "a heading", .. }));
    let mut report = ok.clone();
    report.subtitle_lines.push("s".repeat(MAX_SHORT_CHARS + 1));
    assert!(matches!(refused(&report), DocumentError::TooLong { what: "a subtitle line", .. }));
    let mut report = ok.clone();
    report.rows = vec![
        vec![
            "長".repeat(MAX_VALUE_CHARS),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new()
        ];
        60
    ];
    assert!(matches!(refused(&report), DocumentError::TooLong { what: "the table report", .. }));

    // Few characters, many pages: cells of line breaks.
    let mut report = ok.clone();
    report.rows = vec![
        vec![
            "\n".repeat(MAX_VALUE_CHARS),
            String::new(),
            String::new(),
            String::new(),
            String::new(),
            String::new()
        ];
        20
    ];
    assert_eq!(refused(&report), DocumentError::TooManyPages { limit: MAX_PAGES });
}

#[test]
fn odd_input_renders_without_panicking() {
    let mut report = soa();
    report.rows.truncate(5);
    report.rows.push(vec![
        "😀👍 𠮷野家".to_owned(),
        "שלום עולם مرحبا".to_owned(),
        "a\u{0}b\u{7}c\td\r\ne".to_owned(),
        "x".repeat(3000),
        "ア".repeat(3000),
        "\n\n\n".to_owned(),
    ]);
    report.columns[0].heading = "とても長い見出し".repeat(20);
    report.subtitle_lines.push(String::new());
    report.generated_jst = String::new();
    for lang in [Language::Ja, Language::En] {
        let pdf = table_report_pdf(&report, lang).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }
    // No rows at all: the headings alone.
    let empty = TableReport { rows: Vec::new(), ..soa() };
    assert!(table_report_pdf(&empty, Language::Ja).unwrap().starts_with(b"%PDF-"));
}
