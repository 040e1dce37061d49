//! Where everything goes: the sheet cut into A4 pages of drawing operations.
//!
//! The first page opens with the title, the print details and a handling notice; later pages
//! with the title and "(continued)". Rows and notes are two-column tables (shaded label,
//! value) whose short rows move whole to the next page when they do not fit, while a long row
//! fills the page and goes on on the next under "label (continued)". The footer and the watermark
//! are the same on every page; [`crate::render`] adds them and the page numbers.

use crate::text::{Fonts, Line, one_line};
use crate::words::Words;
use crate::{DocumentError, MAX_PAGES, Sheet, Watermark};

/// A4 portrait, in points.
pub(crate) const PAGE_W: f32 = 595.28;
pub(crate) const PAGE_H: f32 = 841.89;
pub(crate) const MARGIN_X: f32 = 42.0;
const TOP: f32 = 36.0;
const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN_X;

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Rgb(pub u8, pub u8, pub u8);

pub(crate) const INK: Rgb = Rgb(0x1a, 0x1d, 0x21);
pub(crate) const LABEL_INK: Rgb = Rgb(0x2b, 0x34, 0x40);
pub(crate) const MUTED: Rgb = Rgb(0x55, 0x5d, 0x66);
pub(crate) const SHADE: Rgb = Rgb(0xee, 0xf1, 0xf5);
pub(crate) const GRID: Rgb = Rgb(0x9a, 0xa3, 0xae);
pub(crate) const FRAME: Rgb = Rgb(0x3a, 0x44, 0x50);
const ACCENT: Rgb = Rgb(0x1f, 0x3a, 0x5f);
pub(crate) const STAMP: Rgb = Rgb(0xb3, 0x26, 0x1e);

#[derive(Debug, Clone)]
pub(crate) enum Op {
    Text {
        x: f32,
        baseline: f32,
        size: f32,
        line: Line,
        color: Rgb,
        bold: bool,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        fill: Option<Rgb>,
        stroke: Option<(Rgb, f32)>,
    },
    Rule {
        x1: f32,
        x2: f32,
        y: f32,
        color: Rgb,
        width: f32,
    },
    /// A vertical line from `y1` down to `y2`.
    VRule {
        x: f32,
        y1: f32,
        y2: f32,
        color: Rgb,
        width: f32,
    },
}

/// A document laid out: its page size, each page's own operations, and what every page
/// repeats.
pub(crate) struct Laid {
    /// The page's width and height, in points.
    pub size: (f32, f32),
    /// The left and right margin; the page number ends at the right one.
    pub margin_x: f32,
    pub pages: Vec<Vec<Op>>,
    /// The footer's rule and text.
    pub footer: Vec<Op>,
    /// The baseline of the footer's last line, where the page number goes.
    pub footer_baseline: f32,
    /// The diagonal watermark's text, on one line; none for a document without one.
    pub watermark: Option<Line>,
}

/// Body text.
const SIZE: f32 = 9.5;
const LEADING: f32 = 14.5;
pub(crate) const PAD_X: f32 = 6.0;
pub(crate) const PAD_Y: f32 = 4.0;
const LABEL_W: f32 = 132.0;
const NUMBER_W: f32 = 30.0;
/// Rows of at most this many lines are never split across pages.
const KEEP_WHOLE: usize = 6;
/// A longer row starts on a page only where this many of its lines fit.
const MIN_SPLIT: usize = 3;
/// A section heading (備考) and the space under it.
const HEADING_H: f32 = 24.0;

pub(crate) fn lay_out(
    fonts: &Fonts,
    sheet: &Sheet,
    mark: &Watermark,
    words: &Words,
) -> Result<Laid, DocumentError> {
    let title = one_line(&sheet.title);
    let (footer, footer_top, footer_baseline) = footer(fonts, mark, words);
    let stamp = stamp(fonts, words);
    let mut first = stamp.ops.clone();
    let body_top = first_header(fonts, &title, mark, words, &mut first);
    let mut later = stamp.ops;
    let later_top = later_header(fonts, &title, words, stamp.width, &mut later);
    let mut cursor = Cursor {
        pages: vec![first],
        y: body_top,
        page_top: body_top,
        later,
        later_top,
        bottom: footer_top - 14.0,
    };

    let rows: Vec<(String, String)> = sheet.rows.iter().map(|(l, v)| (one_line(l), v.clone())).collect();
    if !rows.is_empty() {
        table(fonts, &mut cursor, None, &rows, LABEL_W, words)?;
    }
    if !sheet.notes.is_empty() {
        cursor.y += 16.0;
        let notes: Vec<(String, String)> =
            sheet.notes.iter().enumerate().map(|(i, n)| ((i + 1).to_string(), n.clone())).collect();
        table(fonts, &mut cursor, Some(words.notes), &notes, NUMBER_W, words)?;
    }
    let watermark = fonts.line(&format!(
        "{}   {}   {}   {}",
        one_line(&mark.user),
        one_line(&mark.time_jst),
        one_line(&mark.request_id),
        one_line(&mark.client)
    ));
    Ok(Laid {
        size: (PAGE_W, PAGE_H),
        margin_x: MARGIN_X,
        pages: cursor.pages,
        footer,
        footer_baseline,
        watermark: Some(watermark),
    })
}

struct Cursor {
    pages: Vec<Vec<Op>>,
    /// Where the next thing goes on the last page.
    y: f32,
    /// Where the last page's body starts.
    page_top: f32,
    /// The header of every page after the first, and where its body starts.
    later: Vec<Op>,
    later_top: f32,
    /// The lowest the body may reach.
    bottom: f32,
}

impl Cursor {
    fn new_page(&mut self) -> Result<(), DocumentError> {
        if self.pages.len() >= MAX_PAGES {
            return Err(DocumentError::TooManyPages { limit: MAX_PAGES });
        }
        self.pages.push(self.later.clone());
        self.y = self.later_top;
        self.page_top = self.later_top;
        Ok(())
    }

    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    /// How many body lines fit below `y` in one cell.
    fn lines_left(&self) -> usize {
        lines_in(self.bottom - self.y)
    }

    fn at_page_top(&self) -> bool {
        self.y <= self.page_top
    }
}

fn lines_in(height: f32) -> usize {
    let room = height - 2.0 * PAD_Y;
    if room < LEADING { 0 } else { (room / LEADING).floor() as usize }
}

/// A two-column table: shaded labels of width `label_w`, values in the rest; under `heading`,
/// which stays with the first row.
fn table(
    fonts: &Fonts,
    cursor: &mut Cursor,
    heading: Option<&str>,
    rows: &[(String, String)],
    label_w: f32,
    words: &Words,
) -> Result<(), DocumentError> {
    let value_w = CONTENT_W - label_w;
    if let Some(heading) = heading {
        let first = rows.first().map_or(1, |(label, value)| {
            let label = fonts.wrap(label, (label_w - 2.0 * PAD_X) / SIZE).len();
            let value = fonts.wrap(value, (value_w - 2.0 * PAD_X) / SIZE).len();
            label.max(value)
        });
        let keep = if first <= KEEP_WHOLE { first } else { MIN_SPLIT };
        if lines_in(cursor.bottom - cursor.y - HEADING_H) < keep && !cursor.at_page_top() {
            cursor.new_page()?;
        }
        let y = cursor.y;
        let line = fonts.line(heading);
        let ops = cursor.ops();
        ops.push(Op::Rect { x: MARGIN_X, y: y + 2.0, w: 4.0, h: 14.0, fill: Some(ACCENT), stroke: None });
        ops.push(Op::Text {
            x: MARGIN_X + 10.0,
            baseline: y + 13.5,
            size: 11.0,
            line,
            color: INK,
            bold: true,
        });
        cursor.y += HEADING_H;
    }
    let mut segment_top = cursor.y;
    for (label, value) in rows {
        let mut label_lines = fonts.wrap(label, (label_w - 2.0 * PAD_X) / SIZE);
        let mut value_lines = fonts.wrap(value, (value_w - 2.0 * PAD_X) / SIZE);
        loop {
            let needed = label_lines.len().max(value_lines.len());
            let fits = cursor.lines_left();
            // A short row is never split; a longer one fills the page when a few lines fit.
            if needed > fits && (needed <= KEEP_WHOLE || fits < MIN_SPLIT) && !cursor.at_page_top() {
                frame(cursor, segment_top);
                cursor.new_page()?;
                segment_top = cursor.y;
                continue;
            }
            let take = needed.min(fits.max(1));
            let rest = value_lines.split_off(take.min(value_lines.len()));
            label_lines.truncate(take);
            row(cursor, label_w, &label_lines, &value_lines, take);
            if rest.is_empty() {
                break;
            }
            frame(cursor, segment_top);
            cursor.new_page()?;
            segment_top = cursor.y;
            label_lines = fonts.wrap(&format!("{label}{}", words.continued), (label_w - 2.0 * PAD_X) / SIZE);
            value_lines = rest;
        }
    }
    frame(cursor, segment_top);
    Ok(())
}

/// One table row of `lines` lines at the cursor, which moves below it.
fn row(cursor: &mut Cursor, label_w: f32, label: &[Line], value: &[Line], lines: usize) {
    let y = cursor.y;
    let h = lines as f32 * LEADING + 2.0 * PAD_Y;
    let ops = cursor.ops();
    ops.push(Op::Rect { x: MARGIN_X, y, w: label_w, h, fill: Some(SHADE), stroke: None });
    ops.push(Op::Rule { x1: MARGIN_X, x2: MARGIN_X + CONTENT_W, y: y + h, color: GRID, width: 0.4 });
    ops.push(Op::Rule { x1: MARGIN_X + label_w, x2: MARGIN_X + label_w, y, color: GRID, width: 0.4 });
    let columns = [(label, MARGIN_X + PAD_X, LABEL_INK), (value, MARGIN_X + label_w + PAD_X, INK)];
    for (lines, x, color) in columns {
        for (i, line) in lines.iter().enumerate() {
            let baseline = y + PAD_Y + i as f32 * LEADING + LEADING / 2.0 + 0.36 * SIZE;
            ops.push(Op::Text { x, baseline, size: SIZE, line: line.clone(), color, bold: false });
        }
    }
    cursor.y = y + h;
}

/// The table's outer frame, from `top` to the cursor, on the last page.
fn frame(cursor: &mut Cursor, top: f32) {
    let h = cursor.y - top;
    if h > 0.0 {
        cursor.ops().push(Op::Rect {
            x: MARGIN_X,
            y: top,
            w: CONTENT_W,
            h,
            fill: None,
            stroke: Some((FRAME, 0.9)),
        });
    }
}

struct Stamp {
    ops: Vec<Op>,
    width: f32,
}

/// 社外秘 / CONFIDENTIAL, boxed in red, top right.
fn stamp(fonts: &Fonts, words: &Words) -> Stamp {
    let size = 9.0;
    let line = fonts.line(words.confidential);
    let w = line.width * size + 16.0;
    let x = PAGE_W - MARGIN_X - w;
    let ops = vec![
        Op::Rect { x, y: TOP, w, h: 17.0, fill: None, stroke: Some((STAMP, 1.1)) },
        Op::Text { x: x + 8.0, baseline: TOP + 12.0, size, line, color: STAMP, bold: true },
    ];
    Stamp { ops, width: w }
}

/// The print details, labelled: who, when, which request, which client.
fn details<'a>(mark: &'a Watermark, words: &Words) -> [(&'static str, &'a str); 4] {
    [
        (words.user, &mark.user),
        (words.time, &mark.time_jst),
        (words.request, &mark.request_id),
        (words.client, &mark.client),
    ]
}

/// The first page's header; returns where the body starts.
fn first_header(fonts: &Fonts, title: &str, mark: &Watermark, words: &Words, ops: &mut Vec<Op>) -> f32 {
    ops.push(Op::Text {
        x: MARGIN_X,
        baseline: TOP + 12.0,
        size: 8.0,
        line: fonts.line("Mamori"),
        color: MUTED,
        bold: true,
    });
    let size = 17.0;
    let mut baseline = TOP + 46.0;
    let title_lines = fonts.wrap(title, (CONTENT_W - 40.0) / size);
    for (i, line) in title_lines.iter().enumerate() {
        if i > 0 {
            baseline += 23.0;
        }
        let x = (PAGE_W - line.width * size) / 2.0;
        ops.push(Op::Text { x, baseline, size, line: line.clone(), color: INK, bold: true });
    }
    let rule = baseline + 11.0;
    ops.push(Op::Rule { x1: MARGIN_X, x2: MARGIN_X + CONTENT_W, y: rule, color: INK, width: 1.4 });
    ops.push(Op::Rule { x1: MARGIN_X, x2: MARGIN_X + CONTENT_W, y: rule + 2.6, color: INK, width: 0.5 });

    // The print details, a small table on the right.
    let top = rule + 14.0;
    let (meta_w, meta_label_w, meta_size, meta_leading) = (262.0, 66.0, 8.5, 12.5);
    let x = MARGIN_X + CONTENT_W - meta_w;
    let mut y = top;
    for (label, value) in details(mark, words) {
        let lines = fonts.wrap(&one_line(value), (meta_w - meta_label_w - 2.0 * PAD_X) / meta_size);
        let h = lines.len() as f32 * meta_leading + 5.0;
        ops.push(Op::Rect { x, y, w: meta_label_w, h, fill: Some(SHADE), stroke: None });
        ops.push(Op::Rect { x, y, w: meta_w, h, fill: None, stroke: Some((GRID, 0.4)) });
        ops.push(Op::Rule { x1: x + meta_label_w, x2: x + meta_label_w, y, color: GRID, width: 0.4 });
        let first = y + 2.5 + meta_leading / 2.0 + 0.36 * meta_size;
        ops.push(Op::Text {
            x: x + PAD_X,
            baseline: first,
            size: meta_size,
            line: fonts.line(label),
            color: LABEL_INK,
            bold: false,
        });
        for (i, line) in lines.into_iter().enumerate() {
            let baseline = first + i as f32 * meta_leading;
            ops.push(Op::Text {
                x: x + meta_label_w + PAD_X,
                baseline,
                size: meta_size,
                line,
                color: INK,
                bold: false,
            });
        }
        y += h;
    }
    ops.push(Op::Rect { x, y: top, w: meta_w, h: y - top, fill: None, stroke: Some((FRAME, 0.8)) });

    // The handling notice, on the left.
    let (notice_size, notice_leading) = (8.0, 12.5);
    let notice_w = CONTENT_W - meta_w - 18.0;
    let mut notice_y = top + 9.0;
    for line in fonts.wrap(words.notice, notice_w / notice_size) {
        ops.push(Op::Text {
            x: MARGIN_X,
            baseline: notice_y,
            size: notice_size,
            line,
            color: MUTED,
            bold: false,
        });
        notice_y += notice_leading;
    }
    y.max(notice_y) + 18.0
}

/// The header of every later page; returns where the body starts.
fn later_header(fonts: &Fonts, title: &str, words: &Words, stamp_w: f32, ops: &mut Vec<Op>) -> f32 {
    let size = 10.0;
    let line = fonts.line_fitted(&format!("{title}{}", words.continued), (CONTENT_W - stamp_w - 16.0) / size);
    ops.push(Op::Text { x: MARGIN_X, baseline: TOP + 12.0, size, line, color: INK, bold: true });
    ops.push(Op::Rule { x1: MARGIN_X, x2: MARGIN_X + CONTENT_W, y: TOP + 24.0, color: INK, width: 0.8 });
    TOP + 36.0
}

/// The footer: a rule and the print details, wrapped; returns its operations, its top and the
/// baseline of its last line.
fn footer(fonts: &Fonts, mark: &Watermark, words: &Words) -> (Vec<Op>, f32, f32) {
    let (size, leading) = (7.5, 10.5);
    let fields = details(mark, words).map(|(label, value)| format!("{label} {}", one_line(value)));
    // Room on the right for the page number. Lines break between fields where they can.
    let max = (CONTENT_W - 56.0) / size;
    let mut packed: Vec<String> = Vec::new();
    for field in fields {
        match packed.last_mut() {
            Some(last) if fonts.line(&format!("{last} ｜ {field}")).width <= max => {
                last.push_str(" ｜ ");
                last.push_str(&field);
            }
            _ => packed.push(field),
        }
    }
    let lines: Vec<Line> = packed.iter().flat_map(|text| fonts.wrap(text, max)).collect();
    let last = PAGE_H - 26.0;
    let first = last - (lines.len().saturating_sub(1)) as f32 * leading;
    let rule = first - 11.0;
    let mut ops = vec![Op::Rule { x1: MARGIN_X, x2: MARGIN_X + CONTENT_W, y: rule, color: GRID, width: 0.6 }];
    for (i, line) in lines.into_iter().enumerate() {
        let baseline = first + i as f32 * leading;
        ops.push(Op::Text { x: MARGIN_X, baseline, size, line, color: MUTED, bold: false });
    }
    (ops, rule, last)
}
