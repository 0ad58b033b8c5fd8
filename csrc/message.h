/*
 * message.h - formatting of error messages into fixed buffers. Any thread.
 *
 * A message names what failed (often a path or a filter the caller gave, of any length) and
 * then why ("File name too long"). Cutting an over-long message at the buffer's end would lose
 * the why, so an over-long message loses its middle instead: "nasoone: cannot open capture
 * file /a/very/lo ... ng/name.pcap: File name too long".
 */
#ifndef NASOONE_MESSAGE_H
#define NASOONE_MESSAGE_H

#include <stdarg.h>
#include <stddef.h>

/* printf into out, cutting the middle of what does not fit (the end, in a buffer of less than
 * 64 bytes). Returns -1, so
 * a failing function can `return message_format(err, err_size, ...)`. */
int message_format(char *out, size_t out_size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
int message_vformat(char *out, size_t out_size, const char *format, va_list args)
    __attribute__((format(printf, 3, 0)));

/* message_format that also leaves the failure's stable code (nasoone_error_code) in *code.
 * Returns -1. */
int message_refuse(const char **code, const char *what, char *out, size_t out_size,
                   const char *format, ...) __attribute__((format(printf, 5, 6)));

/* The stable name of an errno, as nasoone_error_code says it: "not_found",
 * "permission_denied", "invalid_path", "out_of_memory", "no_space", else "io_error". */
const char *errno_code(int error);

#endif
