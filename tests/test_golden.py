"""The command line's outputs are those recorded on this machine (tests/golden.py): a refactor that
changes a pixel, a JSON field, a provenance record or a failure's message fails here."""

import json

import golden
import pytest


@pytest.fixture(scope="module")
def recorded():
    key = golden.GOLDEN / golden.machine_key()
    if not key.is_dir():
        pytest.skip(f"no goldens for this machine ({key.name}); `python tests/golden.py record` makes them")
    return key


@pytest.fixture(scope="module")
def results(recorded, tmp_path_factory):
    return golden.run_all(tmp_path_factory.mktemp("golden"))


@pytest.mark.parametrize("name", list(golden.scenarios(golden.ROOT)))
def test_outputs_as_recorded(name, recorded, results):
    assert results[name] == json.loads((recorded / f"{name}.json").read_text())
