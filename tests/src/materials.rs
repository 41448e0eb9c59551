//! Course materials for the tests of issue 13's "all material types": a
//! real PDF, a real PNG (GStreamer's `pngenc`), and a text file named
//! `.pdf`, made at test time.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A one-page PDF with a correct cross-reference table (byte offsets of
/// its objects), so any reader opens it.
pub fn minimal_pdf() -> Vec<u8> {
    let text = "BT /F1 18 Tf 20 40 Td (Syllabus) Tj ET";
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 100] /Contents 4 0 R \
         /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_owned(),
        format!("<< /Length {} >>\nstream\n{text}\nendstream", text.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut pdf = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.extend_from_slice(format!("{} 0 obj\n{body}\nendobj\n", i + 1).as_bytes());
    }
    let xref = pdf.len();
    pdf.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for offset in offsets {
        pdf.extend_from_slice(format!("{offset:010} 00000 n \n").as_bytes());
    }
    pdf.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    pdf
}

/// A 64×48 PNG of GStreamer's test picture, written to `path`.
pub fn write_png(path: &Path) {
    let out = Command::new("gst-launch-1.0")
        .args(["-q", "videotestsrc", "num-buffers=1", "!"])
        .args(["video/x-raw,width=64,height=48", "!", "pngenc", "!"])
        .arg("filesink")
        .arg(format!("location={}", path.display()))
        .output()
        .expect("run gst-launch-1.0");
    assert!(
        out.status.success() && path.is_file(),
        "pngenc: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The text a syllabus "PDF" holds when it is a text file renamed.
pub const FAKE_PDF_TEXT: &[u8] = b"Week 1: kinematics\nWeek 2: Newton's laws\n";

/// The three materials of the tests, written under `course`: the syllabus
/// (a PDF) in its root, a diagram (a PNG) in a module's `materials/`
/// folder, and `reading-list.pdf`, text with a PDF's name. Returns their
/// paths below the course and files: (pdf, png, fake).
pub fn write_three(course: &Path) -> [(String, PathBuf); 3] {
    let files = [
        "syllabus.pdf",
        "01-mechanics/materials/diagram.png",
        "reading-list.pdf",
    ];
    for rel in files {
        let parent = course.join(rel);
        if let Some(dir) = parent.parent() {
            std::fs::create_dir_all(dir).expect("course folders");
        }
    }
    std::fs::write(course.join(files[0]), minimal_pdf()).expect("the PDF");
    write_png(&course.join(files[1]));
    std::fs::write(course.join(files[2]), FAKE_PDF_TEXT).expect("the fake PDF");
    files.map(|rel| (rel.to_owned(), course.join(rel)))
}
