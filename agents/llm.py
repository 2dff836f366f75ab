"""Language models for the model-backed agent types: one small interface, the OpenAI-compatible
chat-completions protocol (the official `openai` package with a configurable base URL, so
OpenAI, Azure, Ollama, vLLM and LM Studio all serve) and a built-in sandbox.

The model is reached like a data provider: a token bucket and a circuit breaker shared by every
worker (providers.limits, under the name `llm`), retries with backoff on 429, 5xx and timeouts
(a Retry-After up to SLUICE_LLM_MAX_RETRY_AFTER_S is honoured; a longer one marks the model
limited for every worker and fails the row), and never from inside a database transaction.
"""

import functools
import hashlib
import json
import logging
import random
import re
import time
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from common.outgoing_http import ensure_no_transaction
from providers.base import RateSpec
from providers.limits import BreakerPolicy, get_limits

if TYPE_CHECKING:
    import openai

logger = logging.getLogger(__name__)

LIMITS_NAME = "llm"
SANDBOX_MARK = "[sandbox]"
PROVIDERS = ("none", "sandbox", "openai")


class ModelError(Exception):
    """A call that produced no answer: the row fails (nothing is charged for it)."""


class LanguageModel(Protocol):
    name: str
    is_sandbox: bool

    def complete(self, *, system: str, user: str) -> str:
        """The model's answer to one conversation, or ModelError."""


# --- The sandbox ------------------------------------------------------------------------------

_LEAD_DATA = re.compile(r"<lead_data>\s*(\{.*?\})\s*</lead_data>", re.S)
_OPENERS = ("Likely focus", "Probable priority", "Worth asking about", "A good angle")


class SandboxModel:
    """Deterministic text from the input, marked as sandbox output: for demos and tests only
    (production refuses it unless SLUICE_ALLOW_SANDBOX_IN_PRODUCTION is set)."""

    name = "sandbox"
    is_sandbox = True

    def complete(self, *, system: str, user: str) -> str:
        ensure_no_transaction("a language model call")
        latency = settings.SLUICE_LLM_SANDBOX_LATENCY_MS
        if latency:
            time.sleep(latency / 1000)
        digest = hashlib.sha256(f"{system}\n{user}".encode()).hexdigest()
        match = _LEAD_DATA.search(user)
        facts = json.loads(match.group(1)) if match else {}
        who = facts.get("full_name") or facts.get("first_name") or "this lead"
        where = facts.get("company") or facts.get("domain") or "their company"
        opener = _OPENERS[int(digest[:2], 16) % len(_OPENERS)]
        return f"{SANDBOX_MARK} {opener}: {who} at {where} ({digest[:8]})."


# --- OpenAI-compatible servers ----------------------------------------------------------------


def _retry_after(error: "openai.APIStatusError") -> float | None:
    value = error.response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


class OpenAICompatibleModel:
    """Any server speaking the chat-completions protocol at `base_url`."""

    is_sandbox = False

    def __init__(self, *, base_url: str, api_key: str, model: str) -> None:
        # Imported here, not at the top: the package takes seconds to import, and only a
        # worker running a model-backed agent against such a server needs it.
        import httpx2
        import openai

        self.name = model
        self._openai = openai
        self._client = openai.OpenAI(
            base_url=base_url or None,
            # A local server (Ollama, vLLM) takes any key; the package insists on one.
            api_key=api_key or "not-needed",
            timeout=httpx2.Timeout(
                settings.SLUICE_LLM_TIMEOUT_S, connect=settings.SLUICE_LLM_CONNECT_TIMEOUT_S
            ),
            # Retries are ours (below): they honour the shared limits and the breaker.
            max_retries=0,
        )
        self._rate = RateSpec.parse(settings.SLUICE_LLM_RATE_LIMIT)
        self._policy = BreakerPolicy.from_settings()

    def complete(self, *, system: str, user: str) -> str:
        ensure_no_transaction("a language model call")
        openai = self._openai
        limits = get_limits()
        attempts = settings.SLUICE_LLM_MAX_RETRIES + 1
        for attempt in range(attempts):
            self._admit(limits)
            try:
                answer = self._call(system=system, user=user)
            except openai.RateLimitError as exc:
                wait = _retry_after(exc)
                if wait is not None and wait > settings.SLUICE_LLM_MAX_RETRY_AFTER_S:
                    limits.limit_until(LIMITS_NAME, wait)
                    raise ModelError(f"the model is rate limited for {wait:.0f}s") from None
                error = "the model answered 429 (rate limited)"
            except openai.APIStatusError as exc:
                if exc.status_code < 500:
                    # Our request or our key is wrong: retrying will not help.
                    raise ModelError(f"the model refused the request ({exc.status_code})") from None
                limits.breaker_failure(LIMITS_NAME, self._policy)
                wait, error = None, f"the model answered {exc.status_code}"
            except openai.APITimeoutError:
                limits.breaker_failure(LIMITS_NAME, self._policy)
                wait, error = None, "the model timed out"
            except openai.APIConnectionError:
                limits.breaker_failure(LIMITS_NAME, self._policy)
                wait, error = None, "the model could not be reached"
            except (
                openai.APIResponseValidationError,
                ValueError,
                KeyError,
                IndexError,
                TypeError,
                AttributeError,
            ):
                raise ModelError("the model's answer was malformed") from None
            else:
                limits.breaker_success(LIMITS_NAME)
                return answer
            if attempt + 1 < attempts:
                time.sleep(wait if wait is not None else self._backoff(attempt))
        raise ModelError(f"{error} after {attempts} attempts")

    def _admit(self, limits) -> None:
        if limits.limited_for(LIMITS_NAME) > 0:
            raise ModelError("the model is rate limited; try again later")
        if not limits.breaker_allows(LIMITS_NAME, self._policy):
            raise ModelError("the model is failing (circuit open); try again later")
        # The turn is reserved once, as the data providers' are (providers.limits): no polling.
        wait = limits.reserve_token(LIMITS_NAME, self._rate, settings.SLUICE_RATE_LIMIT_MAX_WAIT_S)
        if wait < 0:
            raise ModelError("the model's rate limit is exhausted")
        if wait > 0:
            time.sleep(wait)

    @staticmethod
    def _backoff(attempt: int) -> float:
        """Exponential backoff with full jitter, on the data providers' settings."""
        base = settings.SLUICE_PROVIDER_BACKOFF_BASE_S
        return random.uniform(0, min(settings.SLUICE_PROVIDER_BACKOFF_CAP_S, base * 2**attempt))

    def _call(self, *, system: str, user: str) -> str:
        response = self._client.chat.completions.create(
            model=self.name,
            messages=[
                {"role": "system", "content": system},
                {"role": "user", "content": user},
            ],
            max_tokens=settings.SLUICE_LLM_MAX_TOKENS,
            temperature=0.2,
        )
        content = response.choices[0].message.content
        if not isinstance(content, str) or not content.strip():
            raise ValueError("no content")
        return content.strip()


# --- Which model ------------------------------------------------------------------------------


@functools.lru_cache(maxsize=4)
def _openai_model(base_url: str, api_key: str, model: str) -> OpenAICompatibleModel:
    return OpenAICompatibleModel(base_url=base_url, api_key=api_key, model=model)


def get_model() -> LanguageModel | None:
    """The configured model, or None (`SLUICE_LLM_PROVIDER=none`, or `openai` without a model
    name)."""
    provider = settings.SLUICE_LLM_PROVIDER
    if provider == "sandbox":
        return SandboxModel()
    if provider == "openai" and settings.SLUICE_LLM_MODEL:
        return _openai_model(
            settings.SLUICE_LLM_BASE_URL, settings.SLUICE_LLM_API_KEY, settings.SLUICE_LLM_MODEL
        )
    return None


def sandbox_model_check() -> None:
    """Refuses to start with an unknown provider, or with the sandbox model where the sandbox
    is not allowed (production without SLUICE_ALLOW_SANDBOX_IN_PRODUCTION)."""
    provider = settings.SLUICE_LLM_PROVIDER
    if provider not in PROVIDERS:
        raise ImproperlyConfigured(
            f"SLUICE_LLM_PROVIDER={provider!r}: expected one of {', '.join(PROVIDERS)}."
        )
    if provider == "sandbox" and not settings.SLUICE_SANDBOX_ALLOWED:
        raise ImproperlyConfigured(
            "SLUICE_LLM_PROVIDER=sandbox invents its answers; production refuses it. Configure "
            "a model (SLUICE_LLM_PROVIDER=openai, SLUICE_LLM_BASE_URL, SLUICE_LLM_MODEL), set "
            "none, or set SLUICE_ALLOW_SANDBOX_IN_PRODUCTION=true for a stack whose data may "
            "be invented."
        )
