"""Fixtures for checking that the emulator stays quiet: a student runs it inside a notebook,
where anything its server thread logs or writes to stderr lands in their cell's output."""

from __future__ import annotations

import gc
import logging

import pytest

from workbook.emulator import Emulator


class _Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record not in self.records:  # attached to several loggers of one hierarchy
            self.records.append(record)


@pytest.fixture
def noise(capfd):
    """``noise()``: what was logged at WARNING+ or written to stderr since the test began.

    uvicorn's loggers do not propagate to the root (caplog would miss them), so the handler
    sits on "uvicorn" and "asyncio" as well as on the root. Start the emulator inside the
    test (``fresh_emu``): uvicorn binds its stderr handler when a server is configured, and
    only then does capfd see what that handler writes.
    """
    # Clients other tests of this process left behind are collected now, outside any event
    # loop: collected later, inside this test's loop, the openai SDK schedules their close
    # there and asyncio logs "Event loop is closed" -- noise that is not this test's.
    gc.collect()
    handler = _Collect()
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "asyncio")]
    for logger in loggers:
        logger.addHandler(handler)

    def collected() -> list[str]:
        err = capfd.readouterr().err
        lines = [f"{r.name} {r.levelname}: {r.getMessage()}" for r in handler.records]
        return lines + ([f"stderr: {err}"] if err.strip() else [])

    yield collected
    for logger in loggers:
        logger.removeHandler(handler)


@pytest.fixture
def fresh_emu(noise):
    """A scripted emulator of this test's own, started after ``noise`` began listening."""
    with Emulator(backend="scripted") as emulator:
        yield emulator
