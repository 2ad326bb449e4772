#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Rotation policies with the scheduler (moved by the operator's test clock), key-state events and
# the audit log, against a crosskeyd with --test-clock (tests/compat/standalone/vault-rotation-events.mjs).
# Usage: test_vault_rotation.sh <build dir>.
set -u
build=$(CDPATH="" cd -- "${1:?usage: test_vault_rotation.sh <build dir>}" && pwd)
. "$(dirname -- "$0")/lib.sh"

e2e_start --test-clock
e2e_node "vault rotation and event" standalone/vault-rotation-events.mjs
