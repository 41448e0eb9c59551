//! `build_cues` on realistic and random speech: the cues it makes cover every
//! word once, in order, keep the line limits, never overlap, stay inside the
//! media, and — for speech at a normal rate — pass `check_style` outright.

use moocpipe_caption::cues::{build_cues, check_style, Cue, CueStyle, Word};
use moocpipe_proto::StyleRule;

const LECTURE_EN: &str = "Today we will look at Newton's second law of motion. \
    It says that the net force acting on a body is equal to its mass times its acceleration. \
    In other words, if you push a heavier cart with the same force, it speeds up more slowly. \
    We will test this idea in the lab on Thursday, so please bring your notebooks, \
    a calculator, and the worksheet from last week.";

const LECTURE_RU: &str = "Сегодня мы рассмотрим второй закон Ньютона. \
    Он утверждает, что равнодействующая всех сил, приложенных к телу, \
    равна произведению массы тела на его ускорение. Иначе говоря, \
    если толкать более тяжёлую тележку с той же силой, она разгоняется медленнее. \
    Эту идею мы проверим в лаборатории в четверг, поэтому возьмите тетради и калькулятор. \
    Бүгін біз Ньютонның екінші заңын қарастырамыз: күш массаның үдеуге көбейтіндісіне тең. \
    Сау болыңыздар!";

/// A tiny deterministic generator (xorshift64*), so the "random" tests are
/// reproducible and need no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[lo, hi)`.
    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// Times the words of `text` as a speaker at `cps` characters per second
/// would say them: each word takes its length, a short gap after it, a
/// breath after a comma and a longer pause after a sentence, all jittered.
fn speak(text: &str, cps: f64, start: f64, rng: &mut Rng) -> Vec<Word> {
    let mut t = start;
    let mut words = Vec::new();
    for w in text.split_whitespace() {
        let len = w.chars().count() as f64;
        let duration = len / cps * rng.range(0.8, 1.2);
        words.push(Word::new(w, t, t + duration));
        t += duration + rng.range(0.03, 0.12);
        if w.ends_with(['.', '?', '!']) {
            t += rng.range(0.4, 0.9);
        } else if w.ends_with([',', ';', ':']) {
            t += rng.range(0.1, 0.35);
        }
    }
    words
}

/// Every property build_cues promises whatever the speech.
fn assert_invariants(words: &[Word], cues: &[Cue], style: &CueStyle, media_end: f64) {
    let input: Vec<&str> = words.iter().map(|w| w.text.as_str()).collect();
    let output: Vec<String> = cues.iter().map(Cue::text).collect();
    assert_eq!(
        output.join(" "),
        input.join(" "),
        "every word once, in order"
    );
    let mut next_word = 0;
    for (i, cue) in cues.iter().enumerate() {
        assert!(!cue.lines.is_empty(), "cue {i} is empty");
        assert!(0.0 <= cue.start && cue.start <= cue.end, "cue {i}: {cue:?}");
        assert!(cue.end <= media_end + 1e-9, "cue {i} past the end: {cue:?}");
        assert!(
            // Rounding each time to the millisecond may add one.
            cue.end - cue.start <= style.max_cue_seconds + 0.001 + 1e-9,
            "cue {i} too long: {cue:?}"
        );
        if let Some(next) = cues.get(i + 1) {
            assert!(
                cue.end <= next.start + 1e-9,
                "cue {i} overlaps: {cue:?} {next:?}"
            );
        }
        let n_words = cue.text().split(' ').count();
        let first = &words[next_word];
        assert!(
            (cue.start - first.start.clamp(0.0, media_end)).abs() <= 0.0005 + 1e-9,
            "cue {i} starts with its first word: {cue:?} {first:?}"
        );
        next_word += n_words;
        let single_word = n_words == 1;
        assert!(
            cue.lines.len() <= style.max_lines || single_word,
            "cue {i} has too many lines: {cue:?}"
        );
        for line in &cue.lines {
            assert!(
                line.chars().count() <= style.max_line_chars || !line.contains(' '),
                "cue {i}: a line is too long and not a single word: {line:?}"
            );
            assert_eq!(line.trim(), line);
        }
    }
    assert_eq!(next_word, words.len());
}

#[test]
fn english_lecture_passes_the_style_check() {
    let mut rng = Rng(0x5eed_0001);
    let words = speak(LECTURE_EN, 14.0, 1.3, &mut rng);
    assert!(words.len() >= 60, "{} words", words.len());
    let media_end = words.last().unwrap().end + 2.0;
    let style = CueStyle::default();
    let cues = build_cues(&words, &style, media_end);
    assert_invariants(&words, &cues, &style, media_end);
    assert_eq!(check_style(&cues, &style, Some(media_end)), vec![]);
    // Cues end at sentence or clause punctuation wherever they can.
    let unpunctuated = cues[..cues.len() - 1]
        .iter()
        .filter(|c| !c.text().ends_with(['.', ',', '?', '!', ';', ':']))
        .count();
    assert!(unpunctuated <= 1, "{cues:#?}");
    // Two-line cues are balanced: the lines differ by less than a long word.
    for cue in cues.iter().filter(|c| c.lines.len() == 2) {
        let a = cue.lines[0].chars().count() as i64;
        let b = cue.lines[1].chars().count() as i64;
        assert!((a - b).abs() <= 12, "{cue:?}");
    }
}

#[test]
fn cyrillic_lecture_passes_the_style_check() {
    let mut rng = Rng(0x5eed_0002);
    let words = speak(LECTURE_RU, 15.0, 0.4, &mut rng);
    assert!(words.len() >= 60, "{} words", words.len());
    let media_end = words.last().unwrap().end + 0.5;
    let style = CueStyle::default();
    let cues = build_cues(&words, &style, media_end);
    assert_invariants(&words, &cues, &style, media_end);
    assert_eq!(check_style(&cues, &style, Some(media_end)), vec![]);
    // Characters, not bytes: with 42 bytes per line a Cyrillic cue would hold
    // half as much and need many more cues.
    let chars: usize = cues.iter().map(Cue::chars).sum();
    assert!(
        cues.len() * 42 < chars,
        "{} cues for {chars} characters",
        cues.len()
    );
}

#[test]
fn a_fast_speaker_breaks_the_reading_rate_not_the_lines() {
    let mut rng = Rng(0x5eed_0003);
    // 30 characters per second with no pauses: no timing can be read at 20.
    let text = LECTURE_EN.replace(['.', ','], "");
    let words: Vec<Word> = speak(&text, 30.0, 0.0, &mut rng)
        .into_iter()
        .map(|w| Word {
            end: w.end + 0.02,
            ..w
        })
        .collect();
    let media_end = words.last().unwrap().end;
    let style = CueStyle::default();
    let cues = build_cues(&words, &style, media_end);
    assert_invariants(&words, &cues, &style, media_end);
    let found = check_style(&cues, &style, Some(media_end));
    assert!(
        found.iter().any(|v| v.rule == StyleRule::ReadingRate),
        "{found:#?}"
    );
    for v in &found {
        assert!(
            matches!(v.rule, StyleRule::ReadingRate | StyleRule::TooShort),
            "only timing rules may break: {v:?}"
        );
        if v.rule == StyleRule::ReadingRate {
            assert!(v.measured > 20.0 && v.limit == 20.0, "{v:?}");
        }
    }
}

#[test]
fn dense_text_before_silence_is_extended_to_be_readable() {
    // 40 characters said in 1.2 s, then silence: the cue stays up 2 s.
    let words = vec![
        Word::new("Electromagnetic", 10.0, 10.5),
        Word::new("induction", 10.5, 10.8),
        Word::new("explained", 10.8, 11.2),
    ];
    let style = CueStyle::default();
    let cues = build_cues(&words, &style, 60.0);
    assert_eq!(cues.len(), 1);
    assert_eq!(cues[0].start, 10.0);
    assert!(
        (cues[0].end - (10.0 + 35.0 / 20.0)).abs() < 1e-9,
        "{cues:?}"
    );
    assert!(check_style(&cues, &style, Some(60.0)).is_empty());
    // A lone short word is held for the minimum duration.
    let cues = build_cues(&[Word::new("Okay.", 3.0, 3.2)], &style, 60.0);
    assert_eq!((cues[0].start, cues[0].end), (3.0, 4.0));
    // But never past the media's end or into the next cue.
    let cues = build_cues(&[Word::new("Okay.", 3.0, 3.2)], &style, 3.5);
    assert_eq!((cues[0].start, cues[0].end), (3.0, 3.5));
}

#[test]
fn a_word_longer_than_a_line_is_a_line_of_its_own() {
    let long = "Pneumonoultramicroscopicsilicovolcanoconiosis"; // 45 characters
    let text = format!("The longest word in English dictionaries is {long}, a lung disease.");
    let mut rng = Rng(0x5eed_0004);
    let words = speak(&text, 14.0, 0.0, &mut rng);
    let media_end = words.last().unwrap().end + 2.0;
    let style = CueStyle::default();
    let cues = build_cues(&words, &style, media_end);
    assert_invariants(&words, &cues, &style, media_end);
    let holder = cues
        .iter()
        .find(|c| c.text().contains(long))
        .expect("the long word is in a cue");
    assert!(
        holder.lines.iter().any(|l| l == &format!("{long},")),
        "{holder:?}"
    );
    // The style check reports the over-long line honestly, and nothing else.
    let found = check_style(&cues, &style, Some(media_end));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].rule, StyleRule::LineLength);
    assert_eq!(found[0].measured, 46.0);
}

#[test]
fn sentences_end_cues_and_long_silences_split_them() {
    let words = vec![
        Word::new("First", 0.0, 0.3),
        Word::new("sentence", 0.35, 0.8),
        Word::new("here.", 0.85, 1.2),
        Word::new("Second", 1.4, 1.8),
        Word::new("one", 1.85, 2.1),
        Word::new("follows.", 2.15, 2.6),
        Word::new("After", 6.0, 6.3),
        Word::new("a", 6.35, 6.4),
        Word::new("long", 6.45, 6.7),
        Word::new("pause", 6.75, 7.1),
    ];
    let style = CueStyle::default();
    let cues = build_cues(&words, &style, 20.0);
    let texts: Vec<String> = cues.iter().map(Cue::text).collect();
    assert_eq!(
        texts,
        vec![
            "First sentence here. Second one follows.",
            "After a long pause"
        ]
    );
    assert!(check_style(&cues, &style, Some(20.0)).is_empty());
}

#[test]
fn messy_recogniser_output_is_repaired() {
    let words = vec![
        Word::new("  ", 0.0, 0.1),
        Word::new("starts", -0.5, 0.4),
        Word::new("then", f64::NAN, 0.9),
        Word::new("goes", 0.8, 0.7),
        Word::new("backwards", 0.5, 1.4),
        Word::new("and past the end", 1.5, 99.0),
    ];
    let style = CueStyle::default();
    let cues = build_cues(&words, &style, 3.0);
    let text: Vec<String> = cues.iter().map(Cue::text).collect();
    assert_eq!(
        text.join(" "),
        "starts then goes backwards and past the end"
    );
    for pair in cues.windows(2) {
        assert!(pair[0].end <= pair[1].start);
    }
    for cue in &cues {
        assert!(
            0.0 <= cue.start && cue.start <= cue.end && cue.end <= 3.0,
            "{cue:?}"
        );
    }
    assert!(build_cues(&[], &style, 3.0).is_empty());
    assert!(build_cues(&[Word::new(" ", 0.0, 1.0)], &style, 3.0).is_empty());
}

#[test]
fn random_speech_keeps_every_invariant() {
    let mut rng = Rng(0x5eed_0005);
    let vocabulary = [
        "a",
        "the",
        "force",
        "energy,",
        "mass.",
        "acceleration",
        "is",
        "equal",
        "to",
        "and",
        "тело",
        "сила;",
        "ускорение.",
        "жылдамдық",
        "заңы:",
        "why?",
        "yes!",
        "x",
        "electroencephalographically",
        "Donaudampfschifffahrtsgesellschaftskapitän.",
    ];
    for case in 0..300 {
        let style = CueStyle {
            max_lines: 1 + rng.below(3),
            max_line_chars: 10 + rng.below(40),
            max_chars_per_second: rng.range(8.0, 25.0),
            min_cue_seconds: rng.range(0.0, 1.5),
            max_cue_seconds: rng.range(2.0, 8.0),
        };
        let cps = rng.range(5.0, 45.0);
        let n = rng.below(120);
        let text: Vec<&str> = (0..n)
            .map(|_| vocabulary[rng.below(vocabulary.len())])
            .collect();
        let mut words = speak(&text.join(" "), cps, rng.range(0.0, 3.0), &mut rng);
        // Sometimes long silences, sometimes overlapping words.
        for w in words.iter_mut() {
            match rng.below(20) {
                0 => w.end += rng.range(0.0, 3.0),
                1 => w.start -= rng.range(0.0, 0.2),
                _ => {}
            }
        }
        for i in 1..words.len() {
            let earlier = words[i - 1].start;
            if words[i].start < earlier {
                words[i].start = earlier;
            }
            if words[i].end < words[i].start {
                words[i].end = words[i].start;
            }
        }
        let spoken_end = words.last().map_or(0.0, |w| w.end);
        let media_end = spoken_end + rng.range(0.0, 2.0);
        let cues = build_cues(&words, &style, media_end);
        assert_invariants(&words, &cues, &style, media_end);
        let found = check_style(&cues, &style, Some(media_end));
        for v in &found {
            let cue = &cues[v.cue as usize - 1];
            match v.rule {
                // Timing may break for fast speech; a line only for a word
                // longer than a line.
                StyleRule::ReadingRate | StyleRule::TooShort => {}
                StyleRule::LineLength if cue.lines.iter().any(|l| !l.contains(' ')) => {}
                _ => panic!("case {case}: {v:?} {cue:?}"),
            }
        }
    }
}
