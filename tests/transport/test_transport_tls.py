"""TLS: an unverifiable certificate is a TLSCertificateError, not retried; the CA bundle
named by SSL_CERT_FILE, REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE is trusted. The CA and the
server certificate (for 127.0.0.1) are generated for the test with the openssl CLI."""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path

import pytest
import requests
from rawserver import RawServer, sse_response

from llm_connectivity import LLMClient
from llm_connectivity.errors import TLSCertificateError

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
CA_VARIABLES = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=30)


@pytest.fixture(scope="module")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ca.pem (a test CA) and server.pem / server.key (127.0.0.1, signed by that CA)."""
    d = tmp_path_factory.mktemp("tls")
    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=llmc test CA",
             "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    _openssl("req", *ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1", cwd=d)
    (d / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n"
                               "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n"
                               "authorityKeyIdentifier=keyid\nsubjectKeyIdentifier=hash\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.pem", "-days", "2", "-extfile", "ext.cnf", cwd=d)
    return d


def _server_context(certs: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs / "server.pem", certs / "server.key")
    return context


@pytest.fixture(autouse=True)
def _no_ca_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in CA_VARIABLES:
        monkeypatch.delenv(name, raising=False)


def _stream(base_url: str, **options: object) -> str:
    with LLMClient("openai/gpt-4o-mini", base_url=base_url, api_key="sk-test-tls-0000", timeout=5.0,
                   **options) as client:  # type: ignore[arg-type]
        with client.chat_stream("hi") as stream:
            return stream.text()


@pytest.mark.parametrize("own_session", [True, False], ids=["own session", "user session"])
def test_unverifiable_certificate_is_a_tls_error_and_not_retried(certs: Path, own_session: bool) -> None:
    session = None if own_session else requests.Session()
    with RawServer(tls=_server_context(certs), default=[sse_response("secret")]) as server:
        with pytest.raises(TLSCertificateError) as info:
            _stream(server.base_url, max_retries=3, session=session)
    if session is not None:
        session.close()
    assert "the server's TLS certificate could not be verified" in str(info.value)
    assert not info.value.is_retryable
    assert server.handshakes == 1
    assert server.seen == []


@pytest.mark.parametrize("variable", CA_VARIABLES)
def test_ca_bundle_from_the_environment_is_trusted(certs: Path, variable: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(variable, str(certs / "ca.pem"))
    with RawServer(tls=_server_context(certs), default=[sse_response("over TLS")]) as server:
        assert _stream(server.base_url, max_retries=0) == "over TLS"
    assert len(server.seen) == 1
