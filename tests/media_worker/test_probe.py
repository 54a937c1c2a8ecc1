"""ffprobe validation against real generated files: what is accepted, and the message for each bad upload."""

from __future__ import annotations

import subprocess

import pytest

from media_worker import probe
from media_worker.probe import MediaRejected, probe_media
from tests.support import media

MAX_SECONDS = 3600


def test_h264_aac_video_is_described(videos):
    info = probe_media(videos.h264_480p(), MAX_SECONDS)
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (640, 480, "h264", "aac")
    assert info.has_audio and info.audio_profile == "LC" and info.pix_fmt == "yuv420p"
    assert info.duration_s == pytest.approx(4.0, abs=0.1)
    assert info.bitrate and info.bitrate > 0
    assert info.max_keyframe_interval_s == pytest.approx(2.0, abs=0.1)
    assert info.frame_rate == 25.0 and info.rotation == 0


def test_silent_video_is_accepted_without_audio(tmp_path):
    info = probe_media(media.make_test_video(tmp_path / "silent.mp4", seconds=2, audio=False), MAX_SECONDS)
    assert not info.has_audio and info.audio_codec is None and info.audio_stream_index is None


def test_rotated_phone_video_reports_its_displayed_size(tmp_path):
    upright = media.make_test_video(tmp_path / "upright.mp4", seconds=2)
    rotated = tmp_path / "rotated.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-i", str(upright), "-c", "copy",
                    "-metadata:s:v", "rotate=90", str(rotated)], check=True)
    info = probe_media(rotated, MAX_SECONDS)
    assert info.rotation in (90, 270) and (info.width, info.height) == (240, 320)


@pytest.mark.parametrize(("kind", "message"), [
    ("text", probe.MESSAGE_NOT_VIDEO),
    ("truncated", probe.MESSAGE_TRUNCATED),
    ("audio_only", probe.MESSAGE_NO_VIDEO),
    ("empty", probe.MESSAGE_EMPTY),
])
def test_bad_upload_is_rejected_with_its_message(videos, kind, message):
    with pytest.raises(MediaRejected) as rejected:
        probe_media(videos.bad(kind), MAX_SECONDS)
    assert rejected.value.message == message


def test_mp4_cut_off_before_its_index_is_reported_as_truncated_not_as_unknown(videos, tmp_path):
    whole = videos.h264_240p()  # ffmpeg writes the index (moov) at the end by default
    with pytest.raises(MediaRejected) as rejected:
        probe_media(media.make_truncated_copy(whole, tmp_path / "cut.mp4", keep_fraction=0.9), MAX_SECONDS)
    assert rejected.value.message == probe.MESSAGE_TRUNCATED


def test_mkv_cut_off_is_reported_as_truncated(tmp_path):
    whole = media.make_test_video(tmp_path / "whole.mkv", seconds=4, container="mkv")
    with pytest.raises(MediaRejected) as rejected:
        probe_media(media.make_truncated_copy(whole, tmp_path / "cut.mkv"), MAX_SECONDS)
    assert rejected.value.message == probe.MESSAGE_TRUNCATED


def test_video_longer_than_the_maximum_names_both_durations(videos):
    with pytest.raises(MediaRejected) as rejected:
        probe_media(videos.h264_240p(), 2)
    assert rejected.value.message == "视频时长 0:00:04 超过允许的上限 0:00:02，请剪辑后分段上传。"


def test_single_picture_has_no_usable_duration(tmp_path):
    picture = tmp_path / "slide.mp4"
    subprocess.run(["ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:duration=0.04",
                    "-frames:v", "1", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(picture)], check=True)
    with pytest.raises(MediaRejected) as rejected:
        probe_media(picture, MAX_SECONDS)
    assert rejected.value.message == probe.MESSAGE_ZERO_DURATION


def test_playlist_disguised_as_a_video_is_refused_before_ffmpeg_opens_what_it_names(videos, tmp_path):
    playlist = tmp_path / "lecture.mp4"
    playlist.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:4,\n{videos.h264_240p()}\n#EXT-X-ENDLIST\n")
    with pytest.raises(MediaRejected) as rejected:
        probe_media(playlist, MAX_SECONDS)
    assert rejected.value.message == probe.MESSAGE_NOT_VIDEO


def test_stream_that_parses_but_cannot_be_decoded_is_rejected(videos, tmp_path):
    data = bytearray(videos.h264_240p().read_bytes())
    mdat = data.index(b"mdat") + 8
    data[mdat:mdat + 20000] = bytes(20000)  # the first frames' bytes zeroed; the index still describes them
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    with pytest.raises(MediaRejected) as rejected:
        probe_media(damaged, MAX_SECONDS)
    assert rejected.value.message == probe.MESSAGE_UNDECODABLE
