/*
 * report_output_snapshot.c - the on_report snapshot as a report output (report_output.h): each
 * report becomes a nasoone_snapshot that replaces the one waiting in the caller's mailbox (an
 * unread older one is dropped: the new one contains it).
 */
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "report_output.h"

static int snapshot_write(struct report_output *output, const struct flow_row *const *rows,
                          const struct flow_row *const *reverse, size_t count, int final, char *err,
                          size_t err_size)
{
    struct mailbox *mailbox = output->state;
    struct nasoone_snapshot *snapshot =
        malloc(sizeof *snapshot + count * sizeof(struct nasoone_row));
    if (snapshot == NULL) /* tried again with the next report, which contains this one */
        return message_format(err, err_size, "nasoone: out of memory for an on_report snapshot");
    snapshot->final = final;
    snapshot->count = count;
    for (size_t i = 0; i < count; i++) {
        const struct flow_row *row = rows[i];
        struct nasoone_row *out = &snapshot->rows[i];
        memset(out, 0, sizeof *out); /* padding and, without a reverse, the biflow fields */
        memcpy(out->source, row->key.src, sizeof out->source);
        memcpy(out->destination, row->key.dst, sizeof out->destination);
        out->source_port = row->key.src_port;
        out->destination_port = row->key.dst_port;
        out->family = row->key.family;
        out->protocols = row->counters.protocols;
        out->tcp_flags = row->counters.tcp_flags;
        out->protocol = row->key.protocol;
        out->device = row->key.device;
        out->first_ms = row->counters.first_ms;
        out->last_ms = row->counters.last_ms;
        out->bytes = row->counters.bytes;
        out->packets = row->counters.packets;
        out->ip_bytes = row->counters.ip_bytes;
        if (reverse != NULL) {
            const struct flow_row *other = reverse[i];
            out->biflow = 1;
            if (other != NULL) {
                out->reverse_first_ms = other->counters.first_ms;
                out->reverse_last_ms = other->counters.last_ms;
                out->reverse_bytes = other->counters.bytes;
                out->reverse_packets = other->counters.packets;
                out->reverse_ip_bytes = other->counters.ip_bytes;
                out->reverse_protocols = other->counters.protocols;
                out->reverse_tcp_flags = other->counters.tcp_flags;
            }
        }
    }
    mailbox_put_snapshot(mailbox, snapshot);
    atomic_fetch_add(&output->written, 1);
    return 0;
}

static const struct report_output_ops snapshot_ops = {
    .write = snapshot_write,
};

struct report_output *report_output_snapshot_new(struct mailbox *mailbox)
{
    struct report_output *output = calloc(1, sizeof *output);
    if (output == NULL)
        return NULL;
    output->ops = &snapshot_ops;
    output->state = mailbox;
    output->kind = "snapshot";
    return output;
}
