//! The optional `<take>.json` next to a take: reading it, and checking what
//! the convention asks of its fields. Whether its `kind` agrees with the
//! take's folder is checked where the take is placed (`discover.rs`).

use std::fs;
use std::path::Path;

use moocpipe_proto::Sidecar;
use serde_json::error::Category;

use crate::LayoutError;

/// The spoken languages a sidecar's `language` may name (BCP 47, lowercase).
pub const LANGUAGES: &[&str] = &["kk", "ru", "en"];

/// The fields a sidecar may have, in `Sidecar`'s order.
const FIELDS: &[&str] = &["title", "author_email", "language", "kind"];

/// Reads the sidecar at `file` if there is one. `shown` is the same path as the
/// caller gave it, for errors. Something at that path that is not a regular
/// file (a folder named `take.json`) is not a sidecar.
pub(crate) fn read_sidecar(shown: &Path, file: &Path) -> Result<Option<Sidecar>, LayoutError> {
    match fs::metadata(file) {
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(err) => Err(LayoutError::from_io(shown, &err)),
        Ok(meta) if !meta.is_file() => Ok(None),
        Ok(_) => {
            let bytes = fs::read(file).map_err(|err| LayoutError::from_io(shown, &err))?;
            parse_sidecar(shown, &bytes).map(Some)
        }
    }
}

/// Parses and checks a sidecar's bytes; `path` only names it in errors.
///
/// Errors: not JSON ([`LayoutError::SidecarSyntax`], with line and column), a
/// field other than title, author_email, language, kind
/// ([`LayoutError::SidecarUnknownField`]), a field of the wrong type or an
/// unknown kind ([`LayoutError::SidecarInvalid`]), a `language` other than
/// those in [`LANGUAGES`] or a blank `title` or `author_email`
/// ([`LayoutError::SidecarValue`]).
pub fn parse_sidecar(path: &Path, json: &[u8]) -> Result<Sidecar, LayoutError> {
    // Syntax first, and the shape: serde would also read a struct from an
    // array (`["a title"]`), which a sidecar is not.
    let value: serde_json::Value =
        serde_json::from_slice(json).map_err(|err| LayoutError::SidecarSyntax {
            path: path.to_path_buf(),
            line: err.line(),
            column: err.column(),
            message: without_position(&err),
        })?;
    if !value.is_object() {
        let (line, column) = start_of_value(json);
        return Err(LayoutError::SidecarInvalid {
            path: path.to_path_buf(),
            line,
            column,
            message: format!("expected a JSON object, found {}", json_type(&value)),
        });
    }
    let sidecar: Sidecar = serde_json::from_slice(json).map_err(|err| {
        let (line, column) = (err.line(), err.column());
        let message = without_position(&err);
        let path = path.to_path_buf();
        match err.classify() {
            Category::Data => match unknown_field(&message, json) {
                Some(field) => LayoutError::SidecarUnknownField {
                    path,
                    field,
                    line,
                    column,
                },
                None => LayoutError::SidecarInvalid {
                    path,
                    line,
                    column,
                    message,
                },
            },
            Category::Syntax | Category::Eof | Category::Io => LayoutError::SidecarSyntax {
                path,
                line,
                column,
                message,
            },
        }
    })?;
    check_values(path, &sidecar)?;
    Ok(sidecar)
}

fn check_values(path: &Path, sidecar: &Sidecar) -> Result<(), LayoutError> {
    let value_error = |field: &'static str, problem: String| LayoutError::SidecarValue {
        path: path.to_path_buf(),
        field,
        problem,
    };
    if let Some(language) = &sidecar.language {
        if !LANGUAGES.contains(&language.as_str()) {
            return Err(value_error(
                "language",
                format!("is {language:?}; expected \"kk\", \"ru\" or \"en\""),
            ));
        }
    }
    for (field, value) in [
        ("title", &sidecar.title),
        ("author_email", &sidecar.author_email),
    ] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            return Err(value_error(
                field,
                "is blank; leave the field out instead".to_string(),
            ));
        }
    }
    Ok(())
}

/// Line and column (1-based) of the first character that is not whitespace.
fn start_of_value(json: &[u8]) -> (usize, usize) {
    let (mut line, mut column) = (1, 1);
    for byte in json {
        match byte {
            b'\n' => (line, column) = (line + 1, 1),
            b' ' | b'\t' | b'\r' => column += 1,
            _ => break,
        }
    }
    (line, column)
}

fn json_type(value: &serde_json::Value) -> &'static str {
    match value {
        serde_json::Value::Null => "null",
        serde_json::Value::Bool(_) => "a boolean",
        serde_json::Value::Number(_) => "a number",
        serde_json::Value::String(_) => "a string",
        serde_json::Value::Array(_) => "an array",
        serde_json::Value::Object(_) => "an object",
    }
}

/// serde_json's message without its " at line L column C" suffix (the error
/// variants carry line and column themselves).
fn without_position(err: &serde_json::Error) -> String {
    let full = err.to_string();
    let suffix = format!(" at line {} column {}", err.line(), err.column());
    match full.strip_suffix(&suffix) {
        Some(message) => message.to_string(),
        None => full,
    }
}

/// The unknown field a data error is about: from serde's "unknown field `x`"
/// message, else the first key of the JSON object that is not a sidecar field.
fn unknown_field(message: &str, json: &[u8]) -> Option<String> {
    if let Some(rest) = message.strip_prefix("unknown field `") {
        if let Some((field, _)) = rest.split_once('`') {
            return Some(field.to_string());
        }
    }
    let value: serde_json::Value = serde_json::from_slice(json).ok()?;
    value
        .as_object()?
        .keys()
        .find(|key| !FIELDS.contains(&key.as_str()))
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use moocpipe_proto::TakeKind;

    fn parse(json: &str) -> Result<Sidecar, LayoutError> {
        parse_sidecar(Path::new("c/01-a/01-b/t.json"), json.as_bytes())
    }

    #[test]
    fn a_full_sidecar_parses() {
        let sidecar = parse(
            r#"{"title": "Законы Ньютона", "author_email": "a@uni.kz",
                "language": "kk", "kind": "lecture"}"#,
        )
        .expect("valid");
        assert_eq!(
            sidecar,
            Sidecar {
                title: Some("Законы Ньютона".into()),
                author_email: Some("a@uni.kz".into()),
                language: Some("kk".into()),
                kind: Some(TakeKind::Lecture),
            }
        );
        assert_eq!(parse("{}").expect("empty object"), Sidecar::default());
    }

    #[test]
    fn malformed_json_gives_line_and_column() {
        let err = parse("{\n  \"title\": \"x\",\n}").expect_err("trailing comma");
        let LayoutError::SidecarSyntax { line, column, .. } = &err else {
            panic!("expected a syntax error, got {err:?}");
        };
        assert_eq!((*line, *column), (3, 1));
        assert_eq!(
            err.to_string(),
            "c/01-a/01-b/t.json: the sidecar is not valid JSON: trailing comma at line 3, column 1"
        );
        assert!(matches!(
            parse(""),
            Err(LayoutError::SidecarSyntax { line: 1, .. })
        ));
        assert!(matches!(
            parse_sidecar(Path::new("t.json"), b"{\"title\": \"\xff\"}"),
            Err(LayoutError::SidecarSyntax { .. })
        ));
    }

    #[test]
    fn an_unknown_field_is_named_with_its_position() {
        let err = parse("{\"title\": \"x\",\n \"speaker\": \"y\"}").expect_err("unknown");
        assert_eq!(
            err,
            LayoutError::SidecarUnknownField {
                path: "c/01-a/01-b/t.json".into(),
                field: "speaker".into(),
                line: 2,
                column: 10,
            }
        );
        assert!(err.to_string().contains(
            "unknown sidecar field `speaker` at line 2, column 10; a sidecar may only have"
        ));
    }

    #[test]
    fn wrong_types_and_kinds_are_invalid() {
        for json in [r#"{"title": 5}"#, r#"{"kind": "trailer"}"#, "[]", "\"x\""] {
            assert!(
                matches!(parse(json), Err(LayoutError::SidecarInvalid { .. })),
                "{json}: {:?}",
                parse(json)
            );
        }
        let err = parse(r#"{"kind": "trailer"}"#).expect_err("unknown kind");
        assert!(
            err.to_string().contains("unknown variant `trailer`"),
            "{err}"
        );
        // serde would read `["a title"]` as a struct; a sidecar is an object.
        assert_eq!(
            parse("\n  [\"a title\"]").expect_err("an array"),
            LayoutError::SidecarInvalid {
                path: "c/01-a/01-b/t.json".into(),
                line: 2,
                column: 3,
                message: "expected a JSON object, found an array".into(),
            }
        );
    }

    #[test]
    fn language_must_be_kk_ru_or_en() {
        for ok in LANGUAGES {
            let json = format!(r#"{{"language": "{ok}"}}"#);
            assert_eq!(parse(&json).expect("known").language.as_deref(), Some(*ok));
        }
        for bad in ["fr", "EN", "kk-KZ", ""] {
            let json = format!(r#"{{"language": "{bad}"}}"#);
            let err = parse(&json).expect_err("not allowed");
            assert_eq!(
                err.to_string(),
                format!(
                    "c/01-a/01-b/t.json: sidecar field `language` is {bad:?}; \
                     expected \"kk\", \"ru\" or \"en\""
                )
            );
        }
    }

    #[test]
    fn blank_title_or_author_is_refused() {
        for json in [r#"{"title": "  "}"#, r#"{"author_email": ""}"#] {
            assert!(
                matches!(parse(json), Err(LayoutError::SidecarValue { .. })),
                "{json}"
            );
        }
    }
}
