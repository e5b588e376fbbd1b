import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_wsgi_application()
# Import every view now, while the worker starts, instead of in its first requests: Django
# loads the URLconf on first use, and under gunicorn's threads every request that arrives
# meanwhile waits on the import lock (half a second each at the start of the load test).
get_resolver().url_patterns  # noqa: B018 - loading is the point
