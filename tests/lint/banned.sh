#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Fails when src/ uses a function CONVENTIONS.md bans, or compares secret-looking names with memcmp/strcmp.
dir=${1:-src}
hits=$(grep -rnE '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|gets|rand)\s*\(' "$dir" --include='*.c' --include='*.h')
if [ -n "$hits" ]; then
  echo "banned functions:"; echo "$hits"; exit 1
fi
hits=$(grep -rnE '\b(memcmp|strcmp)\s*\([^)]*\b(secret|signature|sig|mac|tag|hmac|key)\b' "$dir" --include='*.c')
if [ -n "$hits" ]; then
  echo "memcmp/strcmp near secret-looking names (use ck_ct_equal):"; echo "$hits"; exit 1
fi
echo "ok"
