"""A bounded Schemathesis run against the four services as real processes (bench/fuzz.py with a small budget):
no server error, no undocumented status or content type, every response as its OpenAPI says."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

pytestmark = pytest.mark.e2e


def _fuzz_script() -> ModuleType:
    path = Path(__file__).resolve().parent.parent / "bench" / "fuzz.py"
    spec = importlib.util.spec_from_file_location("caseline_bench_fuzz", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_fuzzer_finds_no_server_error_and_no_undocumented_status_on_any_service() -> None:
    result = _fuzz_script().run_fuzz(examples=3, log=lambda _: None)
    assert result["operations"] >= 45 and result["requests"] > 200
    assert not result["failures"], "\n".join(map(str, result["failures"]))
    assert all(status < 500 for status in result["statuses"])
