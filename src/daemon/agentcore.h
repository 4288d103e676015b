/* agentcore: the AgentCore Code Interpreter data plane on Airlock sessions
 * (docs/agentcore.md). http.c authenticates (SigV4) and moves bytes; this maps the
 * operations onto sessions, executions, commands, tasks and workspace files, and shapes
 * the replies and errors as botocore and the AWS SDK for JavaScript expect them. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "common/buf.h"
#include "daemon/daemon.h"

#define AGENTCORE_BODY_MAX (140u << 20) /* 100 MB of files, base64 in JSON */

struct ac_request {
        const char *method;
        const char *path;                  /* decoded, no query */
        const char *(*query)(void *ctx, const char *name);
        const char *session_header;        /* x-amzn-code-interpreter-session-id */
        void *ctx;
        const char *body;
        size_t body_len;
        const struct identity *who;
        const char *request_id;
        const char *region; /* the SigV4 credential scope's, for ARNs ("us-east-1" unsigned) */
};

struct ac_reply {
        unsigned status;
        char error_type[48]; /* x-amzn-ErrorType when status >= 400 */
        json_t *json;        /* the body, unless stream */
        bool is_stream;      /* InvokeCodeInterpreter: stream holds event-stream messages */
        struct buf stream;
        char session_id[48]; /* echoed in x-amzn-code-interpreter-session-id */
};

bool agentcore_path(const char *path);
/* Handle one request; reply is filled (and owned by the caller: ac_reply_free). */
void agentcore_handle(const struct ac_request *req, struct ac_reply *reply);
void ac_reply_free(struct ac_reply *reply);
/* An error reply, as the HTTP layer needs one too (authentication). */
void agentcore_error(struct ac_reply *reply, unsigned status, const char *type, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
