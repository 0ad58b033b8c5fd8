/*
 * source.c - what every kind of source shares (source.h): its libpcap handle's link type and
 * filter, its failure message, closing.
 */
#include "source.h"

#include <stdlib.h>
#include <string.h>

#include "message.h"

int source_adopt(struct source *source, pcap_t *pcap, const char *name, char *err, size_t err_size,
                 const char **code)
{
    int dlt = pcap_datalink(pcap);
    source->pcap = pcap;
    source->link = decode_link_from_dlt(dlt);
    source->name = strdup(name);
    if (source->file_names == NULL) { /* the one file (a list names its own) */
        source->file_names = (const char *const *)&source->name;
        source->file_count = 1;
        source->file_number = 1;
    }
    if (source->name == NULL) {
        return message_refuse(code, "out_of_memory", err, err_size, "nasoone: out of memory");
    }
    if (source->link == DECODE_LINK_UNSUPPORTED && !source->mixed_links) {
        const char *link_name = pcap_datalink_val_to_name(dlt);
        return message_refuse(code, "unsupported_link", err, err_size,
                              "nasoone: %s: unsupported link type %s (%d)", name,
                              link_name ? link_name : "unknown", dlt);
    }
    return 0;
}

int source_set_filter(struct source *source, const char *bpf, char *err, size_t err_size)
{
    char *copy = NULL;
    if (bpf != NULL && bpf[0] != '\0' && (copy = strdup(bpf)) == NULL)
        return message_format(err, err_size, "nasoone: out of memory");
    struct bpf_program program;
    const char *text = copy ? copy : "";
    if (pcap_compile(source->pcap, &program, text, 1, PCAP_NETMASK_UNKNOWN) != 0) {
        message_format(err, err_size, "nasoone: bad filter '%s': %s", text,
                       pcap_geterr(source->pcap));
        free(copy);
        return -1;
    }
    if (copy != NULL && source->ops->check_filter != NULL &&
        source->ops->check_filter(source, copy, err, err_size) != 0) {
        pcap_freecode(&program);
        free(copy);
        return -1;
    }
    if (source->ops->apply_filter != NULL &&
        source->ops->apply_filter(source, text, err, err_size) != 0) {
        pcap_freecode(&program);
        free(copy);
        return -1;
    }
    /* installed too: libpcap's own readers (a file it reads, a device) apply it */
    int result = pcap_setfilter(source->pcap, &program);
    pcap_freecode(&program);
    if (result != 0) {
        message_format(err, err_size, "nasoone: cannot set filter '%s': %s", text,
                       pcap_geterr(source->pcap));
        free(copy);
        return -1;
    }
    free(source->filter);
    source->filter = copy;
    return 0;
}

int source_datalink(const struct source *source) { return pcap_datalink(source->pcap); }

void source_fail(struct source *source, const char *reason)
{
    message_format(source->failure, sizeof source->failure, "nasoone: reading %s: %s", source->name,
                   reason);
    /* libpcap's wording for a record cut by the end of the file (classic_pcap.c's too) */
    source->truncated = strstr(reason, "truncated") != NULL;
}

void source_close(struct source *source)
{
    if (source == NULL)
        return;
    if (source->pcap != NULL)
        pcap_close(source->pcap);
    /* after pcap_close: a file's stdio buffer must outlive its FILE */
    if (source->ops != NULL && source->ops->destroy != NULL)
        source->ops->destroy(source);
    free(source->name);
    free(source->filter);
    free(source);
}
