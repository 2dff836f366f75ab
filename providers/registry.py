"""Provider names → classes, and the waterfalls from settings.

A name in settings is either a registry name (`hunter`) or a sandbox instance
(`sandbox`, `sandbox_a`, …: each its own `SLUICE_SANDBOX_INSTANCES` entry, inheriting the plain
`sandbox` knobs)."""

from __future__ import annotations

from django.conf import settings

from providers.adapters.apollo import ApolloProvider
from providers.adapters.dropcontact import DropcontactProvider
from providers.adapters.hunter import HunterProvider
from providers.adapters.neverbounce import NeverBounceProvider
from providers.adapters.pdl import PdlProvider
from providers.adapters.prospeo import ProspeoProvider
from providers.adapters.sandbox import SandboxProvider
from providers.adapters.zerobounce import ZeroBounceProvider
from providers.base import DataPoint, Provider, RateSpec

REGISTRY: dict[str, type[Provider]] = {
    cls.kind: cls
    for cls in (
        HunterProvider,
        ProspeoProvider,
        PdlProvider,
        ApolloProvider,
        DropcontactProvider,
        NeverBounceProvider,
        ZeroBounceProvider,
        SandboxProvider,
    )
}


def provider_class(name: str) -> type[Provider]:
    if name == "sandbox" or name.startswith("sandbox_"):
        return SandboxProvider
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"Unknown provider {name!r}; known: {sorted(REGISTRY)}") from None


def build_provider(name: str) -> Provider:
    cls = provider_class(name)
    if cls is SandboxProvider:
        instances = settings.SLUICE_SANDBOX_INSTANCES
        config = {**instances.get("sandbox", {}), **instances.get(name, {})}
        return SandboxProvider(name=name, config=config)
    return cls(name=name, api_key=settings.SLUICE_PROVIDER_KEYS.get(name, ""))


def rate_spec(provider: Provider) -> RateSpec | None:
    text = settings.SLUICE_PROVIDER_RATE_LIMITS.get(provider.name) or provider.default_rate_limit
    return RateSpec.parse(text) if text else None


def concurrency(provider: Provider) -> int:
    return int(
        settings.SLUICE_PROVIDER_CONCURRENCY.get(provider.name) or provider.default_concurrency
    )


def waterfall_names(data_point: DataPoint) -> list[str]:
    raw = {
        DataPoint.EMAIL: settings.SLUICE_WATERFALL_EMAIL,
        DataPoint.PHONE: settings.SLUICE_WATERFALL_PHONE,
        DataPoint.COMPANY: settings.SLUICE_WATERFALL_COMPANY,
        DataPoint.EMAIL_VERIFICATION: [settings.SLUICE_VERIFIER]
        if settings.SLUICE_VERIFIER
        else [],
    }[data_point]
    names = [n.strip().lower() for n in raw if n and n.strip()]
    # `cache` may be written first (Cleanlist's documented order); the cache is always first.
    return [n for n in names if n != "cache"]
