import gc

import pytest

from relhealth.core.memory import paused_gc


@pytest.fixture
def collector():
    enabled = gc.isenabled()
    yield
    (gc.enable if enabled else gc.disable)()


@pytest.mark.usefixtures("collector")
def test_paused_within_and_enabled_again_after():
    gc.enable()
    with paused_gc():
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("collector")
def test_restored_after_an_error_and_as_a_decorator():
    gc.enable()

    @paused_gc()
    def fails():
        assert not gc.isenabled()
        raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        fails()
    assert gc.isenabled()


@pytest.mark.usefixtures("collector")
def test_a_collector_already_off_stays_off():
    gc.disable()
    with paused_gc():
        pass
    assert not gc.isenabled()
