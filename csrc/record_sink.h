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
    /* The capture reads a file: the sink may make the exporter thread wait (its keeper then
     * waits too; nothing is lost). A live capture's sinks never wait. Set before start. */
    int may_wait;
    /* 1: records of a 5-tuple capture carry their Community ID with community_seed (the sinks
     * that write text). Set before start. */
    int community_id;
    uint16_t community_seed;
    /* 1: the records are biflows (flow_record.biflow): a sink with a layout per kind of record
     * (IPFIX templates) picks it at start. Set before start. */
    int biflow;
    /* Several devices: their names (flow_key.device - 1 indexes them); NULL otherwise. Set
     * before start. */
    const char *const *device_names;
    struct record_sink_counters counters;
    /* The last error ("nasoone: ..."), "" if none: written by the exporter thread under
     * `lock`, read by stats. The engine initializes lock before calling a constructor. */
    pthread_mutex_t lock;
    char last_error[NASOONE_MESSAGE_SIZE];
    /* Why open or start failed, as nasoone_error_code says it ("exists", "invalid_path",
     * "unreachable", ...): set with the failure by the sink itself, never guessed by the engine. */
    const char *error_code;
};

/* An option a kind of sink takes (add_export's options table, by name): a whole number. The
 * kind declares its options (struct record_sink_kind); nobody else knows their names. */
#define RECORD_SINK_MAX_OPTIONS 6
struct record_sink_option {
    const char *name;  /* NULL ends a kind's list */
    uint32_t min, max; /* what add_export accepts */
    uint32_t fallback; /* the value when not given (0 may mean "the sink's own default") */
};

/* The option values a constructor receives: the kind's list and a value for each. */
struct record_sink_settings {
    const struct record_sink_option *options;
    uint32_t values[RECORD_SINK_MAX_OPTIONS];
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
                                   const struct record_sink_settings *settings, char *err,
                                   size_t err_size);

/* A kind add_export knows: its name, its constructor, its options. Each sink file defines its
 * kind; record_sinks.c lists them. */
struct record_sink_kind {
    const char *name;
    record_sink_open_fn open;
    struct record_sink_option options[RECORD_SINK_MAX_OPTIONS + 1];
};
/* The kind called `name`, or NULL. */
const struct record_sink_kind *record_sink_kind_find(const char *name);
/* "'jsonl' or 'ipfix'": the kinds' names, for messages. */
void record_sink_kind_names(char *out, size_t size);

/* Every option of `kind` at its fallback. */
void record_sink_settings_init(struct record_sink_settings *settings,
                               const struct record_sink_kind *kind);
/* Sets option `name` (from add_export: checked). Returns 0, or -1 with a message in err: "unknown
 * ipfix export option 'rotate'", "mtu must be an integer from 128 to 65535". */
int record_sink_settings_set(struct record_sink_settings *settings, const char *kind_name,
                             const char *name, double value, char *err, size_t err_size);
/* Sets option `name` as it is, unchecked (a program of the project's own, a test). Returns 0, or
 * -1 for a name the kind does not declare. */
int record_sink_settings_put(struct record_sink_settings *settings, const char *name,
                             uint32_t value);
/* The value of option `name` (a constructor reads its own options; 0 for a name its kind does
 * not declare). */
uint32_t record_sink_setting(const struct record_sink_settings *settings, const char *name);

/* The on_flows sink (record_on_flows.c): records go to the caller's mailbox, waiting for room
 * when `*live` is 0 or `*input_closed` is set, dropped (counted) otherwise. */
struct mailbox;
int record_on_flows_open(struct record_sink *sink, struct mailbox *mailbox, const int *live,
                         const atomic_int *input_closed);

#endif
