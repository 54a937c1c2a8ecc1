"""Generate small test videos with ffmpeg's lavfi sources (testsrc + sine), and the broken files a base might upload.

Used by the media worker's tests, the upload tests and the packaging benchmark:

    make_test_video(tmp_path / "a.mp4", seconds=4, width=320, height=240)
    make_test_video(tmp_path / "b.avi", seconds=4, vcodec="mpeg4", acodec="mp3", container="avi")
    make_truncated_copy(source, tmp_path / "cut.mp4")
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

FFMPEG = "ffmpeg"

# Pixel formats a browser can play; lavfi's testsrc is RGB, which libx264 would otherwise keep as 4:4:4.
_PIXEL_FORMAT = {"libx264": "yuv420p", "mpeg4": "yuv420p", "libvpx": "yuv420p", "libvpx-vp9": "yuv420p"}
_MUXER = {"mp4": "mp4", "mov": "mov", "mkv": "matroska", "webm": "webm", "avi": "avi", "ts": "mpegts", "flv": "flv"}


def make_test_video(
    path: Path | str,
    seconds: float,
    width: int = 320,
    height: int = 240,
    vcodec: str = "libx264",
    acodec: str = "aac",
    container: str = "mp4",
    audio: bool = True,
    fps: int = 25,
    keyframe_seconds: float = 2.0,
    faststart: bool = False,
    preset: str = "ultrafast",
) -> Path:
    """Write a test-pattern video with a 440 Hz tone and return its path.

    ``faststart`` puts an MP4's index at the front, as streaming-friendly encoders do; only such a file
    still probes fine once its tail is cut off, which is what makes truncation hard to detect.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    command = [FFMPEG, "-nostdin", "-v", "error", "-y",
               "-f", "lavfi", "-i", f"testsrc=size={width}x{height}:rate={fps}:duration={seconds}"]
    if audio:
        command += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}"]
    command += ["-map", "0:v"] + (["-map", "1:a"] if audio else [])
    command += ["-c:v", vcodec, "-pix_fmt", _PIXEL_FORMAT.get(vcodec, "yuv420p"),
                "-g", str(round(fps * keyframe_seconds))]
    if vcodec == "libx264":
        command += ["-preset", preset]
    elif vcodec.startswith("libvpx"):
        command += ["-deadline", "realtime", "-cpu-used", "8", "-b:v", "500k"]
    elif vcodec == "mpeg4":
        command += ["-q:v", "5"]
    if audio:
        command += ["-c:a", acodec, "-ac", "2"]
        if acodec in ("aac", "mp3", "libmp3lame"):
            command += ["-b:a", "96k"]
    if faststart and container in ("mp4", "mov"):
        command += ["-movflags", "+faststart"]
    command += ["-f", _MUXER.get(container, container), str(path)]
    _run(command)
    return path


def make_audio_only(path: Path | str, seconds: float = 2.0) -> Path:
    """Write an AAC tone in an MP4 container: a file with sound but no picture."""
    path = Path(path)
    _run([FFMPEG, "-nostdin", "-v", "error", "-y", "-f", "lavfi",
          "-i", f"sine=frequency=440:sample_rate=44100:duration={seconds}", "-c:a", "aac", "-f", "mp4", str(path)])
    return path


def make_text_file(path: Path | str) -> Path:
    """Write a text file, as if someone renamed lecture notes to .mp4."""
    path = Path(path)
    path.write_text("第一讲 讲义\n这不是视频文件，只是改了扩展名。\n" * 200, encoding="utf-8")
    return path


def make_empty_file(path: Path | str) -> Path:
    """Write a zero-byte file, as an upload that never received any data."""
    path = Path(path)
    path.write_bytes(b"")
    return path


def make_truncated_copy(source: Path | str, path: Path | str, keep_fraction: float = 0.5) -> Path:
    """Copy the first ``keep_fraction`` of a file's bytes, as an upload cut off half-way."""
    data = Path(source).read_bytes()
    path = Path(path)
    path.write_bytes(data[: int(len(data) * keep_fraction)])
    return path


def package_encrypted_hls(folder: Path | str, seconds: float = 10.0) -> Path:
    """Make a test video and package it as AES-128 HLS in ``folder``, as the media worker does.

    Writes ``240p/index.m3u8`` with 2-second segments and the key in ``key.bin``; returns the folder.
    """
    folder = Path(folder)
    source = make_test_video(folder / "source.mp4", seconds=seconds, keyframe_seconds=2)
    (folder / "240p").mkdir(parents=True, exist_ok=True)
    (folder / "key.bin").write_bytes(os.urandom(16))
    (folder / "keyinfo").write_text(f"key.bin\n{folder / 'key.bin'}\n{os.urandom(16).hex()}\n")
    _run([FFMPEG, "-nostdin", "-v", "error", "-i", str(source), "-c", "copy", "-f", "hls",
          "-hls_time", "2", "-hls_playlist_type", "vod", "-hls_key_info_file", str(folder / "keyinfo"),
          "-hls_segment_filename", str(folder / "240p/seg_%05d.ts"), str(folder / "240p/index.m3u8")])
    return folder


def _run(command: list[str]) -> None:
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"ffmpeg 生成测试文件失败（退出码 {result.returncode}）：{' '.join(command)}\n"
                           f"{result.stderr}")
