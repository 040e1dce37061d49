//! The embedded font, shaping and line breaking.
//!
//! Text is shaped once with rustybuzz (the shaper krilla itself uses); lines are cut between
//! clusters — after a space, or between two CJK characters unless that would start a line
//! with closing punctuation or a small kana, or end one with an opening bracket (a simple
//! 禁則処理) — and a word longer than the line is cut where it must. Each line keeps its own
//! glyphs and text, so the PDF maps every glyph back to its characters (pdftotext, copy and
//! search see the same Unicode text).

use crate::DocumentError;
use krilla::text::{Font, GlyphId, KrillaGlyph};
use std::sync::OnceLock;

/// IPAexGothic 004.01 (Debian's `fonts-ipaexfont-gothic`, unmodified), IPA Font License v1.0.
const FONT_DATA: &[u8] = include_bytes!("../fonts/ipaexg.ttf");

pub(crate) struct Fonts {
    /// For the PDF (krilla subsets it to the glyphs used).
    pub pdf: Font,
    /// For shaping and measuring.
    face: rustybuzz::Face<'static>,
}

/// The font, parsed once per process.
pub(crate) fn fonts() -> Result<&'static Fonts, DocumentError> {
    static FONTS: OnceLock<Option<Fonts>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            let face = rustybuzz::Face::from_slice(FONT_DATA, 0)?;
            let pdf = Font::new(FONT_DATA.into(), 0)?;
            Some(Fonts { pdf, face })
        })
        .as_ref()
        .ok_or(DocumentError::Font)
}

/// One line of text, ready to draw: its characters and their glyphs (advances in ems, text
/// ranges into `text`).
#[derive(Debug, Clone)]
pub(crate) struct Line {
    pub text: String,
    pub glyphs: Vec<KrillaGlyph>,
    /// Width in ems; multiply by the font size for points.
    pub width: f32,
}

impl Line {
    pub fn empty() -> Line {
        Line { text: String::new(), glyphs: Vec::new(), width: 0.0 }
    }
}

/// A cluster: the glyphs drawn for a run of characters that are never split.
struct Cluster {
    bytes: std::ops::Range<usize>,
    glyphs: std::ops::Range<usize>,
    width: f32,
}

impl Fonts {
    /// `text` on one line, as it is (no wrapping).
    pub fn line(&self, text: &str) -> Line {
        let glyphs = self.shape(text);
        let width = glyphs.iter().map(|g| g.x_advance).sum();
        Line { text: text.to_owned(), glyphs, width }
    }

    /// `text` on one line, cut to fit `max` ems with an ellipsis when it is longer.
    pub fn line_fitted(&self, text: &str, max: f32) -> Line {
        let whole = self.line(text);
        if whole.width <= max {
            return whole;
        }
        let ellipsis = self.line("…").width;
        let clusters = clusters(&whole.text, &whole.glyphs);
        let mut width = 0.0;
        let mut end = 0;
        for c in &clusters {
            if width + c.width + ellipsis > max {
                break;
            }
            width += c.width;
            end = c.bytes.end;
        }
        self.line(&format!("{}…", whole.text.get(..end).unwrap_or_default().trim_end()))
    }

    /// `text` wrapped to lines of at most `max` ems. Line breaks in `text` are kept; an empty
    /// text is one empty line.
    pub fn wrap(&self, text: &str, max: f32) -> Vec<Line> {
        let mut lines = Vec::new();
        for paragraph in clean(text).split('\n') {
            self.wrap_paragraph(paragraph, max, &mut lines);
        }
        lines
    }

    fn wrap_paragraph(&self, text: &str, max: f32, out: &mut Vec<Line>) {
        let glyphs = self.shape(text);
        let clusters = clusters(text, &glyphs);
        if clusters.is_empty() {
            out.push(Line::empty());
            return;
        }
        let kinds: Vec<Kind> =
            clusters.iter().map(|c| kind(text.get(c.bytes.clone()).unwrap_or_default())).collect();
        let first_line = out.len();
        let mut start = 0;
        let mut width = 0.0;
        let mut last_break = None;
        let mut i = 0;
        while i < clusters.len() {
            if i > start && can_break(kinds[i - 1], kinds[i]) {
                last_break = Some(i);
            }
            let w = clusters[i].width;
            if i > start && width + w > max && kinds[i] != Kind::Space {
                let cut = match last_break {
                    Some(b) if b > start => b,
                    _ => i,
                };
                out.push(self.slice(text, &glyphs, &clusters[start..cut], &kinds[start..cut]));
                start = cut;
                while start < clusters.len() && kinds[start] == Kind::Space {
                    start += 1;
                }
                // What went past the cut starts the next line: measure it again, then look at
                // cluster `i` once more.
                let resume = i.max(start);
                width = 0.0;
                last_break = None;
                for j in start..resume {
                    if j > start && can_break(kinds[j - 1], kinds[j]) {
                        last_break = Some(j);
                    }
                    width += clusters[j].width;
                }
                i = resume;
                continue;
            }
            width += w;
            i += 1;
        }
        if start < clusters.len() || out.len() == first_line {
            out.push(self.slice(
                text,
                &glyphs,
                clusters.get(start..).unwrap_or_default(),
                kinds.get(start..).unwrap_or_default(),
            ));
        }
    }

    /// One line made of `clusters` of `text`, without trailing spaces.
    fn slice(&self, text: &str, glyphs: &[KrillaGlyph], clusters: &[Cluster], kinds: &[Kind]) -> Line {
        let keep = kinds.iter().rposition(|k| *k != Kind::Space).map_or(0, |p| p + 1);
        let clusters = clusters.get(..keep).unwrap_or_default();
        let (Some(first), Some(last)) = (clusters.first(), clusters.last()) else { return Line::empty() };
        let bytes = first.bytes.start..last.bytes.end;
        let glyph_range = first.glyphs.start..last.glyphs.end;
        let line_glyphs = glyphs
            .get(glyph_range)
            .unwrap_or_default()
            .iter()
            .map(|g| {
                let mut g = g.clone();
                g.text_range = g.text_range.start - bytes.start..g.text_range.end - bytes.start;
                g
            })
            .collect();
        Line {
            text: text.get(bytes).unwrap_or_default().to_owned(),
            glyphs: line_glyphs,
            width: clusters.iter().map(|c| c.width).sum(),
        }
    }

    /// Glyphs for `text`, left to right, advances in ems.
    fn shape(&self, text: &str) -> Vec<KrillaGlyph> {
        if text.is_empty() {
            return Vec::new();
        }
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.guess_segment_properties();
        // Right-to-left scripts are not laid out: everything runs left to right, so clusters
        // stay in text order.
        buffer.set_direction(rustybuzz::Direction::LeftToRight);
        let output = rustybuzz::shape(&self.face, &[], buffer);
        let upem = self.face.units_per_em() as f32;
        let infos = output.glyph_infos();
        let positions = output.glyph_positions();
        let mut glyphs = Vec::with_capacity(infos.len());
        for (i, (info, pos)) in infos.iter().zip(positions).enumerate() {
            let start = info.cluster as usize;
            let end = infos
                .get(i + 1..)
                .unwrap_or_default()
                .iter()
                .map(|next| next.cluster as usize)
                .find(|c| *c > start)
                .unwrap_or(text.len());
            glyphs.push(KrillaGlyph::new(
                GlyphId::new(info.glyph_id),
                pos.x_advance as f32 / upem,
                pos.x_offset as f32 / upem,
                pos.y_offset as f32 / upem,
                pos.y_advance as f32 / upem,
                start..end,
                None,
            ));
        }
        glyphs
    }
}

/// Groups glyphs that share a text range into clusters.
fn clusters(text: &str, glyphs: &[KrillaGlyph]) -> Vec<Cluster> {
    let mut out: Vec<Cluster> = Vec::new();
    for (i, g) in glyphs.iter().enumerate() {
        match out.last_mut() {
            Some(c) if g.text_range.start < c.bytes.end => {
                c.glyphs.end = i + 1;
                c.bytes.end = c.bytes.end.max(g.text_range.end);
                c.width += g.x_advance;
            }
            _ => out.push(Cluster { bytes: g.text_range.clone(), glyphs: i..i + 1, width: g.x_advance }),
        }
    }
    out.retain(|c| text.get(c.bytes.clone()).is_some());
    out
}

/// Line breaks as `\n`, tabs as spaces, other control characters dropped.
pub(crate) fn clean(text: &str) -> String {
    let text = text.replace("\r\n", "\n").replace('\r', "\n");
    text.chars()
        .filter_map(|c| match c {
            '\n' => Some('\n'),
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

/// `text` on one line: line breaks become spaces.
pub(crate) fn one_line(text: &str) -> String {
    clean(text).replace('\n', " ").trim().to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Space,
    /// CJK: a break may come before or after it.
    Wide,
    /// Must not start a line (closing brackets and punctuation, small kana, ー).
    NoStart,
    /// Must not end a line (opening brackets).
    NoEnd,
    /// A break may follow it (`-`, `/`).
    BreakAfter,
    /// Latin letters, digits and the rest: no break inside a run of them.
    Other,
}

fn kind(cluster: &str) -> Kind {
    let Some(c) = cluster.chars().next() else { return Kind::Other };
    if c.is_whitespace() {
        return Kind::Space;
    }
    if "、。，．・：；？！ー―‐〜～…‥」』）］｝〕〉》】〙〗〟’”ゝゞ々ヽヾぁぃぅぇぉっゃゅょゎゕゖァィゥェォッャュョヮヵヶㇰㇱㇲㇳㇴㇵㇶㇷㇸㇹㇺㇻㇼㇽㇾㇿ,.!?:;)]}"
        .contains(c)
    {
        return Kind::NoStart;
    }
    if "「『（［｛〔〈《【〘〖〝‘“([{".contains(c) {
        return Kind::NoEnd;
    }
    if c == '-' || c == '/' {
        return Kind::BreakAfter;
    }
    if is_wide(c) {
        return Kind::Wide;
    }
    Kind::Other
}

fn is_wide(c: char) -> bool {
    matches!(u32::from(c),
        0x1100..=0x11FF       // Hangul Jamo
        | 0x2E80..=0x303F     // CJK radicals, punctuation
        | 0x3040..=0x30FF     // kana
        | 0x3100..=0x31FF     // Bopomofo, katakana extensions
        | 0x3200..=0x4DBF     // enclosed CJK, CJK extension A
        | 0x4E00..=0x9FFF     // CJK unified ideographs
        | 0xAC00..=0xD7AF     // Hangul syllables
        | 0xF900..=0xFAFF     // CJK compatibility ideographs
        | 0xFE30..=0xFE4F     // CJK compatibility forms
        | 0xFF00..=0xFFEF     // full-width and half-width forms
        | 0x20000..=0x3FFFF) // CJK extensions B and later
}

/// May a line end between a cluster of kind `before` and one of kind `after`?
fn can_break(before: Kind, after: Kind) -> bool {
    match (before, after) {
        (Kind::Space, Kind::Space) => false,
        (Kind::Space, _) => true,
        (_, Kind::Space) => false,
        (_, Kind::NoStart) => false,
        (Kind::NoEnd, _) => false,
        (Kind::BreakAfter, _) => true,
        (Kind::Wide | Kind::NoStart, _) | (_, Kind::Wide | Kind::NoEnd) => true,
        (Kind::Other, Kind::Other | Kind::BreakAfter) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(lines: &[Line]) -> Vec<&str> {
        lines.iter().map(|l| l.text.as_str()).collect()
    }

    #[test]
    fn japanese_wraps_between_characters_and_keeps_punctuation_on_the_line() {
        let fonts = fonts().unwrap();
        // IPAexGothic's kana and kanji are one em wide.
        let lines = fonts.wrap("あいうえお。かきくけこ", 5.0);
        assert_eq!(texts(&lines), ["あいうえ", "お。かきく", "けこ"]);
        assert!(
            lines.iter().all(|l| l.width <= 5.0 + 1e-3),
            "{:?}",
            lines.iter().map(|l| l.width).collect::<Vec<_>>()
        );
    }

    #[test]
    fn latin_wraps_at_spaces_and_long_words_are_cut() {
        let fonts = fonts().unwrap();
        let lines = fonts.wrap("alpha beta gamma", 4.0);
        assert_eq!(texts(&lines), ["alpha", "beta", "gamma"]);
        let lines = fonts.wrap("abcdefghijklmnopqrstuvwxyz", 4.0);
        assert!(lines.len() > 2);
        assert_eq!(lines.iter().map(|l| l.text.as_str()).collect::<String>(), "abcdefghijklmnopqrstuvwxyz");
    }

    #[test]
    fn line_breaks_are_kept_and_empty_text_is_one_line() {
        let fonts = fonts().unwrap();
        assert_eq!(texts(&fonts.wrap("一行目\r\n\n三行目", 20.0)), ["一行目", "", "三行目"]);
        assert_eq!(texts(&fonts.wrap("", 20.0)), [""]);
        assert_eq!(texts(&fonts.wrap("a\tb\u{7}c", 20.0)), ["a bc"]);
    }

    #[test]
    fn glyph_ranges_point_into_the_line() {
        let fonts = fonts().unwrap();
        for line in fonts.wrap("山田 太郎 様のご住所は東京都千代田区千代田1-1です", 6.0)
        {
            for g in &line.glyphs {
                assert!(line.text.get(g.text_range.clone()).is_some(), "{line:?}");
            }
        }
    }

    #[test]
    fn fitted_lines_end_with_an_ellipsis() {
        let fonts = fonts().unwrap();
        let line = fonts.line_fitted("顧客情報シート（長いタイトル）", 5.0);
        assert!(line.text.ends_with('…') && line.width <= 5.0, "{line:?}");
        assert_eq!(fonts.line_fitted("短い", 5.0).text, "短い");
    }
}
