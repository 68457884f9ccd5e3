import pytest

from tests.kpis.factories import _seq


@pytest.fixture(autouse=True)
def _reset_sequence():
    _seq["n"] = 0
    yield
