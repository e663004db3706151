"""`browser.solve_captcha` in a flow run by `rpa run`, its key given by name in a secrets file."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.agent.steps.browser.captcha_service import GOOD_KEY, fake_captcha_service
from tests.agent.steps.browser.flows import RPA, flow

pytestmark = pytest.mark.browser


def test_rpa_run_solves_the_captcha_and_masks_the_key(tmp_path: Path) -> None:
    with fake_captcha_service() as service:
        document = flow(
            "Solve a CAPTCHA",
            [
                {"id": "open", "type": "browser.open", "params": {"url": f"{service.url}/recaptcha"}},
                {"id": "strict", "type": "browser.healing", "params": {"enabled": False}},
                {
                    "id": "captcha",
                    "type": "browser.solve_captcha",
                    "params": {
                        "credential": "captcha.api_key",
                        "service_url": service.url,
                        "first_poll_s": 0,
                        "poll_interval_s": 0.05,
                    },
                },
                {
                    "id": "check",
                    "type": "browser.evaluate",
                    "params": {"script": "() => window.solvedWith"},
                },
            ],
            outputs={"token": "{{ steps.captcha.output.answer }}", "seen": "{{ steps.check.output }}"},
        )
        (tmp_path / "flow.json").write_text(json.dumps(document))
        (tmp_path / "secrets.json").write_text(json.dumps({"captcha": {"api_key": GOOD_KEY}}))
        journal = tmp_path / "journal.db"
        result = subprocess.run(
            [RPA, "run", "flow.json", "--json", "--secrets", "secrets.json", "--journal", str(journal)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={**os.environ, "RPA_BROWSER_STATE_DIR": str(tmp_path / "state")},
        )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["outputs"] == {"token": service.token, "seen": service.token}
    assert service.requests[0]["key"] == GOOD_KEY
    assert GOOD_KEY not in result.stdout + result.stderr
    assert GOOD_KEY.encode() not in journal.read_bytes()
