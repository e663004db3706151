"""Storage URLs in the families that read or write files, against the real servers of the
`files.*` tests (moto S3, asyncssh SFTP), one of each per session (the root conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.steps import StepEnvironment
from tests.agent.steps.files.servers import SFTP_PASSWORD, SFTP_USER, SftpServer, vault

BUCKET = "storage-io"


@pytest.fixture(scope="session")
def bucket(s3_server: str) -> str:
    """A bucket of the session's S3 server; yields its URL prefix."""
    import boto3

    from tests.agent.steps.files.servers import S3_KEY_ID, S3_SECRET

    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        aws_access_key_id=S3_KEY_ID,
        aws_secret_access_key=S3_SECRET,
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=BUCKET)
    return f"s3://{BUCKET}"


def secrets(s3_endpoint: str, sftp: SftpServer) -> dict[str, str]:
    """Credentials `s3-test` and `sftp-test` as the vault gives them."""
    return vault(s3_endpoint) | {
        "sftp-test.username": SFTP_USER,
        "sftp-test.password": SFTP_PASSWORD,
        "sftp-test.known_hosts": sftp.known_hosts,
    }


@pytest.fixture
async def env(s3_server: str, sftp_server: SftpServer, tmp_path: Path) -> AsyncIterator[StepEnvironment]:
    environment = StepEnvironment(secrets=secrets(s3_server, sftp_server), artifacts_dir=tmp_path / "artifacts")
    try:
        yield environment
    finally:
        await environment.aclose()
