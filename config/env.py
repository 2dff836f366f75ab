"""The environment Sluice's settings are read from: `env` (process environment first, then an
optional `.env` file at the repository root) and the folders derived from it.

Reading only: nothing here (nor in config/settings) creates a file or a folder; each process
creates the folders it writes into when it starts (config/runtime.py).
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
if (BASE_DIR / ".env").is_file():
    env.read_env(str(BASE_DIR / ".env"))

# Where SQLite, the filesystem broker, uploads, exports and beat's schedule live. An empty
# value (as in a copied .env.example) means "the default", like an unset one.
VAR_DIR = Path(env.str("SLUICE_VAR_DIR", default="") or BASE_DIR / "var")
