"""Smart agents (docs/agents.md): the language model behind the model-backed agent types, its
limits, and the approval threshold of whole-list runs."""

from config.env import env

# Which language model answers: `sandbox` (built in, deterministic text marked as sandbox
# output; the default outside production), `openai` (any server speaking the OpenAI
# chat-completions protocol at SLUICE_LLM_BASE_URL: OpenAI, Azure, Ollama, vLLM, LM Studio) or
# `none` (model-backed agent types answer 400 model_not_configured).
SLUICE_LLM_PROVIDER = env.str("SLUICE_LLM_PROVIDER", default="sandbox")
# Empty = the openai package's default (https://api.openai.com/v1).
SLUICE_LLM_BASE_URL = env.str("SLUICE_LLM_BASE_URL", default="")
SLUICE_LLM_API_KEY = env.str("SLUICE_LLM_API_KEY", default="")
SLUICE_LLM_MODEL = env.str("SLUICE_LLM_MODEL", default="")
SLUICE_LLM_CONNECT_TIMEOUT_S = env.float("SLUICE_LLM_CONNECT_TIMEOUT_S", default=5.0)
SLUICE_LLM_TIMEOUT_S = env.float("SLUICE_LLM_TIMEOUT_S", default=30.0)
# Retries of one row's call on 429, 5xx and timeouts (backoff with jitter; a Retry-After up to
# SLUICE_LLM_MAX_RETRY_AFTER_S is honoured, a longer one fails the row and pauses every worker).
SLUICE_LLM_MAX_RETRIES = env.int("SLUICE_LLM_MAX_RETRIES", default=2)
SLUICE_LLM_MAX_RETRY_AFTER_S = env.float("SLUICE_LLM_MAX_RETRY_AFTER_S", default=10.0)
# Shared by every worker (Redis), like a data provider's: calls per period[:burst].
SLUICE_LLM_RATE_LIMIT = env.str("SLUICE_LLM_RATE_LIMIT", default="120/min:10")
# Rows of one chunk asking the model at once (threads of the worker running the chunk).
SLUICE_LLM_CONCURRENCY = env.int("SLUICE_LLM_CONCURRENCY", default=4)
SLUICE_LLM_MAX_TOKENS = env.int("SLUICE_LLM_MAX_TOKENS", default=300)
# The sandbox model's delay per call (demos and crash tests).
SLUICE_LLM_SANDBOX_LATENCY_MS = env.float("SLUICE_LLM_SANDBOX_LATENCY_MS", default=0.0)
# A `lead_scope: "all"` run over more leads than this answers 400 approval_required.
SLUICE_AGENT_APPROVAL_THRESHOLD = env.int("SLUICE_AGENT_APPROVAL_THRESHOLD", default=500)
