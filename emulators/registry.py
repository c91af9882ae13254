"""Every emulator, with the loopback port it listens on by default. A new system adds one line."""

from __future__ import annotations

from emulators.base import Emulator
from emulators.filemaker import FileMakerEmulator
from emulators.geocoder import GeocoderEmulator
from emulators.salesforce import SalesforceEmulator
from emulators.tax_assessor import TaxAssessorEmulator

#: service name -> (emulator class, default port). FileMaker's 3000 is the Data API's own
#: internal port, which off-the-shelf FileMaker clients accept over plain HTTP.
EMULATORS: dict[str, tuple[type[Emulator], int]] = {
    "filemaker": (FileMakerEmulator, 3000),
    "salesforce": (SalesforceEmulator, 3001),
    "tax_assessor": (TaxAssessorEmulator, 3002),
    "geocoder": (GeocoderEmulator, 3003),
}
