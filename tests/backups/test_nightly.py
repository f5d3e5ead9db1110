"""The nightly backup: one a day per workspace once its BACKUP_HOUR has passed in its own time zone, the newest
BACKUP_KEEP kept in the storage backend."""


def test_the_nightly_run_backs_each_workspace_up_once_a_day(app, acme, globex, run_worker):
    from crm.backups import service
    from crm.backups.jobs import nightly_backup, nightly_backups_all

    app.config["BACKUP_HOUR"], hour = 0, app.config["BACKUP_HOUR"]
    try:
        with app.app_context():
            assert nightly_backups_all() >= 2
        run_worker()
        with app.app_context():
            assert nightly_backup(acme.id) is None  # taken today already
            assert len(service.list_backups(f"t_{acme.id}")) == 1
            assert len(service.list_backups(f"t_{globex.id}")) == 1
    finally:
        app.config["BACKUP_HOUR"] = hour


def test_before_the_workspace_hour_nothing_is_taken(app, acme):
    from crm.backups import service
    from crm.backups.jobs import nightly_backup

    app.config["BACKUP_HOUR"], hour = 24, app.config["BACKUP_HOUR"]
    try:
        with app.app_context():
            assert nightly_backup(acme.id) is None
            assert service.list_backups(f"t_{acme.id}") == []
    finally:
        app.config["BACKUP_HOUR"] = hour
