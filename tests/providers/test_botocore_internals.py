"""The private botocore / urllib3 parts the Bedrock provider stands on are still there.

``workbook/ai/providers/_botocore_io.py`` is the one module that reaches into them; it was
checked against the versions in its ``CHECKED_AGAINST``. When an upgrade moves one, this test
names it (and both versions) instead of Bedrock calls quietly losing their bounds.
"""

from __future__ import annotations

import boto3
import botocore
import urllib3
from botocore.config import Config

from workbook.ai.providers._botocore_io import CHECKED_AGAINST, missing_internals


def test_the_private_parts_bedrock_uses_are_where_they_were():
    client = boto3.Session(aws_access_key_id="x", aws_secret_access_key="y").client(
        "bedrock-runtime", region_name="us-east-1", config=Config(retries={"total_max_attempts": 1}))
    installed = {"botocore": botocore.__version__, "urllib3": urllib3.__version__}
    missing = missing_internals(client)
    assert not missing, (f"_botocore_io relies on {', '.join(missing)}, gone in {installed} (checked against "
                         f"{CHECKED_AGAINST}): adapt _botocore_io to the new version, then update CHECKED_AGAINST")


def test_the_check_itself_notices_a_missing_part():
    class NoEndpoint:  # a client whose endpoint moved
        pass

    assert "botocore client._endpoint.http_session.send" in missing_internals(NoEndpoint())
