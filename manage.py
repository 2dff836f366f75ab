#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys
import traceback


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line
    from django.db import OperationalError

    from config.runtime import dirs_create, runtime_dirs

    try:
        dirs = runtime_dirs()
    except ImproperlyConfigured:
        dirs = []  # Django reports it below, as it would without us
    dirs_create(dirs)
    try:
        execute_from_command_line(sys.argv)
    except OperationalError as error:
        if not _on_connect(error):
            raise
        # A database that is down or not created yet is a setup step, not a bug: one line.
        sys.exit(f"manage.py: cannot connect to the database: {_database_hint(error)}")


def _on_connect(error: BaseException) -> bool:
    return any(f.name == "get_new_connection" for f in traceback.extract_tb(error.__traceback__))


def _database_hint(error: BaseException) -> str:
    from django.conf import settings

    message = "; ".join(" ".join(line.split()) for line in str(error).splitlines() if line.strip())
    database = settings.DATABASES["default"]
    if "does not exist" in message and database["ENGINE"].endswith("postgresql"):
        command = f"createdb -h {database['HOST'] or '127.0.0.1'} -p {database['PORT'] or 5432}"
        command += f" -U {database['USER']} {database['NAME']}" if database["USER"] else ""
        message += f" (create it: {command})"
    return message


if __name__ == "__main__":
    main()
