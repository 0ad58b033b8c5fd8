/*
 * report.c - report rendering and atomic rewrite (see report.h). Writer thread.
 */
#include "report.h"
#include "message.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <dirent.h>
#include <limits.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
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

/* Temporary names: "." + the report's name (cut to TEMP_NAME_PREFIX_MAX bytes, so any valid
 * report name gives a valid temporary name) + "." + 16 random hex digits + ".tmp". Random, so
 * nobody can plant files at the next names; tied to the report's name, so the leftovers of a
 * crashed run can be recognised and removed (report_remove_leftovers). */
#define TEMP_NAME_PREFIX_MAX (NAME_MAX - 22)
#define TEMP_RANDOM_DIGITS   16

/* 64 unpredictable bits: getrandom, or (never in practice) a mix of clocks and addresses. */
static uint64_t random_u64(void)
{
    uint64_t value;
    if (getrandom(&value, sizeof value, GRND_NONBLOCK) == (ssize_t)sizeof value)
        return value;
    static atomic_uint_fast64_t fallback = 0x9e3779b97f4a7c15u;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    value = atomic_fetch_add(&fallback, 0x9e3779b97f4a7c15u) ^ (uint64_t)now.tv_nsec ^
            ((uint64_t)now.tv_sec << 32) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)&now;
    value *= 0xbf58476d1ce4e5b9u;
    return value ^ (value >> 31);
}

int report_split_path(const char *path, char *folder, size_t folder_size, const char **name)
{
    const char *slash = strrchr(path, '/');
    *name = slash ? slash + 1 : path;
    int length;
    if (slash == NULL)
        length = snprintf(folder, folder_size, ".");
    else if (slash == path)
        length = snprintf(folder, folder_size, "/");
    else
        length = snprintf(folder, folder_size, "%.*s", (int)(slash - path), path);
    if (length < 0 || (size_t)length >= folder_size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* Writes a fresh temporary name for `path` into temporary (its folder included). */
static int temporary_name(const char *path, char *temporary, size_t size)
{
    const char *slash = strrchr(path, '/');
    int folder_length = slash ? (int)(slash - path + 1) : 0;
    const char *name = slash ? slash + 1 : path;
    int name_length = (int)strnlen(name, TEMP_NAME_PREFIX_MAX);
    int length = snprintf(temporary, size, "%.*s.%.*s.%016llx.tmp", folder_length, path,
                          name_length, name, (unsigned long long)random_u64());
    if (length < 0 || (size_t)length >= size) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* Whether `entry` is a temporary name report_write_atomic makes for a report called `name`. */
static int is_temporary_of(const char *entry, const char *name)
{
    size_t prefix = strnlen(name, TEMP_NAME_PREFIX_MAX);
    if (entry[0] != '.' || strncmp(entry + 1, name, prefix) != 0 || entry[1 + prefix] != '.')
        return 0;
    const char *digits = entry + 2 + prefix;
    for (int i = 0; i < TEMP_RANDOM_DIGITS; i++)
        if (!isxdigit((unsigned char)digits[i]))
            return 0;
    return strcmp(digits + TEMP_RANDOM_DIGITS, ".tmp") == 0;
}

int report_remove_leftovers(const char *path)
{
    char folder[PATH_MAX];
    const char *name;
    DIR *dir = report_split_path(path, folder, sizeof folder, &name) == 0 ? opendir(folder) : NULL;
    if (dir == NULL)
        return 0;
    int removed = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (!is_temporary_of(entry->d_name, name))
            continue;
        /* only regular files of this user: never follow a link, never touch another's file */
        struct stat st;
        if (fstatat(dirfd(dir), entry->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
            S_ISREG(st.st_mode) && st.st_uid == geteuid() &&
            unlinkat(dirfd(dir), entry->d_name, 0) == 0)
            removed++;
    }
    closedir(dir);
    return removed;
}

/* The temporary file a report is written into before it takes the report's name. */
struct temporary {
    int fd;
    int named;                /* 0 while an O_TMPFILE file has no name yet */
    char name[PATH_MAX + 32]; /* the name, once it has one */
};

/* Opens an unnamed file in the report's folder (O_TMPFILE: a crash or kill -9 at any moment
 * before it is published leaves nothing behind), or, where the file system cannot, a file
 * under a fresh random name. Mode 0666 less the umask, like a report a user would create. */
static int temporary_open(struct temporary *temp, const char *path)
{
    char folder[PATH_MAX];
    const char *name;
    temp->named = 0;
    temp->fd = -1;
    if (report_split_path(path, folder, sizeof folder, &name) != 0)
        return -1;
    if (strlen(name) > NAME_MAX) {
        errno = ENAMETOOLONG;
        return -1;
    }
    /* An unnamed file is given its name through /proc/self/fd (linkat with AT_EMPTY_PATH
     * would need CAP_DAC_READ_SEARCH): without /proc, a named file from the start. */
    if (access("/proc/self/fd", X_OK) == 0) {
        temp->fd = open(folder, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0666);
        if (temp->fd >= 0)
            return 0;
        /* EOPNOTSUPP, EISDIR (kernel or file system without O_TMPFILE): a named file */
        if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
            return -1;
    }
    for (int attempt = 0; attempt < 8; attempt++) {
        if (temporary_name(path, temp->name, sizeof temp->name) != 0)
            return -1;
        temp->fd = open(temp->name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (temp->fd >= 0) {
            temp->named = 1;
            return 0;
        }
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

/* Gives an unnamed temporary a (random) name in the report's folder, so it can be renamed. */
static int temporary_link(struct temporary *temp, const char *path)
{
    if (temp->named)
        return 0;
    char self[64];
    snprintf(self, sizeof self, "/proc/self/fd/%d", temp->fd);
    for (int attempt = 0; attempt < 8; attempt++) {
        if (temporary_name(path, temp->name, sizeof temp->name) != 0)
            return -1;
        if (linkat(AT_FDCWD, self, AT_FDCWD, temp->name, AT_SYMLINK_FOLLOW) == 0) {
            temp->named = 1;
            return 0;
        }
        if (errno != EEXIST)
            return -1;
    }
    return -1;
}

/* Gives the temporary the mode of the report it replaces, so a chmod made while the capture
 * runs holds across rewrites, and its owner where this process may (root). A report that is
 * not there yet keeps the new file's mode. */
static int temporary_copy_mode(const struct temporary *temp, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return 0;
    if (fchown(temp->fd, st.st_uid, st.st_gid) != 0 && errno != EPERM)
        return -1;
    return fchmod(temp->fd, st.st_mode & 07777); /* after fchown, which may clear set-id bits */
}

int report_write_atomic(const char *path, const struct flow_row *const *rows, size_t count,
                        char *err, size_t err_size)
{
    struct temporary temp;
    if (temporary_open(&temp, path) != 0) {
        message_format(err, err_size, "nasoone: cannot create a temporary file beside %s: %s", path,
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
            failed = write_all(temp.fd, chunk, used) != 0;
            used = 0;
        }
        used += report_format_row(rows[i], chunk + used);
    }
    if (!failed)
        failed = write_all(temp.fd, chunk, used) != 0;
    if (!failed)
        failed = temporary_copy_mode(&temp, path) != 0;
    if (!failed)
        failed = fsync(temp.fd) != 0;
    if (!failed)
        failed = temporary_link(&temp, path) != 0;
    int saved_errno = chunk == NULL ? ENOMEM : errno;
    free(chunk);
    if (!failed && rename(temp.name, path) != 0) {
        failed = 1;
        saved_errno = errno;
    }
    if (failed && temp.named)
        unlink(temp.name);
    if (close(temp.fd) != 0 && !failed) {
        failed = 1; /* the data was fsynced: a late error here is not expected, but counts */
        saved_errno = errno;
    }
    if (failed) {
        message_format(err, err_size, "nasoone: cannot write the report %s: %s", path,
                       strerror(saved_errno));
        return -1;
    }
    return 0;
}
