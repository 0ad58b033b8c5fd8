/*
 * fuzz_report.c - libFuzzer target: a report file read back as `nasoone view` reads it
 * (csrc/report_reader.c): any bytes as the file, the first byte choosing the options (order,
 * direction, top N, grouping, units, an address filter, an interface filter; with units, other
 * orders: a biflow's reverse, both its directions, the interface). Every entry's every cell, the
 * column widths and the table's lines are formatted, and the summary's counts must nest: shown <=
 * entries, selected <= rows, and groups only ever come from selected rows.
 *
 * The file goes to a folder made once per process under $NASOONE_FUZZ_TMPDIR, else /dev/shm,
 * else /tmp, and is removed at exit.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report_reader.h"

static char folder[512];
static char path[600];

static void remove_folder(void)
{
    unlink(path);
    rmdir(folder);
}

static int make_folder(void)
{
    if (folder[0] != '\0')
        return 0;
    const char *base = getenv("NASOONE_FUZZ_TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf(folder, sizeof folder, "%s/fuzz_report.XXXXXX", base);
    if (mkdtemp(folder) == NULL)
        return -1;
    snprintf(path, sizeof path, "%s/report", folder);
    atexit(remove_folder);
    return 0;
}

static void check(int condition, const char *what)
{
    if (!condition) {
        fprintf(stderr, "fuzz_report: invariant broken: %s\n", what);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size); /* libFuzzer calls it */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || make_folder() != 0)
        return 0;
    uint8_t mode = data[0];
    FILE *f = fopen(path, "wb");
    if (f == NULL)
        return 0;
    fwrite(data + 1, 1, size - 1, f);
    fclose(f);

    static const char *const groups[] = {NULL,   "src",       "dst",   "ip",
                                         "port", "interface", "dport", "proto"};
    static const char *const sorts[] = {NULL,       "bytes",       "source",
                                        "duration", "total_bytes", "reverse_ip_bytes",
                                        "rate",     "interface"};
    struct report_reader_options options = {0};
    options.sort = sorts[(mode & 3) | ((mode >> 5) & 4)];
    options.desc = (mode >> 2) & 1;
    options.keep = (mode >> 3) & 1 ? 10 : 0;
    options.by = groups[(mode >> 4) & 7];
    options.human = (mode >> 7) & 1;
    options.ip = (mode & 0x21) == 0x21 ? "192.168.1.20" : NULL;
    options.port = (mode & 0x41) == 0x41 ? 53 : -1;
    options.protocol = (mode & 0x81) == 0x81 ? "udp" : NULL;
    options.interface = (mode & 0x12) == 0x12 ? "eth0 eth1" : NULL;

    struct report_reader *reader = report_reader_new();
    if (reader == NULL)
        return 0;
    if (report_reader_load(reader, path, &options) == 0) {
        struct report_reader_summary summary;
        report_reader_summarize(reader, &summary);
        check(summary.shown <= summary.entries, "shown <= entries");
        check(summary.selected <= summary.rows, "selected <= rows");
        check(options.by != NULL || summary.entries == summary.selected,
              "rows listed = rows selected");
        check(options.keep == 0 || summary.shown <= options.keep, "shown <= top");
        size_t widths[REPORT_READER_COLUMNS];
        report_reader_widths(reader, 0, (size_t)summary.shown, widths);
        struct report_reader_layout layout[REPORT_READER_COLUMNS];
        size_t count = 0;
        for (int column = 0; column < REPORT_READER_COLUMNS; column++) {
            size_t length;
            for (size_t entry = 0; entry < summary.shown; entry++) {
                const char *cell = report_reader_cell(reader, entry, column, &length);
                check(cell != NULL, "a cell");
            }
            report_reader_cell(reader, REPORT_READER_TOTAL, column, &length);
            if (widths[column] > 0)
                layout[count++] = (struct report_reader_layout){column, widths[column], column & 1};
        }
        size_t length;
        report_reader_lines(reader, 0, (size_t)summary.shown, layout, count, mode & 1 ? 80 : 0,
                            &length);
    } else {
        uint64_t line;
        const char *text;
        size_t length;
        check(report_reader_error(reader, &line, &text, &length) != NULL, "an error's kind");
    }
    report_reader_free(reader);
    return 0;
}
