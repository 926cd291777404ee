"""Public reference numbers (办件编号) and query codes."""

from __future__ import annotations

import secrets
from datetime import datetime

# No 0/O, 1/I/L: the code is read aloud over the phone and typed from a paper slip.
QUERY_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"


def application_reference(region_code: str, submitted_local: datetime, application_id: int) -> str:
    """Region + date + the row id: unique, sortable, and readable at a service window."""
    return f"{region_code}{submitted_local:%Y%m%d}{application_id:07d}"


def query_code(length: int = 6) -> str:
    return "".join(secrets.choice(QUERY_ALPHABET) for _ in range(length))
