/*
 * libvirt_driver_nwfilter.so for a monolithic libvirtd 9.0: libvirt's nwfilter driver replaced by a forwarder to
 * nwfilterd (docs/design/libvirt-daemon.md, "The monolithic bridge").
 *
 * libvirtd loads this module in place of its own nwfilter driver and calls nwfilterRegister(). We register
 *   - a connection driver for nwfilter:///system (what libvirt's qemu driver opens at every NIC start, hotplug,
 *     restore, destroy and reconnect), and
 *   - the shared nwfilter driver (so `virsh -c qemu:///system nwfilter-*` reaches nwfilterd too).
 * Every call is forwarded, through libvirt's own remote driver, over one inner connection to
 *   nwfilter+ext://localhost/system?command=<nwfilter-bridge>
 * libvirtd runs nwfilter-bridge (beside this module) and speaks RPC over its stdio; the bridge joins stdio to
 * nwfilterd's Unix socket. Objects the inner connection returns are re-made for the caller's connection with
 * libvirt's private virGetNWFilter/virGetNWFilterBinding. Errors are the ones nwfilterd sent (code, domain, text),
 * kept across our own clean-up calls.
 *
 * The inner connection is shared by all callers, reopened when it has died (nwfilterd restarted), and a call that
 * failed because it died is sent once more on the new connection. Opening it makes libvirt probe the connection
 * drivers again: the thread that opens it declines its own nwfilter URI (else it would recurse into itself and
 * deadlock on the lock it holds).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "libvirt-internal.h"

#ifndef NWB_LIBVIRT_VERSION
#error "NWB_LIBVIRT_VERSION (the libvirt release built against, e.g. 9000000) is set by the Makefile"
#endif

#define NWB_ERROR(code, ...) virReportErrorHelper(VIR_FROM_NWFILTER, (code), __FILE__, __func__, __LINE__, __VA_ARGS__)

static pthread_mutex_t nwb_lock = PTHREAD_MUTEX_INITIALIZER;
static virConnectPtr nwb_inner;         /* the one connection to nwfilterd, under nwb_lock */
static __thread int nwb_opening;        /* this thread is opening nwb_inner: decline our own URI */
static char nwb_bridge[PATH_MAX];       /* the bridge command */
static char nwb_uri[PATH_MAX * 3 + 64]; /* nwfilter+ext://localhost/system?command=... */

/* ---------- the inner connection ---------- */

/* Runs f with libvirt's last error kept: the public calls we clean up with reset it. */
#define NWB_KEEP_ERROR(stmt)                                                                                         \
    do {                                                                                                             \
        virErrorPtr nwb_saved_;                                                                                      \
        virErrorPreserveLast(&nwb_saved_);                                                                           \
        stmt;                                                                                                        \
        virErrorRestore(&nwb_saved_);                                                                                \
    } while (0)

static int nwb_alive(virConnectPtr c)
{
    int alive;
    NWB_KEEP_ERROR(alive = virConnectIsAlive(c));
    return alive == 1;
}

static void nwb_explain_open_failure(void);

/* A reference to the inner connection, opened (again) if there is none or it died; NULL with libvirt's error set. */
static virConnectPtr nwb_acquire(void)
{
    virConnectPtr c;
    pthread_mutex_lock(&nwb_lock);
    if (nwb_inner && !nwb_alive(nwb_inner)) {
        NWB_KEEP_ERROR(virConnectClose(nwb_inner));
        nwb_inner = NULL;
    }
    if (!nwb_inner) {
        if (access(nwb_bridge, X_OK) != 0) {
            int e = errno;
            pthread_mutex_unlock(&nwb_lock);
            NWB_ERROR(VIR_ERR_INTERNAL_ERROR, "nwfilter bridge command '%s' cannot be run: %s (set NWFILTER_BRIDGE in "
                      "libvirtd's environment, or install nwfilter-bridge beside the module)", nwb_bridge, strerror(e));
            return NULL;
        }
        nwb_opening = 1;
        nwb_inner = virConnectOpen(nwb_uri);
        nwb_opening = 0;
    }
    c = nwb_inner;
    if (c)
        virConnectRef(c);
    pthread_mutex_unlock(&nwb_lock);
    if (!c)
        nwb_explain_open_failure();
    return c;
}

extern char **environ;

/*
 * After a failed open: libvirt's error says why only when its reader saw the bridge's line before the connection was
 * marked closed; otherwise it is "client socket is closed". Then `nwfilter-bridge --check` (run only here) names the
 * reason: the socket and why it cannot be reached.
 */
static void nwb_explain_open_failure(void)
{
    virErrorPtr err = virGetLastError();
    posix_spawn_file_actions_t actions;
    char *argv[] = { nwb_bridge, (char *)"--check", NULL };
    char why[512];
    ssize_t n, got = 0;
    int pipefd[2], status = 0, spawned;
    pid_t pid;
    if (err && err->message && strstr(err->message, "nwfilter-bridge:"))
        return;
    if (pipe2(pipefd, O_CLOEXEC) < 0)
        return;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_adddup2(&actions, pipefd[1], STDERR_FILENO);
    spawned = posix_spawn(&pid, nwb_bridge, &actions, NULL, argv, environ) == 0;
    posix_spawn_file_actions_destroy(&actions);
    close(pipefd[1]);
    while (spawned && got < (ssize_t)sizeof(why) - 1 && (n = read(pipefd[0], why + got, sizeof(why) - 1 - (size_t)got)) != 0) {
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            break;
        got += n;
    }
    close(pipefd[0]);
    if (!spawned || waitpid(pid, &status, 0) < 0 || (WIFEXITED(status) && WEXITSTATUS(status) == 0) || got == 0)
        return; /* reachable now, or no better reason: keep libvirt's error */
    why[got] = '\0';
    why[strcspn(why, "\n")] = '\0';
    NWB_ERROR(VIR_ERR_OPERATION_FAILED, "nwfilterd is not reachable: %s", why);
}

static void nwb_release(virConnectPtr c)
{
    if (c)
        NWB_KEEP_ERROR(virConnectClose(c));
}

/*
 * After a failed call: if the failure was the connection dying (nwfilterd restarted, its bridge gone), swap *c for a
 * new connection and say so (the caller sends the call once more). Otherwise keep the call's own error.
 */
static int nwb_reconnect(virConnectPtr *c)
{
    if (nwb_alive(*c))
        return 0;
    nwb_release(*c);
    *c = nwb_acquire();
    return *c != NULL;
}

/* Calls EXPR (which uses `in`) and, if it failed with the connection lost, once more over a new connection. */
#define NWB_CALL(result, failed, expr)                                                                               \
    do {                                                                                                             \
        (result) = (expr);                                                                                           \
        if ((failed) && nwb_reconnect(&in))                                                                          \
            (result) = (expr);                                                                                       \
    } while (0)

/* ---------- objects: the inner connection's made the caller's ---------- */

static virNWFilterPtr nwb_wrap_filter(virConnectPtr conn, virNWFilterPtr inner)
{
    unsigned char uuid[VIR_UUID_BUFLEN];
    virNWFilterPtr ret = NULL;
    const char *name;
    if (!inner)
        return NULL;
    name = virNWFilterGetName(inner);
    if (name && virNWFilterGetUUID(inner, uuid) == 0)
        ret = virGetNWFilter(conn, name, uuid);
    NWB_KEEP_ERROR(virNWFilterFree(inner));
    return ret;
}

static virNWFilterBindingPtr nwb_wrap_binding(virConnectPtr conn, virNWFilterBindingPtr inner)
{
    virNWFilterBindingPtr ret = NULL;
    const char *port, *filter;
    if (!inner)
        return NULL;
    port = virNWFilterBindingGetPortDev(inner);
    filter = virNWFilterBindingGetFilterName(inner);
    if (port && filter)
        ret = virGetNWFilterBinding(conn, port, filter);
    NWB_KEEP_ERROR(virNWFilterBindingFree(inner));
    return ret;
}

/* The inner connection's filter for the caller's (by UUID, as libvirt's driver finds it). */
static virNWFilterPtr nwb_inner_filter(virConnectPtr *inp, virNWFilterPtr outer)
{
    unsigned char uuid[VIR_UUID_BUFLEN];
    virConnectPtr in = *inp;
    virNWFilterPtr f;
    if (virNWFilterGetUUID(outer, uuid) < 0)
        return NULL;
    NWB_CALL(f, f == NULL, virNWFilterLookupByUUID(in, uuid));
    *inp = in;
    return f;
}

static virNWFilterBindingPtr nwb_inner_binding(virConnectPtr *inp, virNWFilterBindingPtr outer)
{
    virConnectPtr in = *inp;
    virNWFilterBindingPtr b;
    const char *port = virNWFilterBindingGetPortDev(outer);
    char copy[256];
    if (!port)
        return NULL;
    snprintf(copy, sizeof(copy), "%s", port);
    NWB_CALL(b, b == NULL, virNWFilterBindingLookupByPortDev(in, copy));
    *inp = in;
    return b;
}

/* ---------- the nwfilter driver ---------- */

static int nwbNumOfNWFilters(virConnectPtr conn)
{
    virConnectPtr in = nwb_acquire();
    int n;
    (void)conn;
    if (!in)
        return -1;
    NWB_CALL(n, n < 0, virConnectNumOfNWFilters(in));
    nwb_release(in);
    return n;
}

static int nwbListNWFilters(virConnectPtr conn, char **const names, int maxnames)
{
    virConnectPtr in = nwb_acquire();
    int n;
    (void)conn;
    if (!in)
        return -1;
    NWB_CALL(n, n < 0, virConnectListNWFilters(in, names, maxnames));
    nwb_release(in);
    return n;
}

static int nwbListAllNWFilters(virConnectPtr conn, virNWFilterPtr **filters, unsigned int flags)
{
    virConnectPtr in = nwb_acquire();
    virNWFilterPtr *list = NULL, *out = NULL;
    int n, i, made = 0;
    if (!in)
        return -1;
    NWB_CALL(n, n < 0, virConnectListAllNWFilters(in, filters ? &list : NULL, flags));
    if (n >= 0 && filters) {
        out = calloc((size_t)n + 1, sizeof(*out));
        for (i = 0; out && i < n; i++) {
            if (!(out[i] = nwb_wrap_filter(conn, list[i])))
                break;
            made++;
            list[i] = NULL;
        }
        for (i = 0; i < n; i++)
            if (list[i])
                NWB_KEEP_ERROR(virNWFilterFree(list[i]));
        free(list);
        if (made != n) {
            for (i = 0; out && i < made; i++)
                NWB_KEEP_ERROR(virNWFilterFree(out[i]));
            free(out);
            if (!out)
                NWB_ERROR(VIR_ERR_NO_MEMORY, "out of memory");
            n = -1;
        } else {
            *filters = out;
        }
    }
    nwb_release(in);
    return n;
}

static virNWFilterPtr nwbLookupByName(virConnectPtr conn, const char *name)
{
    virConnectPtr in = nwb_acquire();
    virNWFilterPtr f;
    if (!in)
        return NULL;
    NWB_CALL(f, f == NULL, virNWFilterLookupByName(in, name));
    f = nwb_wrap_filter(conn, f);
    nwb_release(in);
    return f;
}

static virNWFilterPtr nwbLookupByUUID(virConnectPtr conn, const unsigned char *uuid)
{
    virConnectPtr in = nwb_acquire();
    virNWFilterPtr f;
    if (!in)
        return NULL;
    NWB_CALL(f, f == NULL, virNWFilterLookupByUUID(in, uuid));
    f = nwb_wrap_filter(conn, f);
    nwb_release(in);
    return f;
}

static virNWFilterPtr nwbDefineXMLFlags(virConnectPtr conn, const char *xml, unsigned int flags)
{
    virConnectPtr in = nwb_acquire();
    virNWFilterPtr f;
    if (!in)
        return NULL;
    /* flags 0 goes as NWFILTER_DEFINE_XML (what libvirt's client sends for virNWFilterDefineXML) */
    NWB_CALL(f, f == NULL, flags ? virNWFilterDefineXMLFlags(in, xml, flags) : virNWFilterDefineXML(in, xml));
    f = nwb_wrap_filter(conn, f);
    nwb_release(in);
    return f;
}

static virNWFilterPtr nwbDefineXML(virConnectPtr conn, const char *xml)
{
    return nwbDefineXMLFlags(conn, xml, 0);
}

static int nwbUndefine(virNWFilterPtr outer)
{
    virConnectPtr in = nwb_acquire();
    virNWFilterPtr f;
    int rc = -1;
    if (!in)
        return -1;
    if ((f = nwb_inner_filter(&in, outer))) {
        rc = virNWFilterUndefine(f);
        NWB_KEEP_ERROR(virNWFilterFree(f));
    }
    nwb_release(in);
    return rc;
}

static char *nwbGetXMLDesc(virNWFilterPtr outer, unsigned int flags)
{
    virConnectPtr in = nwb_acquire();
    virNWFilterPtr f;
    char *xml = NULL;
    if (!in)
        return NULL;
    if ((f = nwb_inner_filter(&in, outer))) {
        xml = virNWFilterGetXMLDesc(f, flags);
        NWB_KEEP_ERROR(virNWFilterFree(f));
    }
    nwb_release(in);
    return xml;
}

static int nwbListAllBindings(virConnectPtr conn, virNWFilterBindingPtr **bindings, unsigned int flags)
{
    virConnectPtr in = nwb_acquire();
    virNWFilterBindingPtr *list = NULL, *out = NULL;
    int n, i, made = 0;
    if (!in)
        return -1;
    NWB_CALL(n, n < 0, virConnectListAllNWFilterBindings(in, bindings ? &list : NULL, flags));
    if (n >= 0 && bindings) {
        out = calloc((size_t)n + 1, sizeof(*out));
        for (i = 0; out && i < n; i++) {
            if (!(out[i] = nwb_wrap_binding(conn, list[i])))
                break;
            made++;
            list[i] = NULL;
        }
        for (i = 0; i < n; i++)
            if (list[i])
                NWB_KEEP_ERROR(virNWFilterBindingFree(list[i]));
        free(list);
        if (made != n) {
            for (i = 0; out && i < made; i++)
                NWB_KEEP_ERROR(virNWFilterBindingFree(out[i]));
            free(out);
            if (!out)
                NWB_ERROR(VIR_ERR_NO_MEMORY, "out of memory");
            n = -1;
        } else {
            *bindings = out;
        }
    }
    nwb_release(in);
    return n;
}

static virNWFilterBindingPtr nwbBindingLookupByPortDev(virConnectPtr conn, const char *portdev)
{
    virConnectPtr in = nwb_acquire();
    virNWFilterBindingPtr b;
    if (!in)
        return NULL;
    NWB_CALL(b, b == NULL, virNWFilterBindingLookupByPortDev(in, portdev));
    b = nwb_wrap_binding(conn, b);
    nwb_release(in);
    return b;
}

static virNWFilterBindingPtr nwbBindingCreateXML(virConnectPtr conn, const char *xml, unsigned int flags)
{
    virConnectPtr in = nwb_acquire();
    virNWFilterBindingPtr b;
    if (!in)
        return NULL;
    NWB_CALL(b, b == NULL, virNWFilterBindingCreateXML(in, xml, flags));
    b = nwb_wrap_binding(conn, b);
    nwb_release(in);
    return b;
}

static int nwbBindingDelete(virNWFilterBindingPtr outer)
{
    virConnectPtr in = nwb_acquire();
    virNWFilterBindingPtr b;
    int rc = -1;
    if (!in)
        return -1;
    if ((b = nwb_inner_binding(&in, outer))) {
        rc = virNWFilterBindingDelete(b);
        NWB_KEEP_ERROR(virNWFilterBindingFree(b));
    }
    nwb_release(in);
    return rc;
}

static char *nwbBindingGetXMLDesc(virNWFilterBindingPtr outer, unsigned int flags)
{
    virConnectPtr in = nwb_acquire();
    virNWFilterBindingPtr b;
    char *xml = NULL;
    if (!in)
        return NULL;
    if ((b = nwb_inner_binding(&in, outer))) {
        xml = virNWFilterBindingGetXMLDesc(b, flags);
        NWB_KEEP_ERROR(virNWFilterBindingFree(b));
    }
    nwb_release(in);
    return xml;
}

static nwbNWFilterDriver nwb_nwfilter_driver = {
    .name = "nwfilter",
    .connectNumOfNWFilters = nwbNumOfNWFilters,
    .connectListNWFilters = nwbListNWFilters,
    .connectListAllNWFilters = nwbListAllNWFilters,
    .nwfilterLookupByName = nwbLookupByName,
    .nwfilterLookupByUUID = nwbLookupByUUID,
    .nwfilterDefineXML = nwbDefineXML,
    .nwfilterDefineXMLFlags = nwbDefineXMLFlags,
    .nwfilterUndefine = nwbUndefine,
    .nwfilterGetXMLDesc = nwbGetXMLDesc,
    .connectListAllNWFilterBindings = nwbListAllBindings,
    .nwfilterBindingLookupByPortDev = nwbBindingLookupByPortDev,
    .nwfilterBindingCreateXML = nwbBindingCreateXML,
    .nwfilterBindingDelete = nwbBindingDelete,
    .nwfilterBindingGetXMLDesc = nwbBindingGetXMLDesc,
};

/* ---------- the nwfilter:///system connection ---------- */

static int nwbConnectOpenImpl(virConnectPtr conn, virConnectAuthPtr auth, virConf *conf, unsigned int flags)
{
    virConnectPtr in;
    char *uri;
    int ok;
    (void)auth;
    (void)conf;
    if (nwb_opening)
        return NWB_DRV_OPEN_DECLINED; /* our own inner open probing the drivers */
    if (flags & ~(unsigned int)VIR_CONNECT_RO) {
        NWB_ERROR(VIR_ERR_INVALID_ARG, "unsupported flags (0x%x) in function %s", flags & ~(unsigned int)VIR_CONNECT_RO,
                  __func__);
        return NWB_DRV_OPEN_ERROR;
    }
    /* libvirt matched the scheme "nwfilter" and no server; the path must be /system, as with libvirt's driver */
    uri = virConnectGetURI(conn);
    ok = uri && (strcmp(uri, "nwfilter:///system") == 0 || strncmp(uri, "nwfilter:///system?", 19) == 0);
    if (!ok) {
        NWB_ERROR(VIR_ERR_INTERNAL_ERROR, "unexpected nwfilter URI '%s', try nwfilter:///system", uri ? uri : "?");
        free(uri);
        return NWB_DRV_OPEN_ERROR;
    }
    free(uri);
    /* reach nwfilterd now, so that a start with nwfilterd down fails here with the bridge's reason */
    if (!(in = nwb_acquire()))
        return NWB_DRV_OPEN_ERROR;
    nwb_release(in);
    return NWB_DRV_OPEN_SUCCESS;
}

static int nwbConnectCloseImpl(virConnectPtr conn)
{
    (void)conn; /* the inner connection is shared and stays */
    return 0;
}

static int nwbConnectIsEncrypted(virConnectPtr conn)
{
    (void)conn;
    return 0; /* in-process; libvirt's remote driver speaks for client connections */
}

static int nwbConnectIsSecure(virConnectPtr conn)
{
    (void)conn;
    return 1; /* in-process; nwfilterd is reached over a root-only Unix socket */
}

static int nwbConnectIsAlive(virConnectPtr conn)
{
    (void)conn;
    return 1;
}

static nwbHypervisorDriver nwb_hypervisor_driver;
static const char *nwb_schemes[] = { "nwfilter", NULL };
static nwbConnectDriver nwb_connect_driver = {
    .localOnly = true,
    .uriSchemes = nwb_schemes,
    .hypervisorDriver = &nwb_hypervisor_driver,
    .nwfilterDriver = &nwb_nwfilter_driver,
};

/* ---------- registration ---------- */

static void nwb_uri_append_escaped(char *dst, size_t size, const char *s)
{
    size_t n = strlen(dst);
    for (; *s && n + 4 < size; s++) {
        unsigned char ch = (unsigned char)*s;
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || strchr("/._-~", ch))
            dst[n++] = (char)ch;
        else
            n += (size_t)snprintf(dst + n, size - n, "%%%02X", ch);
    }
    dst[n] = '\0';
}

/* The bridge command: $NWFILTER_BRIDGE (libvirtd's environment), else nwfilter-bridge beside this module's real file. */
static int nwb_find_bridge(void)
{
    const char *env = getenv("NWFILTER_BRIDGE");
    Dl_info info;
    char real[PATH_MAX], *slash;
    if (env && *env) {
        if (env[0] != '/') {
            NWB_ERROR(VIR_ERR_CONFIG_UNSUPPORTED, "NWFILTER_BRIDGE must be an absolute path, not '%s'", env);
            return -1;
        }
        snprintf(nwb_bridge, sizeof(nwb_bridge), "%s", env);
        return 0;
    }
    if (!dladdr((void *)nwb_find_bridge, &info) || !info.dli_fname || !realpath(info.dli_fname, real)) {
        NWB_ERROR(VIR_ERR_INTERNAL_ERROR, "cannot find the file of the nwfilter forwarding module");
        return -1;
    }
    if ((slash = strrchr(real, '/')))
        *slash = '\0';
    if (snprintf(nwb_bridge, sizeof(nwb_bridge), "%s/nwfilter-bridge", real) >= (int)sizeof(nwb_bridge)) {
        NWB_ERROR(VIR_ERR_INTERNAL_ERROR, "path of the nwfilter bridge too long");
        return -1;
    }
    return 0;
}

/* libvirtd calls this after loading the module (virDriverLoadModule("nwfilter", "nwfilterRegister")). */
__attribute__((visibility("default"))) int nwfilterRegister(void);
int nwfilterRegister(void)
{
    unsigned long running = 0;
    /*
     * The dynamic loader already refused a libvirt without our private symbol version (LIBVIRT_PRIVATE_<release>):
     * "version `LIBVIRT_PRIVATE_9.0.0' not found". This check also refuses a libvirt that kept the symbol version but
     * reports another release, whose driver tables we have not checked.
     */
    if (virGetVersion(&running, NULL, NULL) < 0 || running != (unsigned long)NWB_LIBVIRT_VERSION) {
        NWB_ERROR(VIR_ERR_CONFIG_UNSUPPORTED,
                  "NwFilter's nwfilter forwarding module was built for libvirt %d.%d.%d, this is libvirt %lu.%lu.%lu: "
                  "rebuild it against this libvirt (build.ps1 -Task Bridge)",
                  NWB_LIBVIRT_VERSION / 1000000, NWB_LIBVIRT_VERSION / 1000 % 1000, NWB_LIBVIRT_VERSION % 1000,
                  running / 1000000, running / 1000 % 1000, running % 1000);
        return -1;
    }
    if (nwb_find_bridge() < 0)
        return -1;
    snprintf(nwb_uri, sizeof(nwb_uri), "nwfilter+ext://localhost/system?command=");
    nwb_uri_append_escaped(nwb_uri, sizeof(nwb_uri), nwb_bridge);

    nwb_hypervisor_driver.slot[NWB_HV_NAME] = (void *)"nwfilter";
    nwb_hypervisor_driver.slot[NWB_HV_CONNECT_OPEN] = (void *)(nwbConnectOpen)nwbConnectOpenImpl;
    nwb_hypervisor_driver.slot[NWB_HV_CONNECT_CLOSE] = (void *)(nwbConnectClose)nwbConnectCloseImpl;
    nwb_hypervisor_driver.slot[NWB_HV_CONNECT_IS_ENCRYPTED] = (void *)(nwbConnectFlag)nwbConnectIsEncrypted;
    nwb_hypervisor_driver.slot[NWB_HV_CONNECT_IS_SECURE] = (void *)(nwbConnectFlag)nwbConnectIsSecure;
    nwb_hypervisor_driver.slot[NWB_HV_CONNECT_IS_ALIVE] = (void *)(nwbConnectFlag)nwbConnectIsAlive;

    if (virRegisterConnectDriver(&nwb_connect_driver, false) < 0)
        return -1;
    if (virSetSharedNWFilterDriver(&nwb_nwfilter_driver) < 0)
        return -1;
    return 0;
}
