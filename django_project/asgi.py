"""ASGI entry point: uvicorn serves `django_project.asgi:application`.

ASGI rather than WSGI because the GraphQL view, its dataloaders, the shared httpx pools and the
cache all live on one long-lived event loop; under WSGI each async view would get a one-off loop.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "django_project.settings")

application = get_asgi_application()
