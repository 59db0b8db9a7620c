"""TLS to Elasticsearch: certificates are verified by default, against the given CA."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from respond.elastic import build_elastic_sink
from respond.errors import SinkUnavailableError
from respond.sinks import SinkBatch
from tests.elastic_server import ElasticServer

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl")


@dataclass(frozen=True)
class Certificates:
    """A test CA and a server certificate for 127.0.0.1 signed by it."""

    ca_cert: Path
    server_cert: Path
    server_key: Path


def make_certificates(directory: Path) -> Certificates:
    """Create the CA and server certificate with the ``openssl`` command line."""

    def openssl(command: str) -> None:
        args = ["openssl", *command.split()]
        subprocess.run(args, cwd=directory, check=True, capture_output=True)

    (directory / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n"
    )
    new_key = "-newkey rsa:2048 -nodes -days 2"
    openssl(f"req -x509 {new_key} -keyout ca.key -out ca.crt -subj /CN=neakta-test-ca")
    openssl(f"req {new_key} -keyout server.key -out server.csr -subj /CN=127.0.0.1")
    openssl(
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt "
        "-days 2 -extfile server.ext"
    )
    return Certificates(directory / "ca.crt", directory / "server.crt", directory / "server.key")


@pytest.fixture
def certificates(tmp_path: Path) -> Certificates:
    return make_certificates(tmp_path)


@pytest.fixture
def tls_server(certificates: Certificates) -> Iterator[ElasticServer]:
    running = ElasticServer(tls=(certificates.server_cert, certificates.server_key))
    running.start()
    yield running
    running.stop()


def batch() -> SinkBatch:
    return SinkBatch(
        alerts=pl.DataFrame(
            {
                "_id": ["a1"],
                "@timestamp": [datetime(2024, 5, 1, tzinfo=UTC)],
                "event.kind": ["alert"],
            }
        )
    )


async def test_the_sink_trusts_the_cluster_signed_by_the_given_ca(
    tls_server: ElasticServer, certificates: Certificates
) -> None:
    sink = build_elastic_sink(hosts=[tls_server.url], ca_file=certificates.ca_cert)
    delivery = await sink.write(batch())
    await sink.close()

    assert tls_server.url.startswith("https://")
    assert delivery.written == 1


async def test_an_unknown_certificate_is_refused_by_default(tls_server: ElasticServer) -> None:
    sink = build_elastic_sink(hosts=[tls_server.url], max_retries=0)

    with pytest.raises(SinkUnavailableError, match="CERTIFICATE_VERIFY_FAILED"):
        await sink.write(batch())
    await sink.close()
    assert tls_server.state.bulk_ids == []
