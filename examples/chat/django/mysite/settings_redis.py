"""mysite.settings on channels_redis: the seed stack's production layer, for `pnpm bench runtime`.

DJANGO_SETTINGS_MODULE=mysite.settings_redis; REDIS_URL names the server, CHANNEL_LAYER_PREFIX the
key prefix (Daphne processes with the same prefix share rooms).
"""
import os

from .settings import *  # noqa: F401,F403

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")],
            "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "asgi"),
        },
    }
}
