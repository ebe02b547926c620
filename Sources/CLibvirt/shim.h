#ifndef VIGIL_CLIBVIRT_SHIM_H
#define VIGIL_CLIBVIRT_SHIM_H
#include <stddef.h>
#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>
#include <libvirt/libvirt-qemu.h>

/* Swift cannot import the function-like macro VIR_DOMAIN_EVENT_CALLBACK, and
 * virConnectDomainEventRegisterAny takes a generic callback whose real type
 * depends on the event id. One typed helper per callback signature keeps the
 * cast in C, where it is checked against libvirt's own prototypes. */

static inline int vigil_register_lifecycle(virConnectPtr c, virConnectDomainEventCallback cb,
                                           void *opaque, virFreeCallback freecb) {
    return virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
                                            VIR_DOMAIN_EVENT_CALLBACK(cb), opaque, freecb);
}

/* Used for REBOOT (and any other event that carries only the domain). */
static inline int vigil_register_generic(virConnectPtr c, int eventID,
                                         virConnectDomainEventGenericCallback cb,
                                         void *opaque, virFreeCallback freecb) {
    return virConnectDomainEventRegisterAny(c, NULL, eventID, cb, opaque, freecb);
}

static inline int vigil_register_watchdog(virConnectPtr c, virConnectDomainEventWatchdogCallback cb,
                                          void *opaque, virFreeCallback freecb) {
    return virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_WATCHDOG,
                                            VIR_DOMAIN_EVENT_CALLBACK(cb), opaque, freecb);
}

static inline int vigil_register_agent_lifecycle(virConnectPtr c,
                                                 virConnectDomainEventAgentLifecycleCallback cb,
                                                 void *opaque, virFreeCallback freecb) {
    return virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE,
                                            VIR_DOMAIN_EVENT_CALLBACK(cb), opaque, freecb);
}

static inline int vigil_register_job_completed(virConnectPtr c,
                                               virConnectDomainEventJobCompletedCallback cb,
                                               void *opaque, virFreeCallback freecb) {
    return virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_JOB_COMPLETED,
                                            VIR_DOMAIN_EVENT_CALLBACK(cb), opaque, freecb);
}

static inline int vigil_register_migration_iteration(virConnectPtr c,
                                                     virConnectDomainEventMigrationIterationCallback cb,
                                                     void *opaque, virFreeCallback freecb) {
    return virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_MIGRATION_ITERATION,
                                            VIR_DOMAIN_EVENT_CALLBACK(cb), opaque, freecb);
}

static inline int vigil_register_block_job(virConnectPtr c, virConnectDomainEventBlockJobCallback cb,
                                           void *opaque, virFreeCallback freecb) {
    return virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2,
                                            VIR_DOMAIN_EVENT_CALLBACK(cb), opaque, freecb);
}

static inline int vigil_register_device_removed(virConnectPtr c,
                                                virConnectDomainEventDeviceRemovedCallback cb,
                                                void *opaque, virFreeCallback freecb) {
    return virConnectDomainEventRegisterAny(c, NULL, VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED,
                                            VIR_DOMAIN_EVENT_CALLBACK(cb), opaque, freecb);
}

#endif
