/*
 * source_devices.c - several live devices read as one capture (source.h): a router's WAN and
 * LAN ports, two SPAN ports. Each device is a live source of its own (source_live.c opens it);
 * `next` sleeps in one poll() on all of their descriptors and an eventfd `interrupt` writes,
 * then reads each device that has packets, tagging them with the device's number (1 + its
 * index, packet_ref.device), so that rows and records say where they were seen. A device that
 * goes away ends the capture with an error naming it.
 *
 * The first device's pcap_t stands for the whole source (link type, filters); a filter is set
 * on every device (each compiles it for its own link type).
 */
#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "message.h"
#include "source.h"

struct devices_source {
    struct source base; /* base.pcap: devices[0]'s */
    unsigned count;
    struct source *devices[NASOONE_MAX_DEVICES];
    char *names[NASOONE_MAX_DEVICES];                   /* the devices' names, for device_names */
    atomic_uint_fast64_t received[NASOONE_MAX_DEVICES]; /* packets read from each */
    int wake_fd;                                        /* readable once interrupted */
    uint64_t flushed_ms;                                /* when the batch was last handed on */
};

/* Reads what device i has; 0, or -1 with the source's failure set. */
static int devices_read(struct devices_source *all, unsigned i, struct batch_filler *filler)
{
    struct source *device = all->devices[i];
    batch_filler_set_link(filler, device->link, device->clock);
    filler->device = (uint8_t)(i + 1);
    uint64_t before = filler->counts.received;
    int n = pcap_dispatch(device->pcap, -1, batch_filler_copy, (u_char *)filler);
    atomic_fetch_add_explicit(&all->received[i], filler->counts.received - before,
                              memory_order_relaxed);
    if (n == PCAP_ERROR) {
        message_format(all->base.failure, sizeof all->base.failure, "nasoone: reading %s: %s",
                       device->name, pcap_geterr(device->pcap));
        return -1;
    }
    return 0;
}

static enum source_step devices_next(struct source *source, struct batch_filler *filler)
{
    struct devices_source *all = (struct devices_source *)source;
    struct pollfd fds[NASOONE_MAX_DEVICES + 1];
    for (unsigned i = 0; i < all->count; i++)
        fds[i] =
            (struct pollfd){.fd = pcap_get_selectable_fd(all->devices[i]->pcap), .events = POLLIN};
    fds[all->count] = (struct pollfd){.fd = all->wake_fd, .events = POLLIN};
    int ready = poll(fds, all->count + 1, (int)filler->idle_flush_ms);
    if (ready < 0 && errno != EINTR) {
        message_format(source->failure, sizeof source->failure,
                       "nasoone: poll on the capture devices failed: %s", strerror(errno));
        return SOURCE_FAILED;
    }
    uint64_t now = monotonic_ms();
    if (ready <= 0) {
        batch_filler_flush(filler); /* quiet links: let parsers see what has arrived */
        all->flushed_ms = now;
        return SOURCE_MORE;
    }
    for (unsigned i = 0; i < all->count; i++) {
        if (fds[i].revents & (POLLERR | POLLHUP | POLLNVAL)) {
            message_format(source->failure, sizeof source->failure,
                           "nasoone: reading %s: the capture device went away",
                           all->devices[i]->name);
            return SOURCE_FAILED;
        }
        if ((fds[i].revents & POLLIN) && devices_read(all, i, filler) != 0)
            return SOURCE_FAILED;
    }
    if (now - all->flushed_ms >= filler->idle_flush_ms) {
        /* links that are never quiet for the idle period still report on time */
        batch_filler_flush(filler);
        all->flushed_ms = now;
    }
    return SOURCE_MORE;
}

/* libpcap's counters, summed over the devices. */
static int devices_stats(struct source *source, struct pcap_stat *stats)
{
    struct devices_source *all = (struct devices_source *)source;
    memset(stats, 0, sizeof *stats);
    for (unsigned i = 0; i < all->count; i++) {
        struct pcap_stat one;
        if (pcap_stats(all->devices[i]->pcap, &one) != 0)
            return -1;
        stats->ps_recv += one.ps_recv;
        stats->ps_drop += one.ps_drop;
        stats->ps_ifdrop += one.ps_ifdrop;
    }
    return 0;
}

static unsigned devices_device_stats(struct source *source, struct nasoone_device_stats *out,
                                     unsigned max)
{
    struct devices_source *all = (struct devices_source *)source;
    unsigned n = all->count < max ? all->count : max;
    for (unsigned i = 0; i < n; i++) {
        struct nasoone_device_stats *d = &out[i];
        memset(d, 0, sizeof *d);
        snprintf(d->name, sizeof d->name, "%s", all->devices[i]->name);
        d->received = atomic_load_explicit(&all->received[i], memory_order_relaxed);
        struct pcap_stat one;
        if (pcap_stats(all->devices[i]->pcap, &one) == 0) {
            d->pcap_received = one.ps_recv;
            d->dropped = one.ps_drop;
            d->if_dropped = one.ps_ifdrop;
        }
    }
    return n;
}

static int devices_interrupt(struct source *source)
{
    struct devices_source *all = (struct devices_source *)source;
    uint64_t one = 1;
    /* EAGAIN: the counter is full, so it is readable already */
    return write(all->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN ? -1 : 0;
}

/* The filter set on the first device (base.pcap) goes on every other one too. */
static int devices_apply_filter(struct source *source, const char *bpf, char *err, size_t err_size)
{
    struct devices_source *all = (struct devices_source *)source;
    for (unsigned i = 1; i < all->count; i++)
        if (source_set_filter(all->devices[i], bpf, err, err_size) != 0)
            return -1;
    return 0;
}

static void devices_destroy(struct source *source)
{
    struct devices_source *all = (struct devices_source *)source;
    if (all->count > 0 && source->pcap == all->devices[0]->pcap)
        all->devices[0]->pcap = NULL; /* base.pcap: source_close closed it already */
    for (unsigned i = 0; i < all->count; i++)
        source_close(all->devices[i]);
    if (all->wake_fd >= 0)
        close(all->wake_fd);
}

static const struct source_ops devices_source_ops = {
    .next = devices_next,
    .stats = devices_stats,
    .interrupt = devices_interrupt,
    .apply_filter = devices_apply_filter,
    .device_stats = devices_device_stats,
    .destroy = devices_destroy,
};

int source_open_devices(const char *const *names, size_t count,
                        const struct nasoone_device_options *options, struct source **out,
                        char *err, size_t err_size, const char **code)
{
    if (count == 1)
        return source_open_device(names[0], options, out, err, err_size, code);
    *code = "invalid_argument";
    if (count == 0 || count > NASOONE_MAX_DEVICES)
        return message_format(err, err_size, "nasoone: from 1 to %d capture devices, not %zu",
                              NASOONE_MAX_DEVICES, count);
    for (size_t i = 0; i < count; i++) {
        /* the name goes into CSV cells and JSON strings as it is */
        size_t length = strlen(names[i]);
        int plain = length > 0 && length <= NASOONE_DEVICE_NAME_MAX;
        for (size_t c = 0; plain && c < length; c++)
            plain = names[i][c] > ' ' && names[i][c] < 127 && !strchr("\";\\", names[i][c]);
        if (!plain)
            return message_format(err, err_size,
                                  "nasoone: a device of several must be named with 1 to %d "
                                  "printable characters, without spaces, '\"', ';' or '\\'",
                                  NASOONE_DEVICE_NAME_MAX);
        for (size_t j = 0; j < i; j++)
            if (strcmp(names[i], names[j]) == 0)
                return message_format(err, err_size, "nasoone: device %s is named twice", names[i]);
    }
    struct devices_source *all = calloc(1, sizeof *all);
    if (all == NULL)
        return message_refuse(code, "out_of_memory", err, err_size, "nasoone: out of memory");
    all->base.ops = &devices_source_ops;
    all->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    for (size_t i = 0; i < count; i++) {
        if (source_open_device(names[i], options, &all->devices[i], err, err_size, code) != 0) {
            source_close(&all->base);
            return -1;
        }
        all->count++;
        all->names[i] = all->devices[i]->name;
        if (all->devices[i]->warning[0] != '\0' && all->base.warning[0] == '\0')
            message_format(all->base.warning, sizeof all->base.warning, "%s: %s", names[i],
                           all->devices[i]->warning);
    }
    if (all->wake_fd < 0) {
        message_format(err, err_size, "nasoone: cannot capture: eventfd: %s", strerror(errno));
        *code = "error";
        source_close(&all->base);
        return -1;
    }
    all->base.live = 1;
    all->base.clock = all->devices[0]->clock;
    all->base.device_names = (const char *const *)all->names;
    all->base.device_count = all->count;
    all->flushed_ms = monotonic_ms();
    /* the source's name, for messages: the devices, comma-separated */
    size_t length = 0;
    for (size_t i = 0; i < count; i++)
        length += strlen(names[i]) + 1;
    char *joined = malloc(length);
    if (joined == NULL) {
        source_close(&all->base);
        return message_refuse(code, "out_of_memory", err, err_size, "nasoone: out of memory");
    }
    joined[0] = '\0';
    for (size_t i = 0; i < count; i++) {
        if (i > 0)
            strcat(joined, ",");
        strcat(joined, names[i]);
    }
    /* base.pcap is the first device's: it stands for the source (link type, filters) */
    int adopted = source_adopt(&all->base, all->devices[0]->pcap, joined, err, err_size, code);
    free(joined);
    if (adopted != 0) {
        source_close(&all->base);
        return -1;
    }
    *out = &all->base;
    return 0;
}
