/*
 * report.c - report rendering and atomic rewrite (see report.h). Writer thread.
 */
#include "report.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int report_compare_rows(const void *a, const void *b)
{
    const struct flow_key *x = &(*(const struct flow_row *const *)a)->key;
    const struct flow_key *y = &(*(const struct flow_row *const *)b)->key;
    if (x->family != y->family)
        return x->family < y->family ? -1 : 1;
    int c = memcmp(x->src, y->src, sizeof x->src);
    if (c != 0)
        return c;
    if (x->src_port != y->src_port)
        return x->src_port < y->src_port ? -1 : 1;
    c = memcmp(x->dst, y->dst, sizeof x->dst);
    if (c != 0)
        return c;
    if (x->dst_port != y->dst_port)
        return x->dst_port < y->dst_port ? -1 : 1;
    return 0;
}

void report_sort_rows(const struct flow_table *table, const struct flow_row **sorted)
{
    if (table->count == 0)
        return; /* sorted may be NULL then, which qsort does not allow */
    for (uint32_t i = 0; i < table->count; i++)
        sorted[i] = &table->rows[i];
    qsort(sorted, table->count, sizeof *sorted, report_compare_rows);
}

/* qsort_r comparator over row indices; context: the rows array. */
static int compare_row_indices(const void *a, const void *b, void *rows)
{
    const struct flow_row *base = rows;
    const struct flow_row *x = &base[*(const uint32_t *)a];
    const struct flow_row *y = &base[*(const uint32_t *)b];
    return report_compare_rows(&x, &y);
}

void report_order_extend(const struct flow_table *table, uint32_t *order, uint32_t sorted_count,
                         uint32_t *scratch)
{
    uint32_t count = table->count;
    if (sorted_count >= count)
        return;
    /* sort the rows added since, in scratch */
    uint32_t added = count - sorted_count;
    for (uint32_t i = 0; i < added; i++)
        scratch[i] = sorted_count + i;
    qsort_r(scratch, added, sizeof *scratch, compare_row_indices, table->rows);
    /* merge from the back, so order[] can be written in place */
    int64_t old = (int64_t)sorted_count - 1, new = (int64_t)added - 1;
    for (int64_t out = (int64_t)count - 1; new >= 0; out--) {
        if (old >= 0 && compare_row_indices(&order[old], &scratch[new], table->rows) > 0)
            order[out] = order[old--];
        else
            order[out] = scratch[new --];
    }
}

static char *append_u64(char *p, uint64_t value)
{
    char digits[20];
    int n = 0;
    do {
        digits[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value != 0);
    while (n > 0)
        *p++ = digits[--n];
    return p;
}

static char *append_text(char *p, const char *text)
{
    size_t n = strlen(text);
    memcpy(p, text, n);
    return p + n;
}

void report_format_address(const struct flow_key *key, int source, char *buf)
{
    const uint8_t *address = source ? key->src : key->dst;
    if (key->family == FLOW_FAMILY_IPV4) {
        /* by hand: glibc's inet_ntop formats IPv4 through sprintf, a hot spot in reports of
         * hundreds of thousands of rows */
        char *p = buf;
        for (int i = 0; i < 4; i++) {
            unsigned octet = address[i];
            if (i > 0)
                *p++ = '.';
            if (octet >= 100)
                *p++ = (char)('0' + octet / 100);
            if (octet >= 10)
                *p++ = (char)('0' + octet / 10 % 10);
            *p++ = (char)('0' + octet % 10);
        }
        *p = '\0';
        return;
    }
    if (inet_ntop(AF_INET6, address, buf, INET6_ADDRSTRLEN) == NULL)
        strcpy(buf, "?");
}

size_t report_format_row(const struct flow_row *row, char *buf)
{
    static const char *const protocol_sets[4] = {"[]", "[TCP]", "[UDP]", "[TCP, UDP]"};
    char *p = buf;
    report_format_address(&row->key, 1, p);
    p += strlen(p);
    p = append_text(p, "; ");
    p = append_u64(p, row->key.src_port);
    p = append_text(p, "; ");
    report_format_address(&row->key, 0, p);
    p += strlen(p);
    p = append_text(p, "; ");
    p = append_u64(p, row->key.dst_port);
    p = append_text(p, "; ");
    p = append_text(p, protocol_sets[row->counters.protocols & 3]);
    p = append_text(p, "; ");
    p = append_u64(p, row->counters.first_ms);
    p = append_text(p, "; ");
    p = append_u64(p, row->counters.last_ms);
    p = append_text(p, "; ");
    p = append_u64(p, row->counters.bytes);
    p = append_text(p, "; ");
    p = append_u64(p, row->counters.packets);
    *p++ = '\n';
    *p = '\0';
    return (size_t)(p - buf);
}

/* Writes all of buf, retrying short writes and EINTR. */
static int write_all(int fd, const char *buf, size_t length)
{
    while (length > 0) {
        ssize_t n = write(fd, buf, length);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += n;
        length -= (size_t)n;
    }
    return 0;
}

/* Opens a fresh temporary file in the folder of `path`: ".NAME.PID.N.tmp". Mode 0666 less the
 * umask, like the report a user would create. */
static int open_temporary(const char *path, char *temporary, size_t size)
{
    static atomic_uint sequence;
    const char *slash = strrchr(path, '/');
    int folder_length = slash ? (int)(slash - path + 1) : 0;
    const char *name = slash ? slash + 1 : path;
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned n = atomic_fetch_add(&sequence, 1);
        int length = snprintf(temporary, size, "%.*s.%s.%ld.%u.tmp", folder_length, path, name,
                              (long)getpid(), n);
        if (length < 0 || (size_t)length >= size) {
            errno = ENAMETOOLONG;
            return -1;
        }
        int fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST)
            return fd;
    }
    return -1;
}

int report_write_atomic(const char *path, const struct flow_row *const *rows, size_t count,
                        char *err, size_t err_size)
{
    char temporary[4096 + 64];
    int fd = open_temporary(path, temporary, sizeof temporary);
    if (fd < 0) {
        snprintf(err, err_size, "nasoone: cannot create a temporary file beside %s: %s", path,
                 strerror(errno));
        return -1;
    }
    /* Rows are gathered in a buffer and written in large chunks. */
    enum { CHUNK = 1 << 20 };
    char *chunk = malloc(CHUNK);
    int failed = chunk == NULL;
    size_t used = 0;
    if (!failed) {
        used = strlen(REPORT_HEADER);
        memcpy(chunk, REPORT_HEADER, used);
    }
    for (size_t i = 0; i < count && !failed; i++) {
        if (CHUNK - used < REPORT_ROW_MAX) {
            failed = write_all(fd, chunk, used) != 0;
            used = 0;
        }
        used += report_format_row(rows[i], chunk + used);
    }
    if (!failed)
        failed = write_all(fd, chunk, used) != 0;
    if (!failed)
        failed = fsync(fd) != 0;
    int saved_errno = chunk == NULL ? ENOMEM : errno;
    free(chunk);
    if (close(fd) != 0 && !failed) {
        failed = 1;
        saved_errno = errno;
    }
    if (!failed && rename(temporary, path) != 0) {
        failed = 1;
        saved_errno = errno;
    }
    if (failed) {
        unlink(temporary);
        snprintf(err, err_size, "nasoone: cannot write the report %s: %s", path,
                 strerror(saved_errno));
        return -1;
    }
    return 0;
}
