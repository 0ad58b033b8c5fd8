/*
 * stages.h - the bodies of the run's threads (pipeline.c starts them; run.h draws how they are
 * connected), and the last thing each does: closing its output, or for the writer and the
 * exporter, counting down to the end of the run. Each receives the run, never the capture, and
 * no thread file includes another.
 */
#ifndef NASOONE_STAGES_H
#define NASOONE_STAGES_H

struct run;

void *producer_main(void *run);
void producer_stage_done(struct run *run);
void *parser_main(void *run);
void parser_stage_done(struct run *run);
void *writer_main(void *run);
void writer_stage_done(struct run *run);
void *keeper_main(void *run);
void keeper_stage_done(struct run *run);
void *exporter_main(void *run);
void exporter_stage_done(struct run *run);

#endif
