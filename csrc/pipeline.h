/*
 * pipeline.h - the run's threads: which ones, in which order, and how they wind down.
 *
 * Two shapes (run.h draws both): the default one, reader -> parsers -> writer, and with flow
 * limits, an export or on_flows the lifecycle one, reader -> parsers -> keeper -> writer and
 * keeper -> exporter. Stages start consumers first (writer, exporter, keeper, parsers, reader),
 * so no thread waits on a queue nobody will drain, and are joined in the reverse order. One
 * rule ends them all: a stage ends when its input is closed and drained, and then closes its
 * output (the last parser out closes the parsers' output). A stage that could not be started
 * has its end done for it (its `done`), so a start that fails half way winds down the
 * stages already running exactly as the end of input would.
 */
#ifndef NASOONE_PIPELINE_H
#define NASOONE_PIPELINE_H

#include <pthread.h>

struct run;

/* One kind of thread: its body, and the last thing that body does (closes its output), which
 * is done for it when it never ran. */
struct pipeline_stage {
    const char *name;
    void *(*main)(void *run);
    void (*done)(struct run *run);
};

/* The threads of a run, in start order: the engine's handle on them (the threads themselves
 * share only the run). */
struct pipeline {
    struct run *run;
    const struct pipeline_stage **stages;
    pthread_t *threads;
    unsigned count;   /* stages planned */
    unsigned started; /* threads running or to join; 0 when no run */
};

/* Plans the run's shape (run->lifecycle, its parser count) and starts it. Returns 0, or the
 * pthread_create error after winding down and joining what had started. */
int pipeline_start(struct pipeline *pipeline, struct run *run);
/* Joins every started thread, reverse order (after stop_requested or the end of input). */
void pipeline_join(struct pipeline *pipeline);
/* Frees the plan (after pipeline_join). */
void pipeline_free(struct pipeline *pipeline);

#endif
