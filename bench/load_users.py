"""The simulated people of bench/load.py, run by locust in a process of their own (gevent patches the whole process
it is imported in, so neither the bench's set-up nor pytest imports this module).

    .venv/bin/python bench/load_users.py --host http://127.0.0.1:PORT --plan plan.json --users 20 --seconds 60 \
        --out result.json

Three phases, each with `--users` users and no think time (each user sends its next request as soon as the last
is answered: the server is saturated, and the throughput is what it can serve):
1. sign-in: every account of the plan signs in once through the real /login form (the CSRF token read from the
   page, the password checked at the configured argon2 cost), then opens its workspace; the session is kept.
2. the mix, for `--warmup` + `--seconds`: each user takes up the session of the next free account (the plan orders
   them so that consecutive ones are in different workspaces, admins and reps mixed), sends `--session` requests
   of the weighted mix (WEIGHTS), then hands it back and takes the next: every workspace is worked in.
3. the floor, `GET /healthz`, for `--floor-seconds`: the WSGI server's (and this tool's) own cost.
Redirects are not followed (a write's 303 is its answer). A response counts as an error when its status is not 200,
204 or 303, when it sends the user to /login, when a page lacks what it must have, or when the request fails.
Requests in the warm-up (the workers' first pages of each workspace) are not counted. Writes the raw response times
(ms) and errors per kind and phase to `--out`.
"""
import argparse
import json
import os
import random
import re
import resource
import time
from collections import deque
from datetime import datetime, timedelta
from pathlib import Path

import gevent
from locust import FastHttpUser, constant, events, task
from locust.exception import StopUser
from locust.env import Environment

TOKEN = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|"X-CSRFToken": "([^"]+)"')
SEARCH_TERMS = ("王", "李", "张", "刘", "陈", "科技", "138", "139", "john", "smith", "mary", "chen")
WEIGHTS = {"home": 10, "customer_list": 20, "list_search": 15, "customer_page": 25, "kanban": 10,
           "follow_up": 8, "order_status": 7}

PLAN: dict = {}
UNSIGNED: deque = deque()  # accounts not signed in yet (the sign-in phase takes them)
FREE: deque = deque()  # signed-in accounts no user is working as (the mix takes them in turn)
SESSIONS: dict = {}  # email: (cookies, CSRF token) of its signed-in session
STATE = {"since": 0.0, "times": {}, "errors": {}, "examples": {}}


def token_in(text: str) -> str | None:
    found = TOKEN.search(text or "")
    return (found.group(1) or found.group(2)) if found else None


@events.request.add_listener
def record(request_type, name, response_time, response_length, exception=None, **kwargs):
    """Every request after the warm-up: its time, and whether it failed."""
    if time.monotonic() < STATE["since"]:
        return
    STATE["times"].setdefault(name, []).append(response_time)
    if exception is not None:
        STATE["errors"][name] = STATE["errors"].get(name, 0) + 1
        STATE["examples"].setdefault(name, str(exception)[:200])


class Browser(FastHttpUser):
    """Checked requests that keep the page's CSRF token."""

    abstract = True
    wait_time = constant(0)
    token = None

    def fetch(self, method: str, path: str, name: str, must: str | None = None, must_not: str | None = None,
              **kwargs) -> str:
        """One request, checked; returns its body ('' when it failed)."""
        with self.client.request(method, path, name=name, catch_response=True, allow_redirects=False,
                                 **kwargs) as answer:
            status, text = answer.status_code, answer.text or ""
            where = answer.headers.get("Location", "") or answer.headers.get("HX-Location", "")
            if status not in (200, 204, 303):
                answer.failure(f"{status} from {path}")
                return ""
            if "/login" in where:
                answer.failure(f"{status} to {where} from {path}")
                return ""
            if must and must not in text:
                answer.failure(f"{path}: {must!r} missing")
                return ""
            if must_not and must_not in text:
                answer.failure(f"{path}: {must_not!r} present")
                return ""
            answer.success()
        self.token = token_in(text) or self.token
        return text


class SignIn(Browser):
    """The sign-in phase: each account of the plan signs in once through the real form; its session is kept."""

    @task
    def sign_in(self):
        if not UNSIGNED:
            raise StopUser()
        account = UNSIGNED.popleft()
        self.client.cookiejar.clear()
        self.token = None
        token = token_in(self.fetch("GET", "/login", "sign in: form", must='name="password"'))
        if token is None:
            return
        self.fetch("POST", "/login", "sign in: post", data={
            "csrf_token": token, "email": account["email"], "password": PLAN["password"]})
        if self.fetch("GET", f"/{account['slug']}/", "sign in: first page", must="<html") and self.token:
            SESSIONS[account["email"]] = (list(self.client.cookiejar), self.token)
            FREE.append(account)


class Person(Browser):
    """A signed-in admin or sales rep working through the mix; every `--session` requests the user hands the
    account back and takes up the next free one's session, so that every workspace is worked in."""

    def on_start(self):
        self.account = None
        self.take_next()

    def take_next(self):
        if self.account is not None:
            SESSIONS[self.account["email"]] = (list(self.client.cookiejar), self.token)
            FREE.append(self.account)
        self.account = FREE.popleft()
        cookies, self.token = SESSIONS[self.account["email"]]
        self.client.cookiejar.clear()
        for cookie in cookies:
            self.client.cookiejar.set_cookie(cookie)
        self.done = 0

    def base(self) -> str:
        return f"/{self.account['slug']}"

    @task
    def work(self):
        if self.done >= PLAN["session"]:
            self.take_next()
        self.done += 1
        kind = random.choices(list(WEIGHTS), weights=list(WEIGHTS.values()))[0]
        getattr(self, kind)()

    def home(self):
        self.fetch("GET", self.base() + "/", "home", must="<html")

    def customer_list(self):
        self.fetch("GET", self.base() + "/customers/", "customer list", must="<html")

    def list_search(self):
        self.fetch("GET", self.base() + "/customers/?q=" + random.choice(SEARCH_TERMS), "list search (htmx)",
                   headers={"HX-Request": "true", "HX-Current-URL": self.base() + "/customers/"}, must_not="<html")

    def customer_page(self):
        customer = random.choice(self.account["customers"])
        self.fetch("GET", f"{self.base()}/customers/{customer}", "customer page", must="<html")

    def kanban(self):
        self.fetch("GET", self.base() + "/deals/", "kanban", must="<html")

    def follow_up(self):
        """Open the follow-up form in its modal (a fragment), then post it as typed."""
        customer = random.choice(self.account["customers"])
        form = self.fetch("GET", f"{self.base()}/activities/new?customer_id={customer}", "follow-up: form",
                          headers={"HX-Request": "true"}, must='name="summary"')
        token = token_in(form) or self.token
        if not form or token is None:
            return
        due = (datetime.now() + timedelta(days=random.randint(1, 14))).strftime("%Y-%m-%dT%H:%M")
        self.fetch("POST", f"{self.base()}/activities/", "follow-up: create", data={
            "csrf_token": token, "mode": "plan", "customer_id": str(customer), "deal_id": "", "method": "call",
            "summary": "回访报价 Follow up on the quote", "due_at": due, "remind_minutes": "15",
            "owner_id": str(self.account["member_id"]), "contact_id": "", "outcome": "", "next": ""})

    def order_status(self):
        """Move one of this account's orders: a refund requested, then declined (back to received), and so on."""
        order = random.choice(self.account["orders"])
        status = PLAN["order_status"].setdefault(order, "received")
        to = "refund_requested" if status == "received" else "received"
        self.fetch("POST", f"{self.base()}/orders/{order}/status", "order status change",
                   data={"csrf_token": self.token, "to": to, "note": ""})
        PLAN["order_status"][order] = to


class Probe(FastHttpUser):
    """The floor: /healthz, the cheapest answer the app gives."""

    wait_time = constant(0)

    @task
    def health(self):
        with self.client.get("/healthz", name="healthz (floor)", catch_response=True) as answer:
            if answer.status_code != 200 or '"ok"' not in (answer.text or ""):
                answer.failure(f"{answer.status_code} from /healthz")


def server_cpu(pid: int | None) -> float:
    """CPU seconds of a server so far: its main process with the children it reaped, and the live children (Linux
    /proc): gunicorn's master and workers, PostgreSQL's postmaster and backends."""
    if pid is None:
        return 0.0
    tick = os.sysconf("SC_CLK_TCK")

    def fields(path: str) -> list[str]:
        return Path(path).read_text().rsplit(")", 1)[1].split()

    master = fields(f"/proc/{pid}/stat")
    total = sum(int(v) for v in master[11:15])  # utime, stime, cutime, cstime
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = fields(f"/proc/{entry.name}/stat")
            except OSError:
                continue
            if stat[1] == str(pid):
                total += int(stat[11]) + int(stat[12])
    return total / tick


def phase(user, users: int, seconds: float | None, warmup: float, host: str, server_pid: int | None,
          database_pid: int | None) -> dict:
    """Run `users` of `user` for warmup + seconds (None: until every user has stopped); what was counted."""
    STATE.update(times={}, errors={}, examples={})
    own = resource.getrusage(resource.RUSAGE_SELF)
    env = Environment(user_classes=[user], events=events, host=host)
    runner = env.create_local_runner()
    started = time.monotonic()
    STATE["since"] = started + warmup
    def cpu() -> tuple[float, float]:
        return server_cpu(server_pid), server_cpu(database_pid)

    cpu_at = {"start": cpu()}
    gevent.spawn_later(warmup, lambda: cpu_at.update(start=cpu()))
    runner.start(users, spawn_rate=users)
    if seconds is None:
        def until_done():
            while UNSIGNED or runner.user_count:
                gevent.sleep(0.1)
            runner.quit()
        gevent.spawn(until_done)
    else:
        gevent.spawn_later(warmup + seconds, runner.quit)
    runner.greenlet.join()
    used = resource.getrusage(resource.RUSAGE_SELF)
    cpu_at["end"] = cpu()
    return {"seconds": time.monotonic() - STATE["since"], "users": users, "times_ms": STATE["times"],
            "errors": STATE["errors"], "error_examples": STATE["examples"],
            "tool_cpu_seconds": used.ru_utime + used.ru_stime - own.ru_utime - own.ru_stime,
            "wall_seconds": time.monotonic() - started, "server_cpu_seconds": cpu_at["end"][0] - cpu_at["start"][0],
            "database_cpu_seconds": cpu_at["end"][1] - cpu_at["start"][1]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--host", required=True)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=5)
    parser.add_argument("--session", type=int, default=50)
    parser.add_argument("--floor-seconds", type=float, default=20)
    parser.add_argument("--server-pid", type=int, help="gunicorn's master: its CPU is reported")
    parser.add_argument("--database-pid", type=int, help="PostgreSQL's postmaster, when on this machine")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    if not args.host.startswith(("http://127.", "http://localhost:", "http://[::1]:")):
        raise SystemExit(f"loopback only: {args.host}")
    PLAN.update(json.loads(Path(args.plan).read_text()), session=args.session, order_status={})
    UNSIGNED.extend(PLAN["accounts"])
    servers = (args.host, args.server_pid, args.database_pid)
    results = {"sign_in": phase(SignIn, args.users, None, 0.0, *servers)}
    results["mix"] = phase(Person, min(args.users, len(FREE)), args.seconds, args.warmup, *servers)
    results["floor"] = phase(Probe, args.users, args.floor_seconds, min(args.warmup, 2.0), *servers)
    Path(args.out).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
