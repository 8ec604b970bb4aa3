import pytest


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_pools():
    """The mixed-model fits multiply tiny matrices and t-SNE embeds 60 points: BLAS and OpenMP
    threads only add contention on the shared 2-core machine (measured: a 60-point t-SNE takes
    7 s with 2 OpenMP threads under load, 0.3 s with 1)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield
