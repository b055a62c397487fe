"""Let boto3 sign requests for the emulator without spoiling a real AWS setup.

boto3 takes credentials from the normal chain, so offline it needs some: dummy keys go
into the environment only when no AWS credentials are configured at all -- a student's
real profile must still work when they switch to live Bedrock in the same kernel. A
Bedrock bearer token makes botocore refuse the emulator's plain-HTTP endpoint, so it is
set aside while the emulator is used.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Mapping

_KEY_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_DEFAULT_PROFILE",
                  "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                  "AWS_WEB_IDENTITY_TOKEN_FILE")


def aws_credentials_configured() -> bool:
    """True when the AWS chain has something to find (checked without any network call)."""
    if any(os.environ.get(name) for name in _KEY_VARIABLES):
        return True
    files = (os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
             os.environ.get("AWS_CONFIG_FILE", "~/.aws/config"))
    return any(Path(path).expanduser().is_file() for path in files)


def use_emulator_credentials(emulator_env: Mapping[str, str]) -> dict[str, str | None]:
    """Prepare the environment for boto3 to reach the emulator; returns what it replaced."""
    changes: dict[str, str | None] = {}
    if not aws_credentials_configured():
        changes.update({k: v for k, v in emulator_env.items() if k.startswith("AWS_")})
    if "AWS_BEARER_TOKEN_BEDROCK" in os.environ:
        changes["AWS_BEARER_TOKEN_BEDROCK"] = None
    previous = {name: os.environ.get(name) for name in changes}
    for name, value in changes.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
    return previous


def restore_environment(previous: Mapping[str, str | None]) -> None:
    for name, value in previous.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@contextmanager
def emulator_credentials(emulator_env: Mapping[str, str]) -> Iterator[None]:
    """``use_emulator_credentials`` for the duration of a ``with`` block."""
    previous = use_emulator_credentials(emulator_env)
    try:
        yield
    finally:
        restore_environment(previous)
