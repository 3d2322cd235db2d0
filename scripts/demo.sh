#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The whole attested key-delivery flow on one machine, with the four
# binaries as separate processes over loopback TCP and unix sockets:
#
#   enclave-agent (emulated NSM) --unix--> host-proxy egress --tcp--> tap --tcp--> kms-server (HTTPS)
#   ekdemo fetch-attestation --tcp--> host-proxy ingress --unix--> enclave-agent serve
#
# The agent talks HTTPS to kms-server (the development CA of kms-server
# init, --kms-ca). The tap stands where the parent instance stands and
# relays the bytes, logging what it could read of each connection: TLS
# records only.
#
# Needs only Go. Run it with `make demo` (which builds ./bin first).
# Environment: BIN (default bin), GO (default go), KEEP=1 keeps the work
# directory (logs, documents, audit log) after the run.

set -euo pipefail

cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
GO=${GO:-go}
REGION=us-east-1
ACCOUNT=111122223333
ENCLAVE_ROLE=arn:aws:iam::$ACCOUNT:role/enclave-demo

# The emulated enclave images. On a real host these come from
# `nitro-cli build-enclave` / `nitro-cli describe-eif` (Measurements).
PCR0_A=8f0d145c0368ad6b70be22e41c400eea91b971d96ba220fec9fae25a58dffdaaf72dbe8f6783d55128c9df4efaf6f8a7
PCR1_A=4b4d5b3661b3efc12920900c80e126e4ce783c522de6c02a2a5bf7af3a2b9327b86776f188e4be1c1c404a129dbda493
PCR2_A=97e4ab86d4ac6f0c9ca2b4d4f1e0b43f7e7c5f3b52e2d5fc1b3b9a0d7d6ad44b2a8a5c3a4f9a0a1e0c3f4b5a6d7e8f90
PCR0_B=b1c16eb7634112b7c9d5ebd27e62a2d4528bbfcfd68b62d3afd9ecf98e0f413a84314acce78317fb69fd895155343e09

WORK=$(mktemp -d "${TMPDIR:-/tmp}/enclavekit-demo.XXXXXX")
PIDS=()

cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	local pid
	for pid in "${PIDS[@]}"; do
		kill -TERM "$pid" 2>/dev/null || true
	done
	for pid in "${PIDS[@]}"; do
		wait "$pid" 2>/dev/null || true
	done
	if [ "${KEEP:-}" = 1 ]; then
		echo "work directory kept: $WORK"
	else
		rm -rf "$WORK"
	fi
	if [ "$rc" != 0 ]; then
		echo "demo: FAILED (exit $rc)" >&2
	fi
	exit "$rc"
}
trap cleanup EXIT
trap 'echo; echo "demo: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

if [ -t 1 ]; then BOLD=$'\033[1m' PLAIN=$'\033[0m'; else BOLD= PLAIN=; fi
step() { printf '\n%s== %s%s\n' "$BOLD" "$*" "$PLAIN"; }
say() { printf '   %s\n' "$*"; }
fail() {
	echo "demo: error: $*" >&2
	exit 1
}

# start NAME CMD...: run CMD in the background, output to $WORK/NAME.log.
# CMD is one of our binaries, exec'd directly (no subshell, no children of
# its own), so its PID is all there is to stop.
start() {
	local name=$1
	shift
	"$@" >"$WORK/$name.log" 2>&1 &
	PIDS+=($!)
	eval "PID_${name//-/_}=$!"
}

# wait_for NAME PATTERN: wait (10 s at most) until NAME's log matches
# PATTERN; fail with the log if the process exits first.
wait_for() {
	local name=$1 pattern=$2 pidvar="PID_${1//-/_}" i
	for i in $(seq 1 200); do
		if grep -Eq -- "$pattern" "$WORK/$name.log" 2>/dev/null; then
			return 0
		fi
		if ! kill -0 "${!pidvar}" 2>/dev/null; then
			cat "$WORK/$name.log" >&2
			fail "$name exited before it was ready"
		fi
		sleep 0.05
	done
	cat "$WORK/$name.log" >&2
	fail "$name not ready after 10 s"
}

# wait_file FILE: wait (10 s at most) for FILE to exist and be non-empty.
wait_file() {
	local i
	for i in $(seq 1 200); do
		[ -s "$1" ] && return 0
		sleep 0.05
	done
	fail "$1 did not appear"
}

random_hex() { od -An -tx1 -N"$1" /dev/urandom | tr -d ' \n'; }

step "0. Build"
for b in enclave-agent host-proxy kms-server nitro-verify; do
	[ -x "$BIN/$b" ] || "$GO" build -trimpath -o "$BIN/" ./cmd/enclave-agent ./cmd/host-proxy ./cmd/kms-server ./cmd/nitro-verify
done
"$GO" build -o "$WORK/ekdemo" ./internal/demo/cmd/ekdemo
say "binaries in $BIN/, helper (key administrator, tap) in $WORK/ekdemo"
say "work directory: $WORK"
export PATH="$(cd "$BIN" && pwd):$WORK:$PATH"
START=$(date +%s)

step "1. Start kms-server, host-proxy and the enclave agent"
# The emulator's root CA, kept in the enclave's state directory. kms-server
# trusts it only because its configuration says so (development only).
mkdir -m 700 "$WORK/enclave-a" "$WORK/enclave-b"
enclave-agent emulator-root --emulator-state "$WORK/enclave-a" --out "$WORK/emulator-root.pem" 2>/dev/null
cp "$WORK/enclave-a/root.pem" "$WORK/enclave-a/root.key" "$WORK/enclave-b/" # same emulated hardware

# kms-server: a fresh key store from `kms-server init`; its starter access
# key becomes the administrator; the enclave role gets its own access key.
kms-server init --dir "$WORK/kms" >/dev/null 2>&1
ADMIN_ID=$(sed -n 's/^  - id: //p' "$WORK/kms/kms-server.yaml" | head -n1)
ADMIN_SECRET=$(sed -n 's/^    secret: //p' "$WORK/kms/kms-server.yaml" | head -n1)
ADMIN_ARN=$(sed -n 's/^    principal: //p' "$WORK/kms/kms-server.yaml" | head -n1)
[ -n "$ADMIN_ID" ] && [ -n "$ADMIN_SECRET" ] && [ -n "$ADMIN_ARN" ] || fail "cannot read the access key that kms-server init wrote"
ROLE_ID=AKIA$(random_hex 8 | tr 'a-f' 'A-F')
ROLE_SECRET=$(random_hex 20)
cat >"$WORK/kms/kms-server.yaml" <<EOF
listen: 127.0.0.1:0
metrics_listen: "off"
region: $REGION
account_id: "$ACCOUNT"
key_store_dir: keys
root_key_file: root.key
access_keys:
  - {id: $ADMIN_ID, secret: $ADMIN_SECRET, principal: "$ADMIN_ARN", policy: {Version: "2012-10-17", Statement: [{Effect: Allow, Action: "kms:*", Resource: "*"}]}}
  # The enclave role's credentials sit on the parent: data keys, Decrypt and
  # GenerateRandom only, and only with an attestation document.
  - id: $ROLE_ID
    secret: $ROLE_SECRET
    principal: "$ENCLAVE_ROLE"
    policy:
      Version: "2012-10-17"
      Statement:
        - {Effect: Allow, Action: [kms:GenerateDataKey, kms:Decrypt, kms:GenerateRandom], Resource: "*"}
        - {Effect: Deny, Action: "kms:*", Resource: "*", Condition: {"Null": {"kms:RecipientAttestation:ImageSha384": "true"}}}
attestation:
  roots: [../emulator-root.pem] # the emulator's root: development only
  max_age: 5m
  allow_debug_unsafe: false
tls: {cert: tls-cert.pem, key: tls-key.pem} # init's development certificate (127.0.0.1, localhost)
audit_log: audit.jsonl
EOF
chmod 600 "$WORK/kms/kms-server.yaml"
start kms-server kms-server --config "$WORK/kms/kms-server.yaml"
wait_for kms-server '"msg":"serving KMS"'
KMS_ADDR=$(sed -n 's/.*"msg":"serving KMS","addr":"\([^"]*\)".*/\1/p' "$WORK/kms-server.log" | head -1)
[ -n "$KMS_ADDR" ] || fail "no kms-server address in its log"
say "kms-server     https://$KMS_ADDR   (key store $WORK/kms/keys, emulator root trusted, development CA $WORK/kms/tls-ca.pem)"

# The key administrator creates the key, pinned to image A's PCR0.
KEY_ID=$(AWS_ACCESS_KEY_ID=$ADMIN_ID AWS_SECRET_ACCESS_KEY=$ADMIN_SECRET AWS_REGION=$REGION \
	ekdemo create-key --endpoint "https://$KMS_ADDR" --ca "$WORK/kms/tls-ca.pem" --image-sha384 "$PCR0_A" \
	--admin-arn "$ADMIN_ARN" --enclave-arn "$ENCLAVE_ROLE" --alias alias/demo --policy-out "$WORK/key-policy.json")
say "key            $KEY_ID (alias/demo), created by $ADMIN_ARN through the KMS API"
say "key policy     $ENCLAVE_ROLE may GenerateDataKey/Decrypt only if"
say "               kms:RecipientAttestation:ImageSha384 = ${PCR0_A:0:16}… (image A's PCR0)"

# The tap: where the parent instance relays the traffic (bytes, as the
# parent does).
start tap ekdemo tap --listen tcp://127.0.0.1:0 --to "tcp://$KMS_ADDR" --log "$WORK/tap.jsonl" --addr-file "$WORK/tap.addr"
wait_file "$WORK/tap.addr"
TAP_ADDR=$(cat "$WORK/tap.addr")

# host-proxy: egress (enclave -> KMS), ingress (host -> the agent's
# attestation endpoint), and the credentials route (enclave role, from a
# file: the development stand-in for the instance role through IMDS).
umask 077
cat >"$WORK/enclave-role.json" <<EOF
{"AccessKeyId": "$ROLE_ID", "SecretAccessKey": "$ROLE_SECRET"}
EOF
umask 022
cat >"$WORK/host-proxy.yaml" <<EOF
allowlist:
  - {address: 127.0.0.1, port: ${TAP_ADDR##*:}}
routes:
  - name: kms
    direction: egress
    listen: unix://$WORK/kms-egress.sock
    destination: tcp://$TAP_ADDR
  - name: attestation
    direction: ingress
    listen: tcp://127.0.0.1:0
    destination: unix://$WORK/enclave-a/agent.sock
credentials:
  listen: unix://$WORK/credentials.sock
  source: file
  file: $WORK/enclave-role.json
EOF
start host-proxy host-proxy --config "$WORK/host-proxy.yaml"
wait_for host-proxy 'credentials route ready'
wait_for host-proxy 'route=attestation'
INGRESS=$(sed -n 's/.*route=attestation .*listen=\([^ ]*\).*/\1/p' "$WORK/host-proxy.log" | head -1)
INGRESS=${INGRESS#tcp://} # host-proxy logs listen addresses as tcp://HOST:PORT
[ -n "$INGRESS" ] || fail "no ingress address in host-proxy's log"
say "host-proxy     egress  unix://$WORK/kms-egress.sock -> tcp://$TAP_ADDR (tap) -> kms-server"
say "               ingress tcp://$INGRESS -> unix://$WORK/enclave-a/agent.sock"
say "               credentials unix://$WORK/credentials.sock (enclave role; never on a command line)"

# Enclave A: image A's measurements, in nitro-cli describe-eif's format.
cat >"$WORK/image-a.json" <<EOF
{"Measurements": {"HashAlgorithm": "Sha384 { ... }", "PCR0": "$PCR0_A", "PCR1": "$PCR1_A", "PCR2": "$PCR2_A"}}
EOF
AGENT_A=(enclave-agent --nsm emulator --emulator-state "$WORK/enclave-a" --image-measurements "$WORK/image-a.json"
	--region "$REGION" --kms-endpoint https://localhost --kms-ca "$WORK/kms/tls-ca.pem" --proxy "unix://$WORK/kms-egress.sock"
	--credentials-endpoint "unix://$WORK/credentials.sock" --kms-account "$ACCOUNT")
start agent-a "${AGENT_A[@]}" serve --listen "unix://$WORK/enclave-a/agent.sock"
wait_for agent-a 'attestation endpoint listening'
say "enclave-agent  image A (PCR0 ${PCR0_A:0:16}…), emulated NSM, serving unix://$WORK/enclave-a/agent.sock"

step "2. A verifier fetches the enclave's attestation document through host-proxy and verifies it"
NONCE=$(random_hex 16)
ekdemo fetch-attestation --url "http://$INGRESS/v1/attestation" --nonce "$NONCE" --out "$WORK/attestation.cbor" 2>&1 | sed 's/^/   /'
say "\$ nitro-verify --root emulator-root.pem --pcr 0=${PCR0_A:0:16}… --nonce $NONCE --max-age 1m attestation.cbor"
nitro-verify --root "$WORK/emulator-root.pem" --pcr "0=$PCR0_A" --nonce "$NONCE" --max-age 1m \
	"$WORK/attestation.cbor" >"$WORK/nitro-verify.out" 2>&1 || { cat "$WORK/nitro-verify.out" >&2; fail "nitro-verify rejected the document"; }
sed 's/^/   | /' "$WORK/nitro-verify.out"
say "verified: signed through the emulator's AWS-shaped chain, PCR0 is image A's, our nonce is in it"

step "3. The enclave asks for a data key: GenerateDataKey with Recipient"
"${AGENT_A[@]}" genkey --key-id alias/demo --format raw \
	--out "$WORK/enclave-a/datakey.bin" --ciphertext-out "$WORK/datakey.blob" 2>"$WORK/genkey.log" ||
	{ cat "$WORK/genkey.log" >&2; fail "genkey failed"; }
say "what the parent instance saw pass through (the tap's log of that connection):"
tail -1 "$WORK/tap.jsonl" | sed 's/^/   | /'
tail -1 "$WORK/tap.jsonl" | grep -q '"tls":true,.*"readable":null' || fail "the parent could read the KMS exchange"
say "TLS records only: no request, no response, no key readable"
AUDIT=$(grep '"operation":"GenerateDataKey"' "$WORK/kms/audit.jsonl" | tail -1)
say "kms-server's audit log: $(printf '%s' "$AUDIT" | grep -o '"decision":"[^"]*"'), Recipient with"
say "  $(printf '%s' "$AUDIT" | grep -o '"attestationDocumentEnclaveImageDigest":"[^"]*"')"
case "$AUDIT" in *'"decision":"allow"'*'"attestationDocumentEnclaveImageDigest":"'"$PCR0_A"'"'*) ;; *) fail "no Recipient GenerateDataKey for image A in the audit log" ;; esac
say "kms-server answers a Recipient request with CiphertextForRecipient, never Plaintext: even inside TLS"
say "the data key travelled encrypted to the enclave's ephemeral RSA key"

step "4. The enclave opens CiphertextForRecipient with its private key"
FP1=$(ekdemo fingerprint "$WORK/enclave-a/datakey.bin")
say "data key inside the enclave: $FP1"
say "(a fingerprint, never the key; the ciphertext blob is kept outside: $(wc -c <"$WORK/datakey.blob" | tr -d ' ') bytes)"

step "5. Later, the enclave decrypts the stored CiphertextBlob: Decrypt with Recipient"
# The key is named by its ARN, as the enclave's configuration would name it:
# the blob is stored outside, where the parent could swap it for one of its own.
KEY_ARN="arn:aws:kms:$REGION:$ACCOUNT:key/$KEY_ID"
"${AGENT_A[@]}" decrypt --key-id "$KEY_ARN" --ciphertext-file "$WORK/datakey.blob" --format raw \
	--out "$WORK/enclave-a/datakey-again.bin" 2>"$WORK/decrypt.log" ||
	{ cat "$WORK/decrypt.log" >&2; fail "decrypt failed"; }
tail -1 "$WORK/tap.jsonl" | grep -q '"tls":true,.*"readable":null' || fail "the parent could read the Decrypt exchange"
grep '"operation":"Decrypt"' "$WORK/kms/audit.jsonl" | tail -1 | grep -q '"decision":"allow".*"attestationDocumentEnclaveImageDigest":"'"$PCR0_A"'"' ||
	fail "no Recipient Decrypt for image A in the audit log"
say "the parent relayed TLS records only; kms-server answered with CiphertextForRecipient"
FP2=$(ekdemo fingerprint "$WORK/enclave-a/datakey-again.bin")
say "data key after Decrypt:      $FP2"
[ "$FP1" = "$FP2" ] || fail "Decrypt gave a different key"
say "same key: delivered twice, never in the clear outside the enclave"

step "6. Another enclave image asks for the same key and is denied"
AGENT_B=(enclave-agent --nsm emulator --emulator-state "$WORK/enclave-b" --pcr0 "$PCR0_B"
	--region "$REGION" --kms-endpoint https://localhost --kms-ca "$WORK/kms/tls-ca.pem" --proxy "unix://$WORK/kms-egress.sock"
	--credentials-endpoint "unix://$WORK/credentials.sock" --kms-account "$ACCOUNT")
say "enclave-agent  image B (PCR0 ${PCR0_B:0:16}…), same role, same credentials, same emulated hardware"
set +e
"${AGENT_B[@]}" genkey --key-id alias/demo --format raw --out "$WORK/enclave-b/datakey.bin" \
	--ciphertext-out "$WORK/enclave-b/datakey.blob" 2>"$WORK/genkey-b.log"
RC=$?
set -e
[ "$RC" = 1 ] || { cat "$WORK/genkey-b.log" >&2; fail "image B's genkey exited $RC, want 1 (denied)"; }
[ ! -e "$WORK/enclave-b/datakey.bin" ] || fail "image B got a key"
DENIAL=$(grep 'enclave-agent: error:' "$WORK/genkey-b.log")
say "enclave-agent exited 1:"
printf '%s\n' "$DENIAL" | fold -s -w 100 | sed 's/^/   | /'
for want in AccessDeniedException ImageSha384 "$PCR0_A" "$PCR0_B"; do
	case "$DENIAL" in *"$want"*) ;; *) fail "the denial does not name $want" ;; esac
done
AUDIT=$(grep '"decision":"deny"' "$WORK/kms/audit.jsonl" | tail -1) || fail "no denial in kms-server's audit log"
say "kms-server's audit log: $(printf '%s' "$AUDIT" | grep -o '"operation":"[^"]*"'),\
 $(printf '%s' "$AUDIT" | grep -o '"decision":"deny","errorCode":"[^"]*"'),"
say "  $(printf '%s' "$AUDIT" | grep -o '"attestationDocumentEnclaveImageDigest":"[^"]*"')"
say "denied: the message names ImageSha384 (PCR0), expected ${PCR0_A:0:16}… vs presented ${PCR0_B:0:16}…"

step "Done in $(($(date +%s) - START)) s after the build: key delivered to image A only."
