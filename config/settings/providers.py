"""Providers and the waterfall (see docs/providers.md): the order per data point, keys, rate
limits, timeouts, retries, circuit breakers, the result cache and the sandbox instances."""

import os
import re
from collections.abc import Callable

from django.core.exceptions import ImproperlyConfigured

from config.env import env

# Ordered provider names per data point. `sandbox` (no network) by default so a fresh install
# works offline; several sandboxes may stand in a row (`sandbox_a,sandbox_b`). A leading `cache`
# is accepted and ignored: the result cache is always consulted first.
SLUICE_WATERFALL_EMAIL = env.list("SLUICE_WATERFALL_EMAIL", default=["sandbox"])
SLUICE_WATERFALL_PHONE = env.list("SLUICE_WATERFALL_PHONE", default=["sandbox"])
SLUICE_WATERFALL_COMPANY = env.list("SLUICE_WATERFALL_COMPANY", default=["sandbox"])
# The email verifier; empty = found emails are kept with email_status "unknown".
SLUICE_VERIFIER = env.str("SLUICE_VERIFIER", default="sandbox")
# What a `risky` (catch-all) email is: `accept` (found, charged), `accept_uncharged` (found, not
# charged) or `reject` (a miss: the waterfall goes on); and the lowest email status that counts as
# found (`valid`, `risky` or `unknown`). A workspace may set its own (`PUT /waterfall`).
SLUICE_CATCH_ALL_POLICY = env.str("SLUICE_CATCH_ALL_POLICY", default="accept")
SLUICE_MIN_EMAIL_STATUS = env.str("SLUICE_MIN_EMAIL_STATUS", default="unknown")
if SLUICE_CATCH_ALL_POLICY not in ("accept", "accept_uncharged", "reject"):
    raise ImproperlyConfigured(
        f"SLUICE_CATCH_ALL_POLICY={SLUICE_CATCH_ALL_POLICY!r}: "
        "use accept, accept_uncharged or reject"
    )
if SLUICE_MIN_EMAIL_STATUS not in ("valid", "risky", "unknown"):
    raise ImproperlyConfigured(
        f"SLUICE_MIN_EMAIL_STATUS={SLUICE_MIN_EMAIL_STATUS!r}: use valid, risky or unknown"
    )
# How long a provider that answered "out of credits" is left alone by every worker before it is
# tried again (an operator may clear the mark sooner in the admin).
SLUICE_PROVIDER_EXHAUSTED_COOLDOWN_S = env.int("SLUICE_PROVIDER_EXHAUSTED_COOLDOWN_S", default=3600)
# The `auto` order (docs/providers.md; beat's interval is in celery.py): over how many days of call
# records, how many of a workspace's calls it needs before it stops borrowing the operator's
# records, the weight of the prior (in calls) and the share of leads that explore (at most 0.2).
SLUICE_AUTO_ORDER_WINDOW_DAYS = env.int("SLUICE_AUTO_ORDER_WINDOW_DAYS", default=30)
SLUICE_AUTO_ORDER_MIN_CALLS = env.int("SLUICE_AUTO_ORDER_MIN_CALLS", default=300)
SLUICE_AUTO_ORDER_PRIOR_CALLS = env.float("SLUICE_AUTO_ORDER_PRIOR_CALLS", default=20.0)
SLUICE_AUTO_ORDER_EXPLORE_SHARE = min(
    0.2, env.float("SLUICE_AUTO_ORDER_EXPLORE_SHARE", default=0.05)
)
# Whether a waterfall or the verifier may name the sandbox; production allows it only on request
# (config/settings/production.py).
SLUICE_SANDBOX_ALLOWED = True
SLUICE_PROVIDER_KEYS = {
    "hunter": env.str("HUNTER_API_KEY", default=""),
    "prospeo": env.str("PROSPEO_API_KEY", default=""),
    "pdl": env.str("PDL_API_KEY", default=""),
    "apollo": env.str("APOLLO_API_KEY", default=""),
    "zerobounce": env.str("ZEROBOUNCE_API_KEY", default=""),
    "neverbounce": env.str("NEVERBOUNCE_API_KEY", default=""),
    "dropcontact": env.str("DROPCONTACT_API_KEY", default=""),
}
# Overrides of the documented limits, e.g. "hunter=300/min:10,pdl=100/min" (rate[:burst]).
SLUICE_PROVIDER_RATE_LIMITS = env.dict("SLUICE_PROVIDER_RATE_LIMITS", default={})
# In-flight calls per provider per worker process, e.g. "hunter=5,sandbox=200".
SLUICE_PROVIDER_CONCURRENCY = env.dict(
    "SLUICE_PROVIDER_CONCURRENCY", cast={"value": int}, default={}
)
# Threads of a process's waterfall pool, shared by its batches, used when a provider of a batch
# waits (none when none does): enough for a slow, rate-limited provider to be paced by its limit
# (2 s x 100 calls/s needs 200 in flight across the workers); a thread waiting on a call costs
# little (docs/benchmarks.md).
SLUICE_ENGINE_THREADS = env.int("SLUICE_ENGINE_THREADS", default=128)
SLUICE_PROVIDER_CONNECT_TIMEOUT_S = env.float("SLUICE_PROVIDER_CONNECT_TIMEOUT_S", default=3.05)
SLUICE_PROVIDER_READ_TIMEOUT_S = env.float("SLUICE_PROVIDER_READ_TIMEOUT_S", default=20.0)
# Retries on 429/5xx/timeouts: exponential backoff with full jitter, honouring Retry-After up to
# SLUICE_PROVIDER_MAX_RETRY_AFTER_S; a longer Retry-After skips to the next provider and marks
# this one limited until then (for every worker).
SLUICE_PROVIDER_MAX_RETRIES = env.int("SLUICE_PROVIDER_MAX_RETRIES", default=2)
SLUICE_PROVIDER_BACKOFF_BASE_S = env.float("SLUICE_PROVIDER_BACKOFF_BASE_S", default=0.25)
SLUICE_PROVIDER_BACKOFF_CAP_S = env.float("SLUICE_PROVIDER_BACKOFF_CAP_S", default=4.0)
SLUICE_PROVIDER_MAX_RETRY_AFTER_S = env.float("SLUICE_PROVIDER_MAX_RETRY_AFTER_S", default=5.0)
# Longest wait for a rate-limit token before falling through to the next provider.
SLUICE_RATE_LIMIT_MAX_WAIT_S = env.float("SLUICE_RATE_LIMIT_MAX_WAIT_S", default=5.0)
# Circuit breaker: opens after N transient failures within the window, half-opens (one probe)
# after the cool-down.
SLUICE_BREAKER_FAILURES = env.int("SLUICE_BREAKER_FAILURES", default=5)
SLUICE_BREAKER_WINDOW_S = env.float("SLUICE_BREAKER_WINDOW_S", default=30.0)
SLUICE_BREAKER_COOLDOWN_S = env.float("SLUICE_BREAKER_COOLDOWN_S", default=30.0)
# Result cache (per workspace, provider, data point and identity); 0 disables it.
SLUICE_RESULT_CACHE_TTL_S = env.int("SLUICE_RESULT_CACHE_TTL_S", default=30 * 24 * 3600)
SLUICE_DROPCONTACT_POLL_INTERVAL_S = env.float("SLUICE_DROPCONTACT_POLL_INTERVAL_S", default=10.0)
# Dropcontact may take up to three minutes to answer a batch.
SLUICE_DROPCONTACT_POLL_TIMEOUT_S = env.float("SLUICE_DROPCONTACT_POLL_TIMEOUT_S", default=180.0)


# One sandbox knob's value, parsed from its environment variable.
SandboxKnob = float | str | int | tuple[float, ...]


def _sandbox_instances() -> dict[str, dict[str, SandboxKnob]]:
    """`SLUICE_SANDBOX[_<SUFFIX>]_<KNOB>` → {"sandbox[_suffix]": {knob: value}}; knobs of the
    plain `sandbox` apply to every instance unless the instance sets its own."""
    knobs: dict[str, Callable[[str], SandboxKnob]] = {
        "LATENCY_MS": float, "EMAIL_HIT_RATE": float, "PHONE_HIT_RATE": float,
        "COMPANY_HIT_RATE": float, "FINDER_INVALID_RATE": float, "FAULT_429_RATE": float,
        "FAULT_5XX_RATE": float, "FAULT_TIMEOUT_RATE": float, "FAULT_MALFORMED_RATE": float,
        "RETRY_AFTER_S": float, "RATE_LIMIT": str, "CONCURRENCY": int, "COST": float,
        "MISS_COST": float, "VERIFY_COST": float,
        "VERIFY_MIX": lambda v: tuple(float(x) for x in v.split(",")),
    }  # fmt: skip
    pattern = re.compile(rf"^SLUICE_SANDBOX(?:_([A-Z0-9]+))?_({'|'.join(knobs)})$")
    instances: dict[str, dict[str, SandboxKnob]] = {}
    for key, value in os.environ.items():
        if match := pattern.match(key):
            name = "sandbox" + (f"_{match.group(1).lower()}" if match.group(1) else "")
            instances.setdefault(name, {})[match.group(2).lower()] = knobs[match.group(2)](value)
    return instances


SLUICE_SANDBOX_INSTANCES = _sandbox_instances()
