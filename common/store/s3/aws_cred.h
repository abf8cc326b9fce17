/* aws_cred.h - where AWS credentials come from, in the SDKs' order:
 *
 *   1. environment: AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)
 *   2. IRSA web identity: AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN, traded at
 *      STS (AssumeRoleWithWebIdentity; AWS_ENDPOINT_URL_STS/AWS_ENDPOINT_URL
 *      or https://sts.REGION.amazonaws.com) for temporary keys
 *   3. container credentials / EKS Pod Identity: AWS_CONTAINER_CREDENTIALS_FULL_URI
 *      with the token of AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE (re-read at each
 *      refresh) or AWS_CONTAINER_AUTHORIZATION_TOKEN
 *
 * Temporary keys are refreshed 5 minutes before they expire (or when the
 * caller reports them rejected). Every key, secret and token obtained is
 * registered with nv_log_add_secret. Thread-safe.
 */
#ifndef NV_AWS_CRED_H
#define NV_AWS_CRED_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/config.h"
#include "base/err.h"

struct nv_aws_cred;

/* A snapshot of the current credentials, owned by the caller. */
struct nv_aws_keys {
	struct nv_buf access_key_id;
	struct nv_buf secret_access_key;
	struct nv_buf session_token; /* empty when none */
	int64_t expiration;	     /* epoch seconds, 0 = does not expire */
};

void nv_aws_keys_init(struct nv_aws_keys *k);
void nv_aws_keys_release(struct nv_aws_keys *k); /* wipes the secrets */

/* Pick the first source the configuration names and fetch its credentials
 * now. NV_ECONFIG when no source is configured (or a token file is
 * missing); NV_EAUTH when STS or the container endpoint refuses;
 * NV_ENETWORK/NV_EREMOTE when they cannot be reached. */
int nv_aws_cred_new(const struct nv_config *cfg, struct nv_aws_cred **out, struct nv_error *err);
void nv_aws_cred_free(struct nv_aws_cred *c);

/* Current credentials (refreshed first when they expire within 5 minutes).
 * A refresh's retries never sleep past deadline_ms (absolute nv_now_ms(),
 * 0 = none): NV_EDEADLINE instead. */
int nv_aws_cred_get(struct nv_aws_cred *c, int64_t deadline_ms, struct nv_aws_keys *out,
		    struct nv_error *err);

/* The server said the keys are expired or invalid: refresh at the next get.
 * Returns false when the source cannot refresh (static keys). */
bool nv_aws_cred_invalidate(struct nv_aws_cred *c);

/* "environment", "web-identity" or "container". */
const char *nv_aws_cred_source(const struct nv_aws_cred *c);

/* AWS_CONTAINER_CREDENTIALS_FULL_URI must be https, or http to a loopback
 * address or the ECS/EKS link-local addresses (169.254.170.2,
 * 169.254.170.23, fd00:ec2::23), as the SDKs require. NV_ECONFIG otherwise. */
int nv_aws_cred_check_container_uri(const char *uri, struct nv_error *err);

/* Parse the container endpoint's JSON answer (AccessKeyId, SecretAccessKey,
 * Token, Expiration). NV_ECORRUPT on anything else. */
int nv_aws_cred_parse_container_json(const char *doc, size_t len, struct nv_aws_keys *out,
				     struct nv_error *err);

#endif
