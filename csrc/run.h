/*
 * run.h - one run of a capture: what nasoone_start builds from the configuration frozen at that
 * moment, and the only thing the run's threads receive. Internal to csrc/; the public face is
 * nasoone.h.
 *
 *   source (source.h) -> reader (producer.c) --batches--> parsers (parser.c)
 *       --delta tables--> writer (writer.c) --> report file, on_report snapshot (report_output.h)
 *
 * With flow limits, an export or on_flows (lifecycle mode) the parsers only decode (with one
 * parser none runs: the keeper takes ready_batches and decodes itself, see keeper_decodes):
 *
 *   reader --batches--> parsers --decoded batches--> keeper (keeper.c) --report rows--> writer
 *                                                       `--record batches--> exporter
 *                                                            (exporter.c) --> record sinks
 *
 * pipeline.c starts those threads and winds them down (its struct pipeline is the engine's).
 * Batches circulate between two queues: `free_batches` (empty, the reader takes) and
 * `ready_batches` (filled, any parser takes, or the keeper when it decodes). Delta tables circulate
 * between the parsers, the writer's inbox `parser_deltas` and the pool `spare_tables`.
 *
 * In lifecycle mode the keeper's table is the report, and so is the parser's when there is one
 * parser and no lifecycle: one thread owns every row, so there is nothing to merge. When a
 * report is due the writer asks that thread for its rows (struct table_report, put in the
 * owner's inbox beside the batches) and gets an answer through `table_reports`: the keeper
 * copies its table, the parser lends its own (and counts into a small delta until the writer
 * gives it back through `table_returns`); at the end the writer gets the table itself. The caller's
 * thread (engine.c) owns the state machine, the status and the mailbox, which outlive the run; the
 * threads reach them through the run.
 */
#ifndef NASOONE_RUN_H
#define NASOONE_RUN_H

#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>

#include "flow_record.h"
#include "flow_table.h"
#include "mailbox.h"
#include "nasoone.h"
#include "packet_batch.h"
#include "pointer_queue.h"
#include "record_sink.h"
#include "report_output.h"
#include "source.h"

#if !defined(NASOONE_BATCHES_PER_PARSER)
#define NASOONE_BATCHES_PER_PARSER 4u
#endif
/* A parser hands its delta to the writer at interval/4, or sooner once it has this many rows,
 * which bounds a delta table's memory whatever the traffic. */
#if !defined(NASOONE_DELTA_MAX_ROWS)
#define NASOONE_DELTA_MAX_ROWS 32768u
#endif

/* What the setters fill; nasoone_start copies it into the run, which never sees it change. */
struct run_config {
    uint32_t interval_ms;
    unsigned parser_count;
    enum nasoone_fragment_mode fragment_mode;
    /* Flow lifecycle: 0 = not set. Any of them, an export or on_flows puts the run in
     * lifecycle mode: parsers decode, the keeper applies them in capture order. */
    uint64_t idle_timeout_ms;
    uint64_t active_timeout_ms;
    uint32_t max_flows;
    int flow_records;      /* on_flows is set: records are queued for nasoone_take_flows */
    uint64_t packet_limit; /* the input ends after this many packets received; 0: no limit */
    int five_tuple;        /* the key has the IP protocol, and every IP protocol counts */
    int biflow;            /* report rows and records pair a connection's two directions */
    int community_seed;    /* >= 0: JSON lines carry the Community ID with this seed */
};

/* The writer's request for the report's rows, and the answer of the thread that owns them (the
 * keeper, or the only parser). The writer puts run->report_request (table: the writer's copy) in
 * the owner's inbox, and the owner sends it back, either
 *   - with a copy of its table in `table` if anything changed since the previous answer
 *     (run_answer_report: the keeper, whose rows change and leave at every packet), or
 *   - with its own table in `lent` (the only parser: its rows are only ever added), which the
 *     writer reports from, untouched, and gives back by putting it in `table_returns`; the
 *     parser counts into a delta meanwhile and merges it when the table is back.
 * At the end the owner sends run->final_report, whose table is its own (run_hand_over_table).
 * One copy or loan per report instead of a message per changed row or a merge per delta: the
 * owner's hot path only counts. */
struct table_report {
    struct flow_table *table;
    struct flow_table *lent; /* or NULL */
    int changed; /* since the previous answer (a copy: else the previous copy still holds) */
    int moved;   /* rows left since the previous copy: their indices changed */
    int failed;  /* out of memory for the copy or the loan: no report this time (the writer's
                    copy, if any, is the previous one, whole) */
};

/* Flow records from the keeper to the exporter. */
#define NASOONE_RECORD_BATCH 512u
struct record_batch {
    uint32_t count;
    struct flow_record records[NASOONE_RECORD_BATCH];
};

/* Counters the threads add to without locks; read by nasoone_get_stats. */
struct run_counters {
    atomic_uint_fast64_t received;
    atomic_uint_fast64_t counted;
    atomic_uint_fast64_t skipped[DECODE_RESULT_COUNT];
    atomic_uint_fast64_t queue_waits;
    atomic_uint_fast64_t paused_discarded;
    atomic_uint_fast64_t fragments_attributed;
    atomic_uint_fast64_t flows;
    atomic_uint_fast64_t reports_written;
    atomic_uint_fast64_t memory_bytes;
    atomic_uint_fast64_t time_out_of_range;
    atomic_uint_fast64_t time_fraction_out_of_range;
    atomic_uint_fast64_t wire_length_below_captured;
    atomic_uint_fast64_t file_read;   /* bytes of the capture file read */
    atomic_uint_fast64_t file_number; /* of the file being read, from 1 (a list) */
    /* lifecycle mode (keeper.c) */
    atomic_uint_fast64_t rows_held;
    atomic_uint_fast64_t rows_peak;
    atomic_uint_fast64_t rows_ended[FLOW_END_CAPACITY + 1]; /* by enum flow_end_reason */
    atomic_uint_fast64_t records;                           /* flow records emitted */
    atomic_uint_fast64_t keeper_memory_bytes;
    atomic_uint_fast64_t cpu_ns[NASOONE_THREAD_ROLE_END]; /* see run_thread_cpu */
};

/* The capture's state and what went wrong: the caller's thread and the run's threads share it
 * under `lock`; it outlives the run (stats after stop). */
struct run_status {
    pthread_mutex_t lock;
    pthread_cond_t resumed; /* the reader waits on it while paused */
    enum nasoone_state state;
    int input_ended; /* the writer wrote the final report; resume() then means finished */
    char error[NASOONE_MESSAGE_SIZE];
    char write_error[NASOONE_MESSAGE_SIZE]; /* the last report rewrite failure, "" once one
                                               succeeded */
    char final_error[NASOONE_MESSAGE_SIZE]; /* why the final report was not written, or "" */
    int file_truncated;
    struct pcap_stat pcap_stats;
    int have_pcap_stats;
    /* several devices: each one's counters, as the reader last saw them */
    unsigned device_count;
    struct nasoone_device_stats devices[NASOONE_MAX_DEVICES];
};

struct run {
    struct run_config config;  /* frozen at start */
    struct source *source;     /* the capture's, read by the reader only */
    struct run_status *status; /* the capture's */
    struct mailbox *mailbox;   /* the capture's: what the caller's thread receives */
    int lifecycle;             /* the keeper and the exporter run */
    /* Lifecycle mode with one parser: no parser thread; the keeper decodes each batch itself
     * (batch_decode.h) from ready_batches, its inbox then, unless a file's reader already did:
     * it decodes a batch when the keeper has two or more waiting (packet_batch.keys_decoded).
     * On 2 cores the reader and the keeper are the two busy threads: a parser thread beside
     * them only took turns with them. */
    int keeper_decodes;
    /* Where the writer's reports go (report_output.h), and the flow records (record_sink.h):
     * the exports the capture has, then the on_flows sink, which is the run's. */
    struct report_output *outputs[REPORT_OUTPUT_MAX];
    unsigned output_count;
    struct record_sink *sinks[NASOONE_MAX_EXPORTS + 1];
    unsigned sink_count;
    struct record_sink *on_flows_sink; /* NULL without on_flows */

    struct run_counters counters;
    atomic_int stop_requested;
    atomic_int paused;
    /* The keeper's input is closed (end of file, stop, a device error): no capture is left to
     * protect, so its last records wait for room instead of being dropped (live too). */
    atomic_int records_final;
    atomic_uint_fast64_t capture_clock_ms; /* the keeper's clock, for the exporter's ticks */
    /* records a live keeper dropped for want of room: the exporter counts them in each sink */
    atomic_uint_fast64_t records_lost;

    /* what the threads' ends count down (pipeline.c sets them) */
    atomic_uint parsers_running;   /* the last parser out closes the parsers' output */
    atomic_uint finishing_threads; /* writer (+ exporter): see run_thread_finished */
    struct packet_batch *batches;
    unsigned batch_count;
    struct pointer_queue free_batches;
    struct pointer_queue ready_batches;
    struct pointer_queue parser_deltas; /* struct flow_table *: parsers -> writer */
    struct pointer_queue spare_tables;
    /* lifecycle: parsers -> keeper (struct packet_batch *) */
    struct pointer_queue decoded_batches;
    /* the thread that owns the report's rows, if one does: where report_request goes (the
     * keeper's decoded_batches, or ready_batches: the only parser's, or with keeper_decodes the
     * keeper's); NULL: parsers' deltas */
    struct pointer_queue *table_owner_inbox;
    struct pointer_queue table_reports; /* struct table_report *: owner -> writer */
    struct pointer_queue table_returns; /* the lent struct flow_table *: writer -> owner */
    /* the only parser gave its table to the writer for good and hands deltas over since (its
     * table outgrew the cache, parser.c): set before that hand-over, which the writer reads */
    atomic_int owner_switched;
    struct table_report report_request; /* the writer's (its table: the writer's copy) */
    struct table_report final_report;   /* the last answer: its table is final_table */
    struct flow_table final_table;
    struct pointer_queue record_batches; /* struct record_batch *: keeper -> exporter */
};

/* The status of a capture that has not started. */
void run_status_init(struct run_status *status);
void run_status_destroy(struct run_status *status);

/* A run of `config` over `source`, its batches and queues made, the on_flows sink too when
 * config->flow_records; the exports and the report outputs are added by the caller. Returns
 * NULL when out of memory. */
struct run *run_new(const struct run_config *config, struct source *source,
                    struct run_status *status, struct mailbox *mailbox);
/* Frees the batches, queues and what they still hold (after the threads were joined). The
 * counters, the sinks and the outputs stay, for stats. */
void run_release(struct run *run);
/* Frees the run (after run_release): the on_flows sink and the outputs with it. */
void run_free(struct run *run);

/* Records the first error of the run that loses data or ends it (any thread). */
void run_set_error(struct run_status *status, const char *message);
/* Records that the final report could not be written: the capture's error, and stop's (writer). */
void run_set_final_report_error(struct run_status *status, const char *message);

/* For the keeper, which owns the report's rows (table_report; the only parser lends its table
 * instead): answers the writer's `request` with a copy of `table` if `*changed`, then clears
 * *changed and *moved. */
void run_answer_report(struct run *run, struct table_report *request,
                       const struct flow_table *table, int *changed, int *moved);
/* ... and at its end: hands `table` itself to the writer (it is left empty). */
void run_hand_over_table(struct run *run, struct flow_table *table, int moved);
/* Records the last report-writing failure; NULL clears it after a rewrite succeeded (writer). */
void run_set_write_error(struct run_status *status, const char *message);
/* The writer and (lifecycle mode) the exporter call it when they are done: the last one marks
 * the input ended (finished), once the final report and the last records are out. */
void run_thread_finished(struct run *run);
/* Adds the calling thread's CPU time to the run's count for `role`: the last thing each of the
 * run's threads does. */
void run_thread_cpu(struct run *run, enum nasoone_thread_role role);

#endif
