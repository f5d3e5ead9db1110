def test_healthz_reports_both_services(app):
    response = app.test_client().get("/healthz")
    assert response.status_code == 200
    assert response.json == {"postgres": True, "redis": True, "status": "ok"}


def test_production_refuses_development_secrets():
    import pytest

    from config import Config

    config = Config({"CRM_ENV": "production", "DATABASE_URL": "postgresql://x/y", "REDIS_URL": "redis://x"})
    with pytest.raises(RuntimeError, match="SECRET_KEY"):
        config.check()
    with pytest.raises(RuntimeError, match="FIELD_KEYS"):
        Config({"CRM_ENV": "production", "SECRET_KEY": "k" * 40, "DATABASE_URL": "postgresql://x/y",
                "REDIS_URL": "redis://x"}).check()
    ready = {"CRM_ENV": "production", "SECRET_KEY": "k" * 40, "DATABASE_URL": "postgresql://x/y",
             "REDIS_URL": "redis://x", "FIELD_KEYS": "k1:" + "A" * 44, "FIELD_INDEX_KEY": "A" * 44}
    with pytest.raises(RuntimeError, match="BASE_URL"):  # or every emailed link would point at nowhere
        Config(ready).check()
    Config({**ready, "BASE_URL": "https://crm.example.com"}).check()


def test_security_headers(app):
    response = app.test_client().get("/login")
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "HX-Request" in response.headers["Vary"]


def test_favicon_is_served_where_browsers_look_for_it(app):
    """Browsers ask for /favicon.ico by themselves (a page without the link, an image opened alone)."""
    response = app.test_client().get("/favicon.ico")
    assert response.status_code == 200
    assert response.mimetype in ("image/vnd.microsoft.icon", "image/x-icon")
    assert response.data[:4] == b"\x00\x00\x01\x00"  # an ICO file
    page = app.test_client().get("/login").text
    assert 'rel="icon" href="/favicon.ico"' in page
