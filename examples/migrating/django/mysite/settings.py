"""The seeds' Django project (echo, chat, notifications) on channels_redis, beside the Node app."""
import os

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "development-only-not-secret")
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "channels",
    "app",
    "chat",
    "notification",
]
# AuthMiddlewareStack needs the auth and session apps; without a session cookie it never queries.
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
ASGI_APPLICATION = "mysite.asgi.application"
USE_TZ = True
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [os.environ.get("REDIS_URL", "redis://127.0.0.1:6379")],
            "prefix": os.environ.get("CHANNEL_LAYER_PREFIX", "asgi"),
            "capacity": 100,
            "expiry": 60,
            "group_expiry": 86400,
        },
    },
}
