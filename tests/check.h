/*
 * check.h - the tiny assertion kit shared by the C unit tests (test_decode, test_flow_table,
 * test_report).
 *
 * CHECK(cond), CHECK_EQ(actual, expected), CHECK_STR(actual, expected) and
 * CHECK_MEM(actual, expected, length) count every check; a failing one prints file:line, the
 * expression and both values (plus the current check_context, which a loop can set to say which
 * fixture/iteration it is on) and the run goes on. check_finish("name") prints
 * "name: N checks, F failed" and returns the exit status for main: non-zero on any failure.
 * Only the first CHECK_MAX_REPORTS failures are printed in full, so a broken sweep cannot flood
 * the log; the rest are still counted.
 */
#ifndef NASOONE_TESTS_CHECK_H
#define NASOONE_TESTS_CHECK_H

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK_MAX_REPORTS 60

static unsigned long check_total;
static unsigned long check_failed;
static char check_context[256];

/* Sets the text printed with any failure until the next call ("" for none). */
static inline void check_set_context(const char *format, ...) __attribute__((format(printf, 1, 2)));
static inline void check_set_context(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    vsnprintf(check_context, sizeof check_context, format, args);
    va_end(args);
}

/* Counts one check; returns 1 when it failed and its details should be printed. */
static inline int check_fail_begin(int ok, const char *file, int line, const char *what)
{
    check_total++;
    if (ok)
        return 0;
    check_failed++;
    if (check_failed > CHECK_MAX_REPORTS) {
        if (check_failed == CHECK_MAX_REPORTS + 1)
            fprintf(stderr, "(further failures are counted but not printed)\n");
        return 0;
    }
    fprintf(stderr, "%s:%d: FAILED: %s", file, line, what);
    if (check_context[0] != '\0')
        fprintf(stderr, "  [%s]", check_context);
    fputc('\n', stderr);
    return 1;
}

static inline int check_bool(int ok, const char *file, int line, const char *what)
{
    check_fail_begin(ok, file, line, what);
    return ok;
}

static inline int check_eq(unsigned long long actual, unsigned long long expected, const char *file,
                           int line, const char *what)
{
    int ok = actual == expected;
    if (check_fail_begin(ok, file, line, what))
        fprintf(stderr,
                "    actual:   %llu (0x%llx, as signed %lld)\n"
                "    expected: %llu (0x%llx, as signed %lld)\n",
                actual, actual, (long long)actual, expected, expected, (long long)expected);
    return ok;
}

static inline int check_str(const char *actual, const char *expected, const char *file, int line,
                            const char *what)
{
    int ok = actual != NULL && expected != NULL && strcmp(actual, expected) == 0;
    if (check_fail_begin(ok, file, line, what))
        fprintf(stderr, "    actual:   \"%s\"\n    expected: \"%s\"\n", actual ? actual : "(null)",
                expected ? expected : "(null)");
    return ok;
}

static inline void check_print_hex(const char *label, const void *bytes, size_t length)
{
    const unsigned char *p = bytes;
    fprintf(stderr, "    %s", label);
    for (size_t i = 0; i < length; i++)
        fprintf(stderr, "%02x", p[i]);
    fputc('\n', stderr);
}

static inline int check_mem(const void *actual, const void *expected, size_t length,
                            const char *file, int line, const char *what)
{
    int ok = memcmp(actual, expected, length) == 0;
    if (check_fail_begin(ok, file, line, what)) {
        check_print_hex("actual:   ", actual, length);
        check_print_hex("expected: ", expected, length);
    }
    return ok;
}

/* The whole file at `path` (a capture the test was given), its length in *size; a file that
 * cannot be read ends the test (exit 1). Free it with free(). */
static inline uint8_t *check_load_file(const char *path, size_t *size)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        exit(1);
    }
    fseek(file, 0, SEEK_END);
    long length = ftell(file);
    fseek(file, 0, SEEK_SET);
    uint8_t *bytes = malloc((size_t)length + 1);
    if (bytes == NULL || fread(bytes, 1, (size_t)length, file) != (size_t)length)
        abort();
    fclose(file);
    *size = (size_t)length;
    return bytes;
}

/* Prints the summary line; the value to return from main. */
static inline int check_finish(const char *name)
{
    printf("%s: %lu checks, %lu failed\n", name, check_total, check_failed);
    fflush(stdout);
    return check_failed == 0 ? 0 : 1;
}

/* Each macro evaluates to 1 when the check passed, so a test can skip dependent checks. */
#define CHECK(cond) check_bool(!!(cond), __FILE__, __LINE__, #cond)
#define CHECK_EQ(actual, expected)                                                                 \
    check_eq((unsigned long long)(actual), (unsigned long long)(expected), __FILE__, __LINE__,     \
             #actual " == " #expected)
#define CHECK_STR(actual, expected)                                                                \
    check_str((actual), (expected), __FILE__, __LINE__, #actual " == " #expected)
#define CHECK_MEM(actual, expected, length)                                                        \
    check_mem((actual), (expected), (length), __FILE__, __LINE__,                                  \
              "memcmp(" #actual ", " #expected ", " #length ") == 0")

#endif
