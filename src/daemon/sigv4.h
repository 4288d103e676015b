/* sigv4: verify AWS Signature Version 4 on AgentCore-compatible requests (docs/agentcore.md).
 *
 * An Airlock key's id is the access key id and its secret the secret access key. The
 * verifier rebuilds the canonical request from what was received (the raw path and query
 * as the client sent them, the signed headers, the SHA-256 of the body), derives the
 * signing key from the secret, and compares in constant time.
 *
 * Pure: no I/O and no globals; the caller looks headers up and supplies the secret. The
 * Authorization parser takes hostile input (it is fuzzed).
 */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SIGV4_SIGNED_MAX 32

struct sigv4_auth {
        char key_id[64];
        char date[9];     /* yyyymmdd of the credential scope */
        char region[32];
        char service[32];
        char signed_headers[SIGV4_SIGNED_MAX][64]; /* lower case, as listed (sorted by the client) */
        size_t nsigned;
        char signature[65]; /* lower-case hex */
};

/* "AWS4-HMAC-SHA256 Credential=AKID/DATE/REGION/SERVICE/aws4_request, SignedHeaders=a;b,
 * Signature=hex". -EINVAL with *why naming what is wrong. */
int sigv4_parse_authorization(const char *header, struct sigv4_auth *ret, const char **why);

/* X-Amz-Date (yyyymmddThhmmssZ) as Unix seconds, or -1. */
int64_t sigv4_parse_amz_date(const char *s);

struct sigv4_request {
        const char *method;
        const char *raw_path;  /* as received: already URI-encoded by the client */
        const char *raw_query; /* as received, without '?'; NULL or "" for none */
        const char *amz_date;
        /* The value of a header by lower-case name (NULL when absent). */
        const char *(*header)(void *ctx, const char *name);
        void *ctx;
        const void *body;
        size_t body_len;
};

/* The signature the client should have sent, as lower-case hex. -EINVAL when the query
 * or a signed header cannot be canonicalised. */
int sigv4_expected(const struct sigv4_auth *a, const struct sigv4_request *r, const char *secret, char out[65]);

/* Constant-time comparison of two lower-case hex signatures. */
bool sigv4_equal(const char *a, const char *b);
