"""Production password hashing keeps its cost. The test suite lowers argon2's parameters
(tests/conftest.py → ``geodata.accounts.set_password_hash_parameters``); this pins what a
process that never calls the hook (the app, the CLI) uses, so the cheap path cannot leak."""

from __future__ import annotations

import subprocess
import sys

from geodata.accounts import PASSWORD_HASH_PARAMETERS

#: argon2id, RFC 9106 "low memory" profile: 3 passes, 64 MiB, 4 lanes.
PRODUCTION = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}


def test_production_password_hashes_use_the_production_parameters():
    assert PASSWORD_HASH_PARAMETERS == PRODUCTION
    # A fresh interpreter, as the app and the CLI are: no test hook has run there.
    code = "from geodata.accounts import hash_password; print(hash_password('Pin-The-Cost-26!'))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120, check=True)  # fmt: skip
    assert res.stdout.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), res.stdout
