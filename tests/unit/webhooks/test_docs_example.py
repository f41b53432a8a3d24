"""The signature check that docs/integrations.md gives receivers accepts what the sender signs."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from services.api.webhooks.signing import signature

DOCS = Path(__file__).resolve().parents[3] / "docs" / "integrations.md"


def _documented_check() -> Callable[..., bool]:
    text = DOCS.read_text()
    block = text.split("<!-- signature-example:begin -->", 1)[1].split("<!-- signature-example:end -->", 1)[0]
    code = block.split("```python", 1)[1].split("```", 1)[0]
    namespace: dict[str, Any] = {}
    exec(compile(code, str(DOCS), "exec"), namespace)
    check: Callable[..., bool] = namespace["verify_signature"]
    return check


def test_the_documented_check_accepts_a_real_signature_and_refuses_tampering_and_replays() -> None:
    verify = _documented_check()
    secret, body, now = "whsec_docs-example-secret", b'{"id":"e1","type":"DatasetBuilt"}', int(time.time())
    header = signature(secret, body, now)
    assert verify(secret, body, header)
    assert not verify(secret, body.replace(b"e1", b"e2"), header)
    assert not verify("whsec_another-secret-entirely", body, header)
    assert not verify(secret, body, signature(secret, body, now - 3600))
    assert not verify(secret, body, "garbage")
