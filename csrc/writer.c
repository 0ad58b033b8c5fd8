/*
 * writer.c - the writer thread: merges parsers' deltas into the cumulative table (or, when one
 * thread owns the report's rows, the keeper or the only parser, copies that thread's table), and
 * every interval (when something changed) and once at the end hands the rows in report order to
 * the run's report outputs (report_output.h): the report file, rewritten atomically, and the
 * on_report snapshot.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "run.h"
#include "stages.h"
#include "message.h"
#include "report.h"
#include "flow_pair.h"

/* writer_report's mask of every output. */
#define ALL_OUTPUTS (~0u)

struct writer {
    struct run *run;
    struct flow_table total; /* or the owner's table as of the latest report */
    uint32_t *order;         /* total's row indices in report order: the first `ordered` of them */
    uint32_t *scratch;       /* for report_order_extend */
    uint32_t ordered;
    const struct flow_row **sorted;  /* the rows in report order, rebuilt for each report */
    const struct flow_row **reverse; /* biflow mode: sorted[i]'s other direction, or NULL */
    size_t capacity;                 /* of order, scratch, sorted and reverse */
};

static int writer_reserve(struct writer *writer, size_t count)
{
    if (count <= writer->capacity)
        return 0;
    size_t capacity = count * 2;
    uint32_t *order = realloc(writer->order, capacity * sizeof *order);
    if (order != NULL)
        writer->order = order;
    uint32_t *scratch = realloc(writer->scratch, capacity * sizeof *scratch);
    if (scratch != NULL)
        writer->scratch = scratch;
    const struct flow_row **sorted = realloc(writer->sorted, capacity * sizeof *sorted);
    if (sorted != NULL)
        writer->sorted = sorted;
    const struct flow_row **reverse = NULL;
    if (writer->run->config.biflow) {
        reverse = realloc(writer->reverse, capacity * sizeof *reverse);
        if (reverse != NULL)
            writer->reverse = reverse;
    }
    if (order == NULL || scratch == NULL || sorted == NULL ||
        (writer->run->config.biflow && reverse == NULL))
        return -1;
    writer->capacity = capacity;
    return 0;
}

/* Biflow mode: keeps of the `count` sorted rows the forward direction of each pair, in order,
 * with its other direction beside it in reverse[] (NULL when that sent nothing). Returns how
 * many rows are left. */
static size_t writer_pair(struct writer *writer, size_t count)
{
    const struct flow_table *total = &writer->total;
    size_t kept = 0;
    for (size_t i = 0; i < count; i++) {
        const struct flow_row *row = writer->sorted[i];
        const struct flow_row *other = NULL;
        struct flow_key key;
        if (flow_key_reverse(&row->key, &key)) {
            uint32_t index = flow_table_find_index(total, &key, flow_key_hash(&key));
            if (index != FLOW_TABLE_NONE)
                other = &total->rows[index];
        }
        if (other != NULL && other != row &&
            !flow_pair_forward(&row->key, &row->counters, &other->key, &other->counters))
            continue; /* the other direction's row carries this one */
        writer->sorted[kept] = row;
        writer->reverse[kept++] = other != row ? other : NULL;
    }
    return kept;
}

/* Sorts the rows and hands them to the outputs in `outputs` (a bit per run->outputs index).
 * Returns the outputs it did not reach (0: all): err says why (the previous report stays on
 * disk). */
static unsigned writer_report(struct writer *writer, int final, unsigned outputs, char *err,
                              size_t err_size)
{
    struct run *run = writer->run;
    size_t count = writer->total.count;
    if (writer_reserve(writer, count) != 0) {
        message_format(err, err_size, "nasoone: out of memory while sorting the report");
        run_set_write_error(run->status, err);
        return outputs;
    }
    report_order_extend(&writer->total, writer->order, writer->ordered, writer->scratch);
    writer->ordered = (uint32_t)count;
    for (size_t i = 0; i < count; i++)
        writer->sorted[i] = &writer->total.rows[writer->order[i]];
    if (run->config.biflow) {
        count = writer_pair(writer, count);
        atomic_store(&run->counters.flows, count);
    }
    unsigned failed = 0;
    for (unsigned i = 0; i < run->output_count; i++) {
        struct report_output *output = run->outputs[i];
        char output_err[NASOONE_MESSAGE_SIZE];
        if ((outputs & 1u << i) == 0 ||
            output->ops->write(output, writer->sorted, writer->reverse, count, final, output_err,
                               sizeof output_err) == 0)
            continue;
        if (failed == 0)
            message_format(err, err_size, "%s", output_err);
        failed |= 1u << i;
    }
    /* the last failure stays in stats until a report reaches every output it was for */
    run_set_write_error(run->status, failed ? err : NULL);
    return failed;
}

/* The last report: a failure is retried a few times (space may be freed meanwhile, a log
 * rotation may end), then becomes the capture's error, which stop, wait and poll return: a
 * report that did not reach the disk must not look like success. A retry goes only to the
 * outputs that failed: on_report sees the final report once. */
static void writer_final_report(struct writer *writer)
{
    static const unsigned retry_delays_ms[] = {100, 400};
    char err[NASOONE_MESSAGE_SIZE];
    unsigned failed = writer_report(writer, 1, ALL_OUTPUTS, err, sizeof err);
    for (size_t i = 0; failed && i < sizeof retry_delays_ms / sizeof retry_delays_ms[0]; i++) {
        struct timespec delay = {0, (long)retry_delays_ms[i] * 1000000L};
        nanosleep(&delay, NULL);
        failed = writer_report(writer, 1, failed, err, sizeof err);
    }
    if (failed) {
        char message[NASOONE_MESSAGE_SIZE];
        /* err is "nasoone: cannot write the report PATH: why" */
        message_format(message, sizeof message, "nasoone: the final report was not written (%s)",
                       strncmp(err, "nasoone: ", 9) == 0 ? err + 9 : err);
        run_set_final_report_error(writer->run->status, message);
    }
}

static void writer_merge(struct writer *writer, struct flow_table *delta)
{
    struct run *run = writer->run;
    /* a table that could not be allocated at start is tried again, not dereferenced */
    if (writer->total.slots == NULL && flow_table_init(&writer->total, 4096) != 0)
        run_set_error(run->status, "nasoone: out of memory for the report table: packets lost");
    else if (flow_table_merge(&writer->total, delta) != 0)
        run_set_error(run->status, "nasoone: out of memory: the report misses some packets");
    flow_table_clear(delta);
    if (pointer_queue_try_push(&run->spare_tables, delta) != 0) {
        flow_table_destroy(delta);
        free(delta);
    }
    if (!run->config.biflow) /* biflow mode: the pairs, counted at each report */
        atomic_store(&run->counters.flows, writer->total.count);
    atomic_store(&run->counters.memory_bytes, flow_table_memory(&writer->total));
}

/* Merges every delta the parsers have queued, without waiting. Returns how many. */
static unsigned writer_merge_pending(struct writer *writer)
{
    unsigned merged = 0;
    struct flow_table *delta;
    while ((delta = pointer_queue_try_pop(&writer->run->parser_deltas)) != NULL) {
        writer_merge(writer, delta);
        merged++;
    }
    return merged;
}

/* A report is due at `now`: writes it if `*pending` (something changed, or the previous one
 * failed and is retried), and returns when the next one is due. As often as the interval asks,
 * never more often than rewrites can go: a rewrite that takes longer than the interval is
 * followed by as long a pause, so the writer spends at most half its time rewriting. */
static uint64_t writer_report_due(struct writer *writer, uint64_t now, int *pending)
{
    uint64_t by_interval = now + writer->run->config.interval_ms;
    if (!*pending)
        return by_interval;
    char err[NASOONE_MESSAGE_SIZE];
    /* retried if the file failed (the snapshot too: it is the newest then) */
    *pending = writer_report(writer, 0, ALL_OUTPUTS, err, sizeof err) != 0;
    uint64_t done = monotonic_ms();
    uint64_t by_cost = done + (done - now);
    return by_interval > by_cost ? by_interval : by_cost;
}

/* Parsers' deltas come first, always: parsers never wait on a writer that is busy rewriting.
 * `pending`: the table already has rows no report showed. */
static void writer_merge_deltas(struct writer *writer, int pending)
{
    struct run *run = writer->run;
    uint64_t next_report = monotonic_ms() + run->config.interval_ms;
    for (;;) {
        if (writer_merge_pending(writer) > 0)
            pending = 1;
        uint64_t now = monotonic_ms();
        if (now >= next_report) {
            next_report = writer_report_due(writer, now, &pending);
            continue; /* merge what arrived during the rewrite before waiting */
        }
        struct timespec deadline = monotonic_after_ms(next_report - now);
        int closed = 0;
        struct flow_table *delta = pointer_queue_pop(&run->parser_deltas, &deadline, &closed, NULL);
        if (delta != NULL) {
            writer_merge(writer, delta);
            pending = 1;
        }
        if (closed)
            break;
    }
}

/* The answer of the thread that owns the report's rows (run.h). The last one carries its own
 * table, which the writer takes over for the final report (no copy at the end of a file). */
static void writer_take_table(struct writer *writer, struct table_report *answer)
{
    if (answer->moved)
        writer->ordered = 0; /* rows left: indices changed, the order is made anew */
    if (answer->table != &writer->total) {
        flow_table_destroy(&writer->total);
        writer->total = *answer->table;
        memset(answer->table, 0, sizeof *answer->table);
    }
    atomic_store(&writer->run->counters.memory_bytes, flow_table_memory(&writer->total));
}

/* The only parser lent its table (run.h): the report is made from it, untouched, and the table
 * goes back at once. */
static void writer_report_lent(struct writer *writer, struct table_report *answer, uint64_t now,
                               int *pending, uint64_t *next_report)
{
    struct flow_table own = writer->total; /* empty: a lending owner never copies */
    writer->total = *answer->lent;
    *pending |= answer->changed;
    *next_report = writer_report_due(writer, now, pending);
    writer->total = own;
    pointer_queue_push(&writer->run->table_returns, answer->lent);
}

/* When a report is due, asks the thread that owns the report's rows for them (the request goes
 * into its inbox, between batches) and reports them if they changed; until the owner's last
 * answer, or its end without one (it could not start). Returns 1 if that last answer was the
 * only parser's table given for good, with deltas to follow (run.h's owner_switched). */
static int writer_follow_owner(struct writer *writer)
{
    struct run *run = writer->run;
    run->report_request.table = &writer->total;
    uint64_t next_report = monotonic_ms() + run->config.interval_ms;
    int pending = 0;
    for (;;) {
        uint64_t now = monotonic_ms();
        struct table_report *answer;
        int closed = 0;
        if (now >= next_report) {
            pointer_queue_push(run->table_owner_inbox, &run->report_request);
            answer = pointer_queue_pop(&run->table_reports, NULL, &closed, NULL);
            /* the rewrite's pace counts from the answer: not the wait behind the batches */
            now = monotonic_ms();
            if (answer == &run->report_request && answer->failed) {
                next_report = now + run->config.interval_ms; /* tried again then */
                continue;
            }
            if (answer == &run->report_request && answer->lent != NULL) {
                writer_report_lent(writer, answer, now, &pending, &next_report);
                continue;
            }
            if (answer == &run->report_request) {
                writer_take_table(writer, answer);
                pending |= answer->changed;
                next_report = writer_report_due(writer, now, &pending);
                continue;
            }
        } else {
            struct timespec deadline = monotonic_after_ms(next_report - now);
            answer = pointer_queue_pop(&run->table_reports, &deadline, &closed, NULL);
        }
        if (answer != NULL) { /* the last answer: the owner is done */
            writer_take_table(writer, answer);
            return atomic_load(&run->owner_switched);
        }
        if (closed)
            return 0;
    }
}

void *writer_main(void *argument)
{
    pthread_setname_np(pthread_self(), "nasoone-writer"); /* for top -H and perf */
    struct writer writer = {.run = argument};
    struct run *run = writer.run;
    if (run->table_owner_inbox != NULL) {
        if (writer_follow_owner(&writer))
            writer_merge_deltas(&writer, 1);
    } else {
        if (flow_table_init(&writer.total, 4096) != 0)
            memset(&writer.total, 0, sizeof writer.total); /* tried again at the first merge */
        writer_merge_deltas(&writer, 0);
    }
    writer_final_report(&writer);
    flow_table_destroy(&writer.total);
    free(writer.sorted);
    free(writer.reverse);
    free(writer.order);
    free(writer.scratch);
    run_thread_cpu(run, NASOONE_THREAD_WRITER);
    writer_stage_done(run);
    return NULL;
}

void writer_stage_done(struct run *run) { run_thread_finished(run); }
