"""Fixtures of the Python suite: the embedded server (started once, stopped
at the end), a DBAPI connection per test and a fresh table name."""

import uuid

import pytest

from qa_server import Server, connect


@pytest.fixture(scope="session")
def server():
    srv = Server()
    yield srv
    srv.stop()


@pytest.fixture
def conn(server):
    c = connect(server)
    yield c
    c.close()


@pytest.fixture
def table():
    """A table name no other test uses."""
    return f"t_{uuid.uuid4().hex[:12]}"
