/*
 * rofs-audit's probe relay. rofs-audit copies it into a helper container that shares the
 * audited container's network namespace, and runs it with `docker exec` for each probe
 * connection: it joins the exec's stdin and stdout to a TCP connection to the app, so a probe
 * reaches the app wherever the engine is, with no port published.
 *
 *   relay wait            stays up, so that execs can run beside it
 *   relay ADDRESS PORT    connects to ADDRESS:PORT (IPv4) and relays until the app closes
 *
 * A refused connection ends it at once with nothing written: the probe sees a closed stream,
 * as it does when Docker's proxy finds nothing listening.
 *
 * Linked statically, so it runs in any image of the same architecture, scratch included.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* A probe that hangs is cut off by rofs-audit long before this; the relay must not outlive it. */
#define LIFETIME_SECONDS 120

static int copy(int from, int to) {
    char buf[16384];
    ssize_t n = read(from, buf, sizeof buf);
    if (n <= 0)
        return -1;
    for (ssize_t done = 0; done < n;) {
        ssize_t w = write(to, buf + done, (size_t)(n - done));
        if (w < 0)
            return -1;
        done += w;
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc == 2 && strcmp(argv[1], "wait") == 0) {
        for (;;)
            pause();
    }
    if (argc != 3) {
        fprintf(stderr, "usage: %s wait | %s ADDRESS PORT\n", argv[0], argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    alarm(LIFETIME_SECONDS);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2]))};
    if (inet_pton(AF_INET, argv[1], &addr.sin_addr) != 1) {
        fprintf(stderr, "relay: %s is not an IPv4 address\n", argv[1]);
        return 2;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) < 0) {
        fprintf(stderr, "relay: connect %s:%s: %s\n", argv[1], argv[2], strerror(errno));
        return 1;
    }
    struct pollfd fds[2] = {{.fd = 0, .events = POLLIN}, {.fd = s, .events = POLLIN}};
    for (;;) {
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 1;
        }
        if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (copy(0, s) < 0) {
                /* The probe has sent all it will: pass the end on, and read the answer out. */
                shutdown(s, SHUT_WR);
                fds[0].fd = -1;
            }
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            if (copy(s, 1) < 0)
                return 0;
        }
    }
}
