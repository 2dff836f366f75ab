"""The Redis broker transport's repair (config/broker.py). After losing the broker, Celery's
consumer collects its connection (detaching the transport) and then closes it, and closing
hands the unacknowledged messages back to Redis through a new connection pool: that must fail
as a connection error, which the cleanup ignores, not as an AttributeError, which stopped the
worker. tests/reliability/test_fault_infra.py covers the same with a real worker."""

import pytest
from django.conf import settings
from kombu import Connection
from kombu.transport import redis as kombu_redis

from config import broker


def test_redis_broker_urls_use_the_repaired_transport():
    with Connection(settings.CELERY_BROKER_URL) as connection:
        assert isinstance(connection.default_channel, broker.Channel)
        assert connection.as_uri().startswith("redis://")


def _collected_channel(transport: type):
    connection = Connection(settings.CELERY_BROKER_URL, transport=transport)
    channel = connection.channel()
    connection.collect()
    return channel


def test_a_collected_channel_reaching_for_redis_fails_as_a_connection_error():
    channel = _collected_channel(broker.Transport)
    with pytest.raises(broker.Transport.connection_errors):
        channel.qos.restore_unacked()


def test_kombus_own_transport_still_needs_the_repair():
    # When this fails, kombu has fixed it upstream and config/broker.py can go.
    channel = _collected_channel(kombu_redis.Transport)
    with pytest.raises(AttributeError):
        channel.qos.restore_unacked()
