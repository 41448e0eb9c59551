//! From recognised words to subtitle-style cues, and the style check.
//!
//! Speech recognition gives words with times; viewers need cues they can read:
//! a line or two of text, broken at natural places, on screen long enough to
//! be read and never two at once. [`build_cues`] makes such cues, and
//! [`check_style`] measures any list of cues (ours or an author's file)
//! against the same [`CueStyle`], so the caption record says exactly where a
//! cue breaks a rule and by how much.
//!
//! Everything counts Unicode characters, not bytes: the studio captions
//! English, Russian and Kazakh, and a Cyrillic letter is two bytes in UTF-8.

use moocpipe_proto::{CueStyleLimits, StyleRule, StyleViolation};

/// One recognised word with its time span (seconds from the start of the
/// media). `text` has no surrounding whitespace; punctuation stays attached
/// (`"country."`), because that is where the sentence and clause breaks are.
#[derive(Debug, Clone, PartialEq)]
pub struct Word {
    pub text: String,
    pub start: f64,
    pub end: f64,
}

impl Word {
    /// A word spoken from `start` to `end` seconds.
    pub fn new(text: impl Into<String>, start: f64, end: f64) -> Word {
        Word {
            text: text.into(),
            start,
            end,
        }
    }
}

/// One cue: 1..=`max_lines` lines of text shown from `start` to `end`
/// (seconds).
#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    pub lines: Vec<String>,
}

impl Cue {
    /// The cue's text on one line: its lines joined by single spaces.
    pub fn text(&self) -> String {
        self.lines.join(" ")
    }

    /// Characters a viewer reads: every character of every line, without the
    /// line breaks (the reading-rate convention of the style guides).
    pub fn chars(&self) -> usize {
        self.lines.iter().map(|l| l.chars().count()).sum()
    }

    /// Seconds on screen (zero for a cue whose end is before its start).
    pub fn duration(&self) -> f64 {
        (self.end - self.start).max(0.0)
    }
}

/// The subtitle-style rules, each configurable.
///
/// The defaults follow the common broadcast and online subtitle guidelines
/// (the BBC Subtitle Guidelines and the Netflix Timed Text Style Guide): at
/// most two lines of about 42 characters, a reading rate of at most 17–20
/// characters per second (20 is the adult-programme figure; lectures are
/// dense, so we take the upper end), and a cue on screen between 1 and 7
/// seconds — shorter flashes by unread, longer looks stuck.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CueStyle {
    pub max_lines: usize,
    pub max_line_chars: usize,
    pub max_chars_per_second: f64,
    pub min_cue_seconds: f64,
    pub max_cue_seconds: f64,
}

impl Default for CueStyle {
    fn default() -> CueStyle {
        CueStyle {
            max_lines: 2,
            max_line_chars: 42,
            max_chars_per_second: 20.0,
            min_cue_seconds: 1.0,
            max_cue_seconds: 7.0,
        }
    }
}

impl CueStyle {
    /// The limits as recorded in a [`moocpipe_proto::CaptionRecord`]
    /// (counts saturate at `u32::MAX`, which no real style reaches).
    pub fn limits(&self) -> CueStyleLimits {
        CueStyleLimits {
            max_lines: saturate_u32(self.max_lines),
            max_line_chars: saturate_u32(self.max_line_chars),
            max_chars_per_second: self.max_chars_per_second,
            min_cue_seconds: self.min_cue_seconds,
            max_cue_seconds: self.max_cue_seconds,
        }
    }

    /// Line limits of at least one, so a zero in a configuration cannot make
    /// every cue impossible (a cue always has a line, a line a character).
    fn line_limits(&self) -> (usize, usize) {
        (self.max_lines.max(1), self.max_line_chars.max(1))
    }
}

fn saturate_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// Tolerance on times (1 ms, the resolution of WebVTT and SRT), so float noise
/// and millisecond rounding never make or hide a violation.
pub const TIME_TOLERANCE: f64 = 0.001;

/// A gap between two words at least this long is a pause: a good place to end
/// a cue (speakers pause between thoughts).
pub const PAUSE_SECONDS: f64 = 0.5;

// Costs of the cue segmentation in `build_cues` (lower is better). Only their
// order matters much: a cue costs 1; breaking mid-clause costs more than
// another cue, so a cue ends at punctuation or a pause whenever one is near; a
// reading-rate or too-short cue costs several cues, so the segmentation
// spends cues to avoid them; line and duration limits are not costs but hard
// limits, which is what "split into more cues rather than break line limits"
// asks for.
const CUE_COST: f64 = 1.0;
const BREAK_SENTENCE_COST: f64 = 0.0;
const BREAK_CLAUSE_AND_PAUSE_COST: f64 = 0.2;
const BREAK_CLAUSE_COST: f64 = 0.4;
const BREAK_PAUSE_COST: f64 = 0.4;
const BREAK_MID_CLAUSE_COST: f64 = 3.0;
/// Per second of silence beyond a pause inside a cue: text shown during a
/// long silence before it is spoken is confusing, so a cue prefers to end at
/// a silence of about 1.5 s or more.
const INNER_SILENCE_COST_PER_SECOND: f64 = 1.0;
const READING_RATE_COST: f64 = 5.0;
const READING_RATE_EXCESS_COST: f64 = 10.0;
const TOO_SHORT_COST: f64 = 5.0;
const TOO_SHORT_DEFICIT_COST: f64 = 5.0;

/// Groups consecutive words into cues and times them.
///
/// Grouping: every cue wraps (see [`wrap`]) into at most `max_lines` lines of
/// at most `max_line_chars` characters and spans at most `max_cue_seconds` of
/// speech — hard limits, broken only by a single word too long for them,
/// which is a cue of its own. Within those limits the grouping minimises a
/// cost (a dynamic programme over the break points): each cue costs the
/// same, ending a cue after sentence punctuation (`. ? !`) is free, after
/// clause punctuation (`, ; :`) or at a pause (a gap ≥ [`PAUSE_SECONDS`])
/// is cheap, elsewhere dear; a cue that would still be too short or read too
/// fast after its timing is extended costs much more, so dense text is split
/// into more cues rather than packed.
///
/// Timing: a cue starts when its first word starts and ends when its last
/// word ends, then is extended into the following silence — never past the
/// next cue's start or `media_end`, never beyond `max_cue_seconds` — toward
/// `min_cue_seconds` and toward the time its characters need at
/// `max_chars_per_second`. Times are clamped into `[0, media_end]` and
/// rounded to the millisecond, the resolution of WebVTT and SRT, so the cues
/// checked are the cues written. Genuinely fast speech may still break the
/// reading rate; [`check_style`] reports it.
///
/// Words with no text are dropped; times that are not finite or run
/// backwards (recognisers do that at segment seams) are repaired so starts
/// never decrease and no word ends before it starts. A `media_end` that is
/// not finite means "no known end".
pub fn build_cues(words: &[Word], style: &CueStyle, media_end: f64) -> Vec<Cue> {
    let media_end = if media_end.is_nan() {
        f64::INFINITY
    } else {
        media_end.max(0.0)
    };
    let words = clean_words(words, media_end);
    if words.is_empty() {
        return Vec::new();
    }
    let breaks = segment(&words, style, media_end);
    let (_, max_line_chars) = style.line_limits();
    let mut cues = Vec::with_capacity(breaks.len());
    // Rounding to the millisecond keeps order (so no overlap appears), but
    // must not round up past an end that is not a whole millisecond.
    let last_ms = (media_end * 1000.0).floor() / 1000.0;
    let mut from = 0;
    for &to in &breaks {
        let timing = cue_timing(&words, from, to, style, media_end);
        let text = join_words(&words[from..to]);
        let start = round_ms(timing.start).min(last_ms);
        cues.push(Cue {
            start,
            end: round_ms(timing.end).min(last_ms).max(start),
            lines: wrap(&text, max_line_chars),
        });
        from = to;
    }
    cues.retain(|c| !c.lines.is_empty());
    cues
}

/// A word after cleaning: whitespace-normalised text, its character count
/// and repaired times.
struct CleanWord {
    text: String,
    /// Character counts of the whitespace-separated parts of `text` (one,
    /// unless the recogniser gave a "word" with a space inside).
    parts: Vec<usize>,
    start: f64,
    end: f64,
}

fn clean_words(words: &[Word], media_end: f64) -> Vec<CleanWord> {
    let mut out: Vec<CleanWord> = Vec::with_capacity(words.len());
    let mut last_start: f64 = 0.0;
    for w in words {
        let parts: Vec<&str> = w.text.split_whitespace().collect();
        if parts.is_empty() {
            continue;
        }
        let start = if w.start.is_finite() {
            w.start.max(last_start)
        } else {
            last_start
        }
        .clamp(0.0, media_end);
        let end = if w.end.is_finite() { w.end } else { start }.clamp(start, media_end);
        last_start = start;
        out.push(CleanWord {
            text: parts.join(" "),
            parts: parts.iter().map(|p| p.chars().count()).collect(),
            start,
            end,
        });
    }
    out
}

fn join_words(words: &[CleanWord]) -> String {
    let mut text = String::new();
    for w in words {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&w.text);
    }
    text
}

/// Incremental greedy line filling: the number of lines a run of words needs
/// at a width, with a word longer than the width alone on its line. Greedy
/// filling gives the least number of lines, and [`wrap`] produces exactly
/// that many, so this predicts the wrapped cue without wrapping it.
#[derive(Clone, Copy)]
struct LineFill {
    width: usize,
    lines: usize,
    current: usize,
    /// Characters on all lines, spaces inside lines counted, breaks not.
    chars: usize,
}

impl LineFill {
    fn new(width: usize) -> LineFill {
        LineFill {
            width,
            lines: 0,
            current: 0,
            chars: 0,
        }
    }

    fn push(&mut self, len: usize) {
        if self.lines > 0 && self.current + 1 + len <= self.width {
            self.current += 1 + len;
            self.chars += 1 + len;
        } else {
            self.lines += 1;
            self.current = len;
            self.chars += len;
        }
    }
}

struct Timing {
    start: f64,
    end: f64,
}

/// The timing of the cue made of `words[from..to]`; the next cue, if any,
/// starts at `words[to].start` whatever the rest of the grouping is, which is
/// what lets the segmentation cost a cue exactly.
fn cue_timing(
    words: &[CleanWord],
    from: usize,
    to: usize,
    style: &CueStyle,
    media_end: f64,
) -> Timing {
    let (_, width) = style.line_limits();
    let mut fill = LineFill::new(width);
    for w in &words[from..to] {
        for &p in &w.parts {
            fill.push(p);
        }
    }
    timing_for(words, from, to, fill.chars, style, media_end)
}

fn timing_for(
    words: &[CleanWord],
    from: usize,
    to: usize,
    chars: usize,
    style: &CueStyle,
    media_end: f64,
) -> Timing {
    let start = words[from].start;
    let limit = match words.get(to) {
        Some(next) => next.start.min(media_end),
        None => media_end,
    };
    let longest = start + style.max_cue_seconds.max(0.0);
    // The words' own end, but never beyond max_cue_seconds: the segmentation
    // keeps several words within it, and a single "word" longer than that is
    // a recogniser glitch stretched over silence, so it is cut short.
    let spoken_end = words[to - 1].end.min(longest);
    let mut wanted = spoken_end;
    if style.min_cue_seconds > 0.0 {
        wanted = wanted.max(start + style.min_cue_seconds);
    }
    if style.max_chars_per_second > 0.0 {
        wanted = wanted.max(start + chars as f64 / style.max_chars_per_second);
    }
    let end = wanted.min(longest).min(limit).max(start);
    Timing { start, end }
}

/// The cost of ending a cue between `words[at - 1]` and `words[at]`.
fn break_cost(words: &[CleanWord], at: usize) -> f64 {
    let Some(next) = words.get(at) else {
        return 0.0;
    };
    let prev = &words[at - 1];
    let pause = next.start - prev.end >= PAUSE_SECONDS - TIME_TOLERANCE;
    match (ends_sentence(&prev.text), ends_clause(&prev.text), pause) {
        (true, _, _) => BREAK_SENTENCE_COST,
        (false, true, true) => BREAK_CLAUSE_AND_PAUSE_COST,
        (false, true, false) => BREAK_CLAUSE_COST,
        (false, false, true) => BREAK_PAUSE_COST,
        (false, false, false) => BREAK_MID_CLAUSE_COST,
    }
}

/// The last character that is not a closing quote or bracket, so `end."` and
/// `(see above).` count as punctuated.
fn final_mark(text: &str) -> Option<char> {
    text.chars()
        .rev()
        .find(|c| !matches!(c, '"' | '\'' | ')' | ']' | '»' | '”' | '’' | '›'))
}

fn ends_sentence(text: &str) -> bool {
    matches!(
        final_mark(text),
        Some('.' | '?' | '!' | '…' | '。' | '？' | '！')
    )
}

fn ends_clause(text: &str) -> bool {
    matches!(
        final_mark(text),
        Some(',' | ';' | ':' | '—' | '–' | '，' | '；' | '：')
    )
}

/// The best grouping: the exclusive end index of each cue, in order.
fn segment(words: &[CleanWord], style: &CueStyle, media_end: f64) -> Vec<usize> {
    let n = words.len();
    let (max_lines, width) = style.line_limits();
    // best[j]: least cost of cues covering words[..j]; from[j]: start of the
    // last cue in that grouping.
    let mut best = vec![f64::INFINITY; n + 1];
    let mut from = vec![0usize; n + 1];
    best[0] = 0.0;
    for i in 0..n {
        if !best[i].is_finite() {
            continue;
        }
        let mut fill = LineFill::new(width);
        let mut inner_silence = 0.0;
        for j in i..n {
            let single = j == i;
            if !single {
                let gap = words[j].start - words[j - 1].end;
                inner_silence += (gap - PAUSE_SECONDS).max(0.0);
            }
            for &p in &words[j].parts {
                fill.push(p);
            }
            let spoken = words[j].end - words[i].start;
            if !single
                && (fill.lines > max_lines || spoken > style.max_cue_seconds + TIME_TOLERANCE)
            {
                break;
            }
            let to = j + 1;
            let timing = timing_for(words, i, to, fill.chars, style, media_end);
            let cost = best[i]
                + CUE_COST
                + break_cost(words, to)
                + inner_silence * INNER_SILENCE_COST_PER_SECOND
                + timing_cost(&timing, fill.chars, style);
            if cost < best[to] {
                best[to] = cost;
                from[to] = i;
            }
        }
    }
    let mut ends = Vec::new();
    let mut at = n;
    while at > 0 {
        ends.push(at);
        at = from[at];
    }
    ends.reverse();
    ends
}

/// What a cue's timing costs: a reading rate above the limit or a duration
/// below the minimum, each more the further it is off.
fn timing_cost(timing: &Timing, chars: usize, style: &CueStyle) -> f64 {
    let duration = timing.end - timing.start;
    let mut cost = 0.0;
    if style.max_chars_per_second > 0.0 {
        let needed = chars as f64 / style.max_chars_per_second;
        if needed > duration + TIME_TOLERANCE {
            let excess = needed / duration.max(TIME_TOLERANCE) - 1.0;
            cost += READING_RATE_COST + READING_RATE_EXCESS_COST * excess.min(10.0);
        }
    }
    if style.min_cue_seconds > 0.0 && duration < style.min_cue_seconds - TIME_TOLERANCE {
        let deficit = (style.min_cue_seconds - duration) / style.min_cue_seconds;
        cost += TOO_SHORT_COST + TOO_SHORT_DEFICIT_COST * deficit;
    }
    cost
}

fn round_ms(t: f64) -> f64 {
    (t * 1000.0).round() / 1000.0
}

/// Measures cues against the style: one [`StyleViolation`] per cue per broken
/// rule, in cue order, with what was measured and the limit.
///
/// `cue` numbers are 1-based, as a reviewer counts them in a subtitle
/// editor. Times are compared with a 1 ms tolerance ([`TIME_TOLERANCE`]).
/// An overlap is measured against the latest end of all earlier cues, so a
/// cue hidden inside a long one is caught too; `PastEnd` is checked only when
/// the media's end is known.
pub fn check_style(cues: &[Cue], style: &CueStyle, media_end: Option<f64>) -> Vec<StyleViolation> {
    let mut found = Vec::new();
    let mut latest_end = f64::NEG_INFINITY;
    for (index, cue) in cues.iter().enumerate() {
        let number = saturate_u32(index + 1);
        let mut report = |rule: StyleRule, measured: f64, limit: f64| {
            found.push(StyleViolation {
                cue: number,
                rule,
                start_seconds: cue.start,
                measured,
                limit,
            });
        };
        let duration = cue.duration();
        if cue.lines.len() > style.max_lines {
            report(
                StyleRule::Lines,
                cue.lines.len() as f64,
                style.max_lines as f64,
            );
        }
        let longest = cue
            .lines
            .iter()
            .map(|l| l.chars().count())
            .max()
            .unwrap_or(0);
        if longest > style.max_line_chars {
            report(
                StyleRule::LineLength,
                longest as f64,
                style.max_line_chars as f64,
            );
        }
        let chars = cue.chars() as f64;
        if style.max_chars_per_second > 0.0
            && chars > style.max_chars_per_second * (duration + TIME_TOLERANCE)
        {
            report(
                StyleRule::ReadingRate,
                chars / duration.max(TIME_TOLERANCE),
                style.max_chars_per_second,
            );
        }
        if duration < style.min_cue_seconds - TIME_TOLERANCE {
            report(StyleRule::TooShort, duration, style.min_cue_seconds);
        }
        if duration > style.max_cue_seconds + TIME_TOLERANCE {
            report(StyleRule::TooLong, duration, style.max_cue_seconds);
        }
        if cue.start < latest_end - TIME_TOLERANCE {
            report(StyleRule::Overlap, latest_end - cue.start, 0.0);
        }
        if let Some(media_end) = media_end {
            if cue.end > media_end + TIME_TOLERANCE {
                report(StyleRule::PastEnd, cue.end, media_end);
            }
        }
        latest_end = latest_end.max(cue.end);
    }
    found
}

/// Breaks text into lines of at most `max_line_chars` characters at word
/// boundaries, as few lines as possible, balanced.
///
/// Balanced: among the layouts with the least number of lines, the one whose
/// longest line is shortest — two even lines read faster than a full line
/// and a stub. Lines are filled from the bottom up, so when the lines cannot
/// be even the top one is the shorter (the "pyramid" the Netflix guide
/// prefers). A word longer than a line is a line of its own, never split.
/// Whitespace runs count as one space; empty text gives no lines.
pub fn wrap(text: &str, max_line_chars: usize) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    if words.is_empty() {
        return Vec::new();
    }
    let max = max_line_chars.max(1);
    let lens: Vec<usize> = words.iter().map(|w| w.chars().count()).collect();
    let needed = fill_from_bottom(&lens, max).len();
    // The least number of lines only grows as the width shrinks, so the
    // smallest width that still needs no more lines than `max` is the
    // balanced one; any width gives a valid layout, because a word too long
    // for the width has a line of its own and is still within `max` unless it
    // is too long for any width.
    let width = (1..=max)
        .find(|&w| fill_from_bottom(&lens, w).len() <= needed)
        .unwrap_or(max);
    fill_from_bottom(&lens, width)
        .into_iter()
        .map(|range| words[range].join(" "))
        .collect()
}

/// Greedy filling from the last word backwards: the word ranges of each line,
/// top to bottom.
fn fill_from_bottom(lens: &[usize], width: usize) -> Vec<std::ops::Range<usize>> {
    let mut lines = Vec::new();
    let mut end = lens.len();
    while end > 0 {
        let mut start = end - 1;
        let mut len = lens[start];
        while start > 0 && len + 1 + lens[start - 1] <= width {
            start -= 1;
            len += 1 + lens[start];
        }
        lines.push(start..end);
        end = start;
    }
    lines.reverse();
    lines
}

/// Longest repeated unit looked for by the phrase detector in
/// [`repeated_text`], in words: about a long sentence.
const MAX_LOOP_WORDS: usize = 50;
/// Shortest unpunctuated phrase the phrase detector reports: shorter ones
/// ("very, very, very") are ordinary speech.
const MIN_LOOP_WORDS: usize = 3;
/// Repetitions in a row that count as a loop.
const LOOP_REPEATS: usize = 3;

/// Detects a looping recogniser: the same text repeated at least three times
/// in a row, and returns that text.
///
/// Whisper-style recognisers sometimes get stuck repeating their last output
/// over silence or music ("Thank you. Thank you. Thank you."). Compared after
/// normalising case, punctuation and whitespace, this looks for, in order:
/// the same sentence three times in a row (across cue boundaries), the same
/// line, and — for loops without punctuation — the same phrase of
/// [`MIN_LOOP_WORDS`] or more words three times back to back. Ordinary
/// repetition ("no, no, no", a word said twice) is not reported.
pub fn repeated_text(cues: &[Cue]) -> Option<String> {
    let words: Vec<&str> = cues
        .iter()
        .flat_map(|c| c.lines.iter())
        .flat_map(|l| l.split_whitespace())
        .collect();

    // Sentences of the whole text, which runs on across cues.
    let mut sentences: Vec<String> = Vec::new();
    let mut current: Vec<&str> = Vec::new();
    for &w in &words {
        current.push(w);
        if ends_sentence(w) {
            sentences.push(current.join(" "));
            current.clear();
        }
    }
    if !current.is_empty() {
        sentences.push(current.join(" "));
    }
    if let Some(s) = repeated_run(&sentences) {
        return Some(s);
    }

    let lines: Vec<String> = cues
        .iter()
        .flat_map(|c| c.lines.iter())
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    if let Some(l) = repeated_run(&lines) {
        return Some(l);
    }

    let tokens: Vec<String> = words.iter().map(|w| normalise_for_loop(w)).collect();
    let kept: Vec<usize> = (0..tokens.len())
        .filter(|&i| !tokens[i].is_empty())
        .collect();
    let max_period = MAX_LOOP_WORDS.min(kept.len() / LOOP_REPEATS);
    for period in MIN_LOOP_WORDS..=max_period {
        // run: how many positions in a row equal the position one period on;
        // 2 periods of them make three copies of the unit back to back.
        let mut run = 0;
        for k in 0..kept.len() - period {
            if tokens[kept[k]] != tokens[kept[k + period]] {
                run = 0;
                continue;
            }
            run += 1;
            if run == period * (LOOP_REPEATS - 1) {
                let first = k + 1 - run;
                let unit: Vec<&str> = kept[first..first + period]
                    .iter()
                    .map(|&i| words[i])
                    .collect();
                return Some(unit.join(" "));
            }
        }
    }
    None
}

/// The first text that occurs `LOOP_REPEATS` times in a row (normalised),
/// ignoring texts that normalise to nothing ("…").
fn repeated_run(units: &[String]) -> Option<String> {
    let mut run = 0;
    let mut previous = String::new();
    let mut first = None;
    for unit in units {
        let key = normalise_for_loop(unit);
        if key.is_empty() {
            run = 0;
            previous.clear();
            continue;
        }
        if key == previous {
            run += 1;
        } else {
            run = 1;
            previous = key;
            first = Some(unit);
        }
        if run >= LOOP_REPEATS {
            return first.cloned();
        }
    }
    None
}

/// Lower case, letters and digits only (any script), single spaces.
fn normalise_for_loop(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        } else {
            space = true;
        }
    }
    out
}

/// Seconds of the media covered by at least one cue: overlapping cues count
/// once, so this is comparable with the seconds of speech.
pub fn captioned_seconds(cues: &[Cue]) -> f64 {
    let mut spans: Vec<(f64, f64)> = cues
        .iter()
        .filter(|c| c.end > c.start)
        .map(|c| (c.start, c.end))
        .collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut total = 0.0;
    let mut covered_to = f64::NEG_INFINITY;
    for (start, end) in spans {
        if end <= covered_to {
            continue;
        }
        total += end - start.max(covered_to);
        covered_to = end;
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cue(start: f64, end: f64, lines: &[&str]) -> Cue {
        Cue {
            start,
            end,
            lines: lines.iter().map(|l| l.to_string()).collect(),
        }
    }

    fn lens(lines: &[String]) -> Vec<usize> {
        lines.iter().map(|l| l.chars().count()).collect()
    }

    #[test]
    fn wrap_keeps_short_text_on_one_line() {
        assert_eq!(wrap("  Hello,   world. ", 42), vec!["Hello, world."]);
        assert!(wrap("", 42).is_empty());
        assert!(wrap(" \n\t", 42).is_empty());
    }

    #[test]
    fn wrap_balances_two_lines() {
        // Greedy filling would give 41 + 10 characters; balanced is 27 + 24.
        let text = "The derivative measures how fast a function changes.";
        let lines = wrap(text, 42);
        assert_eq!(
            lines,
            vec!["The derivative measures how", "fast a function changes."]
        );
        assert_eq!(lines.join(" "), text);
        // The split minimises the longer line over every possible split.
        let words: Vec<&str> = text.split(' ').collect();
        let best = (1..words.len())
            .map(|k| {
                let top = words[..k].join(" ").chars().count();
                let bottom = words[k..].join(" ").chars().count();
                top.max(bottom)
            })
            .filter(|&m| m <= 42)
            .min();
        assert_eq!(lens(&lines).into_iter().max(), best);
    }

    #[test]
    fn wrap_prefers_a_shorter_top_line() {
        // 5 + 1 + 5: either line could take the middle word; the bottom does.
        assert_eq!(wrap("aaaaa bbbbb ccccc", 11), vec!["aaaaa", "bbbbb ccccc"]);
    }

    #[test]
    fn wrap_counts_characters_not_bytes() {
        // 40 Cyrillic characters are 80 bytes: still one line of 42.
        let text = "Кинетическая энергия тела равна работе..";
        assert_eq!(text.chars().count(), 40);
        assert_eq!(wrap(text, 42), vec![text]);
        let lines = wrap(
            "Қазақстан Республикасының ғылым және жоғары білім министрлігі",
            42,
        );
        assert_eq!(lines.len(), 2);
        assert!(lens(&lines).iter().all(|&n| n <= 42), "{lines:?}");
    }

    #[test]
    fn wrap_never_splits_a_long_word() {
        let long = "pneumonoultramicroscopicsilicovolcanoconiosis";
        let lines = wrap(&format!("a {long} is rare"), 20);
        assert_eq!(lines, vec!["a", long, "is rare"]);
        assert_eq!(wrap(long, 10), vec![long]);
    }

    #[test]
    fn wrap_uses_the_least_number_of_lines() {
        let text = "one two three four five six seven eight nine ten eleven twelve";
        for width in 6..=text.len() {
            let lines = wrap(text, width);
            assert_eq!(lines.join(" "), text);
            assert!(
                lens(&lines).iter().all(|&n| n <= width),
                "{width}: {lines:?}"
            );
            // As few lines as filling from the top greedily, which is optimal.
            let mut greedy = 0;
            let mut current = usize::MAX;
            for word in text.split(' ') {
                if current != usize::MAX && current + 1 + word.len() <= width {
                    current += 1 + word.len();
                } else {
                    greedy += 1;
                    current = word.len();
                }
            }
            assert_eq!(lines.len(), greedy, "{width}: {lines:?}");
        }
    }

    #[test]
    fn repeated_text_catches_a_loop() {
        let cues = vec![
            cue(0.0, 2.0, &["Thanks for watching."]),
            cue(2.0, 4.0, &["Thanks for watching!"]),
            cue(4.0, 6.0, &["thanks   for watching"]),
        ];
        assert_eq!(
            repeated_text(&cues).as_deref(),
            Some("Thanks for watching.")
        );
        // Sentences that run across cue boundaries.
        let cues = vec![
            cue(
                0.0,
                3.0,
                &["So the answer is four. So the", "answer is four. So"],
            ),
            cue(3.0, 6.0, &["the answer is four."]),
        ];
        assert_eq!(
            repeated_text(&cues).as_deref(),
            Some("So the answer is four.")
        );
        // Unpunctuated: a phrase of words back to back.
        let cues = vec![cue(
            0.0,
            5.0,
            &["и вот здесь мы и вот здесь мы", "и вот здесь мы видим"],
        )];
        assert_eq!(repeated_text(&cues).as_deref(), Some("и вот здесь мы"));
    }

    #[test]
    fn repeated_text_ignores_normal_speech() {
        let cues = vec![
            cue(0.0, 2.0, &["No, no, no, that is not it."]),
            cue(2.0, 4.0, &["It is very, very, very small."]),
            cue(4.0, 6.0, &["Yes. Yes. Now the next one."]),
            cue(6.0, 8.0, &["The force, the mass,", "the acceleration."]),
            cue(8.0, 9.0, &["..."]),
            cue(9.0, 10.0, &["..."]),
            cue(10.0, 11.0, &["..."]),
        ];
        assert_eq!(repeated_text(&cues), None);
        assert_eq!(repeated_text(&[]), None);
    }

    #[test]
    fn check_style_reports_each_broken_rule_once_per_cue() {
        let style = CueStyle::default();
        let long_line = "x".repeat(50);
        let cues = vec![
            cue(0.0, 2.0, &["Fine cue."]),
            cue(2.0, 2.5, &["Too short."]),
            cue(3.0, 11.0, &["Too long."]),
            cue(10.0, 12.0, &["Overlaps the one before by a second."]),
            cue(12.0, 13.0, &["one", "two", "three"]),
            cue(13.0, 16.0, &[long_line.as_str()]),
            cue(
                16.0,
                17.0,
                &["This line has fifty characters in it, near enough."],
            ),
            cue(19.0, 21.0, &["Past the end."]),
        ];
        let found = check_style(&cues, &style, Some(20.0));
        let got: Vec<(u32, StyleRule)> = found.iter().map(|v| (v.cue, v.rule)).collect();
        assert_eq!(
            got,
            vec![
                (2, StyleRule::TooShort),
                (3, StyleRule::TooLong),
                (4, StyleRule::Overlap),
                (5, StyleRule::Lines),
                (6, StyleRule::LineLength),
                (7, StyleRule::LineLength),
                (7, StyleRule::ReadingRate),
                (8, StyleRule::PastEnd),
            ]
        );
        let overlap = &found[2];
        assert!((overlap.measured - 1.0).abs() < 1e-9);
        assert_eq!(overlap.start_seconds, 10.0);
        assert_eq!(found[4].measured, 50.0);
        assert_eq!(found[6].measured, 50.0);
        assert_eq!(found[6].limit, 20.0);
        assert_eq!(found[7].measured, 21.0);
        // Without a known end, PastEnd is not checked.
        assert!(check_style(&cues, &style, None)
            .iter()
            .all(|v| v.rule != StyleRule::PastEnd));
    }

    #[test]
    fn check_style_tolerates_a_millisecond() {
        let style = CueStyle::default();
        let cues = vec![
            cue(0.0, 0.9995, &["Almost one second."]),
            cue(0.9999, 7.0006, &["Abutting, and almost seven."]),
        ];
        assert!(check_style(&cues, &style, Some(7.0)).is_empty());
        // 20 characters in one second is exactly the limit.
        let cues = vec![cue(0.0, 1.0, &["abcdefghij", "klmnopqrst"])];
        assert!(check_style(&cues, &style, None).is_empty());
        let cues = vec![cue(0.0, 1.0, &["abcdefghij", "klmnopqrstu"])];
        assert_eq!(
            check_style(&cues, &style, None)[0].rule,
            StyleRule::ReadingRate
        );
    }

    #[test]
    fn captioned_seconds_counts_overlaps_once() {
        let cues = vec![
            cue(0.0, 2.0, &["a"]),
            cue(1.0, 3.0, &["b"]),
            cue(1.5, 2.5, &["c"]),
            cue(5.0, 6.5, &["d"]),
            cue(8.0, 7.0, &["backwards"]),
        ];
        assert!((captioned_seconds(&cues) - 4.5).abs() < 1e-9);
        assert_eq!(captioned_seconds(&[]), 0.0);
    }

    #[test]
    fn limits_mirror_the_style() {
        let limits = CueStyle::default().limits();
        assert_eq!(limits.max_lines, 2);
        assert_eq!(limits.max_line_chars, 42);
        assert_eq!(limits.max_chars_per_second, 20.0);
        assert_eq!(limits.min_cue_seconds, 1.0);
        assert_eq!(limits.max_cue_seconds, 7.0);
    }

    #[test]
    fn punctuation_marks_sentence_and_clause_ends() {
        assert!(ends_sentence("country."));
        assert!(ends_sentence("\"Really?\""));
        assert!(ends_sentence("(see above)."));
        assert!(ends_sentence("конец!"));
        assert!(!ends_sentence("e.g"));
        assert!(ends_clause("first,"));
        assert!(ends_clause("так:"));
        assert!(!ends_clause("word"));
    }
}
