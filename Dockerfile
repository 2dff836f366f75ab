FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production
WORKDIR /app

COPY pyproject.toml README.md ./
COPY config ./config
COPY common ./common
COPY accounts ./accounts
COPY leads ./leads
COPY credits ./credits
COPY providers ./providers
COPY enrichment ./enrichment
COPY ops ./ops
COPY manage.py ./
RUN pip install --upgrade pip && pip install .

COPY . .
# The static files (admin, Swagger UI), served by WhiteNoise from /app/var/static. collectstatic
# reads settings only: these placeholders let the production profile load and reach no container.
RUN DJANGO_SECRET_KEY=collectstatic-placeholder-not-a-secret-0123456789abcdefghijklmnop \
    SLUICE_METRICS_TOKEN=collectstatic-placeholder-metrics-0123456789 \
    SLUICE_SUPPRESSION_HASH_KEY=collectstatic-placeholder-suppression-0123456789 \
    DATABASE_URL=postgres://build@localhost/build \
    REDIS_URL=redis://localhost:6379/0 python manage.py collectstatic --noinput
RUN useradd --create-home sluice && mkdir -p /app/var && chown -R sluice /app/var
USER sluice

EXPOSE 8000
# config/gunicorn.py: bind 0.0.0.0:8000, WEB_CONCURRENCY workers (3), an access log on stdout
# without query strings (download links carry their token there).
CMD ["gunicorn", "-c", "config/gunicorn.py", "config.wsgi:application"]
