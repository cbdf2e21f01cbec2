"""moto's standalone S3 server on loopback: the tests' S3, spoken to over HTTP as the service speaks to AWS.

The tests play the operator: they create a private bucket and hand the
service its name, endpoint and credentials in the AWS_* variables, the way a
deployment does; the service never creates a bucket.

What moto 5.2.5 checks, read from its source (``moto/s3/responses.py``,
``moto/core/authorization.py``) and tried: an unsigned GET of an object is
refused (403) unless the object's ACL or the bucket's policy makes it public,
so that request shows whether the service made an object public. Who lists a
bucket is checked only in its IAM mode (``INITIAL_NO_AUTH_ACTION_COUNT``),
which answers every unsigned request with a 500 (it reads the missing
Authorization header) instead of a refusal; the tests therefore check the
bucket's ACL and policy, which are what make a real S3 refuse anonymous
listings.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import requests

from .network import free_port

REGION = "us-east-1"
#: moto accepts any signed request when its IAM mode is off; these only have to be present.
ACCESS_KEY_ID = "AKIATESTLEADERBOARD0"
SECRET_ACCESS_KEY = "test-secret-access-key-never-real"  # noqa: S105
PUBLIC_GRANTEES = (
    "http://acs.amazonaws.com/groups/global/AllUsers",
    "http://acs.amazonaws.com/groups/global/AuthenticatedUsers",
)


class MotoS3Server:
    """``python -m moto.server`` in a subprocess on a free loopback port."""

    def __init__(self, log_path: Path):
        self.log_path = log_path
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        self.log = open(self.log_path, "w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(f"{self.endpoint}/moto-api/", timeout=1).status_code == 200:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto's S3 server did not start:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if getattr(self, "log", None):
            self.log.close()

    def client(self):
        """The operator's client, signing with the same kind of credentials the service has."""
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=ACCESS_KEY_ID,
            aws_secret_access_key=SECRET_ACCESS_KEY,
        )

    def create_bucket(self) -> str:
        """A new private bucket, as an operator creates it; a fresh name, so tests never share one."""
        name = f"leaderboard-{uuid.uuid4().hex[:20]}"
        self.client().create_bucket(Bucket=name, ACL="private")
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(entry["Key"] for page in pages for entry in page.get("Contents", ()))

    def read(self, bucket: str, key: str) -> bytes:
        return self.client().get_object(Bucket=bucket, Key=key)["Body"].read()

    def service_env(self, bucket: str, location: str = "") -> dict[str, str]:
        """The variables the service reads to store its files in ``bucket`` (docs/configuration.md)."""
        env = {
            "AWS_STORAGE_BUCKET_NAME": bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_S3_ADDRESSING_STYLE": "path",
            "AWS_ACCESS_KEY_ID": ACCESS_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET_ACCESS_KEY,
        }
        if location:
            env["AWS_LOCATION"] = location
        return env


def public_grants(acl: dict) -> list[dict]:
    """The grants of a GetObjectAcl or GetBucketAcl answer that let anyone, or any AWS account, in."""
    return [grant for grant in acl["Grants"] if grant["Grantee"].get("URI") in PUBLIC_GRANTEES]


@dataclass
class S3Site:
    """One test's bucket on the server, and the variables that point the service at it."""

    server: MotoS3Server
    bucket: str
    location: str
    env: dict[str, str]

    def keys(self, prefix: str = "") -> list[str]:
        return self.server.keys(self.bucket, prefix)

    def key(self, name: str) -> str:
        """The object key of a storage name: the name under the ``AWS_LOCATION`` prefix."""
        return f"{self.location}/{name}" if self.location else name

    def read(self, key: str) -> bytes:
        return self.server.read(self.bucket, key)
