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
