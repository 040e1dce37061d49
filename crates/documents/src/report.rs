//! The table report: rows of text under column headings, A4 landscape.
//!
//! The first page opens with the title and the subtitle lines; later pages with the title and
//! "(continued)". The heading row (shaded) opens the table on every page. Cells wrap within
//! their column ([`Fonts::wrap`]); a row moves whole to the next page when it does not fit, and
//! only a row taller than a whole page is cut, its cells going on under the next page's
//! headings. Every page has the 社外秘 / CONFIDENTIAL stamp in the top right corner and a
//! footer with the generation time; [`crate::render`] adds "page / pages".

use crate::layout::{FRAME, GRID, INK, LABEL_INK, Laid, MUTED, Op, Rgb, SHADE, STAMP};
use crate::text::{Fonts, Line, one_line};
use crate::words::Words;
use crate::{DocumentError, MAX_PAGES, TableReport};

/// A4 landscape, in points.
const PAGE_W: f32 = 841.89;
const PAGE_H: f32 = 595.28;
const MARGIN_X: f32 = 36.0;
const TOP: f32 = 30.0;
pub(crate) const CONTENT_W: f32 = PAGE_W - 2.0 * MARGIN_X;

/// Cells and headings.
const SIZE: f32 = 8.5;
const LEADING: f32 = 12.0;
const PAD_X: f32 = 5.0;
const PAD_Y: f32 = 3.5;
/// A heading longer than this many lines is cut (with an ellipsis), so the heading row never
/// takes a page.
const HEADING_LINES: usize = 3;
/// Every other row is shaded this lightly, to follow a row across the page.
const STRIPE: Rgb = Rgb(0xf7, 0xf8, 0xfa);

/// The narrowest a column may be, in points: room for a few characters.
pub(crate) const MIN_COLUMN_W: f32 = 3.0 * SIZE + 2.0 * PAD_X;

/// Each column's width in points, from the shares.
pub(crate) fn widths(report: &TableReport) -> Vec<f32> {
    let total: f32 = report.columns.iter().map(|c| f32::from(c.share)).sum();
    report
        .columns
        .iter()
        .map(|c| if total > 0.0 { CONTENT_W * f32::from(c.share) / total } else { 0.0 })
        .collect()
}

pub(crate) fn lay_out(fonts: &Fonts, report: &TableReport, words: &Words) -> Result<Laid, DocumentError> {
    let title = one_line(&report.title);
    let widths = widths(report);
    let (footer, footer_top, footer_baseline) = footer(fonts, report, words);
    let (stamp, stamp_w) = stamp(fonts, words);
    let mut first = stamp.clone();
    let first_top = first_header(fonts, &title, report, stamp_w, &mut first);
    let mut later = stamp;
    let later_top = later_header(fonts, &title, words, stamp_w, &mut later);

    let headings: Vec<Vec<Line>> = report
        .columns
        .iter()
        .zip(&widths)
        .map(|(c, w)| {
            let max = cell_ems(*w);
            let mut lines = fonts.wrap(&one_line(&c.heading), max);
            if lines.len() > HEADING_LINES {
                // The last line kept holds the rest, cut with an ellipsis.
                let rest: Vec<Line> = lines.split_off(HEADING_LINES - 1);
                let rest: Vec<&str> = rest.iter().map(|l| l.text.as_str()).collect();
                lines.push(fonts.line_fitted(&rest.join(" "), max));
            }
            lines
        })
        .collect();

    let mut table = Table {
        pages: vec![first],
        y: first_top,
        body_top: first_top,
        top: first_top,
        later,
        later_top,
        bottom: footer_top - 8.0,
        widths: &widths,
        headings: &headings,
    };
    table.heading_row();

    for (index, cells) in report.rows.iter().enumerate() {
        let mut lines: Vec<Vec<Line>> =
            cells.iter().zip(&widths).map(|(cell, w)| fonts.wrap(cell, cell_ems(*w))).collect();
        let fill = (index % 2 == 1).then_some(STRIPE);
        loop {
            let needed = lines.iter().map(Vec::len).max().unwrap_or(1).max(1);
            let fits = lines_in(table.bottom - table.y);
            // A row that does not fit moves to the next page — unless it is the page's first
            // row, when it is taller than a page and is cut.
            if needed > fits && !table.at_page_top() {
                table.new_page()?;
                continue;
            }
            let take = needed.min(fits.max(1));
            let rest: Vec<Vec<Line>> = lines.iter_mut().map(|l| l.split_off(take.min(l.len()))).collect();
            table.row(&lines, take, fill, INK, false);
            if rest.iter().all(Vec::is_empty) {
                break;
            }
            table.new_page()?;
            lines = rest;
        }
    }
    table.frame();
    Ok(Laid {
        size: (PAGE_W, PAGE_H),
        margin_x: MARGIN_X,
        pages: table.pages,
        footer,
        footer_baseline,
        watermark: None,
    })
}

/// The room for text in a column of `width` points, in ems.
fn cell_ems(width: f32) -> f32 {
    (width - 2.0 * PAD_X) / SIZE
}

fn lines_in(height: f32) -> usize {
    let room = height - 2.0 * PAD_Y;
    if room < LEADING { 0 } else { (room / LEADING).floor() as usize }
}

struct Table<'a> {
    pages: Vec<Vec<Op>>,
    /// Where the next row goes on the last page.
    y: f32,
    /// Where the last page's rows start (under the heading row).
    body_top: f32,
    /// Where the last page's table starts (the heading row).
    top: f32,
    /// The header of every page after the first, and where its table starts.
    later: Vec<Op>,
    later_top: f32,
    /// The lowest a row may reach.
    bottom: f32,
    widths: &'a [f32],
    headings: &'a [Vec<Line>],
}

impl Table<'_> {
    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn at_page_top(&self) -> bool {
        self.y <= self.body_top
    }

    /// Closes the table on this page and opens it on a new one, under the heading row.
    fn new_page(&mut self) -> Result<(), DocumentError> {
        self.frame();
        if self.pages.len() >= MAX_PAGES {
            return Err(DocumentError::TooManyPages { limit: MAX_PAGES });
        }
        self.pages.push(self.later.clone());
        self.y = self.later_top;
        self.top = self.later_top;
        self.heading_row();
        Ok(())
    }

    fn heading_row(&mut self) {
        let headings = self.headings;
        let lines = headings.iter().map(Vec::len).max().unwrap_or(1).max(1);
        self.row(headings, lines, Some(SHADE), LABEL_INK, true);
        let y = self.y;
        self.ops().push(Op::Rule { x1: MARGIN_X, x2: MARGIN_X + CONTENT_W, y, color: FRAME, width: 0.8 });
        self.body_top = self.y;
    }

    /// One row of `lines` lines at `y`, which moves below it: each cell's lines, the cells
    /// parted by thin rules.
    fn row(&mut self, cells: &[Vec<Line>], lines: usize, fill: Option<Rgb>, color: Rgb, bold: bool) {
        let y = self.y;
        let h = lines as f32 * LEADING + 2.0 * PAD_Y;
        let widths = self.widths;
        let ops = self.ops();
        if let Some(fill) = fill {
            ops.push(Op::Rect { x: MARGIN_X, y, w: CONTENT_W, h, fill: Some(fill), stroke: None });
        }
        ops.push(Op::Rule { x1: MARGIN_X, x2: MARGIN_X + CONTENT_W, y: y + h, color: GRID, width: 0.4 });
        let mut x = MARGIN_X;
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i > 0 {
                ops.push(Op::VRule { x, y1: y, y2: y + h, color: GRID, width: 0.4 });
            }
            for (n, line) in cell.iter().take(lines).enumerate() {
                let baseline = y + PAD_Y + n as f32 * LEADING + LEADING / 2.0 + 0.36 * SIZE;
                ops.push(Op::Text { x: x + PAD_X, baseline, size: SIZE, line: line.clone(), color, bold });
            }
            x += w;
        }
        self.y = y + h;
    }

    /// The table's outer frame on the last page.
    fn frame(&mut self) {
        let (top, h) = (self.top, self.y - self.top);
        if h > 0.0 {
            self.ops().push(Op::Rect {
                x: MARGIN_X,
                y: top,
                w: CONTENT_W,
                h,
                fill: None,
                stroke: Some((FRAME, 0.9)),
            });
        }
    }
}

/// 社外秘 / CONFIDENTIAL, boxed in red, top right; its operations and width.
fn stamp(fonts: &Fonts, words: &Words) -> (Vec<Op>, f32) {
    let size = 8.0;
    let line = fonts.line(words.confidential);
    let w = line.width * size + 14.0;
    let x = PAGE_W - MARGIN_X - w;
    let ops = vec![
        Op::Rect { x, y: TOP - 4.0, w, h: 15.0, fill: None, stroke: Some((STAMP, 1.0)) },
        Op::Text { x: x + 7.0, baseline: TOP + 6.5, size, line, color: STAMP, bold: true },
    ];
    (ops, w)
}

/// The first page's header: "Mamori", the title, the subtitle lines and a double rule;
/// returns where the table starts.
fn first_header(fonts: &Fonts, title: &str, report: &TableReport, stamp_w: f32, ops: &mut Vec<Op>) -> f32 {
    ops.push(Op::Text {
        x: MARGIN_X,
        baseline: TOP + 6.5,
        size: 8.0,
        line: fonts.line("Mamori"),
        color: MUTED,
        bold: true,
    });
    let size = 14.0;
    let mut baseline = TOP + 30.0;
    for (i, line) in fonts.wrap(title, (CONTENT_W - stamp_w - 20.0) / size).into_iter().enumerate() {
        if i > 0 {
            baseline += 19.0;
        }
        ops.push(Op::Text { x: MARGIN_X, baseline, size, line, color: INK, bold: true });
    }
    let (sub_size, sub_leading) = (8.5, 12.0);
    baseline += 5.0;
    for text in &report.subtitle_lines {
        for line in fonts.wrap(&one_line(text), CONTENT_W / sub_size) {
            baseline += sub_leading;
            ops.push(Op::Text { x: MARGIN_X, baseline, size: sub_size, line, color: MUTED, bold: false });
        }
    }
    let rule = baseline + 8.0;
    ops.push(Op::Rule { x1: MARGIN_X, x2: MARGIN_X + CONTENT_W, y: rule, color: INK, width: 1.2 });
    ops.push(Op::Rule { x1: MARGIN_X, x2: MARGIN_X + CONTENT_W, y: rule + 2.4, color: INK, width: 0.4 });
    rule + 12.0
}

/// The header of every later page; returns where the table starts.
fn later_header(fonts: &Fonts, title: &str, words: &Words, stamp_w: f32, ops: &mut Vec<Op>) -> f32 {
    let size = 9.5;
    let line = fonts.line_fitted(&format!("{title}{}", words.continued), (CONTENT_W - stamp_w - 16.0) / size);
    ops.push(Op::Text { x: MARGIN_X, baseline: TOP + 7.0, size, line, color: INK, bold: true });
    ops.push(Op::Rule { x1: MARGIN_X, x2: MARGIN_X + CONTENT_W, y: TOP + 17.0, color: INK, width: 0.8 });
    TOP + 27.0
}

/// The footer: a rule and "Generated <time>"; returns its operations, its top and the
/// baseline the page number goes on.
fn footer(fonts: &Fonts, report: &TableReport, words: &Words) -> (Vec<Op>, f32, f32) {
    let size = 7.5;
    let baseline = PAGE_H - 20.0;
    let rule = baseline - 11.0;
    let mut ops = vec![Op::Rule { x1: MARGIN_X, x2: MARGIN_X + CONTENT_W, y: rule, color: GRID, width: 0.6 }];
    let generated = one_line(&report.generated_jst);
    let text = match generated.is_empty() {
        true => "Mamori".to_owned(),
        false => format!("{} {generated} ｜ Mamori", words.generated),
    };
    // Room on the right for the page number.
    let line = fonts.line_fitted(&text, (CONTENT_W - 60.0) / size);
    ops.push(Op::Text { x: MARGIN_X, baseline, size, line, color: MUTED, bold: false });
    (ops, rule, baseline)
}
