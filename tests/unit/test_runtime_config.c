/* runtime_config: what `airlock runtimes build` accepts, and which package a failed build's
 * log blames. Every refusal names the config's field. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "runtime/runtime_config.h"

static void expect_refused(const char *text, const char *field, const char *words) {
        json_t *cfg = NULL;
        struct diag d = {0};
        assert_int_equal(runtime_config_parse(text, strlen(text), &cfg, &d), -EINVAL);
        assert_null(cfg);
        assert_string_equal(d.field, field);
        if (!strstr(d.msg, words))
                fail_msg("'%s': message '%s' lacks '%s'", text, d.msg, words);
}

static void test_accepts_the_seed_example(void **state) {
        (void)state;
        const char *text = "{\"language\": \"python3.11\", \"packages\": [\"pandas\", \"numpy\", \"matplotlib\"],"
                           " \"environment\": {\"CUSTOM_VAR\": \"value\"}}";
        json_t *cfg = NULL;
        struct diag d = {0};
        assert_int_equal(runtime_config_parse(text, strlen(text), &cfg, &d), 0);
        assert_int_equal(runtime_config_check_language(cfg, "python3.11", &d), 0);
        assert_int_equal(runtime_config_check_language(cfg, "python3.12", &d), -EINVAL);
        assert_string_equal(d.field, "language");
        assert_non_null(strstr(d.msg, "this host's python is python3.12"));
        json_decref(cfg);
        text = "{\"packages\": [\"polars>=1,<3\", \"httpx[http2]==0.28.1\"], \"npm_packages\": [\"@scope/pkg@^1\","
               " \"lodash\", \"http://127.0.0.1:9/x.tgz\"], \"apt\": [\"libgomp1\", \"g++\"], \"index_url\":"
               " \"https://pypi.example/simple\", \"extra_index_urls\": [\"http://127.0.0.1:1/simple\"],"
               " \"description\": \"d\"}";
        assert_int_equal(runtime_config_parse(text, strlen(text), &cfg, &d), 0);
        assert_int_equal(runtime_config_check_language(cfg, "python3.11", &d), 0); /* none given: the host's */
        json_decref(cfg);
}

static void test_refusals_name_the_field(void **state) {
        (void)state;
        expect_refused("[]", "config", "a JSON object");
        expect_refused("{\"packages\": [\"x\"]", "config", "not JSON");
        expect_refused("{\"packages\": [\"x\"], \"packages\": [\"y\"]}", "config", "not JSON");
        expect_refused("{\"packages\": [\"x\"], \"pip\": []}", "config", "unknown field 'pip'");
        expect_refused("{\"language\": \"python2\", \"packages\": [\"x\"]}", "language", "python3.X");
        expect_refused("{\"language\": \"python3.\", \"packages\": [\"x\"]}", "language", "python3.X");
        expect_refused("{\"language\": \"python3.1a\", \"packages\": [\"x\"]}", "language", "python3.X");
        expect_refused("{\"packages\": \"x\"}", "packages", "an array");
        expect_refused("{\"packages\": [\"ok\", \"-r/etc/passwd\"]}", "packages[1]", "a pip requirement");
        expect_refused("{\"packages\": [\"\"]}", "packages[0]", "a pip requirement");
        expect_refused("{\"packages\": [\"a\\nb\"]}", "packages[0]", "a pip requirement");
        expect_refused("{\"packages\": [\"a$(id)\"]}", "packages[0]", "a pip requirement");
        expect_refused("{\"packages\": [7]}", "packages[0]", "not a string");
        expect_refused("{\"npm_packages\": [\"--global\"]}", "npm_packages[0]", "an npm package");
        expect_refused("{\"apt\": [\"Bad\"]}", "apt[0]", "a Debian package name");
        expect_refused("{\"apt\": [\"a b\"]}", "apt", "a Debian package name");
        expect_refused("{\"environment\": []}", "environment", "an object");
        expect_refused("{\"environment\": {\"1X\": \"v\"}}", "environment.1X", "a name is");
        expect_refused("{\"environment\": {\"PATH\": \"/x\"}}", "environment.PATH", "set by Airlock");
        expect_refused("{\"environment\": {\"LD_PRELOAD\": \"/x\"}}", "environment.LD_PRELOAD", "set by Airlock");
        expect_refused("{\"environment\": {\"AIRLOCK_X\": \"1\"}}", "environment.AIRLOCK_X", "set by Airlock");
        expect_refused("{\"environment\": {\"X\": 1}}", "environment.X", "a string");
        expect_refused("{\"environment\": {\"X\": \"a\\u0000b\"}}", "config", "not JSON"); /* no NUL */
        expect_refused("{\"packages\": [\"x\"], \"index_url\": \"file:///etc\"}", "index_url", "http://");
        expect_refused("{\"packages\": [\"x\"], \"index_url\": \"http://a b\"}", "index_url", "http://");
        expect_refused("{\"packages\": [\"x\"], \"extra_index_urls\": \"http://a\"}", "extra_index_urls", "an array");
        expect_refused("{\"packages\": [\"x\"], \"extra_index_urls\": [\"x\"]}", "extra_index_urls", "[0]");
        expect_refused("{\"packages\": [\"x\"], \"description\": 1}", "description", "a string");
        expect_refused("{\"language\": \"python3\"}", "packages", "adds nothing");
}

static void expect_blame(const char *log, const char *pkg, const char *why) {
        char p[128], w[96];
        assert_int_equal(runtime_failure_package(log, strlen(log), p, sizeof(p), w, sizeof(w)), 0);
        assert_string_equal(p, pkg);
        if (!strstr(w, why))
                fail_msg("'%s' lacks '%s'", w, why);
}

static void test_failure_names_the_package(void **state) {
        (void)state;
        expect_blame("Collecting polars\nERROR: Could not find a version that satisfies the requirement "
                     "airlock-nope>=1 (from versions: none)\nERROR: No matching distribution found for airlock-nope>=1\n",
                     "airlock-nope", "was not found in the package index");
        expect_blame("ERROR: No matching distribution found for Foo_Bar.baz\n", "Foo_Bar.baz", "not found");
        expect_blame("  Building wheel for evil (pyproject.toml) ... error\n  error: subprocess-exited-with-error\n"
                     "  ERROR: Failed building wheel for evil\nFailed to build evil\n",
                     "evil", "failed to build");
        expect_blame("ERROR: Invalid requirement: 'x=1'\n", "x", "not a valid pip requirement");
        expect_blame("npm error code E404\nnpm error 404 Not Found - GET https://registry/airlock-nope-js - Not found\n"
                     "npm error 404\nnpm error 404  'airlock-nope-js@*' is not in this registry.\n",
                     "airlock-nope-js", "npm registry");
        expect_blame("npm ERR! 404  '@scope/thing@^2.0.0' is not in this registry.\n", "@scope/thing", "npm registry");
        expect_blame("npm error notarget No matching version found for lodash@99.\n", "lodash", "no matching version");
        /* Control: a log that blames no package says so. */
        char p[128], w[96];
        const char *log = "airlock-build: step venv failed (exit 1)\nError: [Errno 28] No space left on device\n";
        assert_int_equal(runtime_failure_package(log, strlen(log), p, sizeof(p), w, sizeof(w)), -ENOENT);
        assert_int_equal(runtime_failure_package("", 0, p, sizeof(p), w, sizeof(w)), -ENOENT);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_accepts_the_seed_example),
                cmocka_unit_test(test_refusals_name_the_field),
                cmocka_unit_test(test_failure_names_the_package),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
