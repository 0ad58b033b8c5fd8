/*
 * source_list.c - capture files read one after the other as one capture (source.h): the
 * rotated files of a day, the pieces of a split capture. Flows, timeouts and the report go on
 * across the borders. Each file is read by its own file source (source_file.c), opened when
 * its turn comes, with the list's filter; files of different link types may follow each other
 * (a batch holds packets of one link type). A file that fails ends the capture, its name in the
 * error; what was read before stays.
 *
 * Only regular files (plain or compressed) make a list: a pipe or standard input is read alone.
 * Every file is checked when the list is set (it exists, it is a capture of a link type nasoone
 * decodes), so that a typo in the tenth name is told at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "message.h"
#include "source.h"

struct list_source {
    struct source base; /* base.pcap: a dead handle of the first file's link, for filters */
    char **paths;
    size_t count;
    size_t current;      /* index of the file being read */
    struct source *open; /* the file being read, NULL between two */
    int filtered;        /* `open` has the list's filter */
    uint64_t done_bytes; /* sizes of the files read to their end */
};

static enum source_step list_next(struct source *source, struct batch_filler *filler)
{
    struct list_source *list = (struct list_source *)source;
    if (list->open == NULL) {
        const char *code;
        char err[NASOONE_MESSAGE_SIZE];
        if (source_open_listed(list->paths[list->current], 1, &list->open, err, sizeof err,
                               &code) != 0) {
            /* it was there when the list was set */
            snprintf(source->failure, sizeof source->failure, "%s", err);
            return SOURCE_FAILED;
        }
        list->filtered = 0;
        source->file_number = (unsigned)list->current + 1;
        batch_filler_set_link(filler, list->open->link, list->open->clock);
    }
    if (!list->filtered) {
        char err[NASOONE_MESSAGE_SIZE];
        if (source_set_filter(list->open, source->filter, err, sizeof err) != 0) {
            message_format(source->failure, sizeof source->failure, "%s (in %s)", err,
                           list->open->name);
            return SOURCE_FAILED;
        }
        list->filtered = 1;
    }
    enum source_step step = list->open->ops->next(list->open, filler);
    source->position = list->done_bytes + list->open->position;
    if (step == SOURCE_FAILED) {
        snprintf(source->failure, sizeof source->failure, "%s", list->open->failure);
        source->truncated = list->open->truncated;
        return SOURCE_FAILED;
    }
    if (step == SOURCE_END) {
        list->done_bytes += list->open->file_size;
        source_close(list->open);
        list->open = NULL;
        if (++list->current == list->count)
            return SOURCE_END;
    }
    return SOURCE_MORE;
}

static void list_destroy(struct source *source)
{
    struct list_source *list = (struct list_source *)source;
    source_close(list->open);
    for (size_t i = 0; i < list->count; i++)
        free(list->paths[i]);
    free(list->paths);
}

static const struct source_ops list_source_ops = {
    .next = list_next,
    .destroy = list_destroy,
};

/* Checks one file of a list: a regular file that opens as a capture. Its size in *size. */
static int list_check(const char *path, int first, struct source **kept, uint64_t *size, char *err,
                      size_t err_size, const char **code)
{
    if (strcmp(path, "-") == 0) {
        return message_refuse(code, "invalid_argument", err, err_size,
                              "nasoone: standard input is read alone, not in a list of files");
    }
    struct source *file = NULL;
    if (source_open_listed(path, 1, &file, err, err_size, code) != 0)
        return -1;
    *size = file->file_size;
    if (first)
        *kept = file;
    else
        source_close(file);
    return 0;
}

int source_open_files(const char *const *paths, size_t count, struct source **out, char *err,
                      size_t err_size, const char **code)
{
    if (count == 0) {
        return message_refuse(code, "invalid_argument", err, err_size,
                              "nasoone: the list of capture files is empty");
    }
    if (count == 1)
        return source_open_file(paths[0], out, err, err_size, code);
    struct list_source *list = calloc(1, sizeof *list);
    if (list == NULL || (list->paths = calloc(count, sizeof *list->paths)) == NULL) {
        free(list);
        return message_refuse(code, "out_of_memory", err, err_size, "nasoone: out of memory");
    }
    list->base.ops = &list_source_ops;
    list->count = count;
    for (size_t i = 0; i < count; i++) {
        uint64_t size = 0;
        if ((list->paths[i] = strdup(paths[i])) == NULL) {
            message_refuse(code, "out_of_memory", err, err_size, "nasoone: out of memory");
            source_close(&list->base);
            return -1;
        }
        if (list_check(paths[i], i == 0, &list->open, &size, err, err_size, code) != 0) {
            source_close(&list->base);
            return -1;
        }
        list->base.file_size += size;
    }
    list->base.file_names = (const char *const *)list->paths;
    list->base.file_count = (unsigned)count;
    list->base.file_number = 1;
    list->base.clock = list->open->clock;
    list->base.mixed_links = list->open->mixed_links;
    /* filters are compiled for the first file's link type (each file compiles its own) */
    pcap_t *dead = pcap_open_dead(source_datalink(list->open), pcap_snapshot(list->open->pcap));
    if (dead == NULL) {
        message_refuse(code, "out_of_memory", err, err_size, "nasoone: out of memory");
        source_close(&list->base);
        return -1;
    }
    if (source_adopt(&list->base, dead, paths[0], err, err_size, code) != 0) {
        source_close(&list->base);
        return -1;
    }
    *out = &list->base;
    return 0;
}
