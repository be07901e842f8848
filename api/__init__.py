"""HTTP routes besides Dash's own (Flask blueprints mounted by ``app.create_app``)."""
