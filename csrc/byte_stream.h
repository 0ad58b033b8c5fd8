/*
 * byte_stream.h - the bytes of a capture that libpcap cannot be handed as a plain file:
 * standard input, a pipe or FIFO, or a compressed file (gzip, zstd or lz4, told by its first
 * bytes, never by its name). A pump thread reads the input, waiting in poll() beside a wake
 * descriptor (so that stop returns at once when the writer of a pipe is silent), decompresses
 * it beside the parsers, and queues chunks of the capture's bytes in a bounded ring; the
 * reader takes them through a stdio FILE (fopencookie), which libpcap reads as any file.
 *
 * A corrupt or cut compressed stream ends the bytes where it went wrong: what came before is
 * read, and byte_stream_error says what happened and where.
 */
#ifndef NASOONE_BYTE_STREAM_H
#define NASOONE_BYTE_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct byte_stream;

/* Whether the first bytes of a file say it is compressed (gzip, zstd, lz4): its name, or NULL. */
const char *byte_stream_compression(const uint8_t *bytes, size_t size);

/* Starts reading `fd` (the stream owns it and closes it), named `name` in messages. Returns
 * the stream, or NULL when out of memory (fd closed). */
struct byte_stream *byte_stream_open(int fd, const char *name);
/* The capture's bytes as a FILE for libpcap (fclose it before byte_stream_close). */
FILE *byte_stream_file(struct byte_stream *stream);
/* The capture's bytes without the FILE (nasoone's own readers, after byte_stream_rewind): what
 * one chunk has, at most `size`, waiting while there is none. Returns the bytes, 0 at the end,
 * -1 when the data is bad (byte_stream_error) or the stream was interrupted. */
ssize_t byte_stream_read(struct byte_stream *stream, uint8_t *buf, size_t size);
/* The bytes handed out so far (through the FILE: libpcap's reading of the file's header), in
 * *size; NULL when more were handed out than the stream keeps (about a megabyte). */
const uint8_t *byte_stream_head(struct byte_stream *stream, size_t *size);
/* Makes byte_stream_read go on from byte `offset` of the capture's bytes, as if the FILE had
 * read no further (libpcap read the file's header, and whatever its stdio buffer took; the
 * stream keeps the first bytes it handed out). Reader thread; the FILE is not read after it.
 * Returns 0, or -1 when more was handed out than the stream keeps (about a megabyte). */
int byte_stream_rewind(struct byte_stream *stream, uint64_t offset);
/* Whether byte_stream_read would return without waiting. */
int byte_stream_ready(struct byte_stream *stream);
/* Calls on_wait(argument) on the reading thread each time a read finds nothing yet and is
 * about to wait for input (a quiet pipe): the reader hands on what it has. NULL: nothing. */
void byte_stream_on_wait(struct byte_stream *stream, void (*on_wait)(void *argument),
                         void *argument);
/* Bytes of the input read so far (compressed bytes, for a compressed input). Any thread. */
uint64_t byte_stream_position(struct byte_stream *stream);
/* "gzip", "zstd", "lz4", or "" while the first bytes have not come, or for a plain input. */
const char *byte_stream_kind(struct byte_stream *stream);
/* Why the bytes ended early ("corrupt gzip data at byte 1234 of the file: invalid block
 * type"), or "" when they did not. */
const char *byte_stream_error(struct byte_stream *stream);
/* Whether a read gave the reader the stream's error (not merely: the pump met one, ahead of
 * the reader); *cut_short: that error is compressed data ending in the middle. */
int byte_stream_reader_failed(struct byte_stream *stream, int *cut_short);
/* Makes a read that waits for input return at once, now and from now on (stop). Any thread. */
void byte_stream_interrupt(struct byte_stream *stream);
/* Stops the pump and frees the stream. */
void byte_stream_close(struct byte_stream *stream);

#endif
