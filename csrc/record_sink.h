/*
 * record_sink.h - where flow records go: one small interface, one file per kind of sink
 * (record_jsonl.c, ipfix_export.c, record_on_flows.c). Adding a destination (a database,
 * Kafka) is one more file that fills a struct record_sink, and one line in record_sinks.c.
 * A sink includes this header and what it writes with, never a thread file or the engine.
 *
 * The calls, in this order: open (the kind's own constructor, from add_export: it checks, and
 * creates nothing), start (from the caller's thread in nasoone_start: what the run needs on disk
 * is made now, never before, and never over a file that exists), then from the exporter thread
 * (exporter.c) any number of write/tick, then close once; then destroy. A start that fails is
 * undone for the sinks started before it by abandon, then destroy. A sink never blocks for long:
 * a collector that is down or slow costs records (counted in its stats), never packets.
 */
#ifndef NASOONE_RECORD_SINK_H
#define NASOONE_RECORD_SINK_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_record.h"
#include "nasoone.h"

/* What every sink counts; read by nasoone_get_stats from another thread, hence atomics. */
struct record_sink_counters {
    atomic_uint_fast64_t sent;      /* records handed on: written to the file, sent to the
                                       collector, queued for on_flows */
    atomic_uint_fast64_t dropped;   /* records lost: a full queue, a collector that refused them,
                                       a write that failed */
    atomic_uint_fast64_t errors;    /* failed operations (a send, a write, a rename) */
    atomic_uint_fast64_t recovered; /* files a crashed run left that start published */
};

struct record_sink;

struct record_sink_ops {
    /* Optional. Makes what the run writes to (an IPFIX file, created only if no file has its
     * name), recovers what a crashed run left (the flow log's open files). Returns 0, or -1
     * with a message in err and the failure's code in sink->error_code. */
    int (*start)(struct record_sink *sink, char *err, size_t err_size);
    /* Optional. Undoes start when the capture does not start after all (a file it created and
     * nothing wrote to is removed). */
    void (*abandon)(struct record_sink *sink);
    /* Takes `count` records. The sink counts what it sent and dropped. */
    void (*write)(struct record_sink *sink, const struct flow_record *records, size_t count);
    /* Called at least once a second and after each write with the wall clock (ms since the
     * epoch) and the capture clock (latest packet time, ms; 0 before the first): the time to
     * rotate a file, resend templates, flush a partial message. */
    void (*tick)(struct record_sink *sink, uint64_t wall_ms, uint64_t capture_ms);
    /* Flushes and completes what is open (the last file is renamed into place). */
    void (*close)(struct record_sink *sink);
    /* Frees the sink's state (after close). */
    void (*destroy)(struct record_sink *sink);
};

struct record_sink {
    const struct record_sink_ops *ops;
    void *state;
    char kind[16];     /* "jsonl", "ipfix", "on_flows" */
    char target[1024]; /* the path pattern or URL the user gave */
    struct record_sink_counters counters;
    /* The last error ("nasoone: ..."), "" if none: written by the exporter thread under
     * `lock`, read by stats. The engine initializes lock before calling a constructor. */
    pthread_mutex_t lock;
    char last_error[NASOONE_MESSAGE_SIZE];
    /* Why open or start failed, as nasoone_error_code says it ("exists", "invalid_path",
     * "unreachable", ...): set with the failure by the sink itself, never guessed by the engine. */
    const char *error_code;
};

/* Options of add_export, as the Lua binding parsed them. */
struct record_export_options {
    uint32_t rotate_s;          /* jsonl: seconds per file (0: one file for the whole run) */
    uint32_t domain;            /* ipfix: observation domain id (default 0) */
    uint32_t mtu;               /* ipfix: largest message in bytes (UDP; default 1400) */
    uint32_t template_resend_s; /* ipfix over UDP: resend templates this often (default 10) */
};

/* A sink with its lock initialized and nothing else (a constructor fills it), or NULL. */
struct record_sink *record_sink_new(void);
/* Destroys (if a constructor filled it) and frees; NULL is fine. */
void record_sink_free(struct record_sink *sink);

/* Records a sink error (exporter thread): kept in last_error for stats, counted in errors. */
void record_sink_set_error(struct record_sink *sink, const char *format, ...)
    __attribute__((format(printf, 2, 3)));

/* Counts records lost on their way to the sink: by the sink itself, or before they reached it
 * (a live capture's keeper drops a batch the exporter had no room for). */
void record_sink_lost(struct record_sink *sink, uint64_t records);

/* The constructors: fill `sink` (kind, target, ops, state) or return -1 with a message in err
 * and the code in sink->error_code. They check what can be checked before the capture starts
 * (the folder exists and is writable, no file has the name, the URL parses and its host
 * resolves) so that add_export fails early, and create nothing. */
typedef int (*record_sink_open_fn)(struct record_sink *sink, const char *target,
                                   const struct record_export_options *options, char *err,
                                   size_t err_size);
int record_jsonl_open(struct record_sink *sink, const char *pattern,
                      const struct record_export_options *options, char *err, size_t err_size);
int ipfix_export_open(struct record_sink *sink, const char *url,
                      const struct record_export_options *options, char *err, size_t err_size);

/* The kinds add_export knows (record_sinks.c): a name and its constructor. */
struct record_sink_kind {
    const char *name;
    record_sink_open_fn open;
};
/* The kind called `name`, or NULL. */
const struct record_sink_kind *record_sink_kind_find(const char *name);
/* "jsonl or ipfix": the kinds' names, for messages. */
void record_sink_kind_names(char *out, size_t size);

/* The on_flows sink (record_on_flows.c): records go to the caller's mailbox, waiting for room
 * when `*live` is 0 or `*input_closed` is set, dropped (counted) otherwise. */
struct mailbox;
int record_on_flows_open(struct record_sink *sink, struct mailbox *mailbox, const int *live,
                         const atomic_int *input_closed);

#endif
