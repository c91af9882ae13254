"""What the loaders work out from the settings once (resolvers/settings_memo.py) follows a
setting's change: the next request's loader has the new TTLs, window and batch size."""

from __future__ import annotations

from resolvers.loader import CachePolicy
from resolvers.registry import loader_classes


def test_a_changed_setting_reaches_the_next_requests_loader(settings):
    listing = loader_classes()["listing_by_parcel"]
    upstreams = {listing.service: object()}
    before = listing.for_request(upstreams, cache=None)  # type: ignore[arg-type]
    batch = listing.keys_per_call()

    settings.FILEMAKER_CACHE = {"ttl": 7, "negative_ttl": 3, "stale_ttl": 9}
    settings.UPSTREAM_BATCH_WINDOW_MS = 40
    settings.FILEMAKER = {**settings.FILEMAKER, "batch_size": batch + 1}
    after = listing.for_request(upstreams, cache=None)  # type: ignore[arg-type]

    assert before.policy != after.policy
    assert after.policy == CachePolicy(ttl=7, negative_ttl=3, stale_ttl=9)
    assert after.window == 0.04
    assert listing.keys_per_call() == batch + 1
    assert listing.max_calls(2 * (batch + 1)) == 2
