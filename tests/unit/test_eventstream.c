/* test_eventstream: the AWS event-stream framing against byte vectors that botocore's own
 * decoder accepts (made with the reference encoder in docs/agentcore.md and checked with
 * botocore.eventstream.EventStreamBuffer), and every way a message can be malformed. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <zlib.h>

#include "daemon/eventstream.h"

/* headers :message-type=event, :event-type=result, :content-type=application/json;
 * payload {"isError":false} */
static const char result_hex[] =
        "0000006d0000004c7bea612e0d3a6d6573736167652d747970650700056576656e740b3a6576656e742d74797065070006"
        "726573756c740d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e7b2269734572726f7222"
        "3a66616c73657d5296f676";
/* every header type: t true, f false, b byte -2, s short -300, i int -70000,
 * l long -5000000000, y bytes 00 01 02, S string "hi", T timestamp 1700000000123, u uuid 00..0f */
static const char types_hex[] =
        "0000005e0000004e7365c254017400016601016202fe017303fed4016904fffeee90016c05fffffffed5fa0e00017906000300"
        "0102015307000268690154080000018bcfe5687b017509000102030405060708090a0b0c0d0e0f558390a8";

static int nibble(char c) { return c >= '0' && c <= '9' ? c - '0' : c - 'a' + 10; }

static size_t unhex(const char *hex, uint8_t *out) {
        size_t n = strlen(hex) / 2;
        for (size_t i = 0; i < n; i++)
                out[i] = (uint8_t)(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
        return n;
}

static void test_encode_matches_the_vector(void **state) {
        (void)state;
        uint8_t want[256];
        size_t n = unhex(result_hex, want);
        struct buf b;
        buf_init(&b, 1 << 20);
        const char *names[] = {":message-type", ":event-type", ":content-type"};
        const char *values[] = {"event", "result", "application/json"};
        assert_int_equal(es_encode(&b, names, values, 3, "{\"isError\":false}", 17), 0);
        assert_int_equal(b.len, n);
        assert_memory_equal(b.data, want, n);
        buf_free(&b);
}

static void test_decode_every_header_type(void **state) {
        (void)state;
        uint8_t msg[256];
        size_t n = unhex(types_hex, msg);
        struct es_message m;
        assert_int_equal(es_decode(msg, n, &m), 0);
        assert_int_equal(m.total_len, n);
        assert_int_equal(m.nheaders, 10);
        assert_int_equal(m.payload_len, 0);
        const struct {
                const char *name;
                uint8_t type;
                int64_t number;
        } want[] = {{"t", 0, 1},  {"f", 1, 0},      {"b", 2, -2}, {"s", 3, -300}, {"i", 4, -70000},
                    {"l", 5, -5000000000LL}, {"y", 6, 0}, {"S", 7, 0}, {"T", 8, 1700000000123LL}, {"u", 9, 0}};
        for (size_t i = 0; i < 10; i++) {
                assert_string_equal(m.headers[i].name, want[i].name);
                assert_int_equal(m.headers[i].type, want[i].type);
                if (want[i].type <= 5 || want[i].type == 8)
                        assert_true(m.headers[i].number == want[i].number);
        }
        assert_int_equal(m.headers[6].value_len, 3);
        assert_memory_equal(m.headers[6].value, "\x00\x01\x02", 3);
        char s[8];
        assert_string_equal(es_header_string(&m, "S", s, sizeof(s)), "hi");
        assert_null(es_header_string(&m, "y", s, sizeof(s))); /* bytes, not a string */
        assert_null(es_header_string(&m, "missing", s, sizeof(s)));
        assert_int_equal(m.headers[9].value_len, 16);
}

static void test_round_trip_and_streaming(void **state) {
        (void)state;
        struct buf b;
        buf_init(&b, 1 << 20);
        const char *names[] = {":message-type", ":exception-type", ":content-type"};
        const char *values[] = {"exception", "validationException", "application/json"};
        assert_int_equal(es_encode(&b, names, values, 3, "{\"message\":\"x\"}", 15), 0);
        assert_int_equal(es_encode(&b, names, values, 0, "", 0), 0); /* no headers, no payload */
        struct es_message m;
        /* Every prefix of the first message asks for more. */
        for (size_t cut = 0; cut < 16 + 15 + 65; cut++) {
                int r = es_decode((const uint8_t *)b.data, cut, &m);
                if (r == 0)
                        break;
                assert_int_equal(r, -EAGAIN);
        }
        assert_int_equal(es_decode((const uint8_t *)b.data, b.len, &m), 0);
        char v[64];
        assert_string_equal(es_header_string(&m, ":exception-type", v, sizeof(v)), "validationException");
        assert_int_equal(m.payload_len, 15);
        assert_memory_equal(m.payload, "{\"message\":\"x\"}", 15);
        size_t first = m.total_len;
        assert_int_equal(es_decode((const uint8_t *)b.data + first, b.len - first, &m), 0);
        assert_int_equal(m.nheaders, 0);
        assert_int_equal(m.total_len, ES_OVERHEAD);
        buf_free(&b);
}

static void test_malformed_messages_are_refused(void **state) {
        (void)state;
        uint8_t good[256], bad[256];
        size_t n = unhex(result_hex, good);
        struct es_message m;
        /* A flipped byte anywhere fails a CRC (prelude or message). */
        for (size_t i = 0; i < n; i++) {
                memcpy(bad, good, n);
                bad[i] ^= 0x40;
                int r = es_decode(bad, n, &m);
                if (r != -EBADMSG && r != -EAGAIN)
                        fail_msg("byte %zu flipped: %d", i, r);
        }
        /* Lengths that do not add up, with valid CRCs. */
        struct buf b;
        buf_init(&b, 1 << 20);
        const char *names[] = {"dup", "dup"};
        const char *values[] = {"a", "b"};
        assert_int_equal(es_encode(&b, names, values, 2, "", 0), 0);
        assert_int_equal(es_decode((const uint8_t *)b.data, b.len, &m), -EBADMSG); /* a name twice */
        buf_free(&b);
        const char *empty_name[] = {""};
        buf_init(&b, 1 << 20);
        assert_int_equal(es_encode(&b, empty_name, values, 1, "", 0), -EINVAL);
        buf_free(&b);
        uint8_t tiny[16] = {0, 0, 0, 15, 0, 0, 0, 0};
        uLong c = crc32(0L, tiny, 8);
        tiny[8] = (uint8_t)(c >> 24), tiny[9] = (uint8_t)(c >> 16), tiny[10] = (uint8_t)(c >> 8), tiny[11] = (uint8_t)c;
        assert_int_equal(es_decode(tiny, sizeof(tiny), &m), -EBADMSG); /* total below 16 */
        uint8_t huge[16] = {0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 0};
        c = crc32(0L, huge, 8);
        huge[8] = (uint8_t)(c >> 24), huge[9] = (uint8_t)(c >> 16), huge[10] = (uint8_t)(c >> 8), huge[11] = (uint8_t)c;
        assert_int_equal(es_decode(huge, sizeof(huge), &m), -EBADMSG); /* payload over 24 MiB */
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_encode_matches_the_vector),
                cmocka_unit_test(test_decode_every_header_type),
                cmocka_unit_test(test_round_trip_and_streaming),
                cmocka_unit_test(test_malformed_messages_are_refused),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
