/* fuzz_sigv4: the Authorization header parser and the canonical request (query string
 * decoding and re-encoding, header trimming) on arbitrary input. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "daemon/sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *header(void *ctx, const char *name) {
        (void)name;
        return ctx;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char text[4096];
        size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
        memcpy(text, data, n);
        text[n] = '\0';
        struct sigv4_auth a;
        const char *why = NULL;
        if (sigv4_parse_authorization(text, &a, &why) == 0 && (a.nsigned == 0 || strlen(a.signature) != 64))
                __builtin_trap();
        (void)sigv4_parse_amz_date(text);
        /* The text as query, path and every header value of a fixed valid Authorization. */
        static const char auth[] = "AWS4-HMAC-SHA256 Credential=ak_x/20261126/us-east-1/bedrock-agentcore/"
                                   "aws4_request, SignedHeaders=host;x-amz-date, Signature="
                                   "fec8a7dfc6cfec088abd030d5ea799089500974b408d9eeb705534903facd445";
        if (sigv4_parse_authorization(auth, &a, &why) != 0)
                __builtin_trap();
        struct sigv4_request r = {.method = "POST",
                                  .raw_path = text,
                                  .raw_query = text,
                                  .amz_date = "20261126T093000Z",
                                  .header = header,
                                  .ctx = text,
                                  .body = data,
                                  .body_len = size};
        char sig[65];
        (void)sigv4_expected(&a, &r, "sk_secret", sig);
        return 0;
}
