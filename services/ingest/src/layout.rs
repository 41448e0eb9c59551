//! The course layout convention on names alone: where a take sits below its
//! course folder, what its numbered folders say, and what its title is. No
//! file system here (see `discover.rs`).

use moocpipe_proto::{Sidecar, TakeKind};

/// What a take's folders say about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Placement {
    pub kind: TakeKind,
    pub module: Option<u32>,
    pub module_name: Option<String>,
    pub lesson: Option<u32>,
    pub lesson_name: Option<String>,
}

/// A module or lesson folder's number and optional name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Numbered {
    pub number: u32,
    pub name: Option<String>,
}

/// The kind a folder directly below the course makes its takes, if it is
/// `promo` or `closing` (any letter case).
pub(crate) fn special_folder(name: &str) -> Option<TakeKind> {
    if name.eq_ignore_ascii_case("promo") {
        Some(TakeKind::Promo)
    } else if name.eq_ignore_ascii_case("closing") {
        Some(TakeKind::Closing)
    } else {
        None
    }
}

/// Places a take from its path below the course folder: `rel` is the folder
/// names below the course, then the take's file name. On a mismatch, the
/// reason names the first part of the path (from the course down) that does
/// not fit.
pub(crate) fn classify(rel: &[&str]) -> Result<Placement, String> {
    let Some((_file, folders)) = rel.split_last() else {
        return Err("the take has no name".to_string());
    };
    let Some((top, below)) = folders.split_first() else {
        return Err("the take is directly in the course folder".to_string());
    };
    if let Some(kind) = special_folder(top) {
        return match below.first() {
            None => Ok(Placement {
                kind,
                module: None,
                module_name: None,
                lesson: None,
                lesson_name: None,
            }),
            Some(sub) => Err(format!(
                "the take is in the folder '{sub}' inside '{top}'; {} takes go directly in '{top}'",
                crate::error::kind_name(kind)
            )),
        };
    }
    let module = parse_numbered(top, "module")?;
    let Some((lesson_folder, deeper)) = below.split_first() else {
        return Err(format!(
            "the take is in the module folder '{top}' itself; lecture takes go in a lesson \
             folder inside it"
        ));
    };
    let lesson = parse_numbered(lesson_folder, "lesson")?;
    if let Some(extra) = deeper.first() {
        return Err(format!(
            "the take is in the folder '{extra}' inside the lesson folder '{lesson_folder}'; \
             lecture takes go directly in the lesson folder"
        ));
    }
    Ok(Placement {
        kind: TakeKind::Lecture,
        module: Some(module.number),
        module_name: module.name,
        lesson: Some(lesson.number),
        lesson_name: lesson.name,
    })
}

/// Parses `NN`, `NN-name`, `NN_name` or `NN name` (`NN`: one or two ASCII
/// digits). `role` ("module" or "lesson") only words the error.
pub(crate) fn parse_numbered(folder: &str, role: &str) -> Result<Numbered, String> {
    let digits = folder.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return Err(format!(
            "the {role} folder '{folder}' does not start with a number"
        ));
    }
    if digits > 2 {
        return Err(format!(
            "the {role} folder '{folder}' starts with {digits} digits; its number has one or two"
        ));
    }
    // Digits are ASCII, so `digits` is a char boundary.
    let (number, rest) = folder.split_at(digits);
    let number: u32 = number
        .parse()
        .map_err(|_| format!("the {role} folder '{folder}' does not start with a number"))?;
    let mut chars = rest.chars();
    let name = match chars.next() {
        None => None,
        Some('-' | '_' | ' ') => {
            let name = chars
                .as_str()
                .replace(['-', '_'], " ")
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            if name.is_empty() {
                return Err(format!(
                    "the {role} folder '{folder}' has no name after its separator; \
                     write a name after it, or the number alone"
                ));
            }
            Some(name)
        }
        Some(other) => {
            return Err(format!(
                "the {role} folder '{folder}' has '{other}' after its number; \
                 expected '-', '_' or a space, then a name"
            ))
        }
    };
    Ok(Numbered { number, name })
}

/// The take's title: the sidecar's, else the lesson name capitalised, else
/// "Promo" / "Closing message", else the take's name.
pub(crate) fn title(sidecar: &Sidecar, placement: &Placement, take: &str) -> String {
    if let Some(title) = &sidecar.title {
        return title.clone();
    }
    match placement.kind {
        TakeKind::Promo => "Promo".to_string(),
        TakeKind::Closing => "Closing message".to_string(),
        TakeKind::Lecture => match &placement.lesson_name {
            Some(name) => capitalise(name),
            None => take.to_string(),
        },
    }
}

/// Upper-cases the first letter (any script), leaves the rest alone.
fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(number: u32, name: Option<&str>) -> Result<Numbered, String> {
        Ok(Numbered {
            number,
            name: name.map(str::to_string),
        })
    }

    #[test]
    fn numbered_folders_give_number_and_name() {
        assert_eq!(
            parse_numbered("01-mechanics", "module"),
            numbered(1, Some("mechanics"))
        );
        assert_eq!(
            parse_numbered("2_newton", "module"),
            numbered(2, Some("newton"))
        );
        assert_eq!(
            parse_numbered("12 Energy and work", "lesson"),
            numbered(12, Some("Energy and work"))
        );
        assert_eq!(
            parse_numbered("03-newtons_laws--of-motion", "lesson"),
            numbered(3, Some("newtons laws of motion"))
        );
        assert_eq!(parse_numbered("03", "lesson"), numbered(3, None));
        assert_eq!(
            parse_numbered("00-intro", "lesson"),
            numbered(0, Some("intro"))
        );
        assert_eq!(
            parse_numbered("01-Законы_Ньютона", "lesson"),
            numbered(1, Some("Законы Ньютона"))
        );
    }

    #[test]
    fn numbered_folders_that_do_not_fit_say_why() {
        assert_eq!(
            parse_numbered("mechanics", "module"),
            Err("the module folder 'mechanics' does not start with a number".to_string())
        );
        assert_eq!(
            parse_numbered("001-intro", "lesson"),
            Err(
                "the lesson folder '001-intro' starts with 3 digits; its number has one or two"
                    .to_string()
            )
        );
        assert_eq!(
            parse_numbered("01.intro", "lesson"),
            Err(
                "the lesson folder '01.intro' has '.' after its number; expected '-', '_' or \
                 a space, then a name"
                    .to_string()
            )
        );
        let no_name = parse_numbered("01-", "module").expect_err("01- has no name");
        assert!(no_name.contains("'01-' has no name"), "{no_name}");
        // A non-ASCII digit is not a number here.
        assert!(parse_numbered("٣-intro", "module").is_err());
    }

    #[test]
    fn classify_lecture_promo_and_closing() {
        assert_eq!(
            classify(&["01-mechanics", "03", "take.mov"]),
            Ok(Placement {
                kind: TakeKind::Lecture,
                module: Some(1),
                module_name: Some("mechanics".into()),
                lesson: Some(3),
                lesson_name: None,
            })
        );
        for (folder, kind) in [
            ("promo", TakeKind::Promo),
            ("Promo", TakeKind::Promo),
            ("CLOSING", TakeKind::Closing),
        ] {
            let placement = classify(&[folder, "t.mp4"]).expect("fits");
            assert_eq!(placement.kind, kind);
            assert_eq!((placement.module, placement.lesson), (None, None));
        }
    }

    #[test]
    fn classify_names_the_first_part_that_does_not_fit() {
        let cases: [(&[&str], &str); 6] = [
            (&["t.mov"], "the take is directly in the course folder"),
            (
                &["mechanics", "t.mov"],
                "the module folder 'mechanics' does not start with a number",
            ),
            (
                &["01-mechanics", "t.mov"],
                "the take is in the module folder '01-mechanics' itself",
            ),
            (
                &["01-mechanics", "newton", "t.mov"],
                "the lesson folder 'newton' does not start with a number",
            ),
            (
                &["01-mechanics", "02-newton", "raw", "t.mov"],
                "the take is in the folder 'raw' inside the lesson folder '02-newton'",
            ),
            (
                &["promo", "old", "t.mov"],
                "the take is in the folder 'old' inside 'promo'; promo takes go directly in 'promo'",
            ),
        ];
        for (rel, expected) in cases {
            let reason = classify(rel).expect_err("does not fit");
            assert!(reason.starts_with(expected), "{rel:?}: {reason}");
        }
    }

    #[test]
    fn title_prefers_sidecar_then_lesson_then_kind_then_take() {
        let lecture = |lesson_name: Option<&str>| Placement {
            kind: TakeKind::Lecture,
            module: Some(1),
            module_name: None,
            lesson: Some(1),
            lesson_name: lesson_name.map(str::to_string),
        };
        let promo = Placement {
            kind: TakeKind::Promo,
            ..lecture(None)
        };
        let closing = Placement {
            kind: TakeKind::Closing,
            ..lecture(None)
        };
        let titled = Sidecar {
            title: Some("Newton's laws".into()),
            ..Sidecar::default()
        };
        let none = Sidecar::default();
        assert_eq!(title(&titled, &lecture(Some("x")), "t"), "Newton's laws");
        assert_eq!(title(&titled, &promo, "t"), "Newton's laws");
        assert_eq!(title(&none, &lecture(Some("newton")), "t"), "Newton");
        assert_eq!(
            title(&none, &lecture(Some("законы Ньютона")), "t"),
            "Законы Ньютона"
        );
        assert_eq!(title(&none, &lecture(None), "take-03"), "take-03");
        assert_eq!(title(&none, &promo, "t"), "Promo");
        assert_eq!(title(&none, &closing, "t"), "Closing message");
    }
}
