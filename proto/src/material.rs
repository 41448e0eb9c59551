//! Course materials (clause 9.4: "a valid link … for all types of
//! instructional material"): every file of a course folder that is not a
//! take — a syllabus, F-01 attachments, slides, images, archives — checked
//! by its content and published with a stable link.

use crate::run::StoredObject;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The outcome of the ingest event that says a material's record was
/// written: `take.ingest.material`. The catalog follows it to list the
/// material on its course's page.
pub const MATERIAL_EVENT: &str = "material";

/// A type of material the pipeline publishes: what a file's name claims
/// and, when its content is one of them, what its first bytes are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MaterialType {
    Pdf,
    Docx,
    Pptx,
    Xlsx,
    Odt,
    Odp,
    Ods,
    Doc,
    Ppt,
    Xls,
    /// An OLE2 compound file whose first bytes do not say which legacy
    /// Office application wrote it: accepted as `.doc`, `.ppt` or `.xls`.
    LegacyOffice,
    Png,
    Jpeg,
    Gif,
    Webp,
    Svg,
    Zip,
    /// gzip, a `.tar.gz` or `.tgz` included.
    Gzip,
    Tar,
    #[serde(rename = "7z")]
    SevenZip,
    /// UTF-8 text without NUL bytes (`.txt`, `.md`, `.csv`).
    Text,
}

/// What kind of material a type is, for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MaterialFamily {
    Document,
    Image,
    Archive,
    Text,
}

impl MaterialType {
    /// Every type, in the order the accepted list names them.
    pub const ALL: [MaterialType; 21] = [
        MaterialType::Pdf,
        MaterialType::Docx,
        MaterialType::Pptx,
        MaterialType::Xlsx,
        MaterialType::Odt,
        MaterialType::Odp,
        MaterialType::Ods,
        MaterialType::Doc,
        MaterialType::Ppt,
        MaterialType::Xls,
        MaterialType::LegacyOffice,
        MaterialType::Png,
        MaterialType::Jpeg,
        MaterialType::Gif,
        MaterialType::Webp,
        MaterialType::Svg,
        MaterialType::Zip,
        MaterialType::Gzip,
        MaterialType::Tar,
        MaterialType::SevenZip,
        MaterialType::Text,
    ];

    /// The wire name (`pdf`, `7z`, `legacy_office`).
    pub fn as_str(self) -> &'static str {
        match self {
            MaterialType::Pdf => "pdf",
            MaterialType::Docx => "docx",
            MaterialType::Pptx => "pptx",
            MaterialType::Xlsx => "xlsx",
            MaterialType::Odt => "odt",
            MaterialType::Odp => "odp",
            MaterialType::Ods => "ods",
            MaterialType::Doc => "doc",
            MaterialType::Ppt => "ppt",
            MaterialType::Xls => "xls",
            MaterialType::LegacyOffice => "legacy_office",
            MaterialType::Png => "png",
            MaterialType::Jpeg => "jpeg",
            MaterialType::Gif => "gif",
            MaterialType::Webp => "webp",
            MaterialType::Svg => "svg",
            MaterialType::Zip => "zip",
            MaterialType::Gzip => "gzip",
            MaterialType::Tar => "tar",
            MaterialType::SevenZip => "7z",
            MaterialType::Text => "text",
        }
    }

    /// The type's name for people: "PDF document", "PNG image".
    pub fn label(self) -> &'static str {
        match self {
            MaterialType::Pdf => "PDF document",
            MaterialType::Docx => "Word document (DOCX)",
            MaterialType::Pptx => "PowerPoint presentation (PPTX)",
            MaterialType::Xlsx => "Excel workbook (XLSX)",
            MaterialType::Odt => "OpenDocument text (ODT)",
            MaterialType::Odp => "OpenDocument presentation (ODP)",
            MaterialType::Ods => "OpenDocument spreadsheet (ODS)",
            MaterialType::Doc => "Word 97–2003 document (DOC)",
            MaterialType::Ppt => "PowerPoint 97–2003 presentation (PPT)",
            MaterialType::Xls => "Excel 97–2003 workbook (XLS)",
            MaterialType::LegacyOffice => "Office 97–2003 document",
            MaterialType::Png => "PNG image",
            MaterialType::Jpeg => "JPEG image",
            MaterialType::Gif => "GIF image",
            MaterialType::Webp => "WebP image",
            MaterialType::Svg => "SVG image",
            MaterialType::Zip => "ZIP archive",
            MaterialType::Gzip => "gzip archive",
            MaterialType::Tar => "tar archive",
            MaterialType::SevenZip => "7z archive",
            MaterialType::Text => "plain text",
        }
    }

    /// [`MaterialType::label`] with an article, for sentences: "a PDF
    /// document", "an Excel workbook (XLSX)", "plain text".
    pub fn describe(self) -> String {
        let label = self.label();
        match self {
            MaterialType::Text => label.to_owned(),
            MaterialType::Odt
            | MaterialType::Odp
            | MaterialType::Ods
            | MaterialType::Xls
            | MaterialType::Xlsx
            | MaterialType::LegacyOffice
            | MaterialType::Svg => format!("an {label}"),
            _ => format!("a {label}"),
        }
    }

    pub fn family(self) -> MaterialFamily {
        match self {
            MaterialType::Pdf
            | MaterialType::Docx
            | MaterialType::Pptx
            | MaterialType::Xlsx
            | MaterialType::Odt
            | MaterialType::Odp
            | MaterialType::Ods
            | MaterialType::Doc
            | MaterialType::Ppt
            | MaterialType::Xls
            | MaterialType::LegacyOffice => MaterialFamily::Document,
            MaterialType::Png
            | MaterialType::Jpeg
            | MaterialType::Gif
            | MaterialType::Webp
            | MaterialType::Svg => MaterialFamily::Image,
            MaterialType::Zip | MaterialType::Gzip | MaterialType::Tar | MaterialType::SevenZip => {
                MaterialFamily::Archive
            }
            MaterialType::Text => MaterialFamily::Text,
        }
    }
}

impl std::fmt::Display for MaterialType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A material's verdict: published, or not (with why).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MaterialVerdict {
    /// Its content is the type its name claims: copied into the store and
    /// linked.
    Ok,
    /// Not published: see `error`.
    Error,
}

impl MaterialVerdict {
    pub fn as_str(self) -> &'static str {
        match self {
            MaterialVerdict::Ok => "ok",
            MaterialVerdict::Error => "error",
        }
    }
}

/// Why a material was not published.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum MaterialErrorKind {
    /// The file has no bytes.
    Empty,
    /// Its extension is not one of the accepted types (the message lists them).
    UnknownExtension,
    /// Its content is not the type its name claims.
    Mismatch,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaterialError {
    pub kind: MaterialErrorKind,
    /// Names the file and the cause, e.g. "…/syllabus.pdf claims to be a
    /// PDF document (by its name) but its content is plain text".
    pub message: String,
}

/// `courses/<course>/material-records/<id>.json`: one material of a course,
/// checked and — when its content is what its name claims — copied to
/// `courses/<course>/materials/<path>`. Written last, after the copy; a
/// failed material is recorded too (nothing copied). The same version of
/// the same file is checked once: a second run finds this record and
/// changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct MaterialRecord {
    pub schema_version: u32,
    pub course: String,
    /// Its path below the course folder, `/`-separated:
    /// `01-mechanics/slides.pdf`.
    pub path: String,
    /// Where it was read: a local path or `s3://bucket/key`.
    pub source: String,
    /// The version of the source that was checked: the S3 ETag, or size and
    /// modification time of a local file. A new version is checked again.
    pub source_version: String,
    pub size_bytes: u64,
    /// The type its extension claims; absent for an extension that is not
    /// accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared: Option<MaterialType>,
    /// The accepted type its first bytes are, when they are one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected: Option<MaterialType>,
    /// The media type its first bytes were recognised as, accepted or not
    /// (`audio/mpeg` for an MP3 named `.pdf`); absent when unrecognised.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detected_media_type: Option<String>,
    pub verdict: MaterialVerdict,
    /// The media type it is published with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The copy in the store, with its size and ETag from a HEAD after the
    /// upload (what the stable link checks); absent when not published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<StoredObject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<MaterialError>,
}

impl MaterialRecord {
    /// The file's name (the last part of its path).
    pub fn name(&self) -> &str {
        self.path.rsplit('/').next().unwrap_or(&self.path)
    }
}
