"""Import every domain's models so that SQLAlchemy and Alembic know all tables."""

from lms.accounts import models as accounts  # noqa: F401
from lms.addresses import models as addresses  # noqa: F401
from lms.audit import models as audit  # noqa: F401
from lms.certificates import models as certificates  # noqa: F401
from lms.courses import models as courses  # noqa: F401
from lms.declarations import integrity_models as integrity_records  # noqa: F401
from lms.declarations import models as declarations  # noqa: F401
from lms.exams import models as exams  # noqa: F401
from lms.interop import models as interop  # noqa: F401
from lms.ledger import models as ledger  # noqa: F401
from lms.notices import models as notices  # noqa: F401
from lms.notices import notification_models as notifications  # noqa: F401
from lms.notify import models as notify  # noqa: F401
from lms.orgs import models as orgs  # noqa: F401
from lms.plans import models as plans  # noqa: F401
from lms.plans import training_models as trainings  # noqa: F401
from lms.review import models as review  # noqa: F401
from lms.statistics import models as statistics  # noqa: F401
from lms.tracking import models as tracking  # noqa: F401
from lms.transfers import models as transfers  # noqa: F401
