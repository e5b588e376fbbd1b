import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def _fresh_progress():
    """Progress snapshots live in the cache; ids repeat between tests on SQLite."""
    cache.clear()
    yield
    cache.clear()
