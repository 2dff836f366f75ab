"""Limits on what clients may do: request rates, body and upload sizes, keys per workspace."""

from config.env import VAR_DIR, env

# Requests per API key and per workspace (Cleanlist's defaults); see REST_FRAMEWORK's throttles.
SLUICE_RATE_LIMIT_PER_KEY = env.str("SLUICE_RATE_LIMIT_PER_KEY", default="30/min")
SLUICE_RATE_LIMIT_PER_WORKSPACE = env.str("SLUICE_RATE_LIMIT_PER_WORKSPACE", default="60/min")
# Failed authentications (unknown, malformed or revoked keys) per client address; past it every
# request offering a key from that address is refused 429 until the minute moves on.
SLUICE_RATE_LIMIT_FAILED_AUTH = env.str("SLUICE_RATE_LIMIT_FAILED_AUTH", default="20/min")
# Reverse proxies in front of gunicorn that set X-Forwarded-For and X-Forwarded-Proto. 0: clients
# connect to gunicorn directly, so those headers are the client's own and are not believed
# (the client address is REMOTE_ADDR; production does not take the proxy's word for HTTPS).
SLUICE_TRUSTED_PROXIES = env.int("SLUICE_TRUSTED_PROXIES", default=0)

# JSON bodies (csv-import's base64 included) are capped here; the streamed `/import` endpoint
# has its own, much larger cap (SLUICE_IMPORT_MAX_BYTES).
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("SLUICE_MAX_BODY_BYTES", default=5 * 1024 * 1024)
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
# Created by the processes that serve requests (config/runtime.py), not here.
FILE_UPLOAD_TEMP_DIR = str(VAR_DIR / "uploads")
SLUICE_IMPORT_MAX_BYTES = env.int("SLUICE_IMPORT_MAX_BYTES", default=512 * 1024 * 1024)

SLUICE_MAX_ACTIVE_KEYS_PER_WORKSPACE = env.int("SLUICE_MAX_ACTIVE_KEYS_PER_WORKSPACE", default=10)
