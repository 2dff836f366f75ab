import pytest
from django.db import connection

from ops import health

pytestmark = pytest.mark.django_db

DEAD_REDIS = "redis://127.0.0.1:1/0"


@pytest.fixture(autouse=True)
def _fresh_migration_check(monkeypatch):
    # The "all applied" answer is remembered per process; each test asks afresh.
    monkeypatch.setattr(health, "_migrations_applied", False)


def test_healthz_reports_each_dependency_ok_with_latency(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert set(body["checks"]) >= {"database", "broker"}
    for check in body["checks"].values():
        assert check["status"] == "ok"
        assert 0 <= check["latency_ms"] < 5000
    assert response["Cache-Control"].startswith("max-age=0")


def test_healthz_down_redis_broker_is_503_without_leaking_the_url(client, settings):
    # given a broker URL pointing at a port nothing listens on (the shared Redis stays up)
    settings.CELERY_BROKER_URL = "redis://:s3cret@127.0.0.1:1/0"

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["checks"]["broker"]["status"] == "fail"
    assert body["checks"]["broker"]["error"] == "ConnectionError"
    assert body["checks"]["database"]["status"] == "ok"
    text = response.content.decode()
    assert "s3cret" not in text
    assert "127.0.0.1" not in text


def test_healthz_down_cache_redis_is_reported_separately(client, settings):
    settings.REDIS_URL = DEAD_REDIS

    response = client.get("/healthz")

    assert response.status_code == 503
    checks = response.json()["checks"]
    assert checks["redis"]["status"] == "fail"
    assert checks["broker"]["status"] == "ok"


def test_healthz_filesystem_broker_checks_its_folders_are_writable(client, settings, tmp_path):
    # given the embedded broker's layout
    queue, processed = tmp_path / "queue", tmp_path / "processed"
    queue.mkdir()
    processed.mkdir()
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        "processed_folder": str(processed),
    }
    assert client.get("/healthz").status_code == 200

    # when a folder disappears
    processed.rmdir()
    response = client.get("/healthz")

    # then
    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["error"] == "FileNotFoundError"


def test_healthz_answers_without_an_api_key_and_only_get(client):
    assert client.get("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405


def test_readyz_migrated_and_dependencies_up_is_200(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["migrations"]["status"] == "ok"


def test_readyz_unapplied_migration_is_503(client):
    # given the latest enrichment migration recorded as not applied (inside the test's
    # rolled-back transaction)
    with connection.cursor() as cursor:
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'enrichment' AND name = "
            "(SELECT max(name) FROM django_migrations WHERE app = 'enrichment')"
        )

    response = client.get("/readyz")

    assert response.status_code == 503
    migrations = response.json()["checks"]["migrations"]
    assert migrations["status"] == "fail"
    assert migrations["error"] == "PendingMigrations"


def test_readyz_down_broker_is_503(client, settings):
    settings.CELERY_BROKER_URL = DEAD_REDIS

    response = client.get("/readyz")

    assert response.status_code == 503
    assert response.json()["checks"]["broker"]["status"] == "fail"


def _sweeper_ran(seconds_ago: float) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from enrichment.models import SweeperRun

    SweeperRun.objects.update_or_create(
        name="enrichment.sweep_workflows",
        defaults={"finished_at": timezone.now() - timedelta(seconds=seconds_ago)},
    )


def test_readyz_reports_when_the_sweeper_last_ran(client, settings):
    # given beat's sweeper finished 5 s ago, stale after 120 s
    settings.SLUICE_SWEEPER_STALE_SECONDS = 120
    _sweeper_ran(5)

    response = client.get("/readyz")

    assert response.status_code == 200
    sweeper = response.json()["checks"]["sweeper"]
    assert sweeper["status"] == "ok"
    assert sweeper["last_run_at"].endswith("Z")
    assert 5 <= sweeper["age_s"] < 120


def test_readyz_stale_sweeper_is_503(client, settings):
    # given a sweeper whose last sweep is older than the configured delay (beat stopped)
    settings.SLUICE_SWEEPER_STALE_SECONDS = 120
    _sweeper_ran(600)

    response = client.get("/readyz")

    assert response.status_code == 503
    sweeper = response.json()["checks"]["sweeper"]
    assert (sweeper["status"], sweeper["error"]) == ("fail", "SweeperStale")
    assert sweeper["age_s"] >= 600


def test_readyz_sweeper_check_off_when_the_delay_is_zero(client, settings):
    settings.SLUICE_SWEEPER_STALE_SECONDS = 0
    _sweeper_ran(100_000)

    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"]["sweeper"]["status"] == "ok"
