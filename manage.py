#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    from config.runtime import dirs_create, runtime_dirs

    try:
        dirs = runtime_dirs()
    except ImproperlyConfigured:
        dirs = []  # Django reports it below, as it would without us
    dirs_create(dirs)
    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
