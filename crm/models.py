"""Every model module, imported once so the metadata (provisioning, migrations, drift test) sees all tables."""
from crm.accounts import models as accounts  # noqa: F401
from crm.followups import models as activities  # noqa: F401
from crm.audit import models as audit  # noqa: F401
from crm.campaigns import models as campaigns  # noqa: F401
from crm.customers import models as customers  # noqa: F401
from crm.fields import models as fields  # noqa: F401
from crm.members import models as members  # noqa: F401
from crm.notify import models as notify  # noqa: F401
from crm.orders import models as orders  # noqa: F401
from crm.deals import models as pipelines  # noqa: F401
from crm.pool import models as pool  # noqa: F401
from crm.products import models as products  # noqa: F401
from crm.targets import models as targets  # noqa: F401
from crm.tickets import models as tickets  # noqa: F401
from crm.timeline import models as timeline  # noqa: F401
from crm.two_factor import models as two_factor  # noqa: F401
from tenants import models as tenants  # noqa: F401
