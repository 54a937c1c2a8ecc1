"""The rendition plan and the ffmpeg argument lists: pure functions, checked without running ffmpeg."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from media_worker.packaging import (
    FfmpegFailed,
    PackagedRendition,
    ProgressParser,
    Rendition,
    hls_command,
    key_info_text,
    master_playlist,
    measure_bandwidth,
    parse_media_playlist,
    plan_renditions,
    poster_command,
    run_ffmpeg,
    scaled_width,
    video_codec_string,
    video_maxrate_kbps,
)
from media_worker.probe import ProbeResult

LADDER = (360, 720)
SOURCE = Path("/work/original")
OUT = Path("/work/out")


def h264(width: int = 1920, height: int = 1080, **changes) -> ProbeResult:
    info = ProbeResult(duration_s=600.0, width=width, height=height, video_codec="h264", audio_codec="aac",
                       has_audio=True, bitrate=4_000_000, format_name="mov,mp4,m4a,3gp,3g2,mj2",
                       video_stream_index=0, audio_stream_index=1, pix_fmt="yuv420p", video_profile="High",
                       video_level=40, audio_profile="LC", frame_rate=25.0, max_keyframe_interval_s=4.0)
    return dataclasses.replace(info, **changes)


def mpeg4(width: int = 1920, height: int = 1080, **changes) -> ProbeResult:
    return h264(width, height, **{"video_codec": "mpeg4", "video_profile": "Simple Profile", "audio_codec": "mp3",
                                  "audio_profile": None, **changes})


def shape(plan) -> list[tuple[str, int, int, bool]]:
    return [(r.name, r.width, r.height, r.copy_video) for r in plan.renditions]


def test_h264_aac_source_is_copied_and_only_smaller_rungs_are_transcoded():
    plan = plan_renditions(h264(), LADDER)
    assert plan.mode == "remux"
    assert shape(plan) == [("360p", 640, 360, False), ("720p", 1280, 720, False), ("1080p", 1920, 1080, True)]
    assert plan.renditions[-1].copy_audio


def test_h264_source_at_a_rung_height_is_not_duplicated_by_that_rung():
    assert shape(plan_renditions(h264(1280, 720), LADDER)) == [("360p", 640, 360, False), ("720p", 1280, 720, True)]


def test_small_h264_source_gives_only_its_own_copied_rendition():
    assert shape(plan_renditions(h264(320, 240), LADDER)) == [("240p", 320, 240, True)]


def test_h264_with_other_audio_copies_the_video_and_encodes_the_audio():
    plan = plan_renditions(h264(audio_codec="mp3", audio_profile=None), LADDER)
    source = plan.renditions[-1]
    assert plan.mode == "remux" and source.copy_video and not source.copy_audio


@pytest.mark.parametrize("changes", [
    {"pix_fmt": "yuv420p10le", "video_profile": "High 10"},
    {"pix_fmt": "yuv444p", "video_profile": "High 4:4:4 Predictive"},
    {"rotation": 90},
    {"max_keyframe_interval_s": 30.0},
    {"max_keyframe_interval_s": None},
], ids=["10-bit", "4:4:4", "rotated", "long-gop", "no-keyframes-seen"])
def test_h264_a_browser_cannot_play_as_is_is_transcoded(changes):
    plan = plan_renditions(h264(**changes), LADDER)
    assert plan.mode == "transcode"
    assert shape(plan) == [("360p", 640, 360, False), ("720p", 1280, 720, False)]


@pytest.mark.parametrize(("height", "expected"), [(1080, [360, 720]), (720, [360, 720]), (480, [360]),
                                                  (360, [360]), (240, [240]), (241, [240])])
def test_transcode_never_upscales(height, expected):
    plan = plan_renditions(mpeg4(height * 4 // 3, height), LADDER)
    assert plan.mode == "transcode"
    assert [r.height for r in plan.renditions] == expected


@pytest.mark.parametrize(("source", "height", "width"), [((640, 480), 360, 480), ((1280, 720), 360, 640),
                                                         ((854, 480), 360, 640), ((400, 400), 360, 360),
                                                         ((1080, 1920), 720, 406)])
def test_scaled_width_rounds_like_ffmpeg_scale_minus_two(source, height, width):
    assert scaled_width(*source, height) == width


def test_remux_command_copies_the_source_and_aligns_the_lower_rungs_to_its_keyframes():
    info = h264()
    command = hls_command(SOURCE, OUT, info, plan_renditions(info, LADDER))
    assert command[:2] == ["ffmpeg", "-nostdin"]
    assert ["-progress", "pipe:1"] == command[command.index("-progress"):command.index("-progress") + 2]
    assert "-nostats" in command
    assert command[command.index("-i") - 4:command.index("-i")] == [
        "-protocol_whitelist", "file", "-format_whitelist", "mov,matroska,avi,flv,mpegts,mpeg,asf,rm,mxf,ogg"]
    outputs = _split_outputs(command)
    assert [o[-1] for o in outputs] == ["/work/out/360p/index.m3u8", "/work/out/720p/index.m3u8",
                                        "/work/out/1080p/index.m3u8"]
    copy = outputs[2]
    assert _value(copy, "-c:v") == "copy" and _value(copy, "-c:a") == "copy" and "-vf" not in copy
    lower = outputs[0]
    assert _value(lower, "-c:v") == "libx264" and _value(lower, "-vf") == "scale=-2:360"
    assert _value(lower, "-force_key_frames") == "source" and _value(lower, "-sc_threshold") == "0"
    assert _value(lower, "-maxrate") == f"{video_maxrate_kbps(360)}k" and _value(lower, "-c:a") == "aac"
    for output in outputs:
        assert _value(output, "-f") == "hls" and _value(output, "-hls_time") == "6"
        assert _value(output, "-hls_playlist_type") == "vod"
        assert _value(output, "-map") == "0:0" and output.count("-map") == 2
        assert "-hls_key_info_file" not in output
    assert _value(outputs[1], "-hls_segment_filename") == "/work/out/720p/seg_%05d.ts"


def test_transcode_command_forces_a_keyframe_every_segment_and_can_encrypt():
    info = mpeg4(640, 480, has_audio=False, audio_codec=None, audio_stream_index=None)
    command = hls_command(SOURCE, OUT, info, plan_renditions(info, LADDER), key_info_file=Path("/work/key_info"))
    (output,) = _split_outputs(command)
    assert _value(output, "-force_key_frames") == "expr:gte(t,n_forced*6)"
    assert _value(output, "-hls_key_info_file") == "/work/key_info"
    assert output.count("-map") == 1 and "-c:a" not in output


def test_poster_is_one_frame_at_a_tenth_of_the_duration_at_most_720_lines():
    command = poster_command(SOURCE, OUT / "poster.jpg", h264())
    assert _value(command, "-ss") == "60.000" and _value(command, "-frames:v") == "1"
    assert command.index("-ss") < command.index("-i")  # input seeking: no decoding up to the frame
    assert _value(command, "-vf") == "scale=-2:'min(720,ih)'" and command[-1] == "/work/out/poster.jpg"


def test_key_info_names_a_relative_placeholder_uri_the_delivery_code_rewrites():
    assert key_info_text(Path("/work/key.bin"), "00" * 16) == f"key.bin\n/work/key.bin\n{'00' * 16}\n"


def test_master_playlist_lists_each_rendition_with_bandwidth_resolution_and_codecs():
    renditions = [PackagedRendition("360p", 640, 360, 900_000, 700_000, "avc1.640028,mp4a.40.2", "360p/index.m3u8",
                                    10.0),
                  PackagedRendition("720p", 1280, 720, 2_600_000, 2_000_000, "avc1.64001F,mp4a.40.2",
                                    "720p/index.m3u8", 10.0)]
    assert master_playlist(renditions) == (
        "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n"
        '#EXT-X-STREAM-INF:BANDWIDTH=900000,AVERAGE-BANDWIDTH=700000,RESOLUTION=640x360,'
        'CODECS="avc1.640028,mp4a.40.2"\n360p/index.m3u8\n'
        '#EXT-X-STREAM-INF:BANDWIDTH=2600000,AVERAGE-BANDWIDTH=2000000,RESOLUTION=1280x720,'
        'CODECS="avc1.64001F,mp4a.40.2"\n720p/index.m3u8\n')


def test_codec_strings_describe_the_copied_stream_or_the_encoder_settings():
    info = h264(video_profile="Main", video_level=31)
    assert video_codec_string(info, Rendition(1920, 1080, copy_video=True)) == "avc1.4D401F"
    assert video_codec_string(info, Rendition(640, 360)) == "avc1.640028"


def test_bandwidth_is_the_peak_and_the_average_of_the_segments(tmp_path):
    (tmp_path / "a.ts").write_bytes(b"x" * 6000)
    (tmp_path / "b.ts").write_bytes(b"x" * 1000)
    playlist = tmp_path / "index.m3u8"
    playlist.write_text("#EXTM3U\n#EXT-X-TARGETDURATION:6\n#EXTINF:6.000000,\na.ts\n#EXTINF:2.000000,\nb.ts\n"
                        "#EXT-X-ENDLIST\n")
    assert parse_media_playlist(playlist.read_text()) == [(6.0, "a.ts"), (2.0, "b.ts")]
    assert measure_bandwidth(playlist) == (8000, 7000, 8.0)


def test_progress_lines_become_the_fraction_of_the_duration_done():
    parser = ProgressParser(duration_s=10.0)
    assert parser.feed("frame=12\n") is None
    assert parser.feed("out_time_us=N/A\n") is None
    assert parser.feed("out_time_us=-23000\n") == 0.0
    assert parser.feed("out_time_us=2500000\n") == 0.25
    assert parser.feed("out_time_us=10400000\n") == 1.0
    assert parser.feed("progress=end\n") == 1.0


def test_failing_ffmpeg_raises_with_the_end_of_its_error_output(tmp_path):
    with pytest.raises(FfmpegFailed, match="No such file or directory"):
        run_ffmpeg(["ffmpeg", "-nostdin", "-v", "error", "-i", str(tmp_path / "missing.mp4"), "-f", "null", "-"])


def _split_outputs(command: list[str]) -> list[list[str]]:
    outputs, current = [], []
    for arg in command[command.index("-i") + 2:]:
        current.append(arg)
        if arg.endswith(".m3u8"):
            outputs.append(current)
            current = []
    return outputs


def _value(args: list[str], option: str) -> str:
    return args[args.index(option) + 1]
