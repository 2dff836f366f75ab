"""The sandbox language model: on by default outside production, refused in production unless
explicitly allowed, like the sandbox data provider."""

import json

from tests.test_settings import PRODUCTION_ENV, _run_python

SHOW_MODEL = (
    "import json, django; django.setup(); from django.conf import settings as s; "
    "from agents.llm import get_model; m = get_model(); "
    "print(json.dumps({'provider': s.SLUICE_LLM_PROVIDER, 'model': m.name if m else None}))"
)


def _shown(result) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_settings_production_has_no_model_unless_configured():
    shown = _shown(_run_python(SHOW_MODEL, "config.settings.production", **PRODUCTION_ENV))
    assert shown == {"provider": "none", "model": None}


def test_settings_production_refuses_the_sandbox_model():
    result = _run_python(
        SHOW_MODEL, "config.settings.production", **PRODUCTION_ENV, SLUICE_LLM_PROVIDER="sandbox"
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "SLUICE_ALLOW_SANDBOX_IN_PRODUCTION=true" in result.stderr


def test_settings_production_takes_the_sandbox_model_when_allowed():
    shown = _shown(
        _run_python(
            SHOW_MODEL, "config.settings.production", **PRODUCTION_ENV,
            SLUICE_LLM_PROVIDER="sandbox", SLUICE_ALLOW_SANDBOX_IN_PRODUCTION="true",
        )
    )  # fmt: skip
    assert shown == {"provider": "sandbox", "model": "sandbox"}


def test_settings_production_openai_compatible_model(tmp_path):
    shown = _shown(
        _run_python(
            SHOW_MODEL, "config.settings.production", **PRODUCTION_ENV,
            SLUICE_LLM_PROVIDER="openai", SLUICE_LLM_BASE_URL="http://ollama.invalid:11434/v1",
            SLUICE_LLM_MODEL="llama3.2",
        )
    )  # fmt: skip
    assert shown == {"provider": "openai", "model": "llama3.2"}


def test_settings_unknown_model_provider_is_refused(tmp_path):
    result = _run_python(
        SHOW_MODEL, "config.settings.local", SLUICE_VAR_DIR=str(tmp_path), SLUICE_LLM_PROVIDER="gpt"
    )
    assert result.returncode != 0
    assert "SLUICE_LLM_PROVIDER='gpt'" in result.stderr


def test_settings_local_and_test_default_to_the_sandbox_model(tmp_path):
    for profile in ("config.settings.local", "config.settings.test"):
        shown = _shown(_run_python(SHOW_MODEL, profile, SLUICE_VAR_DIR=str(tmp_path)))
        assert shown == {"provider": "sandbox", "model": "sandbox"}, profile
