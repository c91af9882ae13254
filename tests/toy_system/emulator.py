"""emulators/toy.py: the toy system, in-process: every parcel has a thing named after it."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from emulators.base import Emulator


class ToyEmulator(Emulator):
    service = "toy"
    default_port = 3099
    test_settings = {"api_key": "toy-test-key"}

    def __init__(self, *, api_key: str = "", **faults: object) -> None:
        self.api_key = api_key
        super().__init__(**faults)

    @classmethod
    def for_client(cls, client_settings, **options):  # type: ignore[no-untyped-def]
        return cls(api_key=client_settings["api_key"], **options)

    def routes(self) -> list[Route]:
        return [Route("/things", self.things, methods=["GET"])]

    async def things(self, request: Request) -> Response:
        if request.headers.get("X-Api-Key") != self.api_key:
            return JSONResponse({"error": "bad key"}, status_code=401)
        ids = [i for i in request.query_params.get("ids", "").split(",") if i]
        return JSONResponse({"things": [{"id": i, "name": f"thing {i[-4:]}"} for i in ids]})


EMULATOR = ToyEmulator
