/* utf8_seq and utf8_one_line: the rule every message that quotes caller input goes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "common/utf8.h"

static void one_line(const char *in, const char *want) {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", in);
        utf8_one_line(buf);
        assert_string_equal(buf, want);
}

static void test_valid_text_is_kept(void **state) {
        (void)state;
        one_line("no session sess_abc", "no session sess_abc");
        one_line("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
        one_line("", "");
}

static void test_controls_become_question_marks(void **state) {
        (void)state;
        one_line("a\rb\nc\td\x1b\x7f", "a?b?c?d??");
        one_line("nel\xc2\x85 nbsp\xc2\xa0", "nel? nbsp\xc2\xa0"); /* C1 goes, U+00A0 stays */
}

static void test_invalid_bytes_are_replaced_and_a_cut_tail_dropped(void **state) {
        (void)state;
        one_line("x\xff y\xc0\xaf z", "x? y?? z");                    /* not UTF-8; an overlong '/' */
        one_line("s\xed\xa0\x80", "s???");                            /* a surrogate */
        one_line("cut \xf0\x9f\x98", "cut ");                         /* truncated mid-character */
        one_line("\xf4\x90\x80\x80", "????");                         /* past U+10FFFF */
}

static void test_seq_lengths(void **state) {
        (void)state;
        assert_int_equal(utf8_seq((const unsigned char *)"a", 1), 1);
        assert_int_equal(utf8_seq((const unsigned char *)"\xc3\xa9", 2), 2);
        assert_int_equal(utf8_seq((const unsigned char *)"\xe2\x82\xac", 3), 3);
        assert_int_equal(utf8_seq((const unsigned char *)"\xf0\x9f\x98\x80", 4), 4);
        assert_int_equal(utf8_seq((const unsigned char *)"\xf0\x9f", 2), -1);
        assert_int_equal(utf8_seq((const unsigned char *)"\x80", 1), 0);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_valid_text_is_kept),
                cmocka_unit_test(test_controls_become_question_marks),
                cmocka_unit_test(test_invalid_bytes_are_replaced_and_a_cut_tail_dropped),
                cmocka_unit_test(test_seq_lengths),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
