/*
 * record_sink.c - what every record sink shares (record_sink.h): its making and freeing, its
 * error and its loss counters. Sinks call these; nothing here calls a sink but through its
 * ops, and the registry of kinds lives apart (record_sinks.c), so no file calls back into
 * the one that called it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "message.h"
#include "record_sink.h"

struct record_sink *record_sink_new(void)
{
    struct record_sink *sink = calloc(1, sizeof *sink);
    if (sink != NULL)
        pthread_mutex_init(&sink->lock, NULL);
    return sink;
}

void record_sink_free(struct record_sink *sink)
{
    if (sink == NULL)
        return;
    if (sink->ops != NULL)
        sink->ops->destroy(sink);
    pthread_mutex_destroy(&sink->lock);
    free(sink);
}

void record_sink_set_error(struct record_sink *sink, const char *format, ...)
{
    char message[NASOONE_MESSAGE_SIZE];
    va_list args;
    va_start(args, format);
    message_vformat(message, sizeof message, format, args);
    va_end(args);
    atomic_fetch_add(&sink->counters.errors, 1);
    pthread_mutex_lock(&sink->lock);
    snprintf(sink->last_error, sizeof sink->last_error, "%s", message);
    pthread_mutex_unlock(&sink->lock);
}

void record_sink_lost(struct record_sink *sink, uint64_t records)
{
    if (records > 0)
        atomic_fetch_add(&sink->counters.dropped, records);
}
