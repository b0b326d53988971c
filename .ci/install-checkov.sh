#!/usr/bin/env bash
# Install checkov into its own virtualenv.
#
# Why a separate venv: checkov depends on `bc-python-hcl2`, which installs a module named
# `hcl2` and so overwrites `python-hcl2` (which soa_sdk uses to parse Terraform). Keeping
# checkov apart leaves the main environment untouched; soa_sdk.tf.checks finds the
# executable through $SOA_LAB_CHECKOV, this venv's bin/checkov, or PATH.
#
# Usage: bash .ci/install-checkov.sh          (idempotent: a venv with the pinned
#                                              version already in it is left as it is)
# Env:   SOA_LAB_CHECKOV_VENV  where the venv goes (default /opt/checkov-venv)
#        PYTHON                the interpreter to build it from (default python3)
set -euo pipefail

CHECKOV_VERSION="3.3.30"
VENV="${SOA_LAB_CHECKOV_VENV:-/opt/checkov-venv}"
PY="${PYTHON:-python3}"

if [[ -x "$VENV/bin/checkov" ]] &&
    [[ "$("$VENV/bin/python" -m pip show checkov 2>/dev/null | sed -n 's/^Version: //p')" == "$CHECKOV_VERSION" ]]; then
    echo "checkov $CHECKOV_VERSION already in $VENV"
    exit 0
fi

"$PY" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "checkov==$CHECKOV_VERSION"
echo "installed checkov $("$VENV/bin/checkov" --version) in $VENV"
