"""What every API resource module stands on: the OpenAPI document (flask-smorest), `resource_blueprint()` (bearer
authentication, the per-token rate limit, no CSRF), `@write` (one commit per call; Idempotency-Key replays) and
ETags. A resource is one module with a blueprint made here, listed in RESOURCES."""
import functools
import hashlib
import http
import importlib
import json
import math
import re
import time
from datetime import timedelta

from flask import current_app, g, jsonify, make_response, request
from flask_babel import gettext as _
from flask_smorest import Api, Blueprint
from marshmallow import Schema, fields
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from werkzeug.exceptions import Forbidden, PreconditionFailed, Unauthorized

from crm.api import tokens
from crm.api.models import IdempotentRequest
from crm.api.problems import PROBLEM
from crm.billing import service as billing
from crm.errors import Invalid
from crm.extensions import csrf, db, limiter, utcnow
from crm.fields import definitions as field_definitions
from crm.validation import MAX_ID
from crm.web import RecordId
from tenants.resolver import tenant_by_id

PREFIX = "/api/v1"
# The modules of crm.api, each with its `bp`.
RESOURCES = ("customers", "tags", "pipelines", "members", "orders", "deals", "activities", "products", "tickets",
             "field_definitions", "deletions", "contacts")
KEEP_IDEMPOTENT = timedelta(hours=24)
IDEMPOTENCY_KEY = re.compile(r"[\x21-\x7e]{1,200}")


class OpenApi(Api):
    """flask-smorest's Api for the document alone: the app's own handlers answer errors (problem+json under /api/,
    pages elsewhere), so the HTTPException handler it would register for the whole app is left out."""

    def _register_error_handlers(self):
        pass

    def _register_responses(self):
        """The error responses its decorators name (the schema layer's 422) are problem details."""
        for status in http.HTTPStatus:
            if status >= 400:
                self.spec.components.response(status.name, {"description": status.phrase,
                                                            "content": {PROBLEM: {"schema": Problem}}}, lazy=True)


class Problem(Schema):
    type = fields.String(required=True)
    title = fields.String(required=True)
    status = fields.Integer(required=True)
    detail = fields.String()
    errors = fields.Dict(keys=fields.String(), values=fields.String(),
                         metadata={"description": "A message per field (for 422), in the reader's language."})


api = OpenApi()
IF_MATCH = {"in": "header", "name": "If-Match", "required": False, "schema": {"type": "string"},
            "description": "The ETag of the version read: a write on a changed record is refused (412)."}
IDEMPOTENCY = {"in": "header", "name": "Idempotency-Key", "required": False,
               "schema": {"type": "string", "minLength": 1, "maxLength": 200, "pattern": "^[\\x21-\\x7e]+$"},
               "description": "Retrying with the same key returns the first answer (kept 24 hours) instead of "
                              "making the change again."}
PROBLEM_RESPONSE = {"description": "A problem (RFC 9457): 401, 403, 404, 412, 422, 429 ...",
                    "content": {PROBLEM: {"schema": Problem}}}


def init_app(app) -> None:
    """The document at /api/v1/openapi.json and every resource's routes."""
    app.config.update(
        API_TITLE="CRM API", API_VERSION="v1", OPENAPI_VERSION="3.1.0", OPENAPI_URL_PREFIX=PREFIX,
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Act as the member whose personal token is sent as `Authorization: Bearer`. "
                                    "Times are UTC (ISO 8601); errors are problem details (RFC 9457)."},
            "security": [{"bearer": []}],
            "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        })
    api.init_app(app)
    api.register_converter(RecordId, lambda _converter: {"type": "integer", "minimum": 1, "maximum": MAX_ID})
    for name in RESOURCES:
        api.register_blueprint(importlib.import_module(f"crm.api.{name}").bp)


def resource_blueprint(name: str, import_name: str, path: str, description: str) -> Blueprint:
    """A blueprint under /api/v1`path` whose every call is authenticated by its bearer token and rate limited per
    token; CSRF is off (no cookie is read), and any problem is documented as the default response."""
    bp = Blueprint(f"api_{name}", import_name, url_prefix=PREFIX + path, description=description)
    bp.before_request(authenticate)
    bp.after_request(api_headers)
    csrf.exempt(bp)
    limiter.shared_limit(lambda: current_app.config["API_RATE_LIMIT"], scope="api", key_func=token_key)(bp)
    return bp


def documented(bp: Blueprint):
    """Every operation may answer a problem: documented once as its default response."""
    return bp.doc(responses={"default": PROBLEM_RESPONSE})


def bearer() -> str:
    scheme, _sep, secret = request.headers.get("Authorization", "").partition(" ")
    return secret.strip() if scheme.lower() == "bearer" else ""


def token_key() -> str:
    """Whose budget a call spends: the token's (by its hash, before anything is looked up), else the address's."""
    secret = bearer()
    return "token:" + hashlib.sha256(secret.encode()).hexdigest() if secret else f"ip:{request.remote_addr}"


def authenticate() -> None:
    """Bind the token's tenant and act as its member; 401 for a missing, unknown, expired or revoked token; 402
    when the plan has no API, or for a write while the workspace is read-only (crm/billing)."""
    secret = bearer()
    tenant_id = tokens.tenant_of(secret)
    tenant = tenant_by_id(tenant_id) if tenant_id else None
    if tenant is None:
        raise _unauthorized()
    g.tenant = tenant
    token = tokens.authenticate(secret, request.remote_addr)
    if token is None:
        db.session.rollback()
        g.pop("tenant")
        raise _unauthorized()
    if not tenant.active:
        raise Forbidden(description=_("This workspace is suspended."))
    if db.session.dirty:
        db.session.commit()  # the last-used time and address, at most once a minute
    billing.require_feature("api")
    billing.refuse_write_if_read_only()
    g.member, g.api_token, g.audit_via = token.member, token, token.name


def _unauthorized() -> Unauthorized:
    error = Unauthorized(description=_("Send a valid API token as “Authorization: Bearer <token>”."))
    error.www_authenticate = None
    return error


def api_headers(response):
    """RateLimit-Limit/-Remaining/-Reset on every answer (IETF draft names; a 429 also says Retry-After), and no
    cache keeps what a token read."""
    response.headers.setdefault("Cache-Control", "no-store")
    limit = limiter.current_limit
    if limit is not None:
        reset = max(0, math.ceil(limit.reset_at - time.time()))
        response.headers["RateLimit-Limit"] = str(limit.limit.amount)
        response.headers["RateLimit-Remaining"] = str(max(0, limit.remaining))
        response.headers["RateLimit-Reset"] = str(reset)
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="api"'
    return response


def write(view):
    """A call that changes data: committed once, after the view. With an Idempotency-Key header its answer is
    kept (in the same transaction) and a retry with the same key and request gets it again instead of a second
    change; the same key on another request is refused."""

    @functools.wraps(view)
    def committed(*args, **kwargs):
        key = request.headers.get("Idempotency-Key")
        if key is None:
            response = make_response(view(*args, **kwargs))
            db.session.commit()
            return response
        if not IDEMPOTENCY_KEY.fullmatch(key):
            raise Invalid({"Idempotency-Key": _("Use 1 to 200 visible ASCII characters.")})
        fingerprint = hashlib.sha256(b"%s %s\n" % (request.method.encode(), request.full_path.encode())
                                     + request.get_data()).hexdigest()
        kept = _kept_answer(key)
        if kept is not None:
            return _replay(kept, fingerprint)
        response = make_response(view(*args, **kwargs))
        remove_expired_answers()  # an expired row would still hold its key (unique) against this new answer
        db.session.add(IdempotentRequest(token_id=g.api_token.id, key=key, fingerprint=fingerprint,
                                         status=response.status_code, body=response.get_json(silent=True) or {},
                                         location=response.headers.get("Location")))
        try:
            db.session.commit()
        except IntegrityError:  # the same key, sent twice at once: the other call's answer is the one
            db.session.rollback()
            return _replay(_kept_answer(key), fingerprint)
        return response

    return committed


def found_first(find):
    """Look the record the URL names up (`find(**url values)` raises NotFound) before the body is read: a record
    outside the member's scope is 404 whatever was sent, as on the pages. Goes under @require, over @arguments."""

    def decorate(view):
        @functools.wraps(view)
        def found(*args, **kwargs):
            find(**kwargs)
            return view(*args, **kwargs)

        return found

    return decorate


def refuse_unknown_custom(custom: dict, entity: str) -> None:
    """A custom value for a field nobody defined is refused at `custom_<key>`, not silently dropped."""
    known = {field.key for field in field_definitions.fields(entity)}
    unknown = {f"custom_{key}": _("Unknown field.") for key in custom if key not in known}
    if unknown:
        raise Invalid(unknown)


def remove_expired_answers() -> int:
    """Forget the kept answers older than KEEP_IDEMPOTENT (their keys may be used again); returns how many."""
    return db.session.execute(delete(IdempotentRequest).where(
        IdempotentRequest.created_at < utcnow() - KEEP_IDEMPOTENT)).rowcount


def _kept_answer(key: str) -> IdempotentRequest | None:
    return db.session.scalar(select(IdempotentRequest).where(
        IdempotentRequest.token_id == g.api_token.id, IdempotentRequest.key == key,
        IdempotentRequest.created_at >= utcnow() - KEEP_IDEMPOTENT))


def _replay(kept: IdempotentRequest, fingerprint: str):
    if kept.fingerprint != fingerprint:
        raise Invalid({"Idempotency-Key": _("This key was already used for another request.")})
    response = make_response(json.dumps(kept.body) if kept.status != 204 else "", kept.status)
    response.content_type = "application/json"
    response.headers["Idempotent-Replayed"] = "true"
    if kept.location:
        response.headers["Location"] = kept.location
    if 200 <= kept.status < 300 and kept.body:
        response.set_etag(etag_of(kept.body))
    return response


def answer(schema, data, status: int = 200, headers: dict | None = None, etag: bool = False):
    """`data` as `schema` dumps it (so the answer is what the document says), as JSON; `etag`: with its ETag."""
    body = schema().dump(data)
    response = make_response(jsonify(body), status)
    response.headers.update(headers or {})
    if etag:
        response.set_etag(etag_of(body))
    return response


def etag_of(representation: dict) -> str:
    """A strong ETag of what the API shows of a record: any change to it, tags and custom values included,
    changes the tag."""
    return hashlib.sha256(json.dumps(representation, sort_keys=True, default=str).encode()).hexdigest()[:32]


def check_if_match(schema, data) -> None:
    """412 when the client's If-Match names another version than the record as `schema` shows `data` now (the
    ETag `answer` sends): a write based on a stale read."""
    if request.if_match and not request.if_match.contains(etag_of(schema().dump(data))):
        raise PreconditionFailed(description=_("The record changed since you read it: read it again, then retry."))
