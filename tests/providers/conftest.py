import pytest

from providers.limits import get_limits


@pytest.fixture(autouse=True)
def _fast_providers(settings, redis_client):
    """No sandbox latency, tiny backoffs and cool-downs, the default waterfalls, and a clean
    Redis (breakers, buckets and "limited until" marks live there)."""
    settings.SLUICE_SANDBOX_INSTANCES = {"sandbox": {"latency_ms": 0}}
    settings.SLUICE_WATERFALL_EMAIL = ["sandbox"]
    settings.SLUICE_WATERFALL_PHONE = ["sandbox"]
    settings.SLUICE_WATERFALL_COMPANY = ["sandbox"]
    settings.SLUICE_VERIFIER = "sandbox"
    settings.SLUICE_PROVIDER_BACKOFF_BASE_S = 0.001
    settings.SLUICE_PROVIDER_BACKOFF_CAP_S = 0.005
    settings.SLUICE_PROVIDER_MAX_RETRY_AFTER_S = 0.05
    settings.SLUICE_BREAKER_COOLDOWN_S = 0.2
    settings.SLUICE_DROPCONTACT_POLL_INTERVAL_S = 0
    settings.SLUICE_DROPCONTACT_POLL_TIMEOUT_S = 0.05
    settings.SLUICE_PROVIDER_KEYS = {
        name: f"test-{name}-key"
        for name in ("hunter", "prospeo", "pdl", "apollo", "zerobounce", "neverbounce",
                     "dropcontact")
    }  # fmt: skip
    assert get_limits() is not None
    return settings
