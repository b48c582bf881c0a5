"""Without Docker the deployment tests are skipped, saying why, so that `make test` runs
anywhere; with BAMBOO_REQUIRE_DOCKER=1 (what .ci/run sets) the same case is a failure, so CI
cannot pass by skipping them."""

from __future__ import annotations

import pytest

from bamboo_assets_tests.deployment.docker_stack import unavailable


def test_without_docker_make_test_skips_and_ci_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BAMBOO_REQUIRE_DOCKER", raising=False)
    with pytest.raises(pytest.skip.Exception, match="deployment test needs Docker: no engine"):
        unavailable("no engine")
    monkeypatch.setenv("BAMBOO_REQUIRE_DOCKER", "1")
    with pytest.raises(pytest.fail.Exception, match="BAMBOO_REQUIRE_DOCKER=1 but no engine"):
        unavailable("no engine")
