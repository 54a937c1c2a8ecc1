"""LMS_MEDIA_DELIVERY=edge: segment URLs carry a short-lived token that a caching edge (real nginx, secure_link)
checks; the edge caches by path, so two learners' different URLs of one segment are one cached copy; the origin
(this app's /media/…) checks the token again and never serves anything but published media."""

from __future__ import annotations

import dataclasses
import time
from urllib.parse import parse_qsl, urlencode, urlparse, urlunparse

import pytest
import requests

from lms.courses.models import CourseState
from lms.player import edge
from tests.conftest import login, make_user
from tests.player import browser_session, enroll, live_server, make_course, make_media, segment_bytes
from tests.support.nginx_edge import NginxEdge

SECRET = "edge-secret-" + "e" * 32


@pytest.fixture
def config(base_config):
    return dataclasses.replace(base_config, media_delivery="edge", media_edge_url="", media_edge_secret=SECRET)


@pytest.fixture
def lecture(tree):
    asset = make_media(tree.base_a, encrypted=True)
    course = make_course(tree.base_a, state=CourseState.PUBLISHED, hours=(1.0,), media=[asset])
    enroll(tree.learner_a, course)
    return {"course": course, "asset": asset, "play": f"/play/{course.coursewares[0].id}"}


@pytest.fixture
def served(app):
    """The app on a loopback port (the origin) and an nginx edge in front of it."""
    with live_server(app) as origin:
        edge_server = NginxEdge(origin, SECRET).start()
        try:
            yield origin, edge_server.url
        finally:
            edge_server.stop()


def _segment_paths(session: requests.Session, origin: str, play: str) -> list[str]:
    text = session.get(f"{origin}{play}/360p/index.m3u8", timeout=10).text
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def _with(url: str, **changes) -> str:
    parsed = urlparse(url)
    return urlunparse(parsed._replace(query=urlencode({**dict(parse_qsl(parsed.query)), **changes})))


def test_the_settings_are_checked(tmp_path):
    from lms.config import Config, ConfigError
    with pytest.raises(ConfigError, match="LMS_MEDIA_EDGE_SECRET"):
        Config.from_env({"LMS_MEDIA_DELIVERY": "edge", "LMS_MEDIA_EDGE_SECRET": "short"}, data_dir=tmp_path)
    with pytest.raises(ConfigError, match="LMS_MEDIA_DELIVERY"):
        Config.from_env({"LMS_MEDIA_DELIVERY": "carrier-pigeon"}, data_dir=tmp_path)
    config = Config.from_env({"LMS_MEDIA_DELIVERY": "edge", "LMS_MEDIA_EDGE_SECRET": SECRET,
                              "LMS_MEDIA_EDGE_URL": "https://cdn.example.org/"}, data_dir=tmp_path)
    assert (config.media_delivery, config.media_edge_url) == ("edge", "https://cdn.example.org")
    assert Config.from_env({}, data_dir=tmp_path).media_delivery == "presigned"


def test_the_token_is_nginx_secure_link_md5_of_expiry_path_viewer_and_secret():
    url = edge.edge_url("https://cdn.example.org", "media/3/v1/360p/seg_00000.ts", 42, 300, SECRET, now=1_000)
    assert url.startswith("https://cdn.example.org/media/3/v1/360p/seg_00000.ts?u=42&expires=1300&md5=")
    given = dict(parse_qsl(urlparse(url).query))["md5"]
    path = "/media/3/v1/360p/seg_00000.ts"
    assert edge.is_valid(path, "42", "1300", given, SECRET, now=1_299)
    assert not edge.is_valid(path, "42", "1300", given, SECRET, now=1_301)  # expired
    assert not edge.is_valid(path, "43", "1300", given, SECRET, now=1_000)  # another viewer
    assert not edge.is_valid("/media/3/v1/360p/seg_00001.ts", "42", "1300", given, SECRET, now=1_000)
    assert not edge.is_valid(path, "x", "1300", given, SECRET) and not edge.is_valid(path, "42", "", given, SECRET)
    with pytest.raises(ValueError):
        edge.edge_url("", "keys/3/v1/key.bin", 42, 300, SECRET)  # keys are never handed to an edge


def test_two_learners_get_their_own_urls_and_the_edge_serves_one_cached_copy(tree, lecture, served):
    origin, edge_url = served
    other = make_user(tree.unit_a, tree.learner_a.role)
    enroll(other, lecture["course"])
    first = _segment_paths(browser_session(origin, tree.learner_a), origin, lecture["play"])
    second = _segment_paths(browser_session(origin, other), origin, lecture["play"])
    assert len(first) == 3 and all(path.startswith(f"/{lecture['asset'].hls_prefix}360p/seg_") for path in first)
    assert first[0] != second[0] and urlparse(first[0]).path == urlparse(second[0]).path

    miss = requests.get(edge_url + first[0], timeout=10)
    assert miss.status_code == 200 and miss.headers["X-Cache-Status"] == "MISS"
    assert miss.content == segment_bytes(lecture["asset"].id, "360p", 0)
    hit = requests.get(edge_url + second[0], timeout=10)
    assert hit.status_code == 200 and hit.headers["X-Cache-Status"] == "HIT" and hit.content == miss.content


def test_the_edge_refuses_a_tampered_or_expired_url_and_the_origin_checks_again(tree, lecture, served):
    origin, edge_url = served
    path = _segment_paths(browser_session(origin, tree.learner_a), origin, lecture["play"])[1]
    query = dict(parse_qsl(urlparse(path).query))
    assert requests.get(edge_url + _with(path, u=str(int(query["u"]) + 1)), timeout=10).status_code == 403
    assert requests.get(edge_url + _with(path, md5="A" * 22), timeout=10).status_code == 403
    later = str(int(query["expires"]) + 3600)
    assert requests.get(edge_url + _with(path, expires=later), timeout=10).status_code == 403
    key = urlparse(path).path.lstrip("/")
    stale = edge.edge_url("", key, int(query["u"]), -60, SECRET)
    assert requests.get(edge_url + stale, timeout=10).status_code == 410  # secure_link's "expired"
    # Straight at the origin: the same checks, and nothing outside published media.
    assert requests.get(origin + _with(path, md5="A" * 22), timeout=10).status_code == 403
    assert requests.get(origin + stale, timeout=10).status_code == 403
    assert requests.get(origin + path, timeout=10).status_code == 200
    asset = lecture["asset"]
    forged = f"/media/../keys/{asset.id}/v{asset.hls_version}/key.bin?u=1&expires={int(time.time()) + 60}&md5=x"
    assert requests.get(origin + forged, timeout=10).status_code in (403, 404)


def test_presigned_delivery_has_no_origin_route(client, tree, lecture, base_config, app_factory):
    presigned = app_factory(base_config).test_client()
    login(presigned, tree.learner_a)
    assert presigned.get(f"/{lecture['asset'].hls_prefix}360p/seg_00000.ts?u=1&expires=9999999999&md5=x"
                         ).status_code == 404
