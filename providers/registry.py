"""Provider names → classes, and the waterfalls from settings.

A name in settings is either a registry name (`hunter`) or a sandbox instance
(`sandbox`, `sandbox_a`, …: each its own `SLUICE_SANDBOX_INSTANCES` entry, inheriting the plain
`sandbox` knobs)."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

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


def is_sandbox(name: str) -> bool:
    """`sandbox` and its instances (`sandbox_a`, …): answers invented offline, never a real
    person's data."""
    return name == SandboxProvider.kind or name.startswith(f"{SandboxProvider.kind}_")


def provider_class(name: str) -> type[Provider]:
    if is_sandbox(name):
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


def configured_sandboxes() -> list[str]:
    """The sandbox names in the waterfalls and the verifier, in settings order."""
    names = [name for data_point in DataPoint for name in waterfall_names(data_point)]
    return [name for name in dict.fromkeys(names) if is_sandbox(name)]


def sandbox_check() -> None:
    """Refuses to start (ImproperlyConfigured) where the sandbox is not allowed and a waterfall
    or the verifier names it: it would sell invented emails and phones as found ones. Run when
    the providers app is ready, so every process (web, worker, beat, manage.py) checks."""
    sandboxes = configured_sandboxes()
    if sandboxes and not settings.SLUICE_SANDBOX_ALLOWED:
        raise ImproperlyConfigured(
            f"The waterfall or the verifier names the sandbox ({', '.join(sandboxes)}), which "
            "invents its answers; production refuses it. Remove it from SLUICE_WATERFALL_EMAIL, "
            "SLUICE_WATERFALL_PHONE, SLUICE_WATERFALL_COMPANY and SLUICE_VERIFIER, or set "
            "SLUICE_ALLOW_SANDBOX_IN_PRODUCTION=true for a stack whose data may be invented."
        )
