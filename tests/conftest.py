"""Shared test settings: hypothesis profiles.

`ci` (the default) keeps the whole suite within CI's budget on two cores; `thorough` is for
long local runs: HYPOTHESIS_PROFILE=thorough python -m pytest -n 2
"""

import os

from hypothesis import HealthCheck, settings

settings.register_profile("ci", max_examples=100, deadline=None, derandomize=False,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("thorough", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
