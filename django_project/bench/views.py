"""Views that exist only for `manage.py bench` (mounted when BENCH_VIEWS=1, never otherwise).

- `plain`: a plain Django async JSON view answering a property detail from the same cache the
  GraphQL layer fills: what the same data costs without GraphQL.
- `naive`: the baseline written the obvious way: for every property and every external field,
  one upstream call in turn, no batching, no cache.
Both cover every system in EXTERNAL_SYSTEMS, through its loaders (resolvers/registry.py).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse

from django_project.properties.models import Property
from resolvers.cache import get_cache, to_json
from resolvers.registry import loader_classes
from resolvers.upstreams import get_upstreams


async def plain(request: HttpRequest, pk: int) -> JsonResponse:
    prop = await Property.objects.filter(pk=pk).afirst()
    if prop is None:
        return JsonResponse({"property": None})
    cache, upstreams = get_cache(), get_upstreams()
    loaders = {name: cls.for_request(upstreams, cache) for name, cls in loader_classes().items()}
    keys = [loader.cache_key(type(loader).key_for(prop)) for loader in loaders.values()]
    entries = await cache.multi_get(keys)
    answer: dict[str, Any] = {"id": str(prop.pk), "parcelId": prop.parcel_id}
    for name, entry in zip(loaders, entries, strict=True):
        answer[name] = (entry or {}).get("v")
    return JsonResponse({"property": answer})


async def naive(request: HttpRequest) -> JsonResponse:
    limit = int(request.GET.get("limit", "10"))
    upstreams, cache = get_upstreams(), get_cache()
    loaders = {name: cls.for_request(upstreams, cache) for name, cls in loader_classes().items()}
    rows: list[dict[str, Any]] = []
    async for prop in Property.objects.order_by("pk")[:limit]:
        row: dict[str, Any] = {"parcelId": prop.parcel_id}
        for name, loader in loaders.items():
            key = type(loader).key_for(prop)
            found = await loader.fetch([key])  # one call per field, straight to the upstream
            row[name] = to_json(found.get(key))
        rows.append(row)
    return JsonResponse({"results": rows})
