"""Fixtures shared by every test directory."""

from __future__ import annotations

import pytest

from tls_ca import Pki, make_pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """A test CA with server, client, expired and untrusted certificates (tests/tls_ca.py)."""
    return make_pki(tmp_path_factory.mktemp("pki"))
