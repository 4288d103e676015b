/* mcp_proto: the Model Context Protocol's messages and tools, parsed and checked
 * (docs/mcp.md). Pure (jansson, the workspace-path rules; no HTTP, no sessions), so it is
 * fuzzed (tests/fuzz/fuzz_mcp.c) and unit-tested (tests/unit/test_mcp.c); mcp.c acts on
 * what it accepts. */
#pragma once
#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#define MCP_BODY_MAX (24u << 20) /* a POST: 16 MiB of code, or ~17 MiB of file as base64 */
#define MCP_DEPTH_MAX 64          /* JSON nesting, as for the REST API */
#define MCP_VALUES_MAX 65536      /* JSON values (keys, elements) in one message */
#define MCP_BATCH_MAX 32          /* messages in one JSON-RPC batch (2025-03-26 only) */
#define MCP_ID_MAX 256            /* bytes of a request id that is a string */
#define MCP_METHOD_MAX 128
#define MCP_READ_MAX (8u << 20)   /* read_file: bytes of one file */

/* JSON-RPC 2.0 error codes, and the two the MCP reference servers use for transport-level
 * refusals (no session, unknown session). */
enum {
        MCP_PARSE_ERROR = -32700,
        MCP_INVALID_REQUEST = -32600,
        MCP_METHOD_NOT_FOUND = -32601,
        MCP_INVALID_PARAMS = -32602,
        MCP_INTERNAL_ERROR = -32603,
        MCP_SERVER_ERROR = -32000,
        MCP_SESSION_NOT_FOUND = -32001,
};

/* ---- protocol versions ---- */

/* The versions this server speaks, oldest first, NULL-terminated. */
extern const char *const mcp_versions[];
bool mcp_version_supported(const char *v);
/* What to answer an initialize with: the client's version when supported, else the newest. */
const char *mcp_negotiate(const char *requested);
/* v is a supported version at least as new as min (a supported version). */
bool mcp_version_at_least(const char *v, const char *min);

/* ---- HTTP headers ---- */

/* Whether an Accept header admits application/json (absent: anything goes). */
bool mcp_accepts_json(const char *accept);
/* Whether a request with this Origin header may be served: no Origin (not a browser), a
 * loopback origin (http or https, localhost, 127.0.0.0/8 or [::1], any port), or one of
 * `allowed`, the operator's comma-separated origins ("*" admits any). DNS rebinding makes
 * a hostile page's requests look like the host's own; only its Origin tells them apart. */
bool mcp_origin_allowed(const char *origin, const char *allowed);

/* ---- JSON-RPC messages ---- */

/* The body of a POST as JSON (an object, an array, or another value that mcp_classify
 * refuses), or NULL with the reason in why (empty, nested too deeply, not JSON). */
json_t *mcp_parse(const char *body, size_t len, char *why, size_t cap);

enum mcp_kind { MCP_REQUEST, MCP_NOTIFICATION, MCP_RESPONSE, MCP_INVALID };

struct mcp_msg {
        enum mcp_kind kind;
        json_t *id;         /* borrowed: a request's (string or integer), or an invalid one's if usable */
        const char *method; /* borrowed: requests and notifications */
        json_t *params;     /* borrowed, may be NULL: absent; otherwise whatever was sent */
        int error_code;     /* MCP_INVALID: the JSON-RPC error to answer */
        char error[192];
};

/* One message of a POST. */
void mcp_classify(json_t *msg, struct mcp_msg *ret);

/* {"jsonrpc": "2.0", "id": id (NULL: null), "error": {"code", "message"}}; id is borrowed. */
__attribute__((format(printf, 3, 4))) json_t *mcp_error(json_t *id, int code, const char *fmt, ...);
/* {"jsonrpc": "2.0", "id": id, "result": result}; result is taken. */
json_t *mcp_response(json_t *id, json_t *result);

/* ---- tools ---- */

enum mcp_tool {
        MCP_T_CREATE_SESSION,
        MCP_T_STOP_SESSION,
        MCP_T_LIST_SESSIONS,
        MCP_T_RUN_CODE,
        MCP_T_RUN_COMMAND,
        MCP_T_READ_FILE,
        MCP_T_WRITE_FILE,
        MCP_T_LIST_FILES,
        MCP_T_COUNT,
};

/* The tool a name names, or -1. */
int mcp_tool_of(const char *name);
const char *mcp_tool_name(int tool);
/* Whether the tool declares an outputSchema (then, from 2025-06-18 on, its results carry
 * structuredContent matching it). */
bool mcp_tool_structured(int tool);
/* The tools/list result for a negotiated version (fields the version lacks left out). */
json_t *mcp_tools_list(const char *version);
/* A tools/call's arguments (NULL: none) against the tool's input schema: 0, or -EINVAL
 * with a message for the model in why (which argument, what it must be). */
int mcp_check_args(int tool, json_t *args, char *why, size_t cap);
/* The server's instructions for the model (initialize). */
extern const char mcp_instructions[];
