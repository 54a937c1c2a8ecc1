"""The Prometheus endpoint: what a scrape shows after real tracking events, flushes and jobs; who may read it."""

from __future__ import annotations

import dataclasses

from prometheus_client.parser import text_string_to_metric_families

from lms.core import jobs
from lms.tracking import tasks


def _samples(client, headers=None) -> dict[tuple[str, tuple], float]:
    response = client.get("/metrics", headers=headers or {})
    assert response.status_code == 200, response.get_data(as_text=True)
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.get_data(as_text=True))
            for sample in family.samples}


def _value(samples, name, **labels) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_scrape_counts_flush_rounds_jobs_and_reads_queue_depths(app, client):
    before = _samples(client)
    with app.app_context():
        tasks.flush_dirty_sessions()
    after = _samples(client)
    assert _value(after, "lms_tracking_flush_round_seconds_count") == \
        _value(before, "lms_tracking_flush_round_seconds_count") + 1
    assert _value(after, "lms_tracking_last_flush_timestamp_seconds") > 0
    assert ("lms_tracking_open_playbacks", ()) in after
    assert ("lms_tracking_flush_lag_seconds", ()) in after
    assert any(name == "lms_queue_depth" for name, _ in after)


def test_the_embedded_runner_times_its_jobs(app, client, config):
    if config.redis_url:
        return  # RQ jobs are timed by the worker process (media_worker), tested with it
    before = _value(_samples(client), "lms_job_seconds_count", queue="media", status="finished")
    with app.test_request_context():
        jobs.enqueue(len, "abc", job_id="metrics-test").result(timeout=10)
    assert _value(_samples(client), "lms_job_seconds_count", queue="media", status="finished") == before + 1


def test_with_a_token_the_endpoint_asks_for_it(config, app_factory):
    client = app_factory(dataclasses.replace(config, metrics_token="m" * 32)).test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer " + "m" * 32}).status_code == 200
