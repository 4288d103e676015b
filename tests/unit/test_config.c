/* test_config: the daemon's settings from YAML, the environment and flags; every bad value
 * refused with its source and key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "daemon/config.h"

static int parse(struct config *c, const char *yaml, struct diag *d) {
        config_defaults(c);
        memset(d, 0, sizeof(*d));
        return config_parse_yaml(c, yaml, strlen(yaml), "test.yaml", d);
}

static void test_defaults_and_yaml(void **state) {
        (void)state;
        struct config c;
        struct diag d;
        config_defaults(&c);
        assert_string_equal(c.listen, "127.0.0.1:8470");
        assert_string_equal(c.secrets_key_file, "");
        assert_string_equal(c.otlp_endpoint, "");
        assert_int_equal(parse(&c,
                               "listen: 0.0.0.0:9000\npool_size: 2\nsecrets_key_file: /etc/airlock/secrets.key\n"
                               "tls_cert_file: /etc/airlock/cert.pem\ntls_key_file: /etc/airlock/key.pem\n"
                               "otlp_endpoint: http://127.0.0.1:4318\n",
                               &d),
                         0);
        assert_string_equal(c.listen, "0.0.0.0:9000");
        assert_int_equal(c.pool_size, 2);
        assert_string_equal(c.secrets_key_file, "/etc/airlock/secrets.key");
        assert_string_equal(c.tls_cert_file, "/etc/airlock/cert.pem");
        assert_string_equal(c.tls_key_file, "/etc/airlock/key.pem");
        assert_string_equal(c.otlp_endpoint, "http://127.0.0.1:4318");
        assert_string_equal(c.mcp_allowed_origins, "");
        assert_int_equal(parse(&c, "mcp_allowed_origins: \"https://app.example.com:8443, http://[fd00::1]\"\n", &d), 0);
        assert_string_equal(c.mcp_allowed_origins, "https://app.example.com:8443, http://[fd00::1]");
        assert_int_equal(parse(&c, "mcp_allowed_origins: \"*\"\n", &d), 0);
        assert_string_equal(c.mcp_allowed_origins, "*");
        /* the warm pool's preload: the data stack by default, a list, or none */
        config_defaults(&c);
        assert_string_equal(c.pool_preload, "numpy,pandas,matplotlib.pyplot");
        assert_int_equal(parse(&c, "pool_preload: polars,duckdb,sklearn.linear_model,_x1\n", &d), 0);
        assert_string_equal(c.pool_preload, "polars,duckdb,sklearn.linear_model,_x1");
        assert_int_equal(parse(&c, "pool_preload: none\n", &d), 0);
        assert_string_equal(c.pool_preload, "");
        assert_int_equal(parse(&c, "pool_preload: \"\"\n", &d), 0);
        assert_string_equal(c.pool_preload, "");
}

static void test_bad_values_name_source_and_key(void **state) {
        (void)state;
        struct config c;
        struct diag d;
        static const struct {
                const char *yaml, *field, *needle;
        } bad[] = {
                {"secrets_key_file: relative/key\n", "secrets_key_file", "absolute path"},
                {"tls_cert_file: cert.pem\n", "tls_cert_file", "absolute path"},
                {"otlp_endpoint: grpc://collector:4317\n", "otlp_endpoint", "http:// or https://"},
                {"otlp_endpoint: \"http://a b\"\n", "otlp_endpoint", "http:// or https://"},
                {"pool_size: 65\n", "pool_size", "0 to 64"},
                {"pool_preload: \"numpy, pandas\"\n", "pool_preload", "module names"},
                {"pool_preload: \"os;import shutil\"\n", "pool_preload", "module names"},
                {"pool_preload: numpy,\n", "pool_preload", "module names"},
                {"pool_preload: .numpy\n", "pool_preload", "module names"},
                {"pool_preload: a..b\n", "pool_preload", "module names"},
                {"pool_preload: 1numpy\n", "pool_preload", "module names"},
                {"pool_preload: a.b.c.d.e.f.g.h.i\n", "pool_preload", "module names"},
                {"pool_preload: a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,r,s,t,u,v,w,x,y,z,aa,bb,cc,dd,ee,ff,gg\n", "pool_preload",
                 "at most 32"},
                {"colour: blue\n", "colour", "unknown setting 'colour'"},
                {"mcp_allowed_origins: app.example.com\n", "mcp_allowed_origins", "comma-separated origins"},
                {"mcp_allowed_origins: https://a.example/path\n", "mcp_allowed_origins", "no path"},
                {"mcp_allowed_origins: \"https://a.example, ftp://b\"\n", "mcp_allowed_origins", "scheme"},
        };
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
                assert_true(parse(&c, bad[i].yaml, &d) < 0);
                assert_string_equal(d.field, bad[i].field);
                if (!strstr(d.msg, bad[i].needle) || !strstr(d.msg, "test.yaml"))
                        fail_msg("%s: message '%s'", bad[i].yaml, d.msg);
        }
}

static void test_environment_overrides_the_file(void **state) {
        (void)state;
        struct config c;
        struct diag d;
        assert_int_equal(parse(&c, "otlp_endpoint: http://127.0.0.1:4318\n", &d), 0);
        setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9999", 1);
        setenv("AIRLOCK_SECRETS_KEY_FILE", "/run/credentials/airlock/key", 1);
        assert_int_equal(config_from_env(&c, &d), 0);
        assert_string_equal(c.otlp_endpoint, "http://127.0.0.1:9999");
        assert_string_equal(c.secrets_key_file, "/run/credentials/airlock/key");
        setenv("AIRLOCK_TLS_KEY_FILE", "key.pem", 1);
        assert_true(config_from_env(&c, &d) < 0);
        assert_non_null(strstr(d.msg, "AIRLOCK_TLS_KEY_FILE"));
        unsetenv("AIRLOCK_TLS_KEY_FILE");
        unsetenv("OTEL_EXPORTER_OTLP_ENDPOINT");
        unsetenv("AIRLOCK_SECRETS_KEY_FILE");
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_defaults_and_yaml),
                cmocka_unit_test(test_bad_values_name_source_and_key),
                cmocka_unit_test(test_environment_overrides_the_file),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
