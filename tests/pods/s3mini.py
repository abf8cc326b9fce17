"""Just enough S3 (SigV4, path style) for the pod harness: create the test
bucket and list keys, independently of netvol's own client.

    python3 s3mini.py mkbucket BUCKET
    python3 s3mini.py ls BUCKET [PREFIX]      # one key per line
Reads AWS_ENDPOINT_URL_S3, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION.
"""
import datetime
import hashlib
import hmac
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET


def _sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def request(method, bucket, query=None, body=b""):
    ep = os.environ["AWS_ENDPOINT_URL_S3"].rstrip("/")
    ak, sk = os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]
    region = os.environ.get("AWS_REGION", "us-east-1")
    u = urllib.parse.urlsplit(ep)
    path = "/" + urllib.parse.quote(bucket)
    q = sorted((query or {}).items())
    cq = "&".join("%s=%s" % (urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~")) for k, v in q)
    now = datetime.datetime.now(datetime.timezone.utc)
    amz, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    ph = hashlib.sha256(body).hexdigest()
    headers = {"host": u.netloc, "x-amz-content-sha256": ph, "x-amz-date": amz}
    sh = ";".join(sorted(headers))
    creq = "\n".join([method, path, cq] + ["%s:%s" % (k, headers[k]) for k in sorted(headers)] + ["", sh, ph])
    scope = "%s/%s/s3/aws4_request" % (day, region)
    sts = "\n".join(["AWS4-HMAC-SHA256", amz, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = _sign(_sign(_sign(_sign(("AWS4" + sk).encode(), day), region), "s3"), "aws4_request")
    sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    headers["Authorization"] = "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (ak, scope, sh, sig)
    req = urllib.request.Request(ep + path + ("?" + cq if cq else ""), data=body if method == "PUT" else None,
                                 method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def mkbucket(bucket):
    try:
        request("PUT", bucket)
    except urllib.error.HTTPError as e:
        if e.code != 409:  # BucketAlreadyOwnedByYou
            raise


def ls(bucket, prefix=""):
    keys, token = [], None
    ns = "{http://s3.amazonaws.com/doc/2006-03-01/}"
    while True:
        q = {"list-type": "2", "prefix": prefix}
        if token:
            q["continuation-token"] = token
        root = ET.fromstring(request("GET", bucket, q))
        keys += [c.find(ns + "Key").text for c in root.findall(ns + "Contents")]
        t = root.find(ns + "NextContinuationToken")
        if t is None or not t.text:
            return keys
        token = t.text


if __name__ == "__main__":
    if sys.argv[1] == "mkbucket":
        mkbucket(sys.argv[2])
    elif sys.argv[1] == "ls":
        print("\n".join(ls(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")))
    else:
        sys.exit("usage: s3mini.py mkbucket BUCKET | ls BUCKET [PREFIX]")
