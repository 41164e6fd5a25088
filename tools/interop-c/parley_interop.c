/*
 * parley-interop-c: a Parley client written in plain C11 with protobuf-c and
 * OpenSSL, and nothing from the Swift code base.
 *
 * What it proves: a peer built only from the published .proto files
 * (Protos/parley/wire/v1/wire.proto, Protos/parley/v1/health.proto) and the
 * wire rules can talk to the daemon:
 *
 *   - TCP, then TLS 1.3 with mutual authentication: the server is verified
 *     against --ca (SSL_VERIFY_PEER) and must match --host (an IP address or
 *     a DNS name); the client presents --cert/--key; ALPN offers "parley/1"
 *     and the server must select it.
 *   - Framing: every frame, either direction, is a 4-byte unsigned big-endian
 *     length L (1 <= L <= 4 MiB) followed by L bytes of a serialized
 *     parley.wire.v1.Frame.
 *   - Calls: N pipelined Health/Check calls with strictly increasing call ids
 *     (1..N), a timeout and "request-id" metadata; replies are matched by call
 *     id in whatever order they arrive, each must be final (carry a status),
 *     have code OK, decode as HealthCheckResponse and echo the payload.
 *   - Optionally (--ping) a connection-level Ping that must come back as a
 *     Pong with the same nonce.
 *
 * Usage:
 *   parley-interop-c --host 127.0.0.1 --port 7443 --ca CA.pem
 *                    --cert CLIENT.pem --key CLIENT-KEY.pem
 *                    [--calls N] [--payload TEXT] [--ping]
 *
 * Output: one line per call on stdout, e.g.
 *   call 1: OK status=SERVING principal=admin roles=admin,agent version=0.1.0 payload=ok
 * and "pong 42" for --ping. Diagnostics go to stderr.
 *
 * Exit status:
 *   0  every call returned OK (and, with --ping, the Pong arrived)
 *   1  at least one call failed: non-OK status, undecodable response, or
 *      payload not echoed
 *   2  usage, connection, TLS or protocol error, or a 10 s stall
 *   3  the server sent GoAway
 *
 * I/O design: connect and the TLS handshake run on a blocking socket bounded
 * by SO_RCVTIMEO/SO_SNDTIMEO (10 s). The exchange then switches the socket to
 * non-blocking and runs a small poll() loop that writes the queued calls and
 * reads replies at the same time. All calls are still sent at once without
 * waiting for any reply (pipelined), but because replies are drained while
 * the calls are written, a large --calls cannot deadlock against a server
 * that stops reading while its own writes are blocked. Any 10 s without
 * progress is a timeout (exit 2). Partial reads and writes are the normal
 * case of that loop: incoming bytes go through a small framing state machine
 * that checks each length before allocating the frame's buffer.
 */
#define _POSIX_C_SOURCE 200809L

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "parley/v1/health.pb-c.h"
#include "parley/wire/v1/wire.pb-c.h"

/* ---- Constants ----------------------------------------------------------- */

/* Largest frame body either side may send (the daemon's default limit). */
#define MAX_FRAME_BYTES (4u * 1024u * 1024u)
/* Socket timeouts and the longest the exchange may go without progress. */
#define IO_TIMEOUT_SECONDS 10
/* Call.timeout_ms of every call. */
#define CALL_TIMEOUT_MS 5000u
/* Nonce of the --ping Ping. */
#define PING_NONCE 42u
/* Upper bound on --calls (keeps the per-call bookkeeping small). */
#define MAX_CALLS 1000000ul
/* Encoded calls are queued lazily, up to about this many bytes at a time. */
#define OUT_QUEUE_BYTES (64u * 1024u)

#define HEALTH_CHECK_METHOD "/parley.v1.Health/Check"
#define REQUEST_ID_KEY "request-id"
#define ALPN_PROTOCOL "parley/1"

enum {
    EXIT_ALL_OK = 0,
    EXIT_CALL_FAILED = 1,
    EXIT_ERROR = 2,  /* usage, connection, TLS, protocol, timeout */
    EXIT_GOAWAY = 3,
};

/* Returned by the frame handlers when the exchange should go on. */
#define KEEP_GOING (-1)

/* ---- Command line ------------------------------------------------------- */

struct options {
    const char *host;
    const char *port;
    const char *ca;
    const char *cert;
    const char *key;
    unsigned long calls;
    const uint8_t *payload;
    size_t payload_len;
    bool ping;
};

static void print_usage(FILE *to)
{
    fprintf(to,
            "usage: parley-interop-c --host HOST --port PORT --ca CA.pem\n"
            "                        --cert CLIENT.pem --key CLIENT-KEY.pem\n"
            "                        [--calls N] [--payload TEXT] [--ping]\n"
            "\n"
            "Sends N (default 1) pipelined /parley.v1.Health/Check calls to a\n"
            "Parley daemon over TLS 1.3 (ALPN parley/1, client certificate) and\n"
            "checks every reply. --ping also sends a Ping (nonce %u) first.\n"
            "Exit: 0 all OK, 1 a call failed, 2 usage/connection/TLS/protocol\n"
            "error or timeout, 3 server sent GoAway.\n",
            PING_NONCE);
}

/* Parses argv into opt. Returns KEEP_GOING, or the exit status to end with. */
static int parse_options(int argc, char **argv, struct options *opt)
{
    memset(opt, 0, sizeof *opt);
    opt->calls = 1;
    opt->payload = (const uint8_t *)"";

    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            print_usage(stdout);
            return EXIT_ALL_OK;
        }
        if (strcmp(arg, "--ping") == 0) {
            opt->ping = true;
            continue;
        }

        /* Every other option takes a value. */
        const char **target = NULL;
        const char *calls_text = NULL, *payload_text = NULL;
        if (strcmp(arg, "--host") == 0) target = &opt->host;
        else if (strcmp(arg, "--port") == 0) target = &opt->port;
        else if (strcmp(arg, "--ca") == 0) target = &opt->ca;
        else if (strcmp(arg, "--cert") == 0) target = &opt->cert;
        else if (strcmp(arg, "--key") == 0) target = &opt->key;
        else if (strcmp(arg, "--calls") == 0) target = &calls_text;
        else if (strcmp(arg, "--payload") == 0) target = &payload_text;
        else {
            fprintf(stderr, "parley-interop-c: unknown argument '%s'\n", arg);
            print_usage(stderr);
            return EXIT_ERROR;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "parley-interop-c: %s needs a value\n", arg);
            return EXIT_ERROR;
        }
        *target = argv[++i];

        if (calls_text != NULL) {
            char *end = NULL;
            errno = 0;
            unsigned long n = strtoul(calls_text, &end, 10);
            if (errno != 0 || end == calls_text || *end != '\0' ||
                calls_text[0] == '-' || n < 1 || n > MAX_CALLS) {
                fprintf(stderr, "parley-interop-c: --calls must be 1..%lu, got '%s'\n",
                        MAX_CALLS, calls_text);
                return EXIT_ERROR;
            }
            opt->calls = n;
        }
        if (payload_text != NULL) {
            opt->payload = (const uint8_t *)payload_text;
            opt->payload_len = strlen(payload_text);
        }
    }

    const char *missing = opt->host == NULL ? "--host"
                          : opt->port == NULL ? "--port"
                          : opt->ca == NULL   ? "--ca"
                          : opt->cert == NULL ? "--cert"
                          : opt->key == NULL  ? "--key"
                                              : NULL;
    if (missing != NULL) {
        fprintf(stderr, "parley-interop-c: %s is required\n", missing);
        print_usage(stderr);
        return EXIT_ERROR;
    }

    char *end = NULL;
    errno = 0;
    unsigned long port = strtoul(opt->port, &end, 10);
    if (errno != 0 || end == opt->port || *end != '\0' || opt->port[0] == '-' ||
        port < 1 || port > 65535) {
        fprintf(stderr, "parley-interop-c: --port must be 1..65535, got '%s'\n", opt->port);
        return EXIT_ERROR;
    }
    return KEEP_GOING;
}

/* ---- Small helpers ------------------------------------------------------ */

/* Prints bytes readably: printable ASCII as is, everything else (and '\')
 * as \xNN, so untrusted text from the server cannot garble the terminal. */
static void print_escaped(FILE *to, const uint8_t *data, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        uint8_t c = data[i];
        if (c >= 0x20 && c < 0x7f && c != '\\') fputc(c, to);
        else fprintf(to, "\\x%02x", c);
    }
}

static void print_escaped_string(FILE *to, const char *s)
{
    print_escaped(to, (const uint8_t *)s, strlen(s));
}

/* The name of a protobuf enum value ("OK", "SERVING"), or NULL. */
static const char *enum_name(const ProtobufCEnumDescriptor *descriptor, int value)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value(descriptor, value);
    return v != NULL ? v->name : NULL;
}

/* Prints "NAME(n)" for a wire status code, or just "n" if it is unknown. */
static void print_code(FILE *to, int code)
{
    const char *name = enum_name(&parley__wire__v1__code__descriptor, code);
    if (name != NULL) fprintf(to, "%s(%d)", name, code);
    else fprintf(to, "%d", code);
}

/* Prints a Status: code, message, field violations and retry hint. */
static void print_status(FILE *to, const Parley__Wire__V1__Status *status)
{
    if (status == NULL) {
        fputs("code=<no status>", to);
        return;
    }
    fputs("code=", to);
    print_code(to, (int)status->code);
    fputs(" message=\"", to);
    print_escaped_string(to, status->message);
    fputc('"', to);
    for (size_t i = 0; i < status->n_violations; i++) {
        fputs(" violation=", to);
        print_escaped_string(to, status->violations[i]->field);
        fputs(": ", to);
        print_escaped_string(to, status->violations[i]->description);
    }
    if (status->retry_after_ms != 0)
        fprintf(to, " retry_after_ms=%" PRIu32, status->retry_after_ms);
}

/* Prints a failure headline and then OpenSSL's error queue (and errno if the
 * queue is empty but a system call failed), emptying the queue. */
static void report_tls_error(const char *what, int ssl_error, int saved_errno)
{
    fprintf(stderr, "parley-interop-c: %s", what);
    if (ssl_error == SSL_ERROR_SYSCALL && saved_errno != 0)
        fprintf(stderr, ": %s", strerror(saved_errno));
    else if (ssl_error == SSL_ERROR_SYSCALL)
        fputs(": connection closed unexpectedly", stderr);
    fputc('\n', stderr);
    if (ERR_peek_error() != 0) {
        fputs("OpenSSL error queue:\n", stderr);
        ERR_print_errors_fp(stderr);
    }
}

/* ---- Output buffer and frame encoding ------------------------------------ */

/* A growable byte buffer; bytes [off, len) are still to be written. */
struct buffer {
    uint8_t *data;
    size_t off;
    size_t len;
    size_t cap;
};

static size_t buffer_pending(const struct buffer *b)
{
    return b->len - b->off;
}

/* Makes room for `extra` more bytes, first dropping bytes already written. */
static bool buffer_reserve(struct buffer *b, size_t extra)
{
    if (b->off > 0) {
        memmove(b->data, b->data + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
    }
    if (b->cap - b->len >= extra) return true;
    size_t cap = b->cap != 0 ? b->cap : 4096;
    while (cap - b->len < extra) cap *= 2;
    uint8_t *data = realloc(b->data, cap);
    if (data == NULL) {
        fprintf(stderr, "parley-interop-c: out of memory\n");
        return false;
    }
    b->data = data;
    b->cap = cap;
    return true;
}

/* Serializes `frame` and appends it, length-prefixed, to `out`. */
static bool append_frame(struct buffer *out, const Parley__Wire__V1__Frame *frame)
{
    size_t size = parley__wire__v1__frame__get_packed_size(frame);
    if (size == 0 || size > MAX_FRAME_BYTES) {
        fprintf(stderr, "parley-interop-c: a frame of %zu bytes is outside 1..%u "
                        "(is --payload too large?)\n", size, MAX_FRAME_BYTES);
        return false;
    }
    if (!buffer_reserve(out, 4 + size)) return false;
    uint8_t *p = out->data + out->len;
    p[0] = (uint8_t)(size >> 24);
    p[1] = (uint8_t)(size >> 16);
    p[2] = (uint8_t)(size >> 8);
    p[3] = (uint8_t)size;
    size_t packed = parley__wire__v1__frame__pack(frame, p + 4);
    if (packed != size) {
        fprintf(stderr, "parley-interop-c: packed %zu bytes, expected %zu\n", packed, size);
        return false;
    }
    out->len += 4 + size;
    return true;
}

/* Appends the Health/Check call with id `call_id`. */
static bool append_call(struct buffer *out, uint32_t call_id, const struct options *opt)
{
    /* The request message, serialized into Call.request. */
    Parley__V1__HealthCheckRequest request = PARLEY__V1__HEALTH_CHECK_REQUEST__INIT;
    request.payload.data = (uint8_t *)opt->payload; /* only read by pack */
    request.payload.len = opt->payload_len;
    size_t request_len = parley__v1__health_check_request__get_packed_size(&request);
    uint8_t *request_bytes = malloc(request_len > 0 ? request_len : 1);
    if (request_bytes == NULL) {
        fprintf(stderr, "parley-interop-c: out of memory\n");
        return false;
    }
    parley__v1__health_check_request__pack(&request, request_bytes);

    /* protobuf-c wants non-const char *, so use writable copies. */
    char method[] = HEALTH_CHECK_METHOD;
    char key[] = REQUEST_ID_KEY;
    char request_id[32];
    snprintf(request_id, sizeof request_id, "interop-c-%" PRIu32, call_id);

    Parley__Wire__V1__Call__MetadataEntry entry = PARLEY__WIRE__V1__CALL__METADATA_ENTRY__INIT;
    entry.key = key;
    entry.value = request_id;
    Parley__Wire__V1__Call__MetadataEntry *metadata[] = {&entry};

    Parley__Wire__V1__Call call = PARLEY__WIRE__V1__CALL__INIT;
    call.method = method;
    call.request.data = request_bytes;
    call.request.len = request_len;
    call.timeout_ms = CALL_TIMEOUT_MS;
    call.n_metadata = 1;
    call.metadata = metadata;

    Parley__Wire__V1__Frame frame = PARLEY__WIRE__V1__FRAME__INIT;
    frame.call_id = call_id;
    frame.kind_case = PARLEY__WIRE__V1__FRAME__KIND_CALL;
    frame.call = &call;

    bool ok = append_frame(out, &frame);
    free(request_bytes);
    return ok;
}

/* Appends a connection-level (call_id 0) Ping or Pong. */
static bool append_ping_or_pong(struct buffer *out, bool pong, uint64_t nonce)
{
    Parley__Wire__V1__Frame frame = PARLEY__WIRE__V1__FRAME__INIT;
    Parley__Wire__V1__Ping ping = PARLEY__WIRE__V1__PING__INIT;
    Parley__Wire__V1__Pong pong_message = PARLEY__WIRE__V1__PONG__INIT;
    frame.call_id = 0;
    if (pong) {
        pong_message.nonce = nonce;
        frame.kind_case = PARLEY__WIRE__V1__FRAME__KIND_PONG;
        frame.pong = &pong_message;
    } else {
        ping.nonce = nonce;
        frame.kind_case = PARLEY__WIRE__V1__FRAME__KIND_PING;
        frame.ping = &ping;
    }
    return append_frame(out, &frame);
}

/* ---- The exchange --------------------------------------------------------- */

struct session {
    const struct options *opt;
    SSL *ssl;
    int fd;

    /* Outgoing: encoded frames not yet written, and the next call id to
     * encode (calls 1..opt->calls are encoded lazily as the queue drains). */
    struct buffer out;
    uint32_t next_call;

    /* Incoming framing state: the length prefix, then the frame body. */
    uint8_t header[4];
    size_t header_have;
    uint8_t *body; /* NULL while reading a length prefix */
    size_t body_len;
    size_t body_have;

    /* Results. finished[i] is true once call i got its final Reply. */
    bool *finished;
    unsigned long finished_count;
    unsigned long failed_count;
    bool pong_seen;
};

/* Handles a Reply for `call_id`. Returns KEEP_GOING or an exit status. */
static int handle_reply(struct session *s, uint32_t call_id, const Parley__Wire__V1__Reply *reply)
{
    if (call_id == 0 || call_id >= s->next_call) {
        fprintf(stderr, "parley-interop-c: protocol error: Reply for call id %" PRIu32
                        ", which was never sent\n", call_id);
        return EXIT_ERROR;
    }
    if (s->finished[call_id]) {
        fprintf(stderr, "parley-interop-c: protocol error: second final Reply for call %" PRIu32
                        "\n", call_id);
        return EXIT_ERROR;
    }
    if (reply->status == NULL) {
        /* Only a streaming call may get Replies without status. */
        fprintf(stderr, "parley-interop-c: protocol error: call %" PRIu32 " (unary "
                        HEALTH_CHECK_METHOD ") got a Reply without status\n", call_id);
        return EXIT_ERROR;
    }
    s->finished[call_id] = true;
    s->finished_count++;

    const Parley__Wire__V1__Status *status = reply->status;
    if (status->code != PARLEY__WIRE__V1__CODE__OK) {
        s->failed_count++;
        printf("call %" PRIu32 ": FAILED ", call_id);
        print_status(stdout, status);
        putchar('\n');
        return KEEP_GOING;
    }

    Parley__V1__HealthCheckResponse *response =
        parley__v1__health_check_response__unpack(NULL, reply->response.len, reply->response.data);
    if (response == NULL) {
        s->failed_count++;
        printf("call %" PRIu32 ": FAILED status OK but the %zu-byte response is not a "
               "HealthCheckResponse\n", call_id, reply->response.len);
        return KEEP_GOING;
    }

    bool echoed = response->payload.len == s->opt->payload_len &&
                  (s->opt->payload_len == 0 ||
                   memcmp(response->payload.data, s->opt->payload, s->opt->payload_len) == 0);
    if (!echoed) s->failed_count++;

    printf("call %" PRIu32 ": %s status=", call_id, echoed ? "OK" : "FAILED");
    const char *serving = enum_name(&parley__v1__serving_status__descriptor, (int)response->status);
    if (serving != NULL) fputs(serving, stdout);
    else printf("%d", (int)response->status);
    fputs(" principal=", stdout);
    print_escaped_string(stdout, response->principal);
    fputs(" roles=", stdout);
    for (size_t i = 0; i < response->n_roles; i++) {
        if (i > 0) putchar(',');
        print_escaped_string(stdout, response->roles[i]);
    }
    fputs(" version=", stdout);
    print_escaped_string(stdout, response->version);
    fputs(" payload=", stdout);
    print_escaped(stdout, response->payload.data, response->payload.len);
    if (!echoed) {
        fputs(" (payload not echoed; sent ", stdout);
        print_escaped(stdout, s->opt->payload, s->opt->payload_len);
        putchar(')');
    }
    putchar('\n');

    parley__v1__health_check_response__free_unpacked(response, NULL);
    return KEEP_GOING;
}

/* Decodes and handles one complete frame body. Returns KEEP_GOING or an exit
 * status. */
static int handle_frame(struct session *s, const uint8_t *body, size_t len)
{
    Parley__Wire__V1__Frame *frame = parley__wire__v1__frame__unpack(NULL, len, body);
    if (frame == NULL) {
        fprintf(stderr, "parley-interop-c: protocol error: a %zu-byte frame does not decode "
                        "as parley.wire.v1.Frame\n", len);
        return EXIT_ERROR;
    }

    int rc = KEEP_GOING;
    switch (frame->kind_case) {
    case PARLEY__WIRE__V1__FRAME__KIND_REPLY:
        rc = handle_reply(s, frame->call_id, frame->reply);
        break;

    case PARLEY__WIRE__V1__FRAME__KIND_PONG:
        /* Only the Pong answering our own Ping matters; others are ignored. */
        if (s->opt->ping && !s->pong_seen && frame->pong->nonce == PING_NONCE) {
            s->pong_seen = true;
            printf("pong %" PRIu64 "\n", frame->pong->nonce);
        }
        break;

    case PARLEY__WIRE__V1__FRAME__KIND_PING:
        /* The server probes us: answer with the same nonce. */
        if (!append_ping_or_pong(&s->out, true, frame->ping->nonce)) rc = EXIT_ERROR;
        break;

    case PARLEY__WIRE__V1__FRAME__KIND_GO_AWAY:
        fflush(stdout);
        fprintf(stderr, "parley-interop-c: server sent GoAway: last_call_id=%" PRIu32 " ",
                frame->go_away->last_call_id);
        print_status(stderr, frame->go_away->status);
        fputc('\n', stderr);
        rc = EXIT_GOAWAY;
        break;

    case PARLEY__WIRE__V1__FRAME__KIND_CALL:
    case PARLEY__WIRE__V1__FRAME__KIND_CANCEL:
        fprintf(stderr, "parley-interop-c: protocol error: the server sent a %s frame\n",
                frame->kind_case == PARLEY__WIRE__V1__FRAME__KIND_CALL ? "Call" : "Cancel");
        rc = EXIT_ERROR;
        break;

    default:
        /* A kind newer than this program's wire.proto: skip it. */
        fprintf(stderr, "parley-interop-c: ignoring a frame of unknown kind (call id %" PRIu32
                        ")\n", frame->call_id);
        break;
    }

    parley__wire__v1__frame__free_unpacked(frame, NULL);
    return rc;
}

/* Feeds bytes read from the connection through the framing state machine,
 * handling each frame as it completes. Frame lengths are checked before the
 * body is allocated. Returns KEEP_GOING or an exit status. */
static int feed(struct session *s, const uint8_t *data, size_t len)
{
    while (len > 0) {
        if (s->body == NULL) {
            size_t take = 4 - s->header_have;
            if (take > len) take = len;
            memcpy(s->header + s->header_have, data, take);
            s->header_have += take;
            data += take;
            len -= take;
            if (s->header_have < 4) break;

            uint32_t frame_len = (uint32_t)s->header[0] << 24 | (uint32_t)s->header[1] << 16 |
                                 (uint32_t)s->header[2] << 8 | (uint32_t)s->header[3];
            s->header_have = 0;
            if (frame_len < 1 || frame_len > MAX_FRAME_BYTES) {
                fprintf(stderr, "parley-interop-c: protocol error: the server announced a "
                                "frame of %" PRIu32 " bytes (allowed: 1..%u)\n",
                        frame_len, MAX_FRAME_BYTES);
                return EXIT_ERROR;
            }
            s->body = malloc(frame_len);
            if (s->body == NULL) {
                fprintf(stderr, "parley-interop-c: out of memory\n");
                return EXIT_ERROR;
            }
            s->body_len = frame_len;
            s->body_have = 0;
        } else {
            size_t take = s->body_len - s->body_have;
            if (take > len) take = len;
            memcpy(s->body + s->body_have, data, take);
            s->body_have += take;
            data += take;
            len -= take;
            if (s->body_have < s->body_len) break;

            int rc = handle_frame(s, s->body, s->body_len);
            free(s->body);
            s->body = NULL;
            if (rc != KEEP_GOING) return rc;
        }
    }
    return KEEP_GOING;
}

/* True once every call has its final Reply and, with --ping, the Pong came. */
static bool exchange_done(const struct session *s)
{
    return s->finished_count == s->opt->calls && (!s->opt->ping || s->pong_seen);
}

/* Encodes more calls while the outgoing queue is short. */
static bool refill(struct session *s)
{
    while (s->next_call <= s->opt->calls && buffer_pending(&s->out) < OUT_QUEUE_BYTES) {
        if (!append_call(&s->out, s->next_call, s->opt)) return false;
        s->next_call++;
    }
    return true;
}

/* Writes the calls and reads the replies on the non-blocking socket until
 * done. Returns KEEP_GOING when done, otherwise an exit status. */
static int exchange(struct session *s)
{
    uint8_t chunk[16 * 1024];

    for (;;) {
        if (exchange_done(s)) return KEEP_GOING;
        if (!refill(s)) return EXIT_ERROR;

        bool progress = false;
        short events = 0;

        /* Write as much of the queue as the socket takes (maybe a part). */
        if (buffer_pending(&s->out) > 0) {
            size_t written = 0;
            ERR_clear_error();
            errno = 0;
            if (SSL_write_ex(s->ssl, s->out.data + s->out.off, buffer_pending(&s->out), &written)) {
                s->out.off += written;
                progress = true;
            } else {
                int saved_errno = errno;
                int err = SSL_get_error(s->ssl, 0);
                if (err == SSL_ERROR_WANT_WRITE) events |= POLLOUT;
                else if (err == SSL_ERROR_WANT_READ) events |= POLLIN;
                else {
                    /* In TLS 1.3 the server checks our certificate after the
                     * handshake, so a rejection often surfaces as a reset
                     * here rather than as a readable alert. */
                    report_tls_error(saved_errno == ECONNRESET || saved_errno == EPIPE
                                         ? "TLS write failed (did the server reject the "
                                           "client certificate?)"
                                         : "TLS write failed",
                                     err, saved_errno);
                    return EXIT_ERROR;
                }
            }
        }

        /* Read whatever has arrived (maybe a fraction of a frame). */
        size_t got = 0;
        ERR_clear_error();
        errno = 0;
        if (SSL_read_ex(s->ssl, chunk, sizeof chunk, &got)) {
            progress = true;
            int rc = feed(s, chunk, got);
            if (rc != KEEP_GOING) return rc;
        } else {
            int saved_errno = errno;
            int err = SSL_get_error(s->ssl, 0);
            if (err == SSL_ERROR_WANT_READ) events |= POLLIN;
            else if (err == SSL_ERROR_WANT_WRITE) events |= POLLOUT;
            else if (err == SSL_ERROR_ZERO_RETURN) {
                fprintf(stderr, "parley-interop-c: the server closed the connection with %lu "
                                "of %lu replies outstanding\n",
                        s->opt->calls - s->finished_count, s->opt->calls);
                return EXIT_ERROR;
            } else {
                unsigned long last = ERR_peek_last_error();
                if (err == SSL_ERROR_SSL && ERR_GET_LIB(last) == ERR_LIB_SSL &&
                    ERR_GET_REASON(last) == SSL_R_UNEXPECTED_EOF_WHILE_READING)
                    fprintf(stderr, "parley-interop-c: the server dropped the connection "
                                    "(no close_notify) with %lu of %lu replies outstanding\n",
                            s->opt->calls - s->finished_count, s->opt->calls);
                /* A rejected client certificate shows up here, as an alert
                 * after the TLS 1.3 handshake, e.g. "certificate required". */
                report_tls_error("TLS read failed", err, saved_errno);
                return EXIT_ERROR;
            }
        }

        if (progress) continue;

        /* Nothing moved: wait for the socket, but never longer than 10 s. */
        struct pollfd pfd = {.fd = s->fd, .events = events, .revents = 0};
        int ready = poll(&pfd, 1, IO_TIMEOUT_SECONDS * 1000);
        if (ready == 0) {
            fprintf(stderr, "parley-interop-c: timed out: nothing received for %d s "
                            "(%lu of %lu replies outstanding%s)\n",
                    IO_TIMEOUT_SECONDS, s->opt->calls - s->finished_count, s->opt->calls,
                    s->opt->ping && !s->pong_seen ? ", Pong not received" : "");
            return EXIT_ERROR;
        }
        if (ready < 0 && errno != EINTR) {
            fprintf(stderr, "parley-interop-c: poll: %s\n", strerror(errno));
            return EXIT_ERROR;
        }
    }
}

/* ---- Connection setup ---------------------------------------------------- */

/* Opens a TCP connection to host:port with 10 s send/receive timeouts (on
 * Linux SO_SNDTIMEO also bounds connect()). Returns the socket or -1. */
static int connect_tcp(const char *host, const char *port)
{
    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;

    struct addrinfo *addresses = NULL;
    int gai = getaddrinfo(host, port, &hints, &addresses);
    if (gai != 0) {
        fprintf(stderr, "parley-interop-c: cannot resolve %s: %s\n", host, gai_strerror(gai));
        return -1;
    }

    int fd = -1, last_errno = 0;
    for (struct addrinfo *a = addresses; a != NULL; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (fd < 0) {
            last_errno = errno;
            continue;
        }
        struct timeval timeout = {.tv_sec = IO_TIMEOUT_SECONDS, .tv_usec = 0};
        if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout) != 0 ||
            setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout) != 0 ||
            connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
            last_errno = errno;
            close(fd);
            fd = -1;
            continue;
        }
        break;
    }
    freeaddrinfo(addresses);

    if (fd < 0) {
        fprintf(stderr, "parley-interop-c: cannot connect to %s port %s: %s\n", host, port,
                last_errno == EINPROGRESS || last_errno == EAGAIN
                    ? "timed out"
                    : strerror(last_errno));
    }
    return fd;
}

/* True if `host` is an IPv4 or IPv6 address literal. */
static bool is_ip_literal(const char *host)
{
    unsigned char address[16];
    return inet_pton(AF_INET, host, address) == 1 || inet_pton(AF_INET6, host, address) == 1;
}

/* Builds the TLS context: TLS 1.3 only, trust only --ca, client cert/key.
 * Returns NULL after reporting the error. */
static SSL_CTX *make_tls_context(const struct options *opt)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        report_tls_error("cannot create the TLS context", SSL_ERROR_SSL, 0);
        return NULL;
    }
    const char *failed = NULL;
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION) != 1)
        failed = "cannot require TLS 1.3";
    else if (SSL_CTX_load_verify_locations(ctx, opt->ca, NULL) != 1)
        failed = "cannot load the CA certificates (--ca)";
    else if (SSL_CTX_use_certificate_chain_file(ctx, opt->cert) != 1)
        failed = "cannot load the client certificate (--cert)";
    else if (SSL_CTX_use_PrivateKey_file(ctx, opt->key, SSL_FILETYPE_PEM) != 1)
        failed = "cannot load the client key (--key)";
    else if (SSL_CTX_check_private_key(ctx) != 1)
        failed = "the client key does not match the client certificate";
    if (failed != NULL) {
        report_tls_error(failed, SSL_ERROR_SSL, 0);
        SSL_CTX_free(ctx);
        return NULL;
    }

    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    /* The exchange loop writes whatever the socket takes and may grow (move)
     * its queue between a blocked write and its retry. */
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return ctx;
}

/* Runs the TLS handshake on the (still blocking) socket and checks the
 * negotiated protocol and ALPN. Returns the SSL or NULL after reporting. */
static SSL *tls_handshake(SSL_CTX *ctx, int fd, const struct options *opt)
{
    static const unsigned char alpn[] = "\x08" ALPN_PROTOCOL; /* length-prefixed list */

    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL) {
        report_tls_error("cannot create the TLS connection", SSL_ERROR_SSL, 0);
        return NULL;
    }

    /* The server certificate must name --host (as IP SAN or DNS name). */
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    bool ok;
    if (is_ip_literal(opt->host)) {
        ok = X509_VERIFY_PARAM_set1_ip_asc(param, opt->host) == 1;
    } else {
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        ok = X509_VERIFY_PARAM_set1_host(param, opt->host, 0) == 1 &&
             SSL_set_tlsext_host_name(ssl, opt->host) == 1; /* SNI: names only */
    }
    /* Note: SSL_set_alpn_protos returns 0 on success. */
    ok = ok && SSL_set_alpn_protos(ssl, alpn, sizeof alpn - 1) == 0 && SSL_set_fd(ssl, fd) == 1;
    if (!ok) {
        report_tls_error("cannot configure the TLS connection", SSL_ERROR_SSL, 0);
        SSL_free(ssl);
        return NULL;
    }

    ERR_clear_error();
    errno = 0;
    int rc = SSL_connect(ssl);
    if (rc != 1) {
        int saved_errno = errno;
        int err = SSL_get_error(ssl, rc);
        long verify = SSL_get_verify_result(ssl);
        if (err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE ||
            (err == SSL_ERROR_SYSCALL && (saved_errno == EAGAIN || saved_errno == EWOULDBLOCK))) {
            fprintf(stderr, "parley-interop-c: TLS handshake timed out after %d s\n",
                    IO_TIMEOUT_SECONDS);
        } else {
            report_tls_error("TLS handshake failed", err, saved_errno);
        }
        if (verify != X509_V_OK)
            fprintf(stderr, "parley-interop-c: server certificate verification failed: %s\n",
                    X509_verify_cert_error_string(verify));
        SSL_free(ssl);
        return NULL;
    }

    /* Belt and braces: SSL_VERIFY_PEER already aborted on a bad chain. */
    if (SSL_get_verify_result(ssl) != X509_V_OK || SSL_version(ssl) != TLS1_3_VERSION) {
        fprintf(stderr, "parley-interop-c: TLS check failed (verify: %s, version: %s)\n",
                X509_verify_cert_error_string(SSL_get_verify_result(ssl)), SSL_get_version(ssl));
        SSL_free(ssl);
        return NULL;
    }

    const unsigned char *selected = NULL;
    unsigned int selected_len = 0;
    SSL_get0_alpn_selected(ssl, &selected, &selected_len);
    if (selected_len != sizeof alpn - 2 || memcmp(selected, ALPN_PROTOCOL, selected_len) != 0) {
        fprintf(stderr, "parley-interop-c: the server did not select ALPN \"" ALPN_PROTOCOL
                        "\" (selected: ");
        if (selected_len == 0) fputs("none", stderr);
        else print_escaped(stderr, selected, selected_len);
        fputs(")\n", stderr);
        SSL_free(ssl);
        return NULL;
    }

    fprintf(stderr, "parley-interop-c: connected to %s port %s: %s %s, ALPN %s\n", opt->host,
            opt->port, SSL_get_version(ssl), SSL_get_cipher_name(ssl), ALPN_PROTOCOL);
    return ssl;
}

/* ---- main ---------------------------------------------------------------- */

/* Connects, runs the exchange and returns the exit status; frees everything
 * it made on every path. */
static int run(const struct options *opt)
{
    int status = EXIT_ERROR;
    SSL_CTX *ctx = NULL;
    struct session s;
    memset(&s, 0, sizeof s);
    s.opt = opt;
    s.fd = -1;
    s.next_call = 1;

    /* Encode the last (largest) call once up front so an oversized --payload
     * is a usage error before anything touches the network. */
    if (!append_call(&s.out, (uint32_t)opt->calls, opt)) goto done;
    s.out.len = s.out.off = 0;

    s.finished = calloc(opt->calls + 1, sizeof *s.finished);
    if (s.finished == NULL) {
        fprintf(stderr, "parley-interop-c: out of memory\n");
        goto done;
    }

    ctx = make_tls_context(opt);
    if (ctx == NULL) goto done;
    s.fd = connect_tcp(opt->host, opt->port);
    if (s.fd < 0) goto done;
    s.ssl = tls_handshake(ctx, s.fd, opt);
    if (s.ssl == NULL) goto done;

    /* From here on the socket is non-blocking; see the I/O design note. */
    int flags = fcntl(s.fd, F_GETFL);
    if (flags < 0 || fcntl(s.fd, F_SETFL, flags | O_NONBLOCK) < 0) {
        fprintf(stderr, "parley-interop-c: fcntl: %s\n", strerror(errno));
        goto done;
    }

    if (opt->ping && !append_ping_or_pong(&s.out, false, PING_NONCE)) goto done;

    int rc = exchange(&s);
    if (rc != KEEP_GOING) {
        status = rc;
        goto done;
    }
    status = s.failed_count == 0 ? EXIT_ALL_OK : EXIT_CALL_FAILED;
    if (status == EXIT_CALL_FAILED)
        fprintf(stderr, "parley-interop-c: %lu of %lu calls failed\n", s.failed_count, opt->calls);

    /* Say goodbye politely; one attempt, the outcome does not matter. */
    ERR_clear_error();
    (void)SSL_shutdown(s.ssl);

done:
    ERR_clear_error();
    if (s.ssl != NULL) SSL_free(s.ssl);
    if (ctx != NULL) SSL_CTX_free(ctx);
    if (s.fd >= 0) close(s.fd);
    free(s.body);
    free(s.out.data);
    free(s.finished);
    fflush(stdout);
    return status;
}

int main(int argc, char **argv)
{
    struct options opt;
    int rc = parse_options(argc, argv, &opt);
    if (rc != KEEP_GOING) return rc;

    /* A write to a connection the server closed must fail, not kill us. */
    signal(SIGPIPE, SIG_IGN);

    return run(&opt);
}
