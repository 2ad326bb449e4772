#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# Crash test of blob storage (issue 4; docs/data-format.md, "Blob data", Durability): concurrent
# uploads to the development account (tests/compat/standalone/blob-crash.mjs) while crosskeyd is
# killed with SIGKILL at a random moment, three times over on the same data directory. After each
# restart: every acknowledged blob reads back byte-identical (or as a write that was in flight at
# the kill), no visible blob is torn or unknown, storage/tmp/ is empty, the extent files are exactly
# the index's file parts (small parts are inline) and every parts row is referenced (orphans
# collected on start).
# Usage: test_blob_crash.sh <build dir>.
set -u
build=$(CDPATH="" cd -- "${1:?usage: test_blob_crash.sh <build dir>}" && pwd)
. "$(dirname -- "$0")/lib.sh"

journal="$work/journal.ndjson"
cycles=3
dpid="" # crosskeyd itself (a child of timeout, whose pid is $pid)

# start N: starts crosskeyd on $data with the development account and waits for endpoints.json.
start() {
    rm -f "$data/endpoints.json"
    timeout -s TERM 200 "$build/crosskeyd" --data "$data" --port 0 --mi-port 0 --blob-port 0 \
        --vault-ports 0-0 --dev-account --dev-port 0 </dev/null 2>>"$work/daemon.log" &
    pid=$!
    i=0
    while [ ! -s "$data/endpoints.json" ]; do
        kill -0 "$pid" 2>/dev/null || { echo "FAIL: crosskeyd exited (start $1)"; tail -n 30 "$work/daemon.log"; pid=""; exit 1; }
        [ $i -lt 300 ] || { echo "FAIL: no endpoints.json (start $1)"; exit 1; }
        sleep 0.1; i=$((i + 1))
    done
    dpid=$(pgrep -P "$pid" | head -n 1)
    [ -n "$dpid" ] || { echo "FAIL: cannot find the crosskeyd process under timeout $pid"; exit 1; }
}

# node_crash ARGS...: runs the crash client from tests/compat, bounded.
node_crash() {
    (cd "$compat" && exec timeout 120 node standalone/blob-crash.mjs "$@")
}

# check_files CYCLE PARTS FILES: storage/tmp is empty and the extent files are exactly the index's
# file parts. PARTS and FILES are what Get Block List says the index should hold (all parts, and
# those above one segment, which are files; smaller parts are inline in the index).
check_files() {
    st="$data/storage"
    left=$(find "$st/tmp" -mindepth 1 | head -n 5)
    [ -z "$left" ] || { echo "FAIL: cycle $1: leftovers in storage/tmp after restart:"; echo "$left"; exit 1; }
    other=$(find "$st/extents" -type f ! -name '*.ckb' | head -n 5)
    [ -z "$other" ] || { echo "FAIL: cycle $1: unexpected files in storage/extents:"; echo "$other"; exit 1; }
    find "$st/extents" -type f -name '*.ckb' | sed 's|.*/||; s|\.ckb$||' | sort >"$work/files.txt"
    nfiles=$(wc -l <"$work/files.txt" | tr -d ' ')
    [ "$nfiles" -eq "$3" ] || { echo "FAIL: cycle $1: $nfiles extent files, but the visible blobs and staged blocks have $3 parts above one segment"; exit 1; }
    if ! command -v sqlite3 >/dev/null 2>&1; then
        echo "ok: cycle $1: storage/tmp empty; $nfiles extent files = file parts per Get Block List"
        echo "note: sqlite3 CLI not installed: skipped the exact comparison of extent files with the index"
        return
    fi
    db="file:$st/storage.db?mode=ro"
    sqlite3 "$db" "SELECT id FROM parts ORDER BY id;" >"$work/parts.txt" || { echo "FAIL: sqlite3 parts"; exit 1; }
    sqlite3 "$db" "SELECT id FROM parts WHERE data IS NULL ORDER BY id;" >"$work/fileparts.txt" || { echo "FAIL: sqlite3 file parts"; exit 1; }
    sqlite3 "$db" "SELECT json_extract(j.value, '\$.id') FROM blobs, json_each(blobs.parts) AS j
                   UNION SELECT part FROM blocks ORDER BY 1;" >"$work/refs.txt" || { echo "FAIL: sqlite3 refs"; exit 1; }
    nparts=$(wc -l <"$work/parts.txt" | tr -d ' ')
    [ "$nparts" -eq "$2" ] || { echo "FAIL: cycle $1: $nparts parts rows, but the visible blobs and staged blocks have $2 parts"; exit 1; }
    if ! diff "$work/files.txt" "$work/fileparts.txt" >"$work/diff.txt"; then
        echo "FAIL: cycle $1: extent files (<) differ from the file parts of the index (>):"; head -n 20 "$work/diff.txt"; exit 1
    fi
    if ! diff "$work/parts.txt" "$work/refs.txt" >"$work/diff.txt"; then
        echo "FAIL: cycle $1: parts rows (<) differ from the parts blobs and blocks reference (>):"; head -n 20 "$work/diff.txt"; exit 1
    fi
    echo "ok: cycle $1: storage/tmp empty; $nfiles extent files = file parts rows; $nparts parts rows = referenced parts"
}

t0=$(date +%s)
start 0
c=1
while [ $c -le $cycles ]; do
    rm -f "$work/started"
    node_crash upload "$data" "$journal" "$work/started" "$c" >"$work/upload.log" 2>&1 &
    upid=$!
    i=0
    while [ ! -e "$work/started" ]; do
        kill -0 "$upid" 2>/dev/null || { echo "FAIL: cycle $c: the uploader stopped before any upload"; cat "$work/upload.log"; exit 1; }
        [ $i -lt 300 ] || { echo "FAIL: cycle $c: no upload acknowledged within 30 s"; exit 1; }
        sleep 0.1; i=$((i + 1))
    done
    # A random moment 0.5 to 3 s into the uploads.
    r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
    ms=$((500 + r % 2501))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -KILL "$dpid"
    wait "$pid" 2>/dev/null
    pid=""
    rc=0; wait "$upid" || rc=$?
    cat "$work/upload.log"
    [ $rc -eq 0 ] || { echo "FAIL: cycle $c: uploader exit status $rc"; exit 1; }
    echo "cycle $c: SIGKILL after ${ms} ms of uploads"

    start "$c"
    node_crash verify "$data" "$journal" >"$work/verify.log" 2>&1 || {
        cat "$work/verify.log"; echo "FAIL: cycle $c: acknowledged or visible blobs wrong after the crash"; tail -n 20 "$work/daemon.log"; exit 1
    }
    cat "$work/verify.log"
    parts=$(sed -n 's/^parts \([0-9]*\) files [0-9]*$/\1/p' "$work/verify.log")
    files=$(sed -n 's/^parts [0-9]* files \([0-9]*\)$/\1/p' "$work/verify.log")
    check_files "$c" "$parts" "$files"
    c=$((c + 1))
done
grep 'recovery' "$work/daemon.log" || true
kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=""
# Sanitizer builds: a memory error or undefined behaviour reported in the daemon's log fails;
# leaks reported at exit are shown but not judged here.
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$work/daemon.log"; then
    echo "FAIL: sanitizer report in the daemon log (above)"; exit 1
fi
grep 'SUMMARY: AddressSanitizer: .* leaked' "$work/daemon.log" && echo "note: LeakSanitizer reported leaks at exit (not judged here)"
echo "ok: all blob crash checks passed ($cycles kill -9 cycles, $(($(date +%s) - t0)) s)"
