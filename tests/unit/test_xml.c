/* S3/STS XML documents parsed with expat: errors, ListObjectsV2 pages,
 * multipart answers, STS credentials, malformed input. */
#include "testutil.h"

#include "base/mem.h"
#include "store/s3/xml.h"

struct err_case {
	char doc[600];
	int rc;
	char code[48];
	char message[64];
	char request_id[64];
};

static struct err_case err_cases[] = {
    /* the S3 API reference's example */
    {"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error>\n  <Code>NoSuchKey</Code>\n"
     "  <Message>The resource you requested does not exist</Message>\n"
     "  <Resource>/mybucket/myfoto.jpg</Resource> \n  <RequestId>4442587FB7D0A2F9</RequestId>\n"
     "</Error>",
     NV_OK, "NoSuchKey", "The resource you requested does not exist", "4442587FB7D0A2F9"},
    /* radosgw: empty Message */
    {"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>SignatureDoesNotMatch</Code>"
     "<Message></Message><RequestId>tx00000a-006b0df671-100c-default</RequestId>"
     "<HostId>100c-default-default</HostId></Error>",
     NV_OK, "SignatureDoesNotMatch", "", "tx00000a-006b0df671-100c-default"},
    /* STS wraps it */
    {"<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\"><Error><Type>Sender"
     "</Type><Code>InvalidIdentityToken</Code><Message>No OpenIDConnect provider</Message>"
     "</Error><RequestId>r-1</RequestId></ErrorResponse>",
     NV_OK, "InvalidIdentityToken", "No OpenIDConnect provider", ""},
    {"<Error><Code>A&amp;B</Code><Message>x &lt; y</Message></Error>", NV_OK, "A&B", "x < y", ""},
    {"<Error><Code>SlowDown</Code>", NV_ECORRUPT, "", "", ""},
    {"<Error><Message>no code</Message></Error>", NV_ECORRUPT, "", "", ""},
    {"<NotAnError/>", NV_ECORRUPT, "", "", ""},
    {"<html><body>502 Bad Gateway</body></html>", NV_ECORRUPT, "", "", ""},
    {"", NV_ECORRUPT, "", "", ""},
    {"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaa\">]><Error><Code>&a;</Code></Error>",
     NV_ECORRUPT, "", "", ""},
};

ParameterizedTestParameters(xml, s3_error)
{
	return cr_make_param_array(struct err_case, err_cases,
				   sizeof(err_cases) / sizeof(err_cases[0]));
}

ParameterizedTest(struct err_case *c, xml, s3_error)
{
	struct nv_xml_s3_error e;
	struct nv_error err = NV_ERROR_INIT;

	cr_assert_eq(nv_xml_s3_error(c->doc, strlen(c->doc), &e, &err), c->rc, "%s: %s", c->doc,
		     err.msg);
	if (c->rc)
		return;
	cr_assert_str_eq(e.code, c->code);
	cr_assert_str_eq(e.message, c->message);
	cr_assert_str_eq(e.request_id, c->request_id);
}

struct collected {
	char keys[8][64];
	uint64_t sizes[8];
	int64_t mtimes[8];
	int n;
};

static int collect(const struct nv_xml_list_entry *e, void *ud)
{
	struct collected *c = ud;

	cr_assert(c->n < 8);
	snprintf(c->keys[c->n], sizeof(c->keys[0]), "%s", e->key);
	c->sizes[c->n] = e->size;
	c->mtimes[c->n++] = e->mtime;
	return 0;
}

#define LIST_HEAD                                                                   \
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult "            \
	"xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\n<Name>bucket</Name>\n" \
	"<Prefix>p/</Prefix>\n<KeyCount>2</KeyCount>\n<MaxKeys>2</MaxKeys>\n"

Test(xml, list_v2_page)
{
	const char *doc =
	    LIST_HEAD "<IsTruncated>true</IsTruncated>\n<Contents>\n<Key>p/a b&amp;c</Key>\n"
		      "<LastModified>2009-10-12T17:50:30.000Z</LastModified>\n"
		      "<ETag>&quot;fba9dede5f27731c9771645a39863328&quot;</ETag>\n"
		      "<Size>434234</Size>\n<StorageClass>STANDARD</StorageClass>\n</Contents>\n"
		      "<Contents><Key>p/caf\xc3\xa9</Key><Size>0</Size></Contents>\n"
		      "<NextContinuationToken>1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM="
		      "</NextContinuationToken></ListBucketResult>";
	struct collected c = {0};
	struct nv_buf tok = NV_BUF_INIT(1024);
	struct nv_error err = NV_ERROR_INIT;
	bool trunc = false;

	cr_assert_eq(nv_xml_list_v2(doc, strlen(doc), collect, &c, &trunc, &tok, &err), NV_OK, "%s",
		     err.msg);
	cr_assert_eq(c.n, 2);
	cr_assert_str_eq(c.keys[0], "p/a b&c");
	cr_assert_eq(c.sizes[0], 434234);
	cr_assert_eq(c.mtimes[0], 1255369830);
	cr_assert_str_eq(c.keys[1], "p/caf\xc3\xa9");
	cr_assert_eq(c.sizes[1], 0);
	cr_assert_eq(c.mtimes[1], 0);
	cr_assert(trunc);
	cr_assert_str_eq(tok.p, "1ueGcxLPRx1Tr/XYExHnhbYLgveDs2J/wm36Hy4vbOwM=");
	nv_buf_release(&tok);
}

Test(xml, list_v2_last_page_and_empty)
{
	const char *last = LIST_HEAD "<IsTruncated>false</IsTruncated><Contents><Key>p/x</Key>"
				     "<Size>1</Size></Contents></ListBucketResult>";
	const char *empty = "<ListBucketResult><IsTruncated>false</IsTruncated></ListBucketResult>";
	struct collected c = {0};
	struct nv_buf tok = NV_BUF_INIT(1024);
	struct nv_error err = NV_ERROR_INIT;
	bool trunc = true;

	cr_assert_eq(nv_xml_list_v2(last, strlen(last), collect, &c, &trunc, &tok, &err), NV_OK);
	cr_assert_eq(c.n, 1);
	cr_assert(!trunc);
	cr_assert_eq(tok.len, 0);
	c.n = 0;
	cr_assert_eq(nv_xml_list_v2(empty, strlen(empty), collect, &c, &trunc, &tok, &err), NV_OK);
	cr_assert_eq(c.n, 0);
	nv_buf_release(&tok);
}

struct bad_list {
	char doc[300];
	char why[48];
};

static struct bad_list bad_lists[] = {
    {"<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>", "NextContinuation"},
    {"<ListBucketResult><Contents><Key>k</Key><Size>-1</Size></Contents></ListBucketResult>",
     "Size"},
    {"<ListBucketResult><Contents><Key>k</Key><Size>12x</Size></Contents></ListBucketResult>",
     "Size"},
    {"<ListBucketResult><Contents><Size>1</Size></Contents></ListBucketResult>", "Key"},
    {"<ListBucketResult><Contents><Key>k</Key><Size>1</Size></Contents>", "malformed XML"},
    {"<ListBucketResult><Contents><Key>k</Key></Size></Contents></ListBucketResult>",
     "malformed XML"},
    {"<ListAllMyBucketsResult/>", "ListBucketResult"},
    {"<Error><Code>InternalError</Code></Error>", "ListBucketResult"},
    {"not xml at all", "malformed XML"},
    {"<a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a><a></a></a></a></a></a></a></a></a>"
     "</a></a></a></a></a></a></a></a></a></a>",
     "deep"},
};

ParameterizedTestParameters(xml, list_v2_malformed)
{
	return cr_make_param_array(struct bad_list, bad_lists,
				   sizeof(bad_lists) / sizeof(bad_lists[0]));
}

ParameterizedTest(struct bad_list *b, xml, list_v2_malformed)
{
	struct collected c = {0};
	struct nv_buf tok = NV_BUF_INIT(1024);
	struct nv_error err = NV_ERROR_INIT;
	bool trunc;

	cr_assert_eq(nv_xml_list_v2(b->doc, strlen(b->doc), collect, &c, &trunc, &tok, &err),
		     NV_ECORRUPT, "%s", b->doc);
	cr_assert(strstr(err.msg, b->why), "message '%s' lacks '%s'", err.msg, b->why);
	nv_buf_release(&tok);
}

static int stop_at_first(const struct nv_xml_list_entry *e, void *ud)
{
	(void)e;
	(*(int *)ud)++;
	return 7;
}

Test(xml, list_v2_callback_stops)
{
	const char *doc = "<ListBucketResult><Contents><Key>a</Key><Size>1</Size></Contents>"
			  "<Contents><Key>b</Key><Size>1</Size></Contents></ListBucketResult>";
	struct nv_buf tok = NV_BUF_INIT(1024);
	bool trunc;
	int n = 0;

	cr_assert_eq(nv_xml_list_v2(doc, strlen(doc), stop_at_first, &n, &trunc, &tok, NULL), 7);
	cr_assert_eq(n, 1);
	nv_buf_release(&tok);
}

Test(xml, multipart_answers)
{
	const char *init = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			   "<InitiateMultipartUploadResult xmlns=\"http://s3.amazonaws.com/doc/"
			   "2006-03-01/\"><Bucket>example-bucket</Bucket><Key>example-object</Key>"
			   "<UploadId>VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA"
			   "</UploadId></InitiateMultipartUploadResult>";
	const char *done = "<CompleteMultipartUploadResult><Location>http://x/b/k</Location>"
			   "<Bucket>b</Bucket><Key>k</Key><ETag></ETag>"
			   "</CompleteMultipartUploadResult>";
	const char *err200 = "<Error><Code>InternalError</Code><Message>We encountered an "
			     "internal error. Please try again.</Message><RequestId>656c76696e67"
			     "</RequestId></Error>";
	struct nv_buf id = NV_BUF_INIT(1024);
	struct nv_error err = NV_ERROR_INIT;

	cr_assert_eq(nv_xml_initiate_upload(init, strlen(init), &id, &err), NV_OK);
	cr_assert_str_eq(id.p, "VXBsb2FkIElEIGZvciA2aWWpbmcncyBteS1tb3ZpZS5tMnRzIHVwbG9hZA");
	cr_assert_eq(nv_xml_initiate_upload(done, strlen(done), &id, &err), NV_ECORRUPT);
	cr_assert_eq(nv_xml_complete_upload(done, strlen(done), &err), NV_OK, "%s", err.msg);
	cr_assert_eq(nv_xml_complete_upload(err200, strlen(err200), &err), NV_EREMOTE);
	cr_assert(strstr(err.msg, "InternalError"), "%s", err.msg);
	cr_assert_eq(nv_xml_complete_upload("<x/>", 4, &err), NV_ECORRUPT);
	cr_assert_eq(nv_xml_complete_upload("<Complete", 9, &err), NV_ECORRUPT);
	nv_buf_release(&id);
}

Test(xml, sts_credentials)
{
	const char *doc =
	    "<AssumeRoleWithWebIdentityResponse "
	    "xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">"
	    "<AssumeRoleWithWebIdentityResult><SubjectFromWebIdentityToken>amzn1.account.AF6RHO7"
	    "</SubjectFromWebIdentityToken><Audience>client.5498841531868486423.1548@apps.example"
	    ".com</Audience><AssumedRoleUser><Arn>arn:aws:sts::123456789012:assumed-role/"
	    "FederatedWebIdentityRole/app1</Arn><AssumedRoleId>AROACLKWSDQRAOEXAMPLE:app1"
	    "</AssumedRoleId></"
	    "AssumedRoleUser><Credentials><SessionToken>AQoDYXdzEE0a8ANXXXXXXXXNO1"
	    "ewxE5TijQyp+IEXAMPLE</SessionToken><SecretAccessKey>wJalrXUtnFEMI/K7MDENG/"
	    "bPxRfiCYzEXAMPLEKEY</SecretAccessKey><Expiration>2014-10-24T23:00:23Z</Expiration>"
	    "<AccessKeyId>ASgeIAIOSFODNN7EXAMPLE</AccessKeyId></Credentials><Provider>www.amazon"
	    ".com</Provider></AssumeRoleWithWebIdentityResult><ResponseMetadata><RequestId>"
	    "ad4156e9-bce1-11e2-82e6-6b6efEXAMPLE</RequestId></ResponseMetadata>"
	    "</AssumeRoleWithWebIdentityResponse>";
	const char *partial =
	    "<AssumeRoleWithWebIdentityResponse><AssumeRoleWithWebIdentityResult>"
	    "<Credentials><AccessKeyId>A</AccessKeyId></Credentials>"
	    "</AssumeRoleWithWebIdentityResult></AssumeRoleWithWebIdentityResponse>";
	struct nv_xml_sts_creds c;
	struct nv_error err = NV_ERROR_INIT;

	nv_xml_sts_creds_init(&c);
	cr_assert_eq(nv_xml_sts_credentials(doc, strlen(doc), &c, &err), NV_OK, "%s", err.msg);
	cr_assert_str_eq(c.access_key_id.p, "ASgeIAIOSFODNN7EXAMPLE");
	cr_assert_str_eq(c.secret_access_key.p, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY");
	cr_assert_str_eq(c.session_token.p, "AQoDYXdzEE0a8ANXXXXXXXXNO1ewxE5TijQyp+IEXAMPLE");
	cr_assert_eq(c.expiration, 1414191623);
	nv_xml_sts_creds_release(&c);
	nv_xml_sts_creds_init(&c);
	cr_assert_eq(nv_xml_sts_credentials(partial, strlen(partial), &c, &err), NV_ECORRUPT);
	nv_xml_sts_creds_release(&c);
}

struct time_case {
	char s[40];
	int rc;
	long long t;
};

static struct time_case time_cases[] = {
    {"2013-05-24T00:00:00Z", NV_OK, 1369353600},
    {"2009-10-12T17:50:30.000Z", NV_OK, 1255369830},
    {"2019-11-09T13:34:41+00:00", NV_OK, 1573306481},
    {"2019-11-09T13:34:41", NV_EINVALID, 0},
    {"2019-11-09T13:34:41+02:00", NV_EINVALID, 0},
    {"2019-11-09", NV_EINVALID, 0},
    {"tomorrow", NV_EINVALID, 0},
    {"", NV_EINVALID, 0},
};

ParameterizedTestParameters(xml, iso8601)
{
	return cr_make_param_array(struct time_case, time_cases,
				   sizeof(time_cases) / sizeof(time_cases[0]));
}

ParameterizedTest(struct time_case *c, xml, iso8601)
{
	int64_t t = 0;

	cr_assert_eq(nv_iso8601_parse(c->s, &t), c->rc, "'%s'", c->s);
	if (!c->rc)
		cr_assert_eq(t, c->t, "'%s' -> %lld", c->s, (long long)t);
}

/* Every allocation failing in turn: a clean NV_ENOMEM (or success), never a
 * crash or a leak (the ASan run checks leaks). */
Test(xml, allocation_failures)
{
	const char *doc = LIST_HEAD "<IsTruncated>true</IsTruncated><Contents><Key>p/a</Key>"
				    "<Size>1</Size></Contents><NextContinuationToken>tok"
				    "</NextContinuationToken></ListBucketResult>";
	struct nv_error err = NV_ERROR_INIT;
	long n;
	int rc = -1;

	for (n = 0; n < 1000 && rc != NV_OK; n++) {
		struct collected c = {0};
		struct nv_buf tok = NV_BUF_INIT(1024);
		bool trunc;

		nv_mem_fail_after(n);
		rc = nv_xml_list_v2(doc, strlen(doc), collect, &c, &trunc, &tok, &err);
		nv_mem_fail_after(-1);
		cr_assert(rc == NV_OK || rc == NV_ENOMEM, "failing allocation %ld: %d %s", n, rc,
			  err.msg);
		nv_buf_release(&tok);
	}
	cr_assert_eq(rc, NV_OK);
	cr_assert_gt(n, 1, "the parse allocates through nv_malloc");
}
