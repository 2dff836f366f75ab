"""gunicorn's configuration, used by the Docker image and docker-compose
(`gunicorn -c config/gunicorn.py config.wsgi:application`).

The access log leaves out query strings: a CSV download link carries its signed token there
(`/export/csv/download/<id>?token=…`), and a log line must not hand out a working link.
"""

import os

bind = "0.0.0.0:8000"  # inside the container; compose publishes the port
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
accesslog = "-"
# gunicorn's default format with the path (%(U)s) in place of the request line (%(r)s), which
# carries the query string, and without the referer, which may be such a link too.
access_log_format = '%(h)s %(l)s %(u)s %(t)s "%(m)s %(U)s %(H)s" %(s)s %(b)s "%(a)s" %(L)s'
