#ifndef COHORT_CSODIUM_SHIM_H
#define COHORT_CSODIUM_SHIM_H
#include <sodium.h>
#endif
