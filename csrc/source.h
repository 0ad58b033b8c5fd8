/*
 * source.h - what the reader thread reads packets from, behind one small interface: a capture
 * file (source_file.c: nasoone's own readers for classic pcap and pcapng, libpcap for the rest;
 * a pipe or a compressed file through byte_stream.c), files read one after the other as one
 * capture (source_list.c) or a live device (source_live.c). Another kind of input is one more
 * file that fills a struct source.
 *
 * The calls: an open function (from the caller's thread, when the capture is configured: it
 * checks what can be checked and says the link type), source_set_filter any number of times
 * before the run, then from the reader thread `next` until it says the input ended or failed,
 * `stats` now and then; `interrupt` from any thread (stop); source_close once, after the run.
 * A source knows nothing of the run: it hands packets to a batch_filler and says how reading
 * went; the reader (producer.c) turns that into the run's counters and errors.
 */
#ifndef NASOONE_SOURCE_H
#define NASOONE_SOURCE_H

#include <pcap/pcap.h>
#include <stddef.h>
#include <stdint.h>

#include "batch_filler.h"
#include "decode.h"
#include "nasoone.h"

enum source_step {
    SOURCE_MORE,  /* call next again */
    SOURCE_END,   /* the input ended (end of the file) */
    SOURCE_FAILED /* it cannot be read further: source->failure says why */
};

struct source;

struct source_ops {
    /* Reads the next packets into `filler`: a bounded number of them, so that pause and stop
     * stay prompt. A live source waits for packets at most filler->idle_flush_ms, and hands
     * its batch on when the link is that quiet. */
    enum source_step (*next)(struct source *source, struct batch_filler *filler);
    /* Optional: libpcap's counters of a device. Returns 0, or -1 when there are none. */
    int (*stats)(struct source *source, struct pcap_stat *stats);
    /* Optional: makes a `next` that waits for packets return soon (stop). Any thread.
     * Returns 0, or -1 when it could not. */
    int (*interrupt)(struct source *source);
    /* Optional: whether `bpf` (not empty) suits the source beyond its first link type (a pcapng
     * file's other interfaces). Returns 0, or -1 with the reason in err. */
    int (*check_filter)(struct source *source, const char *bpf, char *err, size_t err_size);
    /* Optional: sets the filter source_set_filter just set on `pcap` on what else the source
     * reads (the other devices of several); bpf "" clears it. Returns 0, or -1 with the reason
     * in err. */
    int (*apply_filter)(struct source *source, const char *bpf, char *err, size_t err_size);
    /* Optional: each device's counters into out (at most max); returns how many. */
    unsigned (*device_stats)(struct source *source, struct nasoone_device_stats *out, unsigned max);
    /* Optional: frees what the kind holds beyond struct source (source_close calls it after
     * pcap_close, and frees the rest). */
    void (*destroy)(struct source *source);
};

struct source {
    const struct source_ops *ops;
    pcap_t *pcap; /* says the link type, compiles filters */
    char *name;   /* file path or device name, for messages */
    char *filter; /* the filter set, or NULL */
    enum decode_link link;
    /* a pcapng file whose first interface is of a link type nasoone does not decode, and a
     * later one of a type it does: not refused (the first's frames are skipped) */
    int mixed_links;
    int live; /* a device: packets are dropped, never waited for, when the parsers lag */
    struct batch_filler_clock clock;
    uint64_t file_size; /* when the file was opened; 0 for a device */
    uint64_t position;  /* bytes of the file read so far (reader thread) */
    char warning[256];  /* pcap_activate's warning, or "" */
    /* Why `next` failed (reader thread): "nasoone: reading NAME: why". */
    char failure[NASOONE_MESSAGE_SIZE];
    int truncated; /* the failure is a record cut by the end of the file */
    /* The files read one after the other (a list; or the one file, or the device), and the
     * one being read, from 1 (reader thread): what stats say. */
    const char *const *file_names;
    unsigned file_count;
    unsigned file_number;
    /* Several devices read as one (source_devices.c): their names, packet_ref.device - 1 an
     * index into them; NULL and 0 for any other source. */
    const char *const *device_names;
    unsigned device_count;
};

/* Opens a capture file (source_file.c) or a device (source_live.c). Return 0 with *out set, or
 * -1 with a message in err and its stable code (nasoone_error_code) in *code. */
int source_open_file(const char *path, struct source **out, char *err, size_t err_size,
                     const char **code);
int source_open_device(const char *device, const struct nasoone_device_options *options,
                       struct source **out, char *err, size_t err_size, const char **code);
/* source_open_file for a file of a list (listed != 0): a regular file only, never waiting to
 * open a FIFO. */
int source_open_listed(const char *path, int listed, struct source **out, char *err,
                       size_t err_size, const char **code);
/* Live devices read as one capture (source_devices.c), at most NASOONE_MAX_DEVICES; one is
 * source_open_device. */
int source_open_devices(const char *const *names, size_t count,
                        const struct nasoone_device_options *options, struct source **out,
                        char *err, size_t err_size, const char **code);
/* Files read as one capture, in this order (source_list.c); one is source_open_file. */
int source_open_files(const char *const *paths, size_t count, struct source **out, char *err,
                      size_t err_size, const char **code);

/* For the kinds: takes `pcap` as the new source's (closing it on failure), refusing a link
 * type that cannot be decoded. Returns 0, or -1 as the open functions. */
int source_adopt(struct source *source, pcap_t *pcap, const char *name, char *err, size_t err_size,
                 const char **code);
/* Compiles `bpf` ("" or NULL: none) for the source's link type and keeps it. Returns 0, or -1
 * with libpcap's words in err. */
int source_set_filter(struct source *source, const char *bpf, char *err, size_t err_size);
/* The link type (a DLT_ value). */
int source_datalink(const struct source *source);
/* Formats source->failure: "nasoone: reading NAME: reason". */
void source_fail(struct source *source, const char *reason);
/* Closes and frees; NULL is fine. */
void source_close(struct source *source);

#endif
