/*
 * record_sink.c - what every record sink shares (record_sink.h): its making and freeing, its
 * error and its loss counters. Sinks call these; nothing here calls a sink but through its
 * ops, and the registry of kinds lives apart (record_sinks.c), so no file calls back into
 * the one that called it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

void record_sink_settings_init(struct record_sink_settings *settings,
                               const struct record_sink_kind *kind)
{
    memset(settings, 0, sizeof *settings);
    settings->options = kind->options;
    for (size_t i = 0; i < RECORD_SINK_MAX_OPTIONS && kind->options[i].name != NULL; i++)
        settings->values[i] = kind->options[i].fallback;
}

/* The index of option `name` in the kind's list, or -1. */
static int option_index(const struct record_sink_settings *settings, const char *name)
{
    for (int i = 0; i < (int)RECORD_SINK_MAX_OPTIONS && settings->options[i].name != NULL; i++)
        if (strcmp(settings->options[i].name, name) == 0)
            return i;
    return -1;
}

int record_sink_settings_set(struct record_sink_settings *settings, const char *kind_name,
                             const char *name, double value, char *err, size_t err_size)
{
    int i = option_index(settings, name);
    if (i < 0)
        return message_format(err, err_size, "unknown %s export option '%s'", kind_name, name);
    const struct record_sink_option *option = &settings->options[i];
    /* NaN fails both comparisons, and a fraction the last one */
    if (!(value >= option->min && value <= option->max) || value != (double)(uint32_t)value)
        return message_format(err, err_size, "%s must be an integer from %u to %u", name,
                              (unsigned)option->min, (unsigned)option->max);
    settings->values[i] = (uint32_t)value;
    return 0;
}

int record_sink_settings_put(struct record_sink_settings *settings, const char *name,
                             uint32_t value)
{
    int i = option_index(settings, name);
    if (i >= 0)
        settings->values[i] = value;
    return i >= 0 ? 0 : -1;
}

uint32_t record_sink_setting(const struct record_sink_settings *settings, const char *name)
{
    int i = option_index(settings, name);
    return i >= 0 ? settings->values[i] : 0;
}
