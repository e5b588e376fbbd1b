import pytest

from tests.faults.support import kill, needs_postgres_and_broker, start_worker


@pytest.fixture
def workers():
    """Starts named workers on demand; kills whatever is still running at the end."""
    needs_postgres_and_broker()
    started = []
    yield lambda name: started.append(start_worker(name)) or started[-1]
    for worker in started:
        if worker.poll() is None:
            kill(worker)
