/*
 * udp_sender.c - sends a known set of UDP datagrams, for the live capture specs:
 *   udp_sender ADDRESS SOURCE_PORT DESTINATION_PORT COUNT PAYLOAD_BYTES
 * from a bound source port, so the datagrams make exactly one report row. Only for loopback
 * and the specs' own network namespaces.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int parse(const char *text, long max, long *value)
{
    char *end;
    *value = strtol(text, &end, 10);
    return *end == '\0' && *value >= 0 && *value <= max;
}

int main(int argc, char **argv)
{
    long source_port, destination_port, count, payload;
    if (argc != 6 || !parse(argv[2], 65535, &source_port) ||
        !parse(argv[3], 65535, &destination_port) || !parse(argv[4], 1000000, &count) ||
        !parse(argv[5], 65000, &payload)) {
        fprintf(stderr, "usage: udp_sender ADDRESS SOURCE_PORT DESTINATION_PORT COUNT BYTES\n");
        return 2;
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *to;
    int rc = getaddrinfo(argv[1], argv[3], &hints, &to);
    if (rc != 0) {
        fprintf(stderr, "udp_sender: %s: %s\n", argv[1], gai_strerror(rc));
        return 1;
    }
    int fd = socket(to->ai_family, SOCK_DGRAM, 0);
    struct addrinfo *from;
    char port[16];
    snprintf(port, sizeof port, "%ld", source_port);
    hints.ai_family = to->ai_family;
    hints.ai_flags |= AI_PASSIVE;
    if (fd < 0 || getaddrinfo(NULL, port, &hints, &from) != 0 ||
        bind(fd, from->ai_addr, from->ai_addrlen) != 0) {
        perror("udp_sender: socket/bind");
        return 1;
    }
    char *buffer = calloc(1, (size_t)payload + 1);
    for (long i = 0; i < count; i++) {
        if (sendto(fd, buffer, (size_t)payload, 0, to->ai_addr, to->ai_addrlen) != payload) {
            perror("udp_sender: sendto");
            return 1;
        }
    }
    free(buffer);
    freeaddrinfo(from);
    freeaddrinfo(to);
    close(fd);
    return 0;
}
