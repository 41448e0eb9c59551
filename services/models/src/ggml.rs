//! CTranslate2 Whisper → whisper.cpp's ggml file.
//!
//! The output is what whisper.cpp's `models/convert-pt-to-ggml.py` writes
//! from an OpenAI checkpoint and what `whisper_model_load` in
//! `src/whisper.cpp` reads, all little-endian:
//!
//! ```text
//! u32 magic 0x67676d6c ("ggml")
//! i32 n_vocab, n_audio_ctx, n_audio_state, n_audio_head, n_audio_layer,
//!     n_text_ctx, n_text_state, n_text_head, n_text_layer, n_mels, ftype (1 = f16)
//! i32 n_mel, i32 n_fft, f32 × n_mel·n_fft            mel filter bank
//! i32 n_tokens, then per token: i32 length, bytes    the tiktoken vocabulary
//! per tensor: i32 n_dims, i32 name length, i32 type (0 f32, 1 f16),
//!             i32 × n_dims dims innermost first, name, data (row-major)
//! ```
//!
//! The weights come from faster-whisper's CTranslate2 conversion of the
//! Hugging Face checkpoint, which renames and fuses them (see CTranslate2's
//! `python/ctranslate2/converters/transformers.py`, `WhisperLoader`):
//!
//! - self-attention `linear_0` is query, key and value stacked on the output
//!   dimension (`[3n, n]`); cross-attention `linear_0` is the query and
//!   `linear_1` key and value stacked (`[2n, n]`); the last linear is `out`;
//! - Whisper's key projection has no bias: CTranslate2 stores zeros in the
//!   fused bias, and whisper.cpp has no tensor for it. Dropping it is exact
//!   whatever it holds, since a bias on the keys adds the same `q·b` to every
//!   score of a query and softmax ignores that;
//! - layer norms are `gamma`/`beta` (`weight`/`bias`); the encoder's final
//!   norm is `ln_post`, the decoder's `ln`;
//! - the decoder's output projection is an alias of the token embedding
//!   (whisper.cpp ties them too).
//!
//! As in the convert script, 1-D tensors, the conv biases (reshaped from
//! `[n]` to `[n, 1]`) and both positional embeddings are written as f32,
//! everything else as f16. The faster-whisper models store f16, so the big
//! tensors are copied bit for bit; f32 or bf16 sources are rounded.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::assets::MelFilters;
use crate::ct2::{self, Ct2Model, Tensor};
use crate::error::ModelError;

/// `GGML_FILE_MAGIC`.
pub const MAGIC: u32 = 0x6767_6d6c;

/// The header whisper.cpp reads before the tensors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hparams {
    pub n_vocab: usize,
    pub n_audio_ctx: usize,
    pub n_audio_state: usize,
    pub n_audio_head: usize,
    pub n_audio_layer: usize,
    pub n_text_ctx: usize,
    pub n_text_state: usize,
    pub n_text_head: usize,
    pub n_text_layer: usize,
    pub n_mels: usize,
}

impl Hparams {
    /// Whisper's rule (and the convert script's): the multilingual
    /// vocabulary has 51865 tokens or more, the English-only one 51864.
    pub fn multilingual(&self) -> bool {
        self.n_vocab >= 51865
    }
}

/// The element type of a ggml tensor, with whisper.cpp's ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GgmlType {
    F32 = 0,
    F16 = 1,
}

/// Which rows of the source's first dimension a tensor takes: part `index`
/// of `of` equal parts (query, key, value of a fused projection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub index: usize,
    pub of: usize,
}

/// One ggml tensor and where its data comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorPlan {
    /// whisper.cpp's name, e.g. `encoder.blocks.0.attn.query.weight`.
    pub name: String,
    /// The CTranslate2 variable holding the data.
    pub source: String,
    /// The slice of the source's first dimension, when it is fused.
    pub part: Option<Part>,
    /// The shape in PyTorch order (outermost first).
    pub shape: Vec<usize>,
    pub dtype: GgmlType,
}

/// Reads the hyper-parameters from the shapes and head counts stored in a
/// CTranslate2 Whisper model, and checks the flags that would change the
/// maths whisper.cpp does.
pub fn hparams<R: Read + Seek>(model: &mut Ct2Model<R>) -> Result<Hparams, ModelError> {
    let file = model.file().to_path_buf();
    if model.spec() != "WhisperSpec" {
        return Err(ModelError::format(
            &file,
            format!("spec {:?} is not WhisperSpec", model.spec()),
        ));
    }
    let shape = |model: &Ct2Model<R>, name: &str| -> Result<Vec<usize>, ModelError> {
        model
            .variable(name)
            .map(|v| v.shape.clone())
            .ok_or_else(|| ModelError::format(&file, format!("no variable {name}")))
    };
    let bad_shape = |name: &str, shape: &[usize]| {
        ModelError::format(&file, format!("{name} has unexpected shape {shape:?}"))
    };

    let conv1 = shape(model, "encoder/conv1/weight")?;
    let [n_audio_state, n_mels, 3] = conv1[..] else {
        return Err(bad_shape("encoder/conv1/weight", &conv1));
    };
    let enc_pos = shape(model, "encoder/position_encodings/encodings")?;
    let [n_audio_ctx, s] = enc_pos[..] else {
        return Err(bad_shape("encoder/position_encodings/encodings", &enc_pos));
    };
    if s != n_audio_state {
        return Err(bad_shape("encoder/position_encodings/encodings", &enc_pos));
    }
    let embeddings = shape(model, "decoder/embeddings/weight")?;
    let [n_vocab, n_text_state] = embeddings[..] else {
        return Err(bad_shape("decoder/embeddings/weight", &embeddings));
    };
    let dec_pos = shape(model, "decoder/position_encodings/encodings")?;
    let [n_text_ctx, s] = dec_pos[..] else {
        return Err(bad_shape("decoder/position_encodings/encodings", &dec_pos));
    };
    if s != n_text_state {
        return Err(bad_shape("decoder/position_encodings/encodings", &dec_pos));
    }
    if n_audio_state != n_text_state {
        return Err(ModelError::format(
            &file,
            format!("encoder width {n_audio_state} differs from decoder width {n_text_state}"),
        ));
    }

    let n_audio_head = heads(model, "encoder/num_heads", n_audio_state)?;
    let n_text_head = heads(model, "decoder/num_heads", n_text_state)?;
    let n_audio_layer = layers(model, "encoder/")?;
    let n_text_layer = layers(model, "decoder/")?;

    // Flags of CTranslate2's TransformerDecoderSpec that Whisper leaves at
    // these values; whisper.cpp hard-codes them.
    for (name, wanted) in [
        ("decoder/scale_embeddings", 0),
        ("decoder/pre_norm", 1),
        ("decoder/activation", 3), // GELU
        ("decoder/alibi", 0),
        ("decoder/start_from_zero_embedding", 0),
    ] {
        if model.variable(name).is_none() {
            continue;
        }
        let value = model.read(name)?;
        let ok = match value.as_int() {
            Some(v) => v == wanted,
            // scale_embeddings may be stored as a float factor
            None => name == "decoder/scale_embeddings" && value.as_float() == Some(1.0),
        };
        if !ok {
            return Err(ModelError::format(
                &file,
                format!("{name} is not the value Whisper uses ({wanted})"),
            ));
        }
    }

    Ok(Hparams {
        n_vocab,
        n_audio_ctx,
        n_audio_state,
        n_audio_head,
        n_audio_layer,
        n_text_ctx,
        n_text_state,
        n_text_head,
        n_text_layer,
        n_mels,
    })
}

/// The head count stored as a scalar (CTranslate2 writes it as int16).
fn heads<R: Read + Seek>(
    model: &mut Ct2Model<R>,
    name: &str,
    width: usize,
) -> Result<usize, ModelError> {
    let file = model.file().to_path_buf();
    if model.variable(name).is_none() {
        return Err(ModelError::format(
            &file,
            format!("no variable {name}: a Whisper spec older than revision 3?"),
        ));
    }
    let value = model.read(name)?;
    match value.as_int().and_then(|v| usize::try_from(v).ok()) {
        Some(h) if h > 0 && width.is_multiple_of(h) => Ok(h),
        _ => Err(ModelError::format(
            &file,
            format!("{name} is not a head count dividing {width}"),
        )),
    }
}

/// The number of `<prefix>layer_N/` blocks, checked to be `0..N`.
fn layers<R>(model: &Ct2Model<R>, prefix: &str) -> Result<usize, ModelError> {
    let found: BTreeSet<usize> = model
        .variables()
        .iter()
        .filter_map(|v| v.name.strip_prefix(prefix)?.strip_prefix("layer_"))
        .filter_map(|rest| rest.split('/').next()?.parse().ok())
        .collect();
    let n = found.len();
    if n == 0 || found.iter().copied().ne(0..n) {
        return Err(ModelError::format(
            model.file(),
            format!("{prefix}layer_N blocks are {found:?}, expected 0..N"),
        ));
    }
    Ok(n)
}

/// Every tensor whisper.cpp loads, in the order of OpenAI's state dict, with
/// its source in the CTranslate2 model.
pub fn plan(h: &Hparams) -> Vec<TensorPlan> {
    let mut p = Planner(Vec::new());
    let n = h.n_audio_state;
    p.add(
        "encoder.positional_embedding",
        "encoder/position_encodings/encodings",
        None,
        vec![h.n_audio_ctx, n],
    );
    p.add(
        "encoder.conv1.weight",
        "encoder/conv1/weight",
        None,
        vec![n, h.n_mels, 3],
    );
    p.add("encoder.conv1.bias", "encoder/conv1/bias", None, vec![n, 1]);
    p.add(
        "encoder.conv2.weight",
        "encoder/conv2/weight",
        None,
        vec![n, n, 3],
    );
    p.add("encoder.conv2.bias", "encoder/conv2/bias", None, vec![n, 1]);
    for i in 0..h.n_audio_layer {
        let (to, from) = (format!("encoder.blocks.{i}"), format!("encoder/layer_{i}"));
        p.self_attention(&to, &from, n);
        p.mlp(&to, &from, n);
    }
    p.layer_norm("encoder.ln_post", "encoder/layer_norm", n);

    let n = h.n_text_state;
    p.add(
        "decoder.positional_embedding",
        "decoder/position_encodings/encodings",
        None,
        vec![h.n_text_ctx, n],
    );
    p.add(
        "decoder.token_embedding.weight",
        "decoder/embeddings/weight",
        None,
        vec![h.n_vocab, n],
    );
    for i in 0..h.n_text_layer {
        let (to, from) = (format!("decoder.blocks.{i}"), format!("decoder/layer_{i}"));
        p.self_attention(&to, &from, n);
        p.cross_attention(&to, &from, n);
        p.mlp(&to, &from, n);
    }
    p.layer_norm("decoder.ln", "decoder/layer_norm", n);
    p.0
}

/// Builds the plan block by block.
struct Planner(Vec<TensorPlan>);

impl Planner {
    fn add(&mut self, name: &str, source: &str, part: Option<Part>, shape: Vec<usize>) {
        // convert-pt-to-ggml.py: f32 for 1-D tensors, the conv biases and
        // the positional embeddings, f16 for the rest.
        let f32 = shape.len() < 2
            || name.ends_with("positional_embedding")
            || name == "encoder.conv1.bias"
            || name == "encoder.conv2.bias";
        self.0.push(TensorPlan {
            name: name.to_string(),
            source: source.to_string(),
            part,
            shape,
            dtype: if f32 { GgmlType::F32 } else { GgmlType::F16 },
        });
    }

    /// `weight` and `bias` of a linear layer `[rows, cols]`.
    fn linear(&mut self, to: &str, from: &str, rows: usize, cols: usize) {
        self.add(
            &format!("{to}.weight"),
            &format!("{from}/weight"),
            None,
            vec![rows, cols],
        );
        self.add(
            &format!("{to}.bias"),
            &format!("{from}/bias"),
            None,
            vec![rows],
        );
    }

    /// Part `index` of `of` of the fused projection `from` (`[of·n, n]`),
    /// with its bias unless it is Whisper's bias-less key.
    fn fused(&mut self, to: &str, from: &str, index: usize, of: usize, n: usize) {
        let part = Some(Part { index, of });
        self.add(
            &format!("{to}.weight"),
            &format!("{from}/weight"),
            part,
            vec![n, n],
        );
        if !to.ends_with(".key") {
            self.add(
                &format!("{to}.bias"),
                &format!("{from}/bias"),
                part,
                vec![n],
            );
        }
    }

    /// `gamma` and `beta` become `weight` and `bias`.
    fn layer_norm(&mut self, to: &str, from: &str, n: usize) {
        self.add(
            &format!("{to}.weight"),
            &format!("{from}/gamma"),
            None,
            vec![n],
        );
        self.add(
            &format!("{to}.bias"),
            &format!("{from}/beta"),
            None,
            vec![n],
        );
    }

    /// `attn.{query,key,value}` from the fused `linear_0` (`[3n, n]`),
    /// `attn.out` from `linear_1`, `attn_ln` from the block's pre-norm.
    fn self_attention(&mut self, to: &str, from: &str, n: usize) {
        let from = format!("{from}/self_attention");
        for (index, name) in ["query", "key", "value"].into_iter().enumerate() {
            self.fused(
                &format!("{to}.attn.{name}"),
                &format!("{from}/linear_0"),
                index,
                3,
                n,
            );
        }
        self.linear(&format!("{to}.attn.out"), &format!("{from}/linear_1"), n, n);
        self.layer_norm(&format!("{to}.attn_ln"), &format!("{from}/layer_norm"), n);
    }

    /// `cross_attn.query` from `linear_0`, `cross_attn.{key,value}` from the
    /// fused `linear_1` (`[2n, n]`), `cross_attn.out` from `linear_2`,
    /// `cross_attn_ln` from the block's pre-norm.
    fn cross_attention(&mut self, to: &str, from: &str, n: usize) {
        let from = format!("{from}/attention");
        self.linear(
            &format!("{to}.cross_attn.query"),
            &format!("{from}/linear_0"),
            n,
            n,
        );
        for (index, name) in ["key", "value"].into_iter().enumerate() {
            self.fused(
                &format!("{to}.cross_attn.{name}"),
                &format!("{from}/linear_1"),
                index,
                2,
                n,
            );
        }
        self.linear(
            &format!("{to}.cross_attn.out"),
            &format!("{from}/linear_2"),
            n,
            n,
        );
        self.layer_norm(
            &format!("{to}.cross_attn_ln"),
            &format!("{from}/layer_norm"),
            n,
        );
    }

    /// `mlp.0` and `mlp.2` (the GELU between them is `mlp.1` in PyTorch)
    /// from the feed-forward block's two linears, `mlp_ln` from its pre-norm.
    fn mlp(&mut self, to: &str, from: &str, n: usize) {
        let from = format!("{from}/ffn");
        self.linear(
            &format!("{to}.mlp.0"),
            &format!("{from}/linear_0"),
            4 * n,
            n,
        );
        self.linear(
            &format!("{to}.mlp.2"),
            &format!("{from}/linear_1"),
            n,
            4 * n,
        );
        self.layer_norm(&format!("{to}.mlp_ln"), &format!("{from}/layer_norm"), n);
    }
}

/// The variables of a CTranslate2 Whisper model the converter knowingly
/// leaves out: decoding flags and head counts (read into [`Hparams`] or
/// checked there), alignment settings (whisper.cpp has its own presets) and
/// the projection tied to the embeddings.
fn ignored(name: &str) -> bool {
    matches!(
        name,
        "decoder/activation"
            | "decoder/alibi"
            | "decoder/alignment_heads"
            | "decoder/alignment_layer"
            | "decoder/num_heads"
            | "decoder/pre_norm"
            | "decoder/scale_embeddings"
            | "decoder/start_from_zero_embedding"
            | "encoder/num_heads"
    )
}

/// Writes the whole ggml file for `model` to `out`: header, mel filters,
/// vocabulary, then each tensor of [`plan`], reading one source variable at
/// a time.
pub fn convert<R: Read + Seek, W: Write>(
    model: &mut Ct2Model<R>,
    mel: &MelFilters,
    vocab: &[Vec<u8>],
    out: &mut W,
    out_path: &Path,
) -> Result<Hparams, ModelError> {
    let h = hparams(model)?;
    let plan = plan(&h);
    check_coverage(model, &plan)?;
    if mel.n_mel != h.n_mels {
        return Err(ModelError::format(
            model.file(),
            format!("model has {} mel bins, the filters {}", h.n_mels, mel.n_mel),
        ));
    }

    let mut w = Out {
        out,
        path: out_path,
    };
    w.u32(MAGIC)?;
    for v in [
        h.n_vocab,
        h.n_audio_ctx,
        h.n_audio_state,
        h.n_audio_head,
        h.n_audio_layer,
        h.n_text_ctx,
        h.n_text_state,
        h.n_text_head,
        h.n_text_layer,
        h.n_mels,
    ] {
        w.i32(v)?;
    }
    w.i32(GgmlType::F16 as usize)?; // ftype

    w.i32(mel.n_mel)?;
    w.i32(mel.n_fft)?;
    let filters: Vec<u8> = mel.data.iter().flat_map(|v| v.to_le_bytes()).collect();
    w.bytes(&filters)?;

    w.i32(vocab.len())?;
    for token in vocab {
        w.i32(token.len())?;
        w.bytes(token)?;
    }

    // A fused weight and its bias feed several tensors in turn
    // (query.weight, query.bias, key.weight, …): keep the last two read.
    let mut recent: Vec<(&str, Tensor)> = Vec::with_capacity(3);
    for t in &plan {
        let index = match recent.iter().position(|(name, _)| *name == t.source) {
            Some(index) => index,
            None => {
                recent.push((&t.source, model.read(&t.source)?));
                if recent.len() > 2 {
                    recent.remove(0);
                }
                recent.len() - 1
            }
        };
        let source = &recent[index].1;
        let data = tensor_data(source, t, model.file())?;
        w.i32(t.shape.len())?;
        w.i32(t.name.len())?;
        w.i32(t.dtype as usize)?;
        for &d in t.shape.iter().rev() {
            w.i32(d)?;
        }
        w.bytes(t.name.as_bytes())?;
        w.bytes(&data)?;
    }
    Ok(h)
}

/// Fails when the model holds a tensor the plan does not use: a model of
/// another layout would otherwise convert to something silently wrong.
fn check_coverage<R>(model: &Ct2Model<R>, plan: &[TensorPlan]) -> Result<(), ModelError> {
    let used: BTreeSet<&str> = plan.iter().map(|t| t.source.as_str()).collect();
    let unknown: Vec<&str> = model
        .variables()
        .iter()
        .map(|v| v.name.as_str())
        .filter(|name| !used.contains(name) && !ignored(name))
        .collect();
    if !unknown.is_empty() {
        return Err(ModelError::format(
            model.file(),
            format!("variables with no place in a ggml Whisper model: {unknown:?}"),
        ));
    }
    for (alias, target) in model.aliases() {
        if alias != "decoder/projection/weight" || target != "decoder/embeddings/weight" {
            return Err(ModelError::format(
                model.file(),
                format!("unexpected alias {alias} -> {target}"),
            ));
        }
    }
    Ok(())
}

/// The bytes of tensor `t` from its source: the slice of a fused projection,
/// in the element type ggml wants.
pub fn tensor_data<'a>(
    source: &'a Tensor,
    t: &TensorPlan,
    file: &Path,
) -> Result<Cow<'a, [u8]>, ModelError> {
    let fail = |message: String| ModelError::format(file, format!("{}: {message}", t.name));
    let mut shape = source.shape.clone();
    let elements = source.shape.iter().product::<usize>();
    let (start, count) = match t.part {
        None => (0, elements),
        Some(Part { index, of }) => {
            let rows = *shape
                .first()
                .ok_or_else(|| fail(format!("{} is a scalar", source.name)))?;
            if !rows.is_multiple_of(of) || index >= of {
                return Err(fail(format!(
                    "cannot take part {index} of {of} of {} rows",
                    rows
                )));
            }
            shape[0] = rows / of;
            let part = elements / of;
            (index * part, part)
        }
    };
    // A conv bias [n] becomes [n, 1]: same elements, one more axis.
    let reshaped = t.shape.iter().product::<usize>() == count
        && t.shape
            .iter()
            .filter(|&&d| d != 1)
            .eq(shape.iter().filter(|&&d| d != 1));
    if shape != t.shape && !reshaped {
        return Err(fail(format!(
            "{} gives shape {shape:?}, whisper.cpp wants {:?}",
            source.name, t.shape
        )));
    }
    let width = source.dtype.size();
    let bytes = &source.data[start * width..(start + count) * width];
    let converted = match t.dtype {
        GgmlType::F16 => ct2::to_f16(source.dtype, bytes),
        GgmlType::F32 => ct2::to_f32(source.dtype, bytes),
    };
    converted.ok_or_else(|| {
        fail(format!(
            "{} holds {:?}, not floats (quantized models are not supported)",
            source.name, source.dtype
        ))
    })
}

/// Little-endian writes that name the output file in errors.
struct Out<'a, W> {
    out: &'a mut W,
    path: &'a Path,
}

impl<W: Write> Out<'_, W> {
    fn bytes(&mut self, b: &[u8]) -> Result<(), ModelError> {
        self.out
            .write_all(b)
            .map_err(|e| ModelError::io(self.path, e))
    }

    fn u32(&mut self, v: u32) -> Result<(), ModelError> {
        self.bytes(&v.to_le_bytes())
    }

    fn i32(&mut self, v: usize) -> Result<(), ModelError> {
        let v = i32::try_from(v).map_err(|_| ModelError::Format {
            file: self.path.to_path_buf(),
            message: format!("{v} does not fit the ggml header's i32"),
        })?;
        self.bytes(&v.to_le_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ct2::{encode, DType};
    use std::io::Cursor;

    fn tiny_hparams() -> Hparams {
        Hparams {
            n_vocab: 5,
            n_audio_ctx: 3,
            n_audio_state: 2,
            n_audio_head: 1,
            n_audio_layer: 1,
            n_text_ctx: 4,
            n_text_state: 2,
            n_text_head: 1,
            n_text_layer: 1,
            n_mels: 2,
        }
    }

    #[test]
    fn plan_names_and_sources() {
        let plan = plan(&tiny_hparams());
        let find = |name: &str| {
            plan.iter()
                .find(|t| t.name == name)
                .unwrap_or_else(|| panic!("no {name}"))
        };
        let key = find("encoder.blocks.0.attn.key.weight");
        assert_eq!(key.source, "encoder/layer_0/self_attention/linear_0/weight");
        assert_eq!(key.part, Some(Part { index: 1, of: 3 }));
        assert_eq!(key.dtype, GgmlType::F16);
        assert!(plan.iter().all(|t| !t.name.ends_with("key.bias")));

        let v = find("decoder.blocks.0.cross_attn.value.bias");
        assert_eq!(v.source, "decoder/layer_0/attention/linear_1/bias");
        assert_eq!(v.part, Some(Part { index: 1, of: 2 }));
        assert_eq!(v.dtype, GgmlType::F32);

        assert_eq!(
            find("decoder.blocks.0.cross_attn.query.weight").source,
            "decoder/layer_0/attention/linear_0/weight"
        );
        assert_eq!(
            find("decoder.blocks.0.cross_attn.out.weight").source,
            "decoder/layer_0/attention/linear_2/weight"
        );
        assert_eq!(
            find("encoder.blocks.0.mlp.2.weight").source,
            "encoder/layer_0/ffn/linear_1/weight"
        );
        assert_eq!(find("encoder.blocks.0.mlp.2.weight").shape, vec![2, 8]);
        assert_eq!(
            find("decoder.blocks.0.attn_ln.weight").source,
            "decoder/layer_0/self_attention/layer_norm/gamma"
        );
        assert_eq!(
            find("encoder.ln_post.bias").source,
            "encoder/layer_norm/beta"
        );
        assert_eq!(find("decoder.ln.weight").source, "decoder/layer_norm/gamma");

        let bias = find("encoder.conv1.bias");
        assert_eq!(
            (bias.shape.clone(), bias.dtype),
            (vec![2, 1], GgmlType::F32)
        );
        let pe = find("decoder.positional_embedding");
        assert_eq!((pe.shape.clone(), pe.dtype), (vec![4, 2], GgmlType::F32));
        assert_eq!(find("encoder.conv2.weight").dtype, GgmlType::F16);

        // whisper.cpp: 5 encoder input tensors + 2 for ln_post + 15 per
        // encoder block; 2 inputs + 2 for ln + 24 per decoder block.
        assert_eq!(plan.len(), 5 + 2 + 15 + 2 + 2 + 24);
        let names: BTreeSet<&str> = plan.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names.len(), plan.len(), "names are unique");
    }

    fn f16s(values: impl IntoIterator<Item = f32>) -> Vec<u8> {
        values
            .into_iter()
            .flat_map(|v| half::f16::from_f32(v).to_le_bytes())
            .collect()
    }

    #[test]
    fn fused_qkv_is_split_by_rows() {
        // [3n, n] with n = 2: rows q0 q1 k0 k1 v0 v1, each row [r, r + 0.5].
        let weight = Tensor {
            name: "l/self_attention/linear_0/weight".into(),
            shape: vec![6, 2],
            dtype: DType::F16,
            data: f16s((0..6).flat_map(|r| [r as f32, r as f32 + 0.5])),
        };
        let part = |index| TensorPlan {
            name: format!("part{index}"),
            source: weight.name.clone(),
            part: Some(Part { index, of: 3 }),
            shape: vec![2, 2],
            dtype: GgmlType::F16,
        };
        let file = Path::new("m.bin");
        assert_eq!(
            tensor_data(&weight, &part(0), file).unwrap(),
            f16s([0.0, 0.5, 1.0, 1.5])
        );
        assert_eq!(
            tensor_data(&weight, &part(1), file).unwrap(),
            f16s([2.0, 2.5, 3.0, 3.5])
        );
        assert_eq!(
            tensor_data(&weight, &part(2), file).unwrap(),
            f16s([4.0, 4.5, 5.0, 5.5])
        );

        let bias = Tensor {
            name: "b".into(),
            shape: vec![6],
            dtype: DType::F16,
            data: f16s([1.0, 2.0, 0.0, 0.0, 5.0, 6.0]),
        };
        let value_bias = TensorPlan {
            name: "value.bias".into(),
            source: "b".into(),
            part: Some(Part { index: 2, of: 3 }),
            shape: vec![2],
            dtype: GgmlType::F32,
        };
        let expected: Vec<u8> = [5.0f32, 6.0].iter().flat_map(|v| v.to_le_bytes()).collect();
        assert_eq!(tensor_data(&bias, &value_bias, file).unwrap(), expected);

        let wrong = TensorPlan {
            shape: vec![3, 2],
            ..part(0)
        };
        assert!(tensor_data(&weight, &wrong, file).is_err());
    }

    /// A complete, tiny CTranslate2 Whisper model: every variable a real one
    /// has, each filled with a distinct constant so the output can be traced.
    fn synthetic_model(h: &Hparams) -> Vec<u8> {
        let mut vars: Vec<(String, Vec<usize>, DType, Vec<u8>)> = Vec::new();
        let mut add = |name: String, shape: Vec<usize>| {
            let count: usize = shape.iter().product();
            let value = vars.len() as f32;
            vars.push((
                name,
                shape,
                DType::F16,
                f16s(std::iter::repeat_n(value, count)),
            ));
        };
        let n = h.n_audio_state;
        add("encoder/conv1/weight".into(), vec![n, h.n_mels, 3]);
        add("encoder/conv1/bias".into(), vec![n]);
        add("encoder/conv2/weight".into(), vec![n, n, 3]);
        add("encoder/conv2/bias".into(), vec![n]);
        add(
            "encoder/position_encodings/encodings".into(),
            vec![h.n_audio_ctx, n],
        );
        add(
            "decoder/position_encodings/encodings".into(),
            vec![h.n_text_ctx, n],
        );
        add("decoder/embeddings/weight".into(), vec![h.n_vocab, n]);
        for side in ["encoder", "decoder"] {
            for ln in ["layer_norm/gamma", "layer_norm/beta"] {
                add(format!("{side}/{ln}"), vec![n]);
            }
            let attns: &[(&str, &[usize])] = if side == "encoder" {
                &[("self_attention", &[3, 1])]
            } else {
                &[("self_attention", &[3, 1]), ("attention", &[1, 2, 1])]
            };
            for (attn, fused) in attns {
                for (j, k) in fused.iter().enumerate() {
                    let l = format!("{side}/layer_0/{attn}/linear_{j}");
                    add(format!("{l}/weight"), vec![k * n, n]);
                    add(format!("{l}/bias"), vec![k * n]);
                }
                add(format!("{side}/layer_0/{attn}/layer_norm/gamma"), vec![n]);
                add(format!("{side}/layer_0/{attn}/layer_norm/beta"), vec![n]);
            }
            add(
                format!("{side}/layer_0/ffn/linear_0/weight"),
                vec![4 * n, n],
            );
            add(format!("{side}/layer_0/ffn/linear_0/bias"), vec![4 * n]);
            add(
                format!("{side}/layer_0/ffn/linear_1/weight"),
                vec![n, 4 * n],
            );
            add(format!("{side}/layer_0/ffn/linear_1/bias"), vec![n]);
            add(format!("{side}/layer_0/ffn/layer_norm/gamma"), vec![n]);
            add(format!("{side}/layer_0/ffn/layer_norm/beta"), vec![n]);
        }
        vars.push(("encoder/num_heads".into(), vec![], DType::I16, vec![1, 0]));
        vars.push(("decoder/num_heads".into(), vec![], DType::I16, vec![1, 0]));
        vars.push((
            "decoder/scale_embeddings".into(),
            vec![],
            DType::I8,
            vec![0],
        ));
        vars.push(("decoder/activation".into(), vec![], DType::I8, vec![3]));
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let refs: Vec<(&str, &[usize], DType, Vec<u8>)> = vars
            .iter()
            .map(|(name, shape, dtype, data)| {
                (name.as_str(), shape.as_slice(), *dtype, data.clone())
            })
            .collect();
        encode(
            "WhisperSpec",
            3,
            &refs,
            &[("decoder/projection/weight", "decoder/embeddings/weight")],
        )
    }

    /// Reads back a ggml file the way whisper.cpp does: header, filters,
    /// vocabulary, then `(name, type, dims innermost first, data)` tensors.
    #[allow(clippy::type_complexity)]
    fn parse_ggml(
        bytes: &[u8],
    ) -> (
        Vec<i32>,
        Vec<Vec<u8>>,
        Vec<(String, i32, Vec<i32>, Vec<u8>)>,
    ) {
        let mut at = 0;
        let i32_at = |at: &mut usize| {
            let v = i32::from_le_bytes(bytes[*at..*at + 4].try_into().unwrap());
            *at += 4;
            v
        };
        assert_eq!(i32_at(&mut at) as u32, MAGIC);
        let header: Vec<i32> = (0..11).map(|_| i32_at(&mut at)).collect();
        let n_mel = i32_at(&mut at) as usize;
        let n_fft = i32_at(&mut at) as usize;
        at += n_mel * n_fft * 4;
        let n_tokens = i32_at(&mut at);
        let mut tokens = Vec::new();
        for _ in 0..n_tokens {
            let len = i32_at(&mut at) as usize;
            tokens.push(bytes[at..at + len].to_vec());
            at += len;
        }
        let mut tensors = Vec::new();
        while at < bytes.len() {
            let n_dims = i32_at(&mut at);
            let name_len = i32_at(&mut at) as usize;
            let ttype = i32_at(&mut at);
            let dims: Vec<i32> = (0..n_dims).map(|_| i32_at(&mut at)).collect();
            let name = String::from_utf8(bytes[at..at + name_len].to_vec()).unwrap();
            at += name_len;
            let size = dims.iter().product::<i32>() as usize * if ttype == 0 { 4 } else { 2 };
            tensors.push((name, ttype, dims, bytes[at..at + size].to_vec()));
            at += size;
        }
        (header, tokens, tensors)
    }

    #[test]
    fn converts_a_synthetic_model() {
        let h = tiny_hparams();
        let bytes = synthetic_model(&h);
        let mut model = Ct2Model::open(Cursor::new(bytes), Path::new("model.bin")).unwrap();
        assert_eq!(hparams(&mut model).unwrap(), h);

        let mel = MelFilters {
            n_mel: 2,
            n_fft: 3,
            data: vec![0.0, 0.25, 0.5, 0.75, 1.0, 1.25],
        };
        let vocab = vec![b"a".to_vec(), Vec::new(), b"bc".to_vec()];
        let mut out = Vec::new();
        convert(&mut model, &mel, &vocab, &mut out, Path::new("out.bin")).unwrap();

        let (header, tokens, tensors) = parse_ggml(&out);
        assert_eq!(header, vec![5, 3, 2, 1, 1, 4, 2, 1, 1, 2, 1]);
        assert_eq!(tokens, vocab);
        assert_eq!(tensors.len(), plan(&h).len());
        let get = |name: &str| tensors.iter().find(|t| t.0 == name).unwrap();

        let conv1 = get("encoder.conv1.weight");
        assert_eq!((conv1.1, conv1.2.clone()), (1, vec![3, 2, 2]));
        let conv_bias = get("encoder.conv1.bias");
        assert_eq!((conv_bias.1, conv_bias.2.clone()), (0, vec![1, 2]));
        let embedding = get("decoder.token_embedding.weight");
        assert_eq!((embedding.1, embedding.2.clone()), (1, vec![2, 5]));
        let pe = get("encoder.positional_embedding");
        assert_eq!((pe.1, pe.2.clone()), (0, vec![2, 3]));

        // The query and value of one fused variable carry its constant, in
        // f16 for the weights and f32 for the biases.
        let q = get("encoder.blocks.0.attn.query.weight");
        let v = get("encoder.blocks.0.attn.value.weight");
        assert_eq!(q.3, v.3);
        let qb = get("decoder.blocks.0.cross_attn.value.bias");
        assert_eq!(qb.1, 0);
        assert_eq!(qb.3.len(), 2 * 4);
    }

    #[test]
    fn unknown_variables_are_refused() {
        let h = tiny_hparams();
        let mut bytes = synthetic_model(&h);
        // Rename the encoder's final gamma to a name the converter does not know.
        let at = bytes
            .windows(22)
            .position(|w| w == b"encoder/layer_norm/gam")
            .unwrap();
        bytes[at..at + 7].copy_from_slice(b"ENCODER");
        let mut model = Ct2Model::open(Cursor::new(bytes), Path::new("m.bin")).unwrap();
        let err = convert(
            &mut model,
            &MelFilters {
                n_mel: 2,
                n_fft: 1,
                data: vec![0.0; 2],
            },
            &[],
            &mut Vec::new(),
            Path::new("o"),
        )
        .unwrap_err();
        assert!(matches!(err, ModelError::Format { .. }), "{err}");
    }
}
