"""The operator's commands: `tenants backup SLUG [--to PATH]` and `tenants restore-backup ARCHIVE --as|--replace`."""


def test_back_up_to_a_file_then_restore_it_as_a_new_workspace_and_over_the_old_one(
        app, acme, filled, rows_of, tmp_path, admin):
    runner = app.test_cli_runner()
    archive = tmp_path / "acme.tar"
    made = runner.invoke(args=["tenants", "backup", acme.slug, "--to", str(archive)])
    assert made.exit_code == 0, made.output
    assert f"{acme.slug}: " in made.output and "2 files" in made.output

    copy = runner.invoke(args=["tenants", "restore-backup", str(archive), "--as", f"{acme.slug}-cli"])
    assert copy.exit_code == 0, copy.output
    assert f"restored as workspace {acme.slug}-cli" in copy.output
    assert admin.get(f"/{acme.slug}-cli/customers/").status_code == 200

    taken = runner.invoke(args=["tenants", "restore-backup", str(archive), "--as", f"{acme.slug}-cli"])
    assert taken.exit_code == 1 and "This address is taken" in taken.output

    replaced = runner.invoke(args=["tenants", "restore-backup", str(archive), "--replace"])
    assert replaced.exit_code == 0 and f"replaced workspace {acme.slug}" in replaced.output

    neither = runner.invoke(args=["tenants", "restore-backup", str(archive)])
    assert neither.exit_code == 1 and "either --as NEW-SLUG or --replace" in neither.output


def test_a_backup_into_the_storage_keeps_the_newest_ones(app, acme, tmp_path):
    from crm.backups import service

    app.config["BACKUP_KEEP"], kept = 2, app.config["BACKUP_KEEP"]
    try:
        for _ in range(3):
            result = app.test_cli_runner().invoke(args=["tenants", "backup", acme.slug])
            assert result.exit_code == 0 and "backup storage, key " in result.output
    finally:
        app.config["BACKUP_KEEP"] = kept
    with app.app_context():
        listed = service.list_backups(f"t_{acme.id}")
    assert len(listed) == 2 and listed[0].created_at >= listed[1].created_at
    assert listed[0].tables > 20 and listed[0].files == 0


def test_a_damaged_file_is_refused_with_a_clear_message(app, acme, tmp_path):
    (tmp_path / "junk.tar").write_bytes(b"not a tar at all" * 100)
    result = app.test_cli_runner().invoke(args=["tenants", "restore-backup", str(tmp_path / "junk.tar"), "--replace"])
    assert result.exit_code == 1 and "This file is not a workspace backup." in result.output
