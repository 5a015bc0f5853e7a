import pytest

from tests.sim.helpers import free_port, start_server, stop_server


@pytest.fixture(scope="module")
def server_port():
    port = free_port()
    proc = start_server(port)
    yield port
    stop_server(proc)
