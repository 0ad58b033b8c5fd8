/*
 * record_sinks.c - the registry of record sink kinds that add_export knows. A new kind of
 * destination is one file that fills a struct record_sink and defines its struct
 * record_sink_kind (record_sink.h), and one line here.
 */
#include <stdio.h>
#include <string.h>

#include "record_sink.h"

#define RECORD_SINK_KINDS(KIND) KIND(record_jsonl_kind) KIND(ipfix_export_kind)

#define DECLARE(kind) extern const struct record_sink_kind kind;
RECORD_SINK_KINDS(DECLARE)
#define LIST(kind) &kind,
static const struct record_sink_kind *const kinds[] = {RECORD_SINK_KINDS(LIST)};

const struct record_sink_kind *record_sink_kind_find(const char *name)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
    return NULL;
}

void record_sink_kind_names(char *out, size_t size)
{
    size_t count = sizeof kinds / sizeof kinds[0], used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < count && used < size; i++) {
        const char *separator = i == 0 ? "" : i + 1 == count ? " or " : ", ";
        int n = snprintf(out + used, size - used, "%s'%s'", separator, kinds[i]->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}
