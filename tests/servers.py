"""Small helpers for the servers the suite starts on loopback: a free port, moto's S3 server."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

S3_KEY = "test"
S3_SECRET = "test"
S3_REGION = "us-east-1"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def moto_s3(*buckets: str) -> Iterator[str]:
    """moto's S3 server on 127.0.0.1 with `buckets` made; yields its endpoint URL."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        pytest.fail("moto[server] is missing: install the dev extra (pip install -e '.[dev]')")
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        endpoint = f"http://127.0.0.1:{port}"
        if buckets:
            import boto3

            client = boto3.client(
                "s3",
                endpoint_url=endpoint,
                aws_access_key_id=S3_KEY,
                aws_secret_access_key=S3_SECRET,
                region_name=S3_REGION,
            )
            for bucket in buckets:
                client.create_bucket(Bucket=bucket)
        yield endpoint
    finally:
        server.stop()
