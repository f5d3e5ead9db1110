"""Email over TLS checks whom it talks to: a server whose certificate no trusted authority signed gets no
message, and the same server, once trusted, gets it."""
import datetime
import ssl
from email.message import EmailMessage
from ipaddress import IPv4Address

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from crm.notify import smtp
from tests.conftest import free_port


@pytest.fixture
def tls_server(tmp_path):
    """An SMTP server speaking TLS from the first byte (smtps://) with a self-signed certificate for 127.0.0.1."""
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Message

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(IPv4Address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)

    class Collect(Message):
        messages = []

        def handle_message(self, message):
            self.messages.append(message)

    controller = Controller(Collect(), hostname="127.0.0.1", port=free_port(), ssl_context=context)
    controller.start()
    controller.cert_file, controller.messages = cert_file, Collect.messages
    yield controller
    controller.stop()


def mail() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "crm@example.com", "wang@example.com", "Your order"
    message.set_content("Shipped today.")
    return message


def test_a_server_with_an_untrusted_certificate_gets_no_message(tls_server):
    with pytest.raises(ssl.SSLCertVerificationError):
        smtp.hold(f"smtps://127.0.0.1:{tls_server.port}", mail())
    assert tls_server.messages == []


def test_a_trusted_server_gets_the_message_over_tls(tls_server, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_server.cert_file))  # as an operator's own authority would be
    held = smtp.hold(f"smtps://127.0.0.1:{tls_server.port}", mail())
    assert held.release()
    assert held.answer()[0] == 250
    assert [m["Subject"] for m in tls_server.messages] == ["Your order"]
