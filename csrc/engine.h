/*
 * engine.h - what the engine's threads share: the capture object, packet batches, and the
 * thread entry points. Internal to csrc/; the public face is nasoone.h.
 *
 *   producer (producer.c) --batches--> parsers (parser.c) --delta tables--> writer (writer.c)
 *
 * Batches circulate between two queues: `free_batches` (empty, producer takes) and
 * `ready_batches` (filled, any parser takes). Delta tables circulate between the parsers, the
 * writer's inbox `deltas` and the pool `spare_tables`. The caller's thread (engine.c) only
 * starts, pauses, resumes and stops.
 */
#ifndef NASOONE_ENGINE_H
#define NASOONE_ENGINE_H

#include <pcap/pcap.h>
#include <pthread.h>
#include <stdatomic.h>

#include "decode.h"
#include "flow_table.h"
#include "nasoone.h"
#include "pointer_queue.h"

/* Bytes of each frame copied for the parsers when decoding needs no more: headers only, the
 * payload is never copied. Longer header chains are copied in full (see producer.c). */
#if !defined(NASOONE_COPY_PREFIX)
#define NASOONE_COPY_PREFIX 256u
#endif
#if !defined(NASOONE_BATCH_PACKETS)
#define NASOONE_BATCH_PACKETS 1024u
#endif
/* Must hold the largest frame libpcap hands out for the supported links (262144). */
#if !defined(NASOONE_BATCH_BYTES)
#define NASOONE_BATCH_BYTES (512u * 1024u)
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

struct packet_batch {
    uint32_t count;
    uint32_t bytes_used;
    uint32_t attributed_count;
    struct packet_ref refs[NASOONE_BATCH_PACKETS];
    struct attributed_flow attributed[NASOONE_BATCH_PACKETS];
    uint8_t data[NASOONE_BATCH_BYTES];
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
    struct nasoone_snapshot *pending_snapshot;

    /* Configuration: written by the caller before start, read-only while threads run. */
    char *source;           /* file path or device name */
    int live;               /* source is a device */
    int nanosecond;         /* timestamps from libpcap are in nanoseconds */
    int pcapng;             /* the capture file is pcapng (64-bit timestamps) */
    const char *error_code; /* reason of the last failed set_capture_device */
    char warning[256];      /* pcap_activate's warning */
    char *output_path;      /* NULL: no report file */
    char *filter;           /* NULL: no filter */
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
    int event_fd; /* readable: snapshot pending or capture finished */
    int wake_fd;  /* wakes a live producer blocked in poll() */
    struct engine_counters counters;
    pthread_t producer_thread;
    pthread_t writer_thread;
    pthread_t *parser_threads;
    unsigned threads_started; /* parsers started; 0 when not running */
    struct packet_batch *batches;
    unsigned batch_count;
    struct pointer_queue free_batches;
    struct pointer_queue ready_batches;
    struct pointer_queue deltas;
    struct pointer_queue spare_tables;
    atomic_uint parsers_running;
};

void *producer_main(void *capture);
void *parser_main(void *capture);
void *writer_main(void *capture);

/* Records the first error of the run that loses data or ends it (any thread). */
void engine_set_error(struct nasoone_capture *capture, const char *message);
/* Records that the final report could not be written: the capture's error, and stop's (writer). */
void engine_set_final_report_error(struct nasoone_capture *capture, const char *message);
/* Records the last report-writing failure; NULL clears it after a rewrite succeeded (writer). */
void engine_set_write_error(struct nasoone_capture *capture, const char *message);
/* Makes the caller's event descriptor readable (any thread). */
void engine_signal_event(struct nasoone_capture *capture);

#endif
