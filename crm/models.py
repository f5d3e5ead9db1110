"""Every model module, imported once so the metadata (provisioning, migrations, drift test) sees all tables."""
from crm.accounts import models as accounts  # noqa: F401
from crm.audit import models as audit  # noqa: F401
from crm.customers import models as customers  # noqa: F401
from crm.fields import models as fields  # noqa: F401
from crm.members import models as members  # noqa: F401
from tenants import models as tenants  # noqa: F401
