/* The DPDK API the bindings cover, plus the shim's prototypes. */
#ifndef BURST_DPDK_WRAPPER_H
#define BURST_DPDK_WRAPPER_H

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_cycles.h>
#include <rte_ether.h>
#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_ring.h>
#include <rte_eth_ring.h>

#include "shim.h"

#endif
