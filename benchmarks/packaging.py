"""Benchmark the media worker's packaging against plain ffmpeg command lines doing the same work.

Run from the repository root (not part of the test run; takes a few minutes on 2 cores)::

    .venv/bin/python -m benchmarks.packaging [--seconds 60] [--repeat 3]

For a 720p H.264/AAC clip (the remux path) and a 720p MPEG-4 Part 2 clip (the transcode path) it times
``media_worker.packaging.package`` (HLS renditions + poster + master playlist, with progress parsing) and the
hand-written ffmpeg commands an operator would type for the same outputs, and prints their ratio. It also
times the validation passes of ``media_worker.probe`` against a full decode. The table goes to stdout and
to ``benchmarks/results/packaging.md`` with the machine it ran on.
"""

from __future__ import annotations

import argparse
import datetime as dt
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from media_worker.packaging import package, video_maxrate_kbps
from media_worker.probe import probe_media
from tests.support.media import make_test_video

RESULTS = Path(__file__).parent / "results" / "packaging.md"
HEIGHT, WIDTH = 720, 1280
DEFAULT_LADDER = (360, 720)
MAX_SECONDS = 24 * 3600
HLS = ["-f", "hls", "-hls_time", "6", "-hls_playlist_type", "vod"]


def timed_pair(worker: Callable[[], object], baseline: Callable[[], object], repeat: int,
               prepare: Callable[[], None] = lambda: None) -> tuple[float, float]:
    """Return the median wall-clock seconds of both actions, run alternately so load drift hits both alike."""
    worker_times, baseline_times = [], []
    for _ in range(repeat):
        for action, times in ((worker, worker_times), (baseline, baseline_times)):
            prepare()
            started = time.perf_counter()
            action()
            times.append(time.perf_counter() - started)
    return statistics.median(worker_times), statistics.median(baseline_times)


def fresh(folder: Path) -> Callable[[], None]:
    """Return a function that empties folder and recreates its ``out`` subfolder."""
    def reset() -> None:
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "out").mkdir(parents=True)
    return reset


def run(command: list[str]) -> None:
    """Run a command, raising if it fails."""
    subprocess.run(command, check=True, stdin=subprocess.DEVNULL, capture_output=True)


def rendition_output(folder: Path, name: str, codec_args: list[str]) -> list[str]:
    """Return the output part of a hand-written ffmpeg command for one HLS rendition."""
    (folder / name).mkdir(parents=True, exist_ok=True)
    return ["-map", "0:v:0", "-map", "0:a:0", *codec_args, *HLS,
            "-hls_segment_filename", str(folder / name / "seg_%05d.ts"), str(folder / name / "index.m3u8")]


def x264(height: int) -> list[str]:
    """Return the encoder settings the worker uses for a rung, typed out as an operator would."""
    rate = video_maxrate_kbps(height)
    return ["-vf", f"scale=-2:{height}", "-c:v", "libx264", "-preset", "veryfast", "-crf", "23",
            "-maxrate", f"{rate}k", "-bufsize", f"{2 * rate}k", "-pix_fmt", "yuv420p",
            "-force_key_frames", "expr:gte(t,n_forced*6)", "-c:a", "aac", "-b:a", "128k", "-ac", "2"]


def plain_package(source: Path, folder: Path, outputs: list[tuple[str, list[str]]], duration_s: float) -> None:
    """Package with one plain ffmpeg command for the renditions and one for the poster."""
    out = folder / "out"
    command = ["ffmpeg", "-nostdin", "-v", "error", "-y", "-i", str(source)]
    for name, codec_args in outputs:
        command += rendition_output(out, name, codec_args)
    run(command)
    run(["ffmpeg", "-nostdin", "-v", "error", "-y", "-ss", f"{duration_s * 0.1:.3f}", "-i", str(source),
         "-frames:v", "1", "-q:v", "3", str(out / "poster.jpg")])


def measure(seconds: int, repeat: int, work: Path) -> list[dict]:
    """Generate the inputs and time every case; return one row per case."""
    h264 = make_test_video(work / "h264.mp4", seconds, WIDTH, HEIGHT, preset="veryfast")
    mpeg4 = make_test_video(work / "mpeg4.mp4", seconds, WIDTH, HEIGHT, vcodec="mpeg4")
    rows = []
    for label, source in (("H.264/AAC 720p", h264), ("MPEG-4 Part 2 720p", mpeg4)):
        full_decode = ["ffmpeg", "-nostdin", "-v", "error", "-i", str(source), "-f", "null", "-"]
        validation, decode = timed_pair(partial(probe_media, source, MAX_SECONDS), partial(run, full_decode), repeat)
        rows.append({"case": f"validate {label} (probe + demux pass + 3 s decode)", "worker": validation,
                     "plain": decode, "plain_label": "full decode", "duration": seconds})
    info_h264, info_mpeg4 = probe_media(h264, MAX_SECONDS), probe_media(mpeg4, MAX_SECONDS)
    cases = [
        ("remux, copy only (ladder 720)", h264, info_h264, (720,), [("720p", ["-c", "copy"])]),
        ("remux + 360p transcode (ladder 360,720)", h264, info_h264, DEFAULT_LADDER,
         [("720p", ["-c", "copy"]), ("360p", x264(360))]),
        ("transcode 360p + 720p (ladder 360,720)", mpeg4, info_mpeg4, DEFAULT_LADDER,
         [("360p", x264(360)), ("720p", x264(720))]),
    ]
    folder = work / "run"
    for case, source, info, ladder, plain_outputs in cases:
        worker, plain = timed_pair(partial(package, source, folder / "out", info, ladder),
                                   partial(plain_package, source, folder, plain_outputs, info.duration_s),
                                   repeat, fresh(folder))
        rows.append({"case": case, "worker": worker, "plain": plain, "plain_label": "plain ffmpeg",
                     "duration": seconds})
    return rows


def machine() -> dict[str, str]:
    """Describe the machine: cores, memory, CPU model and ffmpeg version."""
    def output(*command: str) -> str:
        return subprocess.run(command, capture_output=True, text=True, check=False).stdout.rstrip()

    model = next((line.split(":", 1)[1].strip() for line in output("lscpu").splitlines()
                  if line.startswith("Model name")), "unknown")
    return {"nproc": output("nproc"), "free -g": output("free", "-g"), "CPU": model,
            "ffmpeg": output("ffmpeg", "-version").splitlines()[0], "load": output("cat", "/proc/loadavg")}


def table(rows: list[dict]) -> str:
    """Format the rows as a Markdown table."""
    lines = ["| case | worker (s) | baseline (s) | worker ÷ baseline | worker ÷ video duration |",
             "|---|---:|---:|---:|---:|"]
    for row in rows:
        lines.append(f"| {row['case']} | {row['worker']:.2f} | {row['plain']:.2f} ({row['plain_label']}) | "
                     f"{row['worker'] / row['plain']:.2f} | {row['worker'] / row['duration']:.4f} |")
    return "\n".join(lines)


def report(rows: list[dict], seconds: int, repeat: int) -> str:
    """Return the results file: the table and the machine it was measured on."""
    info = machine()
    return "\n".join([
        "# Packaging benchmark",
        "",
        f"`python -m benchmarks.packaging --seconds {seconds} --repeat {repeat}` on "
        f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC; medians of {repeat} runs of {seconds} s 1280×720 25 fps "
        "clips (lavfi testsrc + sine). The worker's packaging is `media_worker.packaging.package` (HLS, poster, "
        "master playlist, progress parsing); the baseline is the same outputs from hand-written ffmpeg commands. "
        "Validation rows compare the worker's checks with a full decode.",
        "",
        table(rows),
        "",
        "## Machine",
        "",
        f"- CPU: {info['CPU']}, `nproc` = {info['nproc']}",
        f"- {info['ffmpeg']}",
        f"- load average when it finished (`/proc/loadavg`): {info['load']} — the machine is shared, so the "
        "worker and the baseline run alternately and each figure is a median",
        "- `free -g`:",
        "",
        "```",
        info["free -g"],
        "```",
        "",
    ])


def main() -> None:
    """Run the benchmark, print the table and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=int, default=60, help="length of the generated clips")
    parser.add_argument("--repeat", type=int, default=3, help="runs per case (the median is reported)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lms-bench-") as work:
        rows = measure(args.seconds, args.repeat, Path(work))
    text = report(rows, args.seconds, args.repeat)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(table(rows))
    print(f"\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
