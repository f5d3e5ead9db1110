"""The inbox shows each in-app message as a card: subject, time in the workspace's zone, the body's paragraphs
with its http(s) addresses as links; nothing in a message becomes markup."""
from datetime import UTC, datetime

from crm.extensions import db
from crm.notify import outbox
from crm.notify.messages import linked, paragraphs
from crm.notify.models import Notification


def test_paragraphs_escape_first_then_link_only_http_addresses():
    html = str(paragraphs('Hi <b>Ann</b>\nSee https://crm.example/a/?x=1&y=2.\n\n'
                          '查看进度：https://crm.example/o/1.2.abc。\njavascript:alert(1) ftp://files.example/x'))
    assert html == ('<p>Hi &lt;b&gt;Ann&lt;/b&gt;<br>\n'
                    'See <a href="https://crm.example/a/?x=1&amp;y=2" rel="noopener noreferrer">'
                    'https://crm.example/a/?x=1&amp;y=2</a>.</p>\n'
                    '<p>查看进度：<a href="https://crm.example/o/1.2.abc" rel="noopener noreferrer">'
                    'https://crm.example/o/1.2.abc</a>。<br>\njavascript:alert(1) ftp://files.example/x</p>')


def test_a_quote_or_angle_bracket_ends_an_address():
    html = str(linked('http://x.example/"onmouseover="alert(1) http://y.example/<script>'))
    assert '<a href="http://x.example/" rel="noopener noreferrer">http://x.example/</a>&#34;onmouseover' in html
    assert '<a href="http://y.example/" rel="noopener noreferrer">http://y.example/</a>&lt;script&gt;' in html
    assert "<script>" not in html and '"onmouseover' not in html


def test_the_inbox_shows_cards_with_links_and_times_in_the_workspaces_zone(app, acme, admin, in_tenant):
    from crm.settings import put_setting

    link = f"{app.config['BASE_URL']}/{acme.slug}/activities/"

    def send():
        put_setting("timezone", "Europe/London")
        note = outbox.schedule(channel="inapp", kind="reminder", recipient=str(acme.admin_member_id),
                               member_id=acme.admin_member_id, key="inbox-card",
                               payload={"method": "Call", "customer": "Li <Lei>", "due": "10:00",
                                        "summary": "Quote", "link": link})
        row = db.session.get(Notification, note.id)
        row.status, row.sent_at = "sent", datetime(2026, 7, 15, 12, 30, tzinfo=UTC)  # 13:30 in London (BST)

    in_tenant(acme, send)
    page = admin.get(f"/{acme.slug}/messages/").text
    assert '<article class="card message unread"' in page
    assert ">Reminder: Call Li &lt;Lei&gt;</h2>" in page and "<Lei>" not in page
    assert '<time class="small muted" datetime="2026-07-15T12:30:00+00:00">7/15/26, 1:30\u202fPM</time>' in page
    assert f'<a href="{link}" rel="noopener noreferrer">{link}</a>' in page
    assert "<pre" not in page


def test_an_emails_html_part_has_the_same_links():
    from crm.notify.messages import render_text

    message = render_text("Hi", "Dear {{ who }},\n\nFollow it here: {{ link }}",
                          {"who": "<Ann>", "link": "https://crm.example/o/1.2.x"})
    assert message.text == "Dear <Ann>,\n\nFollow it here: https://crm.example/o/1.2.x"
    assert ('<p>Dear &lt;Ann&gt;,</p>\n<p>Follow it here: <a href="https://crm.example/o/1.2.x" '
            'rel="noopener noreferrer">https://crm.example/o/1.2.x</a></p>') in message.html
