"""Failed sign-ins slow down the (email, address) pair that made them; nobody else is locked out."""
import re
import time
from concurrent.futures import ThreadPoolExecutor

PASSWORD = "password-123"  # what make_tenant gives its admin


def sign_in(app, email: str, password: str, address: str = "203.0.113.7", **headers):
    client = app.test_client()
    return client.post("/login", data={"email": email, "password": password},
                       environ_base={"REMOTE_ADDR": address}, headers=headers)


def test_failures_slow_this_pair_with_growing_delays_and_say_when(app, make_tenant):
    email = f"admin@{make_tenant().slug}.example"
    for _ in range(3):
        assert sign_in(app, email, "wrong-guess").status_code == 422
    held = sign_in(app, email, PASSWORD)  # even the right password waits: no oracle for the guesser
    assert held.status_code == 429 and held.headers["Retry-After"] == "2"
    assert "Please try again in 2 seconds." in held.text
    assert 'name="password"' in held.text and f'value="{email}"' in held.text  # the form, email kept
    time.sleep(2.1)
    assert sign_in(app, email, "wrong-guess").status_code == 422
    held = sign_in(app, email, "wrong-guess")
    assert held.status_code == 429 and held.headers["Retry-After"] == "4"  # twice as long each time
    zh = sign_in(app, email, PASSWORD, **{"Accept-Language": "zh-CN"})
    assert zh.status_code == 429 and re.search(r"请\d+秒钟?后再试", zh.text), zh.text


def test_the_owner_signs_in_from_elsewhere_while_a_guesser_is_held_back(app, make_tenant):
    email = f"admin@{make_tenant().slug}.example"
    for _ in range(10):
        sign_in(app, email, "wrong-guess", address="198.51.100.66")
    assert sign_in(app, email, "wrong-guess", address="198.51.100.66").status_code == 429
    assert sign_in(app, email, PASSWORD, address="192.0.2.10").status_code == 303
    # Another account guessed from the guesser's address is not held back by the first one's failures.
    other = f"admin@{make_tenant().slug}.example"
    assert sign_in(app, other, PASSWORD, address="198.51.100.66").status_code == 303


def test_a_success_starts_the_count_again(app, make_tenant):
    email = f"admin@{make_tenant().slug}.example"
    for _ in range(2):
        assert sign_in(app, email, "typo-typo").status_code == 422
    assert sign_in(app, email, PASSWORD).status_code == 303
    for _ in range(3):
        assert sign_in(app, email, "typo-typo").status_code == 422


def test_a_parallel_burst_gets_no_more_tries_than_one_by_one(app, make_tenant):
    email = f"admin@{make_tenant().slug}.example"
    with ThreadPoolExecutor(max_workers=10) as pool:
        codes = list(pool.map(lambda _: sign_in(app, email, "wrong-guess").status_code, range(10)))
    assert sorted(codes) == [422] * 3 + [429] * 7


def test_an_ipv6_client_is_one_address_per_64_block(app, make_tenant):
    email = f"admin@{make_tenant().slug}.example"
    for host in range(1, 4):  # a guesser rotating through its own /64
        assert sign_in(app, email, "wrong-guess", address=f"2001:db8:0:1::{host}").status_code == 422
    assert sign_in(app, email, "wrong-guess", address="2001:db8:0:1::99").status_code == 429
    assert sign_in(app, email, PASSWORD, address="2001:db8:0:2::1").status_code == 303


def test_the_per_address_limit_stays_and_says_how_long(app):
    app.config["LOGIN_IP_LIMITS"] = "2 per minute"
    try:
        codes = [sign_in(app, f"nobody{n}@nowhere.example", "x", address="198.51.100.201").status_code
                 for n in range(3)]
        refused = sign_in(app, "someone@nowhere.example", "x", address="198.51.100.201")
    finally:
        app.config["LOGIN_IP_LIMITS"] = "10000 per minute"
    assert codes == [422, 422, 429]
    assert refused.status_code == 429 and "Too many attempts" in refused.text
    assert 0 < int(refused.headers["Retry-After"]) <= 61  # the minute, rounded up
