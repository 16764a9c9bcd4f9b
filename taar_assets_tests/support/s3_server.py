"""A local S3-compatible server for the tests: moto's server mode on 127.0.0.1, on a free port.

The tests speak the real S3 protocol to it over HTTP through s3fs/botocore, exactly as against
AWS; only the endpoint differs, and it reaches the code the way production configuration does
(`Settings.s3_endpoint_url` -> `storage_options`).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import s3fs
from moto.server import ThreadedMotoServer

REGION = "us-east-1"

# The environment of the tests that use the server: dummy credentials, and a default endpoint
# on a closed loopback port so that any S3 call the configuration misses fails at once instead
# of leaving the machine (an explicit endpoint in storage_options takes precedence).
TEST_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
}
UNSET_ENVIRONMENT = ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION")


@dataclass(frozen=True)
class LocalS3:
    endpoint_url: str
    region: str = REGION

    @property
    def storage_options(self) -> dict:
        return {"client_kwargs": {"endpoint_url": self.endpoint_url, "region_name": self.region}}

    def filesystem(self) -> s3fs.S3FileSystem:
        return s3fs.S3FileSystem(**self.storage_options)

    def create_bucket(self) -> str:
        """A new empty bucket with a unique name, so tests sharing the server stay independent."""
        name = f"taar-test-{uuid.uuid4().hex[:12]}"
        boto3.client("s3", endpoint_url=self.endpoint_url, region_name=self.region).create_bucket(Bucket=name)
        return name


@contextlib.contextmanager
def local_s3_server() -> Iterator[LocalS3]:
    """Start moto's S3 server on 127.0.0.1 (port chosen by the OS) and stop it afterwards."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no log line per request
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield LocalS3(endpoint_url=f"http://{host}:{port}")
    finally:
        server.stop()
