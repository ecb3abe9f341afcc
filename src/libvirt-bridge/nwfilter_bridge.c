/*
 * nwfilter-bridge: joins its stdin/stdout to nwfilterd's Unix socket.
 *
 * The forwarding module (nwfilter_module.c) opens nwfilter+ext://localhost/system?command=<this program>: libvirtd
 * runs it (in libvirtd's own mount and network namespace, as root) and speaks libvirt's RPC over its stdio. The
 * socket is, in this order: $NWFILTER_LIBVIRT_SOCKET (when libvirtd passes it on), `socket = PATH` in
 * /etc/libvirt/nwfilter-bridge.conf (as libvirtd sees /etc/libvirt), /run/libvirt/virtnwfilterd-sock.
 * What goes wrong is one line on stderr: libvirt puts it into the error the caller sees.
 * `nwfilter-bridge --check` only connects and exits (0, or 1 with the reason on stderr): the module runs it to explain
 * a failed open when libvirt's own error does not carry the bridge's line.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define DEFAULT_SOCKET "/run/libvirt/virtnwfilterd-sock"
#define CONFIG_FILE "/etc/libvirt/nwfilter-bridge.conf"

static char socket_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void die(const char *what)
{
    fprintf(stderr, "nwfilter-bridge: %s\n", what);
    exit(1);
}

/* `socket = PATH` (quotes optional, # comments); 0 when the file names no socket */
static int read_config(const char *file)
{
    char line[4096];
    FILE *f = fopen(file, "r");
    int found = 0, n = 0;
    if (!f) {
        if (errno == ENOENT)
            return 0;
        fprintf(stderr, "nwfilter-bridge: cannot read %s: %s\n", file, strerror(errno));
        exit(1);
    }
    while (fgets(line, sizeof(line), f)) {
        char *p = line, *v, *end;
        n++;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '#' || *p == '\n' || *p == '\0')
            continue;
        if (strncmp(p, "socket", 6) != 0 || !(v = strchr(p + 6, '=')) || strspn(p + 6, " \t") != (size_t)(v - p - 6)) {
            fprintf(stderr, "nwfilter-bridge: %s:%d: expected 'socket = PATH'\n", file, n);
            exit(1);
        }
        v++;
        while (*v == ' ' || *v == '\t')
            v++;
        end = v + strcspn(v, "\r\n");
        while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (end - v >= 2 && (*v == '"' || *v == '\'') && end[-1] == *v) {
            v++;
            end--;
        }
        *end = '\0';
        if (*v != '/' || strlen(v) >= sizeof(socket_path)) {
            fprintf(stderr, "nwfilter-bridge: %s:%d: the socket must be an absolute path under %zu bytes\n", file, n,
                    sizeof(socket_path));
            exit(1);
        }
        snprintf(socket_path, sizeof(socket_path), "%s", v);
        found = 1;
    }
    fclose(f);
    return found;
}

/* writes all of buf; 0 on success */
static int write_all(int fd, const char *buf, ssize_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, buf, (size_t)len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        len -= w;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *env = getenv("NWFILTER_LIBVIRT_SOCKET");
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    struct pollfd fds[2];
    char buf[65536];
    int sock, in_open = 1, check = argc == 2 && strcmp(argv[1], "--check") == 0;
    if (argc > 1 && !check)
        die("takes no arguments but --check (the socket comes from " CONFIG_FILE " or NWFILTER_LIBVIRT_SOCKET)");
    signal(SIGPIPE, SIG_IGN);

    if (env && *env) {
        if (env[0] != '/' || strlen(env) >= sizeof(socket_path))
            die("NWFILTER_LIBVIRT_SOCKET must be an absolute path that fits a Unix socket address");
        snprintf(socket_path, sizeof(socket_path), "%s", env);
    } else if (!read_config(CONFIG_FILE)) {
        snprintf(socket_path, sizeof(socket_path), "%s", DEFAULT_SOCKET);
    }
    memcpy(addr.sun_path, socket_path, strlen(socket_path) + 1);
    if ((sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
        connect(sock, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        fprintf(stderr, "nwfilter-bridge: cannot connect to nwfilterd at %s: %s\n", socket_path, strerror(errno));
        return 1;
    }
    if (check)
        return 0;

    fds[0].fd = STDIN_FILENO;
    fds[1].fd = sock;
    for (;;) {
        fds[0].events = in_open ? POLLIN : 0;
        fds[1].events = POLLIN;
        if (poll(fds, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll failed");
        }
        if (in_open && (fds[0].revents & (POLLIN | POLLHUP | POLLERR))) {
            ssize_t r = read(STDIN_FILENO, buf, sizeof(buf));
            if (r < 0 && errno == EINTR)
                continue;
            if (r <= 0) {
                /* libvirtd closed the connection: let nwfilterd see the end, then drain what it still sends */
                in_open = 0;
                shutdown(sock, SHUT_WR);
            } else if (write_all(sock, buf, r) < 0) {
                fprintf(stderr, "nwfilter-bridge: nwfilterd at %s went away: %s\n", socket_path, strerror(errno));
                return 1;
            }
        }
        if (fds[1].revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t r = read(sock, buf, sizeof(buf));
            if (r < 0 && errno == EINTR)
                continue;
            if (r < 0) {
                fprintf(stderr, "nwfilter-bridge: nwfilterd at %s: %s\n", socket_path, strerror(errno));
                return 1;
            }
            if (r == 0) {
                if (in_open)
                    fprintf(stderr, "nwfilter-bridge: nwfilterd at %s closed the connection\n", socket_path);
                return in_open ? 1 : 0;
            }
            if (write_all(STDOUT_FILENO, buf, r) < 0)
                return 0; /* libvirtd is gone */
        }
    }
}
