import pytest

import sentiment


@pytest.fixture(autouse=True)
def default_settings():
    """Every test starts and ends with the shipped settings."""
    sentiment.configure(brand_names=[], rules_path="", scorer="default")
    yield
    sentiment.configure(brand_names=[], rules_path="", scorer="default")
