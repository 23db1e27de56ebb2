"""Environment implementations; each module's docstring is its documentation page."""
