/*
 * fuzz_capture.c - libFuzzer target for the whole engine (csrc/nasoone.h) on a capture file.
 *
 * Each input is written to a file and run through the engine as a capture file: libpcap's
 * reader, the producer, two parsers and the writer, with a 5 ms report interval and snapshots
 * on; inputs of odd size run with fragment attribution (NASOONE_FRAGMENTS_ATTRIBUTE), the others
 * with the default. An input libpcap refuses (or of an unsupported link type) just ends the run.
 * Otherwise
 * the capture must reach state finished within WAIT_LIMIT_MS (a hang is a bug: abort; the state
 * is polled every millisecond at most, sooner when the event descriptor wakes us), and after stop:
 *   - received is the number of records libpcap's own reader gives for the file, and when
 *     libpcap fails part-way the engine's error holds libpcap's words (the engine reads classic
 *     pcap and pcapng files without libpcap's reader: classic_pcap.c, pcapng.c; where the
 *     pcapng reader reads further than libpcap by design, see pcapng_reads_further, neither is
 *     compared); a compressed input (gzip, zstd,
 *     lz4) is compared so once decompressed by the libraries' plainest calls, and when those
 *     find it corrupt or cut, the engine's error must say it (byte_stream.c);
 *   - received == counted + skipped_total; fragments_attributed <= counted, and 0 unless
 *     fragments are attributed;
 *   - the final snapshot exists, has `flows` rows in strictly increasing report order, each with
 *     a sane key and counters, and the rows' packets add up to `counted`;
 *   - the report file exists, starts with REPORT_HEADER, has flows + 1 lines and is exactly the
 *     header plus report_format_row() of the final snapshot's rows;
 *   - no temporary file of the atomic rewrite is left behind.
 * Inputs whose size is 2 or 3 modulo 4 run in lifecycle mode instead: flow limits taken from the
 * input's first bytes (idle and active timeouts from 1 ms to 2 s, max_flows 1 to 8), on_flows
 * records taken while it runs, and a JSON-lines export of the records. Then the final snapshot's
 * rows are the rows held, the records' packets add up to `counted` (the conservation rule), and
 * the export's file holds exactly one line per record.
 * Violations abort() so libFuzzer keeps the input. Everything is freed each run (LeakSanitizer).
 *
 * Files go to a folder created once per process under $NASOONE_FUZZ_TMPDIR, else /dev/shm
 * (the report is fsync'ed: tmpfs makes that free), else /tmp; it is removed at exit.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pcap/pcap.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <lz4frame.h>
#include <zlib.h>
#include <zstd.h>

#include "byte_stream.h"
#include "nasoone.h"
#include "packet_batch.h"
#include "report.h"

#define WAIT_LIMIT_MS 8000 /* below libFuzzer's -timeout=10, so this message comes first */

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size);

static char temp_dir[PATH_MAX];
static unsigned long run_number;

__attribute__((format(printf, 1, 2), noreturn)) static void violation(const char *format, ...)
{
    va_list args;
    va_start(args, format);
    fputs("fuzz_capture: invariant violated: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    abort();
}

static void remove_temp_dir(void)
{
    if (temp_dir[0] != '\0')
        rmdir(temp_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *base = getenv("NASOONE_FUZZ_TMPDIR");
    if (base == NULL || base[0] == '\0')
        base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    int n = snprintf(temp_dir, sizeof temp_dir, "%s/nasoone-fuzz-XXXXXX", base);
    if (n < 0 || (size_t)n >= sizeof temp_dir || mkdtemp(temp_dir) == NULL) {
        fprintf(stderr, "fuzz_capture: cannot create a temporary folder in %s: %s\n", base,
                strerror(errno));
        exit(1);
    }
    atexit(remove_temp_dir);
    return 0;
}

static uint64_t monotonic_ms(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
}

/* Writes the input to a fresh file in temp_dir; its name goes to path. */
static void write_input(const uint8_t *input, size_t size, char *path, size_t path_size)
{
    snprintf(path, path_size, "%s/input-XXXXXX", temp_dir);
    int fd = mkstemp(path);
    if (fd < 0)
        violation("mkstemp in %s: %s", temp_dir, strerror(errno));
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(fd, input + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            violation("writing the input file: %s", strerror(errno));
        done += (size_t)n;
    }
    close(fd);
}

/* The whole file in a malloc'd NUL-terminated buffer, its length in *length. */
static char *read_file(const char *path, size_t *length)
{
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        violation("the report %s does not exist: %s", path, strerror(errno));
    size_t capacity = 4096, used = 0;
    char *data = malloc(capacity);
    for (;;) {
        if (data == NULL)
            violation("out of memory reading the report");
        used += fread(data + used, 1, capacity - used - 1, file);
        if (used < capacity - 1)
            break;
        capacity *= 2;
        data = realloc(data, capacity);
    }
    if (ferror(file))
        violation("reading the report %s", path);
    fclose(file);
    data[used] = '\0';
    *length = used;
    return data;
}

/* The engine's row of a snapshot row, for report_compare_rows and report_format_row. */
static struct flow_row internal_row(const struct nasoone_row *row)
{
    struct flow_row out;
    memset(&out, 0, sizeof out);
    memcpy(out.key.src, row->source, sizeof out.key.src);
    memcpy(out.key.dst, row->destination, sizeof out.key.dst);
    out.key.src_port = row->source_port;
    out.key.dst_port = row->destination_port;
    out.key.family = row->family;
    out.key.protocol = row->protocol;
    out.counters = (struct flow_counters){.first_ms = row->first_ms,
                                          .last_ms = row->last_ms,
                                          .bytes = row->bytes,
                                          .packets = row->packets,
                                          .protocols = row->protocols,
                                          .tcp_flags = row->tcp_flags,
                                          .ip_bytes = row->ip_bytes};
    return out;
}

static void check_snapshot(const struct nasoone_snapshot *snapshot,
                           const struct nasoone_stats *stats, int lifecycle)
{
    if (snapshot == NULL)
        violation("no snapshot after the capture finished");
    if (!snapshot->final)
        violation("the last snapshot is not the final one");
    if (snapshot->count != stats->flows)
        violation("final snapshot has %zu rows, stats say %llu flows", snapshot->count,
                  (unsigned long long)stats->flows);
    uint64_t packets = 0;
    struct flow_row previous;
    for (size_t i = 0; i < snapshot->count; i++) {
        struct flow_row current = internal_row(&snapshot->rows[i]);
        const struct flow_row *row = &current;
        const struct flow_counters *c = &row->counters;
        if (row->key.family != FLOW_FAMILY_IPV4 && row->key.family != FLOW_FAMILY_IPV6)
            violation("row %zu: family %u", i, row->key.family);
        if (c->packets == 0 || c->first_ms > c->last_ms)
            violation("row %zu: %llu packets, first %llu > last %llu?", i,
                      (unsigned long long)c->packets, (unsigned long long)c->first_ms,
                      (unsigned long long)c->last_ms);
        if (c->protocols == 0 || (c->protocols & ~(FLOW_PROTO_TCP | FLOW_PROTO_UDP)) != 0)
            violation("row %zu: protocols 0x%x", i, c->protocols);
        /* report_compare_rows is a qsort comparator over row pointers */
        const struct flow_row *pair[2] = {&previous, row};
        if (i > 0 && report_compare_rows(&pair[0], &pair[1]) >= 0)
            violation("rows %zu and %zu are not in strictly increasing report order", i - 1, i);
        packets += c->packets;
        previous = current;
    }
    /* with limits, rows leave: the records add up instead (checked by the caller) */
    if (lifecycle ? packets > stats->counted || snapshot->count != stats->rows_held
                  : packets != stats->counted)
        violation("the rows hold %llu packets, stats say %llu counted", (unsigned long long)packets,
                  (unsigned long long)stats->counted);
}

/* Takes every pending batch of flow records, counting records and their packets. */
static void take_flows(nasoone_capture *capture, uint64_t *records, uint64_t *packets)
{
    struct nasoone_flow_batch *batch;
    while ((batch = nasoone_take_flows(capture)) != NULL) {
        for (size_t i = 0; i < batch->count; i++) {
            const struct nasoone_flow_record *record = &batch->records[i];
            if (record->row.packets == 0 || record->row.first_ms > record->row.last_ms)
                violation("a record with %llu packets", (unsigned long long)record->row.packets);
            *packets += record->row.packets;
        }
        *records += batch->count;
        nasoone_flows_free(batch);
    }
}

static void check_report(const char *path, const struct nasoone_snapshot *snapshot,
                         const struct nasoone_stats *stats)
{
    size_t length;
    char *text = read_file(path, &length);
    size_t header = strlen(REPORT_HEADER);
    if (length < header || memcmp(text, REPORT_HEADER, header) != 0)
        violation("the report does not start with the header line");
    size_t lines = 0;
    for (size_t i = 0; i < length; i++)
        lines += text[i] == '\n';
    if (length == 0 || text[length - 1] != '\n' || lines != stats->flows + 1)
        violation("the report has %zu lines, %llu flows + 1 expected", lines,
                  (unsigned long long)stats->flows);
    /* The file is exactly what the final snapshot renders to. */
    size_t offset = header;
    char row_text[REPORT_ROW_MAX];
    for (size_t i = 0; i < snapshot->count; i++) {
        struct flow_row row = internal_row(&snapshot->rows[i]);
        size_t n = report_format_row(&row, row_text);
        if (n > length - offset || memcmp(text + offset, row_text, n) != 0)
            violation("report line %zu differs from the final snapshot's row: %s", i + 2, row_text);
        offset += n;
    }
    if (offset != length)
        violation("the report has %zu bytes after the final snapshot's rows", length - offset);
    free(text);
}

/* Nothing but our own files may be left in temp_dir (no temporary of an atomic rewrite). */
/* What libpcap's own reader makes of the file: its records, and its error ("" at the end of
 * the file). The engine reads classic pcap files without libpcap's reader (classic_pcap.c):
 * it must still receive exactly these records and fail with the same words. */
static uint64_t libpcap_records(const char *path, char *error, size_t error_size)
{
    char errbuf[PCAP_ERRBUF_SIZE];
    error[0] = '\0';
    pcap_t *pcap = pcap_open_offline(path, errbuf);
    if (pcap == NULL)
        violation("libpcap refuses %s, which the engine took: %s", path, errbuf);
    struct pcap_pkthdr *header;
    const u_char *data;
    uint64_t records = 0;
    int rc;
    while ((rc = pcap_next_ex(pcap, &header, &data)) == 1)
        records++;
    if (rc == PCAP_ERROR)
        snprintf(error, error_size, "%s", pcap_geterr(pcap));
    pcap_close(pcap);
    return records;
}

/* Whether libpcap stops where nasoone's pcapng reader goes on by design (csrc/pcapng.h): the
 * interfaces differ in link type or snapshot length, a packet is longer than its interface's
 * snapshot length, or a later section is of the other byte order (libpcap then reads that
 * section's header in the first one's order and fails in one way or another). Then the record
 * count and the error are not libpcap's, and only the engine's own rules are checked. */
static int pcapng_reads_further(const uint8_t *bytes, size_t size, const char *libpcap_error)
{
    static const char *const designed[] = {
        "different from the type of the first interface",
        "different from the snapshot length of the first interface",
        "sections with different byte orders",
        "bigger than snaplen of", /* pcapng only: a classic file's record is cut to it */
    };
    if (libpcap_error[0] == '\0')
        return 0;
    for (size_t i = 0; i < 3; i++)
        if (strstr(libpcap_error, designed[i]) != NULL)
            return 1;
    /* a compressed input (bytes NULL): only the messages above are told apart */
    if (bytes == NULL || size < 12 || memcmp(bytes, "\x0a\x0d\x0d\x0a", 4) != 0)
        return 0;
    if (strstr(libpcap_error, designed[3]) != NULL)
        return 1;
    uint32_t first_order, order;
    memcpy(&first_order, bytes + 8, 4);
    for (size_t at = 4; at + 12 <= size; at += 4) {
        memcpy(&order, bytes + at + 8, 4);
        if (memcmp(bytes + at, "\x0a\x0d\x0d\x0a", 4) == 0 &&
            order == __builtin_bswap32(first_order))
            return 1;
    }
    return 0;
}

/* A compressed input's capture bytes, decompressed by the libraries' plainest calls (zlib's
 * gzread, which also skips what follows the last member; zstd's and lz4's streaming calls over
 * the whole input) into `out_path`. Returns 0 when the whole input decompressed cleanly, -1
 * when it is corrupt or cut (the bytes before the fault are written either way). */
static int reference_decompress(const char *kind, const char *in_path, const uint8_t *input,
                                size_t size, const char *out_path)
{
    FILE *out = fopen(out_path, "wb");
    if (out == NULL)
        violation("fopen %s: %s", out_path, strerror(errno));
    static uint8_t buffer[1 << 16];
    int clean = 1;
    if (strcmp(kind, "gzip") == 0) {
        gzFile gz = gzopen(in_path, "rb");
        if (gz == NULL)
            violation("gzopen %s", in_path);
        int n;
        while ((n = gzread(gz, buffer, sizeof buffer)) > 0)
            fwrite(buffer, 1, (size_t)n, out);
        int code;
        gzerror(gz, &code);
        clean = n == 0 && code == Z_OK;
        gzclose(gz);
    } else if (strcmp(kind, "zstd") == 0) {
        ZSTD_DCtx *context = ZSTD_createDCtx();
        ZSTD_inBuffer in = {input, size, 0};
        size_t rc;
        for (;;) { /* done once the input is all in and the output no longer fills */
            ZSTD_outBuffer o = {buffer, sizeof buffer, 0};
            rc = ZSTD_decompressStream(context, &o, &in);
            fwrite(buffer, 1, o.pos, out);
            if (ZSTD_isError(rc) || (in.pos == in.size && o.pos < o.size))
                break;
        }
        clean = !ZSTD_isError(rc) && rc == 0;
        ZSTD_freeDCtx(context);
    } else {
        LZ4F_dctx *context;
        if (LZ4F_isError(LZ4F_createDecompressionContext(&context, LZ4F_VERSION)))
            violation("LZ4F context");
        size_t pos = 0, rc = 1;
        /* (a call with no input left would return the next frame's hint: rc is the last one's
         * that had input) */
        while (pos < size) {
            size_t made = sizeof buffer, used = size - pos;
            rc = LZ4F_decompress(context, buffer, &made, input + pos, &used, NULL);
            if (LZ4F_isError(rc) || (used == 0 && made == 0))
                break;
            fwrite(buffer, 1, made, out);
            pos += used;
        }
        clean = !LZ4F_isError(rc) && rc == 0 && pos == size;
        LZ4F_freeDecompressionContext(context);
    }
    fclose(out);
    return clean ? 0 : -1;
}

static void check_temp_dir_empty(void)
{
    DIR *dir = opendir(temp_dir);
    if (dir == NULL)
        violation("opendir %s: %s", temp_dir, strerror(errno));
    struct dirent *entry;
    while ((entry = readdir(dir)) != NULL)
        if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0)
            violation("left behind in %s: %s", temp_dir, entry->d_name);
    closedir(dir);
}

static void expect_ok(int result, const char *what, const char *err)
{
    if (result != 0)
        violation("%s failed: %s", what, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
    char input_path[PATH_MAX], report_path[PATH_MAX + 32], err[512] = "";
    write_input(input, size, input_path, sizeof input_path);
    nasoone_capture *capture = nasoone_capture_new();
    if (capture == NULL)
        violation("nasoone_capture_new returned NULL");
    if (nasoone_set_capture_file(capture, input_path, err, sizeof err) != 0) {
        if (strncmp(err, "nasoone: ", 9) != 0)
            violation("error message without the 'nasoone: ' prefix: %s", err);
        if (nasoone_get_state(capture) != NASOONE_INITIAL)
            violation("a failed set_capture_file left state %s",
                      nasoone_state_name(nasoone_get_state(capture)));
        nasoone_capture_free(capture);
        unlink(input_path);
        return 0;
    }
    snprintf(report_path, sizeof report_path, "%s/report-%lu.csv", temp_dir, ++run_number);
    expect_ok(nasoone_set_output(capture, report_path, err, sizeof err), "set_output", err);
    expect_ok(nasoone_set_interval_ms(capture, 5, err, sizeof err), "set_interval_ms", err);
    expect_ok(nasoone_set_parser_count(capture, 2, err, sizeof err), "set_parser_count", err);
    expect_ok(nasoone_set_snapshots(capture, 1, err, sizeof err), "set_snapshots", err);
    int attribute = size % 2 == 1;
    expect_ok(nasoone_set_fragment_mode(
                  capture, attribute ? NASOONE_FRAGMENTS_ATTRIBUTE : NASOONE_FRAGMENTS_SKIP, err,
                  sizeof err),
              "set_fragment_mode", err);
    int lifecycle = size % 4 >= 2;
    char export_path[PATH_MAX + 32];
    snprintf(export_path, sizeof export_path, "%s/flows-%lu.jsonl", temp_dir, run_number);
    if (lifecycle) {
        struct nasoone_flow_limits limits = {
            .idle_timeout_ms = 1 + (size > 0 ? input[0] : 0) * 8u,
            .active_timeout_ms = 1 + (size > 1 ? input[1] : 0) * 8u,
            .max_flows = 1 + (size > 2 ? input[2] : 0) % 8u,
        };
        expect_ok(nasoone_set_flow_limits(capture, &limits, err, sizeof err), "set_flow_limits",
                  err);
        expect_ok(nasoone_set_flow_records(capture, 1, err, sizeof err), "set_flow_records", err);
        expect_ok(nasoone_add_export(capture, "jsonl", export_path, NULL, err, sizeof err),
                  "add_export", err);
    }
    expect_ok(nasoone_start(capture, err, sizeof err), "start", err);
    uint64_t record_packets = 0, records = 0;

    /* Keep the newest snapshot: the final one may be published between a state poll and the
     * take, and it must be the last one seen. */
    struct nasoone_snapshot *last = NULL;
    uint64_t deadline = monotonic_ms() + WAIT_LIMIT_MS;
    for (;;) {
        nasoone_clear_event(capture); /* before the state, as the binding does */
        enum nasoone_state state = nasoone_get_state(capture);
        struct nasoone_snapshot *snapshot = nasoone_take_snapshot(capture);
        if (snapshot != NULL) {
            nasoone_snapshot_free(last);
            last = snapshot;
        }
        take_flows(capture, &records, &record_packets);
        if (state == NASOONE_FINISHED)
            break;
        if (state != NASOONE_RUNNING)
            violation("state %s while reading a file", nasoone_state_name(state));
        if (monotonic_ms() > deadline)
            violation("not finished after %d ms: hang", WAIT_LIMIT_MS);
        /* at most 1 ms; the event descriptor wakes us at once when a snapshot is published
         * or the capture finishes */
        poll(&(struct pollfd){.fd = nasoone_event_fd(capture), .events = POLLIN}, 1, 1);
    }
    struct nasoone_snapshot *snapshot = nasoone_take_snapshot(capture);
    if (snapshot != NULL) {
        nasoone_snapshot_free(last);
        last = snapshot;
    }
    take_flows(capture, &records, &record_packets);
    expect_ok(nasoone_stop(capture, err, sizeof err), "stop", err);
    take_flows(capture, &records, &record_packets);
    if (nasoone_get_state(capture) != NASOONE_STOPPED)
        violation("state %s after stop", nasoone_state_name(nasoone_get_state(capture)));
    /* stop() publishes nothing new after the final snapshot. */
    snapshot = nasoone_take_snapshot(capture);
    if (snapshot != NULL)
        violation("a snapshot after the final one");

    struct nasoone_stats stats;
    nasoone_get_stats(capture, &stats);
    char libpcap_error[PCAP_ERRBUF_SIZE];
    /* A compressed input: libpcap reads the decompressed bytes. When they are cut or corrupt,
     * the engine must say so, and what it received came before the fault. */
    const char *compressed = byte_stream_compression(input, size);
    char plain_path[PATH_MAX + 16];
    snprintf(plain_path, sizeof plain_path, "%s.plain", input_path);
    int clean = compressed == NULL ||
                reference_decompress(compressed, input_path, input, size, plain_path) == 0;
    uint64_t expected_records = 0;
    libpcap_error[0] = '\0';
    if (clean) /* (a corrupt stream's prefix may not even be a capture's header) */
        expected_records = libpcap_records(compressed ? plain_path : input_path, libpcap_error,
                                           sizeof libpcap_error);
    int reference = 1; /* what libpcap reads is the reference */
    if (clean && pcapng_reads_further(compressed ? NULL : input, size, libpcap_error))
        reference = 0;
    /* nasoone's own limit (pcapng.h): a block it needs whole, longer than a batch, is refused
     * where libpcap would read it (or, here, find the file cut inside it): the same records */
    char batch_limit[48];
    snprintf(batch_limit, sizeof batch_limit, "> maximum %u", (unsigned)NASOONE_BATCH_BYTES);
    int own_limit = strstr(stats.error, "pcapng block size") != NULL &&
                    strstr(stats.error, batch_limit) != NULL; /* the count is compared */
    if (compressed)
        unlink(plain_path);
    if (!reference) {
        /* nothing to compare with: the engine's own rules below */
        libpcap_error[0] = '\0';
        clean = 0;
    } else if (!clean) {
        /* how much a library gives before its error differs between its calls: the engine
         * must only say that the data is bad */
        if (strstr(stats.error, "nasoone: reading ") == NULL)
            violation("corrupt %s data, the engine says '%s'", compressed, stats.error);
    } else if (stats.received != expected_records)
        violation("received %llu records, libpcap reads %llu", (unsigned long long)stats.received,
                  (unsigned long long)expected_records);
    if (clean && !own_limit && libpcap_error[0] != '\0' &&
        strstr(stats.error, libpcap_error) == NULL)
        violation("libpcap says '%s', the engine '%s'", libpcap_error, stats.error);
    if (clean && !own_limit && libpcap_error[0] == '\0' &&
        strstr(stats.error, "nasoone: reading ") != NULL)
        violation("libpcap reads the file to its end, the engine says '%s'", stats.error);
    if (stats.received != stats.counted + stats.skipped_total)
        violation("received %llu != counted %llu + skipped %llu",
                  (unsigned long long)stats.received, (unsigned long long)stats.counted,
                  (unsigned long long)stats.skipped_total);
    if (stats.fragments_attributed > stats.counted ||
        (!attribute && stats.fragments_attributed != 0))
        violation("%llu fragments attributed (%llu counted, attribution %s)",
                  (unsigned long long)stats.fragments_attributed, (unsigned long long)stats.counted,
                  attribute ? "on" : "off");
    if (stats.reports_written == 0)
        violation("no report written (error: %s)", stats.error);
    if (stats.queue_dropped != 0 || stats.paused_discarded != 0)
        violation("a capture file dropped or discarded packets");
    check_snapshot(last, &stats, lifecycle);
    check_report(report_path, last, &stats);
    if (lifecycle) {
        if (record_packets != stats.counted || records != stats.records)
            violation("records: %llu with %llu packets; stats: %llu records, %llu counted",
                      (unsigned long long)records, (unsigned long long)record_packets,
                      (unsigned long long)stats.records, (unsigned long long)stats.counted);
        if (stats.rows_peak > 8 || stats.exports[0].sent != records ||
            stats.exports[0].dropped != 0 || stats.exports[0].errors != 0)
            violation("peak %llu rows; jsonl export sent %llu of %llu records, %llu dropped: %s",
                      (unsigned long long)stats.rows_peak,
                      (unsigned long long)stats.exports[0].sent, (unsigned long long)records,
                      (unsigned long long)stats.exports[0].dropped, stats.exports[0].error);
        size_t length = 0;
        char *text = records > 0 ? read_file(export_path, &length) : NULL;
        size_t lines = 0;
        for (size_t i = 0; i < length; i++)
            lines += text[i] == '\n';
        if (lines != records)
            violation("the jsonl export has %zu lines for %llu records", lines,
                      (unsigned long long)records);
        free(text);
        if (records > 0 && unlink(export_path) != 0)
            violation("unlink %s: %s", export_path, strerror(errno));
    }

    nasoone_snapshot_free(last);
    nasoone_capture_free(capture);
    if (unlink(report_path) != 0)
        violation("unlink %s: %s", report_path, strerror(errno));
    unlink(input_path);
    check_temp_dir_empty();
    return 0;
}
