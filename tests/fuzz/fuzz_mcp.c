/* Fuzz target: the MCP server's parsing of what a client sends (src/daemon/mcp_proto.c):
 * the body of a POST /mcp (JSON, nesting, JSON-RPC messages and batches), every tool's
 * argument checks on whatever arguments it holds, the error replies made from it, and the
 * Accept, Origin and MCP-Protocol-Version headers. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/mcp_proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void message(json_t *msg) {
        struct mcp_msg m;
        mcp_classify(msg, &m);
        /* Every refusal must make a reply that serializes (a lost reply is a closed connection). */
        json_t *reply = mcp_error(m.id, m.kind == MCP_INVALID ? m.error_code : MCP_METHOD_NOT_FOUND, "%s: %s",
                                  m.error, m.method ? m.method : "");
        char *text = reply ? json_dumps(reply, JSON_COMPACT) : NULL;
        if (!text)
                __builtin_trap();
        free(text);
        json_decref(reply);
        if (m.kind != MCP_REQUEST || !json_is_object(m.params))
                return;
        if (!strcmp(m.method, "initialize")) {
                const char *v = mcp_negotiate(json_string_value(json_object_get(m.params, "protocolVersion")));
                if (!mcp_version_supported(v))
                        __builtin_trap(); /* the answer is always a version we speak */
        }
        json_t *args = json_object_get(m.params, "arguments");
        char why[512];
        for (int t = 0; t < MCP_T_COUNT; t++)
                if (mcp_check_args(t, args, why, sizeof(why)) < 0 && !why[0])
                        __builtin_trap(); /* a refusal always says why */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        char why[256];
        json_t *body = mcp_parse((const char *)data, size, why, sizeof(why));
        if (body && json_is_array(body)) {
                size_t i;
                json_t *one;
                json_array_foreach(body, i, one) {
                        message(one);
                }
        } else if (body) {
                message(body);
        } else if (!why[0]) {
                __builtin_trap();
        }
        json_decref(body);
        /* The headers, as C strings. */
        char text[1024];
        size_t n = size < sizeof(text) - 1 ? size : sizeof(text) - 1;
        memcpy(text, data, n);
        text[n] = '\0';
        (void)mcp_accepts_json(text);
        (void)mcp_origin_allowed(text, NULL);
        (void)mcp_origin_allowed(text, "https://app.example.com:8443, http://[fd00::1]");
        (void)mcp_origin_allowed("https://app.example.com", text); /* the operator's list, too */
        if (mcp_version_supported(text) && strcmp(mcp_negotiate(text), text) != 0)
                __builtin_trap();
        return 0;
}
