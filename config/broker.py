"""The Redis broker transport: kombu's own, with one repair, registered for `redis://` and
`rediss://` URLs (so URLs, logs and every publisher stay as they were).

On losing the broker, Celery 5.7's consumer first collects its connection, which detaches the
transport from it, then closes the connection. Closing hands the unacknowledged messages back
to Redis; a channel of a detached transport then fails with AttributeError rather than a
connection error, which the worker takes as unrecoverable: it exited whenever the broker went
away while a message was unacknowledged (acks_late: any chunk running). As a connection error
it is ignored like the rest of that cleanup and the worker reconnects. The messages it could
not hand back are not lost: Redis redelivers them after the visibility timeout, or (a broker
restarted empty) the sweeper re-sends their chunks.
"""

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection is None or self.connection.client is None:
            raise RedisConnectionError("the broker connection is closed")
        return super()._connparams(asynchronous=asynchronous)  # type: ignore[misc]


class Transport(kombu_redis.Transport):
    Channel = Channel


def transport_register() -> None:
    """Makes `redis://` and `rediss://` broker URLs use this module's Transport. Called before
    the app first connects (kombu caches the class per alias on first use)."""
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
