"""The product catalogue: search, modal create/edit, deactivate and reactivate."""
from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.settings import workspace_currency
from crm.members.access import require
from crm.products import service
from crm.products.forms import FIELD_LABELS, ProductForm
from crm.web import check_form, on_invalid, render, saved
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("products", __name__, "/products")
registry.plug(
    bp, registry.MenuEntry("products.index", _l("Products"), order=90, permission=("products", "view"),
                           current=("products.*",), more=True),
    registry.AuditEntity("product", _l("Product"), fields={**FIELD_LABELS, "active": _l("Active")}))


@bp.get("/")
@require("products", "view")
def index():
    """The catalogue; the search swaps only the rows."""
    q = request.args.get("q", "").replace("\x00", "").strip()[:100]
    show_all = request.args.get("all") == "1"
    rows = service.list_products(q, include_inactive=show_all)
    return render("products/index.html", block="results", rows=rows, q=q, show_all=show_all,
                  limit=service.LIST_LIMIT)


@bp.get("/new")
@require("products", "create")
def new():
    """The empty form, shown in a modal."""
    return _form_page(ProductForm(), None)


@bp.post("/")
@require("products", "create")
def create():
    """Add a product; errors come back beside their fields."""
    form = ProductForm()
    on_invalid(lambda error: _form_page(error.apply_to(form), None))
    check_form(form)
    product = service.create_product(form.data_for_service())
    return saved(_("Product %(name)s added.", name=product.name), "products.index")


@bp.get("/<id:product_id>/edit")
@require("products", "edit")
def edit(product_id: int):
    """The product form filled in, shown in a modal."""
    product = service.get_product(product_id)
    form = ProductForm(obj=product)
    form.price.data = f"{product.price:.2f}"
    return _form_page(form, product)


@bp.post("/<id:product_id>")
@require("products", "edit")
def update(product_id: int):
    """Save the modal form."""
    product = service.get_product(product_id)
    form = ProductForm()
    on_invalid(lambda error: _form_page(error.apply_to(form), product))
    check_form(form)
    service.update_product(product, form.data_for_service())
    return saved(_("Changes saved."), "products.index")


@bp.post("/<id:product_id>/active")
@require("products", "edit")
def set_active(product_id: int):
    """Deactivate a product (kept on past orders, no longer offered) or bring it back."""
    product = service.set_active(service.get_product(product_id), request.form.get("active") == "1")
    message = _("%(name)s is offered again.", name=product.name) if product.active else \
        _("%(name)s deactivated: it is no longer offered on new orders.", name=product.name)
    return saved(message, "products.index", **({"all": "1"} if not product.active else {}))


def _form_page(form, product):
    return render("products/form.html", block="form", form=form, product=product,
                  currency=workspace_currency())
