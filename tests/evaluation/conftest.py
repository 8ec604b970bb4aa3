import pytest


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_blas():
    """The probes' tiny matrix products and the ALS solves gain nothing from BLAS threads, and on a
    shared 2-core machine oversubscription makes them ~10x slower (measured: one MLP fit 0.5 s
    with 1 thread vs 6 s with 2 while another job runs)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, "blas"):
        yield
