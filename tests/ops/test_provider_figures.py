"""Provider analytics on /metrics and exhausted providers in /readyz's details."""

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from providers.models import ProviderCall
from providers.services import provider_mark_set

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _uncached(settings):
    settings.SLUICE_METRICS_CACHE_SECONDS = 0


def _samples(response) -> dict[tuple[str, frozenset], float]:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def test_metrics_report_cost_per_verified_hit_coverage_and_marks(client):
    now = timezone.now()
    common = {"data_point": "email", "created_at": now, "step": 1, "opens_lookup": True}
    ProviderCall.objects.bulk_create(
        [
            ProviderCall(provider="hunter", outcome="found", cost=2, email_status="risky",
                         accepted=True, **common),
            ProviderCall(provider="hunter", outcome="found", cost=2, email_status="valid",
                         accepted=True, **common),
            ProviderCall(provider="hunter", outcome="not_found", cost=2, **common),
            ProviderCall(provider="hunter", outcome="not_found", cost=2, **common),
        ]
    )  # fmt: skip
    provider_mark_set(provider="pdl", kind="out_of_credits", reason="402")

    samples = _samples(client.get("/metrics"))

    cost = ("sluice_provider_cost_per_verified_hit", {"provider": "hunter", "data_point": "email"})
    assert samples[(cost[0], frozenset(cost[1].items()))] == 4.0
    assert samples[("sluice_provider_catch_all_share", frozenset({("provider", "hunter")}))] == 0.5
    step = frozenset({("data_point", "email"), ("step", "1")})
    assert samples[("sluice_waterfall_coverage", step)] == 0.5
    marked = frozenset({("provider", "pdl"), ("kind", "out_of_credits")})
    assert samples[("sluice_provider_marked", marked)] == 1


def test_readyz_lists_exhausted_providers_without_failing(client, settings):
    settings.SLUICE_PROVIDER_EXHAUSTED_COOLDOWN_S = 900
    provider_mark_set(provider="hunter", kind="out_of_credits", reason="429")
    provider_mark_set(provider="pdl", kind="auth_failed", reason="401")

    response = client.get("/readyz")

    assert response.status_code == 200
    providers = response.json()["providers"]
    assert providers["hunter"]["status"] == "exhausted"
    assert providers["hunter"]["until"] is not None
    assert providers["pdl"] == {"status": "auth_failed", "until": None}
