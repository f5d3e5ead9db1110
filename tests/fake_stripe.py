"""A local, stateful fake of Stripe's v1 API for tests: a real HTTP server in a thread (werkzeug) that the
`stripe` library talks to through `base_addresses={"api": fake.url}` (STRIPE_API_BASE in the app).

It answers form-encoded requests with Stripe-shaped JSON (ids with Stripe's prefixes, `object` fields, list
objects, errors as `{"error": {type, code, message, param}}` with Stripe's status codes), checks the
`Authorization: Bearer <key>` of every call (an unknown key is 401), and keeps what it made. It also serves a
hosted Checkout page at each session's `url`: its Pay button completes the session and POSTs a signed
`checkout.session.completed` event to every registered webhook endpoint, then redirects to the success_url.

Today: checkout sessions (payment and subscription mode), payment intents, charges, refunds, GET /v1/balance, and
for the platform's own billing customers, prices, subscriptions, invoices and billing portal sessions (a portal page
with a link back). Tests move a subscription through its life with `renew()`, `fail_payment()`, `cancel()` and
`set_status()`, each returning the events Stripe would send. Adding a resource is a handler method and one line in
ROUTES; `event()` and `deliver()` serve every event type. Billing meter events count an identifier once.
"""
import hashlib
import hmac
import html
import json
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

API_KEY = "rk_test_51FakeStripeKey0001"
ZERO_DECIMAL = {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf",
                "xof", "xpf"}


class StripeError(Exception):
    """An error answer in Stripe's shape."""

    def __init__(self, status: int, message: str, type_: str = "invalid_request_error", code: str | None = None,
                 param: str | None = None):
        super().__init__(message)
        self.status, self.body = status, {"error": {"type": type_, "message": message, "code": code, "param": param}}


def parse_form(pairs: list[tuple[str, str]]) -> dict:
    """Stripe's nested form encoding (`a[b][0][c]=x`) as dicts; keys that are all digits become lists."""
    root: dict = {}
    for key, value in pairs:
        parts = re.findall(r"[^\[\]]+|\[\]", key)
        node = root
        for part, following in zip(parts, parts[1:]):
            node = node.setdefault(part, {})
            if following == "[]":
                break
        last = parts[-1]
        if last == "[]":
            node.setdefault("__list__", []).append(value)
        else:
            node[last] = value
    return _lists(root)


def _lists(node):
    if not isinstance(node, dict):
        return node
    if "__list__" in node:
        return [_lists(item) for item in node["__list__"]]
    if node and all(key.isdigit() for key in node):
        return [_lists(node[key]) for key in sorted(node, key=int)]
    return {key: _lists(value) for key, value in node.items()}


def sign(payload: str, secret: str, timestamp: int | None = None) -> str:
    """The Stripe-Signature header for `payload`, as Stripe makes it: `t=<unix time>,v1=<HMAC-SHA256 hex of
    "<t>.<payload>" under the endpoint's secret>`."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{timestamp}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


@dataclass
class WebhookEndpoint:
    url: str
    secret: str = field(default_factory=lambda: "whsec_" + secrets.token_hex(16))


class FakeStripe:
    """The fake's state and its HTTP server. `start()` serves it on a free port; `url` is its base address."""

    ROUTES = [
        ("GET", r"/v1/balance", "get_balance"),
        ("POST", r"/v1/checkout/sessions", "create_checkout_session"),
        ("GET", r"/v1/checkout/sessions", "list_checkout_sessions"),
        ("GET", r"/v1/checkout/sessions/(?P<id>[\w]+)", "get_checkout_session"),
        ("GET", r"/v1/payment_intents/(?P<id>[\w]+)", "get_payment_intent"),
        ("GET", r"/v1/charges/(?P<id>[\w]+)", "get_charge"),
        ("POST", r"/v1/refunds", "create_refund"),
        ("GET", r"/v1/refunds", "list_refunds"),
        ("GET", r"/v1/refunds/(?P<id>[\w]+)", "get_refund"),
        ("POST", r"/v1/customers", "create_customer"),
        ("GET", r"/v1/customers/(?P<id>[\w]+)", "get_customer"),
        ("POST", r"/v1/prices", "create_price"),
        ("GET", r"/v1/prices/(?P<id>[\w]+)", "get_price"),
        ("GET", r"/v1/subscriptions", "list_subscriptions"),
        ("GET", r"/v1/subscriptions/(?P<id>[\w]+)", "get_subscription"),
        ("GET", r"/v1/invoices", "list_invoices"),
        ("GET", r"/v1/invoices/(?P<id>[\w]+)", "get_invoice"),
        ("POST", r"/v1/billing_portal/sessions", "create_portal_session"),
        ("POST", r"/v1/billing/meter_events", "create_meter_event"),
        ("GET", r"/checkout/(?P<id>[\w]+)", "checkout_page"),
        ("GET", r"/portal/(?P<id>[\w]+)", "portal_page"),
        ("POST", r"/checkout/(?P<id>[\w]+)", "checkout_pay"),
    ]

    def __init__(self, api_keys=(API_KEY,), enabled_methods=("card", "alipay", "wechat_pay")):
        self.api_keys = set(api_keys)
        self.enabled_methods = set(enabled_methods)  # the payment methods the account has turned on
        self.objects: dict[str, dict[str, dict]] = {}  # collection -> id -> object
        self.endpoints: list[WebhookEndpoint] = []
        self.deliveries: list[tuple[str, int]] = []  # (event id, the endpoint's status)
        self.requests: list[tuple[str, str]] = []  # (method, path) of every API call
        self.fail_next: list[StripeError] = []  # errors to answer the next API calls with (an outage)
        self.lock = threading.RLock()
        self.url = ""
        self._server = self._thread = None

    # --- running -----------------------------------------------------------------------------------------

    def start(self, port: int = 0) -> "FakeStripe":
        self._server = make_server("127.0.0.1", port, self._wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="fake-stripe", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def add_webhook(self, url: str, secret: str | None = None) -> WebhookEndpoint:
        """Register an endpoint that receives every event (as the tenant does in Stripe's dashboard)."""
        endpoint = WebhookEndpoint(url, secret) if secret else WebhookEndpoint(url)
        self.endpoints.append(endpoint)
        return endpoint

    # --- state -------------------------------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(12)}"

    def store(self, collection: str, obj: dict) -> dict:
        with self.lock:
            self.objects.setdefault(collection, {})[obj["id"]] = obj
        return obj

    def get(self, collection: str, object_id: str, name: str) -> dict:
        obj = self.objects.get(collection, {}).get(object_id)
        if obj is None:
            raise StripeError(404, f"No such {name}: '{object_id}'", code="resource_missing", param="id")
        return obj

    def listing(self, url: str, items: list[dict], params: dict) -> dict:
        limit = int(params.get("limit", 10))
        items = sorted(items, key=lambda item: item["created"], reverse=True)
        return {"object": "list", "url": url, "has_more": len(items) > limit, "data": items[:limit]}

    # --- events ------------------------------------------------------------------------------------------

    def event(self, type_: str, obj: dict) -> dict:
        """A Stripe event object about `obj` (a snapshot of it, as Stripe sends)."""
        return {"id": self.new_id("evt"), "object": "event", "api_version": "2025-01-27.acacia",
                "created": int(time.time()), "type": type_, "livemode": False, "pending_webhooks": 1,
                "request": {"id": None, "idempotency_key": None}, "data": {"object": json.loads(json.dumps(obj))}}

    def deliver(self, event: dict, timestamp: int | None = None) -> list[int]:
        """POST `event`, signed, to every registered endpoint; returns their status codes."""
        payload = json.dumps(event)
        statuses = []
        for endpoint in self.endpoints:
            request = urllib.request.Request(endpoint.url, data=payload.encode(), method="POST", headers={
                "Content-Type": "application/json; charset=utf-8",
                "Stripe-Signature": sign(payload, endpoint.secret, timestamp)})
            try:
                with urllib.request.urlopen(request, timeout=10) as answer:
                    status = answer.status
            except urllib.error.HTTPError as error:
                status = error.code
            self.deliveries.append((event["id"], status))
            statuses.append(status)
        return statuses

    # --- HTTP --------------------------------------------------------------------------------------------

    @Request.application
    def _wsgi(self, request: Request) -> Response:
        for method, pattern, handler in self.ROUTES:
            match = re.fullmatch(pattern, request.path)
            if match and request.method == method:
                break
        else:
            return self._json(StripeError(404, f"Unrecognized request URL ({request.method}: {request.path}).").body,
                              404)
        if request.path.startswith(("/checkout/", "/portal/")):  # the hosted pages: a browser, no API key
            return getattr(self, handler)(request, **match.groupdict())
        try:
            self._authorise(request)
            with self.lock:
                self.requests.append((request.method, request.path))
                if self.fail_next:
                    raise self.fail_next.pop(0)
            params = parse_form(parse_qsl(request.get_data(as_text=True) if request.method == "POST"
                                          else request.query_string.decode(), keep_blank_values=True))
            with self.lock:
                return self._json(getattr(self, handler)(params, **match.groupdict()))
        except StripeError as error:
            return self._json(error.body, error.status)

    def _authorise(self, request: Request) -> None:
        key = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if key not in self.api_keys:
            shown = f"{key[:8]}{'*' * 8}{key[-4:]}" if key else ""
            raise StripeError(401, f"Invalid API Key provided: {shown}" if key else "You did not provide an API key.")

    def _json(self, body: dict, status: int = 200) -> Response:
        return Response(json.dumps(body), status, content_type="application/json",
                        headers={"Request-Id": self.new_id("req")})

    # --- resources ---------------------------------------------------------------------------------------

    def get_balance(self, params: dict) -> dict:
        return {"object": "balance", "livemode": False, "available": [{"amount": 0, "currency": "usd"}],
                "pending": [{"amount": 0, "currency": "usd"}]}

    def create_checkout_session(self, params: dict) -> dict:
        mode = params.get("mode")
        if mode == "subscription":
            return self._subscription_checkout(params)
        if mode != "payment":
            raise StripeError(400, "Only payment and subscription modes are implemented by this fake.", param="mode")
        items = params.get("line_items") or []
        if not items:
            raise StripeError(400, "You must specify `line_items`.", code="parameter_missing", param="line_items")
        currencies = {item["price_data"]["currency"].lower() for item in items}
        if len(currencies) != 1:
            raise StripeError(400, "All line items must have the same currency.", param="line_items")
        total = sum(int(item["price_data"]["unit_amount"]) * int(item.get("quantity", 1)) for item in items)
        if total <= 0:
            raise StripeError(400, "The Checkout Session's total amount must be greater than zero.",
                              param="line_items")
        for name in ("success_url", "cancel_url"):
            if not str(params.get(name, "")).startswith(("http://", "https://")):
                raise StripeError(400, f"Not a valid URL: {name}", code="url_invalid", param=name)
        for method in params.get("payment_method_types") or ["card"]:
            if method not in self.enabled_methods:
                raise StripeError(400, f"The payment method type provided: {method} is invalid. Please ensure the "
                                  "provided type is activated in your dashboard.", param="payment_method_types")
        if "wechat_pay" in (params.get("payment_method_types") or []) and \
                (params.get("payment_method_options") or {}).get("wechat_pay", {}).get("client") != "web":
            raise StripeError(400, "payment_method_options[wechat_pay][client] must be web for Checkout.",
                              param="payment_method_options[wechat_pay][client]")
        session_id = self.new_id("cs_test")
        return self.store("checkout.sessions", {
            "id": session_id, "object": "checkout.session", "mode": mode, "status": "open",
            "payment_status": "unpaid", "amount_total": total, "amount_subtotal": total,
            "currency": currencies.pop(), "payment_method_types": params.get("payment_method_types") or ["card"],
            "payment_method_options": params.get("payment_method_options") or {},
            "metadata": params.get("metadata") or {}, "client_reference_id": params.get("client_reference_id"),
            "success_url": params["success_url"], "cancel_url": params["cancel_url"], "payment_intent": None,
            "customer_email": params.get("customer_email"), "livemode": False, "created": int(time.time()),
            "expires_at": int(time.time()) + 86400, "url": f"{self.url}/checkout/{session_id}",
            "_line_items": items, "_payment_intent_data": params.get("payment_intent_data") or {}})

    def list_checkout_sessions(self, params: dict) -> dict:
        return self.listing("/v1/checkout/sessions", [self._public(s) for s in
                                                      self.objects.get("checkout.sessions", {}).values()], params)

    def get_checkout_session(self, params: dict, id: str) -> dict:
        return self._public(self.get("checkout.sessions", id, "checkout.session"))

    def get_payment_intent(self, params: dict, id: str) -> dict:
        intent = dict(self.get("payment_intents", id, "payment_intent"))
        if "latest_charge" in (params.get("expand") or []) and intent["latest_charge"]:
            intent["latest_charge"] = self.get("charges", intent["latest_charge"], "charge")
        return intent

    def get_charge(self, params: dict, id: str) -> dict:
        return self.get("charges", id, "charge")

    def create_refund(self, params: dict) -> dict:
        intent = self.get("payment_intents", params.get("payment_intent", ""), "payment_intent")
        left = intent["amount_received"] - self._refunded(intent["id"])
        amount = int(params.get("amount", left))
        if amount <= 0:
            raise StripeError(400, "Refund amount must be greater than zero.", param="amount")
        if amount > left:
            raise StripeError(400, f"Refund amount ({amount}) is greater than unrefunded amount on charge ({left})",
                              code="amount_too_large", param="amount")
        refund = self.store("refunds", {
            "id": self.new_id("re"), "object": "refund", "amount": amount, "currency": intent["currency"],
            "payment_intent": intent["id"], "charge": intent["latest_charge"], "status": "succeeded",
            "reason": params.get("reason"), "metadata": params.get("metadata") or {}, "created": int(time.time())})
        self.objects["charges"][intent["latest_charge"]]["amount_refunded"] += amount
        return refund

    def list_refunds(self, params: dict) -> dict:
        refunds = [r for r in self.objects.get("refunds", {}).values()
                   if not params.get("payment_intent") or r["payment_intent"] == params["payment_intent"]]
        return self.listing("/v1/refunds", refunds, params)

    def get_refund(self, params: dict, id: str) -> dict:
        return self.get("refunds", id, "refund")

    def _refunded(self, intent_id: str) -> int:
        return sum(r["amount"] for r in self.objects.get("refunds", {}).values()
                   if r["payment_intent"] == intent_id and r["status"] == "succeeded")

    def _public(self, session: dict) -> dict:
        return {key: value for key, value in session.items() if not key.startswith("_")}

    # --- paying (what the customer does on Stripe's page) ------------------------------------------------

    def complete_checkout(self, session_id: str, method: str = "card") -> dict:
        """Pay an open session with `method`: a succeeded payment intent, the session complete and paid."""
        with self.lock:
            session = self.get("checkout.sessions", session_id, "checkout.session")
            if session["status"] != "open":
                raise StripeError(400, "This Checkout Session is no longer open.", code="checkout_session_expired")
            if session["mode"] == "subscription":
                return self._complete_subscription_checkout(session)
            if method not in session["payment_method_types"]:
                raise StripeError(400, f"This session does not offer {method}.", param="method")
            intent_id, amount = self.new_id("pi"), session["amount_total"]
            charge = self.store("charges", {
                "id": self.new_id("ch"), "object": "charge", "amount": amount, "amount_refunded": 0,
                "currency": session["currency"], "payment_intent": intent_id, "paid": True, "status": "succeeded",
                "payment_method_details": {"type": method}, "created": int(time.time())})
            self.store("payment_intents", {
                "id": intent_id, "object": "payment_intent", "amount": amount, "amount_received": amount,
                "currency": session["currency"], "status": "succeeded",
                "payment_method_types": session["payment_method_types"], "latest_charge": charge["id"],
                "metadata": session["_payment_intent_data"].get("metadata") or {}, "livemode": False,
                "created": int(time.time())})
            session.update(status="complete", payment_status="paid", payment_intent=intent_id)
            return self._public(session)

    def checkout_page(self, request: Request, id: str) -> Response:
        session = self.objects.get("checkout.sessions", {}).get(id)
        if session is None:
            return Response("Something went wrong: this checkout session does not exist.", 404)
        amount = session["amount_total"] if session["currency"] in ZERO_DECIMAL else session["amount_total"] / 100
        options = "".join(f'<label><input type="radio" name="method" value="{html.escape(m)}"'
                          f'{" checked" if n == 0 else ""}> {html.escape(m)}</label>'
                          for n, m in enumerate(session["payment_method_types"]))
        page = (f"<!doctype html><title>Fake Stripe Checkout</title><h1>Pay {amount:.2f} "
                f"{session['currency'].upper()}</h1><form method=post>{options}"
                f"<button type=submit>Pay</button></form><a href=\"{html.escape(session['cancel_url'])}\">Back</a>")
        return Response(page, content_type="text/html; charset=utf-8")

    def checkout_pay(self, request: Request, id: str) -> Response:
        try:
            session = self.complete_checkout(id, request.form.get("method", "card"))
        except StripeError as error:
            return Response(error.body["error"]["message"], error.status)
        self.deliver(self.event("checkout.session.completed", session))
        if session["mode"] == "subscription":
            subscription = self.objects["subscriptions"][session["subscription"]]
            self.deliver(self.event("customer.subscription.created", subscription))
            self.deliver(self.event("invoice.paid", self.objects["invoices"][subscription["latest_invoice"]]))
        return Response("", 303, headers={
            "Location": session["success_url"].replace("{CHECKOUT_SESSION_ID}", session["id"])})

    # --- platform billing: customers, prices, subscriptions, invoices, the billing portal -----------------

    def create_customer(self, params: dict) -> dict:
        return self.store("customers", {
            "id": self.new_id("cus"), "object": "customer", "name": params.get("name"), "email": params.get("email"),
            "metadata": params.get("metadata") or {}, "livemode": False, "created": int(time.time())})

    def get_customer(self, params: dict, id: str) -> dict:
        return self.get("customers", id, "customer")

    def create_price(self, params: dict) -> dict:
        return self.store("prices", {
            "id": self.new_id("price"), "object": "price", "active": True, "currency": params.get("currency", "usd"),
            "unit_amount": int(params.get("unit_amount", 0)), "product": params.get("product") or self.new_id("prod"),
            "recurring": {"interval": (params.get("recurring") or {}).get("interval", "month")},
            "type": "recurring", "livemode": False, "created": int(time.time())})

    def get_price(self, params: dict, id: str) -> dict:
        return self.get("prices", id, "price")

    def list_subscriptions(self, params: dict) -> dict:
        wanted = params.get("status")
        items = [s for s in self.objects.get("subscriptions", {}).values()
                 if (not params.get("customer") or s["customer"] == params["customer"])
                 and (wanted == "all" or s["status"] == wanted or (not wanted and s["status"] != "canceled"))]
        return self.listing("/v1/subscriptions", items, params)

    def get_subscription(self, params: dict, id: str) -> dict:
        return self.get("subscriptions", id, "subscription")

    def list_invoices(self, params: dict) -> dict:
        items = [i for i in self.objects.get("invoices", {}).values()
                 if not params.get("customer") or i["customer"] == params["customer"]]
        return self.listing("/v1/invoices", items, params)

    def get_invoice(self, params: dict, id: str) -> dict:
        return self.get("invoices", id, "invoice")

    def create_portal_session(self, params: dict) -> dict:
        customer = self.get("customers", params.get("customer", ""), "customer")
        session_id = self.new_id("bps")
        return self.store("billing_portal.sessions", {
            "id": session_id, "object": "billing_portal.session", "customer": customer["id"],
            "return_url": params.get("return_url"), "url": f"{self.url}/portal/{session_id}", "livemode": False,
            "created": int(time.time())})

    def create_meter_event(self, params: dict) -> dict:
        """Usage for a billing meter; an identifier seen before is counted once, as Stripe does."""
        customer = self.get("customers", (params.get("payload") or {}).get("stripe_customer_id", ""), "customer")
        identifier = params.get("identifier") or self.new_id("mev")
        events = self.objects.setdefault("billing.meter_events", {})
        return events.setdefault(identifier, {
            "id": identifier, "object": "billing.meter_event", "event_name": params.get("event_name"),
            "identifier": identifier, "payload": {"stripe_customer_id": customer["id"],
                                                  "value": params["payload"]["value"]},
            "livemode": False, "created": int(time.time())})

    def metered(self, customer: str) -> int:
        """The usage a customer's meter events add up to."""
        return sum(int(e["payload"]["value"]) for e in self.objects.get("billing.meter_events", {}).values()
                   if e["payload"]["stripe_customer_id"] == customer)

    def portal_page(self, request: Request, id: str) -> Response:
        session = self.objects.get("billing_portal.sessions", {}).get(id)
        if session is None:
            return Response("Something went wrong: this portal session does not exist.", 404)
        return Response(f"<!doctype html><title>Fake Stripe billing portal</title><h1>Billing portal</h1>"
                        f"<a href=\"{html.escape(session['return_url'] or '')}\">Return</a>",
                        content_type="text/html; charset=utf-8")

    def _subscription_checkout(self, params: dict) -> dict:
        items = params.get("line_items") or []
        if not items:
            raise StripeError(400, "You must specify `line_items`.", code="parameter_missing", param="line_items")
        prices = [self.get("prices", item.get("price", ""), "price") for item in items]
        if params.get("customer"):
            self.get("customers", params["customer"], "customer")
        for name in ("success_url", "cancel_url"):
            if not str(params.get(name, "")).startswith(("http://", "https://")):
                raise StripeError(400, f"Not a valid URL: {name}", code="url_invalid", param=name)
        session_id = self.new_id("cs_test")
        return self.store("checkout.sessions", {
            "id": session_id, "object": "checkout.session", "mode": "subscription", "status": "open",
            "payment_status": "unpaid", "amount_total": sum(p["unit_amount"] for p in prices),
            "currency": prices[0]["currency"], "payment_method_types": ["card"], "customer": params.get("customer"),
            "metadata": params.get("metadata") or {}, "client_reference_id": params.get("client_reference_id"),
            "success_url": params["success_url"], "cancel_url": params["cancel_url"], "subscription": None,
            "payment_intent": None, "livemode": False, "created": int(time.time()),
            "expires_at": int(time.time()) + 86400, "url": f"{self.url}/checkout/{session_id}",
            "_prices": [p["id"] for p in prices], "_subscription_data": params.get("subscription_data") or {}})

    def _complete_subscription_checkout(self, session: dict) -> dict:
        customer = session["customer"] or self.create_customer({"email": session.get("customer_email")})["id"]
        subscription = self.subscribe(customer, session["_prices"][0],
                                      metadata=session["_subscription_data"].get("metadata") or {})
        session.update(status="complete", payment_status="paid", customer=customer, subscription=subscription["id"])
        return self._public(session)

    def subscribe(self, customer: str, price: str, metadata: dict | None = None, status: str = "active") -> dict:
        """A subscription of `customer` to `price`, its first period paid (an invoice) unless it is trialing."""
        now = int(time.time())
        subscription = self.store("subscriptions", {
            "id": self.new_id("sub"), "object": "subscription", "customer": customer, "status": status,
            "items": {"object": "list", "data": []}, "cancel_at_period_end": False, "canceled_at": None,
            "ended_at": None, "trial_end": now + 14 * 86400 if status == "trialing" else None,
            "latest_invoice": None, "metadata": metadata or {}, "livemode": False, "created": now})
        self._set_price(subscription, price, now)
        if status != "trialing":
            self._invoice(subscription, "paid")
        return subscription

    def _set_price(self, subscription: dict, price: str, start: int) -> None:
        item = {"id": self.new_id("si"), "object": "subscription_item", "price": self.get("prices", price, "price"),
                "quantity": 1, "current_period_start": start, "current_period_end": start + 30 * 86400}
        subscription["items"]["data"] = [item]

    def _invoice(self, subscription: dict, status: str) -> dict:
        item = subscription["items"]["data"][0]
        amount, count = item["price"]["unit_amount"], len(self.objects.get("invoices", {}))
        invoice_id = self.new_id("in")
        invoice = self.store("invoices", {
            "id": invoice_id, "object": "invoice", "customer": subscription["customer"],
            "subscription": subscription["id"], "status": status, "number": f"FAKE-{count + 1:04d}",
            "currency": item["price"]["currency"], "total": amount, "amount_due": amount,
            "amount_paid": amount if status == "paid" else 0, "hosted_invoice_url": f"{self.url}/invoice/{invoice_id}",
            "livemode": False, "created": int(time.time()) + count})  # distinct, in the order they were made
        subscription["latest_invoice"] = invoice_id
        return invoice

    def _updated(self, subscription: dict, *others: dict) -> list[dict]:
        kind = "deleted" if subscription["status"] == "canceled" and subscription["ended_at"] else "updated"
        return [*others, self.event(f"customer.subscription.{kind}", subscription)]

    def renew(self, subscription_id: str, price: str | None = None) -> list[dict]:
        """The next period paid (on `price` when the plan changes): active again; the events Stripe sends."""
        with self.lock:
            subscription = self.get("subscriptions", subscription_id, "subscription")
            item = subscription["items"]["data"][0]
            self._set_price(subscription, price or item["price"]["id"], item["current_period_end"])
            subscription.update(status="active")
            invoice = self._invoice(subscription, "paid")
            return self._updated(subscription, self.event("invoice.paid", invoice))

    def fail_payment(self, subscription_id: str) -> list[dict]:
        """The renewal's payment failed: past_due, an open invoice."""
        with self.lock:
            subscription = self.get("subscriptions", subscription_id, "subscription")
            subscription.update(status="past_due")
            invoice = self._invoice(subscription, "open")
            return self._updated(subscription, self.event("invoice.payment_failed", invoice))

    def cancel(self, subscription_id: str, at_period_end: bool = False) -> list[dict]:
        """Cancelled in the portal: at the period's end (still active until then), or at once."""
        with self.lock:
            subscription = self.get("subscriptions", subscription_id, "subscription")
            subscription.update(cancel_at_period_end=at_period_end, canceled_at=int(time.time()))
            if not at_period_end:
                subscription.update(status="canceled", ended_at=int(time.time()))
            return self._updated(subscription)

    def set_status(self, subscription_id: str, status: str) -> list[dict]:
        """Stripe moved the subscription to `status` by itself (`unpaid` after its retries)."""
        with self.lock:
            subscription = self.get("subscriptions", subscription_id, "subscription")
            subscription.update(status=status)
            return self._updated(subscription)
