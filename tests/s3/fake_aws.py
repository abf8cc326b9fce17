#!/usr/bin/env python3
"""Fake AWS credential endpoints on loopback for the credential-chain tests.

    fake_aws.py sts TOKEN EXPIRES_IN_S
    fake_aws.py container TOKEN EXPIRES_IN_S

Prints the port it listens on (127.0.0.1), then serves until killed.

sts: POST / with an AssumeRoleWithWebIdentity form (Action, Version,
RoleArn, RoleSessionName, WebIdentityToken). WebIdentityToken must equal
TOKEN, else 400 with the STS <ErrorResponse> InvalidIdentityToken. The
answer is the documented AssumeRoleWithWebIdentityResponse document, with
AccessKeyId ASIAFAKESTS000N (N counts the calls) and an Expiration
EXPIRES_IN_S seconds from now.

container: GET any path with "Authorization: TOKEN", else 401/403 JSON.
The answer is the documented container-credentials JSON with AccessKeyId
ASIAFAKECTR000N; with FAKE_AWS_KEY and FAKE_AWS_SECRET in the environment
it hands out those keys instead, without a Token (so a real test server
accepts them). Each answer is logged on stderr ("issued N").
"""
import datetime
import http.server
import json
import os
import sys
import urllib.parse

MODE, TOKEN, EXPIRES = sys.argv[1], sys.argv[2], int(sys.argv[3])
CALLS = 0

STS_OK = """<AssumeRoleWithWebIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <AssumeRoleWithWebIdentityResult>
    <SubjectFromWebIdentityToken>system:serviceaccount:ns:netvol</SubjectFromWebIdentityToken>
    <Audience>sts.amazonaws.com</Audience>
    <AssumedRoleUser>
      <Arn>arn:aws:sts::123456789012:assumed-role/netvol/{session}</Arn>
      <AssumedRoleId>AROACLKWSDQRAOEXAMPLE:{session}</AssumedRoleId>
    </AssumedRoleUser>
    <Credentials>
      <SessionToken>FAKESESSIONTOKEN{n:04d}+/=</SessionToken>
      <SecretAccessKey>fakeStsSecretKey{n:04d}/EXAMPLEKEY</SecretAccessKey>
      <Expiration>{exp}</Expiration>
      <AccessKeyId>ASIAFAKESTS{n:04d}</AccessKeyId>
    </Credentials>
    <Provider>arn:aws:iam::123456789012:oidc-provider/oidc.eks.example</Provider>
  </AssumeRoleWithWebIdentityResult>
  <ResponseMetadata>
    <RequestId>ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId>
  </ResponseMetadata>
</AssumeRoleWithWebIdentityResponse>
"""

STS_ERR = """<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <Error>
    <Type>Sender</Type>
    <Code>{code}</Code>
    <Message>{msg}</Message>
  </Error>
  <RequestId>c0ffee00-0000-0000-0000-fakefakefake</RequestId>
</ErrorResponse>
"""


def expiration():
    t = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=EXPIRES)
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, body, ctype):
        b = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_POST(self):
        global CALLS
        n = int(self.headers.get("Content-Length", "0"))
        form = urllib.parse.parse_qs(self.rfile.read(n).decode(), keep_blank_values=True)
        if MODE != "sts":
            return self.answer(405, "", "text/plain")
        get = lambda k: form.get(k, [""])[0]
        if get("Action") != "AssumeRoleWithWebIdentity" or get("Version") != "2011-06-15" \
                or not get("RoleArn").startswith("arn:") or not get("RoleSessionName"):
            return self.answer(400, STS_ERR.format(code="InvalidParameterValue",
                                                   msg="bad request"), "text/xml")
        if get("WebIdentityToken") != TOKEN:
            return self.answer(400, STS_ERR.format(code="InvalidIdentityToken",
                                                   msg="token rejected"), "text/xml")
        CALLS += 1
        self.answer(200, STS_OK.format(n=CALLS, exp=expiration(),
                                       session=get("RoleSessionName")), "text/xml")

    def do_GET(self):
        global CALLS
        if MODE != "container":
            return self.answer(405, "", "text/plain")
        auth = self.headers.get("Authorization")
        if auth is None:
            return self.answer(401, json.dumps({"code": "Unauthorized"}), "application/json")
        if auth != TOKEN:
            return self.answer(403, json.dumps({"code": "AccessDenied"}), "application/json")
        CALLS += 1
        body = {"AccessKeyId": "ASIAFAKECTR%04d" % CALLS,
                "SecretAccessKey": "fakeCtrSecretKey%04d/EXAMPLEKEY" % CALLS,
                "Token": "FAKECONTAINERTOKEN%04d" % CALLS,
                "AccountId": "123456789012",
                "Expiration": expiration()}
        if os.environ.get("FAKE_AWS_KEY"):
            body["AccessKeyId"] = os.environ["FAKE_AWS_KEY"]
            body["SecretAccessKey"] = os.environ["FAKE_AWS_SECRET"]
            del body["Token"]
        print("issued %d" % CALLS, file=sys.stderr, flush=True)
        self.answer(200, json.dumps(body), "application/json")


srv = http.server.HTTPServer(("127.0.0.1", 0), H)
print(srv.server_address[1], flush=True)
try:
    srv.serve_forever()
except KeyboardInterrupt:
    pass
