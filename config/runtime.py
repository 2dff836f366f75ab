"""The folders a Sluice process writes into.

Settings only name them, so importing settings touches nothing; each process creates the ones
it needs when it starts: manage.py and config/wsgi.py all of them (they serve requests, migrate,
run the demo), the Celery app its own when it is configured (config/celery.py).
"""

from pathlib import Path

from django.conf import settings

SQLITE_ENGINE = "django.db.backends.sqlite3"
FILESYSTEM_BROKER_FOLDERS = ("data_folder_in", "data_folder_out", "processed_folder")


def celery_dirs() -> list[Path]:
    """Beat's schedule folder, and the filesystem broker's folders when it is the broker (every
    process that publishes or consumes needs them; kombu creates none but `control`, and only
    if its parent exists)."""
    dirs = [Path(settings.CELERY_BEAT_SCHEDULE_FILENAME).parent]
    if settings.CELERY_BROKER_URL.startswith("filesystem"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        dirs += [Path(options[key]) for key in (*FILESYSTEM_BROKER_FOLDERS, "control_folder")]
    return dirs


def runtime_dirs() -> list[Path]:
    """Every folder the configured settings write into: uploads, the SQLite file's folder
    (SQLite creates its file, not the folder) and Celery's."""
    dirs = [Path(settings.FILE_UPLOAD_TEMP_DIR)]
    database = settings.DATABASES["default"]
    if database["ENGINE"] == SQLITE_ENGINE and str(database["NAME"]) != ":memory:":
        dirs.append(Path(database["NAME"]).parent)
    return dirs + celery_dirs()


def dirs_create(dirs: list[Path]) -> None:
    for directory in dirs:
        directory.mkdir(parents=True, exist_ok=True)
