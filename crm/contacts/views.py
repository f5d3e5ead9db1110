"""Contacts on the customer page: the card, and a modal to add, change, mark primary or remove one. The routes
check the customer's permissions (a contact goes as far as its customer does)."""
from flask import g, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from crm import registry
from crm.contacts import service
from crm.contacts.forms import ContactForm
from crm.customers import chooser
from crm.customers import queries as customers
from crm.members.access import require
from crm.web import check_form, fragment_of, on_invalid, render, saved
from tenants.resolver import tenant_blueprint

bp = tenant_blueprint("contacts", __name__)
registry.plug(
    bp, registry.CustomerPanel("contacts/_customer_panel.html", order=5,
                               load=lambda member, customer: {"contacts": service.of_customer(customer.id)}),
    registry.AuditEntity("contact", _l("Contact"), fields=service.AUDIT_LABELS))


@bp.get("/customers/<id:customer_id>/contacts/new")
@require("customers", "edit")
def new(customer_id: int):
    """The empty form, shown in a modal."""
    return _form_page(ContactForm(), customers.get_customer(g.member, customer_id, "edit"), None)


@bp.post("/customers/<id:customer_id>/contacts")
@require("customers", "edit")
def create(customer_id: int):
    """Add a contact; errors come back beside their fields."""
    customer = customers.get_customer(g.member, customer_id, "edit")
    form = ContactForm()
    on_invalid(lambda error: _form_page(error.apply_to(form), customer, None))
    check_form(form)
    contact = service.create_contact(customer, form.data_for_service(), primary=form.primary.data,
                                     no_marketing=form.no_marketing.data)
    return saved(_("Contact %(name)s added.", name=contact.name), "customers.show", customer_id=customer.id)


@bp.get("/contacts/<id:contact_id>/edit")
@require("customers", "edit")
def edit(contact_id: int):
    """The contact's form filled in, shown in a modal."""
    contact = service.get_contact(g.member, contact_id, "edit")
    form = ContactForm(obj=contact, primary=contact.is_primary, no_marketing=bool(contact.marketing_opt_out_at))
    return _form_page(form, customers.get_customer(g.member, contact.customer_id), contact)


@bp.post("/contacts/<id:contact_id>")
@require("customers", "edit")
def update(contact_id: int):
    """Save the modal form."""
    contact = service.get_contact(g.member, contact_id, "edit")
    form = ContactForm()
    on_invalid(lambda error: _form_page(error.apply_to(form), customers.get_customer(g.member, contact.customer_id),
                                        contact))
    check_form(form)
    service.update_contact(contact, form.data_for_service(), no_marketing=form.no_marketing.data)
    if form.primary.data:
        service.make_primary(contact)
    return saved(_("Changes saved."), "customers.show", customer_id=contact.customer_id)


@bp.post("/contacts/<id:contact_id>/primary")
@require("customers", "edit")
def make_primary(contact_id: int):
    contact = service.get_contact(g.member, contact_id, "edit")
    service.make_primary(contact)
    return saved(_("%(name)s is now the primary contact.", name=contact.name), "customers.show",
                 customer_id=contact.customer_id)


@bp.post("/contacts/<id:contact_id>/delete")
@require("customers", "edit")
def delete(contact_id: int):
    contact = service.get_contact(g.member, contact_id, "edit")
    customer_id, name = contact.customer_id, contact.name
    service.delete_contact(contact)
    return saved(_("Contact %(name)s removed.", name=name), "customers.show", customer_id=customer_id)


@bp.get("/contacts/options")
@require("customers", "view")
@fragment_of("customers.index")
def options():
    """The contact picker's options for the customer a form's chooser now names (none it may not see)."""
    customer = chooser.chosen(g.member, request.args.get("customer_id"))
    return render("contacts/_options.html", contacts=service.of_customer(customer.id) if customer else [])


def _form_page(form, customer, contact):
    return render("contacts/form.html", block="form", form=form, customer=customer, contact=contact)
