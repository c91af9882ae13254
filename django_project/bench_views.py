"""Views that exist only for `manage.py bench` (mounted when BENCH_VIEWS=1, never otherwise).

- `plain`: a plain Django async JSON view answering a property detail from the same cache the
  GraphQL layer fills: what the same data costs without GraphQL.
- `naive`: the baseline written the obvious way: for every property and every external field,
  one synchronous HTTP call to the upstream, no loader, no cache.
"""

from __future__ import annotations

from typing import Any

import httpx
from django.conf import settings
from django.http import HttpRequest, JsonResponse

from django_project.properties.models import Property
from resolvers.cache import get_cache


async def plain(request: HttpRequest, pk: int) -> JsonResponse:
    prop = await Property.objects.filter(pk=pk).afirst()
    if prop is None:
        return JsonResponse({"property": None})
    loaders = ("listing:v1", "owner:v1", "tax:v1")
    keys = [f"{namespace}:{prop.parcel_id}" for namespace in loaders]
    entries = await get_cache().multi_get(keys)
    listing, owner, tax = ((e or {}).get("v") for e in entries)
    return JsonResponse(
        {
            "property": {
                "id": str(prop.pk),
                "parcelId": prop.parcel_id,
                "listing": listing,
                "owner": owner,
                "taxAssessment": tax,
            }
        }
    )


def naive(request: HttpRequest) -> JsonResponse:
    limit = int(request.GET.get("limit", "10"))
    fm, sf, tax, geo = (
        settings.FILEMAKER,
        settings.SALESFORCE,
        settings.TAX_ASSESSOR,
        settings.GEOCODER,
    )
    rows: list[dict[str, Any]] = []
    with httpx.Client(timeout=30) as http:
        fm_db = f"{fm['base_url']}/fmi/data/vLatest/databases/{fm['database']}"
        fm_token = http.post(
            f"{fm_db}/sessions",
            auth=(fm["username"], fm["password"]),
            json={},
        ).json()["response"]["token"]
        sf_session = http.post(
            f"{sf['base_url']}/services/oauth2/token",
            data={
                "grant_type": "client_credentials",
                "client_id": sf["client_id"],
                "client_secret": sf["client_secret"],
            },
        ).json()
        for prop in Property.objects.order_by("pk")[:limit]:
            listing = http.post(
                f"{fm_db}/layouts/Listings/_find",
                headers={"Authorization": f"Bearer {fm_token}"},
                json={"query": [{"Parcel ID": f"=={prop.parcel_id}"}]},
            ).json()
            owner = http.get(
                f"{sf_session['instance_url']}/services/data/v62.0/query",
                params={
                    "q": f"SELECT Id, Name FROM Account WHERE Parcel_ID__c IN ('{prop.parcel_id}')"
                },
                headers={"Authorization": f"Bearer {sf_session['access_token']}"},
            ).json()
            assessment = http.get(
                f"{tax['base_url']}/resource/{tax['dataset']}.json",
                params={"$where": f"pin in('{prop.parcel_id}')"},
                headers={"X-App-Token": tax["app_token"]},
            ).json()
            location = http.get(
                f"{geo['base_url']}/geocoder/locations/onelineaddress",
                params={
                    "address": prop.full_address,
                    "benchmark": geo["benchmark"],
                    "format": "json",
                },
            ).json()
            rows.append(
                {
                    "parcelId": prop.parcel_id,
                    "listing": listing.get("response", {}).get("data"),
                    "owner": owner.get("records"),
                    "taxAssessment": assessment[-1:] if isinstance(assessment, list) else None,
                    "location": location.get("result", {}).get("addressMatches"),
                }
            )
    return JsonResponse({"results": rows})
