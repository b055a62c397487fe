"""Requests, tokens and time per student, kept in a sqlite file beside the hub's database.

One row per student, updated as each request ends, so a restarted gateway (or hub) goes on
counting where it stopped. WAL journaling keeps a write well under a millisecond.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

COLUMNS = ("requests", "input_tokens", "output_tokens", "seconds", "refused")


class UsageStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS usage (student TEXT PRIMARY KEY, requests INTEGER DEFAULT 0, "
            "input_tokens INTEGER DEFAULT 0, output_tokens INTEGER DEFAULT 0, seconds REAL DEFAULT 0, "
            "refused INTEGER DEFAULT 0, last_request_at REAL)")

    def record(self, student: str, *, input_tokens: int = 0, output_tokens: int = 0,
               seconds: float = 0.0) -> None:
        """One answered request (tokens as the model server reported them)."""
        self._db.execute(
            "INSERT INTO usage (student, requests, input_tokens, output_tokens, seconds, last_request_at) "
            "VALUES (?, 1, ?, ?, ?, ?) ON CONFLICT(student) DO UPDATE SET requests = requests + 1, "
            "input_tokens = input_tokens + excluded.input_tokens, "
            "output_tokens = output_tokens + excluded.output_tokens, "
            "seconds = seconds + excluded.seconds, last_request_at = excluded.last_request_at",
            (student, int(input_tokens), int(output_tokens), float(seconds), time.time()))

    def refused(self, student: str) -> None:
        """One request turned away by the per-student limit (429)."""
        self._db.execute(
            "INSERT INTO usage (student, refused) VALUES (?, 1) "
            "ON CONFLICT(student) DO UPDATE SET refused = refused + 1", (student,))

    def totals(self) -> dict[str, dict[str, float]]:
        rows = self._db.execute(
            f"SELECT student, {', '.join(COLUMNS)} FROM usage ORDER BY student").fetchall()
        return {row[0]: dict(zip(COLUMNS, (round(value, 3) if isinstance(value, float) else value
                                           for value in row[1:]))) for row in rows}

    def close(self) -> None:
        self._db.close()
