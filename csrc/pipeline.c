/*
 * pipeline.c - builds a run's threads and winds them down (pipeline.h).
 */
#include "pipeline.h"

#include <stdlib.h>

#include "run.h"
#include "stages.h"

static const struct pipeline_stage writer_stage = {"writer", writer_main, writer_stage_done};
static const struct pipeline_stage exporter_stage = {"exporter", exporter_main,
                                                     exporter_stage_done};
static const struct pipeline_stage keeper_stage = {"keeper", keeper_main, keeper_stage_done};
static const struct pipeline_stage parser_stage = {"parser", parser_main, parser_stage_done};
static const struct pipeline_stage reader_stage = {"reader", producer_main, producer_stage_done};

/* Parser threads: none when the keeper decodes for itself (run.h's keeper_decodes). */
static unsigned pipeline_parser_threads(const struct run *run)
{
    return run->keeper_decodes ? 0 : run->config.parser_count;
}

/* The stages of the run's shape, consumers first. Returns how many. */
static unsigned pipeline_plan(const struct run *run, const struct pipeline_stage **plan)
{
    unsigned n = 0;
    plan[n++] = &writer_stage;
    if (run->lifecycle) {
        plan[n++] = &exporter_stage;
        plan[n++] = &keeper_stage;
    }
    for (unsigned i = 0; i < pipeline_parser_threads(run); i++)
        plan[n++] = &parser_stage;
    plan[n++] = &reader_stage;
    return n;
}

int pipeline_start(struct pipeline *pipeline, struct run *run)
{
    pipeline->run = run;
    unsigned most = run->config.parser_count + 4;
    pipeline->stages = calloc(most, sizeof *pipeline->stages);
    pipeline->threads = calloc(most, sizeof *pipeline->threads);
    pipeline->started = 0;
    if (pipeline->stages == NULL || pipeline->threads == NULL) {
        pipeline_free(pipeline);
        return 12; /* ENOMEM, as pthread_create would say it */
    }
    pipeline->count = pipeline_plan(run, pipeline->stages);
    /* what the ends count down: the parsers (the last closes their output), and the threads
     * whose end finishes the run (the writer; the exporter too in lifecycle mode) */
    atomic_store(&run->parsers_running, pipeline_parser_threads(run));
    atomic_store(&run->finishing_threads, run->lifecycle ? 2 : 1);
    int failed = 0;
    for (unsigned i = 0; i < pipeline->count; i++) {
        if (!failed) {
            failed = pthread_create(&pipeline->threads[i], NULL, pipeline->stages[i]->main, run);
            if (!failed) {
                pipeline->started++;
                continue;
            }
        }
        pipeline->stages[i]->done(run);
    }
    if (failed)
        pipeline_join(pipeline);
    return failed;
}

void pipeline_join(struct pipeline *pipeline)
{
    while (pipeline->started > 0) {
        pipeline->started--;
        pthread_join(pipeline->threads[pipeline->started], NULL);
    }
}

void pipeline_free(struct pipeline *pipeline)
{
    free(pipeline->stages);
    free(pipeline->threads);
    pipeline->stages = NULL;
    pipeline->threads = NULL;
    pipeline->count = 0;
}
