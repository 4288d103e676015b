/* Fuzz target: the daemon's JSON request parsing and validation (src/daemon/requests.c),
 * the first code that looks inside a request body from the network, and the checks of
 * the path and query parameters that reach it as C strings. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "daemon/requests.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int body_interpreter_create(const char *b, size_t n, json_t **req, json_t **err) {
        return request_interpreter(b, n, true, req, err);
}

static int body_interpreter_update(const char *b, size_t n, json_t **req, json_t **err) {
        return request_interpreter(b, n, false, req, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static int (*const bodies[])(const char *, size_t, json_t **, json_t **) = {
                request_session_create, request_context_create, request_command,
                request_key_create,     request_tenant_put,     request_secret_put,
                body_interpreter_create, body_interpreter_update,
        };
        for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
                json_t *req = NULL, *err = NULL;
                if (bodies[i]((const char *)data, size, &req, &err) == 0)
                        json_decref(req);
                else
                        json_decref(err);
        }
        struct exec_req er;
        json_t *req = NULL, *err = NULL;
        if (request_execute((const char *)data, size, &req, &er, &err) == 0)
                json_decref(req);
        else
                json_decref(err);
        char text[256];
        size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
        memcpy(text, data, n);
        text[n] = '\0';
        (void)request_valid_time(text);
        (void)request_valid_tenant(text);
        (void)request_valid_name(text);
        (void)request_valid_interpreter_name(text);
        (void)request_valid_secret_name(text);
        char norm[264];
        if (request_allow_entry(text, norm, sizeof(norm)) == 0 && strlen(norm) != strlen(text))
                __builtin_trap(); /* an accepted entry is only lower-cased */
        struct trace_ctx tc;
        if (request_traceparent(text, &tc) == 0 && (strlen(tc.trace_id) != 32 || strlen(tc.span_id) != 16))
                __builtin_trap(); /* an accepted header always yields whole ids */
        /* The stats query: the input's '\n'-separated parts as its parameters, in order. */
        const char *params[STATS_Q_COUNT] = {0};
        char *save = NULL, *part = strtok_r(text, "\n", &save);
        for (size_t i = 0; part && i < STATS_Q_COUNT; i++, part = strtok_r(NULL, "\n", &save))
                params[i] = part[0] == '-' && part[1] == '\0' ? NULL : part;
        struct stats_query q;
        json_t *qerr = NULL;
        if (request_stats_query(params, 1790000000, &q, &qerr) < 0)
                json_decref(qerr);
        return 0;
}
