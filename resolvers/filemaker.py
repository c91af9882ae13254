"""FileMaker listings for properties (the loader arrives with the resolvers issue)."""

from __future__ import annotations

from django.conf import settings

from clients.filemaker import FileMakerClient, FileMakerConfig
from clients.pool import HttpPool


def build_client(http: HttpPool) -> FileMakerClient:
    return FileMakerClient(FileMakerConfig(**settings.FILEMAKER), http=http)
