/* test_sigv4: signatures computed by botocore's SigV4Auth (1.43.11, a fixed clock) for
 * requests like boto3's bedrock-agentcore client sends are reproduced exactly, and a
 * changed byte anywhere changes the signature. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/sigv4.h"

struct hdrs {
        const char *names[4], *values[4];
};

static const char *lookup(void *ctx, const char *name) {
        struct hdrs *h = ctx;
        for (int i = 0; i < 4 && h->names[i]; i++)
                if (!strcmp(h->names[i], name))
                        return h->values[i];
        return NULL;
}

#define SECRET "sk_abcdefghijklmnopqrstuvwxyz"
static const char put_auth[] = "AWS4-HMAC-SHA256 Credential=ak_0123456789abcdefghijklmnop/20261126/us-east-1/"
                               "bedrock-agentcore/aws4_request, SignedHeaders=content-type;host;x-amz-date, "
                               "Signature=fec8a7dfc6cfec088abd030d5ea799089500974b408d9eeb705534903facd445";
static const char get_auth[] = "AWS4-HMAC-SHA256 Credential=ak_0123456789abcdefghijklmnop/20261126/us-east-1/"
                               "bedrock-agentcore/aws4_request, SignedHeaders=host;x-amz-date, "
                               "Signature=2d388c96276f190ae22f27121980bcdda0ccd5fbc7db373e3b49e573c96fc889";
static const char body[] = "{\"clientToken\":\"d4484986-0000-4000-8000-000000000000\"}";

static void test_botocore_vectors(void **state) {
        (void)state;
        struct sigv4_auth a;
        const char *why = NULL;
        assert_int_equal(sigv4_parse_authorization(put_auth, &a, &why), 0);
        assert_string_equal(a.key_id, "ak_0123456789abcdefghijklmnop");
        assert_string_equal(a.date, "20261126");
        assert_string_equal(a.region, "us-east-1");
        assert_string_equal(a.service, "bedrock-agentcore");
        assert_int_equal(a.nsigned, 3);
        struct hdrs h = {{"content-type", "host", "x-amz-date"}, {"application/json", "127.0.0.1:8470", "20261126T093000Z"}};
        struct sigv4_request r = {.method = "PUT",
                                  .raw_path = "/code-interpreters/aws.codeinterpreter.v1/sessions/stop",
                                  .raw_query = "sessionId=abc123&b=%2Fx%20y",
                                  .amz_date = "20261126T093000Z",
                                  .header = lookup,
                                  .ctx = &h,
                                  .body = body,
                                  .body_len = strlen(body)};
        char sig[65];
        assert_int_equal(sigv4_expected(&a, &r, SECRET, sig), 0);
        assert_true(sigv4_equal(sig, a.signature));
        /* The same query written differently (lower-case escapes, '+' kept literal) is the
         * same canonical query only where the bytes mean the same. */
        r.raw_query = "b=%2fx%20y&sessionId=abc123";
        assert_int_equal(sigv4_expected(&a, &r, SECRET, sig), 0);
        assert_true(sigv4_equal(sig, a.signature));
        /* Any change is a different signature: body, path, query, header, secret. */
        r.raw_query = "sessionId=abc124&b=%2Fx%20y";
        assert_int_equal(sigv4_expected(&a, &r, SECRET, sig), 0);
        assert_false(sigv4_equal(sig, a.signature));
        r.raw_query = "sessionId=abc123&b=%2Fx%20y";
        r.body_len--;
        assert_int_equal(sigv4_expected(&a, &r, SECRET, sig), 0);
        assert_false(sigv4_equal(sig, a.signature));
        r.body_len++;
        h.values[1] = "127.0.0.1:8471";
        assert_int_equal(sigv4_expected(&a, &r, SECRET, sig), 0);
        assert_false(sigv4_equal(sig, a.signature));
        h.values[1] = "127.0.0.1:8470";
        assert_int_equal(sigv4_expected(&a, &r, "sk_abcdefghijklmnopqrstuvwxyZ", sig), 0);
        assert_false(sigv4_equal(sig, a.signature));
        r.raw_query = "b=%zz";
        assert_int_equal(sigv4_expected(&a, &r, SECRET, sig), -EINVAL); /* a bad escape */
        r.raw_query = "sessionId=abc123&b=%2Fx%20y";
        h.names[0] = "content-length"; /* a signed header that was not sent */
        assert_int_equal(sigv4_expected(&a, &r, SECRET, sig), -EINVAL);

        struct hdrs g = {{"host", "x-amz-date"}, {"127.0.0.1:8470", "20261126T093000Z"}};
        assert_int_equal(sigv4_parse_authorization(get_auth, &a, &why), 0);
        struct sigv4_request gr = {.method = "GET",
                                   .raw_path = "/code-interpreters/aws.codeinterpreter.v1/sessions/get",
                                   .raw_query = "sessionId=abc123",
                                   .amz_date = "20261126T093000Z",
                                   .header = lookup,
                                   .ctx = &g};
        assert_int_equal(sigv4_expected(&a, &gr, SECRET, sig), 0);
        assert_true(sigv4_equal(sig, a.signature));
}

static void test_bad_authorization_headers(void **state) {
        (void)state;
        struct sigv4_auth a;
        const char *why = NULL;
        const char *bad[] = {
                "Bearer ak_x.sk_y",
                "AWS4-HMAC-SHA256 Credential=AK/20261126/us-east-1/bedrock-agentcore/aws4_request",
                "AWS4-HMAC-SHA256 Credential=AK/2026112/us-east-1/s/aws4_request, SignedHeaders=host, Signature="
                "fec8a7dfc6cfec088abd030d5ea799089500974b408d9eeb705534903facd445",
                "AWS4-HMAC-SHA256 Credential=AK/20261126/us-east-1/s/aws5_request, SignedHeaders=host, Signature="
                "fec8a7dfc6cfec088abd030d5ea799089500974b408d9eeb705534903facd445",
                "AWS4-HMAC-SHA256 Credential=AK/20261126/us-east-1/s/aws4_request, SignedHeaders=x-amz-date, "
                "Signature=fec8a7dfc6cfec088abd030d5ea799089500974b408d9eeb705534903facd445",
                "AWS4-HMAC-SHA256 Credential=AK/20261126/us-east-1/s/aws4_request, SignedHeaders=x-amz-date;host, "
                "Signature=fec8a7dfc6cfec088abd030d5ea799089500974b408d9eeb705534903facd445",
                "AWS4-HMAC-SHA256 Credential=AK/20261126/us-east-1/s/aws4_request, SignedHeaders=host, "
                "Signature=FEC8A7DFC6CFEC088ABD030D5EA799089500974B408D9EEB705534903FACD445",
                "AWS4-HMAC-SHA256 Credential=AK/20261126/us-east-1/s/aws4_request, SignedHeaders=host, Signature=ab",
                "AWS4-HMAC-SHA256 Credential=A K/20261126/us-east-1/s/aws4_request, SignedHeaders=host, Signature="
                "fec8a7dfc6cfec088abd030d5ea799089500974b408d9eeb705534903facd445",
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                why = NULL;
                if (sigv4_parse_authorization(bad[i], &a, &why) != -EINVAL || !why)
                        fail_msg("accepted: %s", bad[i]);
        }
        assert_true(sigv4_parse_amz_date("20261126T093000Z") == 1795685400);
        assert_true(sigv4_parse_amz_date("20261126T093000") == -1);
        assert_true(sigv4_parse_amz_date("20261326T093000Z") == -1);
        assert_true(sigv4_parse_amz_date("2026112xT093000Z") == -1);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_botocore_vectors),
                cmocka_unit_test(test_bad_authorization_headers),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
