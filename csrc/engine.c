/*
 * engine.c - the capture object and its state machine (nasoone.h). Runs on the caller's thread;
 * starts and joins the engine's threads: reader (producer.c), parsers, writer, and in flow
 * lifecycle mode keeper and exporter (see engine.h's map).
 *
 *   initial -(set capture)-> runnable -(start)-> running <-(pause/resume)-> paused
 *   running -(end of input)-> finished;  running/paused/finished -(stop)-> stopped
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "big_alloc.h"
#include "engine.h"
#include "message.h"
#include "report.h"

/* stdio buffer for reading capture files */
#define CAPTURE_READ_BUFFER (1u << 20)

/* The stable name of an errno for the caller (nasoone_error_code). */
static const char *errno_code(int error)
{
    switch (error) {
    case ENOENT:
    case ENOTDIR:
        return "not_found";
    case EACCES:
    case EPERM:
    case EROFS:
        return "permission_denied";
    case ENAMETOOLONG:
        return "invalid_path";
    case ENOMEM:
        return "out_of_memory";
    case ENOSPC:
    case EDQUOT:
        return "no_space";
    default:
        return "io_error";
    }
}

/* fail(), also leaving the failure's stable code for nasoone_error_code(). */
static int fail_code(nasoone_capture *capture, const char *code, char *err, size_t err_size,
                     const char *format, ...) __attribute__((format(printf, 5, 6)));

static int fail_code(nasoone_capture *capture, const char *code, char *err, size_t err_size,
                     const char *format, ...)
{
    capture->error_code = code;
    va_list args;
    va_start(args, format);
    message_vformat(err, err_size, format, args);
    va_end(args);
    return -1;
}

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

const char *nasoone_skip_reason_name(enum nasoone_skip_reason reason)
{
    /* the decoder's result codes are the skip reasons */
    return decode_result_name((enum decode_result)reason);
}

enum nasoone_state nasoone_get_state(nasoone_capture *capture)
{
    pthread_mutex_lock(&capture->lock);
    enum nasoone_state state = capture->state;
    pthread_mutex_unlock(&capture->lock);
    return state;
}

int nasoone_get_datalink(nasoone_capture *capture)
{
    return capture->pcap != NULL ? pcap_datalink(capture->pcap) : -1;
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

void engine_set_write_error(struct nasoone_capture *capture, const char *message)
{
    pthread_mutex_lock(&capture->lock);
    snprintf(capture->write_error, sizeof capture->write_error, "%s", message ? message : "");
    pthread_mutex_unlock(&capture->lock);
}

void engine_set_error(struct nasoone_capture *capture, const char *message)
{
    pthread_mutex_lock(&capture->lock);
    if (capture->error[0] == '\0')
        snprintf(capture->error, sizeof capture->error, "%s", message);
    pthread_mutex_unlock(&capture->lock);
}

void engine_set_final_report_error(struct nasoone_capture *capture, const char *message)
{
    pthread_mutex_lock(&capture->lock);
    snprintf(capture->final_error, sizeof capture->final_error, "%s", message);
    pthread_mutex_unlock(&capture->lock);
    engine_set_error(capture, message);
}

void engine_thread_finished(struct nasoone_capture *capture)
{
    if (atomic_fetch_sub(&capture->finishing_threads, 1) != 1)
        return;
    /* A paused capture stays paused until resumed (then it is finished at once), so a
     * successful pause() is always followed by a successful resume(). */
    pthread_mutex_lock(&capture->lock);
    capture->input_ended = 1;
    if (capture->state == NASOONE_RUNNING)
        capture->state = NASOONE_FINISHED;
    pthread_mutex_unlock(&capture->lock);
    engine_signal_event(capture);
}

void engine_signal_event(struct nasoone_capture *capture) { mailbox_signal(&capture->mailbox); }

static void close_source(pcap_t *pcap, char *read_buffer)
{
    if (pcap != NULL)
        pcap_close(pcap);
    free(read_buffer);
}

nasoone_capture *nasoone_capture_new(void)
{
    nasoone_capture *capture = calloc(1, sizeof *capture);
    if (capture == NULL)
        return NULL;
    capture->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (capture->wake_fd < 0 || mailbox_init(&capture->mailbox) != 0) {
        if (capture->wake_fd >= 0)
            close(capture->wake_fd);
        free(capture);
        return NULL;
    }
    pthread_mutex_init(&capture->lock, NULL);
    pthread_cond_init(&capture->resumed, NULL);
    capture->state = NASOONE_INITIAL;
    capture->output_folder_fd = -1;
    capture->interval_ms = 1000;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    capture->parser_count = cores < 1                           ? 1
                            : cores > (long)NASOONE_MAX_PARSERS ? NASOONE_MAX_PARSERS
                                                                : (unsigned)cores;
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
    close_source(capture->pcap, capture->read_buffer);
    mailbox_destroy(&capture->mailbox);
    for (unsigned i = 0; i < capture->export_count; i++)
        record_sink_free(capture->exports[i]);
    record_sink_free(capture->on_flows_sink);
    free(capture->source);
    free(capture->output_path);
    free(capture->filter);
    close(capture->wake_fd);
    pthread_mutex_destroy(&capture->lock);
    pthread_cond_destroy(&capture->resumed);
    free(capture);
}

/* Compiles `bpf` for `pcap` and installs it. */
static int apply_filter(pcap_t *pcap, const char *bpf, char *err, size_t err_size)
{
    struct bpf_program program;
    if (pcap_compile(pcap, &program, bpf, 1, PCAP_NETMASK_UNKNOWN) != 0)
        return message_format(err, err_size, "nasoone: bad filter '%s': %s", bpf,
                              pcap_geterr(pcap));
    int result = pcap_setfilter(pcap, &program);
    pcap_freecode(&program);
    if (result != 0)
        return message_format(err, err_size, "nasoone: cannot set filter '%s': %s", bpf,
                              pcap_geterr(pcap));
    return 0;
}

/* Takes ownership of an opened pcap (and its stdio buffer, if any) as the capture's source,
 * keeping any filter; on failure closes them. */
static int install_source(nasoone_capture *capture, pcap_t *pcap, char *read_buffer,
                          const char *source, int live, char *err, size_t err_size)
{
    int dlt = pcap_datalink(pcap);
    enum decode_link link = decode_link_from_dlt(dlt);
    if (link == DECODE_LINK_UNSUPPORTED) {
        const char *name = pcap_datalink_val_to_name(dlt);
        fail_code(capture, "unsupported_link", err, err_size,
                  "nasoone: %s: unsupported link type %s (%d)", source, name ? name : "unknown",
                  dlt);
        close_source(pcap, read_buffer);
        return -1;
    }
    if (capture->filter != NULL && apply_filter(pcap, capture->filter, err, err_size) != 0) {
        capture->error_code = "bad_filter";
        close_source(pcap, read_buffer);
        return -1;
    }
    char *copy = strdup(source);
    if (copy == NULL) {
        close_source(pcap, read_buffer);
        return fail_code(capture, "out_of_memory", err, err_size, "nasoone: out of memory");
    }
    close_source(capture->pcap, capture->read_buffer);
    free(capture->source);
    capture->pcap = pcap;
    capture->read_buffer = read_buffer;
    capture->source = copy;
    capture->live = live;
    capture->link = link;
    pthread_mutex_lock(&capture->lock);
    capture->state = NASOONE_RUNNABLE;
    pthread_mutex_unlock(&capture->lock);
    return 0;
}

int nasoone_set_capture_file(nasoone_capture *capture, const char *path, char *err, size_t err_size)
{
    if (check_configurable(capture, "set the capture file", err, err_size) != 0)
        return -1;
    struct stat st;
    if (stat(path, &st) != 0)
        return fail_code(capture, errno_code(errno), err, err_size,
                         "nasoone: cannot open capture file %s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode))
        return fail_code(capture, "not_a_capture", err, err_size,
                         "nasoone: cannot open capture file %s: it is a directory", path);
    /* A pipe or a device could block the reader in fread(), where stop() cannot reach it. */
    if (!S_ISREG(st.st_mode))
        return fail_code(capture, "not_a_capture", err, err_size,
                         "nasoone: cannot open capture file %s: not a regular file (for a pipe, "
                         "write the capture to a file first)",
                         path);
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    FILE *file = fopen(path, "rb");
    if (file == NULL)
        return fail_code(capture, errno_code(errno), err, err_size,
                         "nasoone: cannot open capture file %s: %s", path, strerror(errno));
    /* libpcap reads through stdio; its default 4 KiB buffer costs a read() per few packets.
     * A large one makes it one per CAPTURE_READ_BUFFER bytes. It must outlive the FILE, which
     * pcap_close closes: freed after that. */
    char *read_buffer = malloc(CAPTURE_READ_BUFFER);
    if (read_buffer == NULL || setvbuf(file, read_buffer, _IOFBF, CAPTURE_READ_BUFFER) != 0) {
        fclose(file);
        free(read_buffer);
        return fail_code(capture, "out_of_memory", err, err_size,
                         "nasoone: out of memory for the read buffer");
    }
    /* pcapng's block type is its magic, the same in either byte order */
    unsigned char magic[4] = {0};
    int pcapng = pread(fileno(file), magic, sizeof magic, 0) == (ssize_t)sizeof magic &&
                 memcmp(magic, "\x0a\x0d\x0d\x0a", 4) == 0;
    pcap_t *pcap = pcap_fopen_offline(file, pcap_err);
    if (pcap == NULL) {
        fclose(file);
        free(read_buffer);
        if (st.st_size == 0)
            return fail_code(capture, "not_a_capture", err, err_size,
                             "nasoone: %s is empty, not a capture file", path);
        return fail_code(capture, "not_a_capture", err, err_size,
                         "nasoone: cannot open capture file %s: %s", path, pcap_err);
    }
    if (install_source(capture, pcap, read_buffer, path, 0, err, err_size) != 0)
        return -1;
    capture->nanosecond = 0; /* libpcap scales file timestamps to microseconds */
    capture->pcapng = pcapng;
    capture->file_size = (uint64_t)st.st_size;
    capture->warning[0] = '\0';
    return 0;
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

/* The stable name of a pcap_activate failure. */
static const char *activate_error_code(int status)
{
    switch (status) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
        return "no_such_device";
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
        return "permission_denied";
    case PCAP_ERROR_IFACE_NOT_UP:
        return "interface_down";
    default:
        return "error";
    }
}

int nasoone_set_capture_device(nasoone_capture *capture, const char *device,
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
    capture->error_code = "error";
    if (options->snaplen <= 0 || options->buffer_size < 0 || options->timeout_ms < 0)
        return fail_code(capture, "invalid_argument", err, err_size,
                         "nasoone: snaplen must be > 0, buffer_size and timeout >= 0");
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pcap = pcap_create(device, pcap_err);
    if (pcap == NULL)
        return message_format(err, err_size, "nasoone: cannot open device %s: %s", device,
                              pcap_err);
    pcap_set_snaplen(pcap, options->snaplen);
    pcap_set_promisc(pcap, options->promiscuous != 0);
    pcap_set_timeout(pcap, options->timeout_ms);
    pcap_set_immediate_mode(pcap, options->immediate != 0);
    if (options->buffer_size > 0)
        pcap_set_buffer_size(pcap, options->buffer_size);
    if (options->nanosecond && pcap_set_tstamp_precision(pcap, PCAP_TSTAMP_PRECISION_NANO) != 0) {
        message_format(err, err_size, "nasoone: %s does not give nanosecond timestamps", device);
        pcap_close(pcap);
        return -1;
    }
    int status = pcap_activate(pcap);
    if (status < 0) {
        const char *hint =
            status == PCAP_ERROR_PERM_DENIED || status == PCAP_ERROR_PROMISC_PERM_DENIED
                ? " (run as root, or grant the interpreter the capability: "
                  "setcap cap_net_raw,cap_net_admin=eip $(command -v lua5.4))"
                : "";
        /* libpcap's own text says more than the status name, when it has one */
        const char *detail = pcap_geterr(pcap);
        const char *reason = pcap_statustostr(status);
        message_format(err, err_size, "nasoone: cannot capture on %s: %s%s", device,
                       detail[0] != '\0' ? detail : reason, hint);
        capture->error_code = activate_error_code(status);
        pcap_close(pcap);
        return -1;
    }
    char warning[sizeof capture->warning] = "";
    if (status > 0)
        snprintf(warning, sizeof warning, "%s: %s", pcap_statustostr(status), pcap_geterr(pcap));
    if (pcap_setnonblock(pcap, 1, pcap_err) != 0) {
        message_format(err, err_size, "nasoone: cannot capture on %s: %s", device, pcap_err);
        pcap_close(pcap);
        return -1;
    }
    if (install_source(capture, pcap, NULL, device, 1, err, err_size) != 0)
        return -1;
    capture->error_code = NULL;
    capture->nanosecond = pcap_get_tstamp_precision(pcap) == PCAP_TSTAMP_PRECISION_NANO;
    snprintf(capture->warning, sizeof capture->warning, "%s", warning);
    return 0;
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

int nasoone_set_output_format(nasoone_capture *capture, const char *format, char *err,
                              size_t err_size)
{
    if (check_configurable(capture, "set the output format", err, err_size) != 0)
        return -1;
    if (strcmp(format, "csv") != 0 && strcmp(format, "jsonl") != 0)
        return fail_code(capture, "invalid_argument", err, err_size,
                         "nasoone: unknown report format '%s' (csv or jsonl)", format);
    capture->output_jsonl = strcmp(format, "jsonl") == 0;
    return 0;
}

int nasoone_set_flow_limits(nasoone_capture *capture, const struct nasoone_flow_limits *limits,
                            char *err, size_t err_size)
{
    if (check_configurable(capture, "set flow limits", err, err_size) != 0)
        return -1;
    capture->idle_timeout_ms = limits->idle_timeout_ms;
    capture->active_timeout_ms = limits->active_timeout_ms;
    capture->max_flows = limits->max_flows;
    return 0;
}

void nasoone_export_options_init(struct nasoone_export_options *options)
{
    options->rotate_s = 0;
    options->domain = 0;
    options->mtu = 0; /* the exporter's: 1400 over UDP, 65535 in a file */
    options->template_resend_s = 10;
}

int nasoone_add_export(nasoone_capture *capture, const char *kind, const char *target,
                       const struct nasoone_export_options *options, char *err, size_t err_size)
{
    if (check_configurable(capture, "add an export", err, err_size) != 0)
        return -1;
    const struct record_sink_kind *found = record_sink_kind_find(kind);
    if (found == NULL) {
        char names[128];
        record_sink_kind_names(names, sizeof names);
        return fail_code(capture, "invalid_argument", err, err_size,
                         "nasoone: unknown export kind '%s' (%s)", kind, names);
    }
    if (capture->export_count == NASOONE_MAX_EXPORTS)
        return fail_code(capture, "invalid_argument", err, err_size,
                         "nasoone: a capture has at most %d exports", NASOONE_MAX_EXPORTS);
    struct nasoone_export_options defaults;
    nasoone_export_options_init(&defaults);
    if (options == NULL)
        options = &defaults;
    struct record_export_options sink_options = {options->rotate_s, options->domain, options->mtu,
                                                 options->template_resend_s};
    struct record_sink *sink = record_sink_new();
    if (sink == NULL)
        return fail_code(capture, "out_of_memory", err, err_size, "nasoone: out of memory");
    if (found->open(sink, target, &sink_options, err, err_size) != 0) {
        char message[NASOONE_MESSAGE_SIZE];
        snprintf(message, sizeof message, "%s", err);
        const char *code = sink->error_code != NULL ? sink->error_code : "error";
        record_sink_free(sink);
        return fail_code(capture, code, err, err_size, "%s", message);
    }
    capture->exports[capture->export_count++] = sink;
    return 0;
}

int nasoone_set_flow_records(nasoone_capture *capture, int enabled, char *err, size_t err_size)
{
    if (check_configurable(capture, "set on_flows", err, err_size) != 0)
        return -1;
    if (enabled && capture->on_flows_sink == NULL) {
        struct record_sink *sink = record_sink_new();
        if (sink == NULL || record_on_flows_open(sink, &capture->mailbox, &capture->live,
                                                 &capture->records_final) != 0) {
            record_sink_free(sink);
            return fail_code(capture, "out_of_memory", err, err_size, "nasoone: out of memory");
        }
        capture->on_flows_sink = sink;
    }
    capture->flow_records = enabled != 0;
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

void nasoone_flows_free(struct nasoone_flow_batch *batch) { free(batch); }

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
    capture->interval_ms = interval_ms;
    return 0;
}

int nasoone_set_parser_count(nasoone_capture *capture, unsigned count, char *err, size_t err_size)
{
    if (check_configurable(capture, "set the parser count", err, err_size) != 0)
        return -1;
    if (count < 1 || count > NASOONE_MAX_PARSERS)
        return fail_code(capture, "invalid_argument", err, err_size,
                         "nasoone: the parser count must be between 1 and %d", NASOONE_MAX_PARSERS);
    capture->parser_count = count;
    return 0;
}

int nasoone_set_filter(nasoone_capture *capture, const char *bpf, char *err, size_t err_size)
{
    if (check_configurable(capture, "set a filter", err, err_size) != 0)
        return -1;
    if (capture->pcap == NULL)
        return fail_code(capture, "wrong_state", err, err_size,
                         "nasoone: set the capture file or device before the filter "
                         "(it is compiled for the capture's link type)");
    char *copy = NULL;
    if (bpf != NULL && bpf[0] != '\0') {
        copy = strdup(bpf);
        if (copy == NULL)
            return fail_code(capture, "out_of_memory", err, err_size, "nasoone: out of memory");
    }
    if (apply_filter(capture->pcap, copy ? copy : "", err, err_size) != 0) {
        capture->error_code = "bad_filter";
        free(copy);
        return -1;
    }
    free(capture->filter);
    capture->filter = copy;
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
    capture->fragment_mode = mode;
    return 0;
}

int nasoone_set_snapshots(nasoone_capture *capture, int enabled, char *err, size_t err_size)
{
    if (check_configurable(capture, "change on_report", err, err_size) != 0)
        return -1;
    capture->snapshots = enabled != 0;
    return 0;
}

/* Creates the output file with the header only, whole or not at all (written aside, then
 * linked to its name): it reserves the name (failing if something appeared there since
 * set_output) and gives readers a valid, empty report at once. The folder is opened once, here:
 * every rewrite goes to this folder, even if its path is later renamed or replaced. */
static int create_empty_report(nasoone_capture *capture, const char *path, char *err,
                               size_t err_size)
{
    capture->output_folder_fd = report_open_folder(path);
    if (capture->output_folder_fd < 0)
        return fail_code(capture, errno_code(errno), err, err_size,
                         "nasoone: cannot open the output folder of %s: %s", path, strerror(errno));
    const struct report_format *format =
        capture->output_jsonl ? &report_format_jsonl : &report_format_csv;
    char message[NASOONE_MESSAGE_SIZE];
    if (report_write_at(capture->output_folder_fd, path, format, NULL, 0, 0, message,
                        sizeof message) != 0) {
        int saved_errno = errno;
        close(capture->output_folder_fd);
        capture->output_folder_fd = -1;
        return fail_code(capture, saved_errno == EEXIST ? "exists" : errno_code(saved_errno), err,
                         err_size, "%s", message);
    }
    return 0;
}

static void release_run_resources(nasoone_capture *capture)
{
    struct flow_table *table;
    while ((table = pointer_queue_try_pop(&capture->spare_tables)) != NULL) {
        flow_table_destroy(table);
        free(table);
    }
    while ((table = pointer_queue_try_pop(&capture->parser_deltas)) != NULL) {
        flow_table_destroy(table);
        free(table);
    }
    struct keeper_update *update;
    while ((update = pointer_queue_try_pop(&capture->keeper_updates)) != NULL) {
        free(update->removed);
        free(update->set);
        free(update);
    }
    void *item;
    while ((item = pointer_queue_try_pop(&capture->record_batches)) != NULL)
        free(item);
    pointer_queue_destroy(&capture->free_batches);
    pointer_queue_destroy(&capture->ready_batches);
    pointer_queue_destroy(&capture->parser_deltas);
    pointer_queue_destroy(&capture->keeper_updates);
    pointer_queue_destroy(&capture->spare_tables);
    pointer_queue_destroy(&capture->decoded_batches);
    pointer_queue_destroy(&capture->record_batches);
    big_free(capture->batches, (size_t)capture->batch_count * sizeof *capture->batches, 1);
    capture->batches = NULL;
    if (capture->output_folder_fd >= 0)
        close(capture->output_folder_fd);
    capture->output_folder_fd = -1;
    pipeline_free(&capture->pipeline);
}

const char *nasoone_thread_role_name(int role)
{
    static const char *const names[NASOONE_THREAD_ROLE_END] = {"reader", "parsers", "writer",
                                                               "keeper", "exporter"};
    return role >= 0 && role < NASOONE_THREAD_ROLE_END ? names[role] : "unknown";
}

void engine_thread_cpu(struct nasoone_capture *capture, enum nasoone_thread_role role)
{
    struct timespec used;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &used) != 0)
        return;
    atomic_fetch_add_explicit(&capture->counters.cpu_ns[role],
                              (uint64_t)used.tv_sec * 1000000000u + (uint64_t)used.tv_nsec,
                              memory_order_relaxed);
}

/* Undoes the start of the first `count` exports. */
static void abandon_sinks(nasoone_capture *capture, unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        struct record_sink *sink = capture->exports[i];
        if (sink->ops->abandon != NULL)
            sink->ops->abandon(sink);
    }
}

/* Starts every export; if one fails, the ones before it are undone. */
static int start_sinks(nasoone_capture *capture, char *err, size_t err_size)
{
    for (unsigned i = 0; i < capture->export_count; i++) {
        struct record_sink *sink = capture->exports[i];
        char message[NASOONE_MESSAGE_SIZE];
        if (sink->ops->start == NULL || sink->ops->start(sink, message, sizeof message) == 0)
            continue;
        abandon_sinks(capture, i);
        return fail_code(capture, sink->error_code != NULL ? sink->error_code : "error", err,
                         err_size, "%s", message);
    }
    return 0;
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
    if (capture->output_path == NULL && !capture->snapshots && !capture->flow_records &&
        capture->export_count == 0)
        return fail_code(capture, "wrong_state", err, err_size,
                         "nasoone: nothing would see the report: call set_output, on_report, "
                         "on_flows or add_export before start");
    unsigned parsers = capture->parser_count;
    unsigned batch_count = parsers * NASOONE_BATCHES_PER_PARSER + 2;
    unsigned table_slots = parsers * 4 + 4;
    capture->batches = big_alloc((size_t)batch_count * sizeof *capture->batches, 1);
    capture->batch_count = batch_count; /* also what release_run_resources frees */
    int queues_ok = pointer_queue_init(&capture->free_batches, batch_count) == 0;
    queues_ok &= pointer_queue_init(&capture->ready_batches, batch_count) == 0;
    queues_ok &= pointer_queue_init(&capture->parser_deltas, table_slots) == 0;
    queues_ok &= pointer_queue_init(&capture->keeper_updates, table_slots) == 0;
    queues_ok &= pointer_queue_init(&capture->spare_tables, table_slots) == 0;
    capture->lifecycle = capture->idle_timeout_ms != 0 || capture->active_timeout_ms != 0 ||
                         capture->max_flows != 0 || capture->export_count != 0 ||
                         capture->flow_records;
    queues_ok &= pointer_queue_init(&capture->decoded_batches, batch_count) == 0;
    queues_ok &= pointer_queue_init(&capture->record_batches, 64) == 0;
    capture->sink_count = capture->export_count;
    if (capture->flow_records)
        capture->exports[capture->sink_count++] = capture->on_flows_sink;
    if (capture->batches == NULL || !queues_ok) {
        release_run_resources(capture);
        return fail_code(capture, "out_of_memory", err, err_size,
                         "nasoone: out of memory for %u batches", batch_count);
    }
    /* what the exports write to is made now (and only now: an export that never starts
     * creates nothing); then the report */
    if (start_sinks(capture, err, err_size) != 0) {
        release_run_resources(capture);
        return -1;
    }
    /* a crash of an earlier run could have left a named temporary of this report */
    if (capture->output_path != NULL)
        report_remove_leftovers(capture->output_path);
    if (capture->output_path != NULL &&
        create_empty_report(capture, capture->output_path, err, err_size) != 0) {
        abandon_sinks(capture, capture->export_count);
        release_run_resources(capture);
        return -1;
    }
    for (unsigned i = 0; i < batch_count; i++)
        pointer_queue_push(&capture->free_batches, &capture->batches[i]);
    atomic_store(&capture->stop_requested, 0);
    atomic_store(&capture->paused, 0);
    atomic_store(&capture->records_final, 0);
    pthread_mutex_lock(&capture->lock);
    capture->input_ended = 0;
    capture->state = NASOONE_RUNNING;
    pthread_mutex_unlock(&capture->lock);

    /* Consumers start first; if a thread cannot be created, the ones already running wind
     * down as at the end of input (pipeline.h) */
    int failed = pipeline_start(capture);
    if (failed) {
        release_run_resources(capture);
        pthread_mutex_lock(&capture->lock);
        capture->state = NASOONE_STOPPED;
        pthread_mutex_unlock(&capture->lock);
        return fail_code(capture, "out_of_memory", err, err_size,
                         "nasoone: cannot start threads: %s", strerror(failed));
    }
    return 0;
}

int nasoone_pause(nasoone_capture *capture, char *err, size_t err_size)
{
    pthread_mutex_lock(&capture->lock);
    int ok = capture->state == NASOONE_RUNNING;
    if (ok) {
        capture->state = NASOONE_PAUSED;
        atomic_store(&capture->paused, 1);
    }
    pthread_mutex_unlock(&capture->lock);
    return ok ? 0 : fail_state(capture, "pause", err, err_size);
}

int nasoone_resume(nasoone_capture *capture, char *err, size_t err_size)
{
    pthread_mutex_lock(&capture->lock);
    int ok = capture->state == NASOONE_PAUSED;
    if (ok) {
        capture->state = capture->input_ended ? NASOONE_FINISHED : NASOONE_RUNNING;
        atomic_store(&capture->paused, 0);
        pthread_cond_broadcast(&capture->resumed);
    }
    pthread_mutex_unlock(&capture->lock);
    if (ok)
        engine_signal_event(capture);
    return ok ? 0 : fail_state(capture, "resume", err, err_size);
}

int nasoone_stop(nasoone_capture *capture, char *err, size_t err_size)
{
    enum nasoone_state state = nasoone_get_state(capture);
    if (state != NASOONE_RUNNING && state != NASOONE_PAUSED && state != NASOONE_FINISHED)
        return fail_state(capture, "stop", err, err_size);
    pthread_mutex_lock(&capture->lock);
    atomic_store(&capture->stop_requested, 1);
    pthread_cond_broadcast(&capture->resumed);
    pthread_mutex_unlock(&capture->lock);
    mailbox_unbound(&capture->mailbox); /* on_flows stops waiting for the caller */
    uint64_t one = 1;
    if (write(capture->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN)
        engine_set_error(capture, "nasoone: cannot wake the reader");
    pipeline_join(capture);
    release_run_resources(capture);
    pthread_mutex_lock(&capture->lock);
    capture->state = NASOONE_STOPPED;
    int report_lost = capture->final_error[0] != '\0';
    if (report_lost) {
        snprintf(err, err_size, "%s", capture->final_error);
        capture->error_code = "report_not_written";
    }
    pthread_mutex_unlock(&capture->lock);
    engine_signal_event(capture);
    return report_lost ? -1 : 0;
}

void nasoone_get_stats(nasoone_capture *capture, struct nasoone_stats *stats)
{
    memset(stats, 0, sizeof *stats);
    struct engine_counters *c = &capture->counters;
    stats->received = atomic_load(&c->received);
    stats->counted = atomic_load(&c->counted);
    for (int r = NASOONE_SKIP_NOT_IP; r < NASOONE_SKIP_REASON_END; r++) {
        stats->skipped[r] = atomic_load(&c->skipped[r]);
        stats->skipped_total += stats->skipped[r];
    }
    stats->queue_dropped = atomic_load(&c->queue_dropped);
    stats->queue_waits = atomic_load(&c->queue_waits);
    stats->paused_discarded = atomic_load(&c->paused_discarded);
    stats->fragments_attributed = atomic_load(&c->fragments_attributed);
    stats->flows = atomic_load(&c->flows);
    stats->reports_written = atomic_load(&c->reports_written);
    stats->memory_bytes = atomic_load(&c->memory_bytes);
    stats->time_out_of_range = atomic_load(&c->time_out_of_range);
    stats->time_fraction_out_of_range = atomic_load(&c->time_fraction_out_of_range);
    stats->wire_length_below_captured = atomic_load(&c->wire_length_below_captured);
    stats->file_size = capture->live ? 0 : capture->file_size;
    stats->file_read = atomic_load(&c->file_read);
    for (int role = 0; role < NASOONE_THREAD_ROLE_END; role++)
        stats->cpu_ns[role] = atomic_load(&c->cpu_ns[role]);
    stats->rows_held = atomic_load(&c->rows_held);
    stats->rows_peak = atomic_load(&c->rows_peak);
    for (int r = 0; r < NASOONE_END_REASON_END && r <= FLOW_END_CAPACITY; r++)
        stats->rows_ended[r] = atomic_load(&c->rows_ended[r]);
    stats->table_memory_bytes = atomic_load(&c->keeper_memory_bytes);
    unsigned sinks = capture->export_count + (capture->flow_records ? 1 : 0);
    for (unsigned i = 0; i < sinks; i++) {
        struct record_sink *sink =
            i < capture->export_count ? capture->exports[i] : capture->on_flows_sink;
        struct nasoone_export_stats *out = &stats->exports[i];
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
    stats->export_count = sinks;
    /* after the sinks' counters: the keeper counts records before a sink can take them, so
     * read in this order no sink has more than stats->records */
    stats->records = atomic_load(&c->records);
    pthread_mutex_lock(&capture->lock);
    stats->file_truncated = capture->file_truncated;
    snprintf(stats->error, sizeof stats->error, "%s", capture->error);
    snprintf(stats->write_error, sizeof stats->write_error, "%s", capture->write_error);
    stats->report_current = capture->output_path != NULL && capture->write_error[0] == '\0';
    if (capture->have_pcap_stats) {
        stats->pcap_received = capture->last_pcap_stats.ps_recv;
        stats->dropped = capture->last_pcap_stats.ps_drop;
        stats->if_dropped = capture->last_pcap_stats.ps_ifdrop;
    }
    snprintf(stats->warning, sizeof stats->warning, "%s", capture->warning);
    pthread_mutex_unlock(&capture->lock);
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
        engine_set_error(capture, "nasoone: cannot read the event descriptor");
}

struct nasoone_snapshot *nasoone_take_snapshot(nasoone_capture *capture)
{
    return mailbox_take_snapshot(&capture->mailbox);
}

void nasoone_snapshot_free(struct nasoone_snapshot *snapshot) { free(snapshot); }
