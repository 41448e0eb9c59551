"""Interleaved timing of moocpipe process against ffmpeg; peak RSS.

Called by scripts/bench-process.sh with: runs moocpipe bench-dir.
Same preset (veryfast), same rates (8.5/5/2.5 Mbit/s CBR with nal-hrd=cbr,
a VBV of half a second, a key frame every 2 s, High profile, 4:2:0), same
AAC (LC, 192 kb/s, 48 kHz stereo), MP4 with the index at the front.
moocpipe's runs also probe the source, verify every output by probing it
and write a poster; ffmpeg's do none of that.
"""

import os
import shutil
import sys

from benchlib import interleaved, run, table

X264 = ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p",
        "-x264-params", "nal-hrd=cbr", "-g", "50"]
AAC = ["-c:a", "aac", "-b:a", "192k", "-ar", "48000", "-ac", "2"]


def cbr(kbps):
    return ["-b:v", f"{kbps}k", "-minrate", f"{kbps}k", "-maxrate", f"{kbps}k", "-bufsize", f"{kbps // 2}k"]


def main():
    runs, moocpipe, bench = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    take = os.path.join(bench, "course/bench/01-m/01-l/take-20s.mov")
    out = os.path.join(bench, "out")
    data = os.path.join(bench, "store")
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)

    # As for the ladder below: `--no-qc` does the work ffmpeg does; the run
    # with QC, as `process` runs by default, is shown too.
    platform = {
        "moocpipe process --rungs 1080p --no-hls --no-qc": [
            moocpipe, "process", "--no-captions", "--no-qc", "--force", "--data", data, "--rungs", "1080p",
            "--no-hls", take],
        "moocpipe process --rungs 1080p --no-hls (with QC)": [
            moocpipe, "process", "--no-captions", "--force", "--data", data, "--rungs", "1080p", "--no-hls", take],
        "ffmpeg (libx264 + aac, faststart)": [
            "ffmpeg", "-v", "error", "-y", "-i", take, "-map", "0:v:0", "-map", "0:a:0",
            "-vf", "scale=1920:1080", *X264, *cbr(8500), *AAC, "-movflags", "+faststart",
            os.path.join(out, "1080.mp4")],
    }
    split = "[0:v]split=3[a][b][c];[a]scale=1920:1080[v1080];[b]scale=1280:720[v720];[c]scale=854:480[v480]"
    ladder_ff = ["ffmpeg", "-v", "error", "-y", "-i", take, "-filter_complex", split]
    for name, kbps in (("1080", 8500), ("720", 5000), ("480", 2500)):
        tee = (f"[f=mp4:movflags=+faststart]{out}/{name}.mp4|"
               f"[f=hls:hls_time=6:hls_playlist_type=vod:hls_segment_filename={out}/h{name}_%05d.ts]{out}/h{name}.m3u8")
        ladder_ff += ["-map", f"[v{name}]", "-map", "0:a:0", *X264, *cbr(kbps), *AAC, "-f", "tee", tee]
    # ffmpeg makes the renditions and nothing else; `--no-qc` makes moocpipe
    # do the same work (the QC record is an output ffmpeg does not make). The
    # run with QC, as `process` runs by default, is shown too.
    ladder = {
        "moocpipe process --no-qc (ladder + HLS)": [
            moocpipe, "process", "--no-captions", "--no-qc", "--force", "--data", data, take],
        "moocpipe process (ladder + HLS + QC)": [moocpipe, "process", "--no-captions", "--force", "--data", data, take],
        "ffmpeg (split, 3 × libx264, tee to MP4 + HLS)": ladder_ff,
    }

    print(f"Source: {take} (20 s ProRes 422 HQ 1080p25, 24-bit PCM), {runs} interleaved runs, warm cache\n")
    print("(a) platform rendition alone\n")
    print(table(interleaved(platform, runs), "moocpipe process --rungs 1080p --no-hls --no-qc"))
    print("\n(b) whole ladder with HLS from one command\n")
    ladder_results = interleaved(ladder, runs)
    print(table(ladder_results, "moocpipe process --no-qc (ladder + HLS)"))
    rss20 = max(s.rss for s in ladder_results["moocpipe process (ladder + HLS + QC)"])
    long_take = os.path.join(bench, "course/bench/01-m/01-l/take-60s.mov")
    rss60 = run([moocpipe, "process", "--no-captions", "--force", "--data", data, long_take]).rss
    print(f"\nPeak RSS of moocpipe process (ladder + HLS): {rss20:.0f} MB on the 20 s source, {rss60:.0f} MB on a 60 s source.")


if __name__ == "__main__":
    main()
