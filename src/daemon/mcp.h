/* mcp: the Model Context Protocol server on Airlock sessions (docs/mcp.md), the Streamable
 * HTTP transport's POST and DELETE on /mcp. http.c authenticates (Bearer key, as for the
 * REST API), checks the Origin and moves bytes; this keeps the MCP sessions (each bound
 * to the key that initialized it), answers the JSON-RPC messages and runs the tools on the
 * session layer, as agentcore.c does for its API. `airlock mcp` (src/cli/cmd_mcp.c)
 * bridges stdio to the same endpoint. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "daemon/daemon.h"
#include "daemon/mcp_proto.h"

#define MCP_SESSIONS_MAX 4096       /* MCP sessions in memory, all keys together */
#define MCP_SESSIONS_PER_KEY 256    /* past it, the key's least recently used one goes */
#define MCP_SESSIONS_PER_TENANT 1024 /* past it, the tenant's least recently used one goes */
#define MCP_IDLE_SECONDS (8 * 3600) /* an MCP session unused this long ends */

struct mcp_request {
        const char *method;           /* "POST" or "DELETE" */
        const char *session_id;       /* Mcp-Session-Id, or NULL */
        const char *protocol_version; /* MCP-Protocol-Version, or NULL */
        const char *accept;           /* Accept, or NULL */
        const char *body;
        size_t body_len;
        const struct identity *who;
        const char *request_id;
};

struct mcp_reply {
        unsigned status;
        json_t *json;        /* the body (application/json), or NULL for none */
        char session_id[48]; /* Mcp-Session-Id to send back (initialize), or "" */
};

/* Answer one request; the reply is the caller's (mcp_reply_free). */
void mcp_handle(const struct mcp_request *req, struct mcp_reply *reply);
void mcp_reply_free(struct mcp_reply *reply);
/* End the MCP sessions idle past MCP_IDLE_SECONDS, stopping their default sessions (the
 * daemon's one-second tick). */
void mcp_reap(void);
/* Forget every MCP session (shutdown: the sessions themselves are stopped by the session
 * layer). */
void mcp_stop_all(void);
