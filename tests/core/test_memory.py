import gc
import threading

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


@pytest.mark.usefixtures("collector")
def test_nested_pauses_resume_when_the_outer_one_ends():
    gc.enable()
    with paused_gc():
        with paused_gc():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()


@pytest.mark.usefixtures("collector")
def test_overlapping_pauses_in_threads_leave_the_collector_running():
    # Thread A pauses, B pauses, A ends, B ends: without counting, B would have seen the
    # collector off when it began and left it off for good.
    gc.enable()
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen = []

    def first():
        with paused_gc():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def second():
        a_in.wait(5)
        with paused_gc():
            b_in.set()
            a_out.wait(5)
            seen.append(gc.isenabled())

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == [False]  # still paused while the second pause lasts
    assert gc.isenabled()
