/*
 * source_live.c - a live device as a source (source.h), read with libpcap in non-blocking
 * mode. `next` sleeps in poll() on the capture descriptor and an eventfd that `interrupt`
 * writes: no busy polling, and stop wakes it at once. A quiet link still hands its batch on
 * every filler->idle_flush_ms, so the report shows what arrived.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "message.h"
#include "source.h"

struct live_source {
    struct source base;
    int wake_fd;         /* readable once interrupted */
    uint64_t flushed_ms; /* when the batch was last handed on */
};

static enum source_step live_next(struct source *source, struct batch_filler *filler)
{
    struct live_source *live = (struct live_source *)source;
    struct pollfd fds[2] = {{.fd = pcap_get_selectable_fd(source->pcap), .events = POLLIN},
                            {.fd = live->wake_fd, .events = POLLIN}};
    int ready = poll(fds, 2, (int)filler->idle_flush_ms);
    if (ready < 0 && errno != EINTR) {
        message_format(source->failure, sizeof source->failure,
                       "nasoone: poll on the capture device failed: %s", strerror(errno));
        return SOURCE_FAILED;
    }
    if (ready <= 0) {
        batch_filler_flush(filler); /* quiet link: let parsers see what has arrived */
        live->flushed_ms = monotonic_ms();
        return SOURCE_MORE;
    }
    if (fds[0].revents & (POLLERR | POLLHUP | POLLNVAL)) {
        message_format(source->failure, sizeof source->failure,
                       "nasoone: the capture device went away");
        return SOURCE_FAILED;
    }
    if (!(fds[0].revents & POLLIN))
        return SOURCE_MORE; /* interrupted */
    int n = pcap_dispatch(source->pcap, -1, batch_filler_copy, (u_char *)filler);
    uint64_t now = monotonic_ms();
    if (now - live->flushed_ms >= filler->idle_flush_ms || n == 0) {
        /* a link that is never quiet for the idle period still reports on time */
        batch_filler_flush(filler);
        live->flushed_ms = now;
    }
    if (n == PCAP_ERROR) {
        source_fail(source, pcap_geterr(source->pcap));
        return SOURCE_FAILED;
    }
    return SOURCE_MORE;
}

static int live_stats(struct source *source, struct pcap_stat *stats)
{
    return pcap_stats(source->pcap, stats) == 0 ? 0 : -1;
}

static int live_interrupt(struct source *source)
{
    struct live_source *live = (struct live_source *)source;
    uint64_t one = 1;
    /* EAGAIN: the counter is full, so it is readable already */
    return write(live->wake_fd, &one, sizeof one) < 0 && errno != EAGAIN ? -1 : 0;
}

static void live_destroy(struct source *source)
{
    struct live_source *live = (struct live_source *)source;
    if (live->wake_fd >= 0)
        close(live->wake_fd);
}

static const struct source_ops live_source_ops = {
    .next = live_next,
    .stats = live_stats,
    .interrupt = live_interrupt,
    .destroy = live_destroy,
};

/* The stable name of a pcap_activate failure. */
static const char *activate_error_code(int status)
{
    switch (status) {
    case PCAP_ERROR_NO_SUCH_DEVICE:
        return "no_such_device";
    case PCAP_ERROR_PERM_DENIED:
    case PCAP_ERROR_PROMISC_PERM_DENIED:
        return "permission_denied";
    case PCAP_ERROR_IFACE_NOT_UP:
        return "interface_down";
    default:
        return "error";
    }
}

int source_open_device(const char *device, const struct nasoone_device_options *options,
                       struct source **out, char *err, size_t err_size, const char **code)
{
    *code = "error";
    if (options->snaplen <= 0 || options->buffer_size < 0 || options->timeout_ms < 0) {
        return message_refuse(code, "invalid_argument", err, err_size,
                              "nasoone: snaplen must be > 0, buffer_size and timeout >= 0");
    }
    char pcap_err[PCAP_ERRBUF_SIZE] = "";
    pcap_t *pcap = pcap_create(device, pcap_err);
    if (pcap == NULL)
        return message_format(err, err_size, "nasoone: cannot open device %s: %s", device,
                              pcap_err);
    pcap_set_snaplen(pcap, options->snaplen);
    pcap_set_promisc(pcap, options->promiscuous != 0);
    pcap_set_timeout(pcap, options->timeout_ms);
    pcap_set_immediate_mode(pcap, options->immediate != 0);
    if (options->buffer_size > 0)
        pcap_set_buffer_size(pcap, options->buffer_size);
    if (options->nanosecond && pcap_set_tstamp_precision(pcap, PCAP_TSTAMP_PRECISION_NANO) != 0) {
        message_format(err, err_size, "nasoone: %s does not give nanosecond timestamps", device);
        pcap_close(pcap);
        return -1;
    }
    int status = pcap_activate(pcap);
    if (status < 0) {
        const char *hint =
            status == PCAP_ERROR_PERM_DENIED || status == PCAP_ERROR_PROMISC_PERM_DENIED
                ? " (run as root, or grant the interpreter the capability: "
                  "setcap cap_net_raw,cap_net_admin=eip $(command -v lua5.4))"
                : "";
        /* libpcap's own text says more than the status name, when it has one */
        const char *detail = pcap_geterr(pcap);
        const char *reason = pcap_statustostr(status);
        message_format(err, err_size, "nasoone: cannot capture on %s: %s%s", device,
                       detail[0] != '\0' ? detail : reason, hint);
        *code = activate_error_code(status);
        pcap_close(pcap);
        return -1;
    }
    struct live_source *live = calloc(1, sizeof *live);
    if (live == NULL) {
        pcap_close(pcap);
        return message_refuse(code, "out_of_memory", err, err_size, "nasoone: out of memory");
    }
    live->base.ops = &live_source_ops;
    live->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (status > 0)
        snprintf(live->base.warning, sizeof live->base.warning, "%s: %s", pcap_statustostr(status),
                 pcap_geterr(pcap));
    live->base.live = 1;
    live->base.clock.wide = 1;
    live->base.clock.nanosecond = pcap_get_tstamp_precision(pcap) == PCAP_TSTAMP_PRECISION_NANO;
    live->flushed_ms = monotonic_ms();
    if (source_adopt(&live->base, pcap, device, err, err_size, code) != 0) {
        source_close(&live->base);
        return -1;
    }
    if (live->wake_fd < 0) {
        message_format(err, err_size, "nasoone: cannot capture on %s: eventfd: %s", device,
                       strerror(errno));
        source_close(&live->base);
        return -1;
    }
    if (pcap_setnonblock(pcap, 1, pcap_err) != 0) {
        message_format(err, err_size, "nasoone: cannot capture on %s: %s", device, pcap_err);
        source_close(&live->base);
        return -1;
    }
    *out = &live->base;
    return 0;
}
