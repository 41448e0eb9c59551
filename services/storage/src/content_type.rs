//! Media types by file extension, for the objects this pipeline writes.
//!
//! S3 stores the type given at upload and serves it back, which is what
//! makes a presigned rendition or report open in a browser instead of
//! downloading as `binary/octet-stream`. The local store has nowhere to keep
//! a type, so it answers with this guess, and callers that do not know the
//! type of what they upload can use it too.

/// The media type for a key, from its extension; `application/octet-stream`
/// when the extension is not one the pipeline writes or reads.
pub fn for_key(key: &str) -> &'static str {
    let name = key.rsplit('/').next().unwrap_or(key);
    let ext = match name.rsplit_once('.') {
        Some((_, ext)) => ext.to_ascii_lowercase(),
        None => return OCTET_STREAM,
    };
    match ext.as_str() {
        "json" => "application/json",
        "csv" => "text/csv; charset=utf-8",
        "html" | "htm" => "text/html; charset=utf-8",
        "txt" => "text/plain; charset=utf-8",
        "vtt" => "text/vtt; charset=utf-8",
        "srt" => "application/x-subrip",
        "mp4" | "m4v" => "video/mp4",
        "m4s" => "video/iso.segment",
        "ts" => "video/mp2t",
        "m3u8" => "application/vnd.apple.mpegurl",
        "mov" => "video/quicktime",
        "mxf" => "application/mxf",
        "mkv" => "video/x-matroska",
        "avi" => "video/x-msvideo",
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "wav" => "audio/wav",
        _ => OCTET_STREAM,
    }
}

/// The type of bytes whose kind is unknown.
pub const OCTET_STREAM: &str = "application/octet-stream";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_extensions_get_their_type_and_others_are_octet_stream() {
        assert_eq!(for_key("takes/a/records/probe.json"), "application/json");
        assert_eq!(for_key("takes/a/renditions/X-1080p.MP4"), "video/mp4");
        assert_eq!(
            for_key("takes/a/renditions/hls/master.m3u8"),
            "application/vnd.apple.mpegurl"
        );
        assert_eq!(for_key("takes/a/no-extension"), OCTET_STREAM);
        assert_eq!(for_key("takes/a.b/file"), OCTET_STREAM);
    }
}
