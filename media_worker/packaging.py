"""Turn a validated original into HLS VOD: the rendition plan, the ffmpeg argument lists, and running them.

The argument builders are pure functions. ``package`` runs them and leaves in ``out_dir`` exactly what
gets published under ``media/{asset_id}/v{version}/``::

    master.m3u8  poster.jpg  360p/index.m3u8  360p/seg_00000.ts …  720p/index.m3u8 …

Rendition policy (never upscale):

* Remux path — the source video is H.264 a browser can play (8-bit 4:2:0, no rotation flag, keyframes at
  most two segments apart): the source rendition is the original stream copied (``-c:v copy``; the audio is
  copied too when it is AAC, else encoded), and only the ladder's rungs *smaller* than the source are
  transcoded, with keyframes forced where the source has them so that every rendition is cut at the same
  instants. A 1080p upload with the default ladder gives 1080p (copy) + 720p + 360p.
* Transcode path — anything else: libx264 + AAC for every rung not above the source height; if the
  source is smaller than the smallest rung, one rendition at the source's height.

All renditions come from a single ffmpeg process (one decode, one progress stream).
"""

from __future__ import annotations

import dataclasses
import math
import os
import secrets
import shutil
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from media_worker.probe import FFMPEG, INPUT_SAFETY_OPTIONS, ProbeResult

SEGMENT_SECONDS = 6
MASTER_PLAYLIST = "master.m3u8"
RENDITION_PLAYLIST = "index.m3u8"
SEGMENT_PATTERN = "seg_%05d.ts"
POSTER = "poster.jpg"
POSTER_MAX_HEIGHT = 720
POSTER_POSITION = 0.10  # of the duration: past a title card, still early in the lecture
# The URI written into each playlist's EXT-X-KEY; the delivery code replaces it with a signed key URL.
KEY_URI_PLACEHOLDER = "key.bin"
KEY_BYTES = 16

X264_PRESET = "veryfast"
X264_CRF = 23
AUDIO_BITRATE_KBPS = 128
MAX_COPY_KEYFRAME_INTERVAL_S = 2 * SEGMENT_SECONDS
COPYABLE_H264_PROFILES = {"Constrained Baseline": "42E0", "Baseline": "4200", "Main": "4D40", "High": "6400"}
COPYABLE_PIXEL_FORMATS = ("yuv420p", "yuvj420p")
AAC_CODECS = {"LC": "mp4a.40.2", "HE-AAC": "mp4a.40.5", "HE-AACv2": "mp4a.40.29"}
TRANSCODED_AUDIO_CODEC = "mp4a.40.2"
STDERR_TAIL_LINES = 30


class FfmpegFailed(RuntimeError):
    """ffmpeg exited with an error or was killed; the message carries the end of its output."""


@dataclasses.dataclass(frozen=True)
class Rendition:
    """One HLS variant: its picture size and whether its video and audio are copied from the source."""

    width: int
    height: int
    copy_video: bool = False
    copy_audio: bool = False

    @property
    def name(self) -> str:
        return f"{self.height}p"

    @property
    def playlist(self) -> str:
        return f"{self.name}/{RENDITION_PLAYLIST}"


@dataclasses.dataclass(frozen=True)
class PackagingPlan:
    """What ``package`` makes: ``mode`` is ``"remux"`` when the source video is copied, else ``"transcode"``."""

    mode: str
    renditions: tuple[Rendition, ...]


@dataclasses.dataclass(frozen=True)
class PackagedRendition:
    """A rendition as published, with the figures the master playlist and the database need."""

    name: str
    width: int
    height: int
    bandwidth: int
    average_bandwidth: int
    codecs: str
    playlist: str
    duration_s: float

    def as_json(self) -> dict:
        """Return the entry stored in ``MediaAsset.renditions``."""
        return {"name": self.name, "width": self.width, "height": self.height, "bandwidth": self.bandwidth,
                "codecs": self.codecs, "playlist": self.playlist}


@dataclasses.dataclass(frozen=True)
class PackageResult:
    """Everything ``package`` wrote: the renditions, every output file (relative to out_dir) and the AES key."""

    plan: PackagingPlan
    renditions: tuple[PackagedRendition, ...]
    files: tuple[str, ...]
    key: bytes | None


def can_copy_video(info: ProbeResult) -> bool:
    """Tell whether the source video can go into HLS as it is and play in every browser."""
    return (
        info.video_codec == "h264"
        and info.video_profile in COPYABLE_H264_PROFILES
        and info.pix_fmt in COPYABLE_PIXEL_FORMATS
        and info.rotation == 0  # MPEG-TS has no display matrix: a copied phone video would play sideways
        and info.max_keyframe_interval_s is not None
        and info.max_keyframe_interval_s <= MAX_COPY_KEYFRAME_INTERVAL_S
    )


def can_copy_audio(info: ProbeResult) -> bool:
    """Tell whether the source audio is AAC that can be copied unchanged."""
    return info.has_audio and info.audio_codec == "aac" and info.audio_profile in AAC_CODECS


def scaled_width(source_width: int, source_height: int, height: int) -> int:
    """Return the even width ffmpeg's ``scale=-2:height`` gives for this source (it rounds to nearest)."""
    return max(2, (height * source_width + source_height) // (2 * source_height) * 2)


def plan_renditions(info: ProbeResult, ladder: Sequence[int]) -> PackagingPlan:
    """Choose the renditions for this source and ladder, never upscaling."""
    rungs = sorted(set(ladder))
    if can_copy_video(info):
        source = Rendition(info.width, info.height, copy_video=True, copy_audio=can_copy_audio(info))
        lower = [_transcoded(info, h) for h in rungs if h < info.height]
        return PackagingPlan("remux", (*lower, source))
    heights = [h for h in rungs if h <= info.height] or [info.height - info.height % 2]
    return PackagingPlan("transcode", tuple(_transcoded(info, h) for h in heights))


def _transcoded(info: ProbeResult, height: int) -> Rendition:
    return Rendition(scaled_width(info.width, info.height, height), height)


def video_maxrate_kbps(height: int) -> int:
    """Return the peak video bitrate for a transcoded rung: 2.5 Mbit/s at 720p, scaled by height^1.5."""
    return max(300, round(2500 * (height / 720) ** 1.5))


def h264_level(height: int) -> str:
    """Return the H.264 level declared for a transcoded rung (4.0 up to 1080p, else 5.1)."""
    return "4.0" if height <= 1080 else "5.1"


def video_codec_string(info: ProbeResult, rendition: Rendition) -> str:
    """Return the RFC 6381 codec string of a rendition's video, for the master playlist's CODECS."""
    if rendition.copy_video:
        profile = COPYABLE_H264_PROFILES[info.video_profile]
        level = info.video_level if info.video_level and 0 < info.video_level < 256 else 40
        return f"avc1.{profile}{level:02X}"
    level = int(float(h264_level(rendition.height)) * 10)
    return f"avc1.6400{level:02X}"


def audio_codec_string(info: ProbeResult, rendition: Rendition) -> str | None:
    """Return the codec string of a rendition's audio, or None when the source is silent."""
    if not info.has_audio:
        return None
    return AAC_CODECS[info.audio_profile] if rendition.copy_audio else TRANSCODED_AUDIO_CODEC


def hls_command(source: Path, out_dir: Path, info: ProbeResult, plan: PackagingPlan,
                key_info_file: Path | None = None) -> list[str]:
    """Build the one ffmpeg command that writes every rendition's playlist and segments, reporting progress."""
    command = [FFMPEG, "-nostdin", "-hide_banner", "-v", "error", "-nostats", "-progress", "pipe:1",
               *INPUT_SAFETY_OPTIONS, "-i", str(source)]
    for rendition in plan.renditions:
        command += _rendition_output(out_dir, info, rendition, plan.mode == "remux", key_info_file)
    return command


def _rendition_output(out_dir: Path, info: ProbeResult, rendition: Rendition, align_to_source: bool,
                      key_info_file: Path | None) -> list[str]:
    args = ["-map", f"0:{info.video_stream_index}"]
    if info.has_audio:
        args += ["-map", f"0:{info.audio_stream_index}"]
    args += _video_codec_args(info, rendition, align_to_source)
    if info.has_audio:
        args += ["-c:a", "copy"] if rendition.copy_audio else ["-c:a", "aac", "-b:a", f"{AUDIO_BITRATE_KBPS}k",
                                                               "-ac", "2"]
    args += ["-map_metadata", "-1", "-f", "hls", "-hls_time", str(SEGMENT_SECONDS),
             "-hls_playlist_type", "vod", "-hls_segment_type", "mpegts", "-hls_flags", "independent_segments",
             "-hls_segment_filename", str(out_dir / rendition.name / SEGMENT_PATTERN)]
    if key_info_file is not None:
        args += ["-hls_key_info_file", str(key_info_file)]
    return args + [str(out_dir / rendition.playlist)]


def _video_codec_args(info: ProbeResult, rendition: Rendition, align_to_source: bool) -> list[str]:
    if rendition.copy_video:
        return ["-c:v", "copy"]
    maxrate = video_maxrate_kbps(rendition.height)
    fps = info.frame_rate or 25.0
    # Keyframes only where forced, so every rendition is cut into segments at the same instants.
    keyframes = "source" if align_to_source else f"expr:gte(t,n_forced*{SEGMENT_SECONDS})"
    return ["-vf", f"scale=-2:{rendition.height}", "-c:v", "libx264", "-preset", X264_PRESET,
            "-crf", str(X264_CRF), "-maxrate", f"{maxrate}k", "-bufsize", f"{2 * maxrate}k",
            "-profile:v", "high", "-level:v", h264_level(rendition.height), "-pix_fmt", "yuv420p",
            "-force_key_frames", keyframes, "-sc_threshold", "0",
            "-g", str(math.ceil(fps * MAX_COPY_KEYFRAME_INTERVAL_S))]


def poster_command(source: Path, poster: Path, info: ProbeResult, position: float | None = None) -> list[str]:
    """Build the ffmpeg command that saves one frame (by default at 10% of the video) as a JPEG of at most 720 lines."""
    if position is None:
        position = max(0.0, min(info.duration_s * POSTER_POSITION, info.duration_s - 0.5))
    return [FFMPEG, "-nostdin", "-hide_banner", "-v", "error", "-y", *INPUT_SAFETY_OPTIONS,
            "-ss", f"{position:.3f}", "-i", str(source), "-map", f"0:{info.video_stream_index}",
            "-frames:v", "1", "-vf", f"scale=-2:'min({POSTER_MAX_HEIGHT},ih)'", "-q:v", "3",
            "-f", "image2", "-update", "1", str(poster)]


def key_info_text(key_path: Path, iv: str) -> str:
    """Return the ``-hls_key_info_file`` contents: the URI for playlists, the local key file, the IV."""
    return f"{KEY_URI_PLACEHOLDER}\n{key_path}\n{iv}\n"


def master_playlist(renditions: Iterable[PackagedRendition]) -> str:
    """Return the master playlist text listing each rendition with BANDWIDTH, RESOLUTION and CODECS."""
    lines = ["#EXTM3U", "#EXT-X-VERSION:3", "#EXT-X-INDEPENDENT-SEGMENTS"]
    for r in renditions:
        lines.append(f"#EXT-X-STREAM-INF:BANDWIDTH={r.bandwidth},AVERAGE-BANDWIDTH={r.average_bandwidth},"
                     f'RESOLUTION={r.width}x{r.height},CODECS="{r.codecs}"')
        lines.append(r.playlist)
    return "\n".join(lines) + "\n"


def parse_media_playlist(text: str) -> list[tuple[float, str]]:
    """Return (duration, URI) for each segment of a media playlist."""
    segments, duration = [], None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#EXTINF:"):
            duration = float(line[len("#EXTINF:"):].split(",", 1)[0])
        elif line and not line.startswith("#") and duration is not None:
            segments.append((duration, line))
            duration = None
    return segments


def measure_bandwidth(playlist: Path) -> tuple[int, int, float]:
    """Return the peak and average bits per second of a rendition's segments, and its total duration."""
    segments = parse_media_playlist(playlist.read_text())
    if not segments:
        raise FfmpegFailed(f"ffmpeg 没有写出任何分片：{playlist}")
    peak, total_bits, total_seconds = 0, 0, 0.0
    for seconds, uri in segments:
        bits = (playlist.parent / uri).stat().st_size * 8
        total_bits += bits
        total_seconds += seconds
        peak = max(peak, math.ceil(bits / max(seconds, 0.5)))  # a very short last segment must not skew the peak
    return peak, math.ceil(total_bits / max(total_seconds, 0.001)), total_seconds


class ProgressParser:
    """Turn ffmpeg ``-progress`` lines into the fraction of the input processed (0.0 to 1.0)."""

    def __init__(self, duration_s: float):
        self._duration_us = max(duration_s, 0.001) * 1_000_000

    def feed(self, line: str) -> float | None:
        """Return the fraction done when the line reports a position or the end, else None."""
        key, _, value = line.strip().partition("=")
        if key == "out_time_us" and value.lstrip("-").isdigit():
            return min(1.0, max(0.0, int(value) / self._duration_us))
        if key == "progress" and value == "end":
            return 1.0
        return None


def _with_parent_death_signal(command: list[str]) -> list[str]:
    # If the job's process dies (OOM killer, SIGKILL), ffmpeg must not live on as an orphan burning CPU.
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--", *command] if setpriv else command


def run_ffmpeg(command: list[str], duration_s: float | None = None,
               on_progress: Callable[[float], None] | None = None) -> None:
    """Run ffmpeg to completion, passing progress fractions to on_progress; raise FfmpegFailed if it fails."""
    parser = ProgressParser(duration_s or 1.0)
    stderr_tail: deque[str] = deque(maxlen=STDERR_TAIL_LINES)
    try:
        process = subprocess.Popen(_with_parent_death_signal(command), stdin=subprocess.DEVNULL,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, errors="replace")
    except OSError as exc:
        raise FfmpegFailed(f"无法启动 ffmpeg：{exc}") from exc
    try:
        # stderr drains on a thread so a chatty ffmpeg can never block on a full pipe.
        drain = threading.Thread(target=lambda: stderr_tail.extend(process.stderr), daemon=True)
        drain.start()
        for line in process.stdout:
            fraction = parser.feed(line)
            if fraction is not None and on_progress is not None:
                on_progress(fraction)
        status = process.wait()
        drain.join(timeout=5)
    finally:
        if process.poll() is None:  # an exception (job timeout, failed callback) must not leave ffmpeg running
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    if status != 0:
        how = f"被信号 {-status} 终止" if status < 0 else f"退出码 {status}"
        raise FfmpegFailed(f"ffmpeg {how}：{''.join(stderr_tail).strip()[-1500:]}")


def write_key(work_dir: Path) -> tuple[bytes, Path]:
    """Write a random AES-128 key and its ``-hls_key_info_file`` into work_dir; return the key and the info file."""
    key = secrets.token_bytes(KEY_BYTES)
    key_path = work_dir / "key.bin"
    key_path.write_bytes(key)
    os.chmod(key_path, 0o600)
    info_path = work_dir / "key_info.txt"
    info_path.write_text(key_info_text(key_path, secrets.token_hex(KEY_BYTES)))
    return key, info_path


def package(source: Path, out_dir: Path, info: ProbeResult, ladder: Sequence[int], encrypt: bool = False,
            on_progress: Callable[[float], None] | None = None) -> PackageResult:
    """Write the HLS renditions, the master playlist and the poster of ``source`` into the empty ``out_dir``.

    An AES key, when encrypting, is written beside ``out_dir``, never into it: everything in ``out_dir`` is published.
    """
    plan = plan_renditions(info, ladder)
    for rendition in plan.renditions:
        (out_dir / rendition.name).mkdir(parents=True, exist_ok=True)
    key, key_info_file = write_key(out_dir.parent) if encrypt else (None, None)
    run_ffmpeg(hls_command(source, out_dir, info, plan, key_info_file), info.duration_s, on_progress)
    poster = out_dir / POSTER
    run_ffmpeg(poster_command(source, poster, info))
    if not poster.exists() or poster.stat().st_size == 0:  # the video track ends early: take its first frame
        run_ffmpeg(poster_command(source, poster, info, position=0.0))
    packaged = tuple(_describe(out_dir, info, rendition) for rendition in plan.renditions)
    (out_dir / MASTER_PLAYLIST).write_text(master_playlist(packaged))
    files = tuple(sorted(p.relative_to(out_dir).as_posix() for p in out_dir.rglob("*") if p.is_file()))
    return PackageResult(plan=plan, renditions=packaged, files=files, key=key)


def _describe(out_dir: Path, info: ProbeResult, rendition: Rendition) -> PackagedRendition:
    peak, average, duration = measure_bandwidth(out_dir / rendition.playlist)
    codecs = ",".join(c for c in (video_codec_string(info, rendition), audio_codec_string(info, rendition)) if c)
    return PackagedRendition(name=rendition.name, width=rendition.width, height=rendition.height,
                             bandwidth=peak, average_bandwidth=average, codecs=codecs,
                             playlist=rendition.playlist, duration_s=round(duration, 3))

