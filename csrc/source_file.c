/*
 * source_file.c - a capture file as a source (source.h).
 *
 * A plain classic pcap file (classic_pcap.h) is read with large pread()s straight into the
 * batches: per packet only the record header is walked, and the parsers decode the bytes where
 * the kernel put them. Any other file is read by libpcap, whose headers the filler copies:
 * through a byte stream (byte_stream.h) for standard input ("-"), pipes, FIFOs and compressed
 * files. Either way no lock, no allocation, no system call per packet.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "byte_stream.h"
#include "classic_pcap.h"
#include "pcapng.h"
#include "message.h"
#include "source.h"

/* stdio buffer for libpcap's reading of a capture file */
#define FILE_READ_BUFFER (1u << 20)
/* What is read of a pcapng file when it is opened, to see its first interfaces, and how many
 * of their link types are kept. */
#define PCAPNG_HEAD_SCAN (256u * 1024u)
#define FILE_HEAD_LINKS  16u

enum file_reader { FILE_UNDECIDED, FILE_CLASSIC, FILE_PCAPNG, FILE_LIBPCAP };

/* The filter compiled for one link type (a pcapng file's interfaces may differ). */
struct link_filter {
    int dlt;
    int compiled; /* else it does not compile for that link type, which nasoone cannot decode */
    struct bpf_program program;
};

struct file_source {
    struct source base;
    char *read_buffer;         /* a plain file's stdio buffer: freed after pcap_close */
    struct byte_stream *bytes; /* anything else: a pipe, standard input, a compressed file */
    enum file_reader reader;
    int pipe; /* not a regular file: what came is handed on before waiting */
    struct {  /* a pcapng file's first interfaces' link types (pcapng_scan_head) */
        int dlt;
        uint32_t snapshot;
    } head_links[FILE_HEAD_LINKS];
    unsigned head_link_count;
    /* nasoone's own readers: the file read in place into the batches */
    int fd;
    struct classic_pcap_format classic;
    struct pcapng_format pcapng;
    struct link_filter *filters; /* base.filter compiled, per link type (classic: one) */
    unsigned filter_count;
    uint64_t offset;           /* of the next byte to read from the file (or the stream) */
    uint64_t pass_over;        /* bytes of a pcapng block not needed, to pass over first */
    uint64_t pass_over_length; /* that block's */
    const uint8_t *carry;      /* bytes read but not yet made into packets */
    size_t carry_size;
    size_t read_size;
    int at_end, read_failed;
};

/* Compiles `bpf` for link type `dlt` (a dead handle of that type). Returns 0, or -1 with
 * libpcap's words (or "out of memory") in why. */
static int link_compile(int dlt, uint32_t snapshot, const char *bpf, struct bpf_program *program,
                        char *why, size_t why_size)
{
    pcap_t *dead = pcap_open_dead(dlt, (int)snapshot);
    if (dead == NULL)
        return message_format(why, why_size, "out of memory");
    int result = pcap_compile(dead, program, bpf, 1, PCAP_NETMASK_UNKNOWN);
    if (result != 0)
        message_format(why, why_size, "%s", pcap_geterr(dead));
    pcap_close(dead);
    return result != 0 ? -1 : 0;
}

/* The filter for link type `dlt`: an index in file->filters, compiled when first asked for.
 * Returns -1 with the reason in `reason` when it cannot be (out of memory, or libpcap refuses
 * the filter for a link type nasoone decodes). */
static int file_filter_for(struct file_source *file, int dlt, uint32_t snapshot, char *reason,
                           size_t reason_size)
{
    for (unsigned i = 0; i < file->filter_count; i++)
        if (file->filters[i].dlt == dlt)
            return (int)i;
    struct link_filter *grown =
        realloc(file->filters, (file->filter_count + 1) * sizeof *file->filters);
    if (grown == NULL)
        return message_format(reason, reason_size, "out of memory");
    file->filters = grown;
    struct link_filter *filter = &file->filters[file->filter_count];
    memset(filter, 0, sizeof *filter);
    filter->dlt = dlt;
    char why[PCAP_ERRBUF_SIZE];
    filter->compiled =
        link_compile(dlt, snapshot, file->base.filter, &filter->program, why, sizeof why) == 0;
    if (!filter->compiled && decode_link_from_dlt(dlt) != DECODE_LINK_UNSUPPORTED) {
        const char *name = pcap_datalink_val_to_name(dlt);
        return message_format(reason, reason_size,
                              "the filter '%s' does not apply to link type %s (%d): %s",
                              file->base.filter, name != NULL ? name : "unknown", dlt, why);
    }
    return (int)file->filter_count++;
}

/* The first bytes of the file, as libpcap's opening read them: `size` of them, or fewer. */
static size_t file_head(struct file_source *file, uint8_t *buf, size_t size)
{
    if (file->bytes != NULL) {
        size_t have;
        const uint8_t *head = byte_stream_head(file->bytes, &have);
        size_t n = head == NULL ? 0 : have < size ? have : size;
        if (n > 0)
            memcpy(buf, head, n);
        return n;
    }
    ssize_t n = pread(file->fd, buf, size, 0);
    return n > 0 ? (size_t)n : 0;
}

/* Whether nasoone's own reader takes the file (a classic pcap file as libpcap would read it, or
 * any pcapng file), and which; its filters compiled then. It starts at `offset` of the file. */
static enum file_reader file_choose_reader(struct file_source *file)
{
    uint8_t header[CLASSIC_PCAP_FILE_HEADER];
    if (file->bytes == NULL)
        file->fd = fileno(pcap_file(file->base.pcap));
    if (file->fd < 0 && file->bytes == NULL)
        return FILE_LIBPCAP;
    if (file_head(file, header, sizeof header) != sizeof header)
        return FILE_LIBPCAP; /* libpcap read a header: not a stream that kept it */
    enum file_reader reader = FILE_LIBPCAP;
    if (pcapng_is_pcapng(header, sizeof header)) {
        reader = FILE_PCAPNG;
        pcapng_init(&file->pcapng);
        file->offset = 0; /* its section header and interfaces are read again */
    } else if (classic_pcap_probe(header, (uint32_t)pcap_snapshot(file->base.pcap),
                                  &file->classic)) {
        reader = FILE_CLASSIC;
        file->offset = CLASSIC_PCAP_FILE_HEADER;
        char reason[NASOONE_MESSAGE_SIZE];
        if (file->base.filter != NULL &&
            file_filter_for(file, pcap_datalink(file->base.pcap),
                            (uint32_t)pcap_snapshot(file->base.pcap), reason, sizeof reason) != 0)
            return FILE_LIBPCAP; /* it compiled when it was set: libpcap's reader has it */
    }
    if (reader != FILE_LIBPCAP && file->bytes != NULL &&
        byte_stream_rewind(file->bytes, file->offset) != 0)
        return FILE_LIBPCAP;
    /* Read about as many bytes as a batch has packet slots for, so that few bytes are left
     * over to move into the next batch: adapted to the records' mean size as it goes. */
    file->read_size = NASOONE_BATCH_BYTES / 4;
    return reader;
}

/* The bytes the record or block at the start of data[0 .. have) takes whole. */
static size_t file_record_need(const struct file_source *file, const uint8_t *data, size_t have)
{
    if (file->reader == FILE_PCAPNG)
        return pcapng_block_need(&file->pcapng, data, have, NASOONE_BATCH_BYTES);
    return classic_pcap_record_need(data, have);
}

/* The file's message for a record or block cut by the end of the file. */
static void file_truncated(const struct file_source *file, const uint8_t *data, size_t have,
                           char *reason, size_t reason_size)
{
    if (file->reader == FILE_PCAPNG)
        pcapng_truncated(&file->pcapng, data, have, reason, reason_size);
    else
        classic_pcap_truncated(&file->classic, data, have, reason, reason_size);
}

/* Takes the stream's failure, or notes an interrupted read (stop): the input ends either way. */
static void file_stream_ended(struct file_source *file)
{
    int cut_short = 0;
    if (byte_stream_reader_failed(file->bytes, &cut_short)) { /* else interrupted */
        message_format(file->base.failure, sizeof file->base.failure, "%s",
                       byte_stream_error(file->bytes));
        file->base.truncated = cut_short;
        file->read_failed = 1;
    }
    file->at_end = 1;
}

/* file_read_bytes for a byte stream; once the first record is whole, only what is there
 * without waiting (a quiet pipe's packets go on). */
static size_t file_read_stream(struct file_source *file, uint8_t *data, size_t have, size_t want)
{
    while (have < want && !file->at_end) {
        if (file->pipe && have >= file_record_need(file, data, have) &&
            !byte_stream_ready(file->bytes))
            break;
        ssize_t n = byte_stream_read(file->bytes, data + have, want - have);
        if (n < 0) {
            file_stream_ended(file);
            break;
        }
        if (n == 0)
            file->at_end = 1;
        have += (size_t)n;
        file->offset += (uint64_t)n;
    }
    return have;
}

/* Passes over file->pass_over bytes (the rest of a pcapng block not needed), using `scratch`
 * for a stream's. Returns 0, or -1 when the input ends first (failure set). */
static int file_pass_over(struct file_source *file, uint8_t *scratch, size_t scratch_size)
{
    uint64_t left = file->pass_over;
    file->pass_over = 0;
    if (file->bytes == NULL) {
        struct stat st;
        uint64_t size = fstat(file->fd, &st) == 0 ? (uint64_t)st.st_size : 0;
        uint64_t end = file->offset + left;
        file->offset = end < size ? end : size;
        left = end > size ? end - size : 0;
    }
    while (left > 0 && file->bytes != NULL && !file->at_end) {
        ssize_t n = byte_stream_read(file->bytes, scratch,
                                     left < scratch_size ? (size_t)left : scratch_size);
        if (n < 0)
            file_stream_ended(file);
        if (n <= 0)
            break;
        left -= (uint64_t)n;
        file->offset += (uint64_t)n;
    }
    if (left == 0)
        return 0;
    if (!file->read_failed) { /* libpcap's words: it reads the block after its header */
        char reason[NASOONE_MESSAGE_SIZE];
        uint64_t body = file->pass_over_length - 8;
        message_format(reason, sizeof reason,
                       "truncated pcapng dump file; tried to read %llu bytes, only got %llu",
                       (unsigned long long)body, (unsigned long long)(body - left));
        source_fail(&file->base, reason);
    }
    file->at_end = file->read_failed = 1;
    return -1;
}

/* Fills `want` bytes of batch data from `have` on (fewer at the end of the file or on a read
 * error). Returns the bytes there now. */
static size_t file_read_bytes(struct file_source *file, uint8_t *data, size_t have, size_t want)
{
    if (file->pass_over > 0 && file_pass_over(file, data + have, want - have) != 0)
        return have;
    if (file->bytes != NULL)
        return file_read_stream(file, data, have, want);
    while (have < want && !file->at_end) {
        ssize_t n = pread(file->fd, data + have, want - have, (off_t)file->offset);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            char reason[NASOONE_MESSAGE_SIZE];
            message_format(reason, sizeof reason, "error reading dump file: %s", strerror(errno));
            source_fail(&file->base, reason);
            file->at_end = file->read_failed = 1;
            break;
        }
        if (n == 0) {
            file->at_end = 1;
            break;
        }
        have += (size_t)n;
        file->offset += (uint64_t)n;
    }
    return have;
}

/* What the walk over a batch's bytes found at its position. */
enum walk_step { WALK_PACKET, WALK_OTHER, WALK_PASS_OVER, WALK_NEED_MORE, WALK_INVALID };

struct walked {
    struct pcap_pkthdr header;
    size_t size;   /* of the record or block in the file */
    uint32_t data; /* where the packet's bytes start in it */
    enum decode_link link;
    const struct bpf_program *filter; /* NULL: none applies */
};

/* The next record of a classic pcap file. */
static enum walk_step walk_classic(struct file_source *file, uint8_t *bytes, size_t available,
                                   struct walked *walked, char *reason, size_t reason_size)
{
    enum classic_pcap_step step = classic_pcap_next(
        &file->classic, bytes, available, &walked->header, &walked->size, reason, reason_size);
    if (step == CLASSIC_PCAP_NEED_MORE)
        return WALK_NEED_MORE;
    if (step == CLASSIC_PCAP_INVALID)
        return WALK_INVALID;
    walked->data = CLASSIC_PCAP_RECORD_HEADER;
    walked->link = file->base.link;
    walked->filter = file->filter_count > 0 ? &file->filters[0].program : NULL;
    return WALK_PACKET;
}

/* The next block of a pcapng file: a new interface gets its filter. */
static enum walk_step walk_pcapng(struct file_source *file, uint8_t *bytes, size_t available,
                                  struct walked *walked, char *reason, size_t reason_size)
{
    struct pcapng_packet packet;
    enum pcapng_step step = pcapng_next(&file->pcapng, bytes, available, NASOONE_BATCH_BYTES,
                                        &packet, &walked->size, reason, reason_size);
    switch (step) {
    case PCAPNG_NEED_MORE:
        return WALK_NEED_MORE;
    case PCAPNG_INVALID:
        return WALK_INVALID;
    case PCAPNG_OTHER:
        return WALK_OTHER;
    case PCAPNG_PASS_OVER:
        return WALK_PASS_OVER;
    case PCAPNG_INTERFACE: {
        struct pcapng_interface *iface = &file->pcapng.interfaces[file->pcapng.count - 1];
        if (file->base.filter == NULL)
            return WALK_OTHER;
        int filter = file_filter_for(file, iface->dlt, iface->snapshot, reason, reason_size);
        if (filter < 0)
            return WALK_INVALID;
        iface->filter = (unsigned)filter;
        return WALK_OTHER;
    }
    case PCAPNG_PACKET:
        break;
    }
    const struct pcapng_interface *iface = &file->pcapng.interfaces[packet.interface];
    walked->header = packet.header;
    walked->data = packet.data;
    walked->link = iface->link;
    walked->filter = NULL;
    if (file->base.filter != NULL && file->filters[iface->filter].compiled)
        walked->filter = &file->filters[iface->filter].program;
    return WALK_PACKET;
}

/* One batch of a file read in place: read into the batch's bytes, the records found where
 * they landed. A record cut by the end of the bytes starts the next batch. */
static enum source_step file_next_in_place(struct file_source *file, struct batch_filler *filler)
{
    struct packet_batch *batch = batch_filler_batch_to_read_into(filler);
    if (file->carry_size > 0) /* may be the same batch's own bytes */
        memmove(batch->data, file->carry, file->carry_size);
    size_t want = file->read_size;
    size_t need = file_record_need(file, batch->data, file->carry_size); /* the first, whole */
    if (want < need)
        want = need;
    size_t have = file_read_bytes(file, batch->data, file->carry_size, want);
    uint64_t batch_offset = file->offset - have; /* of batch->data[0] in the file */
    size_t used = 0, records = 0;
    int invalid = 0, incomplete = 0; /* the walk stopped at a record not all read yet */
    while (batch->count < NASOONE_BATCH_PACKETS) {
        struct walked walked;
        char reason[NASOONE_MESSAGE_SIZE];
        enum walk_step step =
            file->reader == FILE_PCAPNG
                ? walk_pcapng(file, batch->data + used, have - used, &walked, reason, sizeof reason)
                : walk_classic(file, batch->data + used, have - used, &walked, reason,
                               sizeof reason);
        if (step == WALK_NEED_MORE) {
            incomplete = 1;
            break;
        }
        if (step == WALK_INVALID) {
            if (file->reader == FILE_PCAPNG) { /* which block, and where */
                size_t length = strlen(reason);
                message_format(reason + length, sizeof reason - length,
                               " (block %llu, at byte %llu)",
                               (unsigned long long)file->pcapng.blocks + 1,
                               (unsigned long long)(batch_offset + used));
            }
            source_fail(&file->base, reason);
            invalid = 1;
            break;
        }
        if (step == WALK_PASS_OVER) { /* longer than a batch: the rest of it is passed over */
            file->pass_over = walked.size - (have - used);
            file->pass_over_length = walked.size;
            used = have;
            break;
        }
        uint32_t offset = (uint32_t)used + walked.data;
        used += walked.size;
        if (step == WALK_OTHER)
            continue;
        records++;
        if (walked.filter != NULL &&
            !pcap_offline_filter(walked.filter, &walked.header, batch->data + offset))
            continue;
        batch_filler_add_in_place(filler, &walked.header, walked.link, offset);
    }
    batch->bytes_used = (uint32_t)have;
    if (records > 0)
        file->read_size = (used / records + 1) * NASOONE_BATCH_PACKETS;
    if (file->read_size > NASOONE_BATCH_BYTES)
        file->read_size = NASOONE_BATCH_BYTES;
    if (file->read_size < 64 * 1024)
        file->read_size = 64 * 1024;
    file->carry = batch->data + used;
    file->carry_size = have - used;
    batch_filler_flush(filler); /* keeps the batch if it has no packet (all filtered out) */
    file->base.position =
        file->bytes != NULL ? byte_stream_position(file->bytes) : file->offset - file->carry_size;
    if (invalid)
        return SOURCE_FAILED;
    if (file->pass_over > 0)
        return SOURCE_MORE;
    /* At the end of the file, a batch that filled up leaves whole records to go on with; a
     * record that is not whole then never will be. */
    if (file->at_end && (incomplete || file->carry_size == 0)) {
        if (file->read_failed)
            return SOURCE_FAILED;
        if (file->carry_size > 0) {
            char reason[NASOONE_MESSAGE_SIZE];
            file_truncated(file, file->carry, file->carry_size, reason, sizeof reason);
            source_fail(&file->base, reason);
            return SOURCE_FAILED;
        }
        return SOURCE_END;
    }
    return SOURCE_MORE;
}

static void filler_flush(void *filler) { batch_filler_flush(filler); }

/* Packets of any other file, through libpcap: a bounded count per call. */
static enum source_step file_next_libpcap(struct file_source *file, struct batch_filler *filler)
{
    pcap_t *pcap = file->base.pcap;
    if (file->pipe) /* a pipe that goes quiet: the packets read so far go on */
        byte_stream_on_wait(file->bytes, filler_flush, filler);
    int n = pcap_dispatch(pcap, 4096, batch_filler_copy, (u_char *)filler);
    if (file->bytes != NULL) { /* input bytes read: of the compressed file, or the pipe's */
        file->base.position = byte_stream_position(file->bytes);
    } else { /* where libpcap's stdio stream stands (its buffer taken into account) */
        long position = ftell(pcap_file(pcap));
        if (position >= 0)
            file->base.position = (uint64_t)position;
    }
    if (n == 0)
        return SOURCE_END;
    if (n == PCAP_ERROR) {
        int cut_short = 0;
        if (file->bytes != NULL && byte_stream_reader_failed(file->bytes, &cut_short)) {
            /* libpcap met the stream's error (its own words would say EIO) */
            message_format(file->base.failure, sizeof file->base.failure, "%s",
                           byte_stream_error(file->bytes));
            file->base.truncated = cut_short;
        } else {
            source_fail(&file->base, pcap_geterr(pcap));
        }
        return SOURCE_FAILED;
    }
    return SOURCE_MORE;
}

static enum source_step file_next(struct source *source, struct batch_filler *filler)
{
    struct file_source *file = (struct file_source *)source;
    if (file->reader == FILE_UNDECIDED)
        file->reader = file_choose_reader(file);
    return file->reader == FILE_LIBPCAP ? file_next_libpcap(file, filler)
                                        : file_next_in_place(file, filler);
}

static int file_interrupt(struct source *source)
{
    struct file_source *file = (struct file_source *)source;
    if (file->bytes != NULL) /* a plain file never waits */
        byte_stream_interrupt(file->bytes);
    return 0;
}

static void file_destroy(struct source *source)
{
    struct file_source *file = (struct file_source *)source;
    for (unsigned i = 0; i < file->filter_count; i++)
        pcap_freecode(&file->filters[i].program);
    free(file->filters);
    pcapng_clear(&file->pcapng);
    free(file->read_buffer);
    byte_stream_close(file->bytes);
}

static int file_check_filter(struct source *source, const char *bpf, char *err, size_t err_size);

static const struct source_ops file_source_ops = {
    .next = file_next,
    .interrupt = file_interrupt,
    .check_filter = file_check_filter,
    .destroy = file_destroy,
};

/* Notes the link types of a pcapng file's first interfaces (those before its first packet, as
 * far as the first PCAPNG_HEAD_SCAN bytes go): filters are checked against them when set. */
static void pcapng_scan_head(struct file_source *file)
{
    uint8_t *bytes = malloc(PCAPNG_HEAD_SCAN);
    if (bytes == NULL)
        return;
    size_t size = file_head(file, bytes, PCAPNG_HEAD_SCAN), at = 0, block_size;
    struct pcapng_format format;
    struct pcapng_packet packet;
    char reason[PCAP_ERRBUF_SIZE];
    pcapng_init(&format);
    for (;;) {
        enum pcapng_step step = pcapng_next(&format, bytes + at, size - at, size - at, &packet,
                                            &block_size, reason, sizeof reason);
        if (step == PCAPNG_INTERFACE) {
            const struct pcapng_interface *iface = &format.interfaces[format.count - 1];
            unsigned known = 0;
            while (known < file->head_link_count && file->head_links[known].dlt != iface->dlt)
                known++;
            if (known == file->head_link_count && known < FILE_HEAD_LINKS) {
                file->head_links[known].dlt = iface->dlt;
                file->head_links[known].snapshot = iface->snapshot;
                file->head_link_count++;
            }
            if (iface->link != DECODE_LINK_UNSUPPORTED)
                file->base.mixed_links = 1; /* (meaningful when the first one is not) */
        }
        if (step != PCAPNG_INTERFACE && step != PCAPNG_OTHER)
            break;
        at += block_size;
    }
    pcapng_clear(&format);
    free(bytes);
}

/* source_ops.check_filter: the filter compiles for every link type of the first interfaces of
 * a pcapng file that nasoone decodes (libpcap cannot filter NFLOG, for one). */
static int file_check_filter(struct source *source, const char *bpf, char *err, size_t err_size)
{
    struct file_source *file = (struct file_source *)source;
    for (unsigned i = 0; i < file->head_link_count; i++) {
        int dlt = file->head_links[i].dlt;
        if (decode_link_from_dlt(dlt) == DECODE_LINK_UNSUPPORTED)
            continue;
        struct bpf_program program;
        char why[PCAP_ERRBUF_SIZE];
        if (link_compile(dlt, file->head_links[i].snapshot, bpf, &program, why, sizeof why) != 0) {
            const char *name = pcap_datalink_val_to_name(dlt);
            return message_format(err, err_size,
                                  "nasoone: bad filter '%s' for the %s (%d) interfaces of %s: %s",
                                  bpf, name != NULL ? name : "unknown", dlt, source->name, why);
        }
        pcap_freecode(&program);
    }
    return 0;
}

/* The message for a file libpcap would not open: why, in the words that help most. */
static int file_not_a_capture(const char **code, struct byte_stream *bytes, const char *name,
                              int empty, const char *pcap_err, char *err, size_t err_size)
{
    const char *stream_error = bytes != NULL ? byte_stream_error(bytes) : "";
    const char *kind = bytes != NULL ? byte_stream_kind(bytes) : "";
    if (stream_error[0] != '\0')
        return message_refuse(code, "not_a_capture", err, err_size, "%s", stream_error);
    if (empty)
        return message_refuse(code, "not_a_capture", err, err_size,
                              "nasoone: %s is empty, not a capture file", name);
    return message_refuse(
        code, "not_a_capture", err, err_size, "nasoone: cannot open capture file %s: %s%s%s%s",
        name, pcap_err, kind[0] != '\0' ? " (in its " : "", kind, kind[0] != '\0' ? " data)" : "");
}

/* Opens `path` ("-": standard input); a listed file must be a regular file, and opening one
 * that became a FIFO meanwhile must not wait for a writer (the reader thread opens them). */
static int file_open_path(const char *path, int listed, struct stat *st, char *err, size_t err_size,
                          const char **code)
{
    int from_stdin = strcmp(path, "-") == 0;
    const char *name = from_stdin ? "standard input" : path;
    int fd = from_stdin ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0)
                        : open(path, O_RDONLY | O_CLOEXEC | (listed ? O_NONBLOCK : 0));
    if (fd < 0 || fstat(fd, st) != 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return message_refuse(code, errno_code(saved), err, err_size,
                              "nasoone: cannot open capture file %s: %s", name, strerror(saved));
    }
    if (listed && !S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode)) {
        close(fd);
        return message_refuse(code, "not_a_capture", err, err_size,
                              "nasoone: %s: a list of capture files takes regular files (read "
                              "a pipe alone)",
                              path);
    }
    if (listed)
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    return fd;
}

int source_open_file(const char *path, struct source **out, char *err, size_t err_size,
                     const char **code)
{
    return source_open_listed(path, 0, out, err, err_size, code);
}

int source_open_listed(const char *path, int listed, struct source **out, char *err,
                       size_t err_size, const char **code)
{
    /* "-" is standard input, as for libpcap and tcpdump -r - */
    int from_stdin = strcmp(path, "-") == 0;
    const char *name = from_stdin ? "standard input" : path;
    struct stat st;
    int fd = file_open_path(path, listed, &st, err, err_size, code);
    if (fd < 0)
        return -1;
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        return message_refuse(code, "not_a_capture", err, err_size,
                              "nasoone: cannot open capture file %s: it is a directory", name);
    }
    /* A plain regular file is read where it is; anything else (a pipe, a FIFO, a terminal,
     * a compressed file) through a byte stream, whose pump thread stop can always wake. */
    uint8_t magic[4];
    int plain =
        S_ISREG(st.st_mode) && !(pread(fd, magic, sizeof magic, 0) == (ssize_t)sizeof magic &&
                                 byte_stream_compression(magic, sizeof magic) != NULL);
    /* standard input redirected from a file someone read part of: it starts where it stands,
     * which the readers that pread from byte 0 would not see */
    if (plain && from_stdin && lseek(fd, 0, SEEK_CUR) != 0)
        plain = 0;
    struct file_source *file = calloc(1, sizeof *file);
    FILE *stream = NULL;
    if (file != NULL && plain) {
        /* libpcap reads through stdio; its default 4 KiB buffer costs a read() per few
         * packets. A large one makes it one per FILE_READ_BUFFER bytes. It must outlive the
         * FILE, which pcap_close closes: freed after that (file_destroy). */
        file->read_buffer = malloc(FILE_READ_BUFFER);
        stream = file->read_buffer != NULL ? fdopen(fd, "rb") : NULL;
        if (stream != NULL)
            setvbuf(stream, file->read_buffer, _IOFBF, FILE_READ_BUFFER);
    } else if (file != NULL) {
        file->bytes = byte_stream_open(fd, name);
        fd = -1; /* the stream's, closed with it */
        stream = file->bytes != NULL ? byte_stream_file(file->bytes) : NULL;
    }
    if (stream == NULL) {
        if (fd >= 0)
            close(fd);
        if (file != NULL) {
            byte_stream_close(file->bytes);
            free(file->read_buffer);
        }
        free(file);
        return message_refuse(code, "out_of_memory", err, err_size,
                              "nasoone: out of memory for reading %s", name);
    }
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pcap = pcap_fopen_offline(stream, pcap_err); /* a pipe: waits for its header */
    if (pcap == NULL) {
        fclose(stream);
        int empty = plain ? st.st_size == 0 : byte_stream_position(file->bytes) == 0;
        file_not_a_capture(code, file->bytes, name, empty, pcap_err, err, err_size);
        byte_stream_close(file->bytes);
        free(file->read_buffer);
        free(file);
        return -1;
    }
    file->base.ops = &file_source_ops;
    file->fd = -1;
    file->pipe = !S_ISREG(st.st_mode);
    /* libpcap scales file timestamps to microseconds; pcapng's seconds (its major version is
     * 1, classic pcap's 2) are 64-bit */
    file->base.clock.wide = pcap_major_version(pcap) == 1;
    file->base.file_size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
    if (file->base.clock.wide) { /* pcapng */
        file->fd = plain ? fileno(stream) : -1;
        pcapng_scan_head(file);
        file->fd = -1;
    }
    if (source_adopt(&file->base, pcap, name, err, err_size, code) != 0) {
        source_close(&file->base);
        return -1;
    }
    *out = &file->base;
    return 0;
}
