"""`python manage.py emulators`: serve every external system's emulator on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from emulators.base import Emulator
from emulators.registry import emulator_class, serves_http


def parse_fault(text: str) -> tuple[str, str, Any]:
    """`service:key=value` (value as JSON: 0.2, true, 503) -> (service, key, value)."""
    service, _, assignment = text.partition(":")
    key, _, raw = assignment.partition("=")
    systems = http_systems()
    if service not in systems or not key or not raw:
        raise CommandError(
            f"--fault {text!r}: use SERVICE:KEY=VALUE with SERVICE one of {', '.join(systems)}"
        )
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return service, key, value


def http_systems() -> list[str]:
    """The systems with an HTTP emulator to serve (a database's stand-in is a file, seeded by
    `manage.py seed_legacy_permits`)."""
    return [name for name in settings.EXTERNAL_SYSTEMS if serves_http(name)]


class Command(BaseCommand):
    help = (
        "Serve a local emulator of every external system (EXTERNAL_SYSTEMS) on loopback, "
        "accepting the credentials the clients are configured with. Prints one line per "
        "system: its service name and base URL. Faults can be set here and changed at run time "
        "with POST /_emulator/faults."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1", help="Interface (default 127.0.0.1).")
        for name in http_systems():
            port = emulator_class(name).default_port
            parser.add_argument(
                f"--{name.replace('_', '-')}-port",
                type=int,
                default=port,
                help=f"Port for {name} (default {port}).",
            )
        parser.add_argument(
            "--only",
            action="append",
            default=[],
            choices=http_systems(),
            metavar="SERVICE",
            help="Serve only this system's emulator (repeatable; default: every one). The "
            "benchmark runs each in a process of its own, as each upstream is its own server.",
        )
        parser.add_argument("--latency-ms", type=float, default=0.0, help="Added to every call.")
        parser.add_argument("--jitter-ms", type=float, default=0.0, help="Random extra latency.")
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="SERVICE:KEY=VALUE",
            help="A starting fault, e.g. geocoder:error_rate=0.3 (repeatable).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        faults: dict[str, dict[str, Any]] = {
            name: {"latency_ms": options["latency_ms"], "jitter_ms": options["jitter_ms"]}
            for name in http_systems()
        }
        for text in options["fault"]:
            service, key, value = parse_fault(text)
            if options["only"] and service not in options["only"]:
                raise CommandError(f"--fault {text!r}: {service} is not among --only")
            faults[service][key] = value
        apps: dict[str, tuple[Emulator, int]] = {}
        for name in options["only"] or http_systems():
            try:
                app = emulator_class(name).for_client(
                    getattr(settings, name.upper()), **faults[name]
                )
            except ValueError as exc:
                raise CommandError(f"{name}: {exc}") from exc
            apps[name] = (app, options[f"{name}_port"])
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(self._serve(apps, options["host"]))

    async def _serve(self, apps: dict[str, tuple[Emulator, int]], host: str) -> None:
        servers = {
            name: uvicorn.Server(
                uvicorn.Config(
                    app,
                    host=host,
                    port=port,
                    log_level="warning",
                    lifespan="off",
                    # Requests held by a `hang` fault must not hold the shutdown too.
                    timeout_graceful_shutdown=1,
                )
            )
            for name, (app, port) in apps.items()
        }
        tasks = [asyncio.create_task(server.serve()) for server in servers.values()]
        while not all(server.started for server in servers.values()):
            if any(task.done() for task in tasks):
                for server in servers.values():
                    server.should_exit = True
                await asyncio.gather(*tasks, return_exceptions=True)
                raise CommandError("an emulator could not start (is its port in use?)")
            await asyncio.sleep(0.05)
        for name, (_, port) in apps.items():
            self.stdout.write(f"{name} http://{host}:{port}")
        self.stdout.flush()
        await asyncio.gather(*tasks)
