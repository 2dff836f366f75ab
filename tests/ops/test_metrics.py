import pytest
from prometheus_client.parser import text_string_to_metric_families

from credits.services import credits_grant, hold_place, hold_settle
from tests.ops.factories import ProviderCallFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _uncached(settings):
    settings.SLUICE_METRICS_CACHE_SECONDS = 0


def _samples(response) -> dict[tuple[str, frozenset], float]:
    text = response.content.decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _value(samples, name: str, **labels) -> float:
    return samples[(name, frozenset(labels.items()))]


def test_metrics_workflows_by_status(client, workspace):
    # given
    WorkflowFactory.create_batch(2, workspace=workspace, status="running")
    WorkflowFactory(workspace=workspace, status="completed")

    samples = _samples(client.get("/metrics"))

    assert _value(samples, "sluice_workflows", kind="bulk", status="running") == 2
    assert _value(samples, "sluice_workflows", kind="bulk", status="completed") == 1
    # statuses with no workflow are still exported, at 0
    assert _value(samples, "sluice_workflows", kind="bulk", status="failed") == 0
    assert _value(samples, "sluice_workflows", kind="person", status="pending") == 0


def test_metrics_provider_calls_by_outcome_and_latency_histogram(client):
    # given three real calls and a cache hit
    ProviderCallFactory(provider="hunter", outcome="found", latency_ms=30)
    ProviderCallFactory(provider="hunter", outcome="found", latency_ms=300)
    ProviderCallFactory(provider="hunter", outcome="transient_error", latency_ms=3000)
    ProviderCallFactory(provider="hunter", outcome="found", latency_ms=0, cached=True)

    samples = _samples(client.get("/metrics"))

    calls = "sluice_provider_calls_total"
    assert _value(samples, calls, provider="hunter", outcome="found", cached="false") == 2
    assert _value(samples, calls, provider="hunter", outcome="found", cached="true") == 1
    assert _value(samples, calls, provider="hunter", outcome="transient_error", cached="false") == 1
    hist = "sluice_provider_call_latency_seconds"
    found = {"provider": "hunter", "outcome": "found"}
    assert _value(samples, f"{hist}_bucket", **found, le="0.05") == 1
    assert _value(samples, f"{hist}_bucket", **found, le="0.5") == 2
    assert _value(samples, f"{hist}_bucket", **found, le="+Inf") == 2
    assert _value(samples, f"{hist}_count", **found) == 2
    assert _value(samples, f"{hist}_sum", **found) == pytest.approx(0.33)
    # cache hits take no latency sample
    assert not any(
        name.startswith(hist) and ("cached", "true") in labels for name, labels in samples
    )


def test_metrics_credits_charged_and_refunded_from_the_ledger(client, workspace):
    # given 100 granted, 40 held, 25 charged and 15 given back
    credits_grant(workspace=workspace, amount=100, reason="test", reference="m1")
    hold = hold_place(workspace=workspace, amount=40, reference="wf-m1", workflow_id="wf-m1")
    hold_settle(hold_id=hold.pk, charge=25)

    samples = _samples(client.get("/metrics"))

    assert _value(samples, "sluice_credits_charged_total") == 25
    assert _value(samples, "sluice_credits_refunded_total") == 15
    assert _value(samples, "sluice_credit_ledger_credits_total", kind="grant") == 100
    assert _value(samples, "sluice_credit_ledger_credits_total", kind="hold") == 40


def test_metrics_reports_the_broker_queue_length(client, redis_client, settings):
    # given two messages waiting in the default queue
    redis_client.lpush(settings.CELERY_TASK_DEFAULT_QUEUE, "m1", "m2")

    samples = _samples(client.get("/metrics"))

    assert _value(samples, "sluice_celery_queue_length", queue="celery") == 2


def test_metrics_are_cached_between_scrapes(client, settings, workspace):
    settings.SLUICE_METRICS_CACHE_SECONDS = 60
    WorkflowFactory(workspace=workspace, status="running")
    first = _samples(client.get("/metrics"))

    WorkflowFactory(workspace=workspace, status="running")
    second = _samples(client.get("/metrics"))

    assert _value(first, "sluice_workflows", kind="bulk", status="running") == 1
    assert _value(second, "sluice_workflows", kind="bulk", status="running") == 1


def test_metrics_token_required_when_set(client, settings):
    settings.SLUICE_METRICS_TOKEN = "tok-123"

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer tok-123")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain; version=")
    assert b"sluice_workflows" in response.content


def test_metrics_open_when_no_token(client):
    response = client.get("/metrics")

    assert response.status_code == 200
    assert b"# TYPE sluice_workflows gauge" in response.content
    assert b"sluice_credits_charged_total 0.0" in response.content


def test_metrics_report_when_the_sweeper_last_ran(client):
    # given no sweep yet, then one sweep
    from enrichment.services.execution import workflows_sweep

    before = _value(_samples(client.get("/metrics")), "sluice_sweeper_last_run_timestamp_seconds")
    workflows_sweep()

    after = _value(_samples(client.get("/metrics")), "sluice_sweeper_last_run_timestamp_seconds")

    assert before == 0
    assert after > 1_700_000_000
