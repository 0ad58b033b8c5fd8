/*
 * record_jsonl.c - the JSON-lines flow log (add_export("jsonl", PATTERN, { rotate = S })): each
 * flow record becomes one line, the report's JSON row plus its reason:
 *   {"source_ip":"192.0.2.1","source_port":443,...,"packets":11,"reason":"idle"}
 * (report_format_json), in files rotated by capture time. Every call comes from the exporter
 * thread (record_sink.h), except record_jsonl_open.
 *
 * Files. PATTERN is FOLDER/NAME: the folder is used as written; NAME goes through strftime, in
 * the C locale, for the start of the record's period in UTC. A record's period starts at
 * floor(emitted_ms / 1000 / rotate_s) * rotate_s seconds since the epoch; with rotate_s 0 the
 * whole run is one period, named for the second of its first record. A period without records
 * has no file. While its period lasts, a file is written under a hidden temporary name in the
 * same folder (report_temporary_name_as: ".NAME.<16 hex digits>.flows.tmp", which a log
 * shipper's "*.jsonl" glob skips, and which is never taken for a report's leftover); when the
 * period ends (a tick whose capture clock has reached the end of the period, a record of a
 * later period, or close) it is flushed, fsynced and renamed to NAME, and the folder fsynced.
 * So a file under its final name is always complete, and a reader never sees half of it.
 *
 * A crash (kill -9, a power cut) leaves the open period's temporary file behind. The next start
 * of an export with the same folder and name pattern publishes it as a completed file (its last
 * partial line cut off; under a free name as below) and counts it in the sink's `recovered`:
 * the records stay in sight of every "*.jsonl" consumer. An open temporary file holds a lock
 * (flock) while its run lives, so a second capture never takes a running one's file for a
 * leftover.
 *
 * A name that is taken (a rerun over the same period, or a pattern coarser than the rotation,
 * such as %Y%m%d with rotate = 3600) is never replaced: the file takes the first free of
 * NAME.1.EXT, NAME.2.EXT, ... (the number goes before the last extension, so "*.jsonl" still
 * matches: "flows-20240101.1.jsonl"; a name without extension gets ".1", ".2", ...).
 *
 * Writes are buffered (256 KiB, one pwrite per flush): a flush when the buffer is full, on a
 * tick at least a second after the previous one, and when a file is completed. Records are
 * counted sent when their flush succeeds. A flush that fails (a full disk, a removed folder, a
 * permission taken away) records the error (record_sink_set_error, which counts it in errors)
 * and keeps the records that did not reach the file in the buffer for the next flush: space
 * freed meanwhile loses nothing. Only what finds the buffer full, or is still in it when its
 * period ends, is dropped (counted in dropped). A line cut short by a full disk is cut off
 * again (the file is truncated to its last complete line, and later lines are written from
 * there), so the records already written stay intact and every line is whole. A folder that
 * was removed and comes back is written again. A period in which nothing reached the file
 * publishes no file. A temporary file that was removed while open (its folder deleted) is
 * noticed at the next flush: the error says so, and its records, counted sent when they were
 * written, are lost with it; a new temporary file takes the records that follow.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "message.h"
#include "record_sink.h"
#include "report.h"

/* Buffered text before a write. */
#define JSONL_BUFFER_SIZE (256u << 10)
/* A partly filled buffer is written at a tick this long after the previous write. */
#define JSONL_FLUSH_INTERVAL_MS 1000u
/* The highest suffix tried for a name that is taken. */
#define JSONL_SUFFIX_MAX 9999
/* The suffix of the temporary names (report.h: never taken for a report's leftovers). */
#define JSONL_TEMP_SUFFIX ".flows.tmp"
/* The longest file name a pattern may give: room for the temporary name's "." + "." + 16 hex
 * digits + JSONL_TEMP_SUFFIX. */
#define JSONL_NAME_MAX (NAME_MAX - 18 - (int)(sizeof JSONL_TEMP_SUFFIX - 1))

struct jsonl_state {
    char folder[PATH_MAX];
    char name_pattern[NAME_MAX + 1];
    uint32_t rotate_s;
    locale_t c_locale; /* strftime's names (%a, %b) whatever locale the host set */

    /* The period being written: records in the buffer and the file belong to it. */
    int in_period;
    int64_t period_s;
    char final_path[PATH_MAX + NAME_MAX + 2]; /* FOLDER/NAME for the period */

    /* Its temporary file, once created (fd -1 before, or after it was lost). */
    int fd;
    char temp_path[PATH_MAX + NAME_MAX + 32];
    off_t size;            /* bytes of complete lines in the file */
    uint64_t file_records; /* lines in the file */

    char *buffer;
    size_t used;
    uint64_t buffered_records;
    int flush_errno; /* why the last flush failed: said again if its records are dropped */
    uint64_t last_flush_ms;
};

/* Whether a strftime pattern has a conversion (anything but "%%"): a name that changes. */
static int has_conversion(const char *pattern)
{
    for (const char *p = strchr(pattern, '%'); p != NULL; p = strchr(p + 2, '%')) {
        if (p[1] != '%')
            return p[1] != '\0';
    }
    return 0;
}

/* The file name of the period starting at `period_s` (UTC). Returns 0, or -1 when the
 * pattern gives an empty name, one longer than a file name may be, or one with a '/'. */
static int format_name(const struct jsonl_state *state, int64_t period_s, char *name, size_t size)
{
    time_t seconds = (time_t)period_s;
    struct tm tm;
    if (gmtime_r(&seconds, &tm) == NULL)
        return -1;
    size_t length = strftime_l(name, size, state->name_pattern, &tm, state->c_locale);
    if (length == 0 || length > JSONL_NAME_MAX || strchr(name, '/') != NULL)
        return -1;
    return 0;
}

static int64_t period_of(const struct jsonl_state *state, uint64_t emitted_ms)
{
    int64_t seconds = (int64_t)(emitted_ms / 1000);
    return state->rotate_s == 0 ? seconds : seconds - seconds % state->rotate_s;
}

/* Cuts a file back to its complete lines, so that even the temporary file holds whole lines.
 * Should this fail too, nothing is lost: the next write starts at that offset, over the
 * partial line, and completion truncates again. */
static void truncate_partial_line(int fd, off_t size)
{
    int result = ftruncate(fd, size);
    (void)result;
}

/* Records the loss of a temporary file someone removed while it was open. */
static void report_removed_file(struct record_sink *sink)
{
    struct jsonl_state *state = sink->state;
    record_sink_set_error(sink,
                          "nasoone: the file being written for the flow log %s was removed "
                          "before it was complete (its folder deleted?): its %llu records are "
                          "lost",
                          state->final_path, (unsigned long long)state->file_records);
}

/* Writes the buffer at the end of the file's complete lines, creating the temporary file
 * first if there is none. What did not reach the file stays in the buffer, the error recorded.
 * Returns 0 when the buffer is empty afterwards, -1 when records are still in it. */
static int jsonl_flush(struct record_sink *sink)
{
    struct jsonl_state *state = sink->state;
    if (state->used == 0)
        return 0;
    struct stat st;
    if (state->fd >= 0 && fstat(state->fd, &st) == 0 && st.st_nlink == 0) {
        report_removed_file(sink);
        close(state->fd);
        state->fd = -1;
    }
    if (state->fd < 0) {
        int fd = -1;
        if (report_temporary_name_as(state->final_path, JSONL_TEMP_SUFFIX, state->temp_path,
                                     sizeof state->temp_path) == 0)
            fd = open(state->temp_path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0) {
            state->flush_errno = errno;
            record_sink_set_error(sink,
                                  "nasoone: cannot create a file for the flow log %s: %s (%llu "
                                  "records kept for a later try)",
                                  state->final_path, strerror(errno),
                                  (unsigned long long)state->buffered_records);
            return -1;
        }
        report_lock_temporary(fd); /* ours while this run lives: never a leftover */
        state->fd = fd;
        state->size = 0;
        state->file_records = 0;
    }
    size_t done = 0;
    int write_errno = 0;
    while (done < state->used) {
        ssize_t n =
            pwrite(state->fd, state->buffer + done, state->used - done, state->size + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            write_errno = n < 0 ? errno : ENOSPC; /* no progress: out of space in practice */
            break;
        }
        done += (size_t)n;
    }
    /* Of a failed write, the complete lines that reached the file stay and a partial one is
     * cut off (the next write would start over it anyway: it starts at state->size). */
    size_t kept = done;
    uint64_t kept_records = state->buffered_records;
    if (done < state->used) {
        kept = 0;
        kept_records = 0;
        const char *end = state->buffer + done;
        for (const char *p = state->buffer; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) {
            kept = (size_t)(p + 1 - state->buffer);
            kept_records++;
        }
        if (kept < done)
            truncate_partial_line(state->fd, state->size + (off_t)kept);
    }
    state->size += (off_t)kept;
    state->file_records += kept_records;
    atomic_fetch_add(&sink->counters.sent, kept_records);
    memmove(state->buffer, state->buffer + kept, state->used - kept);
    state->used -= kept;
    state->buffered_records -= kept_records;
    if (write_errno == 0)
        return 0;
    state->flush_errno = write_errno;
    record_sink_set_error(sink,
                          "nasoone: cannot write the flow log %s: %s (%llu records kept for a "
                          "later try)",
                          state->final_path, strerror(write_errno),
                          (unsigned long long)state->buffered_records);
    return -1;
}

/* Drops what is still buffered: its period ended and it could not be written. */
static void jsonl_drop_buffer(struct record_sink *sink)
{
    struct jsonl_state *state = sink->state;
    if (state->buffered_records == 0)
        return;
    atomic_fetch_add(&sink->counters.dropped, state->buffered_records);
    record_sink_set_error(sink,
                          "nasoone: the flow log %s could not be written before its period "
                          "ended (%s): %llu records dropped",
                          state->final_path, strerror(state->flush_errno),
                          (unsigned long long)state->buffered_records);
    state->used = 0;
    state->buffered_records = 0;
}

/* fsyncs a folder, so a rename in it lasts (where the file system can fsync a folder). */
static void sync_folder(const char *folder)
{
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* `name` with ".N" before its last extension (after the whole name if it has none). */
static int suffixed_path(const char *folder, const char *name, unsigned number, char *out,
                         size_t size)
{
    const char *dot = strrchr(name, '.');
    if (dot == NULL || dot == name)
        dot = name + strlen(name);
    int length = snprintf(out, size, "%s/%.*s.%u%s", folder, (int)(dot - name), name, number, dot);
    return length < 0 || (size_t)length >= size ? -1 : 0;
}

/* Renames `from` to `to` unless `to` exists. Returns 0, or -1 with errno (EEXIST: taken). */
static int rename_no_replace(const char *from, const char *to)
{
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0)
        return 0;
    if (errno != EINVAL && errno != ENOSYS)
        return -1;
    /* a file system without RENAME_NOREPLACE: link() fails on an existing name too */
    if (link(from, to) != 0)
        return -1;
    unlink(from);
    return 0;
}

/* Publishes the complete file `temp_path` of folder as `final_path`, or as the first free of
 * its numbered names (suffixed_path), never replacing a file; fsyncs the folder. Returns 0, or
 * -1 with errno and the name last tried in `target`. */
static int publish_file(const char *folder, const char *temp_path, const char *final_path,
                        char *target, size_t target_size)
{
    const char *name = strrchr(final_path, '/') + 1;
    snprintf(target, target_size, "%s", final_path);
    for (unsigned number = 1;; number++) {
        if (rename_no_replace(temp_path, target) == 0) {
            sync_folder(folder);
            return 0;
        }
        if (errno != EEXIST || number > JSONL_SUFFIX_MAX ||
            suffixed_path(folder, name, number, target, target_size) != 0)
            return -1;
    }
}

/* Ends the period: flushes (what still cannot be written is dropped), completes the file
 * (fsync, rename to its final name, fsync of the folder) and forgets the period. A file that
 * holds no record (nothing could be written to it) is removed, not published. */
static void jsonl_finish_period(struct record_sink *sink)
{
    struct jsonl_state *state = sink->state;
    if (jsonl_flush(sink) != 0)
        jsonl_drop_buffer(sink);
    state->in_period = 0;
    if (state->fd < 0)
        return; /* no file: nothing was written in this period, or it could not be */
    int fd = state->fd;
    state->fd = -1;
    struct stat st;
    int have_stat = fstat(fd, &st) == 0;
    if (have_stat && st.st_nlink == 0) {
        report_removed_file(sink);
        close(fd);
        return;
    }
    if (state->file_records == 0) {
        unlink(state->temp_path);
        close(fd);
        return;
    }
    /* what a failed write left past the last complete line goes now */
    if ((have_stat && st.st_size != state->size && ftruncate(fd, state->size) != 0) ||
        fsync(fd) != 0)
        record_sink_set_error(sink, "nasoone: cannot write the flow log file %s: %s",
                              state->temp_path, strerror(errno)); /* renamed all the same */
    char target[sizeof state->final_path + 16];
    if (publish_file(state->folder, state->temp_path, state->final_path, target, sizeof target) !=
        0)
        record_sink_set_error(sink,
                              "nasoone: cannot rename the flow log file %s to %s: %s (its %llu "
                              "records stay in it)",
                              state->temp_path, target, strerror(errno),
                              (unsigned long long)state->file_records);
    close(fd); /* after the rename: the lock is held until the file has its name */
}

/* Starts the period of a record: its file name (nothing is created until the first flush). */
static void jsonl_start_period(struct record_sink *sink, int64_t period_s)
{
    struct jsonl_state *state = sink->state;
    char name[NAME_MAX + 1];
    if (format_name(state, period_s, name, sizeof name) != 0) {
        /* checked at open, but a day or month name can be longer at another time */
        snprintf(name, sizeof name, "flows-%lld.jsonl", (long long)period_s);
        record_sink_set_error(sink,
                              "nasoone: the flow log name %s gives no valid file name "
                              "for %lld: writing %s instead",
                              state->name_pattern, (long long)period_s, name);
    }
    snprintf(state->final_path, sizeof state->final_path, "%s/%s", state->folder, name);
    state->period_s = period_s;
    state->in_period = 1;
}

static void jsonl_write(struct record_sink *sink, const struct flow_record *records, size_t count)
{
    struct jsonl_state *state = sink->state;
    for (size_t i = 0; i < count; i++) {
        const struct flow_record *record = &records[i];
        int64_t period_s = period_of(state, record->emitted_ms);
        if (state->in_period && period_s != state->period_s && state->rotate_s != 0)
            jsonl_finish_period(sink);
        if (!state->in_period)
            jsonl_start_period(sink, period_s);
        if (JSONL_BUFFER_SIZE - state->used < REPORT_ROW_MAX && jsonl_flush(sink) != 0 &&
            JSONL_BUFFER_SIZE - state->used < REPORT_ROW_MAX) {
            /* the disk takes nothing and the buffer is full: this record cannot be kept */
            atomic_fetch_add(&sink->counters.dropped, 1);
            continue;
        }
        struct flow_counters counters = flow_record_counters(record, 0);
        struct flow_counters reverse = flow_record_counters(record, 1);
        struct report_json_extra extra = {
            .reverse = record->biflow ? &reverse : NULL,
            .community_seed = sink->community_id ? sink->community_seed : -1,
            .device_name = sink->device_names != NULL && record->key.device != 0
                               ? sink->device_names[record->key.device - 1]
                               : NULL};
        state->used +=
            report_format_json_extra(&record->key, &counters, &extra,
                                     flow_end_reason_name((enum flow_end_reason)record->reason),
                                     state->buffer + state->used);
        state->buffered_records++;
    }
}

static void jsonl_tick(struct record_sink *sink, uint64_t wall_ms, uint64_t capture_ms)
{
    struct jsonl_state *state = sink->state;
    if (state->in_period && state->rotate_s != 0 && capture_ms != 0 &&
        (int64_t)(capture_ms / 1000) >= state->period_s + (int64_t)state->rotate_s) {
        jsonl_finish_period(sink);
        state->last_flush_ms = wall_ms;
    } else if (state->used > 0 && (wall_ms < state->last_flush_ms ||
                                   wall_ms - state->last_flush_ms >= JSONL_FLUSH_INTERVAL_MS)) {
        jsonl_flush(sink);
        state->last_flush_ms = wall_ms;
    }
}

static void jsonl_close(struct record_sink *sink)
{
    struct jsonl_state *state = sink->state;
    if (state->in_period)
        jsonl_finish_period(sink);
}

static void jsonl_destroy(struct record_sink *sink)
{
    struct jsonl_state *state = sink->state;
    if (state == NULL)
        return;
    if (state->fd >= 0)
        close(state->fd); /* not closed first: the temporary file stays, with its records */
    if (state->c_locale != (locale_t)0)
        freelocale(state->c_locale);
    free(state->buffer);
    free(state);
    sink->state = NULL;
}

/* Whether `name` is a name the strftime pattern can give: literal text as it is ("%%" a '%'),
 * any conversion one or more characters. Loose on purpose (a %Y is not checked for four
 * digits): what matches still has to be one of our temporary names, with its random part. */
static int pattern_matches(const char *pattern, const char *name)
{
    while (*pattern != '\0') {
        if (pattern[0] == '%' && pattern[1] == '%') {
            if (*name != '%')
                return 0;
            pattern += 2;
            name++;
        } else if (pattern[0] == '%' && pattern[1] != '\0') {
            const char *rest = pattern + 2;
            /* modifiers (%-d, %Ey, %Od) are part of the conversion */
            while (*rest != '\0' && strchr("-_0^#EO", rest[-1]) != NULL && rest[-2] == '%')
                rest++;
            for (const char *end = name + 1; end <= name + strlen(name); end++)
                if (pattern_matches(rest, end))
                    return 1;
            return 0;
        } else {
            if (*pattern != *name)
                return 0;
            pattern++;
            name++;
        }
    }
    return *name == '\0';
}

/* The final name a temporary name ".NAME.<16 hex>.flows.tmp" stands for, if it is one. */
static int temporary_final_name(const char *entry, char *name, size_t size)
{
    size_t length = strlen(entry), tail = 1 + 16 + strlen(JSONL_TEMP_SUFFIX);
    if (entry[0] != '.' || length < 2 + tail || length - 1 - tail >= size)
        return -1;
    memcpy(name, entry + 1, length - 1 - tail);
    name[length - 1 - tail] = '\0';
    return report_is_temporary_of(entry, name, JSONL_TEMP_SUFFIX) ? 0 : -1;
}

/* Publishes the temporary file `entry` a crashed run left: its partial last line cut off, under
 * its final name (or a free numbered one); an empty one is removed. Returns 1 when a file was
 * published. */
static int recover_leftover(struct record_sink *sink, int folder_fd, const char *entry,
                            const char *final_name)
{
    struct jsonl_state *state = sink->state;
    int fd = report_open_leftover(folder_fd, entry, O_RDWR);
    if (fd < 0)
        return 0; /* not ours, not a regular file, or a running capture's */
    struct stat st;
    off_t size = fstat(fd, &st) == 0 ? st.st_size : 0;
    /* the last complete line ends the file: what a kill cut in the middle of a write goes */
    char tail[4096];
    off_t end = size;
    while (end > 0) {
        off_t start = end > (off_t)sizeof tail ? end - (off_t)sizeof tail : 0;
        ssize_t n = pread(fd, tail, (size_t)(end - start), start);
        if (n <= 0) {
            end = 0;
            break;
        }
        const char *newline = memrchr(tail, '\n', (size_t)n);
        if (newline != NULL) {
            end = start + (newline - tail) + 1;
            break;
        }
        end = start;
    }
    char temp_path[sizeof state->temp_path], final_path[sizeof state->final_path];
    char target[sizeof state->final_path + 16];
    snprintf(temp_path, sizeof temp_path, "%s/%s", state->folder, entry);
    snprintf(final_path, sizeof final_path, "%s/%s", state->folder, final_name);
    int published = 0;
    if (end == 0) {
        unlinkat(folder_fd, entry, 0); /* nothing whole in it */
    } else if ((end != size && ftruncate(fd, end) != 0) || fsync(fd) != 0) {
        record_sink_set_error(sink, "nasoone: cannot recover the flow log file %s: %s", temp_path,
                              strerror(errno));
    } else if (publish_file(state->folder, temp_path, final_path, target, sizeof target) != 0) {
        record_sink_set_error(sink, "nasoone: cannot recover the flow log file %s as %s: %s",
                              temp_path, target, strerror(errno));
    } else {
        published = 1;
    }
    close(fd);
    return published;
}

/* At start: publishes what a crashed run of this export left in the folder (a temporary file
 * for a name the pattern gives). */
static int jsonl_start(struct record_sink *sink, char *err, size_t err_size)
{
    (void)err;
    (void)err_size;
    struct jsonl_state *state = sink->state;
    DIR *dir = opendir(state->folder);
    if (dir == NULL)
        return 0; /* the writes will say what is wrong with the folder */
    struct dirent *entry;
    char final_name[NAME_MAX + 1];
    uint64_t recovered = 0;
    while ((entry = readdir(dir)) != NULL) {
        if (temporary_final_name(entry->d_name, final_name, sizeof final_name) == 0 &&
            pattern_matches(state->name_pattern, final_name))
            recovered += (uint64_t)recover_leftover(sink, dirfd(dir), entry->d_name, final_name);
    }
    closedir(dir);
    atomic_fetch_add(&sink->counters.recovered, recovered);
    return 0;
}

static const struct record_sink_ops jsonl_ops = {
    .start = jsonl_start,
    .write = jsonl_write,
    .tick = jsonl_tick,
    .close = jsonl_close,
    .destroy = jsonl_destroy,
};

static int record_jsonl_open(struct record_sink *sink, const char *pattern,
                             const struct record_sink_settings *settings, char *err,
                             size_t err_size)
{
    uint32_t rotate_s = record_sink_setting(settings, "rotate");
    const char *name;
    struct jsonl_state *state = calloc(1, sizeof *state);
    sink->error_code = "out_of_memory";
    if (state == NULL)
        return message_format(err, err_size, "nasoone: out of memory for the flow log %s", pattern);
    sink->error_code = "invalid_path"; /* every other failure below is the path's */
    state->fd = -1;
    sink->state = state;
    sink->ops = &jsonl_ops;
    snprintf(sink->kind, sizeof sink->kind, "jsonl");
    snprintf(sink->target, sizeof sink->target, "%s", pattern);
    int failed = 0;
    if (report_split_path(pattern, state->folder, sizeof state->folder, &name) != 0 ||
        strlen(name) > NAME_MAX) {
        failed =
            message_format(err, err_size, "nasoone: the flow log path %s is too long", pattern);
    } else if (name[0] == '\0') {
        failed = message_format(err, err_size, "nasoone: the flow log path %s has no file name",
                                pattern);
    } else if (rotate_s > 0 && !has_conversion(name)) {
        failed = message_format(err, err_size,
                                "nasoone: the flow log %s needs a time pattern such as "
                                "%%Y%%m%%d-%%H%%M in its name to rotate every %u s",
                                pattern, (unsigned)rotate_s);
    }
    if (failed) {
        jsonl_destroy(sink);
        sink->ops = NULL;
        return -1;
    }
    snprintf(state->name_pattern, sizeof state->name_pattern, "%s", name);
    state->rotate_s = rotate_s;
    state->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
    state->buffer = malloc(JSONL_BUFFER_SIZE);
    char sample[NAME_MAX + 1];
    struct stat st;
    if (state->c_locale == (locale_t)0 || state->buffer == NULL) {
        failed =
            message_format(err, err_size, "nasoone: out of memory for the flow log %s", pattern);
    } else if (format_name(state, (int64_t)time(NULL), sample, sizeof sample) != 0) {
        failed = message_format(err, err_size,
                                "nasoone: the flow log name %s gives no valid file name (empty, "
                                "too long, or with a '/')",
                                name);
    } else if (stat(state->folder, &st) != 0) {
        failed = message_format(err, err_size, "nasoone: cannot write flow logs in %s: %s",
                                state->folder, strerror(errno));
    } else if (!S_ISDIR(st.st_mode)) {
        failed = message_format(
            err, err_size, "nasoone: cannot write flow logs in %s: not a folder", state->folder);
    } else if (access(state->folder, W_OK | X_OK) != 0) {
        failed = message_format(err, err_size, "nasoone: cannot write flow logs in %s: %s",
                                state->folder, strerror(errno));
    }
    if (failed) {
        jsonl_destroy(sink);
        sink->ops = NULL;
        return -1;
    }
    return 0;
}

/* rotate: seconds per file (0, the default: one file for the whole run) */
const struct record_sink_kind record_jsonl_kind = {
    "jsonl", record_jsonl_open, {{"rotate", 1, 366 * 86400, 0}, {NULL, 0, 0, 0}}};
