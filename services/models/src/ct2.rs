//! Reader of CTranslate2's `model.bin`.
//!
//! The only Whisper weights reachable from a package registry are
//! faster-whisper's CTranslate2 conversions, so this is the converter's input.
//! The layout follows `python/ctranslate2/specs/model_spec.py`
//! (`ModelSpec._serialize`) and the loader in `src/models/model.cc`, all
//! little-endian:
//!
//! ```text
//! u32 binary_version                      (≤ 6 understood)
//! string spec_name, u32 spec_revision     (binary_version ≥ 2)
//! u32 n_variables, then per variable:
//!   string name, u8 rank, u32 × rank shape,
//!   u8 dtype id, u32 n_bytes               (binary_version ≥ 4; before: u8 item size, u32 n_items)
//!   n_bytes of row-major data
//! u32 n_aliases, then per alias: string alias, string variable   (binary_version ≥ 3)
//! string = u16 length including a trailing NUL, the bytes, the NUL
//! ```
//!
//! [`Ct2Model::open`] reads only the index (names, shapes, types, offsets) and
//! seeks over the data; [`Ct2Model::read`] then loads one variable at a time,
//! so converting a model never holds more than its largest tensor in memory.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::ModelError;

/// The newest `model.bin` layout this reader knows (CTranslate2's
/// `CURRENT_BINARY_VERSION` when this was written).
pub const MAX_BINARY_VERSION: u32 = 6;

/// A variable's element type; the ids are CTranslate2's `DataType` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl DType {
    /// The type with CTranslate2's id `id` (`include/ctranslate2/types.h`).
    pub fn from_id(id: u8) -> Option<DType> {
        Some(match id {
            0 => DType::F32,
            1 => DType::I8,
            2 => DType::I16,
            3 => DType::I32,
            4 => DType::F16,
            5 => DType::BF16,
            _ => return None,
        })
    }

    /// CTranslate2's id of this type.
    pub fn id(self) -> u8 {
        match self {
            DType::F32 => 0,
            DType::I8 => 1,
            DType::I16 => 2,
            DType::I32 => 3,
            DType::F16 => 4,
            DType::BF16 => 5,
        }
    }

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::I32 => 4,
        }
    }

    /// The type binary versions before 4 inferred from the item size alone.
    fn from_item_size(size: u8) -> Option<DType> {
        Some(match size {
            4 => DType::F32,
            2 => DType::I16,
            1 => DType::I8,
            _ => return None,
        })
    }
}

/// One variable of the index: where its data is, not the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    offset: u64,
    num_bytes: u64,
}

impl Variable {
    /// Number of elements (1 for a scalar).
    pub fn num_elements(&self) -> usize {
        self.shape.iter().product()
    }
}

/// A variable's data, as stored: row-major, little-endian.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    pub name: String,
    pub shape: Vec<usize>,
    pub dtype: DType,
    pub data: Vec<u8>,
}

impl Tensor {
    /// The elements as little-endian IEEE half floats; see [`to_f16`].
    pub fn to_f16_bytes(&self) -> Option<Cow<'_, [u8]>> {
        to_f16(self.dtype, &self.data)
    }

    /// The elements as little-endian f32; see [`to_f32`].
    pub fn to_f32_bytes(&self) -> Option<Cow<'_, [u8]>> {
        to_f32(self.dtype, &self.data)
    }

    /// The elements as f32, for float types only.
    pub fn floats(&self) -> Option<impl Iterator<Item = f32> + '_> {
        floats(self.dtype, &self.data)
    }

    /// The value of an integer or boolean scalar (CTranslate2 stores flags
    /// and head counts as int8/int16/int32 scalars).
    pub fn as_int(&self) -> Option<i64> {
        if self.shape.iter().product::<usize>() != 1 {
            return None;
        }
        let d = &self.data;
        match self.dtype {
            DType::I8 => Some(i64::from(i8::from_le_bytes([*d.first()?]))),
            DType::I16 => Some(i64::from(i16::from_le_bytes([*d.first()?, *d.get(1)?]))),
            DType::I32 => Some(i64::from(i32::from_le_bytes(d.get(..4)?.try_into().ok()?))),
            _ => None,
        }
    }

    /// The value of a float scalar.
    pub fn as_float(&self) -> Option<f32> {
        if self.shape.iter().product::<usize>() != 1 {
            return None;
        }
        self.floats()?.next()
    }
}

/// `data` of type `dtype` as little-endian IEEE half floats (what ggml
/// calls F16): F16 data is borrowed as is, F32 and BF16 are rounded to
/// nearest; `None` for integer types.
pub fn to_f16(dtype: DType, data: &[u8]) -> Option<Cow<'_, [u8]>> {
    match dtype {
        DType::F16 => Some(Cow::Borrowed(data)),
        _ => Some(Cow::Owned(
            floats(dtype, data)?
                .flat_map(|x| half::f16::from_f32(x).to_le_bytes())
                .collect(),
        )),
    }
}

/// `data` of type `dtype` as little-endian f32 (widening from F16 and BF16
/// is exact); `None` for integer types.
pub fn to_f32(dtype: DType, data: &[u8]) -> Option<Cow<'_, [u8]>> {
    match dtype {
        DType::F32 => Some(Cow::Borrowed(data)),
        _ => Some(Cow::Owned(
            floats(dtype, data)?.flat_map(f32::to_le_bytes).collect(),
        )),
    }
}

/// The elements of float `data` of type `dtype`; `None` for integer types.
pub fn floats(dtype: DType, data: &[u8]) -> Option<impl Iterator<Item = f32> + '_> {
    let convert: fn(&[u8]) -> f32 = match dtype {
        DType::F32 => |b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]),
        DType::F16 => |b| half::f16::from_le_bytes([b[0], b[1]]).to_f32(),
        DType::BF16 => |b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32(),
        _ => return None,
    };
    Some(data.chunks_exact(dtype.size()).map(convert))
}

/// An opened `model.bin`: its header and variable index, and the reader to
/// load variables from.
pub struct Ct2Model<R> {
    reader: R,
    file: PathBuf,
    binary_version: u32,
    spec: String,
    revision: u32,
    variables: Vec<Variable>,
    index: HashMap<String, usize>,
    aliases: Vec<(String, String)>,
}

impl Ct2Model<BufReader<File>> {
    /// Opens `path` and reads its index.
    pub fn open_file(path: &Path) -> Result<Self, ModelError> {
        let file = File::open(path).map_err(|e| ModelError::io(path, e))?;
        Ct2Model::open(BufReader::with_capacity(1 << 20, file), path)
    }
}

impl<R: Read + Seek> Ct2Model<R> {
    /// Reads the index of a `model.bin` from `reader`; `file` names it in
    /// errors.
    pub fn open(mut reader: R, file: &Path) -> Result<Self, ModelError> {
        let mut input = Input {
            reader: &mut reader,
            file,
        };
        let len = input.seek(SeekFrom::End(0))?;
        input.seek(SeekFrom::Start(0))?;

        let binary_version = input.u32("binary version")?;
        if binary_version == 0 || binary_version > MAX_BINARY_VERSION {
            return Err(ModelError::format(
                file,
                format!(
                    "CTranslate2 binary version {binary_version} is not supported \
                     (this reader knows versions 1 to {MAX_BINARY_VERSION})"
                ),
            ));
        }
        let (spec, revision) = if binary_version >= 2 {
            (input.string("spec name")?, input.u32("spec revision")?)
        } else {
            (String::new(), 1)
        };

        let count = input.u32("variable count")?;
        let mut variables = Vec::new();
        let mut index = HashMap::new();
        for _ in 0..count {
            let name = input.string("variable name")?;
            let rank = input.u8("rank")?;
            let mut shape = Vec::with_capacity(usize::from(rank));
            for _ in 0..rank {
                shape.push(input.u32("dimension")? as usize);
            }
            let (dtype, num_bytes) = if binary_version >= 4 {
                let id = input.u8("dtype")?;
                let dtype = DType::from_id(id).ok_or_else(|| {
                    ModelError::format(file, format!("variable {name}: unknown dtype id {id}"))
                })?;
                (dtype, u64::from(input.u32("byte count")?))
            } else {
                let item_size = input.u8("item size")?;
                let dtype = DType::from_item_size(item_size).ok_or_else(|| {
                    ModelError::format(
                        file,
                        format!("variable {name}: unknown item size {item_size}"),
                    )
                })?;
                (
                    dtype,
                    u64::from(input.u32("item count")?) * u64::from(item_size),
                )
            };
            let expected = shape
                .iter()
                .try_fold(dtype.size() as u64, |acc, &d| acc.checked_mul(d as u64));
            if expected != Some(num_bytes) {
                return Err(ModelError::format(
                    file,
                    format!(
                        "variable {name}: {num_bytes} bytes do not hold shape {shape:?} of {dtype:?}"
                    ),
                ));
            }
            let offset = input.position()?;
            if offset + num_bytes > len {
                return Err(ModelError::format(
                    file,
                    format!(
                        "truncated: variable {name} needs bytes {offset}..{} of a {len}-byte file",
                        offset + num_bytes
                    ),
                ));
            }
            input.seek(SeekFrom::Start(offset + num_bytes))?;
            if index.insert(name.clone(), variables.len()).is_some() {
                return Err(ModelError::format(
                    file,
                    format!("variable {name} appears twice"),
                ));
            }
            variables.push(Variable {
                name,
                shape,
                dtype,
                offset,
                num_bytes,
            });
        }

        let mut aliases = Vec::new();
        if binary_version >= 3 {
            let count = input.u32("alias count")?;
            for _ in 0..count {
                let alias = input.string("alias")?;
                let target = input.string("alias target")?;
                aliases.push((alias, target));
            }
        }

        Ok(Ct2Model {
            reader,
            file: file.to_path_buf(),
            binary_version,
            spec,
            revision,
            variables,
            index,
            aliases,
        })
    }

    /// Loads the data of variable `name` (or of what it aliases).
    pub fn read(&mut self, name: &str) -> Result<Tensor, ModelError> {
        let variable = self
            .variable(name)
            .cloned()
            .ok_or_else(|| ModelError::format(&self.file, format!("no variable {name}")))?;
        let mut input = Input {
            reader: &mut self.reader,
            file: &self.file,
        };
        input.seek(SeekFrom::Start(variable.offset))?;
        let len = usize::try_from(variable.num_bytes)
            .map_err(|_| ModelError::format(&self.file, format!("variable {name} too large")))?;
        let mut data = vec![0; len];
        input.exact(&mut data, name)?;
        Ok(Tensor {
            name: variable.name,
            shape: variable.shape,
            dtype: variable.dtype,
            data,
        })
    }
}

impl<R> Ct2Model<R> {
    /// The file this model was read from, for error messages.
    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn binary_version(&self) -> u32 {
        self.binary_version
    }

    /// The spec's class name, e.g. `WhisperSpec` (empty before binary version 2).
    pub fn spec(&self) -> &str {
        &self.spec
    }

    pub fn revision(&self) -> u32 {
        self.revision
    }

    /// Every stored variable, in file order (CTranslate2 sorts them by name).
    pub fn variables(&self) -> &[Variable] {
        &self.variables
    }

    /// `(alias, variable)` pairs: names that share another variable's data,
    /// such as a projection tied to the embeddings.
    pub fn aliases(&self) -> &[(String, String)] {
        &self.aliases
    }

    /// The variable called `name`, following an alias.
    pub fn variable(&self, name: &str) -> Option<&Variable> {
        let target = self
            .aliases
            .iter()
            .find(|(alias, _)| alias == name)
            .map_or(name, |(_, target)| target.as_str());
        self.index.get(target).map(|&i| &self.variables[i])
    }
}

/// Little-endian primitives over a reader, with errors that say what was
/// being read.
struct Input<'a, R> {
    reader: &'a mut R,
    file: &'a Path,
}

impl<R: Read + Seek> Input<'_, R> {
    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), ModelError> {
        self.reader.read_exact(buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                ModelError::format(self.file, format!("truncated while reading {what}"))
            } else {
                ModelError::io(self.file, e)
            }
        })
    }

    fn u8(&mut self, what: &str) -> Result<u8, ModelError> {
        let mut b = [0; 1];
        self.exact(&mut b, what)?;
        Ok(b[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16, ModelError> {
        let mut b = [0; 2];
        self.exact(&mut b, what)?;
        Ok(u16::from_le_bytes(b))
    }

    fn u32(&mut self, what: &str) -> Result<u32, ModelError> {
        let mut b = [0; 4];
        self.exact(&mut b, what)?;
        Ok(u32::from_le_bytes(b))
    }

    /// A length-prefixed, NUL-terminated UTF-8 string.
    fn string(&mut self, what: &str) -> Result<String, ModelError> {
        let len = self.u16(what)?;
        if len == 0 {
            return Err(ModelError::format(
                self.file,
                format!("{what}: invalid string length 0"),
            ));
        }
        let mut bytes = vec![0; usize::from(len)];
        self.exact(&mut bytes, what)?;
        if bytes.pop() != Some(0) {
            return Err(ModelError::format(
                self.file,
                format!("{what}: string not NUL-terminated"),
            ));
        }
        String::from_utf8(bytes)
            .map_err(|_| ModelError::format(self.file, format!("{what}: string not UTF-8")))
    }

    fn position(&mut self) -> Result<u64, ModelError> {
        self.reader
            .stream_position()
            .map_err(|e| ModelError::io(self.file, e))
    }

    fn seek(&mut self, to: SeekFrom) -> Result<u64, ModelError> {
        self.reader
            .seek(to)
            .map_err(|e| ModelError::io(self.file, e))
    }
}

/// Writes a `model.bin` (binary version 6) from `(name, shape, dtype, data)`
/// variables and aliases: the inverse of [`Ct2Model::open`], for tests.
#[cfg(test)]
pub(crate) fn encode(
    spec: &str,
    revision: u32,
    variables: &[(&str, &[usize], DType, Vec<u8>)],
    aliases: &[(&str, &str)],
) -> Vec<u8> {
    fn string(out: &mut Vec<u8>, s: &str) {
        out.extend((s.len() as u16 + 1).to_le_bytes());
        out.extend(s.as_bytes());
        out.push(0);
    }
    let mut out = Vec::new();
    out.extend(6u32.to_le_bytes());
    string(&mut out, spec);
    out.extend(revision.to_le_bytes());
    out.extend((variables.len() as u32).to_le_bytes());
    for (name, shape, dtype, data) in variables {
        string(&mut out, name);
        out.push(shape.len() as u8);
        for &d in shape.iter() {
            out.extend((d as u32).to_le_bytes());
        }
        out.push(dtype.id());
        out.extend((data.len() as u32).to_le_bytes());
        out.extend(data);
    }
    out.extend((aliases.len() as u32).to_le_bytes());
    for (alias, target) in aliases {
        string(&mut out, alias);
        string(&mut out, target);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn f16s(values: &[f32]) -> Vec<u8> {
        values
            .iter()
            .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
            .collect()
    }

    /// A model.bin written byte by byte, independent of [`encode`].
    fn handwritten() -> Vec<u8> {
        let mut b: Vec<u8> = Vec::new();
        b.extend([6, 0, 0, 0]); // binary version 6
        b.extend([12, 0]); // "WhisperSpec\0"
        b.extend(b"WhisperSpec\0");
        b.extend([3, 0, 0, 0]); // revision 3
        b.extend([2, 0, 0, 0]); // two variables
        b.extend([18, 0]);
        b.extend(b"encoder/num_heads\0");
        b.push(0); // rank 0
        b.push(2); // int16
        b.extend([2, 0, 0, 0]); // two bytes
        b.extend([6, 0]); // 6
        b.extend([8, 0]);
        b.extend(b"w/gamma\0");
        b.push(2); // rank 2
        b.extend([2, 0, 0, 0, 3, 0, 0, 0]); // shape [2, 3]
        b.push(4); // float16
        b.extend([12, 0, 0, 0]); // 12 bytes
        b.extend(f16s(&[1.0, 2.0, 3.0, -1.0, 0.5, 0.0]));
        b.extend([1, 0, 0, 0]); // one alias
        b.extend([8, 0]);
        b.extend(b"w/alias\0");
        b.extend([8, 0]);
        b.extend(b"w/gamma\0");
        b
    }

    #[test]
    fn reads_a_handwritten_model() {
        let bytes = handwritten();
        assert_eq!(
            bytes,
            encode(
                "WhisperSpec",
                3,
                &[
                    ("encoder/num_heads", &[], DType::I16, vec![6, 0]),
                    (
                        "w/gamma",
                        &[2, 3],
                        DType::F16,
                        f16s(&[1.0, 2.0, 3.0, -1.0, 0.5, 0.0])
                    ),
                ],
                &[("w/alias", "w/gamma")],
            ),
            "the test encoder writes the same bytes as the handwritten model"
        );
        let mut model = Ct2Model::open(Cursor::new(bytes), Path::new("model.bin")).unwrap();
        assert_eq!(model.binary_version(), 6);
        assert_eq!(model.spec(), "WhisperSpec");
        assert_eq!(model.revision(), 3);
        assert_eq!(model.variables().len(), 2);
        assert_eq!(model.aliases(), &[("w/alias".into(), "w/gamma".into())]);

        let heads = model.read("encoder/num_heads").unwrap();
        assert_eq!(heads.shape, Vec::<usize>::new());
        assert_eq!(heads.as_int(), Some(6));

        let w = model.read("w/alias").unwrap();
        assert_eq!(w.name, "w/gamma");
        assert_eq!(w.shape, vec![2, 3]);
        assert_eq!(w.dtype, DType::F16);
        let floats: Vec<f32> = w.floats().unwrap().collect();
        assert_eq!(floats, vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.0]);
        assert_eq!(w.to_f16_bytes().unwrap(), &w.data[..]);
        let f32s = w.to_f32_bytes().unwrap();
        assert_eq!(f32s.len(), 24);
        assert_eq!(&f32s[4..8], &2.0f32.to_le_bytes());
    }

    #[test]
    fn f32_to_f16_rounds_to_nearest() {
        let t = Tensor {
            name: "x".into(),
            shape: vec![2],
            dtype: DType::F32,
            data: [1.0f32, 1.0e-8]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect(),
        };
        assert_eq!(t.to_f16_bytes().unwrap(), &f16s(&[1.0, 0.0])[..]);
    }

    #[test]
    fn truncated_model_is_a_format_error() {
        let mut bytes = handwritten();
        bytes.truncate(bytes.len() - 30);
        let err = Ct2Model::open(Cursor::new(bytes), Path::new("cut.bin"))
            .err()
            .unwrap();
        assert!(matches!(err, ModelError::Format { .. }), "{err}");
        assert!(err.to_string().contains("cut.bin"), "{err}");
    }

    #[test]
    fn payload_not_matching_shape_is_a_format_error() {
        let bytes = encode(
            "WhisperSpec",
            3,
            &[("x", &[3], DType::F32, vec![0; 8])],
            &[],
        );
        let err = Ct2Model::open(Cursor::new(bytes), Path::new("m.bin"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("do not hold shape"), "{err}");
    }

    #[test]
    fn newer_binary_version_is_refused() {
        let mut bytes = encode("WhisperSpec", 3, &[], &[]);
        bytes[0] = 7;
        let err = Ct2Model::open(Cursor::new(bytes), Path::new("m.bin"))
            .err()
            .unwrap();
        assert!(err.to_string().contains("binary version 7"), "{err}");
    }
}
