"""Who may write: mutations need a signed-in user with the model permission."""

from __future__ import annotations

from typing import Any

from schema.errors import FORBIDDEN, UNAUTHENTICATED, coded_error


async def require_change_permission(info: Any) -> None:
    """Refuse unless the request's user may change properties (their listings included).

    Raises:
        GraphQLError: UNAUTHENTICATED without a user, FORBIDDEN without the permission.
    """
    user = await info.context.request.auser()
    if not user.is_authenticated:
        raise coded_error("Sign in to update properties.", UNAUTHENTICATED)
    if not await user.ahas_perm("properties.change_property"):
        raise coded_error(
            "You need the properties.change_property permission to update properties.",
            FORBIDDEN,
        )
