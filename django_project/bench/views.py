"""Views that exist only for `manage.py bench` (mounted when BENCH_VIEWS=1, never otherwise).

- `plain`: a plain Django async JSON view answering a property detail from the same cache the
  GraphQL layer fills: what the same data costs without GraphQL.
- `strawberry_view`: the same detail through strawberry's own GraphQL view and nothing of
  ours: what GraphQL execution itself adds to `plain`.
- `naive`: the baseline written the obvious way: for every property and every external field,
  one upstream call in turn, no batching, no cache.
Both cover every system in EXTERNAL_SYSTEMS, through its loaders (resolvers/registry.py).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from strawberry.django.views import AsyncGraphQLView

from django_project.properties.models import Property
from resolvers.cache import get_cache, to_json
from resolvers.registry import loader_classes
from resolvers.upstreams import get_upstreams


async def cached_property(pk: Any) -> tuple[Property | None, dict[str, tuple[Any, Any]]]:
    """The row and, per loader name, (its loader, the JSON value its cache entry holds):
    what the baselines answer the detail query from, read as the product's cache keys it."""
    prop = await Property.objects.filter(pk=pk).afirst()
    if prop is None:
        return None, {}
    cache, upstreams = get_cache(), get_upstreams()
    loaders = {name: cls.for_request(upstreams, cache) for name, cls in loader_classes().items()}
    keys = [loader.cache_key(type(loader).key_for(prop)) for loader in loaders.values()]
    entries = await cache.multi_get(keys)
    return prop, {
        name: (loader, (entry or {}).get("v"))
        for (name, loader), entry in zip(loaders.items(), entries, strict=True)
    }


async def plain(request: HttpRequest, pk: int) -> JsonResponse:
    prop, values = await cached_property(pk)
    if prop is None:
        return JsonResponse({"property": None})
    answer: dict[str, Any] = {"id": str(prop.pk), "parcelId": prop.parcel_id}
    for name, (_, value) in values.items():
        answer[name] = value
    return JsonResponse({"property": answer})


#: strawberry's own async Django view and a schema of nothing but the detail query (see
#: floors.detail_floor_schema), built when first asked for.
_strawberry_view: Any = None


@csrf_exempt
async def strawberry_view(request: HttpRequest) -> HttpResponse:
    """The detail query through strawberry alone: its own view, the product's GraphQL types
    for the records, the row and the cache read as `plain` reads them, and no extension but
    strawberry's parser and validation caches. What GraphQL itself costs over `plain`."""
    global _strawberry_view
    if _strawberry_view is None:
        from django_project.bench.floors import detail_floor_schema

        _strawberry_view = AsyncGraphQLView.as_view(schema=detail_floor_schema())
    response: HttpResponse = await _strawberry_view(request)
    return response


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
