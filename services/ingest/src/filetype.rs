//! What a course material is: the type its name claims (its extension)
//! against the type its first bytes are (magic numbers, read by the
//! `infer` crate). A file that claims one type and is another is an error
//! naming the file and both types; nothing here reads a file — the caller
//! hands over the first [`HEAD_BYTES`] (a ranged GET in S3).

use std::fmt::Write as _;

use moocpipe_proto::{MaterialErrorKind, MaterialType};

/// The bytes read from the start of a material to tell its type: infer's
/// own read size. An OOXML part's name, a PDF header, a tar header, an SVG
/// root element all lie within it.
pub const HEAD_BYTES: u64 = 8192;

/// Every accepted extension (lowercase; matched in any case) and the type
/// it claims.
pub const MATERIAL_EXTENSIONS: &[(&str, MaterialType)] = &[
    ("pdf", MaterialType::Pdf),
    ("docx", MaterialType::Docx),
    ("pptx", MaterialType::Pptx),
    ("xlsx", MaterialType::Xlsx),
    ("odt", MaterialType::Odt),
    ("odp", MaterialType::Odp),
    ("ods", MaterialType::Ods),
    ("doc", MaterialType::Doc),
    ("ppt", MaterialType::Ppt),
    ("xls", MaterialType::Xls),
    ("png", MaterialType::Png),
    ("jpg", MaterialType::Jpeg),
    ("jpeg", MaterialType::Jpeg),
    ("gif", MaterialType::Gif),
    ("webp", MaterialType::Webp),
    ("svg", MaterialType::Svg),
    ("zip", MaterialType::Zip),
    ("gz", MaterialType::Gzip),
    ("tgz", MaterialType::Gzip),
    ("tar", MaterialType::Tar),
    ("7z", MaterialType::SevenZip),
    ("txt", MaterialType::Text),
    ("md", MaterialType::Text),
    ("csv", MaterialType::Text),
];

/// The extension of a file name (after its last `.`), when it has one.
fn extension(name: &str) -> Option<&str> {
    let name = name.rsplit('/').next().unwrap_or(name);
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() => Some(ext),
        _ => None,
    }
}

/// The type a file's name claims; `None` for an extension not accepted.
pub fn declared_type(name: &str) -> Option<MaterialType> {
    let ext = extension(name)?;
    MATERIAL_EXTENSIONS
        .iter()
        .find(|(known, _)| ext.eq_ignore_ascii_case(known))
        .map(|(_, kind)| *kind)
}

/// ".pdf, .docx, … or .csv"
fn accepted_list() -> String {
    let mut out = String::new();
    let n = MATERIAL_EXTENSIONS.len();
    for (i, (ext, _)) in MATERIAL_EXTENSIONS.iter().enumerate() {
        let sep = match i {
            0 => "",
            i if i + 1 == n => " or ",
            _ => ", ",
        };
        let _ = write!(out, "{sep}.{ext}");
    }
    out
}

/// A material whose content is what its name claims.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub declared: MaterialType,
    /// What the first bytes are (`legacy_office` for a `.doc` whose first
    /// bytes do not tell Word from Excel).
    pub detected: MaterialType,
    pub detected_media_type: String,
    /// The media type to publish it with: the declared type's (for text,
    /// the extension's: `text/markdown`, `text/csv`, `text/plain`).
    pub content_type: String,
}

/// Why a material is not published. Every variant names the file (as the
/// caller shows it: a path, or `s3://bucket/key`) and says the cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaterialError {
    #[error("{file}: the file is empty; there is nothing to publish")]
    Empty {
        file: String,
        declared: Option<MaterialType>,
    },

    #[error(
        "{file}: not a material type moocpipe publishes ({found}); accepted: {}",
        accepted_list()
    )]
    UnknownExtension { file: String, found: String },

    #[error("{file} claims to be {} (by its name) but its content is {found}", declared.describe())]
    Mismatch {
        file: String,
        declared: MaterialType,
        detected: Option<MaterialType>,
        detected_media_type: Option<String>,
        /// The content in words: "plain text", "an MP3 file (audio/mpeg)".
        found: String,
    },
}

impl MaterialError {
    pub fn kind(&self) -> MaterialErrorKind {
        match self {
            MaterialError::Empty { .. } => MaterialErrorKind::Empty,
            MaterialError::UnknownExtension { .. } => MaterialErrorKind::UnknownExtension,
            MaterialError::Mismatch { .. } => MaterialErrorKind::Mismatch,
        }
    }

    pub fn declared(&self) -> Option<MaterialType> {
        match self {
            MaterialError::Empty { declared, .. } => *declared,
            MaterialError::UnknownExtension { .. } => None,
            MaterialError::Mismatch { declared, .. } => Some(*declared),
        }
    }

    pub fn detected(&self) -> Option<MaterialType> {
        match self {
            MaterialError::Mismatch { detected, .. } => *detected,
            _ => None,
        }
    }

    pub fn detected_media_type(&self) -> Option<&str> {
        match self {
            MaterialError::Mismatch {
                detected_media_type,
                ..
            } => detected_media_type.as_deref(),
            _ => None,
        }
    }
}

/// Checks a material named `file` (its path or `s3://…` location, shown in
/// errors) of `size` bytes whose first bytes are `head` (at most
/// [`HEAD_BYTES`]; fewer only when the file is shorter).
pub fn check(file: &str, size: u64, head: &[u8]) -> Result<Checked, MaterialError> {
    let Some(declared) = declared_type(file) else {
        let found = match extension(file) {
            Some(ext) => format!("extension '.{ext}'"),
            None => "no extension".to_owned(),
        };
        return Err(MaterialError::UnknownExtension {
            file: file.to_owned(),
            found,
        });
    };
    if size == 0 || head.is_empty() {
        return Err(MaterialError::Empty {
            file: file.to_owned(),
            declared: Some(declared),
        });
    }
    let truncated = (head.len() as u64) < size;
    let found = detect(head, truncated);
    match found.kind.and_then(|kind| accepts(declared, kind)) {
        Some(detected) => Ok(Checked {
            declared,
            detected,
            detected_media_type: found
                .media_type
                .unwrap_or_else(|| media_type_of(detected).to_owned()),
            content_type: content_type(declared, file),
        }),
        None => Err(MaterialError::Mismatch {
            file: file.to_owned(),
            declared,
            detected: found.kind,
            detected_media_type: found.media_type,
            found: found.description,
        }),
    }
}

/// What `declared` accepts `detected` as, or `None` when it does not:
/// the same type; a legacy Office file whose application its first bytes
/// do not tell, for `.doc`, `.ppt`, `.xls`; any text for a text file (an
/// SVG or HTML page is text too).
fn accepts(declared: MaterialType, detected: MaterialType) -> Option<MaterialType> {
    use MaterialType as T;
    match (declared, detected) {
        (d, found) if d == found => Some(d),
        (T::Doc | T::Ppt | T::Xls, T::LegacyOffice) => Some(T::LegacyOffice),
        (T::Text, T::Svg) => Some(T::Text),
        _ => None,
    }
}

/// The OOXML type of a ZIP whose entries in `head` make an OOXML package
/// (`[Content_Types].xml` and a main part: `word/…`, `ppt/…`, `xl/…`).
/// infer looks only at the third and fourth entries; Office and
/// LibreOffice order theirs differently.
fn ooxml_package(head: &[u8]) -> Option<MaterialType> {
    let names = zip_entry_names(head);
    if !names.iter().any(|n| n.starts_with(b"[Content_Types].xml")) {
        return None;
    }
    [
        (&b"word/"[..], MaterialType::Docx),
        (&b"ppt/"[..], MaterialType::Pptx),
        (&b"xl/"[..], MaterialType::Xlsx),
    ]
    .into_iter()
    .find(|(part, _)| names.iter().any(|n| n.starts_with(part)))
    .map(|(_, kind)| kind)
}

/// The start of every entry name of a ZIP local file header in `head`.
fn zip_entry_names(head: &[u8]) -> Vec<&[u8]> {
    const LOCAL_HEADER: &[u8] = b"PK\x03\x04";
    const NAME_AT: usize = 30;
    head.windows(LOCAL_HEADER.len())
        .enumerate()
        .filter(|(_, window)| *window == LOCAL_HEADER)
        .filter_map(|(at, _)| head.get(at + NAME_AT..))
        .collect()
}

/// What the first bytes are.
struct Detection {
    /// The accepted type they are, when they are one.
    kind: Option<MaterialType>,
    /// The media type they were recognised as.
    media_type: Option<String>,
    /// In words, for an error.
    description: String,
}

fn detect(head: &[u8], truncated: bool) -> Detection {
    let known = |kind: MaterialType, media_type: &str| Detection {
        kind: Some(kind),
        media_type: Some(media_type.to_owned()),
        description: kind.describe(),
    };
    if let Some(found) = infer::get(head) {
        let media_type = found.mime_type();
        if found.matcher_type() != infer::MatcherType::Text {
            return match from_media_type(media_type) {
                // infer calls a ZIP whose first entry is `word/…` a DOCX,
                // and misses packages whose parts come late: decided here.
                Some(
                    MaterialType::Zip
                    | MaterialType::Docx
                    | MaterialType::Pptx
                    | MaterialType::Xlsx,
                ) => match ooxml_package(head) {
                    Some(kind) => known(kind, media_type_of(kind)),
                    None => known(MaterialType::Zip, media_type_of(MaterialType::Zip)),
                },
                Some(kind) => known(kind, media_type),
                None => Detection {
                    kind: None,
                    media_type: Some(media_type.to_owned()),
                    description: format!("a .{} file ({media_type})", found.extension()),
                },
            };
        }
        // HTML, XML, a shell script: text, judged as text below.
    }
    if is_text(head, truncated) {
        if is_svg(head) {
            return known(MaterialType::Svg, "image/svg+xml");
        }
        return known(MaterialType::Text, "text/plain");
    }
    Detection {
        kind: None,
        media_type: None,
        description: "binary data of no type moocpipe recognises".to_owned(),
    }
}

/// The accepted type of a media type infer answers with.
fn from_media_type(media_type: &str) -> Option<MaterialType> {
    use MaterialType as T;
    Some(match media_type {
        "application/pdf" => T::Pdf,
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document" => T::Docx,
        "application/vnd.openxmlformats-officedocument.presentationml.presentation" => T::Pptx,
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" => T::Xlsx,
        "application/vnd.oasis.opendocument.text" => T::Odt,
        "application/vnd.oasis.opendocument.presentation" => T::Odp,
        "application/vnd.oasis.opendocument.spreadsheet" => T::Ods,
        "application/msword" => T::Doc,
        "application/vnd.ms-powerpoint" => T::Ppt,
        "application/vnd.ms-excel" => T::Xls,
        // An OLE2 compound file whose directory lies past the first bytes.
        "application/x-ole-storage" => T::LegacyOffice,
        "image/png" => T::Png,
        "image/jpeg" => T::Jpeg,
        "image/gif" => T::Gif,
        "image/webp" => T::Webp,
        "application/zip" => T::Zip,
        "application/gzip" => T::Gzip,
        "application/x-tar" => T::Tar,
        "application/x-7z-compressed" => T::SevenZip,
        _ => return None,
    })
}

/// The registered media type of an accepted type.
pub fn media_type_of(kind: MaterialType) -> &'static str {
    use MaterialType as T;
    match kind {
        T::Pdf => "application/pdf",
        T::Docx => "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        T::Pptx => "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        T::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        T::Odt => "application/vnd.oasis.opendocument.text",
        T::Odp => "application/vnd.oasis.opendocument.presentation",
        T::Ods => "application/vnd.oasis.opendocument.spreadsheet",
        T::Doc => "application/msword",
        T::Ppt => "application/vnd.ms-powerpoint",
        T::Xls => "application/vnd.ms-excel",
        T::LegacyOffice => "application/x-ole-storage",
        T::Png => "image/png",
        T::Jpeg => "image/jpeg",
        T::Gif => "image/gif",
        T::Webp => "image/webp",
        T::Svg => "image/svg+xml",
        T::Zip => "application/zip",
        T::Gzip => "application/gzip",
        T::Tar => "application/x-tar",
        T::SevenZip => "application/x-7z-compressed",
        T::Text => "text/plain",
    }
}

/// The media type a verified material is published with.
fn content_type(declared: MaterialType, file: &str) -> String {
    if declared != MaterialType::Text {
        return media_type_of(declared).to_owned();
    }
    let ext = extension(file).unwrap_or_default().to_ascii_lowercase();
    let base = match ext.as_str() {
        "md" => "text/markdown",
        "csv" => "text/csv",
        _ => "text/plain",
    };
    format!("{base}; charset=utf-8")
}

/// UTF-8 without NUL bytes. A multi-byte character cut by the end of a
/// `truncated` head is not held against it.
fn is_text(head: &[u8], truncated: bool) -> bool {
    if head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        Err(e) => truncated && e.error_len().is_none(),
    }
}

/// Text whose root element is `<svg` (after an XML declaration, comments
/// or a doctype, within the head).
fn is_svg(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"<svg")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// A 1×1 PNG made by GStreamer's `pngenc` (the whole file).
    const PNG: &[u8] = &[
        0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44,
        0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f,
        0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x08, 0x99, 0x63, 0x60,
        0x60, 0x60, 0xf8, 0x0f, 0x00, 0x01, 0x04, 0x01, 0x00, 0x7d, 0xb2, 0xc8, 0xdf, 0x00, 0x00,
        0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82,
    ];
    /// The first bytes of an 8×8 JPEG from `jpegenc` (JFIF header, start
    /// of the quantisation table).
    const JPEG: &[u8] = &[
        0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00, 0xff, 0xdb, 0x00, 0x43,
    ];
    /// The first bytes of a 16×16 WebP from `webpenc`.
    const WEBP: &[u8] = b"RIFF\x18\x01\x00\x00WEBPVP8 \x0c\x01\x00\x00";
    /// The smallest GIF: a 1×1 transparent pixel.
    const GIF: &[u8] = b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;";
    /// An empty 7z archive: the 32-byte signature header, nothing after it.
    const SEVEN_Z: &[u8] = &[
        0x37, 0x7a, 0xbc, 0xaf, 0x27, 0x1c, 0x00, 0x04, 0x8d, 0x9b, 0xd5, 0x0f, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00,
    ];

    /// A one-page PDF, as small as a valid one gets.
    fn pdf() -> Vec<u8> {
        b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <</Type /Catalog /Pages 2 0 R>> endobj\n\
          2 0 obj <</Type /Pages /Kids [3 0 R] /Count 1>> endobj\n\
          3 0 obj <</Type /Page /Parent 2 0 R /MediaBox [0 0 200 200]>> endobj\n\
          trailer <</Root 1 0 R>>\n%%EOF\n"
            .to_vec()
    }

    /// A ZIP of `entries` (name, content), deflated, in the order given.
    fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        for (name, content) in entries {
            writer
                .start_file(*name, zip::write::SimpleFileOptions::default())
                .expect("entry");
            writer.write_all(content).expect("content");
        }
        writer.finish().expect("zip").into_inner()
    }

    /// An OOXML package laid out as Word (or Excel, PowerPoint) writes it:
    /// content types, relationships, then the main part.
    fn ooxml(part: &str) -> Vec<u8> {
        zip(&[
            ("[Content_Types].xml", b"<?xml version=\"1.0\"?><Types/>"),
            ("_rels/.rels", b"<?xml version=\"1.0\"?><Relationships/>"),
            (part, b"<?xml version=\"1.0\"?><document/>"),
        ])
    }

    /// An OpenDocument package: its `mimetype` entry first, stored.
    fn odf(mimetype: &str) -> Vec<u8> {
        let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
        let stored = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        writer.start_file("mimetype", stored).expect("mimetype");
        writer.write_all(mimetype.as_bytes()).expect("mimetype");
        writer
            .start_file("content.xml", zip::write::SimpleFileOptions::default())
            .expect("content");
        writer
            .write_all(b"<office:document-content/>")
            .expect("xml");
        writer.finish().expect("odf").into_inner()
    }

    /// A small legacy Office file (512-byte sectors, so its directory lies
    /// within the head): an OLE2 compound file whose root names the
    /// application's class.
    fn ole(clsid: &str) -> Vec<u8> {
        let mut file = cfb::CompoundFile::create_with_version(
            cfb::Version::V3,
            std::io::Cursor::new(Vec::new()),
        )
        .expect("compound file");
        let clsid = uuid::Uuid::parse_str(clsid).expect("clsid");
        file.set_storage_clsid("/", clsid).expect("clsid");
        let mut stream = file.create_stream("/WordDocument").expect("stream");
        stream.write_all(&[7u8; 600]).expect("bytes");
        drop(stream);
        file.flush().expect("flush");
        file.into_inner().into_inner()
    }

    fn tar() -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_ustar();
        header.set_size(5);
        header.set_cksum();
        builder
            .append_data(&mut header, "notes.txt", &b"hello"[..])
            .expect("entry");
        builder.into_inner().expect("tar")
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).expect("gzip");
        encoder.finish().expect("gzip")
    }

    /// Checks `bytes` as a file named `name`, as a caller would: the first
    /// [`HEAD_BYTES`] of it.
    fn check_bytes(name: &str, bytes: &[u8]) -> Result<Checked, MaterialError> {
        let head = &bytes[..bytes.len().min(HEAD_BYTES as usize)];
        check(name, bytes.len() as u64, head)
    }

    #[test]
    fn every_accepted_type_passes_with_real_bytes() {
        let text = "Week 1: kinematics\nНеделя 2: законы Ньютона\n"
            .as_bytes()
            .to_vec();
        let svg =
            b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1\"/>\n";
        let cases: Vec<(&str, Vec<u8>, MaterialType, &str)> = vec![
            ("syllabus.pdf", pdf(), MaterialType::Pdf, "application/pdf"),
            (
                "notes.docx",
                ooxml("word/document.xml"),
                MaterialType::Docx,
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            ),
            (
                "slides.PPTX",
                ooxml("ppt/presentation.xml"),
                MaterialType::Pptx,
                "application/vnd.openxmlformats-officedocument.presentationml.presentation",
            ),
            (
                "grades.xlsx",
                ooxml("xl/workbook.xml"),
                MaterialType::Xlsx,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            ),
            (
                "a.odt",
                odf("application/vnd.oasis.opendocument.text"),
                MaterialType::Odt,
                "application/vnd.oasis.opendocument.text",
            ),
            (
                "a.odp",
                odf("application/vnd.oasis.opendocument.presentation"),
                MaterialType::Odp,
                "application/vnd.oasis.opendocument.presentation",
            ),
            (
                "a.ods",
                odf("application/vnd.oasis.opendocument.spreadsheet"),
                MaterialType::Ods,
                "application/vnd.oasis.opendocument.spreadsheet",
            ),
            (
                "old.doc",
                ole("00020906-0000-0000-c000-000000000046"),
                MaterialType::Doc,
                "application/msword",
            ),
            (
                "old.xls",
                ole("00020820-0000-0000-c000-000000000046"),
                MaterialType::Xls,
                "application/vnd.ms-excel",
            ),
            (
                "old.ppt",
                ole("64818d10-4f9b-11cf-86ea-00aa00b929e8"),
                MaterialType::Ppt,
                "application/vnd.ms-powerpoint",
            ),
            ("logo.png", PNG.to_vec(), MaterialType::Png, "image/png"),
            ("photo.JPG", JPEG.to_vec(), MaterialType::Jpeg, "image/jpeg"),
            (
                "photo.jpeg",
                JPEG.to_vec(),
                MaterialType::Jpeg,
                "image/jpeg",
            ),
            ("spin.gif", GIF.to_vec(), MaterialType::Gif, "image/gif"),
            ("pic.webp", WEBP.to_vec(), MaterialType::Webp, "image/webp"),
            (
                "chart.svg",
                svg.to_vec(),
                MaterialType::Svg,
                "image/svg+xml",
            ),
            (
                "labs.zip",
                zip(&[("lab1/readme.txt", b"hi")]),
                MaterialType::Zip,
                "application/zip",
            ),
            ("data.tar", tar(), MaterialType::Tar, "application/x-tar"),
            (
                "data.tar.gz",
                gzip(&tar()),
                MaterialType::Gzip,
                "application/gzip",
            ),
            (
                "data.tgz",
                gzip(&tar()),
                MaterialType::Gzip,
                "application/gzip",
            ),
            (
                "code.7z",
                SEVEN_Z.to_vec(),
                MaterialType::SevenZip,
                "application/x-7z-compressed",
            ),
            (
                "readme.txt",
                text.clone(),
                MaterialType::Text,
                "text/plain; charset=utf-8",
            ),
            (
                "README.md",
                b"# Physics 101\n\n<b>bold</b>\n".to_vec(),
                MaterialType::Text,
                "text/markdown; charset=utf-8",
            ),
            (
                "grades.csv",
                b"name,grade\nAna,5\n".to_vec(),
                MaterialType::Text,
                "text/csv; charset=utf-8",
            ),
        ];
        for (name, bytes, kind, content_type) in cases {
            let checked =
                check_bytes(name, &bytes).unwrap_or_else(|e| panic!("{name} should pass: {e}"));
            assert_eq!(checked.declared, kind, "{name}");
            assert_eq!(checked.content_type, content_type, "{name}");
        }
    }

    #[test]
    fn a_text_file_renamed_pdf_is_a_clear_error() {
        let error = check_bytes("physics-101/syllabus.pdf", b"Week 1: kinematics\n")
            .expect_err("not a PDF");
        assert_eq!(
            error.to_string(),
            "physics-101/syllabus.pdf claims to be a PDF document (by its name) but its content \
             is plain text"
        );
        assert_eq!(error.kind(), MaterialErrorKind::Mismatch);
        assert_eq!(error.declared(), Some(MaterialType::Pdf));
        assert_eq!(error.detected(), Some(MaterialType::Text));
        assert_eq!(error.detected_media_type(), Some("text/plain"));
    }

    #[test]
    fn a_file_that_is_another_type_says_both() {
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            ("logo.png", JPEG.to_vec(), "claims to be a PNG image (by its name) but its content is a JPEG image"),
            ("slides.pptx", ooxml("word/document.xml"), "claims to be a PowerPoint presentation (PPTX) (by its name) but its content is a Word document (DOCX)"),
            ("slides.pptx", zip(&[("a.txt", b"a")]), "but its content is a ZIP archive"),
            ("old.xls", ole("00020906-0000-0000-c000-000000000046"), "claims to be an Excel 97–2003 workbook (XLS) (by its name) but its content is a Word 97–2003 document (DOC)"),
            ("syllabus.pdf", PNG.to_vec(), "but its content is a PNG image"),
            ("notes.txt", PNG.to_vec(), "claims to be plain text (by its name) but its content is a PNG image"),
            ("notes.txt", b"ab\0cd".to_vec(), "but its content is binary data of no type moocpipe recognises"),
            ("notes.txt", vec![0xff, 0xfe, b'a', 0], "but its content is binary data"),
            ("chart.svg", b"just words".to_vec(), "claims to be an SVG image (by its name) but its content is plain text"),
            ("song.zip", b"ID3\x03\x00\x00\x00\x00\x00\x00".to_vec(), "but its content is a .mp3 file (audio/mpeg)"),
        ];
        for (name, bytes, says) in cases {
            let error = check_bytes(name, &bytes).expect_err(name).to_string();
            assert!(error.starts_with(name), "{error}");
            assert!(error.contains(says), "{name}: {error}");
        }
    }

    #[test]
    fn empty_files_and_unknown_extensions_are_errors_listing_what_is_accepted() {
        let empty = check_bytes("a/syllabus.pdf", b"").expect_err("empty");
        assert_eq!(empty.kind(), MaterialErrorKind::Empty);
        assert_eq!(
            empty.to_string(),
            "a/syllabus.pdf: the file is empty; there is nothing to publish"
        );
        let unknown = check_bytes("a/talk.key", b"keynote").expect_err("unknown");
        assert_eq!(unknown.kind(), MaterialErrorKind::UnknownExtension);
        let text = unknown.to_string();
        assert!(
            text.starts_with("a/talk.key: not a material type moocpipe publishes (extension '.key'); accepted: .pdf, .docx,"),
            "{text}"
        );
        assert!(text.ends_with(", .txt, .md or .csv"), "{text}");
        let none = check_bytes("a/README", b"read me").expect_err("no extension");
        assert!(none.to_string().contains("(no extension)"), "{none}");
    }

    #[test]
    fn only_the_head_is_needed_and_a_character_cut_at_its_end_is_still_text() {
        let mut long = "é".repeat(HEAD_BYTES as usize); // 2 bytes each
        long.insert(0, 'a'); // so the head ends in the middle of an é
        let bytes = long.as_bytes();
        let head = &bytes[..HEAD_BYTES as usize];
        assert!(std::str::from_utf8(head).is_err());
        let checked = check("long.md", bytes.len() as u64, head).expect("text");
        assert_eq!(checked.detected, MaterialType::Text);
        // Whole, the same cut is not text.
        assert!(check("short.md", head.len() as u64, head).is_err());
    }

    #[test]
    fn an_ooxml_package_whose_parts_infer_does_not_reach_is_told_by_its_part_names() {
        // LibreOffice's order: relationships and document properties first.
        let docx = zip(&[
            ("_rels/.rels", b"<Relationships/>"),
            ("docProps/app.xml", b"<Properties/>"),
            ("docProps/core.xml", b"<coreProperties/>"),
            ("[Content_Types].xml", b"<Types/>"),
            ("word/document.xml", b"<document/>"),
        ]);
        let checked = check_bytes("notes.docx", &docx).expect("a DOCX");
        assert_eq!(checked.detected, MaterialType::Docx);
        assert!(check_bytes("notes.xlsx", &docx).is_err());
        // A plain ZIP that happens to hold a `word/` folder is a ZIP.
        let plain = zip(&[("word/list.txt", b"words")]);
        assert_eq!(
            check_bytes("words.zip", &plain).expect("a ZIP").detected,
            MaterialType::Zip
        );
    }

    #[test]
    fn a_legacy_office_file_whose_application_is_not_told_is_accepted_for_any_legacy_name() {
        // No class on the root: the first bytes say "OLE2", not which
        // application (as when the directory lies past the head, which it
        // does in any legacy file over a few KiB).
        let unknown = ole("00000000-0000-0000-0000-000000000000");
        for name in ["a.doc", "a.ppt", "a.xls"] {
            let checked = check_bytes(name, &unknown).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(checked.detected, MaterialType::LegacyOffice, "{name}");
            assert_eq!(
                checked.content_type,
                media_type_of(checked.declared),
                "{name}"
            );
        }
        // A real-sized one (4 KiB sectors, 20 KiB): infer's reader cannot
        // open its directory from the head, so it is told as OLE2 only.
        let mut big = cfb::CompoundFile::create(std::io::Cursor::new(Vec::new())).expect("cfb");
        let word = uuid::Uuid::parse_str("00020906-0000-0000-c000-000000000046").expect("clsid");
        big.set_storage_clsid("/", word).expect("clsid");
        big.create_stream("/WordDocument")
            .and_then(|mut s| s.write_all(&[7u8; 5000]))
            .expect("stream");
        big.flush().expect("flush");
        let big = big.into_inner().into_inner();
        assert!(big.len() as u64 > HEAD_BYTES);
        let checked = check_bytes("a.doc", &big).expect("a DOC");
        assert_eq!(checked.detected, MaterialType::LegacyOffice);
        let error = check_bytes("a.pdf", &unknown).expect_err("not a PDF");
        assert!(
            error
                .to_string()
                .contains("its content is an Office 97–2003 document"),
            "{error}"
        );
    }

    #[test]
    fn declared_types_come_from_the_last_extension_in_any_case() {
        assert_eq!(declared_type("a/b/Syllabus.PDF"), Some(MaterialType::Pdf));
        assert_eq!(declared_type("x.tar.gz"), Some(MaterialType::Gzip));
        assert_eq!(declared_type("x.pdf.txt"), Some(MaterialType::Text));
        assert_eq!(declared_type(".pdf"), None);
        assert_eq!(declared_type("pdf"), None);
        assert_eq!(declared_type("a.pdf/"), None);
    }
}
