#!/bin/sh
# SPDX-License-Identifier: Apache-2.0
# The Blob data commands of the crosskey CLI against a fresh crosskeyd (127.0.0.1 only,
# kernel-chosen ports, bounded by timeout, stopped by its pid):
#   storage container create (created true, then false; --fail-on-exist refuses), list, show,
#   delete (deleted true, then false; --fail-not-exist refuses);
#   storage blob upload / download of a small file (one Put Blob) and of a 10 MiB file (Put Block +
#   Put Block List in 4 MiB blocks, streamed back in 4 MiB ranges), compared byte for byte;
#   metadata whose names sort differently in byte order and in the SDK's Shared Key order (a, a_b,
#   a0), content types; list with --prefix, --num-results and --include m; show; delete;
#   --overwrite (refused without it, for one-shot and block uploads alike);
#   both --auth-mode key (key1 from listKeys, or --account-key) and --auth-mode login (refused with
#   a hint naming the role until Storage Blob Data Contributor is granted, then served);
#   the progress bar on stderr with --progress (stdout stays one JSON document), none without it;
#   the refusals: a missing container (ContainerNotFound, the hint to create it, exit 3), a missing
#   blob (exit 3), a wrong account key (AuthenticationFailed in plain words, exit 1), a bad
#   --auth-mode (exit 2).
# JSON is checked with node. The daemon is stopped at the end and its log and the CLI's stderr
# judged (sanitizer builds: memory errors fail). Usage: test_cli_blob.sh <build dir>. CK_KEEP=1 keeps the work dir.
set -u

build=$(CDPATH="" cd -- "${1:?usage: test_cli_blob.sh <build dir>}" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/ck-e2e-blob.XXXXXX")
data="$work/data"
export CROSSKEY_CONFIG_DIR="$work/config"
ck="$build/crosskey"
ckd="$build/crosskeyd"
pid=""
fails=0
cd "$work" || exit 1

cleanup() {
    if [ -n "$pid" ]; then kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; fi
    if [ "${CK_KEEP:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

fail() { echo "FAIL: $*" >&2; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }
die() { echo "FAIL: $*" >&2; [ -f "$work/daemon.log" ] && tail -n 40 "$work/daemon.log" >&2; exit 1; }

jget() {
    node -e '
const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
let v = o;
for (const k of process.argv[2].split(".")) { if (v === null || v === undefined) break; v = v[k]; }
if (v !== undefined && v !== null) console.log(typeof v === "object" ? JSON.stringify(v) : String(v));
' "$1" "$2"
}
jcheck() {
    node -e 'const o = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
process.exit(('"$2"') ? 0 : 1)' "$1" 2>/dev/null
}
# run NAME WANT-RC CMD...: runs the CLI; stdout in $work/NAME.out, stderr in NAME.err.
run() {
    name=$1 want=$2
    shift 2
    timeout 60 "$ck" "$@" >"$work/$name.out" 2>"$work/$name.err"
    rc=$?
    if [ "$rc" = "$want" ]; then ok "$name (exit $rc)"
    else fail "$name: exit $rc, want $want"; sed 's/^/    /' "$work/$name.err" "$work/$name.out" >&2; fi
}
expect() { # NAME DESCRIPTION JS
    if jcheck "$work/$1.out" "$3"; then ok "$1: $2"; else fail "$1: $2"; sed 's/^/    /' "$work/$1.out" >&2; fi
}
grep_err() { # NAME PATTERN
    if grep -q -- "$2" "$work/$1.err"; then ok "$1: stderr has '$2'"; else fail "$1: stderr lacks '$2'"; sed 's/^/    /' "$work/$1.err" >&2; fi
}
out_is() { # NAME VALUE
    if [ "$(cat "$work/$1.out")" = "$2" ]; then ok "$1: output is '$2'"; else fail "$1: output '$(cat "$work/$1.out")', want '$2'"; fi
}
same() { # NAME FILE-A FILE-B
    if cmp -s "$2" "$3"; then ok "$1: identical byte for byte"; else fail "$1: $2 and $3 differ"; fi
}

[ -x "$ck" ] || die "no $ck"
[ -x "$ckd" ] || die "no $ckd"
command -v node >/dev/null || { echo "SKIP: node is needed to check JSON"; exit 77; }

mkdir -p "$data"
timeout -s TERM 300 "$ckd" --data "$data" --listen 127.0.0.1 --port 0 --mi-port 0 --blob-port 0 \
    --vault-ports 0-0 </dev/null 2>"$work/daemon.log" >&2 &
pid=$!
i=0
while [ ! -s "$data/endpoints.json" ]; do
    kill -0 "$pid" 2>/dev/null || { pid=""; die "crosskeyd exited during start-up"; }
    [ $i -lt 600 ] || die "no endpoints.json after 60 s"
    sleep 0.1; i=$((i + 1))
done

run tenant 0 --data "$data" tenant create --display-name isv
T=$(jget "$work/tenant.out" tenantId); C=$(jget "$work/tenant.out" clientId); P=$(jget "$work/tenant.out" clientSecret)
[ -n "$T" ] && [ -n "$P" ] || die "tenant create gave no credentials"
run login 0 login --service-principal -u "$C" -p "$P" --tenant "$T" --data "$data" -o none
run rg 0 group create -n blobrg -l eastus -o none
run acct 0 storage account create -n blobacct -g blobrg --sku Standard_LRS --kind StorageV2 -o none
A="--account-name blobacct"

# ---- containers ----
# shellcheck disable=SC2086
run c_create 0 storage container create -n data $A
expect c_create "created" "o.created === true"
# shellcheck disable=SC2086
run c_again 0 storage container create -n data $A
expect c_again "an existing container: created false (az)" "o.created === false"
# shellcheck disable=SC2086
run c_failexist 1 storage container create -n data $A --fail-on-exist
grep_err c_failexist "(ContainerAlreadyExists)"
# shellcheck disable=SC2086
run c_other 0 storage container create -n other $A --metadata owner=e2e
# shellcheck disable=SC2086
run c_list 0 storage container list $A
expect c_list "both containers, az's shape" "o.length === 2 && o.map(c => c.name).join() === 'data,other' && o[0].properties.lease.status === 'unlocked' && /\+00:00\$/.test(o[0].properties.lastModified)"
# shellcheck disable=SC2086
run c_list_prefix 0 storage container list $A --prefix oth --include-metadata
expect c_list_prefix "prefix and metadata" "o.length === 1 && o[0].name === 'other' && o[0].metadata.owner === 'e2e'"
# shellcheck disable=SC2086
run c_show 0 storage container show -n other $A
expect c_show "container properties and metadata" "o.name === 'other' && o.metadata.owner === 'e2e' && typeof o.properties.etag === 'string'"
# shellcheck disable=SC2086
run c_table 0 storage container list $A -o table
grep -q "^data " "$work/c_table.out" && ok "container list -o table" || fail "container table: $(cat "$work/c_table.out")"

# ---- small blob: one Put Blob ----
printf 'hello, customer-managed world\n' >"$work/small.txt"
# shellcheck disable=SC2086
run up_small 0 storage blob upload $A -c data -f "$work/small.txt" -n docs/small.txt --metadata a=1 a_b=2 a0=3
expect up_small "upload result as az prints it" "o.request_server_encrypted === true && /^\"/.test(o.etag) && typeof o.lastModified === 'string'"
# shellcheck disable=SC2086
run up_small_again 1 storage blob upload $A -c data -f "$work/small.txt" -n docs/small.txt
grep_err up_small_again "(BlobAlreadyExists)"
grep_err up_small_again "Pass --overwrite"
# shellcheck disable=SC2086
run up_small_over 0 storage blob upload $A -c data -f "$work/small.txt" -n docs/small.txt --overwrite \
    --content-type text/x-test --metadata a=1 a_b=2 a0=3
# shellcheck disable=SC2086
run down_small 0 storage blob download $A -c data -n docs/small.txt -f "$work/small.out"
same down_small "$work/small.txt" "$work/small.out"
expect down_small "download prints the blob" "o.name === 'docs/small.txt' && o.properties.contentLength === 30 && o.properties.contentSettings.contentType === 'text/x-test'"
# shellcheck disable=SC2086
run show_small 0 storage blob show $A -c data -n docs/small.txt
expect show_small "properties and metadata (Shared Key signed x-ms-meta-a, -a_b, -a0 in the SDK order)" "o.properties.contentLength === 30 && o.properties.blobType === 'BlockBlob' && o.properties.serverEncrypted === true && o.metadata.a === '1' && o.metadata.a_b === '2' && o.metadata.a0 === '3' && o.properties.contentSettings.contentType === 'text/x-test'"

# ---- 10 MiB: Put Block + Put Block List, downloaded in ranges ----
head -c 10485760 /dev/urandom >"$work/big.bin"
# shellcheck disable=SC2086
run up_big 0 storage blob upload $A -c data -f "$work/big.bin" -n bulk/big.bin
if [ -s "$work/up_big.err" ]; then fail "up_big: stderr not empty without a terminal or --progress"; sed 's/^/    /' "$work/up_big.err" >&2
else ok "up_big: no progress bar when stderr is not a terminal"; fi
# shellcheck disable=SC2086
run up_big_again 1 storage blob upload $A -c data -f "$work/big.bin" -n bulk/big.bin
grep_err up_big_again "(BlobAlreadyExists)"
# shellcheck disable=SC2086
run up_big_over 0 storage blob upload $A -c data -f "$work/big.bin" -n bulk/big.bin --overwrite --progress -o json
grep_err up_big_over "Uploading \[##############################\] 100%"
expect up_big_over "stdout stays one JSON document with --progress" "o.request_server_encrypted === true"
# shellcheck disable=SC2086
run down_big 0 storage blob download $A -c data -n bulk/big.bin -f "$work/big.out" --progress
same down_big "$work/big.bin" "$work/big.out"
grep_err down_big "Downloading \[##############################\] 100%"
expect down_big "size 10 MiB" "o.properties.contentLength === 10485760"
# shellcheck disable=SC2086
run list_blocks 0 storage blob list $A -c data --prefix bulk/ --query "[].properties.contentLength" -o tsv
out_is list_blocks 10485760
# An empty file (a blob with no range to read).
: >"$work/empty.bin"
# shellcheck disable=SC2086
run up_empty 0 storage blob upload $A -c data -f "$work/empty.bin" -n docs/empty.bin
# shellcheck disable=SC2086
run down_empty 0 storage blob download $A -c data -n docs/empty.bin -f "$work/empty.out"
same down_empty "$work/empty.bin" "$work/empty.out"

# ---- listings ----
# shellcheck disable=SC2086
run list_all 0 storage blob list $A -c data
expect list_all "every blob, az's shape" "o.map(b => b.name).join() === 'bulk/big.bin,docs/empty.bin,docs/small.txt' && o[2].properties.contentSettings.contentType === 'text/x-test' && o[0].properties.blobType === 'BlockBlob' && o[0].metadata === null"
# shellcheck disable=SC2086
run list_prefix 0 storage blob list $A -c data --prefix docs/ --include m
expect list_prefix "prefix and metadata" "o.length === 2 && o[1].name === 'docs/small.txt' && o[1].metadata.a_b === '2'"
# shellcheck disable=SC2086
run list_num 0 storage blob list $A -c data --num-results 1 --query "[].name" -o tsv
out_is list_num "bulk/big.bin"
grep_err list_num "Next Marker"
# shellcheck disable=SC2086
run list_table 0 storage blob list $A -c data -o table
grep -q "docs/small.txt .*BlockBlob" "$work/list_table.out" && ok "blob list -o table" || fail "blob table: $(cat "$work/list_table.out")"

# ---- --auth-mode login: a data role is needed ----
# shellcheck disable=SC2086
run login_norole 1 storage blob list $A -c data --auth-mode login
grep_err login_norole "(AuthorizationPermissionMismatch)"
grep_err login_norole "Storage Blob Data Contributor"
run me 0 ad sp show --id "$C" --query id -o tsv
run acct_id 0 storage account show -n blobacct --query id -o tsv
grep_err login_norole "$(cat "$work/acct_id.out")"
run grant 0 role assignment create --role "Storage Blob Data Contributor" --scope "$(cat "$work/acct_id.out")" \
    --assignee-object-id "$(cat "$work/me.out")" -o none
# shellcheck disable=SC2086
run login_up 0 storage blob upload $A -c data -f "$work/big.bin" -n login/big.bin --auth-mode login
# shellcheck disable=SC2086
run login_down 0 storage blob download $A -c data -n login/big.bin -f "$work/login.out" --auth-mode login
same login_down "$work/big.bin" "$work/login.out"
# shellcheck disable=SC2086
run login_list 0 storage blob list $A -c data --prefix login/ --auth-mode login --query "[].name" -o tsv
out_is login_list "login/big.bin"
# shellcheck disable=SC2086
run login_c 0 storage container create -n viatoken $A --auth-mode login --query created -o tsv
out_is login_c "True"

# ---- --account-key ----
# shellcheck disable=SC2086
run keys 0 storage account keys list -n blobacct --query "[0].value" -o tsv
# shellcheck disable=SC2086
run key_given 0 storage blob show $A -c data -n docs/small.txt --account-key "$(cat "$work/keys.out")" \
    --query properties.contentLength -o tsv
out_is key_given 30

# ---- refusals ----
# shellcheck disable=SC2086
run no_container 3 storage blob upload $A -c nosuch -f "$work/small.txt"
grep_err no_container "(ContainerNotFound)"
grep_err no_container "crosskey storage container create -n nosuch --account-name blobacct"
# shellcheck disable=SC2086
run no_container_big 3 storage blob upload $A -c nosuch -f "$work/big.bin"
grep_err no_container_big "(ContainerNotFound)"
# shellcheck disable=SC2086
run no_container_list 3 storage blob list $A -c nosuch
grep_err no_container_list "(ContainerNotFound)"
# shellcheck disable=SC2086
run no_blob 3 storage blob show $A -c data -n nosuch.txt
grep_err no_blob "(BlobNotFound)"
# shellcheck disable=SC2086
run no_blob_down 3 storage blob download $A -c data -n nosuch.txt -f "$work/nosuch.out"
[ -e "$work/nosuch.out" ] && fail "a failed download left $work/nosuch.out" || ok "a failed download writes no file"
ls "$work"/nosuch.out.crosskey-* >/dev/null 2>&1 && fail "a failed download left its temporary file" || ok "no temporary file left"
WRONG=$(head -c 64 /dev/urandom | base64 | tr -d '\n')
# shellcheck disable=SC2086
run wrong_key 1 storage blob list $A -c data --account-key "$WRONG"
grep_err wrong_key "(AuthenticationFailed) the account key was refused"
grep_err wrong_key "the key is wrong or was regenerated"
# shellcheck disable=SC2086
run wrong_key_up 1 storage blob upload $A -c data -f "$work/small.txt" -n x.txt --account-key "$WRONG"
grep_err wrong_key_up "(AuthenticationFailed)"
# shellcheck disable=SC2086
run bad_mode 2 storage blob list $A -c data --auth-mode token
grep_err bad_mode "invalid choice: 'token'"
run no_account 3 storage blob list --account-name nosuchacct -c data
grep_err no_account "(ResourceNotFound)"
run no_file 1 storage blob upload $A -c data -f "$work/does-not-exist"
grep_err no_file "cannot read the file"
# shellcheck disable=SC2086
run bad_meta 2 storage blob upload $A -c data -f "$work/small.txt" --metadata "bad-name=1"
run help_upload 0 storage blob upload --help
grep -q -- "--auth-mode" "$work/help_upload.out" && ok "upload --help lists --auth-mode" || fail "upload --help"

# ---- deletes ----
# shellcheck disable=SC2086
run del_blob 0 storage blob delete $A -c data -n docs/small.txt
# shellcheck disable=SC2086
run del_blob_again 3 storage blob delete $A -c data -n docs/small.txt
grep_err del_blob_again "(BlobNotFound)"
# shellcheck disable=SC2086
run after_del 0 storage blob list $A -c data --prefix docs/ --query "[].name" -o tsv
out_is after_del "docs/empty.bin"
# shellcheck disable=SC2086
run c_delete 0 storage container delete -n other $A
expect c_delete "deleted" "o.deleted === true"
# shellcheck disable=SC2086
run c_delete_again 0 storage container delete -n other $A
expect c_delete_again "a missing container: deleted false (az)" "o.deleted === false"
# shellcheck disable=SC2086
run c_delete_fail 3 storage container delete -n other $A --fail-not-exist
grep_err c_delete_fail "(ContainerNotFound)"
# shellcheck disable=SC2086
run c_list_after 0 storage container list $A --query "[].name" -o tsv
out_is c_list_after "$(printf 'data\nviatoken')"

# No secret, account key or token in any output but the ones that print them on purpose.
KEY=$(cat "$work/keys.out")
for f in "$work"/*.err "$work"/*.out "$work/daemon.log"; do
    case "$f" in */tenant.out | */keys.out) continue ;; esac
    if grep -q -F -e "$P" -e "$KEY" "$f" || grep -q "eyJ[A-Za-z0-9_-]*\.eyJ" "$f"; then fail "secret, key or token in $(basename "$f")"; fi
done

kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; pid=""
if grep -E 'ERROR: AddressSanitizer|runtime error:' "$work/daemon.log" "$work"/*.err >&2 ||
    grep 'ERROR: LeakSanitizer' "$work"/*.err >&2; then fail "sanitizer report (above)"
else ok "no sanitizer report in the daemon log, nor a leak in the CLI"; fi

if [ "$fails" -gt 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all CLI blob checks passed"
