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
#include "message.h"
#include "source.h"

/* stdio buffer for libpcap's reading of a capture file */
#define FILE_READ_BUFFER (1u << 20)

enum file_reader { FILE_UNDECIDED, FILE_CLASSIC, FILE_LIBPCAP };

struct file_source {
    struct source base;
    char *read_buffer;         /* a plain file's stdio buffer: freed after pcap_close */
    struct byte_stream *bytes; /* anything else: a pipe, standard input, a compressed file */
    enum file_reader reader;
    /* the classic reader */
    int fd;
    struct classic_pcap_format format;
    struct bpf_program filter; /* compiled from base.filter: libpcap's own reader is skipped */
    int filtered;
    uint64_t offset;      /* of the next byte to read from the file */
    const uint8_t *carry; /* bytes read but not yet made into packets */
    size_t carry_size;
    size_t read_size;
    int at_end, read_failed;
    size_t stdio_held; /* a byte stream: bytes its FILE holds beyond the file header */
    int pipe;          /* not a regular file: what came is handed on before waiting */
};

/* Whether the file is one the classic reader reads; its filter compiled then. */
static int file_choose_classic(struct file_source *file)
{
    uint8_t header[CLASSIC_PCAP_FILE_HEADER];
    if (file->bytes != NULL) {
        /* libpcap read the file header through the FILE, which holds what came after it */
        uint64_t taken;
        if (byte_stream_first(file->bytes, header, sizeof header, &taken) != sizeof header)
            return 0;
        file->stdio_held = (size_t)(taken - CLASSIC_PCAP_FILE_HEADER);
    } else {
        file->fd = fileno(pcap_file(file->base.pcap));
        if (file->fd < 0 || pread(file->fd, header, sizeof header, 0) != (ssize_t)sizeof header)
            return 0;
    }
    if (!classic_pcap_probe(header, (uint32_t)pcap_snapshot(file->base.pcap), &file->format))
        return 0;
    if (file->base.filter != NULL) {
        /* it compiled when it was set: libpcap's reader has it installed anyway */
        if (pcap_compile(file->base.pcap, &file->filter, file->base.filter, 1,
                         PCAP_NETMASK_UNKNOWN) != 0)
            return 0;
        file->filtered = 1;
    }
    file->offset = CLASSIC_PCAP_FILE_HEADER;
    /* Read about as many bytes as a batch has packet slots for, so that few bytes are left
     * over to move into the next batch: adapted to the records' mean size as it goes. */
    file->read_size = NASOONE_BATCH_BYTES / 4;
    return 1;
}

/* file_read_bytes for a byte stream: what stdio holds first, then chunks; once the first
 * record is whole, only what is there without waiting (a quiet pipe's packets go on). */
static size_t file_read_stream(struct file_source *file, uint8_t *data, size_t have, size_t want)
{
    if (file->stdio_held > 0) {
        size_t take = file->stdio_held < want - have ? file->stdio_held : want - have;
        size_t n = fread(data + have, 1, take, byte_stream_file(file->bytes));
        file->stdio_held = n == take ? file->stdio_held - n : 0;
        have += n;
    }
    while (have < want && !file->at_end) {
        if (file->pipe && have >= classic_pcap_record_need(data, have) &&
            !byte_stream_ready(file->bytes))
            break;
        ssize_t n = byte_stream_read(file->bytes, data + have, want - have);
        if (n < 0) {
            int cut_short = 0;
            if (byte_stream_reader_failed(file->bytes, &cut_short)) { /* else interrupted */
                message_format(file->base.failure, sizeof file->base.failure, "%s",
                               byte_stream_error(file->bytes));
                file->base.truncated = cut_short;
                file->read_failed = 1;
            }
            file->at_end = 1;
            break;
        }
        if (n == 0)
            file->at_end = 1;
        have += (size_t)n;
    }
    return have;
}

/* Fills `want` bytes of batch data from `have` on (fewer at the end of the file or on a read
 * error). Returns the bytes there now. */
static size_t file_read_bytes(struct file_source *file, uint8_t *data, size_t have, size_t want)
{
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

/* One batch of a classic pcap file: read into the batch's bytes, the records found where they
 * landed. A record cut by the end of the bytes starts the next batch. */
static enum source_step file_next_classic(struct file_source *file, struct batch_filler *filler)
{
    struct packet_batch *batch = batch_filler_batch_to_read_into(filler);
    if (file->carry_size > 0) /* may be the same batch's own bytes */
        memmove(batch->data, file->carry, file->carry_size);
    size_t want = file->read_size;
    size_t need = classic_pcap_record_need(batch->data, file->carry_size); /* the first, whole */
    if (want < need)
        want = need;
    size_t have = file_read_bytes(file, batch->data, file->carry_size, want);
    size_t used = 0, records = 0;
    int invalid = 0, incomplete = 0; /* the walk stopped at a record not all read yet */
    while (batch->count < NASOONE_BATCH_PACKETS) {
        struct pcap_pkthdr header;
        size_t record_size;
        char reason[PCAP_ERRBUF_SIZE];
        enum classic_pcap_step step =
            classic_pcap_next(&file->format, batch->data + used, have - used, &header, &record_size,
                              reason, sizeof reason);
        if (step == CLASSIC_PCAP_NEED_MORE) {
            incomplete = 1;
            break;
        }
        if (step == CLASSIC_PCAP_INVALID) {
            source_fail(&file->base, reason);
            invalid = 1;
            break;
        }
        uint32_t offset = (uint32_t)(used + CLASSIC_PCAP_RECORD_HEADER);
        used += record_size;
        records++;
        if (file->filtered && !pcap_offline_filter(&file->filter, &header, batch->data + offset))
            continue;
        batch_filler_add_in_place(filler, &header, offset);
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
    /* At the end of the file, a batch that filled up leaves whole records to go on with; a
     * record that is not whole then never will be. */
    if (file->at_end && (incomplete || file->carry_size == 0)) {
        if (file->read_failed)
            return SOURCE_FAILED;
        if (file->carry_size > 0) {
            char reason[PCAP_ERRBUF_SIZE];
            classic_pcap_truncated(&file->format, file->carry, file->carry_size, reason,
                                   sizeof reason);
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
        file->reader = file_choose_classic(file) ? FILE_CLASSIC : FILE_LIBPCAP;
    return file->reader == FILE_CLASSIC ? file_next_classic(file, filler)
                                        : file_next_libpcap(file, filler);
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
    pcap_freecode(&file->filter);
    free(file->read_buffer);
    byte_stream_close(file->bytes);
}

static const struct source_ops file_source_ops = {
    .next = file_next,
    .interrupt = file_interrupt,
    .destroy = file_destroy,
};

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

int source_open_file(const char *path, struct source **out, char *err, size_t err_size,
                     const char **code)
{
    /* "-" is standard input, as for libpcap and tcpdump -r - */
    int from_stdin = strcmp(path, "-") == 0;
    const char *name = from_stdin ? "standard input" : path;
    int fd =
        from_stdin ? fcntl(STDIN_FILENO, F_DUPFD_CLOEXEC, 0) : open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        int saved = errno;
        if (fd >= 0)
            close(fd);
        return message_refuse(code, errno_code(saved), err, err_size,
                              "nasoone: cannot open capture file %s: %s", name, strerror(saved));
    }
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
    if (source_adopt(&file->base, pcap, name, err, err_size, code) != 0) {
        source_close(&file->base);
        return -1;
    }
    *out = &file->base;
    return 0;
}
