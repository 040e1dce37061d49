#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The printed customer sheet, read back with poppler (`pdftotext`, `pdftoppm`; Debian's
//! `poppler-utils`, installed by scripts/install-test-deps.sh). Without poppler these tests
//! fail under CI (`CI=true`) and are skipped, with a note, elsewhere.

use mamori_documents::{
    DocumentError, Language, MAX_PAGES, MAX_ROWS, MAX_SHORT_CHARS, MAX_VALUE_CHARS, Sheet, Watermark,
    customer_sheet_pdf,
};
use std::path::{Path, PathBuf};
use std::process::Command;

fn mark() -> Watermark {
    Watermark {
        user: "demo-op01".to_owned(),
        time_jst: "2026-11-29 11:05 JST".to_owned(),
        request_id: "PR-20261129-0042".to_owned(),
        client: "さくら損害保険株式会社".to_owned(),
    }
}

fn rows(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs.iter().map(|(l, v)| (l.to_string(), v.to_string())).collect()
}

/// A customer as the workspace shows one.
fn customer() -> Sheet {
    Sheet {
        title: "顧客情報シート".to_owned(),
        rows: rows(&[
            ("顧客番号", "C-000123"),
            ("氏名", "山田 太郎"),
            ("フリガナ", "ヤマダ タロウ"),
            ("生年月日", "1980年4月1日"),
            ("電話番号", "03-1234-5678"),
            ("携帯電話", "090-1234-5678"),
            ("メールアドレス", "taro.yamada@example.co.jp"),
            ("住所", "〒100-0001 東京都千代田区千代田1-1 皇居前ビルディング12階 第三会議室気付（受付にて部署名をお伝えください）"),
            ("契約プラン", "自動車保険「まもりプラス」ゴールド（年払い）"),
            ("契約開始日", "2024年10月1日"),
            ("担当窓口", "東京第二コンタクトセンター"),
        ]),
        notes: vec![
            "2026-11-28 14:02 入電。住所変更の手続きについて問い合わせ。必要書類（本人確認書類の写し）を案内し、郵送での返送を依頼した。".to_owned(),
            "2026-11-29 10:41 再入電。書類は投函済みとのこと。到着後に折り返し連絡する旨を伝えた。".to_owned(),
        ],
    }
}

/// 200 rows, several of them long, and long notes: several pages.
fn long_customer() -> Sheet {
    let mut sheet = customer();
    for i in 1..=200 {
        let value = match i % 10 {
            0 => format!(
                "長い記載{i}：{}",
                "お客様からのご要望により、次回の契約更新時に補償内容を見直すことになりました。".repeat(4)
            ),
            5 => format!(
                "A long English value {i}: {}",
                "the customer asked us to call back after five in the evening. ".repeat(3)
            ),
            _ => format!("値{i}　東京都新宿区西新宿二丁目8番1号"),
        };
        sheet.rows.push((format!("項目{i}"), value));
    }
    sheet
        .notes
        .push("長い備考：".to_owned() + &"通話内容の要約。お客様は丁寧な説明を求めていた。".repeat(40));
    sheet
}

/// Whether poppler's tools are here; under CI their absence fails the test.
fn poppler() -> bool {
    let found =
        ["pdftotext", "pdftoppm", "pdfinfo"].iter().all(|tool| Command::new(tool).arg("-v").output().is_ok());
    if !found {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "pdftotext, pdftoppm or pdfinfo not found: install poppler-utils (bash scripts/install-test-deps.sh)"
        );
        eprintln!("skipped: pdftotext, pdftoppm or pdfinfo not found (install poppler-utils)");
    }
    found
}

fn write_pdf(pdf: &[u8], name: &str) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(name);
    std::fs::write(&path, pdf).unwrap();
    (dir, path)
}

fn pages(pdf: &Path) -> usize {
    let out = Command::new("pdfinfo").arg(pdf).output().unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let line = text.lines().find(|l| l.starts_with("Pages:")).unwrap();
    line.trim_start_matches("Pages:").trim().parse().unwrap()
}

/// Page `page`'s text in content order (`-raw`, which keeps the diagonal watermark's runs
/// whole); `diagonal` false leaves the diagonal text out.
fn page_text(pdf: &Path, page: usize, diagonal: bool) -> String {
    let n = page.to_string();
    let mut cmd = Command::new("pdftotext");
    cmd.args(["-raw", "-enc", "UTF-8", "-f", &n, "-l", &n]);
    if !diagonal {
        cmd.arg("-nodiag");
    }
    let out = cmd.arg(pdf).arg("-").output().unwrap();
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn squeeze(text: &str) -> String {
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

#[test]
fn every_page_carries_the_watermark_and_the_footer() {
    if !poppler() {
        return;
    }
    let mark = mark();
    let pdf = customer_sheet_pdf(&long_customer(), &mark, Language::Ja).unwrap();
    let (_dir, path) = write_pdf(&pdf, "long.pdf");
    let count = pages(&path);
    assert!(count >= 4, "200 rows and long notes should take several pages, took {count}");
    for page in 1..=count {
        // Without the diagonal text: the footer alone names everything.
        let footer = page_text(&path, page, false);
        for value in [&mark.user, &mark.time_jst, &mark.request_id, &mark.client] {
            assert!(footer.contains(value.as_str()), "page {page} footer lacks {value}:\n{footer}");
        }
        assert!(footer.contains(&format!("{page} / {count}")), "page {page} lacks its number");
        // With it: the diagonal watermark names them again, several times.
        let all = squeeze(&page_text(&path, page, true));
        for value in [&mark.user, &mark.time_jst, &mark.request_id, &mark.client] {
            let (with, without) =
                (all.matches(&squeeze(value)).count(), squeeze(&footer).matches(&squeeze(value)).count());
            assert!(
                with >= without + 3,
                "page {page}: {value} {with} times with the diagonal text, {without} without"
            );
        }
    }
}

#[test]
fn japanese_text_comes_back_as_the_same_unicode() {
    if !poppler() {
        return;
    }
    let sheet = long_customer();
    let pdf = customer_sheet_pdf(&sheet, &mark(), Language::Ja).unwrap();
    let (_dir, path) = write_pdf(&pdf, "ja.pdf");
    let first = page_text(&path, 1, false);
    for word in [
        "顧客情報シート",
        "山田 太郎",
        "ヤマダ タロウ",
        "氏名",
        "フリガナ",
        "住所",
        "社外秘",
        "出力者",
        "申請番号",
        "委託元",
    ] {
        assert!(first.contains(word), "page 1 lacks {word}:\n{first}");
    }
    // Every label and value, wrapped or not, on whichever page: the pages' bodies read back
    // (without spaces and line breaks, which wrapping and columns move) hold each one whole.
    let count = pages(&path);
    let mut all = String::new();
    for page in 1..=count {
        let text = page_text(&path, page, false);
        let body: Vec<&str> = text
            .lines()
            .filter(|l| {
                *l != "社外秘"
                    && !l.starts_with("顧客情報シート（続き）")
                    && !l.starts_with("出力者 demo-op01")
            })
            .collect();
        all.push_str(&squeeze(&body.join("\n")));
    }
    for (label, value) in &sheet.rows {
        assert!(all.contains(&squeeze(label)), "{label} missing");
        assert!(all.contains(&squeeze(value)), "{value} missing");
    }
    // The long note fills one page and goes on on the next under its number.
    assert!(all.contains("3（続き）"), "the long note does not go on");
    let all = all.replace("3（続き）", "");
    for note in &sheet.notes {
        assert!(all.contains(&squeeze(note)), "note missing: {note}");
    }
}

#[test]
fn english_sheet_uses_english_words() {
    if !poppler() {
        return;
    }
    let mut sheet = customer();
    sheet.title = "Customer sheet".to_owned();
    let pdf = customer_sheet_pdf(&sheet, &mark(), Language::En).unwrap();
    let (_dir, path) = write_pdf(&pdf, "en.pdf");
    let text = page_text(&path, 1, false);
    for word in [
        "Customer sheet",
        "CONFIDENTIAL",
        "Printed by",
        "Printed at",
        "Request",
        "Client",
        "Notes",
        "山田 太郎",
    ] {
        assert!(text.contains(word), "lacks {word}:\n{text}");
    }
    assert!(!text.contains("社外秘"));
}

/// Page 1 as a PNG, beside the whole PDF, in tests/browser/artifacts (git-ignored) for a person
/// to look at.
#[test]
fn page_one_renders_to_a_png() {
    if !poppler() {
        return;
    }
    let artifacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/browser/artifacts");
    std::fs::create_dir_all(&artifacts).unwrap();
    for (lang, sheet, name) in
        [(Language::Ja, long_customer(), "print-sheet-ja"), (Language::En, customer(), "print-sheet-en")]
    {
        let pdf = customer_sheet_pdf(&sheet, &mark(), lang).unwrap();
        let path = artifacts.join(format!("{name}.pdf"));
        std::fs::write(&path, &pdf).unwrap();
        let out = Command::new("pdftoppm")
            .args(["-png", "-r", "110", "-f", "1", "-l", "1", "-singlefile"])
            .arg(&path)
            .arg(artifacts.join(name))
            .output()
            .unwrap();
        assert!(out.status.success(), "pdftoppm: {}", String::from_utf8_lossy(&out.stderr));
        let png = std::fs::read(artifacts.join(format!("{name}.png"))).unwrap();
        assert!(png.starts_with(b"\x89PNG") && png.len() > 20_000, "{name}.png is {} bytes", png.len());
    }
}

#[test]
fn bad_input_is_refused() {
    let ok = customer();
    let mark = mark();
    let refused =
        |sheet: &Sheet, mark: &Watermark| customer_sheet_pdf(sheet, mark, Language::Ja).unwrap_err();

    for title in ["", "  \n\t ", "\u{7}"] {
        let sheet = Sheet { title: title.to_owned(), ..ok.clone() };
        assert_eq!(refused(&sheet, &mark), DocumentError::EmptyTitle);
    }
    let sheet = Sheet { title: "題".repeat(MAX_SHORT_CHARS + 1), ..ok.clone() };
    assert!(matches!(refused(&sheet, &mark), DocumentError::TooLong { what: "the title", .. }));

    let blank = [
        Watermark { user: " ".to_owned(), ..mark.clone() },
        Watermark { time_jst: String::new(), ..mark.clone() },
        Watermark { request_id: String::new(), ..mark.clone() },
        Watermark { client: "\n".to_owned(), ..mark.clone() },
    ];
    for (bad, field) in blank.iter().zip(["user", "time", "request id", "client"]) {
        assert_eq!(refused(&ok, bad), DocumentError::EmptyWatermark(field));
    }
    let long = Watermark { request_id: "R".repeat(MAX_SHORT_CHARS + 1), ..mark.clone() };
    assert_eq!(
        refused(&ok, &long).to_string(),
        "the watermark's request id has 201 characters; at most 200 are allowed"
    );

    let mut sheet = ok.clone();
    sheet.rows = vec![("項目".to_owned(), "値".to_owned()); MAX_ROWS + 1];
    let err = refused(&sheet, &mark);
    assert_eq!(err, DocumentError::TooMany { what: "rows", count: MAX_ROWS + 1, limit: MAX_ROWS });
    assert_eq!(err.to_string(), "the sheet has 10001 rows; at most 10000 are allowed");

    let mut sheet = ok.clone();
    sheet.rows.push(("備考".to_owned(), "あ".repeat(MAX_VALUE_CHARS + 1)));
    assert_eq!(
        refused(&sheet, &mark),
        DocumentError::TooLong { what: "a value", count: MAX_VALUE_CHARS + 1, limit: MAX_VALUE_CHARS }
    );
    let mut sheet = ok.clone();
    sheet.notes.push("x".repeat(MAX_VALUE_CHARS + 1));
    assert!(matches!(refused(&sheet, &mark), DocumentError::TooLong { what: "a note", .. }));
    let mut sheet = ok.clone();
    sheet.rows.push(("ラ".repeat(MAX_SHORT_CHARS + 1), "値".to_owned()));
    assert!(matches!(refused(&sheet, &mark), DocumentError::TooLong { what: "a label", .. }));

    // Within every per-field limit but too much in all.
    let mut sheet = ok.clone();
    sheet.rows = vec![("項目".to_owned(), "長".repeat(MAX_VALUE_CHARS)); 60];
    assert!(matches!(refused(&sheet, &mark), DocumentError::TooLong { what: "the sheet", .. }));

    // Few characters, many pages: a value of line breaks.
    let mut sheet = ok.clone();
    sheet.rows = vec![("改行".to_owned(), "\n".repeat(MAX_VALUE_CHARS)); 5];
    assert_eq!(refused(&sheet, &mark), DocumentError::TooManyPages { limit: MAX_PAGES });
}

#[test]
fn odd_text_renders_without_panicking() {
    let mut sheet = customer();
    sheet.rows.extend(rows(&[
        ("絵文字", "😀👍 and a rare kanji 𠮷野家"),
        ("RTL", "שלום עולם مرحبا"),
        ("control", "a\u{0}b\u{7}c\td\r\ne"),
        ("空", ""),
        ("", "label empty"),
        ("long word", &"x".repeat(3000)),
        ("long kana", &"ア".repeat(3000)),
        ("only breaks", "\n\n\n"),
    ]));
    sheet.notes.push(String::new());
    let long_mark = Watermark { client: "株式会社".repeat(50), ..mark() };
    for lang in [Language::Ja, Language::En] {
        let pdf = customer_sheet_pdf(&sheet, &long_mark, lang).unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
    }
}

#[test]
fn the_font_is_embedded_as_a_subset() {
    let pdf = customer_sheet_pdf(&customer(), &mark(), Language::Ja).unwrap();
    // The whole font is 6 MB; a one-page sheet carries only its glyphs.
    assert!(pdf.len() < 200_000, "a one-page sheet is {} bytes", pdf.len());
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.contains("IPAexGothic"), "the font is not named in the PDF");
    assert!(text.contains("/FontFile2") || text.contains("/FontFile3"), "the font is not embedded");
}

/// Time and size of a 1-page and a 20-page sheet (docs/BENCHMARKS.md, "Printed sheets"):
/// `cargo test --release -p mamori-documents --test print -- --ignored --nocapture measure`
#[test]
#[ignore]
fn measure() {
    fn page_count(pdf: &[u8]) -> usize {
        pdf.windows(11).filter(|w| *w == b"/Type /Page").count()
            - pdf.windows(12).filter(|w| *w == b"/Type /Pages").count()
    }
    fn sheet_of(rows: usize) -> Sheet {
        let mut sheet = customer();
        for i in 1..=rows {
            let value = match i % 4 {
                0 => {
                    "お客様からのご要望により、次回の契約更新時に補償内容を見直すことになりました。".repeat(2)
                }
                _ => format!("東京都新宿区西新宿二丁目8番1号 {i}"),
            };
            sheet.rows.push((format!("項目{i}"), value));
        }
        sheet
    }
    let mark = mark();
    let started = std::time::Instant::now();
    let first = customer_sheet_pdf(&customer(), &mark, Language::Ja).unwrap();
    println!("first sheet in the process (parses the font): {:?}, {} bytes", started.elapsed(), first.len());
    // The fewest extra rows that make 20 pages.
    let mut rows = 0;
    while page_count(&customer_sheet_pdf(&sheet_of(rows), &mark, Language::Ja).unwrap()) < 20 {
        rows += 10;
    }
    println!("| sheet | pages | PDF bytes | median ms | max ms | runs |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (name, sheet, runs) in
        [("customer + 2 notes", customer(), 50), (&*format!("customer + {rows} rows"), sheet_of(rows), 20)]
    {
        let mut times = Vec::new();
        let mut pdf = Vec::new();
        for _ in 0..runs {
            let started = std::time::Instant::now();
            pdf = customer_sheet_pdf(&sheet, &mark, Language::Ja).unwrap();
            times.push(started.elapsed().as_secs_f64() * 1000.0);
        }
        times.sort_by(f64::total_cmp);
        let (median, max) = (times[times.len() / 2], times[times.len() - 1]);
        println!("| {name} | {} | {} | {median:.1} | {max:.1} | {runs} |", page_count(&pdf), pdf.len());
    }
}
