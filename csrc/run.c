/*
 * run.c - a run's parts and its status (run.h). The state machine (engine.c) builds and frees
 * runs; the run's threads report through these functions. Nothing here starts or joins a
 * thread (pipeline.c does).
 */
#include "run.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "big_alloc.h"

void run_status_init(struct run_status *status)
{
    memset(status, 0, sizeof *status);
    pthread_mutex_init(&status->lock, NULL);
    pthread_cond_init(&status->resumed, NULL);
    status->state = NASOONE_INITIAL;
}

void run_status_destroy(struct run_status *status)
{
    pthread_mutex_destroy(&status->lock);
    pthread_cond_destroy(&status->resumed);
}

struct run *run_new(const struct run_config *config, struct source *source,
                    struct run_status *status, struct mailbox *mailbox)
{
    struct run *run = calloc(1, sizeof *run);
    if (run == NULL)
        return NULL;
    run->config = *config;
    run->source = source;
    run->status = status;
    run->mailbox = mailbox;
    unsigned parsers = config->parser_count;
    unsigned batch_count = parsers * NASOONE_BATCHES_PER_PARSER + 2;
    unsigned table_slots = parsers * 4 + 4;
    run->batches = big_alloc((size_t)batch_count * sizeof *run->batches, 1);
    run->batch_count = batch_count; /* also what run_release frees */
    int ok = run->batches != NULL;
    ok &= pointer_queue_init(&run->free_batches, batch_count) == 0;
    /* the batches and, with one parser, the writer's request: never full */
    ok &= pointer_queue_init(&run->ready_batches, batch_count + 1) == 0;
    ok &= pointer_queue_init(&run->parser_deltas, table_slots) == 0;
    ok &= pointer_queue_init(&run->table_reports, 2) == 0; /* an answer and the last one */
    ok &= pointer_queue_init(&run->table_returns, 1) == 0;
    ok &= pointer_queue_init(&run->spare_tables, table_slots) == 0;
    /* the same for the keeper's inbox */
    ok &= pointer_queue_init(&run->decoded_batches, batch_count + 1) == 0;
    ok &= pointer_queue_init(&run->record_batches, 64) == 0;
    if (ok && config->flow_records) {
        run->on_flows_sink = record_sink_new();
        ok = run->on_flows_sink != NULL &&
             record_on_flows_open(run->on_flows_sink, mailbox, &source->live,
                                  &run->records_final) == 0;
    }
    if (!ok) {
        run_release(run);
        run_free(run);
        return NULL;
    }
    for (unsigned i = 0; i < batch_count; i++)
        pointer_queue_push(&run->free_batches, &run->batches[i]);
    return run;
}

void run_answer_report(struct run *run, struct table_report *request,
                       const struct flow_table *table, int *changed, int *moved)
{
    request->changed = request->moved = request->failed = 0;
    request->lent = NULL;
    if (*changed) {
        /* the index only for biflow mode, where the writer finds each row's other direction */
        if (flow_table_copy(request->table, table, run->config.biflow) != 0) {
            /* tried again at the next report: *changed stays set */
            run_set_write_error(run->status,
                                "nasoone: out of memory for the report: it was not rewritten");
            request->failed = 1;
        } else {
            request->changed = 1;
            request->moved = *moved;
            *changed = *moved = 0;
        }
    }
    pointer_queue_push(&run->table_reports, request);
}

void run_hand_over_table(struct run *run, struct flow_table *table, int moved)
{
    run->final_table = *table;
    memset(table, 0, sizeof *table);
    run->final_report =
        (struct table_report){.table = &run->final_table, .changed = 1, .moved = moved};
    pointer_queue_push(&run->table_reports, &run->final_report);
}

void run_release(struct run *run)
{
    struct flow_table *table;
    while ((table = pointer_queue_try_pop(&run->spare_tables)) != NULL) {
        flow_table_destroy(table);
        free(table);
    }
    while ((table = pointer_queue_try_pop(&run->parser_deltas)) != NULL) {
        flow_table_destroy(table);
        free(table);
    }
    flow_table_destroy(&run->final_table); /* if the writer did not take it */
    void *item;
    while ((item = pointer_queue_try_pop(&run->record_batches)) != NULL)
        free(item);
    pointer_queue_destroy(&run->free_batches);
    pointer_queue_destroy(&run->ready_batches);
    pointer_queue_destroy(&run->parser_deltas);
    pointer_queue_destroy(&run->table_reports);
    pointer_queue_destroy(&run->table_returns);
    pointer_queue_destroy(&run->spare_tables);
    pointer_queue_destroy(&run->decoded_batches);
    pointer_queue_destroy(&run->record_batches);
    big_free(run->batches, (size_t)run->batch_count * sizeof *run->batches, 1);
    run->batches = NULL;
}

void run_free(struct run *run)
{
    if (run == NULL)
        return;
    record_sink_free(run->on_flows_sink);
    for (unsigned i = 0; i < run->output_count; i++)
        report_output_free(run->outputs[i]);
    free(run);
}

void run_set_write_error(struct run_status *status, const char *message)
{
    pthread_mutex_lock(&status->lock);
    snprintf(status->write_error, sizeof status->write_error, "%s", message ? message : "");
    pthread_mutex_unlock(&status->lock);
}

void run_set_error(struct run_status *status, const char *message)
{
    pthread_mutex_lock(&status->lock);
    if (status->error[0] == '\0')
        snprintf(status->error, sizeof status->error, "%s", message);
    pthread_mutex_unlock(&status->lock);
}

void run_set_final_report_error(struct run_status *status, const char *message)
{
    pthread_mutex_lock(&status->lock);
    snprintf(status->final_error, sizeof status->final_error, "%s", message);
    pthread_mutex_unlock(&status->lock);
    run_set_error(status, message);
}

void run_thread_finished(struct run *run)
{
    if (atomic_fetch_sub(&run->finishing_threads, 1) != 1)
        return;
    /* A paused capture stays paused until resumed (then it is finished at once), so a
     * successful pause() is always followed by a successful resume(). */
    struct run_status *status = run->status;
    pthread_mutex_lock(&status->lock);
    status->input_ended = 1;
    if (status->state == NASOONE_RUNNING)
        status->state = NASOONE_FINISHED;
    pthread_mutex_unlock(&status->lock);
    mailbox_signal(run->mailbox);
}

void run_thread_cpu(struct run *run, enum nasoone_thread_role role)
{
    struct timespec used;
    if (clock_gettime(CLOCK_THREAD_CPUTIME_ID, &used) != 0)
        return;
    atomic_fetch_add_explicit(&run->counters.cpu_ns[role],
                              (uint64_t)used.tv_sec * 1000000000u + (uint64_t)used.tv_nsec,
                              memory_order_relaxed);
}
