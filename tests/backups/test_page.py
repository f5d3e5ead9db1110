"""Settings > Data: admins list the backups, take one now (a job with progress), download one, restore one as a new
workspace, and replace the workspace after typing its name; all audited, and only for admins."""
import io
import tarfile

from sqlalchemy import select

HX = {"HX-Request": "true"}


def job_link(response) -> str:
    return response.headers["Location"]


def back_up_now(admin, acme, run_worker) -> str:
    started = admin.post(f"/{acme.slug}/settings/data/backup")
    assert started.status_code == 303
    page = admin.get(job_link(started))
    assert "Working…" in page.text
    run_worker()
    return job_link(started)


def test_back_up_now_then_download_the_archive(app, acme, admin, filled, run_worker, in_tenant):
    from crm.audit.models import AuditEntry
    from crm.extensions import db

    assert "No backups yet." in admin.get(f"/{acme.slug}/settings/data/").text
    page = admin.get(back_up_now(admin, acme, run_worker))
    assert "Backup taken." in page.text
    key = page.text.split('id="backup-row-')[1].split('"')[0]
    assert "t0" in page.text and "2 files" in page.text

    download = admin.get(f"/{acme.slug}/settings/data/{key}")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    with tarfile.open(fileobj=io.BytesIO(download.data)) as archive:
        assert archive.getnames()[:2] == ["manifest.json", "manifest.sig"]
    actions = in_tenant(acme, lambda: db.session.execute(
        select(AuditEntry.action, AuditEntry.actor_name).where(AuditEntry.entity == "backup")).all())
    assert sorted(actions) == [("create", "Ada Admin"), ("export", "Ada Admin")]


def test_restore_as_a_new_workspace_and_replace_from_the_page(app, acme, admin, filled, run_worker, make_customer):
    page = admin.get(back_up_now(admin, acme, run_worker))
    key = page.text.split('id="backup-row-')[1].split('"')[0]
    make_customer(acme, name="After the backup")

    taken = admin.post(f"/{acme.slug}/settings/data/{key}/restore", data={"slug": acme.slug}, headers=HX)
    assert taken.status_code == 422 and "This address is taken" in taken.text

    started = admin.post(f"/{acme.slug}/settings/data/{key}/restore", data={"slug": f"{acme.slug}-old"})
    run_worker()
    done = admin.get(job_link(started))
    assert f"Restored as a new workspace at /{acme.slug}-old/." in done.text
    copy = admin.get(f"/{acme.slug}-old/customers/")
    assert "张伟" in copy.text and "After the backup" not in copy.text

    wrong = admin.post(f"/{acme.slug}/settings/data/{key}/replace", data={"confirm": "acme"}, headers=HX)
    assert wrong.status_code == 422 and "to confirm" in wrong.text
    started = admin.post(f"/{acme.slug}/settings/data/{key}/replace", data={"confirm": acme.name})
    run_worker()
    assert "The workspace was replaced by the backup." in admin.get(job_link(started)).text
    assert "After the backup" not in admin.get(f"/{acme.slug}/customers/").text


def test_only_admins_reach_the_data_page_and_jobs_stay_in_their_workspace(
        app, acme, globex, admin, add_member, client_as, run_worker):
    rep_account, _member = add_member(acme)
    rep = client_as(rep_account)
    assert rep.get(f"/{acme.slug}/settings/data/").status_code == 403
    assert rep.post(f"/{acme.slug}/settings/data/backup").status_code == 403
    job = back_up_now(admin, acme, run_worker).split("job=")[1]
    globex_admin = client_as(globex.admin_account_id)
    assert globex_admin.get(f"/{globex.slug}/settings/data/jobs/{job}", headers=HX).status_code == 404
    assert admin.get(f"/{acme.slug}/settings/data/{'0' * 32}").status_code == 404
