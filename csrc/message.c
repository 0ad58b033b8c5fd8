/*
 * message.c - error messages that keep their reason (see message.h). Any thread.
 */
#include "message.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MESSAGE_CUT " ... "

int message_vformat(char *out, size_t out_size, const char *format, va_list args)
{
    va_list again;
    va_copy(again, args);
    char local[1024];
    int length = vsnprintf(local, sizeof local, format, args);
    if (length < 0) {
        snprintf(out, out_size, "nasoone: (unprintable message)");
        va_end(again);
        return -1;
    }
    const char *full = local;
    char *allocated = NULL;
    if ((size_t)length >= sizeof local) {
        allocated = malloc((size_t)length + 1);
        if (allocated != NULL) {
            vsnprintf(allocated, (size_t)length + 1, format, again);
            full = allocated;
        } else {
            length = (int)sizeof local - 1; /* out of memory: cut where local was cut */
        }
    }
    va_end(again);
    if ((size_t)length < out_size) {
        memcpy(out, full, (size_t)length + 1);
    } else if (out_size < 64) { /* too small for both ends to say anything */
        if (out_size > 0) {
            memcpy(out, full, out_size - 1);
            out[out_size - 1] = '\0';
        }
    } else {
        /* the start says what failed, the end says why: keep both */
        size_t keep = out_size - 1 - strlen(MESSAGE_CUT);
        size_t head = keep / 2, tail = keep - head;
        memcpy(out, full, head);
        memcpy(out + head, MESSAGE_CUT, strlen(MESSAGE_CUT));
        memcpy(out + head + strlen(MESSAGE_CUT), full + length - tail, tail + 1);
    }
    free(allocated);
    return -1;
}

int message_format(char *out, size_t out_size, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    message_vformat(out, out_size, format, args);
    va_end(args);
    return -1;
}

int message_refuse(const char **code, const char *what, char *out, size_t out_size,
                   const char *format, ...)
{
    *code = what;
    va_list args;
    va_start(args, format);
    message_vformat(out, out_size, format, args);
    va_end(args);
    return -1;
}

/* The stable name of an errno for the caller (nasoone_error_code). */
const char *errno_code(int error)
{
    switch (error) {
    case ENOENT:
    case ENOTDIR:
        return "not_found";
    case EACCES:
    case EPERM:
    case EROFS:
        return "permission_denied";
    case ENAMETOOLONG:
        return "invalid_path";
    case ENOMEM:
        return "out_of_memory";
    case ENOSPC:
    case EDQUOT:
        return "no_space";
    default:
        return "io_error";
    }
}
