"""The environment Sluice's settings are read from: `env` (process environment first, then an
optional `.env` file) and the folders derived from it.

Reading only: nothing here (nor in config/settings) creates a file or a folder; each process
creates the folders it writes into when it starts (config/runtime.py).
"""

import os
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
TEST_PROFILE = "config.settings.test"


def env_file() -> Path | None:
    """The file read after the process environment: `.env` at the repository root, or the one
    SLUICE_ENV_FILE names (empty: none). The test profile reads none: a `.env` describes the
    stack (its database, its Redis, its providers), and the suite must not run against those."""
    if os.environ.get("DJANGO_SETTINGS_MODULE") == TEST_PROFILE:
        return None
    named = os.environ.get("SLUICE_ENV_FILE")
    if named is not None:
        return Path(named) if named else None
    return BASE_DIR / ".env"


env = environ.Env()
ENV_FILE = env_file()
if ENV_FILE is not None and ENV_FILE.is_file():
    env.read_env(str(ENV_FILE))

# Where SQLite, the filesystem broker, uploads, exports and beat's schedule live. An empty
# value (as in a copied .env.example) means "the default", like an unset one.
VAR_DIR = Path(env.str("SLUICE_VAR_DIR", default="") or BASE_DIR / "var")
