"""schemathesis (4.x) against a live server's /api/v1/openapi.json, with an admin token
(every route in reach) and a few cases to find: no 5xx, every answer (status, media
type, body) as the description says. Bounded: a few dozen examples per operation."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from bot.engine.loader import FlowSet
from bot.store.store import Store

from .api_http import api_server, make_token
from .backoffice_cases import make_case
from .conftest import START, Clock

EXAMPLES = int(os.environ.get("INTAKE_SCHEMATHESIS_EXAMPLES", "30"))
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"


def _schemathesis() -> str:
    found = shutil.which("schemathesis") or str(Path(sys.executable).with_name("schemathesis"))
    if not Path(found).exists():
        pytest.skip("schemathesis is not installed (pip install -e .[test])")
    return found


@pytest.mark.slow
async def test_schemathesis_finds_no_server_error_and_no_answer_off_the_schema(
    sqlite_store: Store, flows: FlowSet, clock: Clock, tmp_path: Path
) -> None:
    program = _schemathesis()
    token = await make_token(sqlite_store, "fuzz", "admin", "fedasil", START)
    for i, (kind, flow) in enumerate((("voluntary_return", "voluntary_return"), ("visa_question", "visa_info"),
                                       ("protection_appointment", "protection_appointment"))):
        await make_case(sqlite_store, START, kind, flow, sender=f"s{i}")
    await sqlite_store.add_slots(START.replace(day=30), START.replace(day=30, hour=12), timedelta(hours=1), 3)
    async with api_server(sqlite_store, flows, clock) as base:
        process = await asyncio.create_subprocess_exec(
            program, "run", f"{base}/api/v1/openapi.json",
            "--header", f"Authorization: Bearer {token}",
            "--checks", CHECKS, "--max-examples", str(EXAMPLES), "--seed", "14",
            "--phases", "examples,coverage,fuzzing", "--workers", "1",
            "--request-timeout", "10", "--no-shrink",
            "--report", "junit", "--report-dir", str(tmp_path),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, cwd=tmp_path,
            env={**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"},
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=180)
    text = output.decode(errors="replace")
    assert process.returncode == 0, text[-6000:]
    assert "passed" in text.lower()
