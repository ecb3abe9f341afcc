/*
 * libvirt-internal.h: the few of libvirt 9.0's internal driver declarations the forwarding module needs.
 *
 * libvirt-dev installs the public API only; the driver tables (src/driver.h, driver-hypervisor.h,
 * driver-nwfilter.h) and the private exports are not installed. These are our own declarations, written from
 * reading libvirt 9.0's headers and checked against the binaries of Debian 12's libvirt 9.0.0:
 *   - the nwfilter driver's member offsets match what libvirt.so's public virNWFilter* and
 *     virNWFilterBinding* functions load from conn->nwfilterDriver (objdump -d: 0x08 ... 0x70);
 *   - the hypervisor driver's offsets (connectOpen 0x10, connectClose 0x18, connectIsEncrypted 0x400,
 *     connectIsSecure 0x408, connectIsAlive 0x618) match libvirt.so's virConnectIs* functions and the relocations
 *     of libvirt's own libvirt_driver_nwfilter.so (its static hypervisor driver);
 *   - the connect driver's layout (bools at 0, uriSchemes 0x08, hypervisorDriver 0x10, nwfilterDriver 0x30) matches
 *     the same module's static connect driver.
 * A libvirt with another private symbol version (another release) refuses to load the module (symbol versioning),
 * so these layouts are only ever used with the release they were checked against.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

/* virDrvOpenStatus */
#define NWB_DRV_OPEN_SUCCESS 0
#define NWB_DRV_OPEN_DECLINED (-1)
#define NWB_DRV_OPEN_ERROR (-2)

typedef struct _virConf virConf; /* opaque here */

typedef int (*nwbConnectOpen)(virConnectPtr conn, virConnectAuthPtr auth, virConf *conf, unsigned int flags);
typedef int (*nwbConnectClose)(virConnectPtr conn);
typedef int (*nwbConnectFlag)(virConnectPtr conn);

/*
 * virHypervisorDriver is a table of about 260 function pointers (0x820 bytes in 9.0). The nwfilter connection needs
 * five of them (the same five libvirt's own nwfilter driver fills in). We declare it as an array of pointer slots
 * larger than libvirt's struct (NWB_HYPERVISOR_SLOTS), fill the five slots by their index (offset / 8) and leave the
 * rest zero: libvirt reads only the members it knows, a NULL member means "not supported by this driver", and the
 * zeroed tail beyond libvirt's own size is never read. The first member is the driver's name.
 */
#define NWB_HYPERVISOR_SLOTS 512
#define NWB_HV_NAME 0                    /* const char *name */
#define NWB_HV_CONNECT_OPEN (0x10 / 8)
#define NWB_HV_CONNECT_CLOSE (0x18 / 8)
#define NWB_HV_CONNECT_IS_ENCRYPTED (0x400 / 8)
#define NWB_HV_CONNECT_IS_SECURE (0x408 / 8)
#define NWB_HV_CONNECT_IS_ALIVE (0x618 / 8)

typedef struct {
    void *slot[NWB_HYPERVISOR_SLOTS];
} nwbHypervisorDriver;

/* struct _virNWFilterDriver, complete (libvirt 9.0) */
typedef struct {
    const char *name;
    int (*connectNumOfNWFilters)(virConnectPtr conn);
    int (*connectListNWFilters)(virConnectPtr conn, char **const names, int maxnames);
    int (*connectListAllNWFilters)(virConnectPtr conn, virNWFilterPtr **filters, unsigned int flags);
    virNWFilterPtr (*nwfilterLookupByName)(virConnectPtr conn, const char *name);
    virNWFilterPtr (*nwfilterLookupByUUID)(virConnectPtr conn, const unsigned char *uuid);
    virNWFilterPtr (*nwfilterDefineXML)(virConnectPtr conn, const char *xml);
    virNWFilterPtr (*nwfilterDefineXMLFlags)(virConnectPtr conn, const char *xml, unsigned int flags);
    int (*nwfilterUndefine)(virNWFilterPtr nwfilter);
    char *(*nwfilterGetXMLDesc)(virNWFilterPtr nwfilter, unsigned int flags);
    int (*connectListAllNWFilterBindings)(virConnectPtr conn, virNWFilterBindingPtr **bindings, unsigned int flags);
    virNWFilterBindingPtr (*nwfilterBindingLookupByPortDev)(virConnectPtr conn, const char *portdev);
    virNWFilterBindingPtr (*nwfilterBindingCreateXML)(virConnectPtr conn, const char *xml, unsigned int flags);
    int (*nwfilterBindingDelete)(virNWFilterBindingPtr binding);
    char *(*nwfilterBindingGetXMLDesc)(virNWFilterBindingPtr binding, unsigned int flags);
} nwbNWFilterDriver;

/* struct _virConnectDriver, complete (libvirt 9.0); the drivers other than hypervisor and nwfilter stay NULL */
typedef struct {
    bool localOnly;
    bool remoteOnly;
    bool embeddable;
    const char **uriSchemes;
    nwbHypervisorDriver *hypervisorDriver;
    void *interfaceDriver;
    void *networkDriver;
    void *nodeDeviceDriver;
    nwbNWFilterDriver *nwfilterDriver;
    void *secretDriver;
    void *storageDriver;
} nwbConnectDriver;

_Static_assert(offsetof(nwbNWFilterDriver, nwfilterBindingGetXMLDesc) == 0x70, "virNWFilterDriver layout (9.0)");
_Static_assert(offsetof(nwbConnectDriver, uriSchemes) == 0x08, "virConnectDriver layout (9.0)");
_Static_assert(offsetof(nwbConnectDriver, hypervisorDriver) == 0x10, "virConnectDriver layout (9.0)");
_Static_assert(offsetof(nwbConnectDriver, nwfilterDriver) == 0x30, "virConnectDriver layout (9.0)");
_Static_assert(sizeof(nwbHypervisorDriver) >= 0x820, "virHypervisorDriver is at least 0x820 bytes in 9.0");

/* libvirt's private exports (symbol version LIBVIRT_PRIVATE_<release>) */
int virRegisterConnectDriver(nwbConnectDriver *driver, bool setSharedDrivers);
int virSetSharedNWFilterDriver(nwbNWFilterDriver *driver);
virNWFilterPtr virGetNWFilter(virConnectPtr conn, const char *name, const unsigned char *uuid);
virNWFilterBindingPtr virGetNWFilterBinding(virConnectPtr conn, const char *portdev, const char *filtername);
void virErrorPreserveLast(virErrorPtr *saveerr);
void virErrorRestore(virErrorPtr *savederr);
void virReportErrorHelper(int domcode, int errcode, const char *filename, const char *funcname, size_t linenr,
                          const char *fmt, ...) __attribute__((format(printf, 6, 7)));
