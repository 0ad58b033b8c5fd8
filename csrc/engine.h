/*
 * engine.h - what the engine's threads share: the capture object, packet batches, and the
 * thread entry points. Internal to csrc/; the public face is nasoone.h.
 *
 *   producer (producer.c) --batches--> parsers (parser.c) --delta tables--> writer (writer.c)
 *
 * With flow limits, an export or on_flows (lifecycle mode) the parsers only decode:
 *
 *   producer --batches--> parsers --decoded batches--> keeper (keeper.c) --updates--> writer
 *                                                        `--record batches--> exporter
 *                                                             (exporter.c) --> record sinks
 *
 * The writer and the on_flows sink put what the caller receives in its mailbox (mailbox.h).
 *
 * Batches circulate between two queues: `free_batches` (empty, producer takes) and
 * `ready_batches` (filled, any parser takes). Delta tables circulate between the parsers, the
 * writer's inbox `parser_deltas` and the pool `spare_tables` (the keeper's updates reach the
 * writer through `keeper_updates`: each queue carries one type). The caller's thread (engine.c)
 * only starts, pauses, resumes and stops.
 */
#ifndef NASOONE_ENGINE_H
#define NASOONE_ENGINE_H

#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>

#include "decode.h"
#include "flow_record.h"
#include "flow_table.h"
#include "mailbox.h"
#include "nasoone.h"
#include "pipeline.h"
#include "pointer_queue.h"
#include "record_sink.h"

/* Bytes of each frame copied for the parsers when decoding needs no more: headers only, the
 * payload is never copied. Longer header chains are copied in full (see producer.c). Classic
 * pcap files are read whole into the batches instead: nothing is copied but by the kernel. */
#if !defined(NASOONE_COPY_PREFIX)
#define NASOONE_COPY_PREFIX 256u
#endif
#if !defined(NASOONE_BATCH_PACKETS)
#define NASOONE_BATCH_PACKETS 2048u
#endif
/* Must hold the largest frame libpcap hands out for the supported links (262144), with its
 * record header. A batch of a classic pcap file holds whole records: about as many bytes as
 * NASOONE_BATCH_PACKETS of its records take (producer_read_classic). */
#if !defined(NASOONE_BATCH_BYTES)
#define NASOONE_BATCH_BYTES (1024u * 1024u)
#endif
#if !defined(NASOONE_BATCHES_PER_PARSER)
#define NASOONE_BATCHES_PER_PARSER 4u
#endif
/* A parser hands its delta to the writer at interval/4, or sooner once it has this many rows,
 * which bounds a delta table's memory whatever the traffic. */
#if !defined(NASOONE_DELTA_MAX_ROWS)
#define NASOONE_DELTA_MAX_ROWS 32768u
#endif

struct packet_ref {
    uint64_t timestamp_ms; /* truncated milliseconds since the epoch */
    uint32_t offset;       /* into batch.data */
    uint32_t copied;       /* bytes copied: min(caplen, what decoding reads) */
    uint32_t wire_length;  /* pcap_pkthdr.len */
    uint32_t attributed;   /* 0, or 1 + index in batch.attributed: a later fragment's flow */
};

/* The flow a later IP fragment was attributed to by the producer (fragments.h). */
struct attributed_flow {
    struct flow_key key;
    uint32_t ip_bytes; /* the fragment's own */
    uint8_t protocol;
};

/* A packet as a parser decoded it for the keeper (flow lifecycle mode only). */
struct decoded_ref {
    struct flow_key key;
    uint32_t hash;
    uint32_t ip_bytes;
    uint8_t protocol; /* FLOW_PROTO_TCP or FLOW_PROTO_UDP; 0: not counted */
};

struct packet_batch {
    uint64_t sequence; /* the producer's numbering: the keeper restores capture order by it */
    uint32_t count;
    uint32_t bytes_used;
    uint32_t attributed_count;
    struct packet_ref refs[NASOONE_BATCH_PACKETS];
    struct attributed_flow attributed[NASOONE_BATCH_PACKETS];
    uint8_t data[NASOONE_BATCH_BYTES];
    struct decoded_ref decoded[NASOONE_BATCH_PACKETS]; /* lifecycle mode: filled by a parser */
};

/* Rows the keeper hands to the writer: what left the report and what changed in it since the
 * previous update (rows with their new totals). The writer applies removals first: a row
 * that left and came back is in both, and ends as the new row. */
struct keeper_update {
    uint32_t removed_count;
    uint32_t set_count;
    struct flow_key *removed;
    struct flow_row *set;
};

/* Flow records from the keeper to the exporter. */
#define NASOONE_RECORD_BATCH 512u
struct record_batch {
    uint32_t count;
    struct flow_record records[NASOONE_RECORD_BATCH];
};

/* Counters the threads add to without locks; read by nasoone_get_stats. */
struct engine_counters {
    atomic_uint_fast64_t received;
    atomic_uint_fast64_t counted;
    atomic_uint_fast64_t skipped[DECODE_RESULT_COUNT];
    atomic_uint_fast64_t queue_dropped;
    atomic_uint_fast64_t queue_waits;
    atomic_uint_fast64_t paused_discarded;
    atomic_uint_fast64_t fragments_attributed;
    atomic_uint_fast64_t flows;
    atomic_uint_fast64_t reports_written;
    atomic_uint_fast64_t memory_bytes;
    atomic_uint_fast64_t time_out_of_range;
    atomic_uint_fast64_t time_fraction_out_of_range;
    atomic_uint_fast64_t wire_length_below_captured;
    atomic_uint_fast64_t file_read; /* bytes of the capture file read (its stdio position) */
    /* lifecycle mode (keeper.c) */
    atomic_uint_fast64_t rows_held;
    atomic_uint_fast64_t rows_peak;
    atomic_uint_fast64_t rows_ended[FLOW_END_CAPACITY + 1]; /* by enum flow_end_reason */
    atomic_uint_fast64_t records;                           /* flow records emitted */
    atomic_uint_fast64_t keeper_memory_bytes;
    atomic_uint_fast64_t cpu_ns[NASOONE_THREAD_ROLE_END]; /* see engine_thread_cpu */
};

struct nasoone_capture {
    /* Guards state, error, file_truncated, pcap_stats and the snapshot slot. */
    pthread_mutex_t lock;
    pthread_cond_t resumed; /* the producer waits on it while paused */
    enum nasoone_state state;
    int input_ended; /* the writer wrote the final report; resume() then means finished */
    char error[NASOONE_MESSAGE_SIZE];
    char write_error[NASOONE_MESSAGE_SIZE]; /* the last report rewrite failure, "" once one
                                               succeeded */
    char final_error[NASOONE_MESSAGE_SIZE]; /* why the final report was not written, or "" */
    int file_truncated;
    struct pcap_stat last_pcap_stats;
    int have_pcap_stats;
    /* What the caller's thread receives: report snapshots, flow record batches, events. */
    struct mailbox mailbox;

    /* Configuration: written by the caller before start, read-only while threads run. */
    char *source;           /* file path or device name */
    int live;               /* source is a device */
    int nanosecond;         /* timestamps from libpcap are in nanoseconds */
    int pcapng;             /* the capture file is pcapng (64-bit timestamps) */
    uint64_t file_size;     /* of the capture file when it was opened */
    const char *error_code; /* reason of the last failed set_capture_device */
    char warning[256];      /* pcap_activate's warning */
    char *output_path;      /* NULL: no report file */
    int output_folder_fd;   /* its folder, opened at start (O_PATH), -1 when not running */
    int output_jsonl;       /* the report file is JSON lines, not CSV */
    /* Flow lifecycle: 0 = not set. Any of them, an export or on_flows puts the run in
     * lifecycle mode: parsers decode, the keeper applies them in capture order. */
    uint64_t idle_timeout_ms;
    uint64_t active_timeout_ms;
    uint32_t max_flows;
    int flow_records; /* on_flows is set: records are queued for nasoone_take_flows */
    struct record_sink *exports[NASOONE_MAX_EXPORTS + 1]; /* add_export's, then on_flows' */
    unsigned export_count;                                /* add_export's */
    unsigned sink_count;                   /* sinks of the run: export_count, + 1 with on_flows */
    struct record_sink *on_flows_sink;     /* NULL until on_flows is first set */
    atomic_uint_fast64_t capture_clock_ms; /* the keeper's clock, for the exporter's ticks */
    char *filter;                          /* NULL: no filter */
    uint32_t interval_ms;
    unsigned parser_count;
    int snapshots;
    enum nasoone_fragment_mode fragment_mode;
    pcap_t *pcap;
    char *read_buffer; /* stdio buffer of a capture file, freed after pcap_close */
    enum decode_link link;

    /* Run time. */
    atomic_int stop_requested;
    atomic_int paused;
    int wake_fd; /* wakes a live producer blocked in poll() */
    struct engine_counters counters;
    struct pipeline pipeline; /* the run's threads (pipeline.h) */
    struct packet_batch *batches;
    unsigned batch_count;
    struct pointer_queue free_batches;
    struct pointer_queue ready_batches;
    struct pointer_queue parser_deltas; /* struct flow_table *: parsers -> writer */
    struct pointer_queue spare_tables;
    atomic_uint parsers_running;
    atomic_uint finishing_threads; /* writer (+ exporter): see engine_thread_finished */
    /* lifecycle mode */
    int lifecycle;
    struct pointer_queue decoded_batches; /* parsers -> keeper */
    struct pointer_queue keeper_updates;  /* struct keeper_update *: keeper -> writer */
    struct pointer_queue record_batches;  /* keeper -> exporter */
    /* The keeper's input is closed (end of file, stop, a device error): no capture is left to
     * protect, so its last records wait for room instead of being dropped (live too). */
    atomic_int records_final;
};

/* The threads' bodies, and the last thing each does (pipeline.h): closing its output, or for
 * the writer and the exporter, counting down to the end of the run. */
void *producer_main(void *capture);
void producer_stage_done(struct nasoone_capture *capture);
void *parser_main(void *capture);
void parser_stage_done(struct nasoone_capture *capture);
void *writer_main(void *capture);
void writer_stage_done(struct nasoone_capture *capture);
void *keeper_main(void *capture);
void keeper_stage_done(struct nasoone_capture *capture);
void *exporter_main(void *capture);
void exporter_stage_done(struct nasoone_capture *capture);

/* Records the first error of the run that loses data or ends it (any thread). */
void engine_set_error(struct nasoone_capture *capture, const char *message);
/* Records that the final report could not be written: the capture's error, and stop's (writer). */
void engine_set_final_report_error(struct nasoone_capture *capture, const char *message);
/* Records the last report-writing failure; NULL clears it after a rewrite succeeded (writer). */
void engine_set_write_error(struct nasoone_capture *capture, const char *message);
/* The writer and (lifecycle mode) the exporter call it when they are done: the last one marks
 * the input ended (finished), once the final report and the last records are out. */
void engine_thread_finished(struct nasoone_capture *capture);
/* Adds the calling thread's CPU time to the capture's count for `role`: the last thing each of
 * the engine's threads does. */
void engine_thread_cpu(struct nasoone_capture *capture, enum nasoone_thread_role role);
/* Makes the caller's event descriptor readable (any thread). */
void engine_signal_event(struct nasoone_capture *capture);

#endif
