"""Privacy (see docs/privacy.md): the key that hashes the suppression list, and how long each
kind of enriched data point stays fresh."""

from config.env import env

# HMAC key of the suppression list: entries are stored as keyed hashes, never as the values.
# Changing it makes every stored entry unmatchable (the list would have to be re-entered), so
# set it once. Production requires one of 32+ characters.
SLUICE_SUPPRESSION_HASH_KEY = env.str(
    "SLUICE_SUPPRESSION_HASH_KEY", default="local-suppression-hash-key-change-me"
)
# Time to live of an enriched data point, in days: older values are stale (refresh_stale looks
# them up again) and the provider cache never answers with an entry older than this.
SLUICE_TTL_EMAIL_DAYS = env.int("SLUICE_TTL_EMAIL_DAYS", default=90)
SLUICE_TTL_PHONE_DAYS = env.int("SLUICE_TTL_PHONE_DAYS", default=180)
SLUICE_TTL_COMPANY_DAYS = env.int("SLUICE_TTL_COMPANY_DAYS", default=180)
