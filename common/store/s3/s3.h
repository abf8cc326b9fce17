/* s3.h - the s3:// store: AWS S3 and S3-compatible servers (MinIO, Ceph
 * RGW, R2, GCS interop) over libcurl, signed with SigV4.
 *
 * nv_store_s3_open() (declared in store.h) parses s3://bucket/prefix, picks
 * the endpoint (AWS by region, virtual-hosted; or AWS_ENDPOINT_URL_S3 /
 * AWS_ENDPOINT_URL, path style unless NETVOL_S3_ADDRESSING=virtual), finds
 * credentials (aws_cred.h: NV_ECONFIG at open time when there are none) and
 * returns a store whose operations are safe from many threads at once.
 *
 * Requests are retried with exponential backoff and full jitter on
 * connection errors, timeouts, stalls, 5xx, 429 and the S3 codes SlowDown,
 * RequestTimeout, InternalError... up to AWS_MAX_ATTEMPTS attempts in all.
 * Other 4xx are not retried. A download that is short, truncated or of the
 * wrong range is never returned as data.
 *
 * Error mapping: 404/NoSuchKey -> NV_ENOTFOUND; 412 on a conditional put ->
 * NV_EEXISTS; 401/403 and rejected keys -> NV_EAUTH (S3's code in the
 * message); NoSuchBucket -> NV_ECONFIG; 416 -> NV_ECORRUPT (object shorter
 * than the range); transport failures -> NV_ENETWORK / NV_ETIMEOUT; other
 * answers -> NV_EREMOTE. Messages name the object and carry S3's Code,
 * Message and RequestId.
 */
#ifndef NV_S3_H
#define NV_S3_H

#include <stdint.h>

#include "store/store.h"

/* Objects larger than this are uploaded in parts (multipart upload). */
#define NV_S3_MULTIPART_THRESHOLD (64ull << 20)
#define NV_S3_PART_SIZE (16ull << 20)

/* Which answers are retried, how long to wait and when to stop: retry.h. */

/* The netvol code for a final S3 error answer. */
enum nv_code nv_s3_error_code(long status, const char *s3_code);

/* Tests and tuning: multipart threshold and part size (>= 5 MiB for real
 * servers), ListObjectsV2 page size (1..1000), retry base delay. 0 keeps
 * the current value. */
void nv_s3_store_tune(struct nv_store *s, uint64_t multipart_threshold, uint64_t part_size,
		      int list_max_keys, int retry_base_ms);

/* Where requests go (for tests and diagnostics): the origin
 * ("https://bucket.s3.eu-west-1.amazonaws.com"), the Host header, and the
 * path before the key ("/bucket" in path style, "" in virtual-hosted style). */
void nv_s3_store_endpoint(struct nv_store *s, const char **origin, const char **host,
			  const char **path_base);

/* Create the store's bucket (tests and `netvol` admin verbs); an existing
 * bucket owned by the caller is fine. */
int nv_s3_create_bucket(struct nv_store *s, struct nv_error *err);

#endif
