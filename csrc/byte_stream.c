/*
 * byte_stream.c - pipes, standard input and compressed files as a FILE for libpcap
 * (byte_stream.h).
 */
#include "byte_stream.h"

#include <errno.h>
#include <lz4frame.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>
#define ZLIB_CONST /* next_in is const: the input is never written */
#include <zlib.h>
#include <zstd.h>

#include "message.h"
#include "nasoone.h"

/* The ring between the pump and the reader: STREAM_CHUNKS chunks of the capture's bytes. */
#define STREAM_CHUNK  (256u * 1024u)
#define STREAM_CHUNKS 8u
/* Input read at a time (compressed bytes, or a pipe's). */
#define STREAM_INPUT (128u * 1024u)
/* stdio's buffer between libpcap and the ring: few calls into the ring */
#define STREAM_FILE_BUFFER (1u << 20)
/* The first bytes handed out are kept, so that a reader of nasoone's own starts over after
 * libpcap read the file's header through the FILE (byte_stream_rewind). libpcap reads about
 * one chunk per call: the header blocks of any usual capture fit. */
#define STREAM_HEAD (1u << 20)

/* One way of turning input into the capture's bytes: gzip, zstd, lz4, or a plain copy. */
struct stream_decoder {
    const char *kind;
    /* Takes input, makes output; says how much of each. Returns 0, or -1 with the library's
     * words in err. */
    int (*step)(struct stream_decoder *decoder, const uint8_t *in, size_t in_size, size_t *in_used,
                uint8_t *out, size_t out_size, size_t *out_made, char *err, size_t err_size);
    void (*destroy)(struct stream_decoder *decoder);
    void *state;
    int complete;   /* between two members or frames: the input may end here */
    int trailing;   /* gzip: what follows the last member is ignored */
    int held_magic; /* gzip: a 1f after a member, waiting for the next byte */
};

struct byte_stream {
    char *name;
    int fd;
    int wake_fd; /* readable once interrupted: the pump leaves poll() */
    pthread_t pump;
    int pump_started;
    FILE *file;
    char *file_buffer;
    atomic_uint_fast64_t position; /* input bytes read */

    pthread_mutex_t lock;
    pthread_cond_t changed;
    uint8_t *chunks[STREAM_CHUNKS];
    size_t chunk_size[STREAM_CHUNKS];
    unsigned head, count; /* the filled chunks: head .. head + count - 1 (ring order) */
    size_t head_read;     /* bytes of the head chunk the reader took */
    int ended;            /* the pump made its last chunk */
    int interrupted;
    const char *kind;
    char error[NASOONE_MESSAGE_SIZE];
    uint64_t delivered; /* bytes the reader took */
    int reader_failed;  /* a read gave the reader the error */
    int cut_short;      /* the error: compressed data ending in the middle */
    /* the reader's: the first bytes it took, and what of them it takes again (rewind) */
    uint8_t *kept;
    uint64_t replay, replay_end;
    /* the reader's: called before it waits for input (byte_stream_on_wait) */
    void (*on_wait)(void *argument);
    void *on_wait_argument;
};

const char *byte_stream_compression(const uint8_t *bytes, size_t size)
{
    if (size >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b)
        return "gzip";
    if (size >= 4 && memcmp(bytes, "\x28\xb5\x2f\xfd", 4) == 0)
        return "zstd";
    if (size >= 4 && memcmp(bytes, "\x04\x22\x4d\x18", 4) == 0)
        return "lz4";
    return NULL;
}

/* ---- decoders ---- */

static int copy_step(struct stream_decoder *decoder, const uint8_t *in, size_t in_size,
                     size_t *in_used, uint8_t *out, size_t out_size, size_t *out_made, char *err,
                     size_t err_size)
{
    (void)decoder;
    (void)err;
    (void)err_size;
    size_t n = in_size < out_size ? in_size : out_size;
    memcpy(out, in, n);
    *in_used = *out_made = n;
    return 0;
}

static void no_destroy(struct stream_decoder *decoder) { (void)decoder; }

static int gzip_step(struct stream_decoder *decoder, const uint8_t *in, size_t in_size,
                     size_t *in_used, uint8_t *out, size_t out_size, size_t *out_made, char *err,
                     size_t err_size)
{
    z_stream *z = decoder->state;
    /* After a whole member, what does not start another (1f 8b) is ignored, as zlib's gzread
     * and gzip -d do (zero padding of a tape block, a tar's end). A lone 1f is held until the
     * next byte says which; at the end of the input it was trailing too. */
    if (decoder->complete && !decoder->trailing && in_size > 0) {
        int held = decoder->held_magic;
        if (held ? in[0] != 0x8b : in[0] != 0x1f || (in_size > 1 && in[1] != 0x8b)) {
            decoder->trailing = 1;
        } else if (!held && in_size == 1) {
            decoder->held_magic = 1;
            *in_used = 1;
            *out_made = 0;
            return 0;
        } else if (held) { /* another member: its first byte goes in first */
            static const uint8_t first = 0x1f;
            z->next_in = &first;
            z->avail_in = 1;
            z->next_out = out;
            z->avail_out = (uInt)out_size;
            decoder->held_magic = 0;
            decoder->complete = 0;
            if (inflate(z, Z_NO_FLUSH) != Z_OK)
                return message_format(err, err_size, "%s", z->msg != NULL ? z->msg : "bad header");
        }
    }
    if (decoder->trailing) {
        *in_used = in_size;
        *out_made = 0;
        return 0;
    }
    z->next_in = in;
    z->avail_in = (uInt)in_size;
    z->next_out = out;
    z->avail_out = (uInt)out_size;
    int rc = inflate(z, Z_NO_FLUSH);
    *in_used = in_size - z->avail_in;
    *out_made = out_size - z->avail_out;
    if (rc == Z_STREAM_END) { /* a member ended; another may follow (gzip -c a b > ab.gz) */
        decoder->complete = 1;
        inflateReset(z);
        return 0;
    }
    if (rc == Z_OK || rc == Z_BUF_ERROR) {
        if (*in_used > 0)
            decoder->complete = 0;
        return 0;
    }
    return message_format(err, err_size, "%s", z->msg != NULL ? z->msg : zError(rc));
}

static void gzip_destroy(struct stream_decoder *decoder)
{
    inflateEnd(decoder->state);
    free(decoder->state);
}

static int zstd_step(struct stream_decoder *decoder, const uint8_t *in, size_t in_size,
                     size_t *in_used, uint8_t *out, size_t out_size, size_t *out_made, char *err,
                     size_t err_size)
{
    ZSTD_inBuffer input = {in, in_size, 0};
    ZSTD_outBuffer output = {out, out_size, 0};
    size_t rc = ZSTD_decompressStream(decoder->state, &output, &input);
    *in_used = input.pos;
    *out_made = output.pos;
    if (ZSTD_isError(rc))
        return message_format(err, err_size, "%s", ZSTD_getErrorName(rc));
    decoder->complete = rc == 0; /* a frame decoded and flushed */
    return 0;
}

static void zstd_destroy(struct stream_decoder *decoder) { ZSTD_freeDCtx(decoder->state); }

static int lz4_step(struct stream_decoder *decoder, const uint8_t *in, size_t in_size,
                    size_t *in_used, uint8_t *out, size_t out_size, size_t *out_made, char *err,
                    size_t err_size)
{
    size_t made = out_size, used = in_size;
    size_t rc = LZ4F_decompress(decoder->state, out, &made, in, &used, NULL);
    *in_used = used;
    *out_made = made;
    if (LZ4F_isError(rc))
        return message_format(err, err_size, "%s", LZ4F_getErrorName(rc));
    decoder->complete = rc == 0; /* a frame decoded whole */
    return 0;
}

static void lz4_destroy(struct stream_decoder *decoder)
{
    LZ4F_freeDecompressionContext(decoder->state);
}

/* The decoder for input that starts with `bytes`. Returns 0, or -1 when out of memory. */
static int decoder_init(struct stream_decoder *decoder, const uint8_t *bytes, size_t size)
{
    const char *kind = byte_stream_compression(bytes, size);
    memset(decoder, 0, sizeof *decoder);
    decoder->complete = 1;
    decoder->kind = kind != NULL ? kind : "";
    decoder->step = copy_step;
    decoder->destroy = no_destroy;
    if (kind == NULL)
        return 0;
    if (strcmp(kind, "gzip") == 0) {
        z_stream *z = calloc(1, sizeof *z);
        if (z == NULL || inflateInit2(z, 15 + 16) != Z_OK) { /* 15 + 16: gzip framing */
            free(z);
            return -1;
        }
        decoder->state = z;
        decoder->step = gzip_step;
        decoder->destroy = gzip_destroy;
    } else if (strcmp(kind, "zstd") == 0) {
        decoder->state = ZSTD_createDCtx();
        decoder->step = zstd_step;
        decoder->destroy = zstd_destroy;
    } else {
        LZ4F_dctx *context = NULL;
        if (LZ4F_isError(LZ4F_createDecompressionContext(&context, LZ4F_VERSION)))
            context = NULL;
        decoder->state = context;
        decoder->step = lz4_step;
        decoder->destroy = lz4_destroy;
    }
    return decoder->state != NULL ? 0 : -1;
}

/* ---- the pump thread ---- */

/* Reads input into buf, waiting for it (or for an interrupt). Returns the bytes read, 0 at the
 * end of the input, -1 on a read error (errno), -2 when interrupted. */
static ssize_t pump_read(struct byte_stream *stream, uint8_t *buf, size_t size)
{
    for (;;) {
        struct pollfd fds[2] = {{.fd = stream->fd, .events = POLLIN},
                                {.fd = stream->wake_fd, .events = POLLIN}};
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (fds[1].revents != 0)
            return -2;
        ssize_t n = read(stream->fd, buf, size);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n > 0)
            atomic_fetch_add_explicit(&stream->position, (uint64_t)n, memory_order_relaxed);
        return n;
    }
}

/* A free chunk to fill, waiting while the ring is full; NULL once interrupted. */
static uint8_t *pump_chunk(struct byte_stream *stream)
{
    pthread_mutex_lock(&stream->lock);
    while (stream->count == STREAM_CHUNKS && !stream->interrupted)
        pthread_cond_wait(&stream->changed, &stream->lock);
    uint8_t *chunk =
        stream->interrupted ? NULL : stream->chunks[(stream->head + stream->count) % STREAM_CHUNKS];
    pthread_mutex_unlock(&stream->lock);
    return chunk;
}

/* Hands the chunk pump_chunk gave, with `size` bytes, to the reader. */
static void pump_publish(struct byte_stream *stream, size_t size)
{
    pthread_mutex_lock(&stream->lock);
    stream->chunk_size[(stream->head + stream->count) % STREAM_CHUNKS] = size;
    stream->count++;
    pthread_cond_broadcast(&stream->changed);
    pthread_mutex_unlock(&stream->lock);
}

/* No more chunks; `error` says why early, or is "". */
static void pump_finish(struct byte_stream *stream, const char *error)
{
    pthread_mutex_lock(&stream->lock);
    stream->ended = 1;
    snprintf(stream->error, sizeof stream->error, "%s", error);
    pthread_cond_broadcast(&stream->changed);
    pthread_mutex_unlock(&stream->lock);
}

static void *pump_main(void *argument)
{
    pthread_setname_np(pthread_self(), "nasoone-inflate");
    struct byte_stream *stream = argument;
    char error[NASOONE_MESSAGE_SIZE] = "";
    uint8_t *input = malloc(STREAM_INPUT);
    struct stream_decoder decoder = {.kind = "", .destroy = no_destroy};
    size_t in_size = 0, in_pos = 0;
    int at_end = 0, interrupted = 0;
    if (input == NULL) {
        pump_finish(stream, "nasoone: out of memory for the input buffer");
        return NULL;
    }
    /* enough bytes to tell the kind (a pipe may give fewer at first) */
    while (in_size < 4 && !at_end) {
        ssize_t n = pump_read(stream, input + in_size, STREAM_INPUT - in_size);
        if (n < 0) {
            interrupted = n == -2;
            if (n == -1)
                message_format(error, sizeof error, "nasoone: reading %s: %s", stream->name,
                               strerror(errno));
            at_end = 1;
        } else {
            at_end = n == 0;
            in_size += (size_t)n;
        }
    }
    if (error[0] == '\0' && !interrupted && decoder_init(&decoder, input, in_size) != 0)
        message_format(error, sizeof error, "nasoone: out of memory for decompressing %s",
                       stream->name);
    pthread_mutex_lock(&stream->lock);
    stream->kind = decoder.kind;
    pthread_mutex_unlock(&stream->lock);

    uint8_t *chunk = NULL;
    size_t chunk_used = 0;
    while (error[0] == '\0' && !interrupted) {
        if (in_pos == in_size && !at_end) {
            /* before waiting for input, what was made goes to the reader (a live pipe) */
            if (chunk != NULL && chunk_used > 0) {
                pump_publish(stream, chunk_used);
                chunk = NULL;
            }
            ssize_t n = pump_read(stream, input, STREAM_INPUT);
            if (n == -2)
                break;
            if (n < 0) {
                message_format(error, sizeof error, "nasoone: reading %s: %s", stream->name,
                               strerror(errno));
                break;
            }
            at_end = n == 0;
            in_size = (size_t)n;
            in_pos = 0;
        }
        if (in_pos == in_size && at_end) {
            if (!decoder.complete) {
                pthread_mutex_lock(&stream->lock);
                stream->cut_short = 1;
                pthread_mutex_unlock(&stream->lock);
            }
            if (!decoder.complete)
                message_format(error, sizeof error,
                               "nasoone: reading %s: the %s data is cut short after %llu bytes",
                               stream->name, decoder.kind,
                               (unsigned long long)atomic_load(&stream->position));
            break;
        }
        if (chunk == NULL) {
            if ((chunk = pump_chunk(stream)) == NULL)
                break;
            chunk_used = 0;
        }
        size_t used = 0, made = 0;
        char why[256];
        if (decoder.step(&decoder, input + in_pos, in_size - in_pos, &used, chunk + chunk_used,
                         STREAM_CHUNK - chunk_used, &made, why, sizeof why) != 0) {
            uint64_t offset = atomic_load(&stream->position) - (in_size - in_pos);
            message_format(error, sizeof error,
                           "nasoone: reading %s: corrupt %s data at about byte %llu: %s",
                           stream->name, decoder.kind, (unsigned long long)offset, why);
            break;
        }
        in_pos += used;
        chunk_used += made;
        if (chunk_used == STREAM_CHUNK) {
            pump_publish(stream, chunk_used);
            chunk = NULL;
        } else if (used == 0 && made == 0) {
            /* with input and room, every decoder consumes or makes something */
            message_format(error, sizeof error, "nasoone: reading %s: the %s decoder is stuck",
                           stream->name, decoder.kind);
        }
    }
    if (chunk != NULL && chunk_used > 0)
        pump_publish(stream, chunk_used);
    /* nothing more is read from it: a writer on the other end of a pipe gets EPIPE now, not
     * when the capture is closed (as with `zcat x.gz | head`) */
    close(stream->fd);
    stream->fd = -1;
    pump_finish(stream, error);
    decoder.destroy(&decoder);
    free(input);
    return NULL;
}

/* ---- the reader's FILE ---- */

static ssize_t stream_file_read(void *cookie, char *buf, size_t size)
{
    struct byte_stream *stream = cookie;
    if (stream->replay < stream->replay_end) { /* after a rewind: the kept bytes first */
        uint64_t left = stream->replay_end - stream->replay;
        size_t n = size < left ? size : (size_t)left;
        memcpy(buf, stream->kept + stream->replay, n);
        stream->replay += n;
        return (ssize_t)n;
    }
    pthread_mutex_lock(&stream->lock);
    if (stream->count == 0 && !stream->ended && !stream->interrupted && stream->on_wait != NULL) {
        /* nothing to read yet (a quiet pipe): what was read so far goes on first */
        pthread_mutex_unlock(&stream->lock);
        stream->on_wait(stream->on_wait_argument);
        pthread_mutex_lock(&stream->lock);
    }
    while (stream->count == 0 && !stream->ended && !stream->interrupted)
        pthread_cond_wait(&stream->changed, &stream->lock);
    if (stream->interrupted || (stream->count == 0 && stream->error[0] != '\0')) {
        int interrupted = stream->interrupted;
        stream->reader_failed = !interrupted;
        pthread_mutex_unlock(&stream->lock);
        errno = interrupted ? EINTR : EIO;
        return -1;
    }
    if (stream->count == 0) { /* the end */
        pthread_mutex_unlock(&stream->lock);
        return 0;
    }
    /* the head chunk stays as it is while it is filled: the pump writes only free chunks */
    unsigned head = stream->head;
    size_t available = stream->chunk_size[head] - stream->head_read;
    const uint8_t *from = stream->chunks[head] + stream->head_read;
    pthread_mutex_unlock(&stream->lock);
    size_t n = size < available ? size : available;
    memcpy(buf, from, n);
    pthread_mutex_lock(&stream->lock);
    if (stream->delivered < STREAM_HEAD) {
        size_t keep = STREAM_HEAD - (size_t)stream->delivered;
        memcpy(stream->kept + stream->delivered, from, n < keep ? n : keep);
    }
    stream->delivered += n;
    stream->head_read += n;
    if (stream->head_read == stream->chunk_size[head]) {
        stream->head = (head + 1) % STREAM_CHUNKS;
        stream->count--;
        stream->head_read = 0;
        pthread_cond_broadcast(&stream->changed);
    }
    pthread_mutex_unlock(&stream->lock);
    return (ssize_t)n;
}

static int stream_file_close(void *cookie)
{
    (void)cookie; /* the stream is freed by byte_stream_close */
    return 0;
}

/* ---- the stream ---- */

struct byte_stream *byte_stream_open(int fd, const char *name)
{
    struct byte_stream *stream = calloc(1, sizeof *stream);
    if (stream == NULL) {
        close(fd);
        return NULL;
    }
    stream->fd = fd;
    stream->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    stream->name = strdup(name);
    stream->kind = "";
    pthread_mutex_init(&stream->lock, NULL);
    pthread_cond_init(&stream->changed, NULL);
    int ok = stream->wake_fd >= 0 && stream->name != NULL;
    for (unsigned i = 0; ok && i < STREAM_CHUNKS; i++)
        ok = (stream->chunks[i] = malloc(STREAM_CHUNK)) != NULL;
    ok = ok && (stream->kept = malloc(STREAM_HEAD)) != NULL;
    cookie_io_functions_t functions = {
        .read = stream_file_read, .write = NULL, .seek = NULL, .close = stream_file_close};
    if (ok)
        ok = (stream->file = fopencookie(stream, "rb", functions)) != NULL;
    if (ok && (stream->file_buffer = malloc(STREAM_FILE_BUFFER)) != NULL)
        setvbuf(stream->file, stream->file_buffer, _IOFBF, STREAM_FILE_BUFFER);
    if (ok)
        ok = pthread_create(&stream->pump, NULL, pump_main, stream) == 0;
    stream->pump_started = ok;
    if (!ok) {
        if (stream->file != NULL)
            fclose(stream->file);
        stream->file = NULL;
        byte_stream_close(stream);
        return NULL;
    }
    return stream;
}

FILE *byte_stream_file(struct byte_stream *stream) { return stream->file; }

ssize_t byte_stream_read(struct byte_stream *stream, uint8_t *buf, size_t size)
{
    return stream_file_read(stream, (char *)buf, size);
}

int byte_stream_ready(struct byte_stream *stream)
{
    if (stream->replay < stream->replay_end)
        return 1;
    pthread_mutex_lock(&stream->lock);
    int ready = stream->count > 0 || stream->ended || stream->interrupted;
    pthread_mutex_unlock(&stream->lock);
    return ready;
}

const uint8_t *byte_stream_head(struct byte_stream *stream, size_t *size)
{
    pthread_mutex_lock(&stream->lock);
    uint64_t delivered = stream->delivered;
    pthread_mutex_unlock(&stream->lock);
    *size = delivered <= STREAM_HEAD ? (size_t)delivered : 0;
    return delivered <= STREAM_HEAD ? stream->kept : NULL;
}

int byte_stream_rewind(struct byte_stream *stream, uint64_t offset)
{
    pthread_mutex_lock(&stream->lock);
    uint64_t delivered = stream->delivered;
    pthread_mutex_unlock(&stream->lock);
    if (offset > delivered || delivered > STREAM_HEAD)
        return -1;
    stream->replay = offset;
    stream->replay_end = delivered;
    return 0;
}

void byte_stream_on_wait(struct byte_stream *stream, void (*on_wait)(void *argument),
                         void *argument)
{
    stream->on_wait = on_wait;
    stream->on_wait_argument = argument;
}

uint64_t byte_stream_position(struct byte_stream *stream)
{
    return atomic_load_explicit(&stream->position, memory_order_relaxed);
}

const char *byte_stream_kind(struct byte_stream *stream)
{
    pthread_mutex_lock(&stream->lock);
    const char *kind = stream->kind;
    pthread_mutex_unlock(&stream->lock);
    return kind;
}

int byte_stream_reader_failed(struct byte_stream *stream, int *cut_short)
{
    pthread_mutex_lock(&stream->lock);
    int failed = stream->reader_failed;
    *cut_short = stream->cut_short;
    pthread_mutex_unlock(&stream->lock);
    return failed;
}

const char *byte_stream_error(struct byte_stream *stream)
{
    /* set once, before `ended`; read after the reader saw the end */
    pthread_mutex_lock(&stream->lock);
    const char *error = stream->ended ? stream->error : "";
    pthread_mutex_unlock(&stream->lock);
    return error;
}

void byte_stream_interrupt(struct byte_stream *stream)
{
    pthread_mutex_lock(&stream->lock);
    stream->interrupted = 1;
    pthread_cond_broadcast(&stream->changed);
    pthread_mutex_unlock(&stream->lock);
    uint64_t one = 1;
    if (stream->wake_fd >= 0 && write(stream->wake_fd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is full, so it is readable already */
    }
}

void byte_stream_close(struct byte_stream *stream)
{
    if (stream == NULL)
        return;
    if (stream->pump_started) {
        byte_stream_interrupt(stream);
        pthread_join(stream->pump, NULL);
    }
    for (unsigned i = 0; i < STREAM_CHUNKS; i++)
        free(stream->chunks[i]);
    free(stream->file_buffer);
    free(stream->kept);
    if (stream->wake_fd >= 0)
        close(stream->wake_fd);
    if (stream->fd >= 0)
        close(stream->fd);
    pthread_mutex_destroy(&stream->lock);
    pthread_cond_destroy(&stream->changed);
    free(stream->name);
    free(stream);
}
