"""Jobs queued after commit: a Redis that refuses never undoes or fails the user's committed work."""
import redis


def test_a_commit_stands_when_redis_refuses_the_job(app, monkeypatch, caplog):
    from crm import jobs
    from crm.extensions import db

    class Refusing:
        def enqueue(self, *args, **kwargs):
            raise redis.ConnectionError("Redis is down")

    monkeypatch.setattr(jobs, "queue", lambda name="default": Refusing())
    with app.app_context():
        jobs.enqueue_after_commit(jobs.refill_spare_schemas)  # a function
        jobs.enqueue_after_commit("crm.notify.jobs.send_notification", 1, 2, queue_name="notify")  # a dotted name
        db.session.commit()  # raises nothing: the outbox's sweeper finds the work again
    logged = [record.getMessage() for record in caplog.records]
    assert any("could not enqueue refill_spare_schemas" in line for line in logged)
    assert any("could not enqueue crm.notify.jobs.send_notification(1, 2) on notify" in line for line in logged)
