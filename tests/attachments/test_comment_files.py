"""Files on ticket comments: uploaded under a comment with the same checks as any file, listed under it, on the
customer's timeline, and fetched only by whoever may view the ticket."""
from tests.attachments.conftest import EXE, PDF, png


def add_comment(in_tenant, tenant, ticket_id: int, member_id: int, body: str) -> int:
    from crm.extensions import db
    from crm.members.models import Member
    from crm.tickets import service
    from crm.tickets.models import Ticket

    def add():
        comment = service.add_comment(db.session.get(Member, member_id), db.session.get(Ticket, ticket_id), body, True)
        db.session.commit()
        return comment.id

    return in_tenant(tenant, add)


def test_a_comments_files_are_shown_under_it_and_checked_like_any_file(
        acme, admin, make_customer, make_ticket, in_tenant, upload, stored):
    customer = make_customer(acme, name="Zhou Min")
    ticket = make_ticket(acme, customer)
    first = add_comment(in_tenant, acme, ticket, acme.admin_member_id, "The photo of the jam")
    second = add_comment(in_tenant, acme, ticket, acme.admin_member_id, "No photo here")

    card = upload(admin, acme.slug, "ticket_comment", first, ("卡纸照片.png", png()), ("报告.pdf", PDF))
    assert card.status_code == 200 and f'id="files-ticket_comment-{first}"' in card.text
    assert "卡纸照片.png" in card.text and "<h2>" not in card.text  # a short list, not a card of its own

    page = admin.get(f"/{acme.slug}/tickets/{ticket}").text
    under_first = page.split(f'id="comment-{first}"')[1].split(f'id="comment-{second}"')[0]
    assert "卡纸照片.png" in under_first and "报告.pdf" in under_first
    assert "卡纸照片.png" not in page.split(f'id="comment-{second}"')[1].split("</li>")[0]
    assert f"File 报告.pdf added to a comment on ticket TK-{ticket:06d}" in admin.get(
        f"/{acme.slug}/customers/{customer}").text

    refused = upload(admin, acme.slug, "ticket_comment", second, ("tool.pdf", EXE))
    assert refused.status_code == 422 and "programs can" in refused.text
    assert len(stored(acme)) == 2

    image = stored(acme)[0]
    got = admin.get(f"/{acme.slug}/files/ticket_comment/file/{image.id}")
    assert got.status_code == 200 and got.headers["X-Content-Type-Options"] == "nosniff"


def test_only_who_may_view_the_ticket_fetches_a_comments_files(acme, people, client_as, make_customer, make_ticket,
                                                                 in_tenant, upload, stored, globex):
    rep = people["rep"]
    customer = make_customer(acme, rep.member_id, owner_id=rep.member_id)
    ticket = make_ticket(acme, customer, rep.member_id, owner_id=rep.member_id)
    comment = add_comment(in_tenant, acme, ticket, rep.member_id, "See the file")
    assert upload(client_as(rep.account_id), acme.slug, "ticket_comment", comment, ("a.pdf", PDF)).status_code == 200
    url = f"/{acme.slug}/files/ticket_comment/file/{stored(acme)[0].id}"
    assert client_as(rep.account_id).get(url).status_code == 200
    west = client_as(people["west"].account_id)  # a rep of another team
    assert west.get(url).status_code == 404
    assert west.post(f"/{acme.slug}/files/ticket_comment/{comment}", data={}).status_code == 404
    assert client_as(globex.admin_account_id).get(url.replace(acme.slug, globex.slug)).status_code == 404
