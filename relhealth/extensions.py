"""Extension objects, created here and bound to an app in ``create_app``."""

from apispec.ext.marshmallow import MarshmallowPlugin
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect

from relhealth.core.schemas import schema_name
from relhealth.db import Base

db = SQLAlchemy(model_class=Base)
migrate = Migrate(compare_type=True, render_as_batch=True)
api = Api(spec_kwargs={"marshmallow_plugin": MarshmallowPlugin(schema_name_resolver=schema_name)})
login_manager = LoginManager()
csrf = CSRFProtect()
