//! WebVTT, SRT and plain transcripts: writing our cues, and reading the
//! caption files authors supply next to their takes.
//!
//! Writing is strict (what the WebVTT spec and common SRT players expect).
//! Reading is lenient where a file's meaning is still clear — CRLF or CR line
//! endings, a byte-order mark, cue identifiers and settings, NOTE, STYLE and
//! REGION blocks, short `MM:SS.mmm` timestamps, `,` and `.` before the
//! milliseconds, stray blank lines, a missing blank line before the next cue
//! — and strict where guessing would put wrong text on screen: a cue without
//! a timing line, a timestamp that does not parse, a cue that ends before it
//! starts. Those are [`SubtitleError`]s naming the line, so the author can fix
//! the file.
//!
//! [`parse`] returns cue text as written, markup included; [`normalise`]
//! turns it into plain lines. Keeping them apart keeps the order right:
//! markup is removed before entities are decoded, so an escaped `&lt;b&gt;`
//! stays text and is not mistaken for a tag.

use std::fmt::Write as _;
use std::path::Path;

use crate::cues::Cue;

/// A subtitle file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// WebVTT (`.vtt`), the format of HTML5 video and HLS.
    Vtt,
    /// SubRip (`.srt`), what most editors and platforms also take.
    Srt,
}

impl Format {
    /// The format a file's extension names (case-insensitive), if any.
    pub fn from_path(path: &Path) -> Option<Format> {
        let ext = path.extension()?.to_str()?;
        if ext.eq_ignore_ascii_case("vtt") {
            Some(Format::Vtt)
        } else if ext.eq_ignore_ascii_case("srt") {
            Some(Format::Srt)
        } else {
            None
        }
    }

    /// The file extension, without the dot.
    pub fn extension(&self) -> &'static str {
        match self {
            Format::Vtt => "vtt",
            Format::Srt => "srt",
        }
    }
}

/// Why a caption file cannot be read. Every one is permanent — the file
/// itself is wrong — and names the 1-based line to look at.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubtitleError {
    /// Nothing but whitespace (or nothing at all).
    #[error("line {line}: the file is empty")]
    Empty { line: usize },
    /// A `.vtt` file must start with `WEBVTT`.
    #[error("line {line}: WEBVTT header expected, found {found}")]
    MissingHeader { line: usize, found: String },
    /// A cue without its `start --> end` line.
    #[error("line {line}: timing line expected, found {found}")]
    TimingExpected { line: usize, found: String },
    /// A timestamp that is not `HH:MM:SS.mmm` (or `MM:SS.mmm`, or with `,`).
    #[error("line {line}: bad timestamp {found:?} (expected HH:MM:SS.mmm or HH:MM:SS,mmm)")]
    BadTimestamp { line: usize, found: String },
    /// A cue that ends before it starts.
    #[error("line {line}: end {end} is before start {start}")]
    EndBeforeStart {
        line: usize,
        start: String,
        end: String,
    },
    /// Bytes that are not UTF-8 (often a file saved as Windows-1251 or
    /// Latin-1).
    #[error("line {line}: the text is not valid UTF-8 (save the file as UTF-8)")]
    InvalidUtf8 { line: usize },
}

impl SubtitleError {
    /// The 1-based line the error is about.
    pub fn line(&self) -> usize {
        match self {
            SubtitleError::Empty { line }
            | SubtitleError::MissingHeader { line, .. }
            | SubtitleError::TimingExpected { line, .. }
            | SubtitleError::BadTimestamp { line, .. }
            | SubtitleError::EndBeforeStart { line, .. }
            | SubtitleError::InvalidUtf8 { line } => *line,
        }
    }
}

/// Writes a WebVTT file: the `WEBVTT` header, then each cue as
/// `HH:MM:SS.mmm --> HH:MM:SS.mmm` and its lines, with `&`, `<` and `>`
/// escaped so text can never be read as markup (or as a `-->`).
///
/// Empty lines are left out (a blank line would end the cue early) and so
/// are cues with no text; an end before the start is written as the start,
/// and negative times as zero, so the file is always one [`parse`] accepts.
pub fn write_vtt(cues: &[Cue]) -> String {
    let mut out = String::from("WEBVTT\n");
    for cue in cues {
        let lines = text_lines(cue);
        if lines.is_empty() {
            continue;
        }
        let (start, end) = written_times(cue);
        let _ = writeln!(
            out,
            "\n{} --> {}",
            timestamp(start, '.'),
            timestamp(end, '.')
        );
        for line in lines {
            out.push_str(&escape_vtt(line));
            out.push('\n');
        }
    }
    out
}

/// Writes an SRT file: a 1-based counter, `HH:MM:SS,mmm --> HH:MM:SS,mmm`,
/// the lines, and a blank line between cues. SRT has no escaping, so text is
/// written as it is; empty lines and empty cues are left out as in
/// [`write_vtt`].
pub fn write_srt(cues: &[Cue]) -> String {
    let mut out = String::new();
    let mut number = 0;
    for cue in cues {
        let lines = text_lines(cue);
        if lines.is_empty() {
            continue;
        }
        number += 1;
        if number > 1 {
            out.push('\n');
        }
        let (start, end) = written_times(cue);
        let _ = writeln!(
            out,
            "{number}\n{} --> {}",
            timestamp(start, ','),
            timestamp(end, ',')
        );
        for line in lines {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// Silence between cues that starts a new paragraph of the transcript: a
/// speaker pausing this long has usually finished a thought.
pub const PARAGRAPH_PAUSE_SECONDS: f64 = 2.0;

/// Writes a plain transcript: the cues' text joined by spaces, a new
/// paragraph after a pause of [`PARAGRAPH_PAUSE_SECONDS`] or more between
/// cues. Each paragraph is one line (no wrapping), so a reader's editor wraps
/// it and a search finds phrases that crossed a cue boundary.
pub fn write_text(cues: &[Cue]) -> String {
    let mut out = String::new();
    let mut previous_end: Option<f64> = None;
    for cue in cues {
        let words: Vec<&str> = cue
            .lines
            .iter()
            .flat_map(|l| l.split_whitespace())
            .collect();
        if words.is_empty() {
            continue;
        }
        if let Some(end) = previous_end {
            if cue.start - end >= PARAGRAPH_PAUSE_SECONDS - 0.0005 {
                out.push('\n');
            } else {
                out.push(' ');
            }
        }
        out.push_str(&words.join(" "));
        previous_end = Some(previous_end.map_or(cue.end, |e| e.max(cue.end)));
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// The lines of a cue worth writing: a line holding a line break becomes
/// several lines, and empty lines go.
fn text_lines(cue: &Cue) -> Vec<&str> {
    cue.lines
        .iter()
        .flat_map(|l| l.split(['\n', '\r']))
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect()
}

fn written_times(cue: &Cue) -> (u64, u64) {
    let start = to_ms(cue.start);
    (start, to_ms(cue.end).max(start))
}

/// Seconds to whole milliseconds; negative or NaN is zero.
fn to_ms(seconds: f64) -> u64 {
    let ms = (seconds * 1000.0).round();
    if ms.is_nan() || ms <= 0.0 {
        0
    } else {
        // `as` saturates for the absurdly large.
        ms as u64
    }
}

/// `HH:MM:SS.mmm` (or with `,`); hours grow past two digits if they must.
fn timestamp(ms: u64, separator: char) -> String {
    let (h, rest) = (ms / 3_600_000, ms % 3_600_000);
    let (m, rest) = (rest / 60_000, rest % 60_000);
    let (s, ms) = (rest / 1000, rest % 1000);
    format!("{h:02}:{m:02}:{s:02}{separator}{ms:03}")
}

fn escape_vtt(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Reads a caption file's bytes: strips a UTF-8 byte-order mark, reports the
/// line of the first byte that is not UTF-8, then [`parse`]s.
pub fn parse_bytes(bytes: &[u8], format: Format) -> Result<Vec<Cue>, SubtitleError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => parse(text, format),
        Err(e) => {
            let valid = &bytes[..e.valid_up_to()];
            // Count line breaks the way `parse` does: CRLF, LF or CR alone.
            let mut line = 1;
            let mut i = 0;
            while i < valid.len() {
                match valid[i] {
                    b'\n' => line += 1,
                    b'\r' => {
                        line += 1;
                        if valid.get(i + 1) == Some(&b'\n') {
                            i += 1;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            Err(SubtitleError::InvalidUtf8 { line })
        }
    }
}

/// Parses a WebVTT or SRT file into cues, text as written (markup and
/// entities included; see [`normalise`]).
///
/// Times are whole milliseconds (`ms / 1000.0`), so a file written by
/// [`write_vtt`] or [`write_srt`] reads back to the same times. A file that
/// is well formed but holds no cues (a bare `WEBVTT` header) is `Ok` and
/// empty: whether no captions is acceptable is the caller's call.
///
/// WebVTT blocks that are neither cues nor NOTE/STYLE/REGION blocks are an
/// error here, where a browser would skip them silently: an author who typed
/// a cue without its timing line wants to hear about it, not to lose it.
pub fn parse(text: &str, format: Format) -> Result<Vec<Cue>, SubtitleError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let lines = split_lines(text);
    if lines.iter().all(|l| l.trim().is_empty()) {
        return Err(SubtitleError::Empty { line: 1 });
    }
    let mut reader = Reader { lines, at: 0 };
    match format {
        Format::Vtt => parse_vtt(&mut reader),
        Format::Srt => parse_srt(&mut reader),
    }
}

/// Splits at CRLF, LF or a lone CR (all three occur in the wild).
fn split_lines(text: &str) -> Vec<&str> {
    let mut lines = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find(['\n', '\r']) {
        lines.push(&rest[..i]);
        let skip = if rest[i..].starts_with("\r\n") { 2 } else { 1 };
        rest = &rest[i + skip..];
    }
    // A final line break ends the last line rather than starting an empty one.
    if !rest.is_empty() {
        lines.push(rest);
    }
    lines
}

struct Reader<'a> {
    lines: Vec<&'a str>,
    /// Index of the next line (its line number is `at + 1`).
    at: usize,
}

impl<'a> Reader<'a> {
    fn peek(&self) -> Option<&'a str> {
        self.lines.get(self.at).copied()
    }

    fn next_line(&mut self) -> Option<(usize, &'a str)> {
        let line = self.peek()?;
        self.at += 1;
        Some((self.at, line))
    }

    fn skip_blank(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.at += 1;
        }
    }

    fn skip_block(&mut self) {
        while self.peek().is_some_and(|l| !is_blank(l)) {
            self.at += 1;
        }
    }

    /// The next line number, for "found end of file".
    fn line_number(&self) -> usize {
        self.at + 1
    }

    /// Cue text up to a blank line, or up to a line that is itself a timing
    /// line (a missing blank line between cues; the WebVTT parser does the
    /// same), which is left for the next cue.
    fn cue_text(&mut self) -> Vec<String> {
        let mut text = Vec::new();
        while let Some(line) = self.peek() {
            if is_blank(line) || (line.contains("-->") && parse_timing(line, 0).is_ok()) {
                break;
            }
            text.push(line.to_string());
            self.at += 1;
        }
        text
    }
}

/// Whitespace-only lines separate blocks too: editors leave stray spaces.
fn is_blank(line: &str) -> bool {
    line.trim().is_empty()
}

fn found(line: Option<&str>) -> String {
    match line {
        None => "end of file".to_string(),
        Some(l) if is_blank(l) => "a blank line".to_string(),
        Some(l) => format!("{:?}", shorten(l.trim())),
    }
}

/// At most 60 characters of a line, for messages.
fn shorten(line: &str) -> String {
    if line.chars().count() <= 60 {
        line.to_string()
    } else {
        let head: String = line.chars().take(57).collect();
        format!("{head}...")
    }
}

/// Starts a keyword block (`NOTE`, `STYLE`, `REGION`): the word alone or
/// followed by a space or tab.
fn starts_block(line: &str, keyword: &str) -> bool {
    line.strip_prefix(keyword)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t']))
}

fn parse_vtt(reader: &mut Reader<'_>) -> Result<Vec<Cue>, SubtitleError> {
    let first = reader.peek();
    if !first.is_some_and(|l| starts_block(l, "WEBVTT")) {
        return Err(SubtitleError::MissingHeader {
            line: 1,
            found: found(first),
        });
    }
    // The header block: WEBVTT and metadata lines (Kind:, Language:,
    // X-TIMESTAMP-MAP=...), up to a blank line — or up to a timing line, for
    // files that forgot the blank line after the header.
    reader.at += 1;
    while let Some(line) = reader.peek() {
        if is_blank(line) || line.contains("-->") {
            break;
        }
        reader.at += 1;
    }
    let mut cues = Vec::new();
    loop {
        reader.skip_blank();
        let Some(line) = reader.peek() else {
            break;
        };
        if ["NOTE", "STYLE", "REGION"]
            .iter()
            .any(|k| starts_block(line, k))
        {
            reader.skip_block();
            continue;
        }
        if !line.contains("-->") {
            // A cue identifier; the timing line must follow.
            reader.at += 1;
            if !reader.peek().is_some_and(|l| l.contains("-->")) {
                return Err(SubtitleError::TimingExpected {
                    line: reader.line_number(),
                    found: found(reader.peek()),
                });
            }
        }
        cues.push(read_cue(reader)?);
    }
    Ok(cues)
}

fn parse_srt(reader: &mut Reader<'_>) -> Result<Vec<Cue>, SubtitleError> {
    let mut cues = Vec::new();
    loop {
        reader.skip_blank();
        let Some(line) = reader.peek() else {
            break;
        };
        // The counter, not checked (hand-edited files renumber badly); a file
        // without counters goes straight to the timing line.
        let trimmed = line.trim();
        if !trimmed.is_empty() && trimmed.bytes().all(|b| b.is_ascii_digit()) {
            reader.at += 1;
        }
        if !reader.peek().is_some_and(|l| l.contains("-->")) {
            return Err(SubtitleError::TimingExpected {
                line: reader.line_number(),
                found: found(reader.peek()),
            });
        }
        let mut cue = read_cue(reader)?;
        // A missing blank line before the next cue leaves that cue's counter
        // at the end of this one's text.
        if reader.peek().is_some_and(|l| !is_blank(l))
            && cue.lines.last().is_some_and(|l| {
                !l.trim().is_empty() && l.trim().bytes().all(|b| b.is_ascii_digit())
            })
        {
            cue.lines.pop();
        }
        cues.push(cue);
    }
    Ok(cues)
}

/// A timing line and the text under it.
fn read_cue(reader: &mut Reader<'_>) -> Result<Cue, SubtitleError> {
    let Some((number, line)) = reader.next_line() else {
        return Err(SubtitleError::TimingExpected {
            line: reader.line_number(),
            found: found(None),
        });
    };
    let (start, end) = parse_timing(line, number)?;
    Ok(Cue {
        start: start as f64 / 1000.0,
        end: end as f64 / 1000.0,
        lines: reader.cue_text(),
    })
}

/// `start --> end [settings]`, in milliseconds. WebVTT cue settings and SRT
/// coordinates after the end time are ignored: the studio's players place
/// captions themselves.
fn parse_timing(line: &str, number: usize) -> Result<(u64, u64), SubtitleError> {
    let (left, right) = line
        .split_once("-->")
        .ok_or_else(|| SubtitleError::TimingExpected {
            line: number,
            found: found(Some(line)),
        })?;
    let start_text = left.trim();
    let end_text = right.split_whitespace().next().unwrap_or("");
    let start = parse_timestamp(start_text).ok_or_else(|| SubtitleError::BadTimestamp {
        line: number,
        found: shorten(start_text),
    })?;
    let end = parse_timestamp(end_text).ok_or_else(|| SubtitleError::BadTimestamp {
        line: number,
        found: shorten(end_text),
    })?;
    if end < start {
        return Err(SubtitleError::EndBeforeStart {
            line: number,
            start: start_text.to_string(),
            end: end_text.to_string(),
        });
    }
    Ok((start, end))
}

/// `[H…H:]MM:SS(.|,)mmm` in milliseconds. Hours take any number of digits
/// (one in many SRT files); minutes and seconds one or two digits below 60;
/// the fraction one to three digits read as a decimal fraction (`,5` is half
/// a second). Both separators are accepted in both formats: writers mix them
/// up and the meaning is unambiguous.
fn parse_timestamp(text: &str) -> Option<u64> {
    let (clock, fraction) = text.split_once(['.', ','])?;
    let parts: Vec<&str> = clock.split(':').collect();
    let (hours, minutes, seconds) = match parts.as_slice() {
        [h, m, s] => (number(h, 1, 6)?, number(m, 1, 2)?, number(s, 1, 2)?),
        [m, s] => (0, number(m, 1, 2)?, number(s, 1, 2)?),
        _ => return None,
    };
    if minutes >= 60 || seconds >= 60 {
        return None;
    }
    let digits = number(fraction, 1, 3)?;
    let ms = digits * 10u64.pow(3 - fraction.len() as u32);
    Some(((hours * 60 + minutes) * 60 + seconds) * 1000 + ms)
}

/// ASCII digits only (no sign, no spaces), `min..=max` of them.
fn number(text: &str, min: usize, max: usize) -> Option<u64> {
    if text.len() < min || text.len() > max || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Cleans author-supplied cues into plain lines: strips WebVTT and SRT
/// markup tags (`<b>`, `<i>`, `<u>`, `<v Speaker>`, `<c.class>`, `<lang en>`,
/// `<font …>`, timestamp tags such as `<00:00:01.500>`), then decodes the
/// entities (`&amp;`, `&lt;`, `&gt;`, `&nbsp;`, `&quot;`, `&apos;`, `&lrm;`,
/// `&rlm;`, numeric `&#…;`), collapses whitespace and trims each line, drops
/// empty lines and then empty cues, and sorts by start (stable, so cues
/// starting together keep the author's order). The author's own line breaks
/// are kept: they chose them.
pub fn normalise(cues: Vec<Cue>) -> Vec<Cue> {
    let mut out: Vec<Cue> = cues
        .into_iter()
        .filter_map(|cue| {
            let lines: Vec<String> = cue
                .lines
                .iter()
                .map(|l| clean_line(l))
                .filter(|l| !l.is_empty())
                .collect();
            (!lines.is_empty()).then_some(Cue { lines, ..cue })
        })
        .collect();
    out.sort_by(|a, b| a.start.total_cmp(&b.start));
    out
}

fn clean_line(line: &str) -> String {
    let decoded = decode_entities(&strip_tags(line));
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Removes `<…>` where `<` is followed by a tag name, `/` or a digit (a
/// timestamp tag), as WebVTT markup is; a `<` followed by anything else
/// ("a < b" in an SRT file) is text.
fn strip_tags(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('<') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let is_tag = after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '/');
        match after.find('>') {
            Some(close) if is_tag && !after[..close].contains('<') => {
                rest = &after[close + 1..];
            }
            _ => {
                out.push('<');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Decodes the entities caption files use; an unknown or unterminated one is
/// left as written.
fn decode_entities(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let decoded = after
            .find(';')
            .filter(|&semi| semi <= 10)
            .and_then(|semi| entity(&after[..semi]).map(|c| (c, semi)));
        match decoded {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        // A caption line is collapsed to single spaces anyway; a no-break
        // space would only survive as an invisible difference.
        "nbsp" => Some(' '),
        "quot" => Some('"'),
        "apos" => Some('\''),
        "lrm" => Some('\u{200E}'),
        "rlm" => Some('\u{200F}'),
        _ => {
            let code = if let Some(hex) = name.strip_prefix("#x").or(name.strip_prefix("#X")) {
                u32::from_str_radix(hex, 16).ok()?
            } else {
                name.strip_prefix('#')?.parse().ok()?
            };
            char::from_u32(code).filter(|&c| c != '\0')
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_format_and_parse() {
        assert_eq!(timestamp(0, '.'), "00:00:00.000");
        assert_eq!(timestamp(3_723_004, ','), "01:02:03,004");
        assert_eq!(timestamp(360_000_000, '.'), "100:00:00.000");
        assert_eq!(parse_timestamp("01:02:03.004"), Some(3_723_004));
        assert_eq!(parse_timestamp("01:02:03,004"), Some(3_723_004));
        assert_eq!(parse_timestamp("02:03.004"), Some(123_004));
        assert_eq!(parse_timestamp("0:00:01,5"), Some(1_500));
        assert_eq!(parse_timestamp("100:00:00.000"), Some(360_000_000));
        for bad in [
            "",
            "00:00:01",
            "00:60:00.000",
            "00:00:60.000",
            "aa:00:00.000",
            "00:00:00.0000",
            "00:00:00.-01",
            "+1:00:00.000",
            "00:00:00:00.000",
            "00 :00:01.000",
            "00:00:01.",
        ] {
            assert_eq!(parse_timestamp(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn to_ms_rounds_and_clamps() {
        assert_eq!(to_ms(1.0004), 1000);
        assert_eq!(to_ms(1.0005), 1001);
        assert_eq!(to_ms(-3.0), 0);
        assert_eq!(to_ms(f64::NAN), 0);
    }

    #[test]
    fn tags_are_stripped_but_text_with_angle_brackets_stays() {
        assert_eq!(
            clean_line("<v Dr. Ahmetova><b>Hello</b>, <i>world</i></v>"),
            "Hello, world"
        );
        assert_eq!(clean_line("<c.yellow.bg_blue>Жаңа</c> сөз"), "Жаңа сөз");
        assert_eq!(clean_line("one <00:00:01.500>two"), "one two");
        assert_eq!(clean_line("<font color=\"#ffff00\">Да</font>"), "Да");
        assert_eq!(clean_line("a < b and c > d"), "a < b and c > d");
        assert_eq!(clean_line("x <3"), "x <3");
    }

    #[test]
    fn entities_are_decoded_after_tags() {
        assert_eq!(
            clean_line("&lt;b&gt; is a tag &amp; more"),
            "<b> is a tag & more"
        );
        assert_eq!(
            clean_line("a&nbsp;b &#1046; &#x416; &quot;q&quot;"),
            "a b Ж Ж \"q\""
        );
        assert_eq!(
            clean_line("R&D &unknown; &#0; & ;"),
            "R&D &unknown; &#0; & ;"
        );
    }

    #[test]
    fn lines_split_on_every_ending() {
        assert_eq!(split_lines("a\r\nb\nc\rd"), vec!["a", "b", "c", "d"]);
        assert_eq!(split_lines("a\n\nb\n"), vec!["a", "", "b"]);
        assert!(split_lines("").is_empty());
    }

    #[test]
    fn format_from_path() {
        assert_eq!(
            Format::from_path(Path::new("a/take.VTT")),
            Some(Format::Vtt)
        );
        assert_eq!(Format::from_path(Path::new("take.srt")), Some(Format::Srt));
        assert_eq!(Format::from_path(Path::new("take.txt")), None);
        assert_eq!(Format::from_path(Path::new("srt")), None);
        assert_eq!(Format::Vtt.extension(), "vtt");
        assert_eq!(Format::Srt.extension(), "srt");
    }
}
