//! Writing and reading WebVTT and SRT: round trips, the plain transcript,
//! real-world author files, and errors that name the right line.

use moocpipe_caption::cues::Cue;
use moocpipe_caption::subtitle::{
    normalise, parse, parse_bytes, write_srt, write_text, write_vtt, Format, SubtitleError,
};

fn cue(start: f64, end: f64, lines: &[&str]) -> Cue {
    Cue {
        start,
        end,
        lines: lines.iter().map(|l| l.to_string()).collect(),
    }
}

fn sample() -> Vec<Cue> {
    vec![
        cue(0.5, 2.25, &["Today we look at", "Newton's second law."]),
        cue(2.25, 4.0, &["F = m·a, and a < b > c & d."]),
        cue(
            7.125,
            9.999,
            &["Сегодня мы рассмотрим", "второй закон Ньютона."],
        ),
        cue(
            3_725.001,
            3_727.5,
            &["Бүгін біз Ньютонның екінші заңын қарастырамыз."],
        ),
    ]
}

#[test]
fn vtt_is_written_to_the_spec() {
    let vtt = write_vtt(&sample()[..2]);
    assert_eq!(
        vtt,
        "WEBVTT\n\
         \n\
         00:00:00.500 --> 00:00:02.250\n\
         Today we look at\n\
         Newton's second law.\n\
         \n\
         00:00:02.250 --> 00:00:04.000\n\
         F = m·a, and a &lt; b &gt; c &amp; d.\n"
    );
    assert_eq!(write_vtt(&[]), "WEBVTT\n");
}

#[test]
fn srt_is_written_with_counters_and_commas() {
    let srt = write_srt(&sample()[2..]);
    assert_eq!(
        srt,
        "1\n\
         00:00:07,125 --> 00:00:09,999\n\
         Сегодня мы рассмотрим\n\
         второй закон Ньютона.\n\
         \n\
         2\n\
         01:02:05,001 --> 01:02:07,500\n\
         Бүгін біз Ньютонның екінші заңын қарастырамыз.\n"
    );
}

#[test]
fn empty_lines_and_cues_are_not_written() {
    let cues = vec![
        cue(0.0, 1.0, &["", "  "]),
        cue(1.0, 2.0, &["one", "", "two"]),
        cue(3.0, 2.5, &["backwards"]),
    ];
    let srt = write_srt(&cues);
    assert_eq!(
        srt,
        "1\n00:00:01,000 --> 00:00:02,000\none\ntwo\n\n2\n00:00:03,000 --> 00:00:03,000\nbackwards\n"
    );
    let back = parse(&srt, Format::Srt).unwrap();
    assert_eq!(back.len(), 2);
    assert_eq!(parse(&write_vtt(&cues), Format::Vtt).unwrap(), back);
}

#[test]
fn vtt_round_trips() {
    let cues = sample();
    let back = normalise(parse(&write_vtt(&cues), Format::Vtt).unwrap());
    assert_eq!(back, cues);
    // Text without markup characters needs no normalising at all.
    let plain = vec![cues[0].clone(), cues[2].clone(), cues[3].clone()];
    assert_eq!(parse(&write_vtt(&plain), Format::Vtt).unwrap(), plain);
}

#[test]
fn srt_round_trips() {
    let cues = sample();
    assert_eq!(parse(&write_srt(&cues), Format::Srt).unwrap(), cues);
}

#[test]
fn round_trips_keep_times_to_the_millisecond() {
    let cues = vec![
        cue(0.0004, 1.0006, &["rounded"]),
        cue(1.2345678, 2.9999, &["more"]),
    ];
    for (text, format) in [
        (write_vtt(&cues), Format::Vtt),
        (write_srt(&cues), Format::Srt),
    ] {
        let back = parse(&text, format).unwrap();
        let times: Vec<(f64, f64)> = back.iter().map(|c| (c.start, c.end)).collect();
        assert_eq!(times, vec![(0.0, 1.001), (1.235, 3.0)], "{format:?}");
    }
}

/// Random cues (a fixed-seed generator, so failures reproduce) survive a
/// write and a parse in both formats.
#[test]
fn random_cues_round_trip() {
    let mut state: u64 = 0x00c0_ffee;
    let mut next = move |n: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % n
    };
    let pieces = [
        "word",
        "Ньютон",
        "заңы",
        "&",
        "<",
        ">",
        "&amp;",
        "<b>",
        "-->",
        "1",
        "42",
        "NOTE",
        "WEBVTT",
        "a,b",
        "ü",
        "日本",
        "…",
        "\"q\"",
        "x->y",
    ];
    for _ in 0..300 {
        let mut cues = Vec::new();
        let mut t = next(5000);
        for _ in 0..next(8) {
            let start = t;
            let end = start + next(8000);
            t = end + next(3000);
            let lines: Vec<String> = (0..1 + next(3))
                .map(|_| {
                    (0..1 + next(6))
                        .map(|_| pieces[next(pieces.len() as u64) as usize])
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect();
            cues.push(Cue {
                start: start as f64 / 1000.0,
                end: end as f64 / 1000.0,
                lines,
            });
        }
        let vtt = write_vtt(&cues);
        assert_eq!(normalise(parse(&vtt, Format::Vtt).unwrap()), cues, "{vtt}");
        // SRT has no escaping: a line holding "-->" may read as a timing
        // line there, so compare only files without one (and with a cue:
        // an SRT file without cues is an empty file).
        let srt_safe = cues
            .iter()
            .all(|c| c.lines.iter().all(|l| !l.contains("-->")));
        if srt_safe && !cues.is_empty() {
            let srt = write_srt(&cues);
            assert_eq!(parse(&srt, Format::Srt).unwrap(), cues, "{srt}");
        }
    }
}

#[test]
fn transcript_joins_cues_and_breaks_paragraphs_at_pauses() {
    let cues = vec![
        cue(0.0, 2.0, &["Today we look", "at Newton's"]),
        cue(2.0, 4.0, &["second law."]),
        cue(5.9, 7.0, &["A short pause."]),
        cue(9.0, 10.0, &["A long one", "starts a paragraph."]),
        cue(10.0, 11.0, &[""]),
        cue(13.5, 14.0, &["Again."]),
    ];
    assert_eq!(
        write_text(&cues),
        "Today we look at Newton's second law. A short pause.\n\
         A long one starts a paragraph.\n\
         Again.\n"
    );
    assert_eq!(write_text(&[]), "");
}

const REAL_WORLD_VTT: &str = "\u{FEFF}WEBVTT - Lecture 2: Newton's laws\r\n\
Kind: captions\r\n\
Language: en\r\n\
\r\n\
STYLE\r\n\
::cue { color: yellow }\r\n\
\r\n\
NOTE This file was exported from the studio editor\r\n\
and touched up by hand.\r\n\
\r\n\
REGION\r\n\
id:bottom width:40%\r\n\
\r\n\
intro-1\r\n\
00:01.000 --> 00:03.500 align:start position:10% line:90%\r\n\
<v Dr. Ahmetova><b>Welcome</b> back,</v>\r\n\
\x20\x20<i>everyone</i> &amp; friends.\x20\x20\r\n\
\r\n\
\r\n\
2\r\n\
00:00:03.500 --> 00:00:06.000\r\n\
Today: <c.highlight>F&nbsp;=&nbsp;m·a</c>\r\n\
<00:00:04.000>&lt;not a tag&gt;\r\n\
\r\n\
NOTE\r\n\
A second note.\r\n\
\r\n\
00:00:07.000 --> 00:00:08.000\r\n\
<i></i>\r\n\
\r\n\
00:00:06.500 --> 00:00:09.000 region:bottom\r\n\
Қазақша <lang kk>сөз</lang>.\r\n";

#[test]
fn real_world_vtt_is_read_and_normalised() {
    let raw = parse(REAL_WORLD_VTT, Format::Vtt).unwrap();
    assert_eq!(raw.len(), 4);
    assert_eq!(
        raw[0].lines,
        vec![
            "<v Dr. Ahmetova><b>Welcome</b> back,</v>",
            "  <i>everyone</i> &amp; friends.  "
        ]
    );
    let cues = normalise(raw);
    assert_eq!(
        cues,
        vec![
            cue(1.0, 3.5, &["Welcome back,", "everyone & friends."]),
            cue(3.5, 6.0, &["Today: F = m·a", "<not a tag>"]),
            cue(6.5, 9.0, &["Қазақша сөз."]),
        ]
    );
    // The same file read from bytes, and with LF or CR line endings.
    assert_eq!(
        normalise(parse_bytes(REAL_WORLD_VTT.as_bytes(), Format::Vtt).unwrap()),
        cues
    );
    for ending in ["\n", "\r"] {
        let text = REAL_WORLD_VTT.replace("\r\n", ending);
        assert_eq!(
            normalise(parse(&text, Format::Vtt).unwrap()),
            cues,
            "{ending:?}"
        );
    }
}

#[test]
fn real_world_srt_is_read() {
    // A BOM, CRLF, extra blank lines, whitespace-only separators, '.' for
    // ',', a one-digit hour, coordinates, a missing blank line before a cue,
    // no counter on one cue and no final newline.
    let srt = "\u{FEFF}\r\n\r\n1\r\n00:00:01,000 --> 00:00:02,500\r\n<i>Hello</i>, world.\r\n\r\n\r\n   \r\n\
               2\r\n0:00:02.500 --> 00:00:04,000 X1:100 X2:600 Y1:50 Y2:80\r\nSecond line\r\nhere\r\n\
               3\r\n00:00:04,000 --> 00:00:05,000\r\nNo blank line before me\r\n\r\n\
               00:00:05,000 --> 00:00:06,000\r\nNo counter\r\n\r\n\
               5\r\n00:00:06,000 --> 00:00:07,000\r\nЖоқ";
    let cues = normalise(parse(srt, Format::Srt).unwrap());
    assert_eq!(
        cues,
        vec![
            cue(1.0, 2.5, &["Hello, world."]),
            cue(2.5, 4.0, &["Second line", "here"]),
            cue(4.0, 5.0, &["No blank line before me"]),
            cue(5.0, 6.0, &["No counter"]),
            cue(6.0, 7.0, &["Жоқ"]),
        ]
    );
}

#[test]
fn normalise_sorts_and_drops_empty_cues() {
    let cues = vec![
        cue(5.0, 6.0, &["later"]),
        cue(1.0, 2.0, &["<b></b>", " &nbsp; "]),
        cue(2.0, 3.0, &["first", "", "  kept   break  "]),
        cue(2.0, 2.5, &["same start, after"]),
    ];
    assert_eq!(
        normalise(cues),
        vec![
            cue(2.0, 3.0, &["first", "kept break"]),
            cue(2.0, 2.5, &["same start, after"]),
            cue(5.0, 6.0, &["later"]),
        ]
    );
}

#[test]
fn header_only_vtt_has_no_cues() {
    assert_eq!(
        parse("WEBVTT\n\nNOTE nothing yet\n", Format::Vtt).unwrap(),
        vec![]
    );
    assert_eq!(parse("WEBVTT", Format::Vtt).unwrap(), vec![]);
}

/// The error, its line, and that the message starts with that line.
fn error(text: &str, format: Format) -> (SubtitleError, usize) {
    let e = parse(text, format).expect_err("the file is malformed");
    let line = e.line();
    assert!(e.to_string().starts_with(&format!("line {line}: ")), "{e}");
    (e, line)
}

#[test]
fn srt_cue_without_a_timing_line_names_its_line() {
    let srt = "1\n00:00:01,000 --> 00:00:02,000\nHello\n\n2\nWorld\n\n3\n00:00:03,000 --> 00:00:04,000\n!\n";
    let (e, line) = error(srt, Format::Srt);
    assert_eq!(line, 6);
    assert_eq!(
        e.to_string(),
        "line 6: timing line expected, found \"World\""
    );
    // A counter at the very end, or text with no counter and no timing.
    assert_eq!(
        error("1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n", Format::Srt).1,
        6
    );
    assert_eq!(
        error("1\n00:00:01,000 --> 00:00:02,000\nA\n\n2\n", Format::Srt)
            .0
            .to_string(),
        "line 6: timing line expected, found end of file"
    );
    assert_eq!(error("\n\nJust text\n", Format::Srt).1, 3);
}

#[test]
fn bad_timestamps_name_their_line() {
    let srt = "1\r\n00:00:01,000 --> 00:00:02,000\r\nA\r\n\r\n2\r\n00:00:03,000 --> 00:0x:04,000\r\nB\r\n";
    let (e, line) = error(srt, Format::Srt);
    assert_eq!(line, 6);
    assert!(matches!(&e, SubtitleError::BadTimestamp { found, .. } if found == "00:0x:04,000"));
    let vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nA\n\n00:01:61.000 --> 00:02:00.000\nB\n";
    assert_eq!(error(vtt, Format::Vtt).1, 6);
    let vtt = "WEBVTT\n\nid\n1.5 --> 2.5\nA\n";
    assert_eq!(error(vtt, Format::Vtt).1, 4);
    let vtt = "WEBVTT\n\n00:00:01.000 -->\nA\n";
    assert_eq!(error(vtt, Format::Vtt).1, 3);
}

#[test]
fn end_before_start_names_its_line() {
    let mut vtt = String::from("WEBVTT\n\n");
    for i in 0..2 {
        vtt.push_str(&format!(
            "00:00:0{i}.000 --> 00:00:0{}.000\ntext\n\n",
            i + 1
        ));
    }
    vtt.push_str("00:00:04.000 --> 00:00:03.000\nbackwards\n");
    let (e, line) = error(&vtt, Format::Vtt);
    assert_eq!(line, 9);
    assert_eq!(
        e.to_string(),
        "line 9: end 00:00:03.000 is before start 00:00:04.000"
    );
    let srt = "7\n00:00:04,000 --> 00:00:03,999\nx\n";
    assert_eq!(error(srt, Format::Srt).1, 2);
}

#[test]
fn vtt_without_header_or_timing_is_rejected() {
    let (e, line) = error("1\n00:00:01.000 --> 00:00:02.000\nHello\n", Format::Vtt);
    assert_eq!(line, 1);
    assert!(matches!(e, SubtitleError::MissingHeader { .. }), "{e}");
    assert!(matches!(
        error("WEBVTTX\n\n", Format::Vtt).0,
        SubtitleError::MissingHeader { line: 1, .. }
    ));
    // An identifier and text but no timing line.
    let (e, line) = error("WEBVTT\n\nNOTE x\n\nintro\nHello there\n", Format::Vtt);
    assert_eq!(
        (line, e.to_string()),
        (
            6,
            "line 6: timing line expected, found \"Hello there\"".into()
        )
    );
}

#[test]
fn empty_files_are_rejected() {
    for text in ["", "\u{FEFF}", " \r\n\n\t\n"] {
        for format in [Format::Vtt, Format::Srt] {
            assert!(matches!(
                parse(text, format),
                Err(SubtitleError::Empty { line: 1 })
            ));
        }
    }
    assert!(matches!(
        parse_bytes(b"\xEF\xBB\xBF", Format::Srt),
        Err(SubtitleError::Empty { line: 1 })
    ));
}

#[test]
fn invalid_utf8_names_its_line() {
    // Windows-1251 "Привет" on line 3, after a BOM and CRLF lines.
    let mut bytes = b"\xEF\xBB\xBF1\r\n00:00:01,000 --> 00:00:02,000\r\n".to_vec();
    bytes.extend_from_slice(b"\xCF\xF0\xE8\xE2\xE5\xF2\r\n");
    let e = parse_bytes(&bytes, Format::Srt).unwrap_err();
    assert!(matches!(e, SubtitleError::InvalidUtf8 { line: 3 }), "{e}");
    assert_eq!(
        e.to_string(),
        "line 3: the text is not valid UTF-8 (save the file as UTF-8)"
    );
    // Lone CR endings count as lines too; a bad byte on line 1.
    let e = parse_bytes(b"WEBVTT\r\rx\xFF", Format::Vtt).unwrap_err();
    assert_eq!(e.line(), 3);
    assert_eq!(
        parse_bytes(b"\xFFWEBVTT", Format::Vtt).unwrap_err().line(),
        1
    );
}
