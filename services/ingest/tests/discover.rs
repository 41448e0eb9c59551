//! `discover` and `place` on valid course trees: what a take becomes, what is
//! ignored, single files, symlinks and take ids.

mod common;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{error_for, keys, symlink, take, take_with_key, write};
use moocpipe_ingest::{discover, discover_placing, local_take_id, place, LayoutError, Loose};
use moocpipe_proto::{Sidecar, TakeKind, TakeRef};

/// physics-101: two modules of two lessons, a promo, a closing message, one
/// sidecar, and things that are not takes.
fn full_course(root: &Path) -> PathBuf {
    let course = root.join("physics-101");
    take(&course, "01-mechanics/01-kinematics/take-01.mov");
    take(&course, "01-mechanics/01-kinematics/take-02.MOV");
    take(&course, "01-mechanics/2_newton/take-03.mp4");
    write(
        &course,
        "01-mechanics/2_newton/take-03.json",
        r#"{"title": "Законы Ньютона", "language": "ru", "author_email": "a.ivanova@uni.kz"}"#
            .as_bytes(),
    );
    take(&course, "02 Energy and work/03/take-01.mxf");
    take(&course, "02 Energy and work/04-power_and_efficiency/a.mkv");
    take(&course, "Promo/trailer.m4v");
    take(&course, "closing/goodbye.avi");
    write(&course, "notes.txt", b"shot on the 3rd");
    write(&course, "01-mechanics/01-kinematics/notes.txt", b"retake 2");
    write(&course, "01-mechanics/01-kinematics/orphan.json", b"{}");
    write(&course, "assets/logo.png", b"png");
    write(&course, ".DS_Store", b"finder");
    write(
        &course,
        "01-mechanics/.hidden/take-09.mov",
        b"hidden folder",
    );
    write(
        &course,
        "01-mechanics/01-kinematics/._take-01.mov",
        b"AppleDouble",
    );
    course
}

#[test]
fn a_full_course_is_placed_take_by_take() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = full_course(root.path());

    let found = discover(std::slice::from_ref(&course));

    assert!(found.errors.is_empty(), "{:#?}", found.errors);
    assert_eq!(
        keys(&found),
        [
            "physics-101/01-mechanics/01-kinematics/take-01.mov",
            "physics-101/01-mechanics/01-kinematics/take-02.MOV",
            "physics-101/01-mechanics/2_newton/take-03.mp4",
            "physics-101/02 Energy and work/03/take-01.mxf",
            "physics-101/02 Energy and work/04-power_and_efficiency/a.mkv",
            "physics-101/Promo/trailer.m4v",
            "physics-101/closing/goodbye.avi",
        ]
    );

    // One take in full: every field.
    let path = course.join("01-mechanics/2_newton/take-03.mp4");
    let meta = fs::metadata(&path).expect("metadata");
    let mtime = meta.modified().expect("mtime");
    let mtime_ns = mtime
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_nanos() as i128;
    let key = "physics-101/01-mechanics/2_newton/take-03.mp4";
    let (newton, source) = found
        .takes
        .iter()
        .find(|(t, _)| t.key == key)
        .expect("take-03");
    assert_eq!(source, &path);
    assert!(source.is_absolute());
    assert_eq!(
        newton,
        &TakeRef {
            take_id: local_take_id(key, meta.len(), mtime_ns),
            source: path.to_str().expect("utf-8").to_string(),
            key: key.to_string(),
            course: "physics-101".into(),
            kind: TakeKind::Lecture,
            module: Some(1),
            module_name: Some("mechanics".into()),
            lesson: Some(2),
            lesson_name: Some("newton".into()),
            take: "take-03".into(),
            title: "Законы Ньютона".into(),
            sidecar: Sidecar {
                title: Some("Законы Ньютона".into()),
                author_email: Some("a.ivanova@uni.kz".into()),
                language: Some("ru".into()),
                kind: None,
            },
            size_bytes: meta.len(),
        }
    );
    assert_eq!(newton.take_id.len(), 16);

    // Without a sidecar the title comes from the lesson folder.
    let kinematics = take_with_key(&found, "physics-101/01-mechanics/01-kinematics/take-02.MOV");
    assert_eq!(kinematics.title, "Kinematics");
    assert_eq!(kinematics.take, "take-02");
    assert_eq!(kinematics.sidecar, Sidecar::default());
    assert_eq!(
        kinematics.size_bytes,
        "fake media for 01-mechanics/01-kinematics/take-02.MOV".len() as u64
    );

    // A lesson that is only a number: no lesson name, the title is the take's name.
    let numbered = take_with_key(&found, "physics-101/02 Energy and work/03/take-01.mxf");
    assert_eq!(
        (numbered.module, numbered.module_name.as_deref()),
        (Some(2), Some("Energy and work"))
    );
    assert_eq!(
        (numbered.lesson, numbered.lesson_name.as_deref()),
        (Some(3), None)
    );
    assert_eq!(numbered.title, "take-01");

    let power = take_with_key(
        &found,
        "physics-101/02 Energy and work/04-power_and_efficiency/a.mkv",
    );
    assert_eq!(power.lesson_name.as_deref(), Some("power and efficiency"));
    assert_eq!(power.title, "Power and efficiency");

    // Promo and closing: folder names in any case, no module or lesson.
    let promo = take_with_key(&found, "physics-101/Promo/trailer.m4v");
    assert_eq!(promo.kind, TakeKind::Promo);
    assert_eq!(promo.title, "Promo");
    assert_eq!(
        (
            promo.module,
            &promo.module_name,
            promo.lesson,
            &promo.lesson_name
        ),
        (None, &None, None, &None)
    );
    let closing = take_with_key(&found, "physics-101/closing/goodbye.avi");
    assert_eq!(closing.kind, TakeKind::Closing);
    assert_eq!(closing.title, "Closing message");
    assert_eq!(closing.course, "physics-101");

    // Every other file is a material, with its path below the course;
    // a `.json` beside no take is ignored; hidden files are skipped
    // silently, and the sidecar belongs to its take.
    let materials: Vec<(&str, &str)> = found
        .materials
        .iter()
        .map(|m| (m.course.as_str(), m.path.as_str()))
        .collect();
    assert_eq!(
        materials,
        [
            ("physics-101", "01-mechanics/01-kinematics/notes.txt"),
            ("physics-101", "assets/logo.png"),
            ("physics-101", "notes.txt"),
        ]
    );
    let logo = &found.materials[1];
    assert_eq!(logo.source, course.join("assets/logo.png"));
    assert_eq!(logo.shown, course.join("assets/logo.png"));
    assert_eq!(logo.size_bytes, 3);
    assert!(logo.version.starts_with("3-"), "{}", logo.version);
    assert_eq!(
        found.ignored,
        [course.join("01-mechanics/01-kinematics/orphan.json")]
    );
}

#[test]
fn discovery_is_deterministic() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = full_course(root.path());
    let first = discover(std::slice::from_ref(&course));
    let second = discover(std::slice::from_ref(&course));
    assert_eq!(first.takes, second.takes);
    assert_eq!(first.ignored, second.ignored);
    assert_eq!(first.errors, second.errors);
    let mut sorted = keys(&first);
    sorted.sort();
    assert_eq!(keys(&first), sorted);
}

#[test]
fn a_single_file_is_placed_from_its_own_path() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = full_course(root.path());
    let walked = discover(std::slice::from_ref(&course));

    for rel in [
        "01-mechanics/2_newton/take-03.mp4",
        "Promo/trailer.m4v",
        "closing/goodbye.avi",
    ] {
        let file = course.join(rel);
        let from_walk = walked
            .takes
            .iter()
            .find(|(_, source)| source == &file)
            .expect("found by the walk");

        let placed = place(&file).expect("fits the convention");
        assert_eq!(&placed, from_walk, "{rel}");

        let found = discover(std::slice::from_ref(&file));
        assert!(found.errors.is_empty(), "{:?}", found.errors);
        assert!(found.ignored.is_empty());
        assert_eq!(found.takes, std::slice::from_ref(from_walk), "{rel}");
    }

    // A path with `..` in it names the same take.
    let roundabout = course.join("01-mechanics/../01-mechanics/2_newton/take-03.mp4");
    let (take, source) = place(&roundabout).expect("fits");
    assert_eq!(take.key, "physics-101/01-mechanics/2_newton/take-03.mp4");
    assert_eq!(source, course.join("01-mechanics/2_newton/take-03.mp4"));
}

#[test]
fn a_single_misplaced_file_is_explained_by_how_single_files_are_placed() {
    let root = tempfile::tempdir().expect("tempdir");
    let file = take(root.path(), "physics-101/mechanics/take1.mov");
    let err = place(&file).expect_err("no lesson folder");
    assert!(matches!(err, LayoutError::Misplaced { .. }), "{err:?}");
    assert_eq!(err.path(), file);
    let message = err.to_string();
    assert!(
        message.contains("the module folder 'physics-101' does not start with a number"),
        "{message}"
    );
    assert!(
        message.contains("parent = lesson, grandparent = module, great-grandparent = course"),
        "{message}"
    );
    // discover reports the same error and finds nothing.
    let found = discover(std::slice::from_ref(&file));
    assert_eq!(found.errors, [err]);
    assert!(found.takes.is_empty());
}

#[test]
fn the_same_take_found_twice_is_listed_once() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = full_course(root.path());
    let file = course.join("closing/goodbye.avi");
    let found = discover(&[course.clone(), file, course]);
    assert!(found.errors.is_empty(), "{:?}", found.errors);
    assert_eq!(found.takes.len(), 7);
    assert_eq!(found.materials.len(), 3, "each material once");
    assert_eq!(found.ignored.len(), 1);
}

#[test]
fn two_course_folders_of_one_name_clash_on_their_materials_as_on_their_takes() {
    let root = tempfile::tempdir().expect("tempdir");
    let a = write(
        &root.path().join("a/physics-101"),
        "syllabus.pdf",
        b"%PDF-1.4",
    );
    let b = write(
        &root.path().join("b/physics-101"),
        "syllabus.pdf",
        b"%PDF-1.5",
    );
    let found = discover(&[
        root.path().join("a/physics-101"),
        root.path().join("b/physics-101"),
    ]);
    assert!(found.materials.is_empty(), "{:?}", found.materials);
    assert_eq!(
        found.errors,
        [LayoutError::DuplicateKey {
            path: b,
            key: "physics-101/syllabus.pdf".into(),
            other: a,
        }]
    );
}

#[test]
fn take_ids_follow_size_and_mtime_not_the_walk() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = root.path().join("chem-201");
    let file = take(&course, "01-atoms/01-intro/take.mov");
    let key = "chem-201/01-atoms/01-intro/take.mov";
    let set_mtime = |secs: u64| {
        File::options()
            .write(true)
            .open(&file)
            .expect("open")
            .set_modified(UNIX_EPOCH + Duration::from_secs(secs))
            .expect("set mtime");
    };
    let id = || place(&file).expect("fits").0.take_id;

    set_mtime(1_700_000_000);
    let first = id();
    assert_eq!(
        first,
        local_take_id(
            key,
            fs::metadata(&file).expect("meta").len(),
            1_700_000_000_000_000_000
        )
    );
    // Same file: same id, from place and from discover alike.
    assert_eq!(id(), first);
    assert_eq!(
        discover(std::slice::from_ref(&course)).takes[0].0.take_id,
        first
    );

    // Touched: a new id.
    set_mtime(1_700_000_001);
    let touched = id();
    assert_ne!(touched, first);

    // Back to the first mtime: the first id again (the id reads metadata only).
    set_mtime(1_700_000_000);
    assert_eq!(id(), first);

    // Re-exported with other bytes (another size): a new id even at the same mtime.
    fs::write(&file, b"a longer re-export of the same take").expect("rewrite");
    set_mtime(1_700_000_000);
    let reexported = id();
    assert_ne!(reexported, first);
    assert_ne!(reexported, touched);

    // Now: an mtime with nanoseconds still gives a stable id.
    let now = SystemTime::now();
    File::options()
        .write(true)
        .open(&file)
        .expect("open")
        .set_modified(now)
        .expect("set mtime");
    assert_eq!(id(), id());
}

#[test]
fn symlinked_takes_and_folders_are_followed_and_loops_are_not() {
    let root = tempfile::tempdir().expect("tempdir");
    let storage = root.path().join("storage");
    let raw = take(&storage, "raw-0001.mov");
    take(&storage, "lesson/take-a.mov");
    let course = root.path().join("bio-110");
    fs::create_dir_all(course.join("01-cells/01-membrane")).expect("mkdir");
    // A take that is a symlink to a file elsewhere.
    symlink(&raw, &course.join("01-cells/01-membrane/take-01.mov"));
    // A lesson folder that is a symlink to a folder elsewhere.
    symlink(
        storage.join("lesson"),
        &course.join("01-cells/02-transport"),
    );
    // A loop back to the course, and a second link to an already walked folder.
    symlink("../..", &course.join("01-cells/01-membrane/loop"));
    symlink(storage.join("lesson"), &course.join("01-cells/03-again"));

    let found = discover(std::slice::from_ref(&course));

    assert!(found.errors.is_empty(), "{:?}", found.errors);
    assert_eq!(
        keys(&found),
        [
            "bio-110/01-cells/01-membrane/take-01.mov",
            "bio-110/01-cells/02-transport/take-a.mov",
        ]
    );
    // Keys and sources keep the names the take was found under.
    let (linked, source) = &found.takes[0];
    assert_eq!(source, &course.join("01-cells/01-membrane/take-01.mov"));
    assert_eq!(linked.take, "take-01");
    assert_eq!(linked.size_bytes, fs::metadata(&raw).expect("meta").len());
    assert_eq!(
        found.ignored,
        [
            course.join("01-cells/01-membrane/loop"),
            course.join("01-cells/03-again"),
        ]
    );
}

#[test]
fn a_missing_path_is_one_error_and_the_rest_is_still_found() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = full_course(root.path());
    let missing = root.path().join("physics-102");
    let found = discover(&[missing.clone(), course]);
    assert_eq!(
        found.errors,
        [LayoutError::NotFound {
            path: missing.clone()
        }]
    );
    assert_eq!(
        found.errors[0].to_string(),
        format!("{}: no such file or folder", missing.display())
    );
    assert_eq!(found.takes.len(), 7);
    // Paths in errors are as given, relative ones included.
    let relative = PathBuf::from("no/such/course");
    let found = discover(std::slice::from_ref(&relative));
    assert_eq!(
        error_for(&found, &relative),
        &LayoutError::NotFound {
            path: relative.clone()
        }
    );
}

#[test]
fn a_take_outside_any_course_is_placed_in_the_loose_course_and_said_so() {
    let root = tempfile::tempdir().expect("tempdir");
    let file = take(root.path(), "Downloads/lecture final.mov");
    let course = full_course(root.path());

    // Without a placement it is an error naming the rule, as before.
    let found = discover(std::slice::from_ref(&file));
    assert!(matches!(
        error_for(&found, &file),
        LayoutError::Misplaced { .. }
    ));

    let loose = Loose::fallback();
    let found = discover_placing(&[file.clone(), course], Some(&loose));
    assert!(found.errors.is_empty(), "{:#?}", found.errors);
    let placed = take_with_key(&found, "loose-takes/01/01/lecture final.mov");
    assert_eq!(placed.course, "loose-takes");
    assert_eq!((placed.module, placed.lesson), (Some(1), Some(1)));
    assert_eq!(placed.kind, TakeKind::Lecture);
    assert_eq!(placed.title, "lecture final", "titled by its file name");
    // Only the loose file is reported as placed so; the course's takes
    // keep their own places.
    assert_eq!(
        found.placed_loose,
        [(file, "loose-takes/01/01/lecture final.mov".to_string())]
    );
    assert_eq!(found.takes.len(), 8);
}

#[test]
fn an_explicit_placement_wins_over_the_folders_and_keeps_the_sidecar() {
    let root = tempfile::tempdir().expect("tempdir");
    let course = full_course(root.path());
    let file = course.join("01-mechanics/2_newton/take-03.mp4");
    let loose = Loose {
        course: "physics-102".into(),
        module: 4,
        lesson: 2,
        explicit: true,
    };
    let found = discover_placing(std::slice::from_ref(&file), Some(&loose));
    assert!(found.errors.is_empty(), "{:#?}", found.errors);
    let placed = take_with_key(&found, "physics-102/04/02/take-03.mp4");
    assert_eq!((placed.module, placed.lesson), (Some(4), Some(2)));
    assert_eq!(
        placed.title, "Законы Ньютона",
        "the sidecar still titles it"
    );
    assert_eq!(placed.sidecar.language.as_deref(), Some("ru"));
}

#[test]
fn a_placement_that_cannot_be_a_folder_is_refused_before_anything_is_read() {
    let root = tempfile::tempdir().expect("tempdir");
    let file = take(root.path(), "take.mov");
    for (course, module, lesson, says) in [
        ("../etc", 1, 1, "course"),
        ("a/b", 1, 1, "course"),
        ("", 1, 1, "course"),
        ("ok", 100, 1, "module"),
        ("ok", 1, 100, "lesson"),
    ] {
        let loose = Loose {
            course: course.into(),
            module,
            lesson,
            explicit: true,
        };
        let found = discover_placing(std::slice::from_ref(&file), Some(&loose));
        let err = error_for(&found, &file).to_string();
        assert!(err.contains(says), "{course}/{module}/{lesson}: {err}");
    }
}
