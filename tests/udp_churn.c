/*
 * udp_churn.c - many short UDP "connections" for the live soak spec:
 *   udp_churn ADDRESS DESTINATION_PORT SECONDS CONNECTIONS_PER_SECOND PACKETS_PER_CONNECTION
 * Each connection is a new unbound socket (so the kernel gives it a fresh ephemeral source
 * port) that sends its datagrams and closes. Prints the datagrams sent. Only for loopback.
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int parse(const char *text, long max, long *value)
{
    char *end;
    *value = strtol(text, &end, 10);
    return *end == '\0' && *value >= 1 && *value <= max;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    long seconds, rate, per_connection;
    if (argc != 6 || !parse(argv[3], 3600, &seconds) || !parse(argv[4], 100000, &rate) ||
        !parse(argv[5], 1000, &per_connection)) {
        fprintf(stderr, "usage: udp_churn ADDRESS PORT SECONDS CONNECTIONS_PER_SECOND "
                        "PACKETS_PER_CONNECTION\n");
        return 2;
    }
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST, .ai_socktype = SOCK_DGRAM};
    struct addrinfo *to;
    int rc = getaddrinfo(argv[1], argv[2], &hints, &to);
    if (rc != 0) {
        fprintf(stderr, "udp_churn: %s: %s\n", argv[1], gai_strerror(rc));
        return 1;
    }
    char payload[32];
    memset(payload, 'x', sizeof payload);
    long sent = 0;
    double start = now_s();
    for (long n = 0; n < seconds * rate; n++) {
        /* paced: connection n leaves at start + n / rate */
        double due = start + (double)n / (double)rate, wait = due - now_s();
        if (wait > 0) {
            struct timespec pause = {(time_t)wait, (long)((wait - (double)(time_t)wait) * 1e9)};
            nanosleep(&pause, NULL);
        }
        int fd = socket(to->ai_family, SOCK_DGRAM, 0);
        if (fd < 0) {
            perror("udp_churn: socket");
            return 1;
        }
        for (long i = 0; i < per_connection; i++)
            if (sendto(fd, payload, sizeof payload, 0, to->ai_addr, to->ai_addrlen) ==
                (ssize_t)sizeof payload)
                sent++;
        close(fd);
    }
    freeaddrinfo(to);
    printf("%ld\n", sent);
    return 0;
}
