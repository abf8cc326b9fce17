#!/bin/sh
# s3:// stores through the CLI without a server: configuration problems are
# exit 2 at open time with a clear message; an unreachable endpoint is
# exit 1 after the retries; secrets never reach the output.
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/pod/venv"
echo x >"$T/pod/venv/f"
# a clean environment: no AWS variable from the caller
run() {
	env -u AWS_ACCESS_KEY_ID -u AWS_SECRET_ACCESS_KEY -u AWS_SESSION_TOKEN \
		-u AWS_WEB_IDENTITY_TOKEN_FILE -u AWS_ROLE_ARN -u AWS_ENDPOINT_URL \
		-u AWS_ENDPOINT_URL_S3 -u AWS_ENDPOINT_URL_STS -u AWS_CA_BUNDLE \
		-u AWS_CONTAINER_CREDENTIALS_FULL_URI -u AWS_CONTAINER_AUTHORIZATION_TOKEN \
		-u AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE \
		NETWORK_VOLUME="$T/pod" NETVOL_STORE=s3://nv-bucket/users/u1 POD_USER_NAME=u1 \
		NETVOL_DATASETS=venv "$@"
}

# no credentials anywhere
assert_exit 2 run "$NETVOL" sync
assert_contains "$OUT" "no AWS credentials"
assert_exit 2 run "$NETVOL" restore
assert_contains "$OUT" "no AWS credentials"

# IRSA with a missing token file
assert_exit 2 run AWS_WEB_IDENTITY_TOKEN_FILE="$T/nope" AWS_ROLE_ARN=arn:aws:iam::1:role/r \
	"$NETVOL" sync
assert_contains "$OUT" "AWS_WEB_IDENTITY_TOKEN_FILE"

# container credentials over plain http to a non-local host
assert_exit 2 run AWS_CONTAINER_CREDENTIALS_FULL_URI=http://creds.example.com/x "$NETVOL" sync
assert_contains "$OUT" "plain http"

# bad addressing style, bad endpoint
assert_exit 2 run AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=SecretOfTest123 \
	NETVOL_S3_ADDRESSING=sideways "$NETVOL" sync
assert_contains "$OUT" "NETVOL_S3_ADDRESSING"
assert_exit 2 run AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=SecretOfTest123 \
	AWS_ENDPOINT_URL_S3=ftp://127.0.0.1/ "$NETVOL" sync
assert_contains "$OUT" "want http or https"

# nothing listens: the dataset fails (exit 1) after AWS_MAX_ATTEMPTS tries
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
assert_exit 1 run AWS_ACCESS_KEY_ID=AKIDTEST AWS_SECRET_ACCESS_KEY=SecretOfTest123 \
	AWS_SESSION_TOKEN=SessionTokenOfTest AWS_ENDPOINT_URL_S3="http://127.0.0.1:$port" \
	AWS_MAX_ATTEMPTS=2 NETVOL_LOG_LEVEL=debug "$NETVOL" sync
assert_contains "$OUT" "after 2 attempts"
assert_contains "$OUT" "s3.retry"
assert_not_contains "$OUT" "SecretOfTest123"
assert_not_contains "$OUT" "SessionTokenOfTest"
assert_not_contains "$OUT" "Signature="
echo "t0300: ok"
