//! Writes a sparse MOV of any length for the index benchmarks
//! (`scripts/bench-index.sh`): the structure of a 1080p25 ProRes take with
//! 24-bit stereo PCM, a frame and its 40 ms of sound per chunk, and a
//! `moov` at the end whose tables describe every frame (a `stsz` entry and
//! a `co64` offset per frame, as a recorder writes them). Only the first
//! frame (copied from a real ProRes take, so the demuxer and the frame
//! header reader see a real one) and the `moov` hold data; the rest of
//! `mdat` is a hole, so a 3-hour, 250 GB take costs a few megabytes of disk.
//!
//! `cargo run --release --example sparse_take -- SEED.mov OUT.mov SECONDS`
//!
//! SEED must be 1080p25 ProRes with 24-bit stereo PCM (scripts/lib.sh
//! `prores_take` makes one): its first frame and both sample descriptions
//! are reused.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};

const FPS: u32 = 25;
const AUDIO_RATE: u32 = 48_000;
const AUDIO_PER_FRAME: u32 = AUDIO_RATE / FPS;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, seed, out, seconds] = args.as_slice() else {
        return Err("usage: sparse_take SEED.mov OUT.mov SECONDS".into());
    };
    let seconds: u64 = seconds.parse()?;
    let frames = u32::try_from(seconds * u64::from(FPS))?;
    let seed_bytes = std::fs::read(seed)?;
    let seed_index = moocpipe_container::read(&seed_bytes[..])?;
    let track = |kind: moocpipe_container::TrackKind| {
        seed_index
            .tracks
            .iter()
            .find(|t| t.kind == kind)
            .ok_or(format!("{seed} has no {kind:?} track"))
    };
    let video = track(moocpipe_container::TrackKind::Video)?;
    let audio = track(moocpipe_container::TrackKind::Audio)?;
    let start = usize::try_from(video.samples.first_offset)?;
    let frame = &seed_bytes[start..start + usize::try_from(video.samples.first_size)?];
    let audio_sample = u32::try_from(audio.samples.bytes / audio.samples.count.max(1))?;
    let stsd = |handler: &[u8; 4]| -> Result<Vec<u8>, String> {
        find_stsd(&seed_bytes, handler)
            .ok_or(format!("{seed}: no `{handler:?}` sample description"))
    };
    let (video_stsd, audio_stsd) = (stsd(b"vide")?, stsd(b"soun")?);

    let frame_len = frame.len() as u64;
    let audio_len = u64::from(AUDIO_PER_FRAME * audio_sample);
    let chunk = frame_len + audio_len;
    let mut file = File::create(out)?;
    file.write_all(&boxed(
        b"ftyp",
        &[b"qt  ".as_slice(), &[0, 0, 2, 0], b"qt  "].concat(),
    ))?;
    file.write_all(&boxed(b"wide", &[]))?;
    let data_start = file.stream_position()? + 16;
    let mdat_len = 16 + chunk * u64::from(frames);
    file.write_all(&1u32.to_be_bytes())?;
    file.write_all(b"mdat")?;
    file.write_all(&mdat_len.to_be_bytes())?;
    file.write_all(frame)?;
    file.write_all(&vec![0u8; usize::try_from(audio_len)?])?;
    // The rest of mdat: a hole.
    file.seek(SeekFrom::Start(data_start + chunk * u64::from(frames)))?;

    let offsets = |first: u64| -> Vec<u8> {
        let mut out = table_header(frames);
        for i in 0..u64::from(frames) {
            out.extend_from_slice(&(first + i * chunk).to_be_bytes());
        }
        out
    };
    let mut sizes = [0u32.to_be_bytes(), 0u32.to_be_bytes(), frames.to_be_bytes()].concat();
    for _ in 0..frames {
        sizes.extend_from_slice(&(frame_len as u32).to_be_bytes());
    }
    let video_stbl = sample_table(&video_stsd, frames, 1, &sizes, &offsets(data_start));
    let audio_samples = frames * AUDIO_PER_FRAME;
    let audio_sizes = [
        0u32.to_be_bytes(),
        audio_sample.to_be_bytes(),
        audio_samples.to_be_bytes(),
    ]
    .concat();
    let audio_stbl = sample_table(
        &audio_stsd,
        audio_samples,
        AUDIO_PER_FRAME,
        &audio_sizes,
        &offsets(data_start + frame_len),
    );
    let moov = boxed(
        b"moov",
        &[
            boxed(b"mvhd", &mvhd(FPS, frames)),
            trak(1, b"vide", FPS, frames, &video_stbl),
            trak(2, b"soun", AUDIO_RATE, audio_samples, &audio_stbl),
        ]
        .concat(),
    );
    file.write_all(&moov)?;
    file.sync_all()?;
    println!(
        "{out}: {frames} frames ({seconds} s), {} bytes, moov {} bytes",
        file.metadata()?.len(),
        moov.len()
    );
    Ok(())
}

fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut out = ((payload.len() + 8) as u32).to_be_bytes().to_vec();
    out.extend_from_slice(kind);
    out.extend_from_slice(payload);
    out
}

/// A `stbl`: one description, `samples` of duration 1 each, `per_chunk`
/// samples in every chunk, the `stsz` payload and the `co64` payload.
fn sample_table(stsd: &[u8], samples: u32, per_chunk: u32, stsz: &[u8], co64: &[u8]) -> Vec<u8> {
    let one_entry = |a: u32, b: &[u32]| {
        let mut out = table_header(1);
        out.extend_from_slice(&a.to_be_bytes());
        b.iter()
            .for_each(|v| out.extend_from_slice(&v.to_be_bytes()));
        out
    };
    [
        boxed(b"stsd", stsd),
        boxed(b"stts", &one_entry(samples, &[1])),
        boxed(b"stsc", &one_entry(1, &[per_chunk, 1])),
        boxed(b"stsz", stsz),
        boxed(b"co64", co64),
    ]
    .concat()
}

/// Version, flags and an entry count.
fn table_header(count: u32) -> Vec<u8> {
    [0u32.to_be_bytes(), count.to_be_bytes()].concat()
}

const MATRIX: [u32; 9] = [0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x4000_0000];

fn mvhd(timescale: u32, duration: u32) -> Vec<u8> {
    let mut out = vec![0u8; 12];
    out.extend_from_slice(&timescale.to_be_bytes());
    out.extend_from_slice(&duration.to_be_bytes());
    out.extend_from_slice(&0x10000u32.to_be_bytes());
    out.extend_from_slice(&0x100u16.to_be_bytes());
    out.extend_from_slice(&[0u8; 10]);
    MATRIX
        .iter()
        .for_each(|m| out.extend_from_slice(&m.to_be_bytes()));
    out.extend_from_slice(&[0u8; 24]);
    out.extend_from_slice(&3u32.to_be_bytes());
    out
}

fn trak(id: u32, handler: &[u8; 4], timescale: u32, duration: u32, stbl: &[u8]) -> Vec<u8> {
    let movie_duration = (u64::from(duration) * u64::from(FPS) / u64::from(timescale)) as u32;
    let mut tkhd = vec![0, 0, 0, 7, 0, 0, 0, 0, 0, 0, 0, 0];
    tkhd.extend_from_slice(&id.to_be_bytes());
    tkhd.extend_from_slice(&[0u8; 4]);
    tkhd.extend_from_slice(&movie_duration.to_be_bytes());
    tkhd.extend_from_slice(&[0u8; 8 + 4]);
    tkhd.extend_from_slice(&(if handler == b"soun" { 0x100u16 } else { 0 }).to_be_bytes());
    tkhd.extend_from_slice(&[0u8; 2]);
    MATRIX
        .iter()
        .for_each(|m| tkhd.extend_from_slice(&m.to_be_bytes()));
    let (w, h) = if handler == b"vide" {
        (1920u32 << 16, 1080u32 << 16)
    } else {
        (0, 0)
    };
    tkhd.extend_from_slice(&w.to_be_bytes());
    tkhd.extend_from_slice(&h.to_be_bytes());
    let mut mdhd = vec![0u8; 12];
    mdhd.extend_from_slice(&timescale.to_be_bytes());
    mdhd.extend_from_slice(&duration.to_be_bytes());
    mdhd.extend_from_slice(&[0u8; 4]);
    let hdlr = [&[0u8; 4][..], b"mhlr", handler, &[0u8; 12], &[0u8]].concat();
    let header = if handler == b"vide" {
        boxed(b"vmhd", &[0, 0, 0, 1, 0, 0x40, 0x80, 0, 0x80, 0, 0x80, 0])
    } else {
        boxed(b"smhd", &[0u8; 8])
    };
    let dref = boxed(
        b"dref",
        &[table_header(1), boxed(b"alis", &[0, 0, 0, 1])].concat(),
    );
    let minf = boxed(
        b"minf",
        &[header, boxed(b"dinf", &dref), boxed(b"stbl", stbl)].concat(),
    );
    let mdia = boxed(
        b"mdia",
        &[boxed(b"mdhd", &mdhd), boxed(b"hdlr", &hdlr), minf].concat(),
    );
    boxed(b"trak", &[boxed(b"tkhd", &tkhd), mdia].concat())
}

/// The payload of the `stsd` box of the seed's track with `handler`.
fn find_stsd(file: &[u8], handler: &[u8; 4]) -> Option<Vec<u8>> {
    let moov = child(file, b"moov")?;
    let mut rest = moov;
    while let Some((kind, payload, next)) = next_box(rest) {
        rest = next;
        if &kind != b"trak" {
            continue;
        }
        let mdia = child(payload, b"mdia")?;
        let hdlr = child(mdia, b"hdlr")?;
        if hdlr.get(8..12) != Some(handler.as_slice()) {
            continue;
        }
        let stbl = child(child(child(mdia, b"minf")?, b"stbl")?, b"stsd")?;
        return Some(stbl.to_vec());
    }
    None
}

fn next_box(buf: &[u8]) -> Option<([u8; 4], &[u8], &[u8])> {
    let size = u32::from_be_bytes(buf.get(..4)?.try_into().ok()?) as usize;
    let kind: [u8; 4] = buf.get(4..8)?.try_into().ok()?;
    let (header, size) = match size {
        1 => (
            16,
            usize::try_from(u64::from_be_bytes(buf.get(8..16)?.try_into().ok()?)).ok()?,
        ),
        0 => (8, buf.len()),
        n => (8, n),
    };
    Some((kind, buf.get(header..size)?, buf.get(size..)?))
}

fn child<'a>(buf: &'a [u8], kind: &[u8; 4]) -> Option<&'a [u8]> {
    let mut rest = buf;
    while let Some((k, payload, next)) = next_box(rest) {
        if &k == kind {
            return Some(payload);
        }
        rest = next;
    }
    None
}
