#ifndef VIGIL_CUDEV_SHIM_H
#define VIGIL_CUDEV_SHIM_H
#include <libudev.h>
#endif
