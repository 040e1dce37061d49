//! The laid-out pages drawn with krilla: body, footer with "page / pages", and — on a customer
//! sheet — the diagonal watermark on top of everything (translucent, so the sheet stays readable
//! and nothing on it can cover the watermark).

use crate::DocumentError;
use crate::Language;
use crate::layout::{INK, Laid, Op, Rgb};
use crate::text::{Fonts, Line, one_line};
use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;

/// The watermark: its size, angle (degrees; negative rises to the right), colour and opacity,
/// the distance between its rows and between repeats along a row.
const MARK_SIZE: f32 = 12.0;
const MARK_ANGLE: f32 = -32.0;
const MARK_INK: Rgb = Rgb(0x4a, 0x55, 0x68);
const MARK_OPACITY: f32 = 0.2;
const MARK_ROW: f32 = 96.0;
const MARK_GAP: f32 = 48.0;

pub(crate) fn render(
    fonts: &Fonts,
    laid: &Laid,
    title: &str,
    lang: Language,
) -> Result<Vec<u8>, DocumentError> {
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(one_line(title))
            .language(lang.as_str().to_owned())
            .creator("Mamori".to_owned()),
    );
    let (page_w, page_h) = laid.size;
    let size = PageSettings::from_wh(page_w, page_h).ok_or(DocumentError::Pdf("bad page size".to_owned()))?;
    let total = laid.pages.len();
    for (index, ops) in laid.pages.iter().enumerate() {
        let mut page = document.start_page_with(size.clone());
        let mut surface = page.surface();
        for op in ops.iter().chain(&laid.footer) {
            draw(&mut surface, fonts, op);
        }
        let number = fonts.line(&format!("{} / {total}", index + 1));
        let x = page_w - laid.margin_x - number.width * 8.0;
        draw_text(&mut surface, fonts, Point::from_xy(x, laid.footer_baseline), 8.0, &number, INK, false);
        if let Some(mark) = &laid.watermark {
            watermark(&mut surface, fonts, mark, laid.size);
        }
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| DocumentError::Pdf(format!("{e:?}")))
}

fn draw(surface: &mut Surface, fonts: &Fonts, op: &Op) {
    match op {
        Op::Text { x, baseline, size, line, color, bold } => {
            draw_text(surface, fonts, Point::from_xy(*x, *baseline), *size, line, *color, *bold)
        }
        Op::Rect { x, y, w, h, fill, stroke } => {
            let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) else { return };
            let mut builder = PathBuilder::new();
            builder.push_rect(rect);
            let Some(path) = builder.finish() else { return };
            surface.set_fill(fill.map(|c| solid(c, 1.0)));
            surface.set_stroke(stroke.map(|(c, width)| line_stroke(c, width)));
            surface.draw_path(&path);
        }
        Op::Rule { x1, x2, y, color, width } => {
            let mut builder = PathBuilder::new();
            builder.move_to(*x1, *y);
            builder.line_to(*x2, *y);
            let Some(path) = builder.finish() else { return };
            surface.set_fill(None);
            surface.set_stroke(Some(line_stroke(*color, *width)));
            surface.draw_path(&path);
        }
        Op::VRule { x, y1, y2, color, width } => {
            let mut builder = PathBuilder::new();
            builder.move_to(*x, *y1);
            builder.line_to(*x, *y2);
            let Some(path) = builder.finish() else { return };
            surface.set_fill(None);
            surface.set_stroke(Some(line_stroke(*color, *width)));
            surface.draw_path(&path);
        }
    }
}

fn draw_text(
    surface: &mut Surface,
    fonts: &Fonts,
    at: Point,
    size: f32,
    line: &Line,
    color: Rgb,
    bold: bool,
) {
    if line.glyphs.is_empty() {
        return;
    }
    surface.set_fill(Some(solid(color, 1.0)));
    // IPAexGothic has one weight: bold is the glyphs filled and stroked with a thin outline.
    surface.set_stroke(bold.then(|| line_stroke(color, size * 0.035)));
    surface.draw_glyphs(at, &line.glyphs, fonts.pdf.clone(), &line.text, size, false);
}

/// The watermark's line repeated in rows across the whole page, turned by [`MARK_ANGLE`];
/// repeats that would fall wholly off the page are left out.
fn watermark(surface: &mut Surface, fonts: &Fonts, line: &Line, (page_w, page_h): (f32, f32)) {
    let (cx, cy) = (page_w / 2.0, page_h / 2.0);
    let half = (page_w * page_w + page_h * page_h).sqrt() / 2.0;
    let length = line.width * MARK_SIZE;
    let step = length + MARK_GAP;
    let turn = Transform::from_rotate_at(MARK_ANGLE, cx, cy);
    let (sin, cos) = MARK_ANGLE.to_radians().sin_cos();
    // Where a point of the turned frame lands on the page.
    let on_page = |u: f32, v: f32| {
        let (x, y) = (u * cos - v * sin + cx, u * sin + v * cos + cy);
        (0.0..=page_w).contains(&x) && (0.0..=page_h).contains(&y)
    };
    surface.push_transform(&turn);
    surface.set_fill(Some(solid(MARK_INK, MARK_OPACITY)));
    surface.set_stroke(None);
    let rows = (half / MARK_ROW).ceil() as i32;
    for row in -rows..=rows {
        let v = row as f32 * MARK_ROW;
        // Every other row is shifted by half a repeat, like bricks.
        let mut u = -half - if row % 2 == 0 { 0.0 } else { step / 2.0 };
        while u < half {
            let samples = (length / 24.0).ceil().max(1.0) as usize;
            let visible =
                (0..=samples).any(|i| on_page(u + length * i as f32 / samples as f32, v - MARK_SIZE * 0.4));
            if visible {
                let at = Point::from_xy(cx + u, cy + v);
                surface.draw_glyphs(at, &line.glyphs, fonts.pdf.clone(), &line.text, MARK_SIZE, false);
            }
            u += step;
        }
    }
    surface.pop();
}

fn solid(color: Rgb, opacity: f32) -> Fill {
    Fill {
        paint: rgb::Color::new(color.0, color.1, color.2).into(),
        opacity: NormalizedF32::new(opacity).unwrap_or(NormalizedF32::ONE),
        rule: Default::default(),
    }
}

fn line_stroke(color: Rgb, width: f32) -> Stroke {
    Stroke { paint: rgb::Color::new(color.0, color.1, color.2).into(), width, ..Default::default() }
}
