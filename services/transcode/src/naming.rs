//! Signed names (F-01 item 20: "all videos and materials should be signed
//! (the title and number of the lecture)"): published files carry course,
//! module, lecture number and a slug of the title; the download name is the
//! same in words.

use moocpipe_proto::{TakeKind, TakeRef};

/// The stem every output of a take starts with, e.g.
/// `physics-101-m01-l02-newtons-laws` or `physics-101-promo-welcome`.
pub fn base_name(take: &TakeRef) -> String {
    let course = non_empty(moocpipe_proto::slug(&take.course), "course");
    let title = non_empty(
        moocpipe_proto::slug(&take.title),
        &non_empty(moocpipe_proto::slug(&take.take), "take"),
    );

    match (take.kind, take.module, take.lesson) {
        (TakeKind::Lecture, Some(m), Some(l)) => format!("{course}-m{m:02}-l{l:02}-{title}"),
        (TakeKind::Promo, ..) => format!("{course}-promo-{title}"),
        (TakeKind::Closing, ..) => format!("{course}-closing-{title}"),
        (TakeKind::Lecture, ..) => format!("{course}-{title}"),
    }
}

/// The human-readable name to download a rendition as, e.g.
/// `physics-101 – Module 1 – Lecture 2 – Newton's laws (1080p).mp4`.
pub fn download_name(take: &TakeRef, rung: &str, ext: &str) -> String {
    let what = match (take.kind, take.module, take.lesson) {
        (TakeKind::Lecture, Some(m), Some(l)) => {
            format!("Module {m} – Lecture {l} – {}", take.title)
        }
        (TakeKind::Promo, ..) => format!("Promo – {}", take.title),
        (TakeKind::Closing, ..) => format!("Closing message – {}", take.title),
        (TakeKind::Lecture, ..) => take.title.clone(),
    };
    // Path separators and control characters cannot stand in a file name.
    let clean: String = format!("{} – {what} ({rung}).{ext}", take.course)
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '-'
            } else {
                c
            }
        })
        .collect();
    clean
}

/// A title of only symbols slugs to nothing: fall back to a name that says what it is.
fn non_empty(slug: String, fallback: &str) -> String {
    if slug.is_empty() {
        fallback.to_string()
    } else {
        slug
    }
}
