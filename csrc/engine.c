/*
 * engine.c - the capture object and its state machine (nasoone.h). Runs on the caller's thread.
 * The setters fill a configuration; start freezes it into a run (run.h: what the threads
 * receive), makes its outputs and starts its threads (pipeline.h); stop joins them.
 *
 *   initial -(set capture)-> runnable -(start)-> running <-(pause/resume)-> paused
 *   running -(end of input)-> finished;  running/paused/finished -(stop)-> stopped
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "message.h"
#include "pipeline.h"
#include "report.h"
#include "run.h"

/* What the state machine holds; the run's threads never see it. */
struct nasoone_capture {
    struct run_status status; /* state and errors, shared with the run's threads */
    struct mailbox mailbox;   /* what the caller's thread receives */
    const char *error_code;   /* the last failure's stable name (nasoone_error_code) */
    /* The configuration: what the setters fill, frozen into the run at start. */
    struct run_config config;
    struct source *source;                     /* set_capture_file's or set_capture_device's */
    char *output_path;                         /* NULL: no report file */
    const struct report_format *output_format; /* the report file's: NULL for the seed's CSV */
    int snapshots;                             /* on_report is set */
    struct record_sink *exports[NASOONE_MAX_EXPORTS]; /* add_export's */
    unsigned export_count;
    struct run *run;          /* NULL until start; kept after stop for stats */
    struct pipeline pipeline; /* the run's threads */
};

/* A failure of a call on `capture`: the message in err and its stable code for
 * nasoone_error_code(). Returns -1. */
#define fail_code(capture, code, ...) message_refuse(&(capture)->error_code, code, __VA_ARGS__)

const char *nasoone_state_name(enum nasoone_state state)
{
    switch (state) {
    case NASOONE_INITIAL:
        return "initial";
    case NASOONE_RUNNABLE:
        return "runnable";
    case NASOONE_RUNNING:
        return "running";
    case NASOONE_PAUSED:
        return "paused";
    case NASOONE_FINISHED:
        return "finished";
    case NASOONE_STOPPED:
        return "stopped";
    }
    return "unknown";
}

_Static_assert((int)DECODE_RESULT_COUNT == (int)NASOONE_SKIP_REASON_END &&
                   (int)DECODE_UNSUPPORTED_LINK == (int)NASOONE_SKIP_UNSUPPORTED_LINK,
               "the decoder's results are the public skip reasons, in the same order");

const char *nasoone_skip_reason_name(enum nasoone_skip_reason reason)
{
    /* the decoder's result codes are the skip reasons */
    return decode_result_name((enum decode_result)reason);
}

enum nasoone_state nasoone_get_state(nasoone_capture *capture)
{
    pthread_mutex_lock(&capture->status.lock);
    enum nasoone_state state = capture->status.state;
    pthread_mutex_unlock(&capture->status.lock);
    return state;
}

static void set_state(nasoone_capture *capture, enum nasoone_state state)
{
    pthread_mutex_lock(&capture->status.lock);
    capture->status.state = state;
    pthread_mutex_unlock(&capture->status.lock);
}

int nasoone_get_datalink(nasoone_capture *capture)
{
    return capture->source != NULL ? source_datalink(capture->source) : -1;
}

static int fail_state(nasoone_capture *capture, const char *what, char *err, size_t err_size)
{
    return fail_code(capture, "wrong_state", err, err_size, "nasoone: cannot %s in state '%s'",
                     what, nasoone_state_name(nasoone_get_state(capture)));
}

/* Setters are for a capture that has not started. */
static int check_configurable(nasoone_capture *capture, const char *what, char *err,
                              size_t err_size)
{
    enum nasoone_state state = nasoone_get_state(capture);
    if (state == NASOONE_INITIAL || state == NASOONE_RUNNABLE)
        return 0;
    return fail_state(capture, what, err, err_size);
}

nasoone_capture *nasoone_capture_new(void)
{
    nasoone_capture *capture = calloc(1, sizeof *capture);
    if (capture == NULL)
        return NULL;
    if (mailbox_init(&capture->mailbox) != 0) {
        free(capture);
        return NULL;
    }
    run_status_init(&capture->status);
    capture->config.interval_ms = 1000;
    capture->config.community_seed = -1;
    /* One parser per core but the reader's: reading a file or a busy device keeps the reader
     * on a core of its own, and a parser beside it on that core only takes turns with it (on
     * 2 cores one parser is 0.82x the time of two: docs/performance.md). */
    long parsers = sysconf(_SC_NPROCESSORS_ONLN) - 1;
    capture->config.parser_count = parsers < 1                           ? 1
                                   : parsers > (long)NASOONE_MAX_PARSERS ? NASOONE_MAX_PARSERS
                                                                         : (unsigned)parsers;
    return capture;
}

void nasoone_capture_free(nasoone_capture *capture)
{
    if (capture == NULL)
        return;
    char ignored[64];
    enum nasoone_state state = nasoone_get_state(capture);
    if (state == NASOONE_RUNNING || state == NASOONE_PAUSED || state == NASOONE_FINISHED)
        nasoone_stop(capture, ignored, sizeof ignored);
    run_free(capture->run);
    source_close(capture->source);
    mailbox_destroy(&capture->mailbox);
    for (unsigned i = 0; i < capture->export_count; i++)
        record_sink_free(capture->exports[i]);
    free(capture->output_path);
    run_status_destroy(&capture->status);
    free(capture);
}

/* Takes a newly opened source (`opened` is its open's result, `code` its failure's code) as the
 * capture's, with the capture's filter; on failure closes it. */
static int install_source(nasoone_capture *capture, int opened, struct source *source,
                          const char *code, char *err, size_t err_size)
{
    if (opened != 0) {
        capture->error_code = code;
        return -1;
    }
    /* the filter set so far (it is the source's) goes on with the new source */
    const char *filter = capture->source != NULL ? capture->source->filter : NULL;
    if (filter != NULL && source_set_filter(source, filter, err, err_size)) {
        source_close(source);
        capture->error_code = "bad_filter";
        return -1;
    }
    source_close(capture->source);
    capture->source = source;
    set_state(capture, NASOONE_RUNNABLE);
    return 0;
}

int nasoone_set_capture_files(nasoone_capture *capture, const char *const *paths, size_t count,
                              char *err, size_t err_size)
{
    if (check_configurable(capture, "set the capture file", err, err_size) != 0)
        return -1;
    struct source *source = NULL;
    const char *code = NULL;
    int opened = source_open_files(paths, count, &source, err, err_size, &code);
    return install_source(capture, opened, source, code, err, err_size);
}

int nasoone_set_capture_file(nasoone_capture *capture, const char *path, char *err, size_t err_size)
{
    return nasoone_set_capture_files(capture, &path, 1, err, err_size);
}

void nasoone_device_options_init(struct nasoone_device_options *options)
{
    /* Only headers are decoded (bytes come from the wire length): 2 KiB holds any sane header
     * chain, and keeps the kernel ring's slots small, which matters in immediate mode, where
     * libpcap gives each packet a slot of snaplen bytes (262144 would leave 8 slots). */
    options->snaplen = 2048;
    options->promiscuous = 1;
    options->buffer_size = 16 * 1024 * 1024; /* libpcap's 2 MiB overflows at a few 100k pkt/s */
    options->immediate = 0;
    options->nanosecond = 0;
    options->timeout_ms = 100;
}

const char *nasoone_error_code(nasoone_capture *capture) { return capture->error_code; }

int nasoone_set_capture_devices(nasoone_capture *capture, const char *const *devices, size_t count,
                                const struct nasoone_device_options *options, char *err,
                                size_t err_size)
{
    if (check_configurable(capture, "set the capture device", err, err_size) != 0)
        return -1;
    struct nasoone_device_options defaults;
    if (options == NULL) {
        nasoone_device_options_init(&defaults);
        options = &defaults;
    }
    struct source *source = NULL;
    const char *code = NULL;
    int opened = source_open_devices(devices, count, options, &source, err, err_size, &code);
    if (install_source(capture, opened, source, code, err, err_size) != 0)
        return -1;
    capture->error_code = NULL;
    return 0;
}

int nasoone_set_capture_device(nasoone_capture *capture, const char *device,
                               const struct nasoone_device_options *options, char *err,
                               size_t err_size)
{
    return nasoone_set_capture_devices(capture, &device, 1, options, err, err_size);
}

const char *nasoone_device_name(nasoone_capture *capture, unsigned device)
{
    const struct source *source = capture->source;
    if (source == NULL || device == 0 || device > source->device_count)
        return NULL;
    return source->device_names[device - 1];
}

int nasoone_set_output(nasoone_capture *capture, const char *path, char *err, size_t err_size)
{
    if (check_configurable(capture, "set the output", err, err_size) != 0)
        return -1;
    const char *slash = strrchr(path, '/');
    const char *name = slash ? slash + 1 : path;
    if (path[0] == '\0')
        return fail_code(capture, "invalid_path", err, err_size,
                         "nasoone: the output path is empty");
    if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
        return fail_code(capture, "invalid_path", err, err_size,
                         "nasoone: output %s names a folder, not a file", path);
    if (strlen(name) > NAME_MAX || strlen(path) >= PATH_MAX)
        return fail_code(capture, "invalid_path", err, err_size,
                         "nasoone: cannot use output file %s: %s", path, strerror(ENAMETOOLONG));
    struct stat st;
    if (lstat(path, &st) == 0)
        return fail_code(capture, "exists", err, err_size, "nasoone: output file %s already exists",
                         path);
    char folder[PATH_MAX];
    report_split_path(path, folder, sizeof folder, &name);
    int found = stat(folder, &st) == 0;
    int saved_errno = errno;
    if (found && !S_ISDIR(st.st_mode))
        return fail_code(capture, "invalid_path", err, err_size,
                         "nasoone: output folder %s is not a folder", folder);
    if (!found)
        return fail_code(capture, errno_code(saved_errno), err, err_size,
                         "nasoone: output folder %s does not exist%s%s", folder,
                         saved_errno == ENOENT ? "" : ": ",
                         saved_errno == ENOENT ? "" : strerror(saved_errno));
    /* What can only fail later is tried now: a file is created in the folder and removed again
     * (a folder that is read-only, not ours, or on a file system like /proc that takes no
     * files). Never at the report's own name: a reader would see an empty report there. */
    if (report_try_create(path) != 0)
        return fail_code(capture, errno_code(errno), err, err_size,
                         "nasoone: cannot create output file %s: %s", path, strerror(errno));
    char *copy = strdup(path);
    if (copy == NULL)
        return fail_code(capture, "out_of_memory", err, err_size, "nasoone: out of memory");
    free(capture->output_path);
    capture->output_path = copy;
    return 0;
}

int nasoone_set_flow_key(nasoone_capture *capture, enum nasoone_flow_key key, char *err,
                         size_t err_size)
{
    if (check_configurable(capture, "set the flow key", err, err_size) != 0)
        return -1;
    if (key != NASOONE_KEY_4_TUPLE && key != NASOONE_KEY_5_TUPLE)
        return fail_code(capture, "invalid_argument", err, err_size, "nasoone: unknown flow key %d",
                         (int)key);
    capture->config.five_tuple = key == NASOONE_KEY_5_TUPLE;
    return 0;
}

int nasoone_set_biflow(nasoone_capture *capture, int on, char *err, size_t err_size)
{
    if (check_configurable(capture, "set biflows", err, err_size) != 0)
        return -1;
    capture->config.biflow = on != 0;
    return 0;
}

int nasoone_set_community_id(nasoone_capture *capture, int seed, char *err, size_t err_size)
{
    if (check_configurable(capture, "set the community id", err, err_size) != 0)
        return -1;
    if (seed < -1 || seed > 65535)
        return fail_code(capture, "invalid_argument", err, err_size,
                         "nasoone: a community id seed is from 0 to 65535 (or -1 for none), "
                         "not %d",
                         seed);
    capture->config.community_seed = seed;
    return 0;
}

int nasoone_set_packet_limit(nasoone_capture *capture, uint64_t packets, char *err, size_t err_size)
{
    if (check_configurable(capture, "set a packet limit", err, err_size) != 0)
        return -1;
    capture->config.packet_limit = packets;
    return 0;
}

int nasoone_set_output_format(nasoone_capture *capture, const char *format, char *err,
                              size_t err_size)
{
    if (check_configurable(capture, "set the output format", err, err_size) != 0)
        return -1;
    static const struct report_format *const formats[] = {
        &report_format_csv, &report_format_csv_extended, &report_format_jsonl};
    for (size_t i = 0; i < sizeof formats / sizeof *formats; i++) {
        if (strcmp(format, formats[i]->name) == 0) {
            capture->output_format = formats[i];
            return 0;
        }
    }
    return fail_code(capture, "invalid_argument", err, err_size,
                     "nasoone: unknown report format '%s' (csv, csv-extended or jsonl)", format);
}

int nasoone_set_flow_limits(nasoone_capture *capture, const struct nasoone_flow_limits *limits,
                            char *err, size_t err_size)
{
    if (check_configurable(capture, "set flow limits", err, err_size) != 0)
        return -1;
    capture->config.idle_timeout_ms = limits->idle_timeout_ms;
    capture->config.active_timeout_ms = limits->active_timeout_ms;
    capture->config.max_flows = limits->max_flows;
    return 0;
}

void nasoone_export_options_init(struct nasoone_export_options *options)
{
    options->rotate_s = 0;
    options->domain = 0;
    options->mtu = 0; /* the exporter's: 1400 over UDP, 65535 in a file */
    options->template_resend_s = 10;
}

/* Makes a sink of `kind` with `settings` and adds it to the capture's exports. */
static int add_sink(nasoone_capture *capture, const struct record_sink_kind *kind,
                    const char *target, const struct record_sink_settings *settings, char *err,
                    size_t err_size)
{
    if (capture->export_count == NASOONE_MAX_EXPORTS)
        return fail_code(capture, "invalid_argument", err, err_size,
                         "nasoone: a capture has at most %d exports", NASOONE_MAX_EXPORTS);
    struct record_sink *sink = record_sink_new();
    if (sink == NULL)
        return fail_code(capture, "out_of_memory", err, err_size, "nasoone: out of memory");
    if (kind->open(sink, target, settings, err, err_size) != 0) {
        capture->error_code = sink->error_code != NULL ? sink->error_code : "error";
        record_sink_free(sink);
        return -1;
    }
    capture->exports[capture->export_count++] = sink;
    return 0;
}

/* The kind called `name` for an export added now, or NULL with the failure told (the state,
 * or code unknown_kind). */
static const struct record_sink_kind *export_kind(nasoone_capture *capture, const char *name,
                                                  char *err, size_t err_size)
{
    if (check_configurable(capture, "add an export", err, err_size) != 0)
        return NULL;
    const struct record_sink_kind *kind = record_sink_kind_find(name);
    if (kind == NULL) {
        char names[128];
        record_sink_kind_names(names, sizeof names);
        fail_code(capture, "unknown_kind", err, err_size, "export kind must be %s", names);
    }
    return kind;
}

int nasoone_add_export_named(nasoone_capture *capture, const char *kind_name, const char *target,
                             const struct nasoone_export_option *options, size_t count, char *err,
                             size_t err_size)
{
    const struct record_sink_kind *kind = export_kind(capture, kind_name, err, err_size);
    if (kind == NULL)
        return -1;
    struct record_sink_settings settings;
    record_sink_settings_init(&settings, kind);
    for (size_t i = 0; i < count; i++)
        if (record_sink_settings_set(&settings, kind->name, options[i].name, options[i].value, err,
                                     err_size) != 0) {
            capture->error_code = "bad_option";
            return -1;
        }
    return add_sink(capture, kind, target, &settings, err, err_size);
}

int nasoone_add_export(nasoone_capture *capture, const char *kind_name, const char *target,
                       const struct nasoone_export_options *options, char *err, size_t err_size)
{
    const struct record_sink_kind *kind = export_kind(capture, kind_name, err, err_size);
    if (kind == NULL)
        return -1;
    struct nasoone_export_options defaults;
    nasoone_export_options_init(&defaults);
    if (options == NULL)
        options = &defaults;
    /* the fields of this fixed struct, for the kinds that take them (unchecked, as ever) */
    struct record_sink_settings settings;
    record_sink_settings_init(&settings, kind);
    record_sink_settings_put(&settings, "rotate", options->rotate_s);
    record_sink_settings_put(&settings, "domain", options->domain);
    record_sink_settings_put(&settings, "mtu", options->mtu);
    record_sink_settings_put(&settings, "template_resend", options->template_resend_s);
    return add_sink(capture, kind, target, &settings, err, err_size);
}

int nasoone_set_flow_records(nasoone_capture *capture, int enabled, char *err, size_t err_size)
{
    if (check_configurable(capture, "set on_flows", err, err_size) != 0)
        return -1;
    capture->config.flow_records = enabled != 0; /* its sink is the run's */
    return 0;
}

struct nasoone_flow_batch *nasoone_take_flows(nasoone_capture *capture)
{
    return mailbox_take_flows(&capture->mailbox);
}

size_t nasoone_pending_flow_batches(nasoone_capture *capture)
{
    return mailbox_flow_count(&capture->mailbox);
}

const char *nasoone_end_reason_name(int reason)
{
    return flow_end_reason_name((enum flow_end_reason)reason);
}

int nasoone_set_interval_ms(nasoone_capture *capture, uint32_t interval_ms, char *err,
                            size_t err_size)
{
    if (check_configurable(capture, "set the interval", err, err_size) != 0)
        return -1;
    if (interval_ms == 0)
        return fail_code(capture, "invalid_argument", err, err_size,
                         "nasoone: the interval must be at least 1 ms");
    capture->config.interval_ms = interval_ms;
    return 0;
}

int nasoone_set_parser_count(nasoone_capture *capture, unsigned count, char *err, size_t err_size)
{
    if (check_configurable(capture, "set the parser count", err, err_size) != 0)
        return -1;
    if (count < 1 || count > NASOONE_MAX_PARSERS)
        return fail_code(capture, "invalid_argument", err, err_size,
                         "nasoone: the parser count must be between 1 and %d", NASOONE_MAX_PARSERS);
    capture->config.parser_count = count;
    return 0;
}

int nasoone_set_filter(nasoone_capture *capture, const char *bpf, char *err, size_t err_size)
{
    if (check_configurable(capture, "set a filter", err, err_size) != 0)
        return -1;
    if (capture->source == NULL)
        return fail_code(capture, "wrong_state", err, err_size,
                         "nasoone: set the capture file or device before the filter "
                         "(it is compiled for the capture's link type)");
    if (source_set_filter(capture->source, bpf, err, err_size) != 0) {
        capture->error_code = "bad_filter";
        return -1;
    }
    return 0;
}

int nasoone_set_fragment_mode(nasoone_capture *capture, enum nasoone_fragment_mode mode, char *err,
                              size_t err_size)
{
    if (check_configurable(capture, "set the fragment mode", err, err_size) != 0)
        return -1;
    if (mode != NASOONE_FRAGMENTS_SKIP && mode != NASOONE_FRAGMENTS_ATTRIBUTE)
        return fail_code(capture, "invalid_argument", err, err_size,
                         "nasoone: unknown fragment mode %d", (int)mode);
    capture->config.fragment_mode = mode;
    return 0;
}

int nasoone_set_snapshots(nasoone_capture *capture, int enabled, char *err, size_t err_size)
{
    if (check_configurable(capture, "change on_report", err, err_size) != 0)
        return -1;
    capture->snapshots = enabled != 0;
    return 0;
}

const char *nasoone_thread_role_name(int role)
{
    static const char *const names[NASOONE_THREAD_ROLE_END] = {"reader", "parsers", "writer",
                                                               "keeper", "exporter"};
    return role >= 0 && role < NASOONE_THREAD_ROLE_END ? names[role] : "unknown";
}

/* Makes what the run writes to: the exports' files, then the report file. If one fails, the
 * ones made before it are undone (reverse order) and the failure is the capture's. */
static int start_outputs(nasoone_capture *capture, struct run *run, char *err, size_t err_size)
{
    char message[NASOONE_MESSAGE_SIZE];
    const char *code;
    unsigned sinks = 0, outputs = 0; /* started */
    for (; sinks < capture->export_count; sinks++) {
        struct record_sink *sink = capture->exports[sinks];
        if (sink->ops->start != NULL && sink->ops->start(sink, message, sizeof message) != 0) {
            code = sink->error_code;
            goto undo;
        }
    }
    for (; outputs < run->output_count; outputs++) {
        struct report_output *output = run->outputs[outputs];
        if (output->ops->start != NULL &&
            output->ops->start(output, message, sizeof message) != 0) {
            code = output->error_code;
            goto undo;
        }
    }
    return 0;
undo:
    while (outputs > 0) {
        struct report_output *output = run->outputs[--outputs];
        if (output->ops->abandon != NULL)
            output->ops->abandon(output);
    }
    while (sinks > 0) {
        struct record_sink *sink = capture->exports[--sinks];
        if (sink->ops->abandon != NULL)
            sink->ops->abandon(sink);
    }
    return fail_code(capture, code != NULL ? code : "error", err, err_size, "%s", message);
}

/* The run of the capture's configuration, its sinks and outputs in place (nothing made on
 * disk yet), or NULL when out of memory. */
static struct run *build_run(nasoone_capture *capture)
{
    const struct run_config *config = &capture->config;
    struct run *run = run_new(config, capture->source, &capture->status, &capture->mailbox);
    if (run == NULL)
        return NULL;
    run->lifecycle = config->idle_timeout_ms != 0 || config->active_timeout_ms != 0 ||
                     config->max_flows != 0 || capture->export_count != 0 || config->flow_records;
    if (run->lifecycle && config->parser_count == 1) {
        run->keeper_decodes = 1;
        run->table_owner_inbox = &run->ready_batches;
    } else if (run->lifecycle) {
        run->table_owner_inbox = &run->decoded_batches;
    } else if (config->parser_count == 1)
        run->table_owner_inbox = &run->ready_batches;
    for (unsigned i = 0; i < capture->export_count; i++) {
        capture->exports[i]->may_wait = !capture->source->live;
        capture->exports[i]->community_id = config->community_seed >= 0;
        capture->exports[i]->community_seed = (uint16_t)config->community_seed;
        capture->exports[i]->biflow = config->biflow;
        capture->exports[i]->device_names = capture->source->device_names;
        run->sinks[run->sink_count++] = capture->exports[i];
    }
    if (run->on_flows_sink != NULL)
        run->sinks[run->sink_count++] = run->on_flows_sink;
    struct report_output *file = NULL, *snapshot = NULL;
    if (capture->output_path != NULL) {
        struct report_format format = report_format_for(
            capture->output_format != NULL ? capture->output_format : &report_format_csv,
            config->biflow, config->community_seed, capture->source->device_names);
        file = report_output_file_new(capture->output_path, &format);
        if (file != NULL)
            run->outputs[run->output_count++] = file;
    }
    if (capture->snapshots && (snapshot = report_output_snapshot_new(&capture->mailbox)) != NULL)
        run->outputs[run->output_count++] = snapshot;
    if ((capture->output_path != NULL && file == NULL) ||
        (capture->snapshots && snapshot == NULL)) {
        run_release(run);
        run_free(run);
        return NULL;
    }
    return run;
}

int nasoone_start(nasoone_capture *capture, char *err, size_t err_size)
{
    if (nasoone_get_state(capture) != NASOONE_RUNNABLE) {
        if (nasoone_get_state(capture) == NASOONE_INITIAL)
            return fail_code(capture, "wrong_state", err, err_size,
                             "nasoone: cannot start in state 'initial': set a capture file or "
                             "device first");
        return fail_state(capture, "start", err, err_size);
    }
    if (capture->output_path == NULL && !capture->snapshots && !capture->config.flow_records &&
        capture->export_count == 0)
        return fail_code(capture, "wrong_state", err, err_size,
                         "nasoone: nothing would see the report: call set_output, on_report, "
                         "on_flows or add_export before start");
    struct run *run = build_run(capture);
    if (run == NULL)
        return fail_code(capture, "out_of_memory", err, err_size,
                         "nasoone: out of memory for the run's batches and queues");
    /* what the run writes to is made now (and only now: an output that never starts creates
     * nothing) */
    if (start_outputs(capture, run, err, err_size) != 0) {
        run_release(run);
        run_free(run);
        return -1;
    }
    capture->run = run;
    pthread_mutex_lock(&capture->status.lock);
    capture->status.input_ended = 0;
    capture->status.state = NASOONE_RUNNING;
    pthread_mutex_unlock(&capture->status.lock);

    /* Consumers start first; if a thread cannot be created, the ones already running wind
     * down as at the end of input (pipeline.h) */
    int failed = pipeline_start(&capture->pipeline, run);
    if (failed) {
        pipeline_free(&capture->pipeline);
        run_release(run);
        set_state(capture, NASOONE_STOPPED);
        return fail_code(capture, "out_of_memory", err, err_size,
                         "nasoone: cannot start threads: %s", strerror(failed));
    }
    return 0;
}

int nasoone_pause(nasoone_capture *capture, char *err, size_t err_size)
{
    pthread_mutex_lock(&capture->status.lock);
    int ok = capture->status.state == NASOONE_RUNNING;
    if (ok) {
        capture->status.state = NASOONE_PAUSED;
        atomic_store(&capture->run->paused, 1);
    }
    pthread_mutex_unlock(&capture->status.lock);
    return ok ? 0 : fail_state(capture, "pause", err, err_size);
}

int nasoone_resume(nasoone_capture *capture, char *err, size_t err_size)
{
    struct run_status *status = &capture->status;
    pthread_mutex_lock(&status->lock);
    int ok = status->state == NASOONE_PAUSED;
    if (ok) {
        status->state = status->input_ended ? NASOONE_FINISHED : NASOONE_RUNNING;
        atomic_store(&capture->run->paused, 0);
        pthread_cond_broadcast(&status->resumed);
    }
    pthread_mutex_unlock(&status->lock);
    if (ok)
        mailbox_signal(&capture->mailbox);
    return ok ? 0 : fail_state(capture, "resume", err, err_size);
}

int nasoone_stop(nasoone_capture *capture, char *err, size_t err_size)
{
    enum nasoone_state state = nasoone_get_state(capture);
    if (state != NASOONE_RUNNING && state != NASOONE_PAUSED && state != NASOONE_FINISHED)
        return fail_state(capture, "stop", err, err_size);
    struct run *run = capture->run;
    struct run_status *status = &capture->status;
    pthread_mutex_lock(&status->lock);
    atomic_store(&run->stop_requested, 1);
    pthread_cond_broadcast(&status->resumed);
    pthread_mutex_unlock(&status->lock);
    mailbox_unbound(&capture->mailbox); /* on_flows stops waiting for the caller */
    struct source *source = capture->source;
    if (source->ops->interrupt != NULL && source->ops->interrupt(source) != 0)
        run_set_error(status, "nasoone: cannot wake the reader");
    pipeline_join(&capture->pipeline);
    pipeline_free(&capture->pipeline);
    run_release(run);
    pthread_mutex_lock(&status->lock);
    status->state = NASOONE_STOPPED;
    int report_lost = status->final_error[0] != '\0';
    if (report_lost) {
        snprintf(err, err_size, "%s", status->final_error);
        capture->error_code = "report_not_written";
    }
    pthread_mutex_unlock(&status->lock);
    mailbox_signal(&capture->mailbox);
    return report_lost ? -1 : 0;
}

/* A sink's line of stats.exports. */
static void sink_stats(struct record_sink *sink, struct nasoone_export_stats *out)
{
    snprintf(out->kind, sizeof out->kind, "%s", sink->kind);
    message_format(out->target, sizeof out->target, "%s", sink->target);
    out->sent = atomic_load(&sink->counters.sent);
    out->dropped = atomic_load(&sink->counters.dropped);
    out->errors = atomic_load(&sink->counters.errors);
    out->recovered = atomic_load(&sink->counters.recovered);
    pthread_mutex_lock(&sink->lock);
    snprintf(out->error, sizeof out->error, "%s", sink->last_error);
    pthread_mutex_unlock(&sink->lock);
}

/* The run's counters into stats (none before start). */
static void run_stats(struct run *run, struct nasoone_stats *stats)
{
    struct run_counters *c = &run->counters;
    stats->received = atomic_load(&c->received);
    stats->counted = atomic_load(&c->counted);
    for (int r = NASOONE_SKIP_NOT_IP; r < NASOONE_SKIP_REASON_END; r++) {
        stats->skipped[r] = atomic_load(&c->skipped[r]);
        stats->skipped_total += stats->skipped[r];
    }
    stats->queue_dropped = 0; /* the reader waits for a batch now: the kernel's ring holds */
    stats->queue_waits = atomic_load(&c->queue_waits);
    stats->paused_discarded = atomic_load(&c->paused_discarded);
    stats->fragments_attributed = atomic_load(&c->fragments_attributed);
    stats->flows = atomic_load(&c->flows);
    for (unsigned i = 0; i < run->output_count; i++)
        if (strcmp(run->outputs[i]->kind, "file") == 0)
            stats->reports_written = atomic_load(&run->outputs[i]->written);
    stats->memory_bytes = atomic_load(&c->memory_bytes);
    stats->time_out_of_range = atomic_load(&c->time_out_of_range);
    stats->time_fraction_out_of_range = atomic_load(&c->time_fraction_out_of_range);
    stats->wire_length_below_captured = atomic_load(&c->wire_length_below_captured);
    stats->file_read = atomic_load(&c->file_read);
    for (int role = 0; role < NASOONE_THREAD_ROLE_END; role++)
        stats->cpu_ns[role] = atomic_load(&c->cpu_ns[role]);
    stats->rows_held = atomic_load(&c->rows_held);
    stats->rows_peak = atomic_load(&c->rows_peak);
    for (int r = 0; r < NASOONE_END_REASON_END && r <= FLOW_END_CAPACITY; r++)
        stats->rows_ended[r] = atomic_load(&c->rows_ended[r]);
    stats->table_memory_bytes = atomic_load(&c->keeper_memory_bytes);
}

void nasoone_get_stats(nasoone_capture *capture, struct nasoone_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    struct run *run = capture->run;
    if (run != NULL)
        run_stats(run, stats);
    struct source *source = capture->source;
    if (source != NULL && !source->live) {
        stats->file_size = source->file_size;
        stats->file_count = source->file_count;
        stats->file_number = run != NULL ? (unsigned)atomic_load(&run->counters.file_number) : 1;
        if (stats->file_number < 1 || stats->file_number > stats->file_count)
            stats->file_number = 1;
        message_format(stats->file, sizeof stats->file, "%s",
                       source->file_names[stats->file_number - 1]);
    }
    unsigned sinks = 0;
    for (unsigned i = 0; i < capture->export_count; i++)
        sink_stats(capture->exports[i], &stats->exports[sinks++]);
    if (run != NULL && run->on_flows_sink != NULL)
        sink_stats(run->on_flows_sink, &stats->exports[sinks++]);
    stats->export_count = sinks;
    /* after the sinks' counters: the keeper counts records before a sink can take them, so
     * read in this order no sink has more than stats->records */
    if (run != NULL)
        stats->records = atomic_load(&run->counters.records);
    struct run_status *status = &capture->status;
    pthread_mutex_lock(&status->lock);
    stats->file_truncated = status->file_truncated;
    snprintf(stats->error, sizeof stats->error, "%s", status->error);
    snprintf(stats->write_error, sizeof stats->write_error, "%s", status->write_error);
    stats->report_current = capture->output_path != NULL && status->write_error[0] == '\0';
    if (status->have_pcap_stats) {
        stats->pcap_received = status->pcap_stats.ps_recv;
        stats->dropped = status->pcap_stats.ps_drop;
        stats->if_dropped = status->pcap_stats.ps_ifdrop;
    }
    stats->device_count = status->device_count;
    memcpy(stats->devices, status->devices, status->device_count * sizeof stats->devices[0]);
    pthread_mutex_unlock(&status->lock);
    if (capture->source != NULL)
        snprintf(stats->warning, sizeof stats->warning, "%s", capture->source->warning);
}

int nasoone_event_fd(nasoone_capture *capture) { return capture->mailbox.event_fd; }

int nasoone_wait_event(nasoone_capture *capture, int timeout_ms)
{
    struct pollfd event = {.fd = capture->mailbox.event_fd, .events = POLLIN};
    int ready = poll(&event, 1, timeout_ms < 0 ? -1 : timeout_ms);
    return ready < 0 ? -1 : ready > 0;
}

void nasoone_format_address(const struct nasoone_row *row, int source, char *buf)
{
    struct flow_key key;
    memset(&key, 0, sizeof key);
    key.family = row->family;
    memcpy(key.src, row->source, sizeof key.src);
    memcpy(key.dst, row->destination, sizeof key.dst);
    report_format_address(&key, source, buf);
}

void nasoone_clear_event(nasoone_capture *capture)
{
    if (mailbox_clear(&capture->mailbox) != 0)
        run_set_error(&capture->status, "nasoone: cannot read the event descriptor");
}

struct nasoone_snapshot *nasoone_take_snapshot(nasoone_capture *capture)
{
    return mailbox_take_snapshot(&capture->mailbox);
}
