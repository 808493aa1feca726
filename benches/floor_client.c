/*
 * floor_client: the smallest Lambda Runtime API client the benchmark can think of, with no Python.
 *
 * It is the "floor" of the per-invoke and payload figures in docs/BENCHMARKS.md: whatever a Python
 * runtime client spends above this is its own overhead. Built by benches/run.py with `cc -O2`.
 *
 * Usage: floor_client [trivial | echo | file PATH]
 *   Reads AWS_LAMBDA_RUNTIME_API (host:port, IPv4), opens one keep-alive TCP connection
 *   (TCP_NODELAY) and loops: GET /2018-06-01/runtime/invocation/next, then
 *   POST /2018-06-01/runtime/invocation/{Lambda-Runtime-Aws-Request-Id}/response with
 *   `{"statusCode": 200}` (trivial, the default), the event body unchanged (echo) or the bytes of
 *   PATH read once at start (file), then reads the 202. Exits 0 when the server closes the connection, 2 on a usage or protocol error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

static char *buf;          /* receive buffer */
static size_t cap, len;    /* capacity and bytes held */

static void die(const char *msg) {
    fprintf(stderr, "floor_client: %s\n", msg);
    exit(2);
}

/* Reads more bytes; returns 0 on EOF. */
static int fill(int fd) {
    if (len == cap) {
        cap *= 2;
        buf = realloc(buf, cap);
        if (!buf) die("out of memory");
    }
    for (;;) {
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n > 0) {
            len += (size_t)n;
            return 1;
        }
        if (n == 0) return 0;
        if (errno != EINTR) return 0;
    }
}

/* Finds header `name` (lowercase, with ':') in head[0..hlen); copies its trimmed value into out. */
static int header(const char *head, size_t hlen, const char *name, char *out, size_t outcap) {
    size_t nlen = strlen(name);
    const char *p = head, *end = head + hlen;
    while (p < end) {
        const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
        if (!eol) eol = end;
        if ((size_t)(eol - p) > nlen && strncasecmp(p, name, nlen) == 0) {
            const char *v = p + nlen;
            while (v < eol && (*v == ' ' || *v == '\t')) v++;
            size_t vlen = (size_t)(eol - v);
            if (vlen >= outcap) vlen = outcap - 1;
            memcpy(out, v, vlen);
            out[vlen] = 0;
            return 1;
        }
        p = eol + 2;
    }
    return 0;
}

/* Reads one HTTP message (headers + content-length body). Sets *hlen (incl. the blank line) and
 * *blen. Returns 0 on EOF. */
static int read_message(int fd, size_t *hlen, size_t *blen) {
    char *sep;
    while (!(sep = len ? memmem(buf, len, "\r\n\r\n", 4) : NULL)) {
        if (!fill(fd)) return 0;
    }
    *hlen = (size_t)(sep - buf) + 4;
    char value[64];
    *blen = header(buf, *hlen, "content-length:", value, sizeof value) ? strtoull(value, NULL, 10) : 0;
    while (len < *hlen + *blen) {
        if (!fill(fd)) return 0;
    }
    return 1;
}

static void consume(size_t n) {
    memmove(buf, buf + n, len - n);
    len -= n;
}

static void send_all(int fd, struct iovec *iov, int cnt) {
    while (cnt > 0) {
        ssize_t n = writev(fd, iov, cnt);
        if (n < 0) {
            if (errno == EINTR) continue;
            die("write failed");
        }
        while (cnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            cnt--;
        }
        if (cnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
}

int main(int argc, char **argv) {
    int echo = argc > 1 && strcmp(argv[1], "echo") == 0;
    const char *api = getenv("AWS_LAMBDA_RUNTIME_API");
    if (!api) die("AWS_LAMBDA_RUNTIME_API is not set");
    char host[256];
    const char *colon = strrchr(api, ':');
    if (!colon || (size_t)(colon - api) >= sizeof host) die("bad AWS_LAMBDA_RUNTIME_API");
    memcpy(host, api, (size_t)(colon - api));
    host[colon - api] = 0;

    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)atoi(colon + 1));
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) die("host must be an IPv4 address");
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) die("connect failed");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);

    cap = 1 << 16;
    buf = malloc(cap);
    if (!buf) die("out of memory");
    char get[512];
    int getlen = snprintf(get, sizeof get,
                          "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: %s\r\n"
                          "User-Agent: floor-client\r\n\r\n",
                          api);
    static const char trivial[] = "{\"statusCode\": 200}";
    const char *fixed = trivial;
    size_t fixedlen = sizeof trivial - 1;
    if (argc > 2 && strcmp(argv[1], "file") == 0) {
        FILE *f = fopen(argv[2], "rb");
        if (!f) die("cannot open the response file");
        char *data = NULL;
        size_t n = 0, got;
        char chunk[65536];
        while ((got = fread(chunk, 1, sizeof chunk, f)) > 0) {
            data = realloc(data, n + got);
            if (!data) die("out of memory");
            memcpy(data + n, chunk, got);
            n += got;
        }
        fclose(f);
        fixed = data;
        fixedlen = n;
    }
    char *body = NULL;
    size_t bodycap = 0;

    for (;;) {
        struct iovec g = {get, (size_t)getlen};
        send_all(fd, &g, 1);
        size_t hlen, blen;
        if (!read_message(fd, &hlen, &blen)) return 0;
        char rid[256];
        if (!header(buf, hlen, "lambda-runtime-aws-request-id:", rid, sizeof rid)) die("no request id");
        const char *out = fixed;
        size_t outlen = fixedlen;
        if (echo) {
            if (blen > bodycap) {
                bodycap = blen;
                body = realloc(body, bodycap);
                if (!body) die("out of memory");
            }
            memcpy(body, buf + hlen, blen);
            out = body;
            outlen = blen;
        }
        consume(hlen + blen);
        char head[512];
        int headlen = snprintf(head, sizeof head,
                               "POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: %s\r\n"
                               "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n",
                               rid, api, outlen);
        struct iovec p[2] = {{head, (size_t)headlen}, {(void *)out, outlen}};
        send_all(fd, p, 2);
        if (!read_message(fd, &hlen, &blen)) return 0;
        consume(hlen + blen);
    }
}
