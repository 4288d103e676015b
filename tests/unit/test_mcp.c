/* test_mcp: the MCP server's pure parts (src/daemon/mcp_proto.c): version negotiation, the
 * Accept and Origin checks, JSON-RPC parsing and classification, the tools' schemas and
 * their argument checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/mcp_proto.h"

static void test_versions(void **state) {
        (void)state;
        assert_string_equal(mcp_negotiate("2025-06-18"), "2025-06-18");
        assert_string_equal(mcp_negotiate("2025-03-26"), "2025-03-26");
        assert_string_equal(mcp_negotiate("2024-11-05"), "2024-11-05");
        assert_string_equal(mcp_negotiate("2026-07-28"), "2025-11-25");
        assert_string_equal(mcp_negotiate(""), "2025-11-25");
        assert_string_equal(mcp_negotiate(NULL), "2025-11-25");
        assert_true(mcp_version_supported("2025-11-25"));
        assert_false(mcp_version_supported("2025-11-25 "));
        assert_false(mcp_version_supported(NULL));
        assert_true(mcp_version_at_least("2025-11-25", "2025-06-18"));
        assert_true(mcp_version_at_least("2025-06-18", "2025-06-18"));
        assert_false(mcp_version_at_least("2025-03-26", "2025-06-18"));
        assert_false(mcp_version_at_least("2099-01-01", "2025-06-18")); /* unknown: the least */
}

static void test_accept(void **state) {
        (void)state;
        static const struct {
                const char *accept;
                bool ok;
        } cases[] = {
                {"application/json, text/event-stream", true},
                {"text/event-stream, application/json", true},
                {"APPLICATION/JSON", true},
                {"*/*", true},
                {"application/*;q=0.5", true},
                {"text/html, application/json ;charset=utf-8", true},
                {"text/event-stream", false},
                {"text/html", false},
                {"application/json;q=0", false},
                {"application/json; q=0.000, text/event-stream", false},
                {"application/json;q=0.001", true},
                {"application/jsonx", false},
                {"", false},
                {",,,", false},
                {" ; ;q=0", false},
        };
        assert_true(mcp_accepts_json(NULL));
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                if (mcp_accepts_json(cases[i].accept) != cases[i].ok)
                        fail_msg("Accept '%s': expected %d", cases[i].accept, cases[i].ok);
}

static void test_origin(void **state) {
        (void)state;
        static const struct {
                const char *origin, *allowed;
                bool ok;
        } cases[] = {
                {"http://localhost", NULL, true},
                {"http://LOCALHOST:6274", NULL, true},
                {"https://127.0.0.1:8443", NULL, true},
                {"http://127.200.1.2", NULL, true},
                {"http://[::1]:80", NULL, true},
                {"null", NULL, false},
                {"", NULL, false},
                {"http://localhost.evil.example", NULL, false},
                {"http://127.0.0.1.nip.io", NULL, false},
                {"http://localhost:3000/x", NULL, false},
                {"http://localhost:", NULL, false},
                {"http://localhost:123456", NULL, false},
                {"ftp://localhost", NULL, false},
                {"http://10.0.0.1", NULL, false},
                {"http://[::2]", NULL, false},
                {"http://[::1", NULL, false},
                {"http://[", NULL, false},
                {"https://app.example.com", "https://app.example.com, http://b:81", true},
                {"HTTPS://APP.EXAMPLE.COM", "https://app.example.com", true},
                {"http://b:81", "https://app.example.com,http://b:81", true},
                {"http://b", "https://app.example.com, http://b:81", false},
                {"https://app.example.com.evil", "https://app.example.com", false},
                {"https://app.example", "https://app.example.com", false},
                {"https://anything", "*", true},
                {"null", " * ", true},
                {"https://x", "", false},
                {"https://x", ",,", false},
        };
        assert_true(mcp_origin_allowed(NULL, NULL));
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
                if (mcp_origin_allowed(cases[i].origin, cases[i].allowed) != cases[i].ok)
                        fail_msg("Origin '%s' with '%s': expected %d", cases[i].origin,
                                 cases[i].allowed ? cases[i].allowed : "(none)", cases[i].ok);
}

static void test_parse(void **state) {
        (void)state;
        char why[256];
        assert_null(mcp_parse("", 0, why, sizeof(why)));
        assert_non_null(strstr(why, "empty"));
        assert_null(mcp_parse("{x", 2, why, sizeof(why)));
        assert_non_null(strstr(why, "not valid JSON"));
        assert_null(mcp_parse("{\"a\":1,\"a\":2}", 13, why, sizeof(why))); /* duplicate keys */
        char deep[200];
        memset(deep, '[', 65);
        memset(deep + 65, ']', 65);
        assert_null(mcp_parse(deep, 130, why, sizeof(why)));
        assert_non_null(strstr(why, "64 levels"));
        json_t *j = mcp_parse(deep + 1, 128, why, sizeof(why)); /* 64 deep: fine */
        assert_non_null(j);
        json_decref(j);
        /* brackets inside strings are not nesting */
        const char *s = "{\"a\": \"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\\\"\"}";
        assert_non_null(j = mcp_parse(s, strlen(s), why, sizeof(why)));
        json_decref(j);
        assert_non_null(j = mcp_parse("5", 1, why, sizeof(why))); /* a scalar parses; it is classified invalid */
        struct mcp_msg m;
        mcp_classify(j, &m);
        assert_int_equal(m.kind, MCP_INVALID);
        assert_int_equal(m.error_code, MCP_INVALID_REQUEST);
        json_decref(j);
}

static struct mcp_msg classify(const char *text, json_t **keep) {
        json_error_t e;
        *keep = json_loads(text, 0, &e);
        assert_non_null(*keep);
        struct mcp_msg m;
        mcp_classify(*keep, &m);
        return m;
}

static void test_classify(void **state) {
        (void)state;
        json_t *j;
        struct mcp_msg m = classify("{\"jsonrpc\":\"2.0\",\"id\":7,\"method\":\"tools/list\",\"params\":{}}", &j);
        assert_int_equal(m.kind, MCP_REQUEST);
        assert_string_equal(m.method, "tools/list");
        assert_int_equal(json_integer_value(m.id), 7);
        assert_true(json_is_object(m.params));
        json_decref(j);
        m = classify("{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}", &j);
        assert_int_equal(m.kind, MCP_NOTIFICATION);
        assert_null(m.id);
        json_decref(j);
        m = classify("{\"jsonrpc\":\"2.0\",\"id\":\"a\",\"result\":{}}", &j);
        assert_int_equal(m.kind, MCP_RESPONSE);
        json_decref(j);
        m = classify("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":1,\"message\":\"x\"}}", &j);
        assert_int_equal(m.kind, MCP_RESPONSE);
        json_decref(j);
        static const char *const invalid[] = {
                "{\"id\":1,\"method\":\"ping\"}",
                "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"ping\"}",
                "{\"jsonrpc\":2.0,\"id\":1,\"method\":\"ping\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":null,\"method\":\"ping\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":1.5,\"method\":\"ping\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":[1],\"method\":\"ping\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}",
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"\"}",
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"ping\",\"result\":{}}",
                "{\"jsonrpc\":\"2.0\",\"id\":1}",
                "{\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{},\"error\":{}}",
                "{\"jsonrpc\":\"2.0\",\"result\":{}}",
                "[]",
        };
        for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
                m = classify(invalid[i], &j);
                if (m.kind != MCP_INVALID || m.error_code != MCP_INVALID_REQUEST || !m.error[0])
                        fail_msg("%s: not refused as an invalid request", invalid[i]);
                json_decref(j);
        }
        /* a usable id stays known, for the error reply */
        m = classify("{\"jsonrpc\":\"1.0\",\"id\":\"x\",\"method\":\"ping\"}", &j);
        assert_string_equal(json_string_value(m.id), "x");
        json_decref(j);
        char longid[400];
        snprintf(longid, sizeof(longid), "{\"jsonrpc\":\"2.0\",\"id\":\"%0300d\",\"method\":\"ping\"}", 0);
        m = classify(longid, &j);
        assert_int_equal(m.kind, MCP_INVALID);
        assert_null(m.id);
        json_decref(j);
}

static void test_replies(void **state) {
        (void)state;
        json_t *id = json_integer(3);
        json_t *e = mcp_error(id, MCP_METHOD_NOT_FOUND, "Method not found: %s", "x\xff\xfe");
        assert_non_null(e); /* invalid UTF-8 in what is quoted: replaced, not lost */
        assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "error"), "code")), -32601);
        assert_int_equal(json_integer_value(json_object_get(e, "id")), 3);
        json_decref(e);
        e = mcp_error(NULL, MCP_PARSE_ERROR, "x");
        assert_true(json_is_null(json_object_get(e, "id")));
        json_decref(e);
        json_t *r = mcp_response(id, json_pack("{s:b}", "ok", 1));
        assert_string_equal(json_string_value(json_object_get(r, "jsonrpc")), "2.0");
        assert_true(json_is_true(json_object_get(json_object_get(r, "result"), "ok")));
        json_decref(r);
        json_decref(id);
}

static void test_tools_list(void **state) {
        (void)state;
        json_t *list = mcp_tools_list("2025-11-25"), *t;
        json_t *tools = json_object_get(list, "tools");
        assert_int_equal(json_array_size(tools), MCP_T_COUNT);
        size_t i;
        json_array_foreach(tools, i, t) {
                const char *name = json_string_value(json_object_get(t, "name"));
                assert_int_equal(mcp_tool_of(name), (int)i);
                assert_string_equal(mcp_tool_name((int)i), name);
                json_t *in = json_object_get(t, "inputSchema");
                assert_string_equal(json_string_value(json_object_get(in, "type")), "object");
                size_t k;
                json_t *req;
                json_array_foreach(json_object_get(in, "required"), k, req) {
                        assert_non_null(json_object_get(json_object_get(in, "properties"), json_string_value(req)));
                }
                json_t *out = json_object_get(t, "outputSchema");
                assert_int_equal(out != NULL, mcp_tool_structured((int)i)); /* every schema parses */
                if (out)
                        assert_string_equal(json_string_value(json_object_get(out, "type")), "object");
                assert_non_null(json_object_get(t, "annotations"));
                assert_non_null(json_object_get(t, "title"));
                assert_true(strlen(json_string_value(json_object_get(t, "description"))) > 100);
        }
        json_decref(list);
        list = mcp_tools_list("2025-03-26");
        json_array_foreach(json_object_get(list, "tools"), i, t) {
                assert_null(json_object_get(t, "outputSchema"));
                assert_null(json_object_get(t, "title"));
                assert_non_null(json_object_get(t, "annotations"));
        }
        json_decref(list);
        list = mcp_tools_list("2024-11-05");
        json_array_foreach(json_object_get(list, "tools"), i, t) {
                assert_null(json_object_get(t, "annotations"));
        }
        json_decref(list);
        assert_int_equal(mcp_tool_of("nope"), -1);
        assert_int_equal(mcp_tool_of(NULL), -1);
}

static void test_check_args(void **state) {
        (void)state;
        static const struct {
                const char *tool, *args, *error; /* error: NULL when accepted, else a part of the message */
        } cases[] = {
                {"run_code", "{\"code\": \"1\"}", NULL},
                {"run_code", "{}", "'code' is required"},
                {"run_code", "{\"code\": 1}", "'code' must be a string"},
                {"run_code", "{\"code\": \"1\", \"language\": \"cobol\"}", "python, javascript"},
                {"run_code", "{\"code\": \"1\", \"language\": \"bash\", \"context_id\": \"sh-1\"}", NULL},
                {"run_code", "{\"code\": \"1\", \"context_id\": \"a b\"}", "'context_id'"},
                {"run_code", "{\"code\": \"1\", \"timeout_seconds\": 0}", "from 0.1 to 3600"},
                {"run_code", "{\"code\": \"1\", \"timeout_seconds\": 0.1}", NULL},
                {"run_code", "{\"code\": \"1\", \"timeout_seconds\": \"5\"}", "'timeout_seconds' must be a number"},
                {"run_code", "{\"code\": \"1\", \"session_id\": \"sess_abc\"}", "a session id"},
                {"run_code", "{\"code\": \"1\", \"session_id\": \"sess_0123456789abcdefghijklmnop\"}", NULL},
                {"run_code", "{\"code\": \"1\", \"session_id\": \"sess_0123456789abcdefghijklmnoP\"}", "a session id"},
                {"run_code", "{\"cod\": \"1\"}", "no argument 'cod' (its arguments: code, language"},
                {"run_code", "[]", "must be an object"},
                {"run_command", "{\"command\": \"\"}", "must not be empty"},
                {"run_command", "{\"command\": \"ls\", \"cwd\": \"/tmp\", \"timeout_seconds\": 86400}", NULL},
                {"read_file", "{\"path\": \"../etc/passwd\"}", "a file path inside /workspace"},
                {"read_file", "{\"path\": \"/etc/passwd\"}", "a file path"},
                {"read_file", "{\"path\": \"/workspace/a/b.txt\"}", NULL},
                {"read_file", "{\"path\": \"\"}", "a file path"},
                {"read_file", "{\"path\": \"./a\"}", NULL},
                {"list_files", "{\"path\": \"\"}", NULL},
                {"list_files", "{\"path\": \"/workspace\"}", NULL},
                {"list_files", "{\"path\": \"a/../b\"}", "a directory inside /workspace"},
                {"write_file", "{\"path\": \"a\", \"content\": \"\"}", NULL},
                {"write_file", "{\"path\": \"a\"}", "'content' is required"},
                {"write_file", "{\"path\": \"a\", \"content\": \"x\", \"encoding\": \"hex\"}", "text or base64"},
                {"create_session", "{\"timeout_seconds\": 1.5}", "a whole number from 1 to 28800"},
                {"create_session", "{\"interpreter\": \"1abc\"}", "an interpreter's name"},
                {"create_session", "{\"interpreter\": \"analyst\", \"timeout_seconds\": 60}", NULL},
                {"list_sessions", "{}", NULL},
                {"list_sessions", "{\"x\": 1}", "it takes none"},
                {"stop_session", "{}", "'session_id' is required"},
        };
        char why[512];
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
                json_error_t e;
                json_t *args = json_loads(cases[i].args, JSON_DECODE_ANY, &e);
                assert_non_null(args);
                why[0] = '\0';
                int r = mcp_check_args(mcp_tool_of(cases[i].tool), args, why, sizeof(why));
                if (cases[i].error ? r == 0 || !strstr(why, cases[i].error) : r != 0)
                        fail_msg("%s %s: got %d '%s'", cases[i].tool, cases[i].args, r, why);
                json_decref(args);
        }
        assert_int_equal(mcp_check_args(mcp_tool_of("list_files"), NULL, why, sizeof(why)), 0);
        assert_true(mcp_check_args(-1, NULL, why, sizeof(why)) < 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_versions),  cmocka_unit_test(test_accept),     cmocka_unit_test(test_origin),
                cmocka_unit_test(test_parse),     cmocka_unit_test(test_classify),   cmocka_unit_test(test_replies),
                cmocka_unit_test(test_tools_list), cmocka_unit_test(test_check_args),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
