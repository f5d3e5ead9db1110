"""Configuration that is safe by default: a development instance signs with its own random key."""
import stat

from config import Config, instance_secret_key

PUBLISHED = "dev-only-secret-key-change-me"  # the key earlier versions shipped in config.py


def test_no_published_key_is_a_default():
    assert Config({}).SECRET_KEY == ""
    assert Config({"SECRET_KEY": "from-the-environment-" * 2}).SECRET_KEY == "from-the-environment-" * 2


def test_a_development_instance_makes_its_own_key_once_and_keeps_it(tmp_path):
    instance = tmp_path / "instance"
    key = instance_secret_key(instance)
    stored = instance / "secret_key"
    assert len(key) >= 64 and key != PUBLISHED
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert instance_secret_key(instance) == key  # the next start signs with the same key: sessions survive
    assert instance_secret_key(tmp_path / "another") != key
    assert sorted(p.name for p in instance.iterdir()) == ["secret_key"]  # no draft left behind


def test_a_damaged_key_file_is_refused_with_what_to_do(tmp_path):
    import pytest

    (tmp_path / "secret_key").write_text("short")
    with pytest.raises(RuntimeError, match="delete it"):
        instance_secret_key(tmp_path)


def forged_session(account_id: int, app) -> str:
    """A session cookie for the account signed with the published key, as finding 9's attacker made one."""
    from flask import Flask
    from flask.sessions import SecureCookieSessionInterface

    from crm.accounts.models import Account
    from crm.extensions import db

    with app.app_context():
        session_id = db.session.get(Account, account_id).get_id()
    forger = Flask("forger")
    forger.secret_key = PUBLISHED
    return SecureCookieSessionInterface().get_signing_serializer(forger).dumps({"_user_id": session_id,
                                                                               "_fresh": True})


def test_the_app_signs_with_the_instance_key_not_a_published_one(app, acme, monkeypatch, tmp_path):
    import crm
    from crm import create_app

    monkeypatch.delenv("SECRET_KEY")
    monkeypatch.setattr(crm, "ROOT", tmp_path)  # its instance/ folder, not the checkout's
    (tmp_path / "instance").mkdir()
    built = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                        "REDIS_URL": app.config["REDIS_URL"]})
    assert built.secret_key == (tmp_path / "instance" / "secret_key").read_text()
    client = built.test_client()
    client.set_cookie("session", forged_session(acme.admin_account_id, app))
    response = client.get(f"/{acme.slug}/customers/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
