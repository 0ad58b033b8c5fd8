/*
 * record_on_flows.c - the "on_flows" record sink: each batch of records becomes a
 * nasoone_flow_batch in the caller's mailbox (mailbox.h), which nasoone_take_flows hands to
 * the caller (the Lua binding runs the on_flows callback with it). Exporter thread only, as
 * every sink (record_sink.h).
 *
 * A file capture waits for the caller (it gives all its records); a live one drops what finds
 * the mailbox full, until its input is closed (nothing left to protect then). Once stop() is
 * called the caller takes only after the threads end: the mailbox then neither waits nor drops
 * (mailbox_unbound).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox.h"
#include "record_sink.h"

struct on_flows_state {
    struct mailbox *mailbox;
    const int *live;
    const atomic_int *input_closed;
};

static void on_flows_write(struct record_sink *sink, const struct flow_record *records,
                           size_t count)
{
    struct on_flows_state *state = sink->state;
    struct nasoone_flow_batch *batch = malloc(sizeof *batch + count * sizeof batch->records[0]);
    if (batch == NULL) {
        record_sink_lost(sink, count);
        record_sink_set_error(sink, "nasoone: out of memory for on_flows records");
        return;
    }
    batch->count = count;
    for (size_t i = 0; i < count; i++) {
        const struct flow_record *record = &records[i];
        struct flow_part total = flow_record_total(record);
        struct nasoone_flow_record *out = &batch->records[i];
        memset(out, 0, sizeof *out);
        memcpy(out->row.source, record->key.src, sizeof out->row.source);
        memcpy(out->row.destination, record->key.dst, sizeof out->row.destination);
        out->row.source_port = record->key.src_port;
        out->row.destination_port = record->key.dst_port;
        out->row.family = record->key.family;
        out->row.protocols = record->protocols;
        out->row.tcp_flags = record->tcp_flags;
        out->row.protocol = record->key.protocol;
        out->row.device = record->key.device;
        out->row.first_ms = total.first_ms;
        out->row.last_ms = total.last_ms;
        out->row.bytes = total.bytes;
        out->row.ip_bytes = total.ip_bytes;
        out->row.packets = total.packets;
        if (record->biflow) {
            struct flow_part reverse = flow_parts_total(record->reverse);
            out->row.biflow = 1;
            out->row.reverse_first_ms = reverse.first_ms;
            out->row.reverse_last_ms = reverse.last_ms;
            out->row.reverse_bytes = reverse.bytes;
            out->row.reverse_ip_bytes = reverse.ip_bytes;
            out->row.reverse_packets = reverse.packets;
            out->row.reverse_protocols = record->reverse_protocols;
            out->row.reverse_tcp_flags = record->reverse_tcp_flags;
        }
        out->reason = record->reason;
    }
    int lossless = !*state->live || atomic_load(state->input_closed);
    if (mailbox_put_flows(state->mailbox, batch, lossless)) {
        atomic_fetch_add(&sink->counters.sent, count);
    } else {
        free(batch);
        record_sink_lost(sink, count);
    }
}

static void on_flows_tick(struct record_sink *sink, uint64_t wall, uint64_t capture_ms)
{
    (void)sink;
    (void)wall;
    (void)capture_ms;
}

static void on_flows_close(struct record_sink *sink) { (void)sink; }

static void on_flows_destroy(struct record_sink *sink)
{
    free(sink->state);
    sink->state = NULL;
}

static const struct record_sink_ops on_flows_ops = {
    .write = on_flows_write,
    .tick = on_flows_tick,
    .close = on_flows_close,
    .destroy = on_flows_destroy,
};

int record_on_flows_open(struct record_sink *sink, struct mailbox *mailbox, const int *live,
                         const atomic_int *input_closed)
{
    struct on_flows_state *state = malloc(sizeof *state);
    if (state == NULL) {
        sink->error_code = "out_of_memory";
        return -1;
    }
    *state = (struct on_flows_state){mailbox, live, input_closed};
    sink->ops = &on_flows_ops;
    sink->state = state;
    snprintf(sink->kind, sizeof sink->kind, "on_flows");
    snprintf(sink->target, sizeof sink->target, "on_flows");
    return 0;
}
