//! The two assets a ggml Whisper file embeds besides the weights, read the
//! way whisper.cpp's `models/convert-pt-to-ggml.py` reads them from the
//! openai-whisper package's `whisper/assets`:
//!
//! - the mel filter bank, `mel_filters.npz` (a zip of `.npy` arrays named
//!   `mel_80` and `mel_128`, float32, `n_mels × 201`);
//! - the byte-level BPE vocabulary, a tiktoken file (`gpt2.tiktoken` for the
//!   English-only models, `multilingual.tiktoken` otherwise): one
//!   `base64(token) rank` per line, ranks 0, 1, 2, … in order.

use std::io::{Read, Seek};
use std::path::Path;

use crate::error::ModelError;

/// A mel filter bank: `n_mel` rows of `n_fft` weights, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct MelFilters {
    pub n_mel: usize,
    pub n_fft: usize,
    pub data: Vec<f32>,
}

/// Reads the `mel_<n_mels>` array of a `mel_filters.npz`.
pub fn mel_filters<R: Read + Seek>(
    npz: R,
    n_mels: usize,
    file: &Path,
) -> Result<MelFilters, ModelError> {
    let mut archive = zip::ZipArchive::new(npz)
        .map_err(|e| ModelError::format(file, format!("not a zip (npz) archive: {e}")))?;
    let member = format!("mel_{n_mels}.npy");
    let mut npy = Vec::new();
    archive
        .by_name(&member)
        .map_err(|_| ModelError::MissingMember {
            archive: file.to_path_buf(),
            member: member.clone(),
        })?
        .read_to_end(&mut npy)
        .map_err(|e| ModelError::format(file, format!("{member}: {e}")))?;
    let (shape, data) = npy_f32(&npy)
        .map_err(|message| ModelError::format(file, format!("{member}: {message}")))?;
    match shape[..] {
        [n_mel, n_fft] if n_mel == n_mels => Ok(MelFilters { n_mel, n_fft, data }),
        _ => Err(ModelError::format(
            file,
            format!("{member}: shape {shape:?}, expected ({n_mels}, n_fft)"),
        )),
    }
}

/// Parses a `.npy` holding a C-ordered little-endian float32 array: its
/// shape and its elements.
fn npy_f32(bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>), String> {
    let rest = bytes
        .strip_prefix(b"\x93NUMPY")
        .ok_or("not a .npy array (bad magic)")?;
    let (major, rest) = rest.split_first().ok_or("truncated header")?;
    let (_minor, rest) = rest.split_first().ok_or("truncated header")?;
    let (header_len, rest) = match major {
        1 => {
            let (len, rest) = rest.split_at_checked(2).ok_or("truncated header")?;
            (usize::from(u16::from_le_bytes([len[0], len[1]])), rest)
        }
        2 | 3 => {
            let (len, rest) = rest.split_at_checked(4).ok_or("truncated header")?;
            (
                u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize,
                rest,
            )
        }
        v => return Err(format!(".npy format version {v} not supported")),
    };
    let (header, data) = rest
        .split_at_checked(header_len)
        .ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header not text")?;

    let descr = dict_value(header, "descr").ok_or("header has no descr")?;
    if descr.trim_matches(['\'', '"']) != "<f4" {
        return Err(format!("dtype {descr}, expected '<f4'"));
    }
    if dict_value(header, "fortran_order") != Some("False") {
        return Err("Fortran-ordered arrays not supported".into());
    }
    let shape_text = dict_value(header, "shape").ok_or("header has no shape")?;
    let shape = shape_text
        .trim_matches(['(', ')'])
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<usize>()
                .map_err(|_| format!("bad shape {shape_text}"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let count: usize = shape.iter().product();
    if data.len() != count * 4 {
        return Err(format!(
            "{} data bytes for shape {shape:?} of float32",
            data.len()
        ));
    }
    let values = data
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok((shape, values))
}

/// The raw text of `key`'s value in a .npy header, a Python dict literal
/// such as `{'descr': '<f4', 'fortran_order': False, 'shape': (80, 201), }`.
fn dict_value<'a>(header: &'a str, key: &str) -> Option<&'a str> {
    let start = header
        .find(&format!("'{key}'"))
        .or_else(|| header.find(&format!("\"{key}\"")))?
        + key.len()
        + 2;
    let rest = header[start..].trim_start().strip_prefix(':')?.trim_start();
    let end = if rest.starts_with('(') {
        rest.find(')')? + 1
    } else {
        rest.find([',', '}'])?
    };
    Some(rest[..end].trim())
}

/// Reads a tiktoken vocabulary: the tokens' bytes in rank order.
pub fn tiktoken(text: &[u8], file: &Path) -> Result<Vec<Vec<u8>>, ModelError> {
    let mut tokens = Vec::new();
    for (number, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            continue;
        }
        let bad = |what: &str| ModelError::format(file, format!("line {}: {what}", number + 1));
        let line = std::str::from_utf8(line).map_err(|_| bad("not text"))?;
        let mut fields = line.split_ascii_whitespace();
        let (Some(token), Some(rank), None) = (fields.next(), fields.next(), fields.next()) else {
            return Err(bad("expected `base64 rank`"));
        };
        let rank: usize = rank.parse().map_err(|_| bad("bad rank"))?;
        if rank != tokens.len() {
            return Err(bad(&format!("rank {rank}, expected {}", tokens.len())));
        }
        tokens.push(base64_decode(token).ok_or_else(|| bad("bad base64"))?);
    }
    Ok(tokens)
}

/// Standard base64 (RFC 4648 alphabet, optional `=` padding), decoded as
/// leniently as Python's `base64.b64decode`: `multilingual.tiktoken` holds
/// the empty token as a lone `=`.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    fn sextet(c: u8) -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    }
    let body = text.trim_end_matches('=').as_bytes();
    if body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    for chunk in body.chunks(4) {
        let mut acc = 0u32;
        for &c in chunk {
            acc = (acc << 6) | sextet(c)?;
        }
        acc <<= 6 * (4 - chunk.len() as u32);
        let bytes = acc.to_be_bytes();
        out.extend(&bytes[1..chunk.len()]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_python() {
        assert_eq!(base64_decode("IQ==").unwrap(), b"!");
        assert_eq!(base64_decode("IGF0").unwrap(), b" at");
        assert_eq!(base64_decode("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(base64_decode("5Zy6").unwrap(), "场".as_bytes());
        assert_eq!(base64_decode("=").unwrap(), b"");
        assert_eq!(base64_decode("").unwrap(), b"");
        assert!(base64_decode("a").is_none());
        assert!(base64_decode("a*b=").is_none());
    }

    #[test]
    fn tiktoken_in_rank_order() {
        let tokens = tiktoken(b"IQ== 0\nIg== 1\n= 2\n", Path::new("t")).unwrap();
        assert_eq!(tokens, vec![b"!".to_vec(), b"\"".to_vec(), Vec::new()]);
        let err = tiktoken(b"IQ== 0\nIg== 5\n", Path::new("t")).unwrap_err();
        assert!(err.to_string().contains("line 2"), "{err}");
    }

    fn npy(header: &str, values: &[f32]) -> Vec<u8> {
        let mut out = b"\x93NUMPY\x01\x00".to_vec();
        let mut header = header.to_string();
        while !(10 + header.len() + 1).is_multiple_of(64) {
            header.push(' ');
        }
        header.push('\n');
        out.extend((header.len() as u16).to_le_bytes());
        out.extend(header.as_bytes());
        out.extend(values.iter().flat_map(|v| v.to_le_bytes()));
        out
    }

    #[test]
    fn npy_header_and_data() {
        let bytes = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
            &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        );
        let (shape, data) = npy_f32(&bytes).unwrap();
        assert_eq!(shape, vec![2, 3]);
        assert_eq!(data, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);

        let f8 = npy(
            "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }",
            &[0.0, 0.0],
        );
        assert!(npy_f32(&f8).unwrap_err().contains("<f8"));
        let short = npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }",
            &[0.0],
        );
        assert!(npy_f32(&short).is_err());
    }
}
