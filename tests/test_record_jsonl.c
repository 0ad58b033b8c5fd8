/*
 * test_record_jsonl.c - unit tests of the JSON-lines flow log (csrc/record_jsonl.c), driven
 * the way the exporter thread drives a sink: open, write/tick, close, destroy.
 *
 * Covers: the exact line of a record (both families, each protocol set, each reason, counts
 * over both protocol parts), nothing created before the first flush and no final name before
 * the file is complete; rotation over three periods (with an empty period between) giving
 * exactly three files named by strftime in UTC, with the right lines and no temporary left;
 * at every step, every file under a final name ends in a complete line and the temporary file
 * holds whole lines only, also with more records than the buffer holds; a rerun over the same
 * period taking NAME.1.jsonl, then NAME.2.jsonl, never replacing a file; the errors of open
 * (missing folder, a file as folder, a pattern that cannot rotate, one that makes a '/');
 * a folder removed mid-run (errors and dropped counted, the records after it comes back land);
 * and a full disk (a 64 KiB tmpfs, root only): the write that fails keeps its complete lines,
 * cuts the partial one, counts the rest dropped, and writes land again once space is freed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>

#include "check.h"
#include "message.h"
#include "record_sink.h"

/* A folder made here has room for the temporary folder and a short name; a path, for the
 * folder and any file name used here. */
#define FOLDER_BUF 400
#define PATH_BUF   1024

/* ---------------------------------------------------------------------------------------- */
/* Helpers                                                                                   */
/* ---------------------------------------------------------------------------------------- */

static void parse_address(const char *text, struct flow_key *key, uint8_t out[16])
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET, text, out) == 1) {
        key->family = FLOW_FAMILY_IPV4;
    } else if (inet_pton(AF_INET6, text, out) == 1) {
        key->family = FLOW_FAMILY_IPV6;
    } else {
        fprintf(stderr, "test_record_jsonl: bad address in the test: %s\n", text);
        abort();
    }
}

/* A record; tcp_packets / udp_packets 0 leave that part empty. Each part's counts are
 * derived from its packets so that the totals are easy to write down. */
static struct flow_record make_record(const char *src, uint16_t sport, const char *dst,
                                      uint16_t dport, uint64_t tcp_packets, uint64_t udp_packets,
                                      uint64_t first_ms, uint64_t emitted_ms,
                                      enum flow_end_reason reason)
{
    struct flow_record record;
    memset(&record, 0, sizeof record);
    parse_address(src, &record.key, record.key.src);
    parse_address(dst, &record.key, record.key.dst);
    record.key.src_port = sport;
    record.key.dst_port = dport;
    uint64_t packets[FLOW_PART_COUNT] = {tcp_packets, udp_packets};
    for (int i = 0; i < FLOW_PART_COUNT; i++) {
        if (packets[i] == 0)
            continue;
        record.part[i].first_ms = first_ms + (uint64_t)i;
        record.part[i].last_ms = first_ms + 100 + (uint64_t)i * 50;
        record.part[i].packets = packets[i];
        record.part[i].bytes = packets[i] * 100;
        record.part[i].ip_bytes = packets[i] * 86;
        record.protocols |= i == FLOW_PART_TCP ? FLOW_PROTO_TCP : FLOW_PROTO_UDP;
    }
    record.emitted_ms = emitted_ms;
    record.reason = (uint8_t)reason;
    return record;
}

static void sink_init(struct record_sink *sink)
{
    memset(sink, 0, sizeof *sink);
    atomic_init(&sink->counters.sent, 0);
    atomic_init(&sink->counters.dropped, 0);
    atomic_init(&sink->counters.errors, 0);
    pthread_mutex_init(&sink->lock, NULL);
}

static void sink_finish(struct record_sink *sink)
{
    sink->ops->close(sink);
    sink->ops->destroy(sink);
    pthread_mutex_destroy(&sink->lock);
}

/* The flow log kind's constructor, with `rotate` set to rotate_s. */
static int jsonl_open(struct record_sink *sink, const char *pattern, uint32_t rotate_s, char *err,
                      size_t err_size)
{
    const struct record_sink_kind *jsonl = record_sink_kind_find("jsonl");
    struct record_sink_settings settings;
    record_sink_settings_init(&settings, jsonl);
    record_sink_settings_put(&settings, "rotate", rotate_s);
    return jsonl->open(sink, pattern, &settings, err, err_size);
}

static int open_sink(struct record_sink *sink, const char *pattern, uint32_t rotate_s)
{
    char err[512] = "";
    sink_init(sink);
    int rc = jsonl_open(sink, pattern, rotate_s, err, sizeof err);
    if (rc != 0)
        fprintf(stderr, "    open %s: %s\n", pattern, err);
    return rc;
}

static uint64_t sent(struct record_sink *sink) { return atomic_load(&sink->counters.sent); }
static uint64_t dropped(struct record_sink *sink) { return atomic_load(&sink->counters.dropped); }
static uint64_t errors(struct record_sink *sink) { return atomic_load(&sink->counters.errors); }

/* Whole file into a malloc'd NUL-terminated string (NULL if it cannot be read). */
static char *read_file(const char *path, size_t *length)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return NULL;
    size_t cap = 4096, n = 0, got;
    char *buf = malloc(cap + 1);
    while (buf != NULL && (got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            char *bigger = realloc(buf, cap * 2 + 1);
            if (bigger == NULL)
                free(buf);
            buf = bigger;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf != NULL) {
        buf[n] = '\0';
        if (length != NULL)
            *length = n;
    }
    return buf;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

/* The names in `folder`, sorted, "|"-joined; temporary (hidden) names as "TMP". */
static void list_folder(const char *folder, char *out, size_t size)
{
    char names[64][256];
    int count = 0;
    out[0] = '\0';
    DIR *dir = opendir(folder);
    if (dir == NULL) {
        snprintf(out, size, "(cannot open: %s)", strerror(errno));
        return;
    }
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL && count < 64) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        size_t length = strlen(entry->d_name);
        int temporary = entry->d_name[0] == '.' && length > 4 &&
                        strcmp(entry->d_name + length - 4, ".tmp") == 0;
        snprintf(names[count++], sizeof names[0], "%s", temporary ? "TMP" : entry->d_name);
    }
    closedir(dir);
    qsort(names, (size_t)count, sizeof names[0], compare_names);
    size_t used = 0;
    for (int i = 0; i < count; i++) {
        int n = snprintf(out + used, size - used, "%s%s", i ? "|" : "", names[i]);
        if (n < 0 || (size_t)n >= size - used)
            break;
        used += (size_t)n;
    }
}

/* What a reader may rely on at any moment: every file of the folder, final or temporary, is
 * empty or ends in a complete line (the temporary file only between writes, which is when a
 * test looks). Returns the number of files looked at. */
static int check_files_whole(const char *folder)
{
    DIR *dir = opendir(folder);
    if (dir == NULL)
        return 0;
    int files = 0;
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL) {
        if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0)
            continue;
        char path[PATH_BUF + 256];
        snprintf(path, sizeof path, "%s/%s", folder, entry->d_name);
        size_t length = 0;
        char *text = read_file(path, &length);
        if (CHECK(text != NULL)) {
            check_set_context("file %s", entry->d_name);
            CHECK(length == 0 || text[length - 1] == '\n');
            check_set_context("%s", "");
        }
        free(text);
        files++;
    }
    closedir(dir);
    return files;
}

static size_t count_lines(const char *text)
{
    size_t lines = 0;
    for (; text != NULL && *text != '\0'; text++)
        lines += *text == '\n';
    return lines;
}

static void make_folder(const char *parent, const char *name, char *out, size_t size)
{
    snprintf(out, size, "%s/%s", parent, name);
    if (mkdir(out, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "test_record_jsonl: mkdir %s: %s\n", out, strerror(errno));
        abort();
    }
}

static void remove_tree(const char *path)
{
    char command[PATH_BUF + 32];
    snprintf(command, sizeof command, "rm -rf -- '%s'", path);
    if (system(command) != 0)
        fprintf(stderr, "test_record_jsonl: could not remove %s\n", path);
}

/* 1700000000 s is 2023-11-14 22:13:20 UTC. */
#define T0_MS 1700000000000u

/* ---------------------------------------------------------------------------------------- */
/* Tests                                                                                     */
/* ---------------------------------------------------------------------------------------- */

static void test_lines(const char *parent)
{
    char folder[FOLDER_BUF], pattern[PATH_BUF], path[PATH_BUF], names[2048];
    make_folder(parent, "lines", folder, sizeof folder);
    snprintf(pattern, sizeof pattern, "%s/flows.jsonl", folder);
    snprintf(path, sizeof path, "%s/flows.jsonl", folder);
    check_set_context("%s", "exact lines");
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, pattern, 0), 0))
        return;
    CHECK_STR(sink.kind, "jsonl");
    CHECK_STR(sink.target, pattern);
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, ""); /* open creates nothing */

    struct flow_record records[] = {
        make_record("192.0.2.1", 443, "198.51.100.7", 53673, 11, 0, 1672060821867u, T0_MS,
                    FLOW_END_IDLE),
        make_record("2001:db8::1", 5353, "ff02::fb", 5353, 0, 3, 1672060822910u, T0_MS,
                    FLOW_END_ACTIVE),
        make_record("10.0.0.1", 53, "10.0.0.2", 53, 2, 5, 1000, T0_MS + 1, FLOW_END_END),
        make_record("::ffff:5.6.7.8", 0, "::", 65535, 1, 0, 0, T0_MS + 2, FLOW_END_CAPACITY),
    };
    sink.ops->write(&sink, records, 4);
    sink.ops->tick(&sink, 5000, T0_MS + 2);
    /* flushed into the temporary file: no final name yet */
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, "TMP");
    CHECK_EQ(check_files_whole(folder), 1);
    CHECK_EQ(sent(&sink), 4u);
    sink_finish(&sink);
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, "flows.jsonl");
    char *text = read_file(path, NULL);
    CHECK_STR(
        text,
        "{\"source_ip\":\"192.0.2.1\",\"source_port\":443,\"destination_ip\":"
        "\"198.51.100.7\",\"destination_port\":53673,\"protocols\":[\"TCP\"],"
        "\"first\":1672060821867,\"last\":1672060821967,\"bytes\":1100,\"ip_bytes\":946,"
        "\"packets\":11,\"tcp_flags\":0,\"reason\":\"idle\"}\n"
        "{\"source_ip\":\"2001:db8::1\",\"source_port\":5353,\"destination_ip\":"
        "\"ff02::fb\",\"destination_port\":5353,\"protocols\":[\"UDP\"],"
        "\"first\":1672060822911,\"last\":1672060823060,\"bytes\":300,\"ip_bytes\":258,"
        "\"packets\":3,\"reason\":\"active\"}\n"
        /* both parts: first is the earlier first, last the later last, the rest sums */
        "{\"source_ip\":\"10.0.0.1\",\"source_port\":53,\"destination_ip\":\"10.0.0.2\","
        "\"destination_port\":53,\"protocols\":[\"TCP\",\"UDP\"],\"first\":1000,"
        "\"last\":1150,\"bytes\":700,\"ip_bytes\":602,\"packets\":7,\"tcp_flags\":0,"
        "\"reason\":\"end\"}\n"
        "{\"source_ip\":\"::ffff:5.6.7.8\",\"source_port\":0,\"destination_ip\":\"::\","
        "\"destination_port\":65535,\"protocols\":[\"TCP\"],\"first\":0,\"last\":100,"
        "\"bytes\":100,\"ip_bytes\":86,\"packets\":1,\"tcp_flags\":0,\"reason\":\"capacity\"}\n");
    free(text);
    CHECK_EQ(dropped(&sink), 0u);
    CHECK_EQ(errors(&sink), 0u);
    remove_tree(folder);
    check_set_context("%s", "");
}

/* Three periods of 60 s with records (22:13, 22:14, 22:16; none in 22:15): three files. */
static void test_rotation(const char *parent)
{
    char folder[FOLDER_BUF], pattern[PATH_BUF], names[2048];
    make_folder(parent, "rotation", folder, sizeof folder);
    snprintf(pattern, sizeof pattern, "%s/flows-%%Y%%m%%d-%%H%%M.jsonl", folder);
    check_set_context("%s", "rotation");
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, pattern, 60), 0))
        return;
    uint64_t wall = 1000000;
    /* period 22:13 (1699999980 .. 1700000040 s) */
    struct flow_record a =
        make_record("192.0.2.1", 1, "192.0.2.2", 2, 1, 0, T0_MS, T0_MS, FLOW_END_IDLE);
    struct flow_record b = make_record("192.0.2.1", 3, "192.0.2.2", 4, 0, 1, T0_MS + 10000,
                                       T0_MS + 10000, FLOW_END_IDLE);
    sink.ops->write(&sink, &a, 1);
    sink.ops->tick(&sink, wall += 2000, T0_MS + 1000);
    sink.ops->write(&sink, &b, 1);
    sink.ops->tick(&sink, wall += 2000, T0_MS + 30000);
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, "TMP"); /* the period has 10 s to go */
    check_files_whole(folder);
    sink.ops->tick(&sink, wall += 2000, T0_MS + 39999); /* 1 ms before its end */
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, "TMP");
    /* period 22:14: its first record completes the file of 22:13 */
    struct flow_record c = make_record("192.0.2.1", 5, "192.0.2.2", 6, 1, 0, T0_MS + 50000,
                                       T0_MS + 50000, FLOW_END_ACTIVE);
    sink.ops->write(&sink, &c, 1);
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, "flows-20231114-2213.jsonl");
    check_files_whole(folder);
    sink.ops->tick(&sink, wall += 2000, T0_MS + 60000);
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, "TMP|flows-20231114-2213.jsonl");
    check_files_whole(folder);
    /* the capture clock reaches 22:15:00: the file of 22:14 is complete, with no record of a
     * later period to come first */
    sink.ops->tick(&sink, wall += 2000, T0_MS + 100000);
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, "flows-20231114-2213.jsonl|flows-20231114-2214.jsonl");
    sink.ops->tick(&sink, wall += 2000, T0_MS + 150000); /* 22:15: no records, no file */
    /* period 22:16, completed by close */
    struct flow_record d = make_record("2001:db8::1", 7, "2001:db8::2", 8, 1, 1, T0_MS + 170000,
                                       T0_MS + 170000, FLOW_END_END);
    sink.ops->write(&sink, &d, 1);
    sink.ops->tick(&sink, wall += 2000, T0_MS + 170000);
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, "TMP|flows-20231114-2213.jsonl|flows-20231114-2214.jsonl");
    check_files_whole(folder);
    CHECK_EQ(sent(&sink), 4u);
    sink_finish(&sink);
    list_folder(folder, names, sizeof names);
    CHECK_STR(names,
              "flows-20231114-2213.jsonl|flows-20231114-2214.jsonl|flows-20231114-2216.jsonl");
    CHECK_EQ(check_files_whole(folder), 3);

    /* each file holds its period's records, in order */
    static const struct {
        const char *name;
        const char *ports[2];
        size_t lines;
    } files[] = {{"flows-20231114-2213.jsonl", {"\"source_port\":1,", "\"source_port\":3,"}, 2},
                 {"flows-20231114-2214.jsonl", {"\"source_port\":5,", NULL}, 1},
                 {"flows-20231114-2216.jsonl", {"\"source_port\":7,", NULL}, 1}};
    for (size_t i = 0; i < 3; i++) {
        char path[PATH_BUF + 64];
        snprintf(path, sizeof path, "%s/%s", folder, files[i].name);
        char *text = read_file(path, NULL);
        check_set_context("rotation file %s", files[i].name);
        CHECK_EQ(count_lines(text), files[i].lines);
        const char *second = text ? strchr(text, '\n') : NULL;
        CHECK(text != NULL && strstr(text, files[i].ports[0]) != NULL &&
              strstr(text, files[i].ports[0]) < second);
        if (files[i].ports[1] != NULL)
            CHECK(second != NULL && strstr(second, files[i].ports[1]) != NULL);
        free(text);
    }
    CHECK_EQ(dropped(&sink), 0u);
    CHECK_EQ(errors(&sink), 0u);
    remove_tree(folder);
    check_set_context("%s", "");
}

/* More records than the buffer holds, in batches with ticks: whenever a test looks, the
 * temporary file has whole lines only and no final name is there until close. */
static void test_many_records(const char *parent)
{
    char folder[FOLDER_BUF], pattern[PATH_BUF], path[PATH_BUF], names[2048];
    make_folder(parent, "many", folder, sizeof folder);
    snprintf(pattern, sizeof pattern, "%s/all.jsonl", folder);
    snprintf(path, sizeof path, "%s/all.jsonl", folder);
    check_set_context("%s", "many records");
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, pattern, 0), 0))
        return;
    enum { BATCH = 1500, BATCHES = 20 };
    static struct flow_record batch[BATCH];
    uint64_t wall = 0, written = 0;
    for (int round = 0; round < BATCHES; round++) {
        for (int i = 0; i < BATCH; i++)
            batch[i] = make_record("2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", (uint16_t)i,
                                   "2001:db8:1111:2222:3333:4444:5555:6666", (uint16_t)round,
                                   1000000 + (uint64_t)i, 7, T0_MS + (uint64_t)round * 1000,
                                   T0_MS + (uint64_t)round * 1000, FLOW_END_ACTIVE);
        sink.ops->write(&sink, batch, BATCH);
        written += BATCH;
        sink.ops->tick(&sink, wall += 300, T0_MS + (uint64_t)round * 1000);
        list_folder(folder, names, sizeof names);
        check_set_context("many records, round %d", round);
        CHECK(strcmp(names, "TMP") == 0 || (round == 0 && strcmp(names, "") == 0));
        check_files_whole(folder);
    }
    sink_finish(&sink);
    check_set_context("%s", "many records");
    size_t length = 0;
    char *text = read_file(path, &length);
    CHECK_EQ(count_lines(text), written);
    CHECK(length > 1u << 20); /* several buffers' worth */
    CHECK_EQ(sent(&sink), written);
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, "all.jsonl");
    free(text);
    remove_tree(folder);
    check_set_context("%s", "");
}

/* A rerun over a period whose file exists: NAME.1.jsonl, then NAME.2.jsonl; a name without
 * extension gets ".1". Nothing is replaced. */
static void test_name_taken(const char *parent)
{
    char folder[FOLDER_BUF], pattern[PATH_BUF], names[2048];
    make_folder(parent, "taken", folder, sizeof folder);
    check_set_context("%s", "name taken");
    for (int run = 0; run < 3; run++) {
        snprintf(pattern, sizeof pattern, "%s/f-%%H%%M.jsonl", folder);
        struct record_sink sink;
        if (!CHECK_EQ(open_sink(&sink, pattern, 3600), 0))
            return;
        struct flow_record r = make_record("192.0.2.1", (uint16_t)run, "192.0.2.2", 2, 1, 0, T0_MS,
                                           T0_MS, FLOW_END_END);
        sink.ops->write(&sink, &r, 1);
        sink_finish(&sink);
    }
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, "f-2200.1.jsonl|f-2200.2.jsonl|f-2200.jsonl");
    char path[PATH_BUF + 64];
    snprintf(path, sizeof path, "%s/f-2200.jsonl", folder);
    char *text = read_file(path, NULL);
    CHECK(text != NULL && strstr(text, "\"source_port\":0,") != NULL); /* the first run's */
    free(text);
    snprintf(path, sizeof path, "%s/f-2200.2.jsonl", folder);
    text = read_file(path, NULL);
    CHECK(text != NULL && strstr(text, "\"source_port\":2,") != NULL);
    free(text);

    /* no extension */
    for (int run = 0; run < 2; run++) {
        snprintf(pattern, sizeof pattern, "%s/log", folder);
        struct record_sink sink;
        if (!CHECK_EQ(open_sink(&sink, pattern, 0), 0))
            return;
        struct flow_record r =
            make_record("192.0.2.1", 1, "192.0.2.2", 2, 1, 0, T0_MS, T0_MS, FLOW_END_END);
        sink.ops->write(&sink, &r, 1);
        sink_finish(&sink);
    }
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, "f-2200.1.jsonl|f-2200.2.jsonl|f-2200.jsonl|log|log.1");
    remove_tree(folder);
    check_set_context("%s", "");
}

static void check_open_error(const char *pattern, uint32_t rotate_s, const char *expected_part)
{
    struct record_sink sink;
    char err[512] = "";
    sink_init(&sink);
    check_set_context("open error %s", pattern);
    CHECK_EQ(jsonl_open(&sink, pattern, rotate_s, err, sizeof err), -1);
    CHECK(strncmp(err, "nasoone: ", 9) == 0);
    if (!CHECK(strstr(err, expected_part) != NULL))
        fprintf(stderr, "    err: %s\n", err);
    CHECK(sink.state == NULL);
    pthread_mutex_destroy(&sink.lock);
    check_set_context("%s", "");
}

static void test_open_errors(const char *parent)
{
    char pattern[PATH_BUF], file[PATH_BUF], names[2048];
    snprintf(pattern, sizeof pattern, "%s/no-such-folder/flows.jsonl", parent);
    check_open_error(pattern, 0, "no-such-folder: No such file or directory");
    snprintf(file, sizeof file, "%s/a-file", parent);
    FILE *f = fopen(file, "w");
    if (f != NULL)
        fclose(f);
    snprintf(pattern, sizeof pattern, "%s/a-file/flows.jsonl", parent);
    check_open_error(pattern, 0, "not a folder");
    unlink(file);
    snprintf(pattern, sizeof pattern, "%s/flows.jsonl", parent);
    check_open_error(pattern, 60,
                     "needs a time pattern such as %Y%m%d-%H%M in its name to rotate every 60 s");
    snprintf(pattern, sizeof pattern, "%s/flows-%%%%.jsonl", parent); /* "%%" is no time */
    check_open_error(pattern, 60, "needs a time pattern");
    snprintf(pattern, sizeof pattern, "%s/flows-%%D.jsonl", parent); /* 11/14/23: a '/' */
    check_open_error(pattern, 60, "gives no valid file name");
    snprintf(pattern, sizeof pattern, "%s/", parent);
    check_open_error(pattern, 0, "has no file name");
    if (geteuid() != 0) {
        char folder[FOLDER_BUF];
        make_folder(parent, "read-only", folder, sizeof folder);
        chmod(folder, 0500);
        snprintf(pattern, sizeof pattern, "%s/flows.jsonl", folder);
        check_open_error(pattern, 0, "Permission denied");
        chmod(folder, 0700);
        rmdir(folder);
    } else {
        printf("test_record_jsonl: running as root: the read-only folder case is skipped\n");
    }
    list_folder(parent, names, sizeof names);
    CHECK_STR(names, ""); /* nothing created */

    /* with no rotation a fixed name is fine, and a relative path is in the current folder */
    struct record_sink sink;
    CHECK_EQ(open_sink(&sink, "relative-flows.jsonl", 0), 0);
    sink.ops->destroy(&sink);
    pthread_mutex_destroy(&sink.lock);
}

/* The folder is removed while a file is open in it, then made again. */
static void test_folder_removed(const char *parent)
{
    char folder[FOLDER_BUF], pattern[PATH_BUF], path[PATH_BUF], names[2048];
    make_folder(parent, "removed", folder, sizeof folder);
    snprintf(pattern, sizeof pattern, "%s/flows.jsonl", folder);
    snprintf(path, sizeof path, "%s/flows.jsonl", folder);
    check_set_context("%s", "folder removed");
    struct record_sink sink;
    if (!CHECK_EQ(open_sink(&sink, pattern, 0), 0))
        return;
    struct flow_record r[4];
    for (int i = 0; i < 4; i++)
        r[i] = make_record("192.0.2.1", (uint16_t)(100 + i), "192.0.2.2", 2, 1, 0, T0_MS, T0_MS,
                           FLOW_END_IDLE);
    uint64_t wall = 10000;
    sink.ops->write(&sink, r, 2);
    sink.ops->tick(&sink, wall += 1000, T0_MS);
    CHECK_EQ(sent(&sink), 2u);

    remove_tree(folder);
    sink.ops->write(&sink, r, 3);
    sink.ops->tick(&sink, wall += 1000, T0_MS);
    /* the open file was deleted with the folder, and a new one cannot be made there: the
     * records wait in the buffer */
    CHECK_EQ(sent(&sink), 2u);
    CHECK_EQ(dropped(&sink), 0u);
    CHECK_EQ(errors(&sink), 2u);
    CHECK(strncmp(sink.last_error, "nasoone: cannot create a file for the flow log ", 47) == 0);
    CHECK(strstr(sink.last_error, "No such file or directory (3 records kept for a later try)") !=
          NULL);
    sink.ops->write(&sink, r + 3, 1);
    sink.ops->tick(&sink, wall += 1000, T0_MS);
    CHECK_EQ(dropped(&sink), 0u);
    CHECK_EQ(errors(&sink), 3u);
    CHECK(strstr(sink.last_error, "(4 records kept for a later try)") != NULL);

    /* the folder is back: what waited is written first, then what follows */
    make_folder(parent, "removed", folder, sizeof folder);
    sink.ops->write(&sink, r, 4);
    sink.ops->tick(&sink, wall += 1000, T0_MS);
    CHECK_EQ(sent(&sink), 10u);
    CHECK_EQ(dropped(&sink), 0u);
    CHECK_EQ(errors(&sink), 3u);
    sink_finish(&sink);
    list_folder(folder, names, sizeof names);
    CHECK_STR(names, "flows.jsonl");
    char *text = read_file(path, NULL);
    CHECK_EQ(count_lines(text), 8u); /* the 4 kept while the folder was gone, then 4 more */
    const char *first = "{\"source_ip\":\"192.0.2.1\",\"source_port\":100,";
    CHECK(text != NULL && strncmp(text, first, strlen(first)) == 0);
    CHECK(text != NULL && strstr(text, "\"source_port\":103,") != NULL);
    free(text);
    remove_tree(folder);
    check_set_context("%s", "");
}

/* A full disk: a 64 KiB tmpfs (root only). */
static void test_disk_full(const char *parent)
{
    char folder[FOLDER_BUF], pattern[PATH_BUF], path[PATH_BUF], names[2048];
    if (geteuid() != 0) {
        printf("test_record_jsonl: not root: the full-disk case (a small tmpfs) is skipped\n");
        return;
    }
    make_folder(parent, "full", folder, sizeof folder);
    if (mount("tmpfs", folder, "tmpfs", 0, "size=64k") != 0) {
        printf("test_record_jsonl: cannot mount a tmpfs (%s): the full-disk case is skipped\n",
               strerror(errno));
        rmdir(folder);
        return;
    }
    check_set_context("%s", "disk full");
    snprintf(pattern, sizeof pattern, "%s/flows.jsonl", folder);
    snprintf(path, sizeof path, "%s/flows.jsonl", folder);
    struct record_sink sink;
    if (CHECK_EQ(open_sink(&sink, pattern, 0), 0)) {
        enum { MANY = 600 }; /* about 130 KB of lines: twice what fits */
        static struct flow_record many[MANY];
        for (int i = 0; i < MANY; i++)
            many[i] = make_record("192.0.2.1", (uint16_t)i, "192.0.2.2", 2, 1, 1, T0_MS, T0_MS,
                                  FLOW_END_IDLE);
        sink.ops->write(&sink, many, MANY);
        sink.ops->tick(&sink, 5000, T0_MS);
        uint64_t kept = sent(&sink);
        CHECK(kept > 0 && kept < MANY);
        CHECK_EQ(dropped(&sink), 0u); /* the rest waits in the buffer for space */
        CHECK_EQ(errors(&sink), 1u);
        CHECK(strstr(sink.last_error, "No space left on device") != NULL);
        char waiting[64];
        snprintf(waiting, sizeof waiting, "(%llu records kept for a later try)",
                 (unsigned long long)(MANY - kept));
        CHECK(strstr(sink.last_error, waiting) != NULL);
        /* the temporary file holds exactly the records counted sent, in whole lines */
        CHECK_EQ(check_files_whole(folder), 1);
        DIR *dir = opendir(folder);
        struct dirent *entry;
        while (dir != NULL && (entry = readdir(dir)) != NULL) {
            if (entry->d_name[0] != '.' || strcmp(entry->d_name, ".") == 0 ||
                strcmp(entry->d_name, "..") == 0)
                continue;
            char temp[PATH_BUF + 256];
            snprintf(temp, sizeof temp, "%s/%s", folder, entry->d_name);
            char *text = read_file(temp, NULL);
            CHECK_EQ(count_lines(text), kept);
            free(text);
        }
        if (dir != NULL)
            closedir(dir);

        /* still full: the next records wait too; at the end of the period what never found
         * space is dropped, and counted */
        sink.ops->write(&sink, many, 10);
        sink.ops->tick(&sink, 7000, T0_MS);
        CHECK_EQ(sent(&sink), kept);
        CHECK_EQ(dropped(&sink), 0u);
        CHECK_EQ(errors(&sink), 2u);
        sink_finish(&sink);
        CHECK_EQ(dropped(&sink), (uint64_t)MANY - kept + 10);
        CHECK(strstr(sink.last_error, "could not be written before its period ended") != NULL);
        list_folder(folder, names, sizeof names);
        CHECK_STR(names, "flows.jsonl");
        char *text = read_file(path, NULL);
        CHECK_EQ(count_lines(text), kept);
        free(text);

        /* space freed: a new run's records land */
        CHECK_EQ(unlink(path), 0);
        if (CHECK_EQ(open_sink(&sink, pattern, 0), 0)) {
            sink.ops->write(&sink, many, 20);
            sink_finish(&sink);
            CHECK_EQ(sent(&sink), 20u);
            CHECK_EQ(errors(&sink), 0u);
            text = read_file(path, NULL);
            CHECK_EQ(count_lines(text), 20u);
            free(text);
        }
    }
    if (umount(folder) != 0)
        fprintf(stderr, "test_record_jsonl: umount %s: %s\n", folder, strerror(errno));
    rmdir(folder);
    check_set_context("%s", "");
}

/* A full disk (a 64 KiB tmpfs, root only) whose space comes back within the period: the records
 * that waited land, none dropped. A period in which nothing could be written publishes no file. */
static void test_disk_full_then_freed(const char *parent)
{
    char folder[FOLDER_BUF], pattern[PATH_BUF], path[PATH_BUF], filler[PATH_BUF], names[2048];
    if (geteuid() != 0) {
        printf("test_record_jsonl: not root: the space-freed case (a small tmpfs) is skipped\n");
        return;
    }
    make_folder(parent, "freed", folder, sizeof folder);
    if (mount("tmpfs", folder, "tmpfs", 0, "size=64k") != 0) {
        printf("test_record_jsonl: cannot mount a tmpfs (%s): the space-freed case is skipped\n",
               strerror(errno));
        rmdir(folder);
        return;
    }
    check_set_context("%s", "disk full, then freed");
    snprintf(pattern, sizeof pattern, "%s/flows.jsonl", folder);
    snprintf(path, sizeof path, "%s/flows.jsonl", folder);
    snprintf(filler, sizeof filler, "%s/filler", folder);
    enum { COUNT = 100 };
    static struct flow_record records[COUNT];
    for (int i = 0; i < COUNT; i++)
        records[i] = make_record("192.0.2.1", (uint16_t)i, "192.0.2.2", 2, 1, 1, T0_MS, T0_MS,
                                 FLOW_END_IDLE);
    /* the disk is full before the first record */
    FILE *fill = fopen(filler, "w");
    static char block[4096];
    while (fill != NULL && fwrite(block, 1, sizeof block, fill) == sizeof block)
        ;
    if (fill != NULL)
        fclose(fill);
    struct record_sink sink;
    if (CHECK_EQ(open_sink(&sink, pattern, 0), 0)) {
        sink.ops->write(&sink, records, COUNT);
        sink.ops->tick(&sink, 5000, T0_MS);
        sink.ops->tick(&sink, 6000, T0_MS);
        CHECK_EQ(sent(&sink), 0u);
        CHECK_EQ(dropped(&sink), 0u);
        CHECK_EQ(errors(&sink), 2u);
        /* space comes back: every record that waited is written */
        CHECK_EQ(unlink(filler), 0);
        sink.ops->tick(&sink, 7000, T0_MS);
        CHECK_EQ(sent(&sink), (uint64_t)COUNT);
        CHECK_EQ(dropped(&sink), 0u);
        sink_finish(&sink);
        char *text = read_file(path, NULL);
        CHECK_EQ(count_lines(text), (uint64_t)COUNT);
        free(text);
        CHECK_EQ(unlink(path), 0);
    }
    /* full for the whole period: nothing dropped silently, and no empty file published */
    fill = fopen(filler, "w");
    while (fill != NULL && fwrite(block, 1, sizeof block, fill) == sizeof block)
        ;
    if (fill != NULL)
        fclose(fill);
    if (CHECK_EQ(open_sink(&sink, pattern, 0), 0)) {
        sink.ops->write(&sink, records, COUNT);
        sink.ops->tick(&sink, 5000, T0_MS);
        sink_finish(&sink);
        CHECK_EQ(sent(&sink), 0u);
        CHECK_EQ(dropped(&sink), (uint64_t)COUNT);
        list_folder(folder, names, sizeof names);
        CHECK_STR(names, "filler");
    }
    unlink(filler);
    if (umount(folder) != 0)
        fprintf(stderr, "test_record_jsonl: umount %s: %s\n", folder, strerror(errno));
    rmdir(folder);
    check_set_context("%s", "");
}

int main(void)
{
    const char *tmp = getenv("TMPDIR");
    char parent[FOLDER_BUF / 2];
    snprintf(parent, sizeof parent, "%s/test_record_jsonl.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!CHECK(mkdtemp(parent) != NULL))
        return check_finish("test_record_jsonl");
    char cwd[PATH_BUF * 4];
    if (CHECK(getcwd(cwd, sizeof cwd) != NULL) && CHECK_EQ(chdir(parent), 0)) {
        test_open_errors(".");
        CHECK_EQ(chdir(cwd), 0);
    }
    test_lines(parent);
    test_rotation(parent);
    test_many_records(parent);
    test_name_taken(parent);
    test_folder_removed(parent);
    test_disk_full(parent);
    test_disk_full_then_freed(parent);
    CHECK_EQ(rmdir(parent), 0); /* empty: nothing was left behind */
    return check_finish("test_record_jsonl");
}
