//! Every way a path can fail to fit the convention: one error naming it, and
//! the rest of the course still found.

mod common;

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::Command;

use common::{error_for, keys, symlink, take, write};
use moocpipe_ingest::{discover, place, LayoutError, EXPECTED_LAYOUT};
use moocpipe_proto::TakeKind;

#[test]
fn misplaced_takes_say_what_was_expected_and_what_is_wrong() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = root.path().join("physics-101");
    take(&course, "01-mechanics/01-intro/good.mov");
    let cases = [
        (
            "mechanics/take1.mov",
            "the module folder 'mechanics' does not start with a number",
        ),
        ("stray.mp4", "the take is directly in the course folder"),
        (
            "01-mechanics/in-module.mov",
            "the take is in the module folder '01-mechanics' itself; lecture takes go in a \
             lesson folder inside it",
        ),
        (
            "01-mechanics/newton/t.mov",
            "the lesson folder 'newton' does not start with a number",
        ),
        (
            "01-mechanics/123-long/t.mov",
            "the lesson folder '123-long' starts with 3 digits; its number has one or two",
        ),
        (
            "01-mechanics/01.intro/t.mov",
            "the lesson folder '01.intro' has '.' after its number; expected '-', '_' or a \
             space, then a name",
        ),
        (
            "01-mechanics/01-intro/raw/t.mov",
            "the take is in the folder 'raw' inside the lesson folder '01-intro'; lecture \
             takes go directly in the lesson folder",
        ),
        (
            "promo/old/t.mov",
            "the take is in the folder 'old' inside 'promo'; promo takes go directly in 'promo'",
        ),
    ];
    for (rel, _) in &cases {
        take(&course, rel);
    }
    // A sidecar next to a misplaced take is still that take's, not ignored.
    write(&course, "mechanics/take1.json", b"{}");

    let found = discover(std::slice::from_ref(&course));

    assert_eq!(keys(&found), ["physics-101/01-mechanics/01-intro/good.mov"]);
    assert_eq!(found.errors.len(), cases.len(), "{:#?}", found.errors);
    for (rel, reason) in cases {
        let path = course.join(rel);
        let err = error_for(&found, &path);
        assert_eq!(
            err,
            &LayoutError::Misplaced {
                path: path.clone(),
                reason: reason.to_string()
            }
        );
    }
    assert!(found.ignored.is_empty(), "{:?}", found.ignored);

    // The message, word for word.
    let err = error_for(&found, &course.join("mechanics/take1.mov"));
    assert_eq!(
        err.to_string(),
        format!(
            "{}/physics-101/mechanics/take1.mov: expected <course>/<NN-module>/<NN-lesson>/<take>.<ext> \
             (or <course>/promo/<take>.<ext>, <course>/closing/<take>.<ext>); the module folder \
             'mechanics' does not start with a number",
            root.path().display()
        )
    );
    assert!(err.to_string().contains(EXPECTED_LAYOUT));
}

#[test]
fn errors_name_paths_as_given() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = root.path().join("physics-101");
    take(&course, "stray.mov");
    // The same course through a path with `.` and `..` in it.
    let given = root.path().join("physics-101/../physics-101/.");
    let found = discover(std::slice::from_ref(&given));
    assert_eq!(found.errors.len(), 1, "{:?}", found.errors);
    assert_eq!(found.errors[0].path(), given.join("stray.mov"));
}

#[test]
fn sidecar_errors_name_the_sidecar() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = root.path().join("math-150");
    let lesson = "01-algebra/01-groups";
    for name in ["syntax", "unknown", "language", "kind", "ok", "blank"] {
        take(&course, &format!("{lesson}/{name}.mov"));
    }
    let sidecar =
        |name: &str, json: &str| write(&course, &format!("{lesson}/{name}.json"), json.as_bytes());
    let syntax = sidecar(
        "syntax",
        "{\n  \"title\": \"Groups\"\n  \"language\": \"en\"\n}",
    );
    let unknown = sidecar("unknown", "{\"title\": \"Groups\", \"speaker\": \"Dr A\"}");
    let language = sidecar("language", r#"{"language": "de"}"#);
    let kind = sidecar("kind", r#"{"kind": "promo"}"#);
    let blank = sidecar("blank", r#"{"title": " "}"#);
    sidecar("ok", r#"{"kind": "lecture", "language": "kk"}"#);
    take(&course, "promo/p.mov");
    let promo_kind = write(&course, "promo/p.json", br#"{"kind": "lecture"}"#);
    take(&course, "closing/c.mov");
    write(&course, "closing/c.json", br#"{"kind": "closing"}"#);

    let found = discover(std::slice::from_ref(&course));

    assert_eq!(
        keys(&found),
        [
            "math-150/01-algebra/01-groups/ok.mov",
            "math-150/closing/c.mov"
        ]
    );
    assert_eq!(found.errors.len(), 6, "{:#?}", found.errors);
    assert!(found.ignored.is_empty(), "{:?}", found.ignored);

    assert_eq!(
        error_for(&found, &syntax),
        &LayoutError::SidecarSyntax {
            path: syntax.clone(),
            line: 3,
            column: 3,
            message: "expected `,` or `}`".into(),
        }
    );
    assert_eq!(
        error_for(&found, &syntax).to_string(),
        format!(
            "{}: the sidecar is not valid JSON: expected `,` or `}}` at line 3, column 3",
            syntax.display()
        )
    );
    assert_eq!(
        error_for(&found, &unknown),
        &LayoutError::SidecarUnknownField {
            path: unknown.clone(),
            field: "speaker".into(),
            line: 1,
            column: 29,
        }
    );
    assert_eq!(
        error_for(&found, &language).to_string(),
        format!(
            "{}: sidecar field `language` is \"de\"; expected \"kk\", \"ru\" or \"en\"",
            language.display()
        )
    );
    assert_eq!(
        error_for(&found, &kind),
        &LayoutError::SidecarKindMismatch {
            path: kind.clone(),
            sidecar: TakeKind::Promo,
            folder: TakeKind::Lecture,
        }
    );
    assert_eq!(
        error_for(&found, &promo_kind),
        &LayoutError::SidecarKindMismatch {
            path: promo_kind.clone(),
            sidecar: TakeKind::Lecture,
            folder: TakeKind::Promo,
        }
    );
    assert!(matches!(
        error_for(&found, &blank),
        LayoutError::SidecarValue { field: "title", .. }
    ));

    // place() reports the same for one file.
    let err = place(&course.join(format!("{lesson}/kind.mov"))).expect_err("kind mismatch");
    assert_eq!(&err, error_for(&found, &kind));
}

#[test]
fn unreadable_paths_are_errors() {
    // Root reads anything, so unreadability comes from a symlink loop (ELOOP),
    // which stops root as well.
    let root = tempfile::tempdir().expect("tempdir");
    let course = root.path().join("art-100");
    take(&course, "01-colour/01-hue/ok.mov");
    let looped_take = course.join("01-colour/01-hue/looped.mov");
    symlink("looped.mov", &looped_take);
    take(&course, "01-colour/01-hue/side.mov");
    let looped_sidecar = course.join("01-colour/01-hue/side.json");
    symlink("side.json", &looped_sidecar);
    // A loop without a take's name is not a take: ignored.
    let looped_other = course.join("01-colour/01-hue/whatever");
    symlink("whatever", &looped_other);
    // A broken symlink with a take's name: not found.
    let dangling = course.join("01-colour/01-hue/gone.mov");
    symlink("nowhere.mov", &dangling);

    let looped_course = root.path().join("loop-course");
    symlink("loop-course", &looped_course);

    let found = discover(&[course.clone(), looped_course.clone()]);

    assert_eq!(keys(&found), ["art-100/01-colour/01-hue/ok.mov"]);
    assert_eq!(found.errors.len(), 4, "{:#?}", found.errors);
    for path in [&looped_take, &looped_sidecar, &looped_course] {
        let err = error_for(&found, path);
        let LayoutError::Unreadable { message, .. } = err else {
            panic!("expected unreadable, got {err:?}");
        };
        assert!(message.contains("symbolic links"), "{message}");
        assert!(err
            .to_string()
            .starts_with(&format!("{}: cannot be read: ", path.display())));
    }
    assert_eq!(
        error_for(&found, &dangling),
        &LayoutError::NotFound {
            path: dangling.clone()
        }
    );
    assert_eq!(found.ignored, [looped_other]);
}

#[test]
fn files_that_cannot_be_takes() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = root.path().join("law-300");
    let notes = write(&course, "01-x/01-y/notes.txt", b"n");
    let sidecar_alone = write(&course, "01-x/01-y/t.json", b"{}");
    take(&course, "01-x/01-y/t.mov");
    let no_ext = write(&course, "01-x/01-y/README", b"r");

    // Given explicitly, a file that is not a take is an error.
    let found = discover(&[notes.clone(), no_ext.clone(), sidecar_alone.clone()]);
    assert!(found.takes.is_empty());
    assert_eq!(
        found.errors,
        [
            LayoutError::NotATake {
                path: notes.clone(),
                found: "extension '.txt'".into()
            },
            LayoutError::NotATake {
                path: no_ext,
                found: "no extension".into()
            },
            LayoutError::NotATake {
                path: sidecar_alone,
                found: "extension '.json'".into()
            },
        ]
    );

    // A folder given to place is not a take either.
    let err = place(&course).expect_err("a folder");
    assert!(
        matches!(&err, LayoutError::NotATake { found, .. } if found.starts_with("a folder")),
        "{err:?}"
    );
}

#[test]
fn a_fifo_named_like_a_take_is_refused_without_opening_it() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = root.path().join("cs-101");
    take(&course, "01-a/01-b/ok.mov");
    let fifo = course.join("01-a/01-b/pipe.mov");
    let status = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("run mkfifo");
    assert!(status.success());

    let found = discover(std::slice::from_ref(&course));
    assert_eq!(keys(&found), ["cs-101/01-a/01-b/ok.mov"]);
    assert_eq!(
        found.errors,
        [LayoutError::NotATake {
            path: fifo.clone(),
            found: "a FIFO (named pipe), not a regular file".into()
        }]
    );
    // Given directly: the same, and no hang.
    assert_eq!(discover(std::slice::from_ref(&fifo)).errors, found.errors);
}

#[test]
fn a_path_that_is_not_utf8_cannot_become_a_key() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = root.path().join("geo-101");
    take(&course, "01-a/01-b/ok.mov");
    let name = OsStr::from_bytes(b"take-\xff.mov");
    let bad = course.join("01-a/01-b").join(name);
    std::fs::write(&bad, b"x").expect("write");

    let found = discover(std::slice::from_ref(&course));
    assert_eq!(keys(&found), ["geo-101/01-a/01-b/ok.mov"]);
    assert_eq!(found.errors, [LayoutError::NotUtf8 { path: bad.clone() }]);
    assert_eq!(place(&bad).expect_err("not utf-8"), found.errors[0]);
}

#[test]
fn two_takes_with_one_stem_are_both_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = root.path().join("eco-200");
    let mov = take(&course, "01-a/01-b/take-01.mov");
    let mp4 = take(&course, "01-a/01-b/take-01.mp4");
    write(
        &course,
        "01-a/01-b/take-01.json",
        br#"{"title": "Which one?"}"#,
    );
    take(&course, "01-a/01-b/take-02.mov");

    let found = discover(std::slice::from_ref(&course));
    assert_eq!(keys(&found), ["eco-200/01-a/01-b/take-02.mov"]);
    assert_eq!(
        found.errors,
        [
            LayoutError::DuplicateStem {
                path: mov.clone(),
                stem: "take-01".into(),
                other: mp4.clone()
            },
            LayoutError::DuplicateStem {
                path: mp4,
                stem: "take-01".into(),
                other: mov
            },
        ]
    );
    assert!(found.ignored.is_empty(), "{:?}", found.ignored);
}

#[test]
fn two_courses_with_one_name_are_both_refused() {
    let root = tempfile::tempdir().expect("tempdir");
    let first = take(root.path(), "2024/physics-101/promo/p.mov");
    let second = take(root.path(), "2025/physics-101/promo/p.mov");
    take(root.path(), "2025/physics-101/closing/c.mov");

    let found = discover(&[
        root.path().join("2024/physics-101"),
        root.path().join("2025/physics-101"),
    ]);
    assert_eq!(keys(&found), ["physics-101/closing/c.mov"]);
    assert_eq!(
        found.errors,
        [LayoutError::DuplicateKey {
            path: second,
            key: "physics-101/promo/p.mov".into(),
            other: first,
        }]
    );
}

#[test]
fn an_unreadable_folder_is_reported_when_not_root() {
    // Permission bits do not stop root (this suite may run as root in CI);
    // there, the symlink-loop test above covers unreadable paths.
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().expect("tempdir");
    let course = root.path().join("bio-101");
    take(&course, "01-a/01-b/t.mov");
    let locked = course.join("01-a");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).expect("chmod");
    let readable_anyway = std::fs::read_dir(&locked).is_ok();

    let found = discover(std::slice::from_ref(&course));

    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).expect("chmod back");
    if readable_anyway {
        assert_eq!(keys(&found), ["bio-101/01-a/01-b/t.mov"]);
    } else {
        assert!(found.takes.is_empty());
        assert!(
            matches!(error_for(&found, &locked), LayoutError::Unreadable { .. }),
            "{:?}",
            found.errors
        );
    }
}

#[test]
fn a_course_folder_given_as_a_path_to_its_parent_is_not_guessed() {
    // Given the folder above the courses, every take is one level too deep.
    let root = tempfile::tempdir().expect("tempdir");
    let uploads = root.path().join("uploads");
    let t = take(&uploads, "physics-101/01-a/01-b/t.mov");
    let found = discover(std::slice::from_ref(&uploads));
    assert!(found.takes.is_empty());
    assert_eq!(
        error_for(&found, &t),
        &LayoutError::Misplaced {
            path: t.clone(),
            reason: "the module folder 'physics-101' does not start with a number".into()
        }
    );
}
