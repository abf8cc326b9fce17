/* AWS's published SigV4 examples (S3 API reference, "Signature Calculations
 * for the Authorization Header: Transferring Payload in a Single Chunk"),
 * reproduced byte for byte, plus URI-encoding edge cases. */
#include "testutil.h"

#include "base/mem.h"
#include "store/s3/sigv4.h"

#define AKID "AKIAIOSFODNN7EXAMPLE"
#define SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
#define HOST "examplebucket.s3.amazonaws.com"
#define EMPTY NV_SIGV4_EMPTY_SHA256
#define DATE "20130524T000000Z"

struct vec {
	char name[32];
	char method[8];
	char uri[64];
	char q[3][2][32];
	size_t nq;
	char h[6][2][80];
	size_t nh;
	char payload[80];
	char canonical[1024];
	char sts[512];
	char signed_headers[128];
	char signature[65];
};

static struct vec vecs[] = {
    {"GET Object",
     "GET",
     "/test.txt",
     {{""}},
     0,
     {{"Host", HOST},
      {"Range", "bytes=0-9"},
      {"x-amz-content-sha256", EMPTY},
      {"x-amz-date", DATE}},
     4,
     EMPTY,
     "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
     "x-amz-content-sha256:" EMPTY "\nx-amz-date:20130524T000000Z\n\n"
     "host;range;x-amz-content-sha256;x-amz-date\n" EMPTY,
     "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
     "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
     "host;range;x-amz-content-sha256;x-amz-date",
     "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"},
    {"PUT Object",
     "PUT",
     "/test%24file.text",
     {{""}},
     0,
     {{"Host", HOST},
      {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
      {"x-amz-date", DATE},
      {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
      {"x-amz-content-sha256", "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"}},
     5,
     "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
     "PUT\n/test%24file.text\n\ndate:Fri, 24 May 2013 00:00:00 GMT\n"
     "host:examplebucket.s3.amazonaws.com\n"
     "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
     "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
     "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
     "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
     "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
     "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
     "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
     "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"},
    {"GET Bucket Lifecycle",
     "GET",
     "/",
     {{"lifecycle", ""}},
     1,
     {{"Host", HOST}, {"x-amz-date", DATE}, {"x-amz-content-sha256", EMPTY}},
     3,
     EMPTY,
     "GET\n/\nlifecycle=\nhost:examplebucket.s3.amazonaws.com\n"
     "x-amz-content-sha256:" EMPTY "\nx-amz-date:20130524T000000Z\n\n"
     "host;x-amz-content-sha256;x-amz-date\n" EMPTY,
     "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
     "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
     "host;x-amz-content-sha256;x-amz-date",
     "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"},
    {"Get Bucket (List Objects)",
     "GET",
     "/",
     {{"prefix", "J"}, {"max-keys", "2"}},
     2,
     {{"Host", HOST}, {"x-amz-date", DATE}, {"x-amz-content-sha256", EMPTY}},
     3,
     EMPTY,
     "GET\n/\nmax-keys=2&prefix=J\nhost:examplebucket.s3.amazonaws.com\n"
     "x-amz-content-sha256:" EMPTY "\nx-amz-date:20130524T000000Z\n\n"
     "host;x-amz-content-sha256;x-amz-date\n" EMPTY,
     "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
     "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
     "host;x-amz-content-sha256;x-amz-date",
     "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"},
};

ParameterizedTestParameters(sigv4, aws_examples)
{
	return cr_make_param_array(struct vec, vecs, sizeof(vecs) / sizeof(vecs[0]));
}

static void sign_vec(struct vec *v, struct nv_sigv4_signer *signer, struct nv_sigv4_result *res)
{
	struct nv_sigv4_kv q[3], h[6];
	struct nv_sigv4_creds c = {AKID, SECRET, NULL};
	struct nv_error e = NV_ERROR_INIT;
	size_t i;

	for (i = 0; i < v->nq; i++)
		q[i] = (struct nv_sigv4_kv){v->q[i][0], v->q[i][1]};
	for (i = 0; i < v->nh; i++)
		h[i] = (struct nv_sigv4_kv){v->h[i][0], v->h[i][1]};
	struct nv_sigv4_req r = {v->method, v->uri,	q,    v->nq,	   h,
				 v->nh,	    v->payload, DATE, "us-east-1", "s3"};
	cr_assert_eq(nv_sigv4_sign(signer, &r, &c, res, &e), NV_OK, "%s: %s", v->name, e.msg);
}

ParameterizedTest(struct vec *v, sigv4, aws_examples)
{
	struct nv_sigv4_result res;
	struct nv_sigv4_signer signer;
	char want_auth[512];
	int pass;

	nv_sigv4_result_init(&res);
	nv_sigv4_signer_init(&signer);
	/* twice: the second run uses the cached signing key */
	for (pass = 0; pass < 2; pass++) {
		sign_vec(v, &signer, &res);
		cr_assert_str_eq(res.canonical_request.p, v->canonical, "%s", v->name);
		cr_assert_str_eq(res.string_to_sign.p, v->sts, "%s", v->name);
		cr_assert_str_eq(res.signed_headers.p, v->signed_headers, "%s", v->name);
		cr_assert_str_eq(res.signature, v->signature, "%s", v->name);
		snprintf(want_auth, sizeof(want_auth),
			 "AWS4-HMAC-SHA256 Credential=" AKID
			 "/20130524/us-east-1/s3/aws4_request,SignedHeaders=%s,Signature=%s",
			 v->signed_headers, v->signature);
		cr_assert_str_eq(res.authorization.p, want_auth);
	}
	/* without a signer (no cache) the same */
	sign_vec(v, NULL, &res);
	cr_assert_str_eq(res.signature, v->signature);
	nv_sigv4_result_release(&res);
	nv_sigv4_signer_release(&signer);
}

Test(sigv4, signing_key_and_payload_hash)
{
	unsigned char key[32];
	char hex[65];

	nv_sigv4_signing_key(SECRET, "20130524", "us-east-1", "s3", key);
	nv_hex_encode(key, 32, hex);
	cr_assert_str_eq(hex, "dbb893acc010964918f1fd433add87c70e8b0db6be30c1fbeafefa5ec6ba8378");
	nv_sigv4_sha256_hex("Welcome to Amazon S3.", 21, hex);
	cr_assert_str_eq(hex, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
	nv_sigv4_sha256_hex("", 0, hex);
	cr_assert_str_eq(hex, EMPTY);
}

Test(sigv4, cache_follows_secret_date_and_region)
{
	struct nv_sigv4_signer s;
	struct nv_sigv4_result res;
	struct nv_sigv4_kv h[] = {{"host", HOST}, {"x-amz-date", DATE}};
	struct nv_sigv4_creds c1 = {AKID, SECRET, NULL}, c2 = {AKID, "other-secret", NULL};
	struct nv_sigv4_req r = {"GET", "/", NULL, 0, h, 2, EMPTY, DATE, "us-east-1", "s3"};
	struct nv_error e = NV_ERROR_INIT;
	char a[65], b[65];

	nv_sigv4_signer_init(&s);
	nv_sigv4_result_init(&res);
	cr_assert_eq(nv_sigv4_sign(&s, &r, &c1, &res, &e), NV_OK);
	memcpy(a, res.signature, 65);
	cr_assert_eq(nv_sigv4_sign(&s, &r, &c2, &res, &e), NV_OK);
	memcpy(b, res.signature, 65);
	cr_assert_str_neq(a, b, "a new secret must not reuse the cached key");
	cr_assert_eq(nv_sigv4_sign(NULL, &r, &c2, &res, &e), NV_OK);
	cr_assert_str_eq(res.signature, b);
	r.region = "eu-west-1";
	cr_assert_eq(nv_sigv4_sign(&s, &r, &c2, &res, &e), NV_OK);
	cr_assert_str_neq(res.signature, b);
	memcpy(a, res.signature, 65);
	cr_assert_eq(nv_sigv4_sign(NULL, &r, &c2, &res, &e), NV_OK);
	cr_assert_str_eq(res.signature, a);
	nv_sigv4_result_release(&res);
	nv_sigv4_signer_release(&s);
}

Test(sigv4, session_token_and_value_trimming)
{
	struct nv_sigv4_result res;
	struct nv_sigv4_kv h[] = {{"Host", HOST},
				  {"X-Amz-Security-Token", "tok"},
				  {"x-amz-meta-a", "  a   b  c "},
				  {"x-amz-date", DATE}};
	struct nv_sigv4_creds c = {AKID, SECRET, "tok"};
	struct nv_sigv4_req r = {"HEAD", "/k", NULL, 0, h, 4, EMPTY, DATE, "us-east-1", "s3"};
	struct nv_error e = NV_ERROR_INIT;

	nv_sigv4_result_init(&res);
	cr_assert_eq(nv_sigv4_sign(NULL, &r, &c, &res, &e), NV_OK);
	cr_assert_str_eq(res.canonical_request.p,
			 "HEAD\n/k\n\nhost:" HOST "\nx-amz-date:" DATE "\nx-amz-meta-a:a b c\n"
			 "x-amz-security-token:tok\n\nhost;x-amz-date;x-amz-meta-a;"
			 "x-amz-security-token\n" EMPTY);
	nv_sigv4_result_release(&res);
}

Test(sigv4, refuses_bad_input)
{
	struct nv_sigv4_result res;
	struct nv_sigv4_kv h[] = {{"host", HOST}, {"x-bad", "a\r\nInjected: 1"}};
	struct nv_sigv4_creds c = {AKID, SECRET, NULL}, none = {NULL, NULL, NULL};
	struct nv_sigv4_req r = {"GET", "/", NULL, 0, h, 2, EMPTY, DATE, "us-east-1", "s3"};
	struct nv_error e = NV_ERROR_INIT;

	nv_sigv4_result_init(&res);
	cr_assert_eq(nv_sigv4_sign(NULL, &r, &c, &res, &e), NV_EINVALID);
	r.nheaders = 1;
	cr_assert_eq(nv_sigv4_sign(NULL, &r, &none, &res, &e), NV_ECONFIG);
	r.amz_date = "2013-05-24";
	cr_assert_eq(nv_sigv4_sign(NULL, &r, &c, &res, &e), NV_EINVALID);
	nv_sigv4_result_release(&res);
}

struct enc_case {
	char in[48];
	int keep_slash;
	char want[160];
};

static struct enc_case enc_cases[] = {
    {"test$file.text", 1, "test%24file.text"},
    {"a b", 1, "a%20b"},
    {"a+b", 1, "a%2Bb"},
    {"a~b-c_d.e", 1, "a~b-c_d.e"},
    {"dir/sub/file", 1, "dir/sub/file"},
    {"dir/sub/file", 0, "dir%2Fsub%2Ffile"},
    {"caf\xc3\xa9/\xe2\x82\xac", 1, "caf%C3%A9/%E2%82%AC"},
    {"*'()!@#&=?,;:", 0, "%2A%27%28%29%21%40%23%26%3D%3F%2C%3B%3A"},
    {"100%", 0, "100%25"},
    {"", 0, ""},
};

ParameterizedTestParameters(sigv4, uri_encode)
{
	return cr_make_param_array(struct enc_case, enc_cases,
				   sizeof(enc_cases) / sizeof(enc_cases[0]));
}

ParameterizedTest(struct enc_case *c, sigv4, uri_encode)
{
	struct nv_buf b = NV_BUF_INIT(1024);

	cr_assert_eq(nv_sigv4_uri_encode(&b, c->in, strlen(c->in), c->keep_slash, NULL), NV_OK);
	cr_assert_str_eq(b.p, c->want, "encode '%s'", c->in);
	nv_buf_release(&b);
}

Test(sigv4, canonical_query_sorts_after_encoding)
{
	struct nv_buf b = NV_BUF_INIT(1024);
	struct nv_sigv4_kv q[] = {{"prefix", "a b/c+d"},
				  {"list-type", "2"},
				  {"continuation-token", "1/x=="},
				  {"max-keys", "10"},
				  {"uploads", NULL}};

	cr_assert_eq(nv_sigv4_canonical_query(&b, q, 5, NULL), NV_OK);
	cr_assert_str_eq(b.p, "continuation-token=1%2Fx%3D%3D&list-type=2&max-keys=10&"
			      "prefix=a%20b%2Fc%2Bd&uploads=");
	nv_buf_release(&b);
}

Test(sigv4, amz_date)
{
	char d[17];

	nv_sigv4_amz_date(1369353600, d);
	cr_assert_str_eq(d, "20130524T000000Z");
}

Test(sigv4, allocation_failures)
{
	struct nv_sigv4_kv q[] = {{"prefix", "a b"}, {"list-type", "2"}};
	struct nv_sigv4_kv h[] = {{"host", HOST}, {"x-amz-date", DATE}, {"range", "bytes=0-9"}};
	struct nv_sigv4_creds c = {AKID, SECRET, NULL};
	struct nv_sigv4_req r = {"GET", "/", q, 2, h, 3, EMPTY, DATE, "us-east-1", "s3"};
	struct nv_error e = NV_ERROR_INIT;
	long n;
	int rc = -1;

	for (n = 0; n < 1000 && rc != NV_OK; n++) {
		struct nv_sigv4_result res;

		nv_sigv4_result_init(&res);
		nv_mem_fail_after(n);
		rc = nv_sigv4_sign(NULL, &r, &c, &res, &e);
		nv_mem_fail_after(-1);
		cr_assert(rc == NV_OK || rc == NV_ENOMEM, "failing allocation %ld: %d %s", n, rc,
			  e.msg);
		nv_sigv4_result_release(&res);
	}
	cr_assert_eq(rc, NV_OK);
	cr_assert_gt(n, 1);
}
