"""The WSGI application (gunicorn `config.wsgi:application`). A WSGI server is how Sluice is
served in production, so that is the default profile here; `manage.py runserver` serves the
local one."""

import os

from django.core.wsgi import get_wsgi_application

from config.runtime import dirs_create, runtime_dirs

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

application = get_wsgi_application()
dirs_create(runtime_dirs())
